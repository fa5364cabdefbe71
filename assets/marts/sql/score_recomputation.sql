-- Our arithmetic against the portal's, for every unit (and the province itself):
--   level 'metric': each metric the portal scores itself (CKMB, TDGQ, MDHL, MDSH)
--                   recomputed from the counts it sent with marts.rule_score;
--   level 'group':  each group with a known formula (all but CLGQ) recomputed as the
--                   sum of its metrics (TTTT from its raw parameters; the one metric
--                   scored from data the API does not expose counts as the portal's);
--                   CLGQ wherever the portal sends its raw parameters (the province's
--                   own row of provide-online-tree; units get a score only) with
--                   marts.clgq_score, a formula FITTED on six real observations
--                   (method 'fitted_formula'; docs/index.md, "CLGQ: the formula, tested").
-- Like the portal, a metric's score is rounded to two decimals and a group's is the sum
-- of its rounded metrics: on the real captures the difference is 0 (0.01 for TTTT,
-- whose formula is a public fit; 0 for CLGQ, whose formula is our fit). Above 0.02 the
-- portal has probably changed its method, or for CLGQ the fit is refuted (the check
-- recomputed_scores_match_portal warns either way).
WITH c AS (
    SELECT c.*, m.rule, m.threshold, m.score_if_empty,
           CASE WHEN m.rule IN ('linear', 'threshold')
                THEN round(marts.rule_score(c.max_score, m.threshold, m.score_if_empty,
                                            c.numerator, c.denominator), 2)
                WHEN m.rule = 'as_reported' THEN c.score
           END AS recomputed
    FROM marts.unit_metric_counts c
    JOIN ref.metrics m USING (metric_code)
    WHERE list_contains($months, c.month) AND m.rule NOT IN ('unknown', 'tracking')
)
SELECT month, province_id, province_code, unit_id, unit_name, unit_type, is_province,
       group_code, metric_code, 'metric' AS level, numerator, denominator,
       score AS portal_score, recomputed AS recomputed_score,
       round(coalesce(recomputed, 0) - coalesce(score, 0), 4) AS difference,
       'count_rule' AS method, captured_at, is_synthetic
FROM c
WHERE score_source = 'portal' AND rule <> 'as_reported'
UNION ALL BY NAME
SELECT c.month, c.province_id, c.province_code, c.unit_id,
       any_value(c.unit_name) AS unit_name, any_value(c.unit_type) AS unit_type,
       c.is_province, c.group_code, NULL AS metric_code, 'group' AS level,
       NULL AS numerator, NULL AS denominator, any_value(g.score) AS portal_score,
       -- rounded: a float sum's last bits depend on the order DuckDB adds in
       round(sum(coalesce(c.recomputed, 0)), 2) AS recomputed_score,
       round(sum(coalesce(c.recomputed, 0)) - any_value(g.score), 4) AS difference,
       'sum_of_metrics' AS method,
       max(c.captured_at) AS captured_at, bool_or(c.is_synthetic) AS is_synthetic
FROM c
JOIN staging.unit_group_scores g USING (month, province_id, unit_id, group_code)
GROUP BY c.month, c.province_id, c.province_code, c.unit_id, c.is_province, c.group_code
UNION ALL BY NAME
SELECT month, province_id, province_code, unit_id, unit_name, unit_type, is_province,
       group_code, NULL AS metric_code, 'group' AS level, NULL AS numerator,
       NULL AS denominator, portal_score, round(fitted, 2) AS recomputed_score,
       round(round(fitted, 2) - portal_score, 4) AS difference,
       'fitted_formula' AS method, captured_at, is_synthetic
FROM (
    SELECT s.month, s.province_id, s.province_code, s.unit_id, s.unit_name, s.unit_type,
           s.is_province, s.group_code, s.score AS portal_score,
           marts.clgq_score(
               max(p.value) FILTER (WHERE p.parameter = 'authorityCount'),
               max(p.value) FILTER (WHERE p.parameter = 'partialCount'),
               max(p.value) FILTER (WHERE p.parameter = 'fullCount'),
               max(p.value) FILTER (WHERE p.parameter = 'onlineDossierCount'),
               max(p.value) FILTER (WHERE p.parameter = 'onlineServiceTotal')) AS fitted,
           -- all five present: a partial set is not "the parameters exist"
           count(DISTINCT p.parameter) AS present,
           greatest(max(p.captured_at), any_value(s.captured_at)) AS captured_at,
           bool_or(p.is_synthetic) OR any_value(s.is_synthetic) AS is_synthetic
    -- the CLGQ group score as the portal gives it (marts.unit_metric_counts' portal_group
    -- rows), read from its table: the view's other branches are not needed here
    FROM staging.unit_group_scores s
    JOIN staging.unit_parameters p USING (month, province_id, unit_id, group_code)
    WHERE list_contains($months, s.month) AND s.group_code = 'CLGQ'
      AND list_contains($months, p.month)
      AND p.parameter IN ('authorityCount', 'partialCount', 'fullCount',
                          'onlineDossierCount', 'onlineServiceTotal')
    GROUP BY ALL
)
WHERE present = 5
