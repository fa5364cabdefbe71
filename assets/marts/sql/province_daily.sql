-- How a month's scores moved day by day: one row per province, month and day on which
-- the national summary was captured (the last capture of that day, Asia/Ho_Chi_Minh),
-- with the rank that day and the change since the previous captured day. is_latest marks
-- the capture the other marts use. Months before 2025-07 have no daily captures.
-- $months: the months to (re)build.
WITH h AS (
    SELECT *, CAST(timezone('Asia/Ho_Chi_Minh', captured_at) AS DATE) AS day
    FROM staging.national_summary_history WHERE list_contains($months, month)
), last_of_day AS (
    SELECT * FROM h
    QUALIFY row_number() OVER (PARTITION BY month, province_id, day
                               ORDER BY captured_at DESC) = 1
)
SELECT month, day, province_id, province_code, province_name, total_score, ckmb, tdgq,
       clgq, tttt, mdhl, mdsh,
       rank() OVER (PARTITION BY month, day ORDER BY total_score DESC) AS rank,
       count(*) OVER (PARTITION BY month, day) AS ranked_of,
       round(total_score - lag(total_score) OVER (PARTITION BY month, province_id
                                                  ORDER BY day), 2) AS change_since_previous,
       day >= CAST(month + INTERVAL 1 MONTH AS DATE) AS after_month_end,
       captured_at = max(captured_at) OVER (PARTITION BY month, province_id) AS is_latest,
       captured_at, session, is_synthetic
FROM last_of_day
