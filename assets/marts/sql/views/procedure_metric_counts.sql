-- Every unit's counts per metric in each per-procedure answer, as
-- marts.unit_metric_counts does for the province's answers: metrics[] rows as reported,
-- tree-endpoint metrics (TDGQ, TTTT) from their raw parameters, CLGQ as its group score.
CREATE OR REPLACE VIEW marts.procedure_metric_counts AS
WITH tree AS (
    SELECT p.month, p.province_id, p.province_code, p.procedure_id, p.procedure_code,
           p.procedure_name, p.unit_id, p.unit_name, p.unit_type, p.is_province,
           m.group_code, m.metric_code, m.max_score, m.threshold, m.score_if_empty,
           m.max_score = g.max_score AS whole_group,
           max(p.value) FILTER (WHERE p.parameter = m.numerator_param) AS numerator,
           max(p.value) FILTER (WHERE p.parameter = m.denominator_param) AS denominator,
           max(p.captured_at) AS captured_at, bool_or(p.is_synthetic) AS is_synthetic
    FROM staging.procedure_unit_parameters p
    JOIN ref.metrics m ON m.group_code = p.group_code
                      AND p.parameter IN (m.numerator_param, m.denominator_param)
    JOIN ref.groups g ON g.group_code = m.group_code
    GROUP BY ALL
)
SELECT month, province_id, province_code, procedure_id, procedure_code, procedure_name,
       unit_id, unit_name, unit_type, is_province, group_code, metric_code, numerator,
       denominator, score, max_score, 'portal' AS score_source, captured_at, is_synthetic
FROM staging.procedure_unit_metrics
UNION ALL BY NAME
SELECT t.* EXCLUDE (threshold, score_if_empty, whole_group),
       CASE WHEN t.whole_group THEN s.score
            ELSE marts.rule_score(t.max_score, t.threshold, t.score_if_empty, t.numerator,
                                  t.denominator) END AS score,
       CASE WHEN t.whole_group THEN 'portal' ELSE 'recomputed' END AS score_source
FROM tree t
LEFT JOIN staging.procedure_group_scores s
    USING (month, province_id, procedure_id, unit_id, group_code)
UNION ALL BY NAME
SELECT s.month, s.province_id, s.province_code, s.procedure_id, s.procedure_code,
       s.procedure_name, s.unit_id, s.unit_name, s.unit_type, s.is_province, s.group_code,
       m.metric_code, NULL AS numerator, NULL AS denominator, s.score, s.max_score,
       'portal_group' AS score_source, s.captured_at, s.is_synthetic
FROM staging.procedure_group_scores s
JOIN ref.metrics m ON m.group_code = s.group_code AND m.rule = 'unknown';
