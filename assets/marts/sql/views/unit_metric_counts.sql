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
