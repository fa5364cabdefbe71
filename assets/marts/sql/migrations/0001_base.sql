-- Migration 0001, the base: the reference tables (written by the ref/reference_tables
-- asset from assets/domain/), the marts and the validation audit, as the warehouse stood
-- before numbered migrations (issue 13). Every statement is idempotent (IF NOT EXISTS),
-- so a warehouse built by any earlier version converges on the same tables, its rows
-- kept. Applied migrations never change: a new change is a new file
-- (docs/operations.md, "Changing the warehouse schema").

CREATE TABLE IF NOT EXISTS ref.groups (
    group_code VARCHAR, group_name VARCHAR, group_name_en VARCHAR, max_score DOUBLE,
    endpoint VARCHAR);

CREATE TABLE IF NOT EXISTS ref.metrics (
    metric_code VARCHAR, group_code VARCHAR, metric_name VARCHAR, max_score DOUBLE,
    rule VARCHAR, threshold DOUBLE, score_if_empty DOUBLE, numerator_param VARCHAR,
    denominator_param VARCHAR);

CREATE TABLE IF NOT EXISTS ref.bands (floor DOUBLE, band VARCHAR, provisional BOOLEAN);

CREATE TABLE IF NOT EXISTS ref.provinces (
    province_key VARCHAR, era VARCHAR, province_code VARCHAR, department_id VARCHAR,
    province_name VARCHAR, short_name VARCHAR, valid_from DATE, valid_to DATE,
    successor_key VARCHAR, successor_name VARCHAR, name_variants VARCHAR[]);

CREATE TABLE IF NOT EXISTS marts.province_monthly (
    month DATE, province_id VARCHAR, province_code VARCHAR, province_name VARCHAR,
    total_score DOUBLE, rank INTEGER, ranked_of INTEGER, band VARCHAR,
    band_is_provisional BOOLEAN, national_avg_score DOUBLE, best_score DOUBLE,
    gap_to_best DOUBLE, score_change DOUBLE, is_final BOOLEAN, captured_at TIMESTAMPTZ,
    is_synthetic BOOLEAN);
-- added with the history (issue 5): warehouses built before it get the columns here
ALTER TABLE marts.province_monthly ADD COLUMN IF NOT EXISTS era VARCHAR;
ALTER TABLE marts.province_monthly ADD COLUMN IF NOT EXISTS series VARCHAR;
ALTER TABLE marts.province_monthly ADD COLUMN IF NOT EXISTS source VARCHAR;
ALTER TABLE marts.province_monthly ADD COLUMN IF NOT EXISTS layout VARCHAR;
ALTER TABLE marts.province_monthly ADD COLUMN IF NOT EXISTS province_key VARCHAR;
ALTER TABLE marts.province_monthly ADD COLUMN IF NOT EXISTS successor_code VARCHAR;
ALTER TABLE marts.province_monthly ADD COLUMN IF NOT EXISTS rank_reported INTEGER;
ALTER TABLE marts.province_monthly ADD COLUMN IF NOT EXISTS online_combined_score DOUBLE;
ALTER TABLE marts.province_monthly ADD COLUMN IF NOT EXISTS dossiers_received DOUBLE;
ALTER TABLE marts.province_monthly ADD COLUMN IF NOT EXISTS combine_method VARCHAR;
ALTER TABLE marts.province_monthly ADD COLUMN IF NOT EXISTS predecessors VARCHAR;
ALTER TABLE marts.province_monthly ADD COLUMN IF NOT EXISTS predecessor_ranks VARCHAR;
ALTER TABLE marts.province_monthly ADD COLUMN IF NOT EXISTS final_reason VARCHAR;
-- added with the minimal national summary (issue 10): where the national average came from
ALTER TABLE marts.province_monthly ADD COLUMN IF NOT EXISTS national_avg_source VARCHAR;

CREATE TABLE IF NOT EXISTS marts.group_monthly (
    month DATE, province_id VARCHAR, province_code VARCHAR, province_name VARCHAR,
    group_code VARCHAR, group_name VARCHAR, score DOUBLE, max_score DOUBLE,
    points_lost DOUBLE, national_avg_score DOUBLE, best_score DOUBLE, rank INTEGER,
    ranked_of INTEGER, captured_at TIMESTAMPTZ, is_synthetic BOOLEAN);
ALTER TABLE marts.group_monthly ADD COLUMN IF NOT EXISTS era VARCHAR;
ALTER TABLE marts.group_monthly ADD COLUMN IF NOT EXISTS series VARCHAR;
ALTER TABLE marts.group_monthly ADD COLUMN IF NOT EXISTS source VARCHAR;
ALTER TABLE marts.group_monthly ADD COLUMN IF NOT EXISTS province_key VARCHAR;
ALTER TABLE marts.group_monthly ADD COLUMN IF NOT EXISTS combine_method VARCHAR;
ALTER TABLE marts.group_monthly ADD COLUMN IF NOT EXISTS note VARCHAR;
ALTER TABLE marts.group_monthly ADD COLUMN IF NOT EXISTS national_avg_source VARCHAR;

CREATE TABLE IF NOT EXISTS marts.metric_monthly (
    month DATE, province_id VARCHAR, province_code VARCHAR, group_code VARCHAR,
    metric_code VARCHAR, metric_name VARCHAR, numerator DOUBLE, denominator DOUBLE,
    ratio DOUBLE, score DOUBLE, max_score DOUBLE, points_lost DOUBLE, rule VARCHAR,
    threshold DOUBLE, score_source VARCHAR, data_quality_status VARCHAR,
    data_quality_message VARCHAR, captured_at TIMESTAMPTZ, is_synthetic BOOLEAN);

CREATE TABLE IF NOT EXISTS marts.unit_points_lost (
    month DATE, province_id VARCHAR, province_code VARCHAR, unit_id VARCHAR,
    unit_name VARCHAR, unit_type VARCHAR, group_code VARCHAR, metric_code VARCHAR,
    numerator DOUBLE, denominator DOUBLE, points_lost DOUBLE, method VARCHAR, note VARCHAR,
    is_synthetic BOOLEAN, bar_pct DOUBLE, missing_count DOUBLE);
-- added after the first release: warehouses built before it get the columns here
ALTER TABLE marts.unit_points_lost ADD COLUMN IF NOT EXISTS bar_pct DOUBLE;
ALTER TABLE marts.unit_points_lost ADD COLUMN IF NOT EXISTS missing_count DOUBLE;

CREATE TABLE IF NOT EXISTS marts.score_recomputation (
    month DATE, province_id VARCHAR, province_code VARCHAR, unit_id VARCHAR,
    unit_name VARCHAR, unit_type VARCHAR, is_province BOOLEAN, group_code VARCHAR,
    metric_code VARCHAR, level VARCHAR, numerator DOUBLE, denominator DOUBLE,
    portal_score DOUBLE, recomputed_score DOUBLE, difference DOUBLE,
    captured_at TIMESTAMPTZ, is_synthetic BOOLEAN);

CREATE TABLE IF NOT EXISTS marts.recoverable_points (
    month DATE, province_id VARCHAR, province_code VARCHAR, group_code VARCHAR,
    metric_code VARCHAR, metric_name VARCHAR, rule VARCHAR, numerator DOUBLE,
    denominator DOUBLE, ratio DOUBLE, score DOUBLE, max_score DOUBLE, points_lost DOUBLE,
    bar_pct DOUBLE, best_province_code VARCHAR, best_ratio DOUBLE, best_score DOUBLE,
    compared_provinces INTEGER, gain_to_best DOUBLE, needed_to_best BIGINT,
    gain_to_full DOUBLE, needed_to_full BIGINT, median_unit_ratio DOUBLE,
    units_below_median INTEGER, gain_to_median DOUBLE, needed_to_median BIGINT,
    total_score DOUBLE, rank INTEGER, ranked_of INTEGER, rank_if_best INTEGER,
    rank_if_full INTEGER, rank_if_median INTEGER, note VARCHAR, is_synthetic BOOLEAN);

CREATE TABLE IF NOT EXISTS marts.score_change_explained (
    month DATE, previous_month DATE, province_id VARCHAR, province_code VARCHAR,
    province_name VARCHAR, level VARCHAR, group_code VARCHAR, metric_code VARCHAR,
    unit_id VARCHAR, unit_name VARCHAR, unit_type VARCHAR, score DOUBLE,
    previous_score DOUBLE, change DOUBLE, points_lost DOUBLE, previous_points_lost DOUBLE,
    move_rank INTEGER, is_synthetic BOOLEAN);

CREATE TABLE IF NOT EXISTS audit.validation_results (
    run_id VARCHAR, validated_at TIMESTAMPTZ, months VARCHAR, suite VARCHAR,
    dataset VARCHAR, expectation VARCHAR, columns VARCHAR, success BOOLEAN,
    blocking BOOLEAN, element_count BIGINT, unexpected_count BIGINT, examples VARCHAR);

CREATE TABLE IF NOT EXISTS marts.province_daily (
    month DATE, day DATE, province_id VARCHAR, province_code VARCHAR, province_name VARCHAR,
    total_score DOUBLE, ckmb DOUBLE, tdgq DOUBLE, clgq DOUBLE, tttt DOUBLE, mdhl DOUBLE,
    mdsh DOUBLE, rank INTEGER, ranked_of INTEGER, change_since_previous DOUBLE,
    after_month_end BOOLEAN, is_latest BOOLEAN, captured_at TIMESTAMPTZ, session VARCHAR,
    is_synthetic BOOLEAN);
