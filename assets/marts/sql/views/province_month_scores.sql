-- Every province score of every month, whichever source had it, before the marts rank
-- them: one source per month (today's API, else the legacy service, else a ranking
-- spreadsheet) and, for months before the merger, a comparable series for each of the
-- 34 provinces that combines its predecessors (weighted by dossiers received when the
-- source gives them for all of them, else a plain mean; combine_method says which).
CREATE OR REPLACE VIEW marts.province_month_scores AS
WITH sources AS (
    SELECT month, '34' AS era, 'portal_api' AS source, 1 AS priority, 'six_groups' AS layout,
           province_id, province_code AS province_key, province_code, province_name,
           province_code AS successor_code, ckmb, tdgq, clgq, tttt,
           round(clgq + tttt, 2) AS online_combined, mdhl, mdsh, total_score,
           CAST(NULL AS DOUBLE) AS dossiers_received, rank_reported,
           CAST(NULL AS VARCHAR) AS rank_note, captured_at, is_synthetic
    FROM staging.national_summary
    UNION ALL
    SELECT month, era, source, 2, layout, coalesce(province_id, province_key), province_key,
           province_code, province_name, successor_code, ckmb, tdgq, clgq, tttt,
           coalesce(online_combined, round(clgq + tttt, 2)), mdhl, mdsh, total_score,
           dossiers_received, rank_reported, rank_note, captured_at, is_synthetic
    FROM staging.legacy_scores WHERE level = 'province'
    UNION ALL
    SELECT month, era, source, 3, layout, coalesce(province_id, province_key), province_key,
           province_code, province_name, successor_code, ckmb, tdgq, clgq, tttt,
           coalesce(online_combined, round(clgq + tttt, 2)), mdhl, mdsh, total_score,
           dossiers_received, rank_reported, rank_note, captured_at, is_synthetic
    FROM staging.spreadsheet_scores WHERE level = 'province'
), reported AS (
    SELECT s.* EXCLUDE (priority), 'reported' AS series,
           CAST(NULL AS VARCHAR) AS combine_method, CAST(NULL AS VARCHAR) AS predecessors,
           CAST(NULL AS VARCHAR) AS predecessor_ranks,
           rank() OVER (PARTITION BY month ORDER BY total_score DESC) AS rank_of_time,
           count(*) OVER (PARTITION BY month) AS ranked_of_time
    FROM sources s
    QUALIFY priority = min(priority) OVER (PARTITION BY month)
), old AS (
    SELECT r.*, p.short_name,
           count(*) OVER (PARTITION BY month, successor_code) AS found,
           count(dossiers_received) OVER (PARTITION BY month, successor_code) AS weighed,
           (SELECT count(*) FROM ref.provinces q
            WHERE q.era = '63' AND q.successor_key = r.successor_code) AS expected
    FROM reported r JOIN ref.provinces p ON p.province_key = r.province_key
    WHERE r.era = '63'
), weighted AS (
    SELECT *, CASE WHEN expected = 1 THEN 'single_predecessor'
                   WHEN weighed = found THEN 'dossier_weighted' ELSE 'plain_mean' END AS method,
              CASE WHEN weighed = found THEN dossiers_received ELSE 1 END AS w
    FROM old WHERE found = expected
)
SELECT * FROM reported
UNION ALL BY NAME
SELECT w.month, '63' AS era, any_value(w.source) AS source, 'comparable' AS series,
       any_value(w.layout) AS layout, n.department_id AS province_id,
       n.province_key, n.province_code, n.province_name, n.province_key AS successor_code,
       round(sum(w.ckmb * w.w) / sum(w.w), 2) AS ckmb,
       round(sum(w.tdgq * w.w) / sum(w.w), 2) AS tdgq,
       round(sum(w.clgq * w.w) / sum(w.w), 2) AS clgq,
       round(sum(w.tttt * w.w) / sum(w.w), 2) AS tttt,
       round(sum(w.online_combined * w.w) / sum(w.w), 2) AS online_combined,
       round(sum(w.mdhl * w.w) / sum(w.w), 2) AS mdhl,
       round(sum(w.mdsh * w.w) / sum(w.w), 2) AS mdsh,
       round(sum(w.total_score * w.w) / sum(w.w), 2) AS total_score,
       sum(w.dossiers_received) AS dossiers_received,
       CAST(NULL AS INTEGER) AS rank_reported, CAST(NULL AS VARCHAR) AS rank_note,
       max(w.captured_at) AS captured_at,
       bool_or(w.is_synthetic) AS is_synthetic, any_value(w.method) AS combine_method,
       string_agg(w.short_name, ' + ' ORDER BY w.short_name) AS predecessors,
       string_agg(w.short_name || ' ' || w.rank_of_time || '/' || w.ranked_of_time, '; '
                  ORDER BY w.short_name) AS predecessor_ranks,
       CAST(NULL AS BIGINT) AS rank_of_time, CAST(NULL AS BIGINT) AS ranked_of_time
FROM weighted w JOIN ref.provinces n ON n.province_key = w.successor_code
GROUP BY w.month, n.department_id, n.province_key, n.province_code, n.province_name;
