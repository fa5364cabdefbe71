-- Who, on which procedure: a procedure's points lost on a pooled metric
-- (marts.procedure_monthly, method 'pooled') split across the units that handle it,
--   lost_u,p = max × (T·den_u,p − num_u,p) / (T·province den),
-- the same arithmetic as the procedure's own share, so the unit rows of a procedure add
-- up to its loss (the blocking check unit_procedure_shares_add_up). Units that hold none
-- of the procedure's dossiers (no counts) have no row.
-- method:
--   exact_pooled          the units' counts add up to the procedure's;
--   pooled_with_remainder the units hold part of the procedure's counts; the rest stays on
--                         a row of the province itself (unit_type 'PROVINCE');
--   not_attributable      the units' counts are missing or exceed the procedure's: one
--                         row, without a unit, carries the procedure's whole loss.
WITH split AS (
    SELECT p.month, p.province_id, p.province_code, p.procedure_id, p.procedure_code,
           p.procedure_name, p.group_code, p.metric_code, p.numerator AS pr_num,
           p.denominator AS pr_den, p.province_denominator AS p_den,
           p.province_points_lost AS p_lost, p.bar_pct, p.points_lost AS pr_lost,
           m.max_score, p.is_synthetic
    FROM marts.procedure_monthly p JOIN ref.metrics m USING (metric_code)
    WHERE p.level = 'metric' AND p.method = 'pooled' AND list_contains($months, p.month)
), unit_types AS (
    -- tree endpoints give only a level; the metrics endpoints give the unit's type
    SELECT month, province_id, unit_id, any_value(unit_type) AS known_type
    FROM staging.unit_group_scores
    WHERE unit_type IS NOT NULL AND list_contains($months, month)
    GROUP BY ALL
), units AS (
    SELECT c.month, c.province_id, c.procedure_id, c.metric_code, c.unit_id, c.unit_name,
           coalesce(c.unit_type, t.known_type) AS unit_type, c.numerator, c.denominator
    FROM marts.procedure_metric_counts c
    LEFT JOIN unit_types t USING (month, province_id, unit_id)
    WHERE NOT c.is_province AND list_contains($months, c.month)
), agg AS (
    SELECT u.month, u.province_id, u.procedure_id, u.metric_code, sum(u.numerator) AS s_num,
           sum(u.denominator) AS s_den,
           bool_and(u.numerator IS NOT NULL AND u.denominator IS NOT NULL) AS complete
    FROM units u JOIN split s USING (month, province_id, procedure_id, metric_code)
    GROUP BY ALL
), classified AS (
    SELECT s.*, a.s_num, a.s_den,
           CASE
               WHEN a.s_den IS NULL OR NOT a.complete THEN 'not_attributable'
               WHEN a.s_num = s.pr_num AND a.s_den = s.pr_den THEN 'exact_pooled'
               WHEN a.s_den <= s.pr_den AND a.s_num <= s.pr_num
                    AND s.pr_num - a.s_num <= s.pr_den - a.s_den THEN 'pooled_with_remainder'
               ELSE 'not_attributable'
           END AS method
    FROM split s LEFT JOIN agg a USING (month, province_id, procedure_id, metric_code)
)
SELECT c.month, c.province_id, c.province_code, c.procedure_id, c.procedure_code,
       c.procedure_name, u.unit_id, u.unit_name, u.unit_type, c.group_code, c.metric_code,
       u.numerator, u.denominator, c.bar_pct,
       c.bar_pct / 100 * u.denominator - u.numerator AS missing_count,
       CASE WHEN c.p_lost <= 0.005 THEN 0
            ELSE c.max_score * (c.bar_pct / 100 * u.denominator - u.numerator)
                 / (c.bar_pct / 100 * c.p_den) END AS points_lost,
       c.method, NULL AS note, c.is_synthetic
FROM classified c
JOIN units u USING (month, province_id, procedure_id, metric_code)
WHERE c.method IN ('exact_pooled', 'pooled_with_remainder')
  AND (u.denominator <> 0 OR u.numerator <> 0)
UNION ALL BY NAME
-- the procedure's items that no unit holds
SELECT month, province_id, province_code, procedure_id, procedure_code, procedure_name,
       province_id AS unit_id, NULL AS unit_name, 'PROVINCE' AS unit_type, group_code,
       metric_code, pr_num - s_num AS numerator, pr_den - s_den AS denominator, bar_pct,
       bar_pct / 100 * (pr_den - s_den) - (pr_num - s_num) AS missing_count,
       CASE WHEN p_lost <= 0.005 THEN 0
            ELSE max_score * (bar_pct / 100 * (pr_den - s_den) - (pr_num - s_num))
                 / (bar_pct / 100 * p_den) END AS points_lost,
       method,
       format('{} of the procedure''s {} counted items are not assigned to any unit',
              CAST(pr_den - s_den AS BIGINT), CAST(pr_den AS BIGINT)) AS note,
       is_synthetic
FROM classified
WHERE method = 'pooled_with_remainder'
UNION ALL BY NAME
SELECT month, province_id, province_code, procedure_id, procedure_code, procedure_name,
       NULL AS unit_id, NULL AS unit_name, NULL AS unit_type, group_code, metric_code,
       pr_num AS numerator, pr_den AS denominator, bar_pct,
       bar_pct / 100 * pr_den - pr_num AS missing_count, pr_lost AS points_lost, method,
       CASE WHEN s_den IS NULL THEN 'no unit counts for this procedure'
            ELSE format('the units'' counts do not fit the procedure''s (numerator {} vs {}, '
                        'denominator {} vs {})', s_num, pr_num, s_den, pr_den) END AS note,
       is_synthetic
FROM classified
WHERE method = 'not_attributable'
