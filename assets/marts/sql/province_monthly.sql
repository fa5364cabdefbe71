-- One row per province and month: total, rank among the provinces of that month,
-- provisional band, distance to the national average and to the best province.
-- $months: the months to (re)build.
WITH ns AS (
    SELECT * FROM staging.national_summary WHERE list_contains($months, month)
), prev AS (
    SELECT CAST(month + INTERVAL 1 MONTH AS DATE) AS month, province_id,
           total_score AS previous_total
    FROM staging.national_summary
)
SELECT ns.month, ns.province_id, ns.province_code, ns.province_name, ns.total_score,
       rank() OVER w AS rank,
       count(*) OVER (PARTITION BY ns.month) AS ranked_of,
       (SELECT b.band FROM ref.bands b WHERE ns.total_score >= b.floor
        ORDER BY b.floor DESC LIMIT 1) AS band,
       true AS band_is_provisional,
       coalesce(avg_.total_score, round(avg(ns.total_score) OVER (PARTITION BY ns.month), 2))
           AS national_avg_score,
       max(ns.total_score) OVER (PARTITION BY ns.month) AS best_score,
       -- scores have two decimals; so do differences of them
       round(max(ns.total_score) OVER (PARTITION BY ns.month) - ns.total_score, 2) AS gap_to_best,
       round(ns.total_score - prev.previous_total, 2) AS score_change,
       -- a month keeps moving until some days after it ends
       ns.captured_at >= CAST(ns.month + INTERVAL 1 MONTH + INTERVAL 5 DAY AS TIMESTAMPTZ)
           AS is_final,
       ns.captured_at, ns.is_synthetic
FROM ns
LEFT JOIN staging.national_average avg_ USING (month)
LEFT JOIN prev USING (month, province_id)
WINDOW w AS (PARTITION BY ns.month ORDER BY ns.total_score DESC)
