-- Which procedures cost the points. The portal answers five groups filtered to one
-- procedure (thủ tục hành chính, TTHC); a metric scored on pooled dossier counts loses
--   max × (T·Σden − Σnum) / (T·Σden)        T = bar_pct / 100
-- for the province, and the dossiers of a procedure are part of the province's, so the
-- loss splits across procedures exactly as it splits across units (docs/index.md §7):
--   lost_p = max × (T·den_p − num_p) / (T·province den)
-- e.g. TDGQ: 20 × (received_p − on_time_p) / province received. Only where the province
-- loses points (below the bar); a procedure above it has a negative share.
-- Rows: level 'metric' (each scored metric of each group answered) and level 'group'
-- (the portal's group score for the procedure, and the sum of its split metrics).
-- method:
--   pooled            the procedure's shortfall over the province's denominator;
--   remainder         (no procedure) what the procedures not crawled hold: the province's
--                     counts minus the crawled procedures', so the rows of a metric add up
--                     to the province's loss (the blocking check procedure_shares_add_up);
--   province_level    the province has no denominator, or the per-procedure answer
--                     repeats the province's own counts (not filtered by procedure);
--   not_attributable  the metric counts procedures, not dossiers; its formula is unknown
--                     (CLGQ) or not exposed; the answer has no counts, or counts that
--                     exceed the province's, alone or together with the other procedures
--                     crawled (answers captured at different times of an open month);
--   not_in_answer     the portal's per-procedure answer lacks the metric (dossier-digitized
--                     has no CITIZEN_DATA_CONNECTED_FORMALITY: its maximum becomes 20).
WITH counts_procedures (metric_code) AS (
    -- metrics whose numerator and denominator are procedures (TTHC), not dossiers
    VALUES ('PUBLISH_ON_TIME'), ('PUBLIC_UPDATE_ON_TIME'), ('PUBLIC_CONTENT_FULL'),
           ('PAYMENT_FORMALITY_ONLINE'), ('PAYMENT_FORMALITY_INTEGRATED'),
           ('CITIZEN_DATA_CONNECTED_FORMALITY')
), pc AS (
    SELECT * FROM marts.procedure_metric_counts
    WHERE is_province AND list_contains($months, month)
), prov AS (
    -- the province's own counts and loss, from its answers for all units
    SELECT month, province_id, metric_code, numerator AS p_num, denominator AS p_den,
           max_score - coalesce(score, 0) AS p_lost
    FROM marts.unit_metric_counts
    WHERE is_province AND list_contains($months, month)
), answered AS (
    -- each group the portal answered for a procedure: its score there
    SELECT month, province_id, province_code, procedure_id, procedure_code, procedure_name,
           group_code, score, max_score, captured_at, is_synthetic
    FROM staging.procedure_group_scores
    WHERE is_province AND list_contains($months, month)
), received AS (
    -- dossiers received (TDGQ): the procedure's share of the province's
    SELECT c.month, c.province_id, c.procedure_id, c.denominator AS dossiers,
           p.p_den AS province_dossiers, c.denominator / nullif(p.p_den, 0) AS coverage
    FROM pc c JOIN prov p USING (month, province_id, metric_code)
    WHERE c.metric_code = 'DOSSIER_ON_TIME'
), crawled AS (
    SELECT a.month, a.province_id, count(DISTINCT a.procedure_id) AS procedures_crawled,
           any_value(r.month_coverage) AS month_coverage
    FROM answered a
    LEFT JOIN (SELECT month, province_id, sum(coverage) AS month_coverage
               FROM received GROUP BY ALL) r USING (month, province_id)
    GROUP BY ALL
), metric_rows AS (
    SELECT a.month, a.province_id, a.province_code, a.procedure_id, a.procedure_code,
           a.procedure_name, a.group_code, m.metric_code, m.rule,
           coalesce(m.threshold, 100) AS bar_pct, m.max_score AS metric_max,
           c.metric_code IS NOT NULL AS in_answer, c.numerator, c.denominator, c.score,
           c.max_score, p.p_num, p.p_den, p.p_lost, r.dossiers, r.province_dossiers,
           r.coverage, a.max_score AS group_max_in_answer, g.max_score AS group_max,
           cp.metric_code IS NOT NULL AS counts_procedures,
           coalesce(c.captured_at, a.captured_at) AS captured_at, a.is_synthetic
    FROM answered a
    JOIN ref.metrics m ON m.group_code = a.group_code AND m.max_score > 0
    JOIN ref.groups g ON g.group_code = a.group_code
    LEFT JOIN pc c ON c.month = a.month AND c.province_id = a.province_id
                  AND c.procedure_id = a.procedure_id AND c.metric_code = m.metric_code
    LEFT JOIN prov p ON p.month = a.month AND p.province_id = a.province_id
                    AND p.metric_code = m.metric_code
    LEFT JOIN received r ON r.month = a.month AND r.province_id = a.province_id
                        AND r.procedure_id = a.procedure_id
    LEFT JOIN counts_procedures cp ON cp.metric_code = m.metric_code
), classified AS (
    SELECT *,
           CASE
               WHEN NOT in_answer THEN 'not_in_answer'
               WHEN rule IN ('unknown', 'as_reported') OR counts_procedures
                   THEN 'not_attributable'
               WHEN p_den IS NULL OR p_den = 0 THEN 'province_level'
               WHEN numerator IS NULL OR denominator IS NULL THEN 'not_attributable'
               WHEN numerator = p_num AND denominator = p_den
                    AND NOT coalesce(dossiers = province_dossiers, false) THEN 'province_level'
               WHEN denominator > p_den OR numerator > p_num THEN 'not_attributable'
               ELSE 'pooled'
           END AS method
    FROM metric_rows
), summed AS (
    SELECT *,
           sum(CASE WHEN method = 'pooled' THEN numerator END) OVER w AS s_num,
           sum(CASE WHEN method = 'pooled' THEN denominator END) OVER w AS s_den
    FROM classified
    WINDOW w AS (PARTITION BY month, province_id, metric_code)
), consistent AS (
    -- procedures are parts of the province: if the crawled ones together hold more than
    -- the province (answers captured hours apart in an open month), none is split
    SELECT * REPLACE (
               CASE WHEN method = 'pooled' AND (s_den > p_den OR s_num > p_num
                                                OR p_num - s_num > p_den - s_den)
                    THEN 'overlapping' ELSE method END AS method)
    FROM summed
), procedure_metrics AS (
    SELECT * REPLACE (CASE WHEN method = 'overlapping' THEN 'not_attributable'
                           ELSE method END AS method),
           bar_pct / 100 * denominator - numerator AS missing_count,
           CASE WHEN method <> 'pooled' THEN NULL
                WHEN p_lost <= 0.005 THEN 0
                ELSE metric_max * (bar_pct / 100 * denominator - numerator)
                     / (bar_pct / 100 * p_den) END AS points_lost,
           CASE
               WHEN NOT in_answer
                   THEN format('absent from the portal''s per-procedure answer (the group''s '
                               'maximum there is {} of {})', group_max_in_answer, group_max)
               WHEN rule = 'unknown'
                   THEN 'scoring formula not published: only the procedure''s group score is known'
               WHEN rule = 'as_reported'
                   THEN 'scored by the portal from data the API does not expose'
               WHEN counts_procedures
                   THEN 'counts procedures, not dossiers: one procedure''s share of it is not '
                        'defined'
               WHEN p_den IS NULL OR p_den = 0
                   THEN 'no denominator for the province: nothing to split'
               WHEN numerator IS NULL OR denominator IS NULL
                   THEN 'no counts in the per-procedure answer'
               WHEN method = 'province_level'
                   THEN 'the per-procedure answer repeats the province''s own counts (the '
                        'portal does not filter this metric by procedure)'
               WHEN method = 'overlapping'
                   THEN format('the crawled procedures'' counts add up to more than the '
                               'province''s ({} of {} vs {} of {}): answers captured at '
                               'different times?', s_num, s_den, p_num, p_den)
               WHEN method = 'not_attributable'
                   THEN format('the procedure''s counts exceed the province''s ({} of {} vs '
                               '{} of {}): captured at different times?',
                               numerator, denominator, p_num, p_den)
           END AS note
    FROM consistent
), remainder AS (
    -- what the procedures not crawled (or not attributed) hold of a pooled metric
    SELECT month, province_id, any_value(province_code) AS province_code, group_code,
           metric_code, any_value(bar_pct) AS bar_pct, any_value(metric_max) AS metric_max,
           any_value(p_num) AS p_num, any_value(p_den) AS p_den,
           any_value(p_lost) AS p_lost, any_value(p_num) - sum(numerator) AS numerator,
           any_value(p_den) - sum(denominator) AS denominator, count(*) AS n,
           max(captured_at) AS captured_at, bool_or(is_synthetic) AS is_synthetic
    FROM procedure_metrics
    WHERE method = 'pooled'
    GROUP BY month, province_id, group_code, metric_code
), all_metrics AS (
    SELECT month, province_id, province_code, procedure_id, procedure_code, procedure_name,
           group_code, metric_code, numerator, denominator, score, max_score,
           p_num AS province_numerator, p_den AS province_denominator,
           p_lost AS province_points_lost, bar_pct, missing_count, points_lost, method, note,
           dossiers, province_dossiers, coverage, captured_at, is_synthetic
    FROM procedure_metrics
    UNION ALL BY NAME
    SELECT month, province_id, province_code, NULL AS procedure_id, NULL AS procedure_code,
           NULL AS procedure_name, group_code, metric_code, numerator, denominator,
           NULL AS score, NULL AS max_score, p_num AS province_numerator,
           p_den AS province_denominator, p_lost AS province_points_lost, bar_pct,
           bar_pct / 100 * denominator - numerator AS missing_count,
           CASE WHEN p_lost <= 0.005 THEN 0
                ELSE metric_max * (bar_pct / 100 * denominator - numerator)
                     / (bar_pct / 100 * p_den) END AS points_lost,
           'remainder' AS method,
           format('{} of the province''s {} counted items are in procedures not crawled '
                  '(or not attributed) this month; {} procedures split',
                  CAST(denominator AS BIGINT), CAST(p_den AS BIGINT), n) AS note,
           NULL AS dossiers, NULL AS province_dossiers, NULL AS coverage, captured_at,
           is_synthetic
    FROM remainder
), group_rows AS (
    SELECT a.month, a.province_id, a.province_code, a.procedure_id, a.procedure_code,
           a.procedure_name, a.group_code, a.score, a.max_score,
           sum(m.points_lost) FILTER (WHERE m.method = 'pooled') AS points_lost,
           CASE WHEN bool_or(m.method = 'pooled') THEN 'pooled'
                ELSE 'not_attributable' END AS method,
           'not split: ' || string_agg(m.metric_code || ' (' || m.method || ')', ', '
                                       ORDER BY m.metric_code)
                FILTER (WHERE m.method <> 'pooled') AS note,
           any_value(m.dossiers) AS dossiers, any_value(m.province_dossiers) AS province_dossiers,
           any_value(m.coverage) AS coverage, a.captured_at, a.is_synthetic
    FROM answered a
    JOIN all_metrics m ON m.month = a.month AND m.province_id = a.province_id
                      AND m.procedure_id = a.procedure_id AND m.group_code = a.group_code
    GROUP BY ALL
    UNION ALL BY NAME
    SELECT month, province_id, any_value(province_code) AS province_code,
           NULL AS procedure_id, NULL AS procedure_code, NULL AS procedure_name, group_code,
           NULL AS score, NULL AS max_score, sum(points_lost) AS points_lost,
           'remainder' AS method, 'procedures not crawled this month' AS note,
           NULL AS dossiers, NULL AS province_dossiers, NULL AS coverage,
           max(captured_at) AS captured_at, bool_or(is_synthetic) AS is_synthetic
    FROM all_metrics WHERE method = 'remainder'
    GROUP BY month, province_id, group_code
)
SELECT m.*, 'metric' AS level, c.month_coverage, c.procedures_crawled
FROM all_metrics m JOIN crawled c USING (month, province_id)
UNION ALL BY NAME
SELECT g.*, 'group' AS level, CAST(NULL AS VARCHAR) AS metric_code, c.month_coverage,
       c.procedures_crawled
FROM group_rows g JOIN crawled c USING (month, province_id)
