-- What would win the points back: for every metric of every pulled province,
--   best:   the points gained at the ratio of the best pulled province that month (only
--           pulled provinces have metric detail; CLGQ, whose formula is unknown, compares
--           the group scores of every province in the national summary);
--   full:   the points gained at the bar (the threshold, or 100 %): the whole loss;
--   median: the points gained if the province's units below its median unit (by ratio)
--           reached it (only where the units' counts make up the province's pool).
-- needed_*: how many more numerator items (on-time dossiers for DOSSIER_ON_TIME,
-- procedures for a procedure metric…) that takes at this month's denominator.
-- rank_if_*: the province's rank among the provinces of the month if this metric alone
-- gained that much and every other score stayed as it is.
WITH m AS (
    SELECT mm.*, r.score_if_empty, coalesce(mm.threshold, 100) AS bar_pct,
           coalesce(mm.score, 0) AS score_now,
           mm.rule IN ('linear', 'threshold') AND mm.denominator > 0 AS countable
    FROM marts.metric_monthly mm
    JOIN ref.metrics r USING (metric_code)
    WHERE list_contains($months, mm.month) AND mm.max_score > 0
), best_metric AS (
    -- the best pulled province: highest score, then highest ratio (then the code, so
    -- that a tie always names the same province)
    SELECT month, metric_code, count(*) AS compared_provinces,
           max(coalesce(score, 0)) AS best_score,
           arg_max(province_code, (coalesce(score, 0),
                                   coalesce(numerator / nullif(denominator, 0), 0),
                                   province_code)) AS best_province_code,
           arg_max(numerator / nullif(denominator, 0),
                   (coalesce(score, 0), coalesce(numerator / nullif(denominator, 0), 0),
                    province_code)) AS best_fraction
    FROM marts.metric_monthly
    WHERE list_contains($months, month)
    GROUP BY ALL
), best_group AS (
    -- a metric that is its group's score (formula unknown): every province is known
    SELECT g.month, r.metric_code, count(*) AS compared_provinces,
           max(g.score) AS best_score,
           arg_max(g.province_code, (g.score, g.province_code)) AS best_province_code,
           NULL::DOUBLE AS best_fraction
    FROM marts.group_monthly g
    JOIN ref.metrics r ON r.group_code = g.group_code AND r.rule = 'unknown'
    WHERE list_contains($months, g.month)
    GROUP BY ALL
), pool AS (
    -- units whose counts are part of the province's pool (see unit_points_lost.sql)
    SELECT month, province_id, metric_code, numerator, denominator,
           numerator / denominator AS fraction
    FROM marts.unit_points_lost
    WHERE list_contains($months, month) AND unit_id <> province_id AND denominator > 0
      AND method IN ('exact_pooled', 'pooled_with_remainder')
), lifted AS (
    SELECT p.month, p.province_id, p.metric_code, any_value(md.median_fraction) AS median_fraction,
           count(*) FILTER (WHERE p.fraction < md.median_fraction) AS units_below_median,
           -- whole items per unit; the small epsilon keeps an exact hit from rounding up
           sum(greatest(0, ceil(md.median_fraction * p.denominator - p.numerator - 1e-9)))
               ::BIGINT AS needed_to_median
    FROM pool p
    JOIN (SELECT month, province_id, metric_code, median(fraction) AS median_fraction
          FROM pool GROUP BY ALL) md USING (month, province_id, metric_code)
    GROUP BY ALL
), scenarios AS (
    SELECT m.*, b.best_province_code, b.best_score, b.compared_provinces,
           round(100 * b.best_fraction, 2) AS best_ratio,
           greatest(0, b.best_score - m.score_now) AS gain_to_best,
           CASE WHEN m.countable
                THEN greatest(0, ceil(m.bar_pct / 100 * m.denominator - m.numerator - 1e-9))
           END::BIGINT AS needed_to_full,
           CASE WHEN m.countable AND b.best_fraction IS NOT NULL
                THEN greatest(0, ceil(least(b.best_fraction, m.bar_pct / 100) * m.denominator
                                      - m.numerator - 1e-9))
           END::BIGINT AS needed_to_best,
           round(100 * l.median_fraction, 2) AS median_unit_ratio, l.units_below_median,
           l.needed_to_median,
           CASE WHEN m.countable AND l.needed_to_median IS NOT NULL
                THEN marts.rule_score(m.max_score, m.threshold, m.score_if_empty,
                                      m.numerator + l.needed_to_median, m.denominator)
                     - marts.rule_score(m.max_score, m.threshold, m.score_if_empty,
                                        m.numerator, m.denominator)
           END AS gain_to_median
    FROM m
    LEFT JOIN (SELECT * FROM best_metric WHERE metric_code NOT IN
                   (SELECT metric_code FROM ref.metrics WHERE rule = 'unknown')
               UNION ALL SELECT * FROM best_group) b USING (month, metric_code)
    LEFT JOIN lifted l USING (month, province_id, metric_code)
), ranked AS (
    SELECT s.*, p.total_score, p.rank, p.ranked_of,
           -- the portal shows totals with two decimals: so does the total we rank
           1 + (SELECT count(*) FROM marts.province_monthly o
                WHERE o.month = s.month AND o.province_id <> s.province_id
                  AND o.total_score > round(p.total_score + s.gain_to_best, 2)) AS rank_if_best,
           1 + (SELECT count(*) FROM marts.province_monthly o
                WHERE o.month = s.month AND o.province_id <> s.province_id
                  AND o.total_score > round(p.total_score + s.points_lost, 2)) AS rank_if_full,
           CASE WHEN s.gain_to_median IS NOT NULL THEN
           1 + (SELECT count(*) FROM marts.province_monthly o
                WHERE o.month = s.month AND o.province_id <> s.province_id
                  AND o.total_score > round(p.total_score + s.gain_to_median, 2)) END
               AS rank_if_median
    FROM scenarios s
    LEFT JOIN marts.province_monthly p USING (month, province_id)
)
SELECT month, province_id, province_code, group_code, metric_code, metric_name, rule,
       numerator, denominator, ratio, score, max_score, points_lost, bar_pct,
       best_province_code, best_ratio, best_score, compared_provinces,
       round(gain_to_best, 4) AS gain_to_best, needed_to_best,
       points_lost AS gain_to_full, needed_to_full, median_unit_ratio, units_below_median,
       round(gain_to_median, 4) AS gain_to_median, needed_to_median, total_score, rank,
       ranked_of, rank_if_best, rank_if_full, rank_if_median,
       nullif(concat_ws('; ',
           CASE WHEN rule = 'unknown'
                THEN format('formula not published: "best" compares the group score of all {} '
                            'provinces; no count to add', compared_provinces) END,
           CASE WHEN rule = 'as_reported'
                THEN 'scored from data the API does not expose: no count to add' END,
           CASE WHEN rule IN ('linear', 'threshold') AND coalesce(denominator, 0) = 0
                THEN 'nothing was counted this month (no denominator): no count can win '
                     'these points' END,
           CASE WHEN rule IN ('linear', 'threshold') AND denominator > 0 AND points_lost > 0.005
                     AND gain_to_median IS NULL
                THEN 'no split of this metric over units (see unit_points_lost.note): no '
                     'median scenario' END),
           '') AS note,
       is_synthetic
FROM ranked
