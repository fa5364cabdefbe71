-- Migration 0004 (issue 15): the per-procedure drill-down — the procedure catalogue
-- (ref.procedures, written by the ref/procedures asset) and the two procedure marts.

CREATE TABLE IF NOT EXISTS ref.procedures (
    procedure_id VARCHAR, code VARCHAR, name VARCHAR, state VARCHAR,
    department_id VARCHAR, publishing_department_ids VARCHAR[],
    applied_department_ids VARCHAR[], page INTEGER, captured_at TIMESTAMPTZ,
    raw_sha256 VARCHAR);

CREATE TABLE IF NOT EXISTS marts.procedure_monthly (
    month DATE, province_id VARCHAR, province_code VARCHAR, procedure_id VARCHAR,
    procedure_code VARCHAR, procedure_name VARCHAR, level VARCHAR, group_code VARCHAR,
    metric_code VARCHAR, numerator DOUBLE, denominator DOUBLE, score DOUBLE,
    max_score DOUBLE, province_numerator DOUBLE, province_denominator DOUBLE,
    province_points_lost DOUBLE, bar_pct DOUBLE, missing_count DOUBLE, points_lost DOUBLE,
    method VARCHAR, note VARCHAR, dossiers DOUBLE, province_dossiers DOUBLE,
    coverage DOUBLE, month_coverage DOUBLE, procedures_crawled INTEGER,
    captured_at TIMESTAMPTZ, is_synthetic BOOLEAN);

CREATE TABLE IF NOT EXISTS marts.unit_procedure_points_lost (
    month DATE, province_id VARCHAR, province_code VARCHAR, procedure_id VARCHAR,
    procedure_code VARCHAR, procedure_name VARCHAR, unit_id VARCHAR, unit_name VARCHAR,
    unit_type VARCHAR, group_code VARCHAR, metric_code VARCHAR, numerator DOUBLE,
    denominator DOUBLE, bar_pct DOUBLE, missing_count DOUBLE, points_lost DOUBLE,
    method VARCHAR, note VARCHAR, is_synthetic BOOLEAN);
