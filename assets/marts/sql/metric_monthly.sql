-- One row per pulled province, metric and month: the province's own counts and
-- score (as the portal reports it, or recomputed where the portal gives only
-- raw counts) and the points lost against the metric's maximum.
SELECT c.month, c.province_id, c.province_code, c.group_code, c.metric_code,
       coalesce(c.metric_name, m.metric_name) AS metric_name, c.numerator, c.denominator,
       c.ratio, c.score, c.max_score,
       -- recomputed scores keep full precision; the lost points are shown like the portal's
       round(c.max_score - coalesce(c.score, 0), 4) AS points_lost,
       m.rule, m.threshold, c.score_source, c.data_quality_status, c.data_quality_message,
       c.captured_at, c.is_synthetic
FROM marts.unit_metric_counts c
JOIN ref.metrics m USING (metric_code)
WHERE c.is_province AND list_contains($months, c.month)
