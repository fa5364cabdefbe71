"""Checks on the marts: the attribution adds up (blocking), our arithmetic matches the
portal's (a warning: the portal may have changed its method)."""

from datetime import date

import dagster as dg
import duckdb

from assets.resources import WarehouseResource

SHARES_TOLERANCE = 0.02
CHANGE_TOLERANCE = 0.02
CHANGE_CHECK = "units_and_remainder_add_up"
CHANGE_CHECK_DESCRIPTION = (
    "In marts.score_change_explained, every province-month with unit rows has one remainder "
    "row, and the unit rows plus the remainder add up to the total's change (within "
    f"{CHANGE_TOLERANCE}). Runs in the step that writes the mart, before it commits: a "
    "failure keeps the previous rows and stops the run before publish.")
RECOMPUTATION_TOLERANCE = 0.02


def _examples(rows: list[tuple], fmt) -> str:
    return "\n".join(fmt(r) for r in rows[:10]) or "none"


@dg.asset_check(asset=dg.AssetKey(["marts", "unit_points_lost"]), blocking=True,
                pool="duckdb_warehouse",
                description="Every metric a province lost points on is attributed, and the "
                            "rows of each metric (units, province rows) add up to the "
                            f"province's points lost on it (within {SHARES_TOLERANCE}).")
def unit_shares_add_up(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    query = """
        WITH shares AS (
            SELECT month, province_id, metric_code, sum(points_lost) AS shares,
                   string_agg(DISTINCT method, ',') AS methods
            FROM marts.unit_points_lost GROUP BY ALL
        )
        SELECT m.month, m.province_code, m.metric_code, s.shares, m.points_lost, s.methods
        FROM marts.metric_monthly m
        LEFT JOIN shares s USING (month, province_id, metric_code)
        WHERE m.max_score > 0 AND (m.points_lost > 0.005 OR s.shares IS NOT NULL)
          AND (s.shares IS NULL OR abs(s.shares - m.points_lost) > $tolerance)
        ORDER BY 1, 2, 3
    """
    with warehouse.get_connection() as con:
        bad = con.execute(query, {"tolerance": SHARES_TOLERANCE}).fetchall()
    return dg.AssetCheckResult(
        passed=not bad,
        metadata={"mismatches": len(bad),
                  "examples": _examples(bad, lambda r: (
                      f"{r[0]:%Y-%m} {r[1]} {r[2]}: rows add up to "
                      + ("nothing (no rows)" if r[3] is None else f"{r[3]:.3f} ({r[5]})")
                      + f" vs province {r[4]:.3f}"))})


@dg.asset_check(asset=dg.AssetKey(["marts", "score_recomputation"]), blocking=False,
                pool="duckdb_warehouse",
                description="Scores recomputed from the raw counts match the portal's within "
                            f"{RECOMPUTATION_TOLERANCE}; a warning means the portal has "
                            "probably changed its method.")
def recomputed_scores_match_portal(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    query = """
        SELECT month, province_code, level, coalesce(metric_code, group_code), unit_name,
               portal_score, recomputed_score, difference
        FROM marts.score_recomputation
        WHERE abs(difference) > $tolerance
        ORDER BY abs(difference) DESC, month, province_code
    """
    with warehouse.get_connection() as con:
        bad = con.execute(query, {"tolerance": RECOMPUTATION_TOLERANCE}).fetchall()
        compared, largest = con.execute(
            "SELECT count(*), max(abs(difference)) FROM marts.score_recomputation").fetchone()
    return dg.AssetCheckResult(
        passed=not bad,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"compared": compared, "differing": len(bad),
                  "largest_difference": float(largest or 0.0),
                  "examples": _examples(bad, lambda r: (
                      f"{r[0]:%Y-%m} {r[1]} {r[2]} {r[3]} {r[4]}: portal {r[5]} vs "
                      f"recomputed {r[6]:.4f} ({r[7]:+.4f})"))})


def change_mismatches(con: duckdb.DuckDBPyConnection, months: list[date]) -> list[tuple]:
    """Province-months of marts.score_change_explained whose unit rows plus the remainder
    row do not add up to the total's change: (month, province, total change, units,
    remainder, remainder rows)."""
    return con.execute("""
        WITH parts AS (
            SELECT month, province_id, any_value(province_code) AS province_code,
                   sum(change) FILTER (WHERE level = 'total') AS total_change,
                   sum(change) FILTER (WHERE level = 'unit') AS units_change,
                   sum(change) FILTER (WHERE level = 'remainder') AS remainder_change,
                   count(*) FILTER (WHERE level = 'unit') AS unit_rows,
                   count(*) FILTER (WHERE level = 'remainder') AS remainder_rows
            FROM marts.score_change_explained
            WHERE list_contains($months, month)
            GROUP BY ALL
        )
        SELECT month, province_code, total_change, units_change, remainder_change,
               remainder_rows
        FROM parts
        WHERE (unit_rows > 0 OR remainder_rows > 0)
          AND (remainder_rows <> 1 OR total_change IS NULL
               OR abs(coalesce(units_change, 0) + remainder_change - total_change)
                  > $tolerance)
        ORDER BY 1, 2
    """, {"months": months, "tolerance": CHANGE_TOLERANCE}).fetchall()


def describe_change_mismatches(bad: list[tuple]) -> str:
    return _examples(bad, lambda r: (
        f"{r[0]:%Y-%m} {r[1]}: units {r[3] or 0:+.4f} + remainder "
        + ("missing" if r[4] is None else f"{r[4]:+.4f}")
        + f" ({r[5]} remainder rows) vs total change "
        + ("missing" if r[2] is None else f"{r[2]:+.4f}")))


mart_checks = [unit_shares_add_up, recomputed_scores_match_portal]
