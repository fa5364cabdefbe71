-- Reference tables (rewritten from assets/domain/catalogue.py on every run),
-- the marts and the validation audit. Marts are replaced month by month.

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

-- added with issue 13: why rank_reported is empty (a spreadsheet's STT was a row number)
ALTER TABLE marts.province_monthly ADD COLUMN IF NOT EXISTS rank_note VARCHAR;
ALTER TABLE staging.spreadsheet_scores ADD COLUMN IF NOT EXISTS rank_note VARCHAR;
ALTER TABLE staging.legacy_scores ADD COLUMN IF NOT EXISTS rank_note VARCHAR;

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

-- The portal's count rule for linear and threshold metrics, for SQL: the same
-- arithmetic as the test oracle tools/scoring_oracle.py::metric_score (a test keeps
-- them equal),
-- fed from ref.metrics (max_score, threshold, score_if_empty).
CREATE OR REPLACE MACRO marts.rule_score(max_score, threshold, score_if_empty, numerator,
                                         denominator) AS
    CASE WHEN denominator > 0 AND numerator IS NOT NULL
         THEN least(max_score,
                    max_score * (100 * numerator / denominator) / coalesce(threshold, 100))
         ELSE score_if_empty END;

-- Every unit's counts per metric, whichever shape the portal sent them in:
-- metrics[] rows as reported, tree-endpoint metrics (TDGQ, TTTT) from their raw
-- parameters, CLGQ as its group score only (formula unknown).
CREATE OR REPLACE VIEW marts.unit_metric_counts AS
WITH unit_types AS (
    -- tree endpoints give only a level; the metrics endpoints give the unit's type
    SELECT month, province_id, unit_id, any_value(unit_type) AS known_type
    FROM staging.unit_group_scores WHERE unit_type IS NOT NULL GROUP BY ALL
), tree AS (
    SELECT p.month, p.province_id, p.province_code, p.unit_id, p.unit_name,
           coalesce(p.unit_type, ut.known_type) AS unit_type,
           p.unit_level, p.is_province, m.group_code, m.metric_code, m.metric_name,
           m.max_score, m.threshold, m.score_if_empty, m.max_score = g.max_score AS whole_group,
           max(p.value) FILTER (WHERE p.parameter = m.numerator_param) AS numerator,
           max(p.value) FILTER (WHERE p.parameter = m.denominator_param) AS denominator,
           max(p.captured_at) AS captured_at, bool_or(p.is_synthetic) AS is_synthetic
    FROM staging.unit_parameters p
    LEFT JOIN unit_types ut USING (month, province_id, unit_id)
    JOIN ref.metrics m ON m.group_code = p.group_code
                      AND p.parameter IN (m.numerator_param, m.denominator_param)
    JOIN ref.groups g ON g.group_code = m.group_code
    GROUP BY ALL
)
SELECT month, province_id, province_code, unit_id, unit_name, unit_type, unit_level,
       is_province, group_code, metric_code, metric_name, numerator, denominator, ratio,
       score, max_score, 'portal' AS score_source, data_quality_status,
       data_quality_message, captured_at, is_synthetic
FROM staging.unit_metrics
UNION ALL BY NAME
SELECT t.* EXCLUDE (threshold, score_if_empty, whole_group),
       CASE WHEN t.denominator > 0 THEN round(100 * t.numerator / t.denominator, 2) END AS ratio,
       CASE WHEN t.whole_group THEN u.score
            ELSE marts.rule_score(t.max_score, t.threshold, t.score_if_empty, t.numerator,
                                  t.denominator) END AS score,
       CASE WHEN t.whole_group THEN 'portal' ELSE 'recomputed' END AS score_source,
       NULL AS data_quality_status, NULL AS data_quality_message
FROM tree t
LEFT JOIN staging.unit_group_scores u USING (month, province_id, unit_id, group_code)
UNION ALL BY NAME
SELECT u.month, u.province_id, u.province_code, u.unit_id, u.unit_name,
       coalesce(u.unit_type, ut.known_type) AS unit_type,
       u.unit_level, u.is_province, u.group_code, m.metric_code, m.metric_name,
       NULL AS numerator, NULL AS denominator, u.ratio, u.score, u.max_score,
       'portal_group' AS score_source, NULL AS data_quality_status,
       NULL AS data_quality_message, u.captured_at, u.is_synthetic
FROM staging.unit_group_scores u
LEFT JOIN unit_types ut USING (month, province_id, unit_id)
JOIN ref.metrics m ON m.group_code = u.group_code AND m.rule = 'unknown';

-- Every province score of every month, whichever source had it, before the marts rank
-- them: one source per month (today's API, else the legacy service, else a ranking
-- spreadsheet) and, for months before the merger, a comparable series for each of the
-- 34 provinces that combines its predecessors (weighted by dossiers received when the
-- source gives them for all of them, else a plain mean; combine_method says which).
CREATE OR REPLACE VIEW marts.province_month_scores AS
WITH sources AS (
    SELECT month, '34' AS era, 'portal_api' AS source, 1 AS priority, 'six_groups' AS layout,
           province_id, province_code AS province_key, province_code, province_name,
           province_code AS successor_code, ckmb, tdgq, clgq, tttt,
           round(clgq + tttt, 2) AS online_combined, mdhl, mdsh, total_score,
           CAST(NULL AS DOUBLE) AS dossiers_received, rank_reported,
           CAST(NULL AS VARCHAR) AS rank_note, captured_at, is_synthetic
    FROM staging.national_summary
    UNION ALL
    SELECT month, era, source, 2, layout, coalesce(province_id, province_key), province_key,
           province_code, province_name, successor_code, ckmb, tdgq, clgq, tttt,
           coalesce(online_combined, round(clgq + tttt, 2)), mdhl, mdsh, total_score,
           dossiers_received, rank_reported, rank_note, captured_at, is_synthetic
    FROM staging.legacy_scores WHERE level = 'province'
    UNION ALL
    SELECT month, era, source, 3, layout, coalesce(province_id, province_key), province_key,
           province_code, province_name, successor_code, ckmb, tdgq, clgq, tttt,
           coalesce(online_combined, round(clgq + tttt, 2)), mdhl, mdsh, total_score,
           dossiers_received, rank_reported, rank_note, captured_at, is_synthetic
    FROM staging.spreadsheet_scores WHERE level = 'province'
), reported AS (
    SELECT s.* EXCLUDE (priority), 'reported' AS series,
           CAST(NULL AS VARCHAR) AS combine_method, CAST(NULL AS VARCHAR) AS predecessors,
           CAST(NULL AS VARCHAR) AS predecessor_ranks,
           rank() OVER (PARTITION BY month ORDER BY total_score DESC) AS rank_of_time,
           count(*) OVER (PARTITION BY month) AS ranked_of_time
    FROM sources s
    QUALIFY priority = min(priority) OVER (PARTITION BY month)
), old AS (
    SELECT r.*, p.short_name,
           count(*) OVER (PARTITION BY month, successor_code) AS found,
           count(dossiers_received) OVER (PARTITION BY month, successor_code) AS weighed,
           (SELECT count(*) FROM ref.provinces q
            WHERE q.era = '63' AND q.successor_key = r.successor_code) AS expected
    FROM reported r JOIN ref.provinces p ON p.province_key = r.province_key
    WHERE r.era = '63'
), weighted AS (
    SELECT *, CASE WHEN expected = 1 THEN 'single_predecessor'
                   WHEN weighed = found THEN 'dossier_weighted' ELSE 'plain_mean' END AS method,
              CASE WHEN weighed = found THEN dossiers_received ELSE 1 END AS w
    FROM old WHERE found = expected
)
SELECT * FROM reported
UNION ALL BY NAME
SELECT w.month, '63' AS era, any_value(w.source) AS source, 'comparable' AS series,
       any_value(w.layout) AS layout, n.department_id AS province_id,
       n.province_key, n.province_code, n.province_name, n.province_key AS successor_code,
       round(sum(w.ckmb * w.w) / sum(w.w), 2) AS ckmb,
       round(sum(w.tdgq * w.w) / sum(w.w), 2) AS tdgq,
       round(sum(w.clgq * w.w) / sum(w.w), 2) AS clgq,
       round(sum(w.tttt * w.w) / sum(w.w), 2) AS tttt,
       round(sum(w.online_combined * w.w) / sum(w.w), 2) AS online_combined,
       round(sum(w.mdhl * w.w) / sum(w.w), 2) AS mdhl,
       round(sum(w.mdsh * w.w) / sum(w.w), 2) AS mdsh,
       round(sum(w.total_score * w.w) / sum(w.w), 2) AS total_score,
       sum(w.dossiers_received) AS dossiers_received,
       CAST(NULL AS INTEGER) AS rank_reported, CAST(NULL AS VARCHAR) AS rank_note,
       max(w.captured_at) AS captured_at,
       bool_or(w.is_synthetic) AS is_synthetic, any_value(w.method) AS combine_method,
       string_agg(w.short_name, ' + ' ORDER BY w.short_name) AS predecessors,
       string_agg(w.short_name || ' ' || w.rank_of_time || '/' || w.ranked_of_time, '; '
                  ORDER BY w.short_name) AS predecessor_ranks,
       CAST(NULL AS BIGINT) AS rank_of_time, CAST(NULL AS BIGINT) AS ranked_of_time
FROM weighted w JOIN ref.provinces n ON n.province_key = w.successor_code
GROUP BY w.month, n.department_id, n.province_key, n.province_code, n.province_name;

CREATE TABLE IF NOT EXISTS marts.province_daily (
    month DATE, day DATE, province_id VARCHAR, province_code VARCHAR, province_name VARCHAR,
    total_score DOUBLE, ckmb DOUBLE, tdgq DOUBLE, clgq DOUBLE, tttt DOUBLE, mdhl DOUBLE,
    mdsh DOUBLE, rank INTEGER, ranked_of INTEGER, change_since_previous DOUBLE,
    after_month_end BOOLEAN, is_latest BOOLEAN, captured_at TIMESTAMPTZ, session VARCHAR,
    is_synthetic BOOLEAN);
