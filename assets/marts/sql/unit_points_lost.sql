-- Who lost the points. A metric scored on pooled counts loses
--   max × (1 − Σnum / (T·Σden)),   T = bar_pct / 100 (the threshold, or 100 %),
-- so the loss splits exactly across the units that hold the counts (docs/index.md §7):
--   lost_u = max × missing_u / (T·Σden),   missing_u = T·den_u − num_u,
-- missing_u being how many more numerator items (on-time dossiers, satisfied dossiers…)
-- the unit needs to reach the bar. A threshold metric loses points only below the bar,
-- and the same split shares out that shortfall. A unit above the bar has a negative
-- missing count and share: it wins back part of what the others lose.
-- method:
--   exact_pooled          the units' counts add up to the province's;
--   pooled_with_remainder the units' counts are a part of the province's (petitions:
--                         some reach the province itself); the rest stays on a
--                         province row;
--   province_level        computed for the province as a whole (the same counts on
--                         every unit row), no denominator, or no unit rows;
--   not_attributable      formula unknown (CLGQ), data the API does not expose, or
--                         unit counts that cannot be part of the province's.
-- Whatever the method, the rows of a metric add up to the province's loss on it
-- (the blocking check unit_shares_add_up).
WITH c AS (
    SELECT * FROM marts.unit_metric_counts WHERE list_contains($months, month)
), prov AS (
    SELECT c.month, c.province_id, c.province_code, c.unit_id, c.unit_name, c.group_code,
           c.metric_code, c.numerator AS p_num, c.denominator AS p_den, c.is_synthetic,
           m.rule, coalesce(m.threshold, 100) AS bar_pct, c.max_score,
           c.max_score - coalesce(c.score, 0) AS p_lost
    FROM c JOIN ref.metrics m USING (metric_code)
    WHERE c.is_province AND m.max_score > 0
), units AS (
    SELECT * FROM c WHERE NOT is_province
), agg AS (
    SELECT u.month, u.province_id, u.metric_code, count(*) AS n_units,
           sum(u.numerator) AS s_num, sum(u.denominator) AS s_den,
           bool_and(u.numerator IS NOT NULL AND u.denominator IS NOT NULL) AS complete,
           bool_and(u.numerator IS NOT DISTINCT FROM p.p_num
                    AND u.denominator IS NOT DISTINCT FROM p.p_den) AS repeated
    FROM units u JOIN prov p USING (month, province_id, metric_code)
    GROUP BY ALL
), classified AS (
    SELECT p.*, a.n_units, a.s_num, a.s_den,
           CASE
               WHEN p.rule IN ('unknown', 'as_reported') THEN 'not_attributable'
               WHEN p.p_den IS NULL OR p.p_den = 0 OR a.n_units IS NULL OR a.repeated
                   THEN 'province_level'
               WHEN NOT a.complete THEN 'not_attributable'
               WHEN a.s_num = p.p_num AND a.s_den = p.p_den THEN 'exact_pooled'
               -- the province's pool holds the units' items and some of its own
               WHEN a.s_den < p.p_den AND a.s_num <= p.p_num
                    AND p.p_num - a.s_num <= p.p_den - a.s_den THEN 'pooled_with_remainder'
               ELSE 'not_attributable'
           END AS method
    FROM prov p LEFT JOIN agg a USING (month, province_id, metric_code)
    WHERE p.p_lost > 0.005
), noted AS (
    SELECT *,
           CASE
               WHEN rule = 'unknown'
                   THEN 'scoring formula not published; only the group score is known'
               WHEN rule = 'as_reported'
                   THEN 'scored by the portal from data the API does not expose'
               WHEN p_den IS NULL OR p_den = 0
                   THEN 'no denominator: nothing was counted, the portal scores it as shown'
               WHEN n_units IS NULL THEN 'no unit rows for this metric'
               WHEN method = 'province_level'
                   THEN 'computed for the province as a whole (the same counts on every unit)'
               WHEN method = 'pooled_with_remainder'
                   THEN format('{} of the province''s {} counted items are not assigned to any '
                               'unit; their share stays with the province (assumes the '
                               'province''s count includes the units'')',
                               CAST(p_den - s_den AS BIGINT), CAST(p_den AS BIGINT))
               WHEN method = 'not_attributable' AND s_den > p_den
                   THEN format('the units'' counts add up to more than the province''s '
                               '(denominator {} vs {}): the province counts distinct items, '
                               'e.g. procedures, once', CAST(s_den AS BIGINT), CAST(p_den AS BIGINT))
               WHEN method = 'not_attributable'
                   THEN format('unit counts do not add up to the province''s (numerator {} vs '
                               '{}, denominator {} vs {})', s_num, p_num, s_den, p_den)
           END AS note
    FROM classified
)
SELECT u.month, u.province_id, n.province_code, u.unit_id, u.unit_name, u.unit_type,
       u.group_code, u.metric_code, u.numerator, u.denominator, n.bar_pct,
       n.bar_pct / 100 * u.denominator - u.numerator AS missing_count,
       n.max_score * (n.bar_pct / 100 * u.denominator - u.numerator)
           / (n.bar_pct / 100 * n.p_den) AS points_lost,
       n.method, NULL AS note, u.is_synthetic
FROM units u
JOIN noted n USING (month, province_id, metric_code)
WHERE n.method IN ('exact_pooled', 'pooled_with_remainder')
UNION ALL BY NAME
-- the province's own items of a pooled_with_remainder metric
SELECT month, province_id, province_code, unit_id, unit_name, 'PROVINCE' AS unit_type,
       group_code, metric_code, p_num - s_num AS numerator, p_den - s_den AS denominator,
       bar_pct, bar_pct / 100 * (p_den - s_den) - (p_num - s_num) AS missing_count,
       max_score * (bar_pct / 100 * (p_den - s_den) - (p_num - s_num)) / (bar_pct / 100 * p_den)
           AS points_lost,
       method, note, is_synthetic
FROM noted
WHERE method = 'pooled_with_remainder'
UNION ALL BY NAME
SELECT month, province_id, province_code, unit_id, unit_name, 'PROVINCE' AS unit_type,
       group_code, metric_code, p_num AS numerator, p_den AS denominator, bar_pct,
       CASE WHEN p_den > 0 THEN bar_pct / 100 * p_den - p_num END AS missing_count,
       p_lost AS points_lost, method, note, is_synthetic
FROM noted
WHERE method IN ('province_level', 'not_attributable')
