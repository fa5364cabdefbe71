-- Who lost the points. For a metric scored on pooled counts the province's loss
-- splits exactly across its units (docs/index.md §7):
--   lost_u = max × (T·den_u − num_u) / (T·Σden), T = threshold (or 100 %) as a fraction.
-- A unit above the bar gets a negative share: it wins back part of what others lose.
-- Metrics computed for the province only (the same counts on every unit row), and
-- metrics with no denominator, are attributed to the province itself; metrics whose
-- formula is unknown (CLGQ) or whose unit counts do not add up are not attributable.
WITH c AS (
    SELECT * FROM marts.unit_metric_counts WHERE list_contains($months, month)
), prov AS (
    SELECT c.month, c.province_id, c.province_code, c.unit_id, c.unit_name, c.group_code,
           c.metric_code, c.numerator AS p_num, c.denominator AS p_den, c.is_synthetic,
           m.rule, coalesce(m.threshold, 100) / 100 AS bar, c.max_score,
           c.max_score - coalesce(c.score, 0) AS p_lost
    FROM c JOIN ref.metrics m USING (metric_code)
    WHERE c.is_province AND m.max_score > 0
), units AS (
    SELECT * FROM c WHERE NOT is_province
), agg AS (
    SELECT u.month, u.province_id, u.metric_code, count(*) AS n_units,
           sum(u.numerator) AS s_num, sum(u.denominator) AS s_den,
           bool_and(u.numerator IS NOT DISTINCT FROM p.p_num
                    AND u.denominator IS NOT DISTINCT FROM p.p_den) AS repeated
    FROM units u JOIN prov p USING (month, province_id, metric_code)
    GROUP BY ALL
), classified AS (
    SELECT p.*, a.n_units, a.s_num, a.s_den,
           CASE
               WHEN p.rule IN ('unknown', 'as_reported') THEN 'not_attributable'
               WHEN p.p_den IS NULL OR p.p_den = 0 OR a.repeated THEN 'province_level'
               WHEN a.s_num = p.p_num AND a.s_den = p.p_den THEN 'exact_pooled'
               ELSE 'not_attributable'
           END AS method,
           CASE
               WHEN p.rule = 'unknown' THEN 'scoring formula not published; only the group score is known'
               WHEN p.rule = 'as_reported' THEN 'scored by the portal from data the API does not expose'
               WHEN p.p_den IS NULL OR p.p_den = 0 THEN 'no denominator: nothing to count, the portal scores it as shown'
               WHEN a.repeated THEN 'computed for the province as a whole (the same counts on every unit)'
               WHEN a.s_num = p.p_num AND a.s_den = p.p_den THEN NULL
               ELSE format('unit counts do not add up to the province''s (numerator {} vs {}, denominator {} vs {})',
                           a.s_num, p.p_num, a.s_den, p.p_den)
           END AS note
    FROM prov p LEFT JOIN agg a USING (month, province_id, metric_code)
    WHERE p.p_lost > 0.005
)
SELECT u.month, u.province_id, cl.province_code, u.unit_id, u.unit_name, u.unit_type,
       u.group_code, u.metric_code, u.numerator, u.denominator,
       cl.max_score * (cl.bar * u.denominator - u.numerator) / (cl.bar * cl.p_den) AS points_lost,
       'exact_pooled' AS method, NULL AS note, u.is_synthetic
FROM units u
JOIN classified cl USING (month, province_id, metric_code)
WHERE cl.method = 'exact_pooled'
UNION ALL BY NAME
SELECT month, province_id, province_code, unit_id, unit_name, 'PROVINCE' AS unit_type,
       group_code, metric_code, p_num AS numerator, p_den AS denominator,
       p_lost AS points_lost, method, note, is_synthetic
FROM classified
WHERE method <> 'exact_pooled'
