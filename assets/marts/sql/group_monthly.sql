-- One row per province, group and month, every month available: points lost against
-- the group's maximum, the national average and the best province, rank in the group.
-- Same rows as province_monthly (era, series, source). Where the source only had the
-- merged online column (Dịch vụ trực tuyến, /22), CLGQ and TTTT are null here and the
-- merged value is province_monthly.online_combined_score.
WITH long AS (
    SELECT * FROM (SELECT * FROM marts.province_month_scores
                   WHERE list_contains($months, month))
    UNPIVOT INCLUDE NULLS (score FOR group_key IN (ckmb, tdgq, clgq, tttt, mdhl, mdsh))
), avg_long AS (
    UNPIVOT (SELECT * FROM staging.national_average WHERE list_contains($months, month))
    ON ckmb, tdgq, clgq, tttt, mdhl, mdsh INTO NAME group_key VALUE national_avg_score
), scored AS (
    SELECT l.*,
           round(avg(l.score) FILTER (WHERE l.series = 'reported')
                 OVER (PARTITION BY l.month, l.group_key), 2) AS mean_of_reported,
           max(l.score) OVER (PARTITION BY l.month, l.series, l.group_key) AS best_score,
           CASE WHEN l.score IS NOT NULL THEN rank() OVER (
               PARTITION BY l.month, l.series, l.group_key, l.score IS NULL
               ORDER BY l.score DESC) END AS rank,
           count(l.score) OVER (PARTITION BY l.month, l.series, l.group_key) AS ranked_of
    FROM long l
)
SELECT l.month, l.province_id, l.province_code, l.province_name,
       upper(l.group_key) AS group_code, g.group_name, l.score, g.max_score,
       round(g.max_score - l.score, 2) AS points_lost,
       CASE WHEN l.score IS NOT NULL
            THEN coalesce(a.national_avg_score, l.mean_of_reported) END AS national_avg_score,
       -- the overview's group average when the portal sent it, else the mean of the
       -- provinces' rows (the minimal national summary has no group averages)
       CASE WHEN l.score IS NULL THEN NULL
            WHEN a.national_avg_score IS NOT NULL THEN 'portal' ELSE 'computed' END
           AS national_avg_source,
       l.best_score, l.rank, CASE WHEN l.score IS NOT NULL THEN l.ranked_of END AS ranked_of,
       l.captured_at, l.is_synthetic, l.era, l.series, l.source, l.province_key,
       l.combine_method,
       CASE WHEN l.score IS NULL AND l.layout = 'online_merged'
            THEN 'merged in the source: see province_monthly.online_combined_score' END
           AS note
FROM scored l
JOIN ref.groups g ON g.group_code = upper(l.group_key)
LEFT JOIN avg_long a ON a.month = l.month AND a.group_key = l.group_key
                    AND l.source = 'portal_api'
