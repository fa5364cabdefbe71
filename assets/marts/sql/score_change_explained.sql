-- What changed since the previous month, for every province with both months:
--   level 'total'  the total score (every province);
--   level 'group'  each group's score: the groups' changes add up to the total's (±0.05);
--   level 'metric' each metric's score (pulled provinces): they add up to their group's;
--   level 'unit'   each unit's attributed lost points (marts.unit_points_lost, all but
--                  not_attributable): change = points lost last month − this month, so a
--                  positive change is points the unit won back; group_code is the group
--                  where it moved most. The province's own row holds province-level losses.
--   level 'remainder' one row per province-month with unit rows: what the units do not
--                  explain (not_attributable losses, metrics without unit detail,
--                  rounding), labelled 'Không phân bổ được cho đơn vị' (not attributable
--                  to units). The unit rows plus this row add up to the total's change
--                  (within 0.02: the blocking check units_and_remainder_add_up).
-- A month whose previous month is not in the marts (the first month there is, or one
-- after a gap) gets its 'total' rows only, with previous_month, previous_score and
-- change NULL: nothing to compare with (the month is there, not missing).
-- change is always "points gained since last month"; move_rank orders the rows of a
-- level by the size of their change (1 = moved most, either way).
WITH cur_total AS (
    SELECT * FROM marts.province_monthly WHERE list_contains($months, month)
), totals AS (
    SELECT c.month, p.month AS previous_month, c.province_id, c.province_code,
           c.province_name, 'total' AS level, c.total_score AS score,
           p.total_score AS previous_score, round(100 - c.total_score, 2) AS points_lost,
           round(100 - p.total_score, 2) AS previous_points_lost, c.is_synthetic
    FROM cur_total c
    LEFT JOIN marts.province_monthly p
      ON p.province_id = c.province_id AND p.month = CAST(c.month - INTERVAL 1 MONTH AS DATE)
), groups AS (
    SELECT c.month, c.province_id, 'group' AS level, c.group_code, c.score,
           p.score AS previous_score, c.points_lost, p.points_lost AS previous_points_lost
    FROM marts.group_monthly c
    JOIN marts.group_monthly p
      ON p.province_id = c.province_id AND p.group_code = c.group_code
     AND p.month = CAST(c.month - INTERVAL 1 MONTH AS DATE)
    WHERE list_contains($months, c.month)
), metrics AS (
    SELECT c.month, c.province_id, 'metric' AS level, c.group_code, c.metric_code,
           coalesce(c.score, 0) AS score, coalesce(p.score, 0) AS previous_score,
           c.points_lost, p.points_lost AS previous_points_lost
    FROM marts.metric_monthly c
    JOIN marts.metric_monthly p
      ON p.province_id = c.province_id AND p.metric_code = c.metric_code
     AND p.month = CAST(c.month - INTERVAL 1 MONTH AS DATE)
    WHERE list_contains($months, c.month) AND c.max_score > 0
), unit_lost AS (
    SELECT month, province_id, unit_id, group_code, any_value(unit_name) AS unit_name,
           any_value(unit_type) AS unit_type, sum(points_lost) AS lost
    FROM marts.unit_points_lost
    WHERE method <> 'not_attributable'
    GROUP BY ALL
), cur_units AS (
    SELECT u.month, u.province_id, u.unit_id, u.group_code, u.unit_name, u.unit_type, u.lost
    FROM unit_lost u JOIN totals t USING (month, province_id)
), prev_units AS (
    SELECT t.month, u.province_id, u.unit_id, u.group_code, u.unit_name, u.unit_type, u.lost
    FROM unit_lost u JOIN totals t ON u.month = t.previous_month AND u.province_id = t.province_id
), unit_group_moves AS (
    -- a unit missing from one of the months lost nothing there; a province needs unit
    -- rows in both months (it was pulled both times)
    SELECT month, province_id, unit_id, group_code,
           coalesce(c.unit_name, p.unit_name) AS unit_name,
           coalesce(c.unit_type, p.unit_type) AS unit_type,
           coalesce(c.lost, 0) AS lost, coalesce(p.lost, 0) AS previous_lost
    FROM cur_units c
    FULL JOIN prev_units p USING (month, province_id, unit_id, group_code)
    SEMI JOIN (SELECT DISTINCT month, province_id FROM cur_units
               INTERSECT SELECT DISTINCT month, province_id FROM prev_units) both_months
        USING (month, province_id)
), units AS (
    SELECT month, province_id, 'unit' AS level, unit_id,
           any_value(unit_name) AS unit_name, any_value(unit_type) AS unit_type,
           -- ties broken by the code, so a rerun gives the same row; no move, no group
           CASE WHEN max(abs(previous_lost - lost)) > 0
                THEN arg_max(group_code, (abs(previous_lost - lost), group_code)) END
               AS group_code,
           sum(lost) AS points_lost, sum(previous_lost) AS previous_points_lost
    FROM unit_group_moves
    GROUP BY ALL
), remainder AS (
    -- the total's points lost (100 − total, unrounded) minus what the units hold
    SELECT t.month, t.province_id, 'remainder' AS level,
           'Không phân bổ được cho đơn vị' AS unit_name, 'NOT_ATTRIBUTABLE' AS unit_type,
           100 - t.score - u.lost AS points_lost,
           100 - t.previous_score - u.previous_lost AS previous_points_lost
    FROM totals t
    JOIN (SELECT month, province_id, sum(points_lost) AS lost,
                 sum(previous_points_lost) AS previous_lost
          FROM units GROUP BY ALL) u USING (month, province_id)
), explained AS (
    SELECT month, province_id, level, NULL AS group_code, NULL AS metric_code,
           NULL AS unit_id, NULL AS unit_name, NULL AS unit_type, score, previous_score,
           points_lost, previous_points_lost
    FROM totals
    UNION ALL BY NAME SELECT * FROM groups
    UNION ALL BY NAME SELECT * FROM metrics
    UNION ALL BY NAME SELECT * FROM units
    UNION ALL BY NAME SELECT * FROM remainder
)
SELECT e.month, t.previous_month, e.province_id, t.province_code, t.province_name, e.level,
       e.group_code, e.metric_code, e.unit_id, e.unit_name, e.unit_type, e.score,
       e.previous_score,
       round(CASE WHEN e.level IN ('unit', 'remainder') THEN e.previous_points_lost - e.points_lost
                  ELSE e.score - e.previous_score END, 4) AS change,
       round(e.points_lost, 4) AS points_lost,
       round(e.previous_points_lost, 4) AS previous_points_lost,
       row_number() OVER (
           PARTITION BY e.month, e.province_id, e.level
           ORDER BY abs(CASE WHEN e.level IN ('unit', 'remainder') THEN e.previous_points_lost - e.points_lost
                             ELSE e.score - e.previous_score END) DESC,
                    e.group_code, e.metric_code, e.unit_name, e.unit_id) AS move_rank,
       t.is_synthetic
FROM explained e
JOIN totals t USING (month, province_id)
