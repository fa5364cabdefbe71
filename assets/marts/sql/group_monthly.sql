-- One row per province, group and month, from the national summary: points lost
-- against the group's maximum, the national average and the best province.
WITH long AS (
    UNPIVOT (SELECT * FROM staging.national_summary WHERE list_contains($months, month))
    ON ckmb, tdgq, clgq, tttt, mdhl, mdsh INTO NAME group_key VALUE score
), avg_long AS (
    UNPIVOT (SELECT * FROM staging.national_average WHERE list_contains($months, month))
    ON ckmb, tdgq, clgq, tttt, mdhl, mdsh INTO NAME group_key VALUE national_avg_score
)
SELECT l.month, l.province_id, l.province_code, l.province_name,
       upper(l.group_key) AS group_code, g.group_name, l.score, g.max_score,
       round(g.max_score - l.score, 2) AS points_lost,
       coalesce(a.national_avg_score,
                round(avg(l.score) OVER (PARTITION BY l.month, l.group_key), 2)) AS national_avg_score,
       max(l.score) OVER (PARTITION BY l.month, l.group_key) AS best_score,
       rank() OVER (PARTITION BY l.month, l.group_key ORDER BY l.score DESC) AS rank,
       count(*) OVER (PARTITION BY l.month, l.group_key) AS ranked_of,
       l.captured_at, l.is_synthetic
FROM long l
JOIN ref.groups g ON g.group_code = upper(l.group_key)
LEFT JOIN avg_long a USING (month, group_key)
