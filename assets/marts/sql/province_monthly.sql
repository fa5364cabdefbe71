-- One row per province and month, every month available (2022-08 on): total, rank
-- among the provinces of that month and era, provisional band, distance to the
-- national average and to the best province, change since the previous month.
-- series 'reported': the provinces of the time (63 before 2025-07, 34 after), as the
-- source (era, source, layout) gave them. series 'comparable': before 2025-07, each of
-- today's 34 provinces recombined from its predecessors (combine_method), under
-- today's code, so WHERE province_code = 'H60' ORDER BY month is one series.
-- $months: the months to (re)build. The finality rule's constants come from
-- assets/months.py (final_rule_params): $final_tz, $final_after_days, $final_gap_h,
-- $final_by_period (sources final once their period is over) and $today (Vietnam date).
WITH s AS (
    SELECT * FROM marts.province_month_scores
), ranked AS (
    SELECT s.*,
           rank() OVER (PARTITION BY month, series ORDER BY total_score DESC) AS rank,
           count(*) OVER (PARTITION BY month, series) AS ranked_of,
           max(total_score) OVER (PARTITION BY month, series) AS best_score,
           round(avg(total_score) FILTER (WHERE series = 'reported')
                 OVER (PARTITION BY month), 2) AS mean_of_reported
    FROM s
), post AS (
    -- captures of the national summary taken after the month ended (Vietnam time)
    SELECT month, province_id, captured_at,
           md5(concat_ws(',', total_score, ckmb, tdgq, clgq, tttt, mdhl, mdsh)) AS scores
    FROM staging.national_summary_history
    WHERE list_contains($months, month)
      AND captured_at >= timezone($final_tz, CAST(month + INTERVAL 1 MONTH AS TIMESTAMP))
), latest AS (
    SELECT *, arg_max(scores, captured_at) OVER (PARTITION BY month, province_id)
                  AS latest_scores,
              max(captured_at) OVER (PARTITION BY month, province_id) AS latest_at
    FROM post
), run AS (
    -- the last capture that differed from the latest one (NULL: none did)
    SELECT month, province_id, any_value(latest_at) AS latest_at,
           max(captured_at) FILTER (WHERE scores <> latest_scores) AS changed_at
    FROM latest GROUP BY ALL
), settled AS (
    -- unchanged after the close: the latest scores, held by captures at least
    -- $final_gap_h hours apart with no other scores in between
    SELECT l.month, l.province_id,
           count(*) >= 2 AND any_value(r.latest_at) - min(l.captured_at)
               >= to_microseconds(CAST($final_gap_h * 3600e6 AS BIGINT))
               AS unchanged_after_close
    FROM latest l JOIN run r USING (month, province_id)
    WHERE l.captured_at > coalesce(r.changed_at, '-infinity'::TIMESTAMPTZ)
    GROUP BY ALL
), prev AS (
    SELECT CAST(month + INTERVAL 1 MONTH AS DATE) AS month, province_id,
           total_score AS previous_total
    FROM s
)
SELECT r.month, r.province_id, r.province_code, r.province_name, r.total_score, r.rank,
       r.ranked_of,
       (SELECT b.band FROM ref.bands b WHERE r.total_score >= b.floor
        ORDER BY b.floor DESC LIMIT 1) AS band,
       true AS band_is_provisional,
       coalesce(avg_.total_score, r.mean_of_reported) AS national_avg_score,
       -- the portal's "Cả nước" figure when it gave one, else the mean of the provinces
       CASE WHEN avg_.total_score IS NOT NULL THEN 'portal' ELSE 'computed' END
           AS national_avg_source,
       r.best_score,
       -- scores have two decimals; so do differences of them
       round(r.best_score - r.total_score, 2) AS gap_to_best,
       round(r.total_score - prev.previous_total, 2) AS score_change,
       -- a month keeps moving until some days after it ends (assets/months.py)
       r.final_reason IS NOT NULL AS is_final, r.final_reason,
       r.captured_at, r.is_synthetic, r.era, r.series, r.source, r.layout, r.province_key,
       r.successor_code, r.rank_reported, r.rank_note, r.online_combined AS online_combined_score,
       r.dossiers_received, r.combine_method, r.predecessors, r.predecessor_ranks
FROM (
    SELECT r.*,
           CASE WHEN list_contains($final_by_period, r.source)
                     AND CAST(r.month + INTERVAL 1 MONTH AS DATE) <= $today
                    THEN 'period_closed'
                WHEN r.captured_at >= timezone($final_tz, CAST(
                         r.month + INTERVAL 1 MONTH + to_days(CAST($final_after_days AS INTEGER))
                         AS TIMESTAMP))
                    THEN 'captured_5_days_after_close'
                WHEN st.unchanged_after_close THEN 'unchanged_after_close'
           END AS final_reason
    FROM ranked r
    LEFT JOIN settled st ON st.month = r.month AND st.province_id = r.province_id
                        AND r.source = 'portal_api'
) r
LEFT JOIN staging.national_average avg_ ON avg_.month = r.month AND r.source = 'portal_api'
LEFT JOIN prev ON prev.month = r.month AND prev.province_id = r.province_id
WHERE list_contains($months, r.month)
