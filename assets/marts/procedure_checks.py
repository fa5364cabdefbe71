"""Blocking checks of the per-procedure marts, run in the step that writes each mart,
before it commits: a failure keeps the previous rows and stops the run before publish."""

from datetime import date

import duckdb

PROCEDURE_TOLERANCE = 0.02

PROCEDURE_CHECK = "procedure_shares_add_up"
PROCEDURE_CHECK_DESCRIPTION = (
    "In marts.procedure_monthly, every metric split by procedure has one remainder row, and "
    "the procedures' rows plus the remainder add up to the province's points lost on it "
    f"(within {PROCEDURE_TOLERANCE}): with every procedure crawled, the procedures alone "
    "make the province's loss. On a linear metric the procedures' rows never add up to more "
    "than the province's loss.")

UNIT_PROCEDURE_CHECK = "unit_procedure_shares_add_up"
UNIT_PROCEDURE_CHECK_DESCRIPTION = (
    "In marts.unit_procedure_points_lost, the rows of each procedure and metric (its units, "
    "and the procedure's items no unit holds) add up to the procedure's points lost in "
    f"marts.procedure_monthly (within {PROCEDURE_TOLERANCE}).")


def procedure_mismatches(con: duckdb.DuckDBPyConnection, months: list[date]) -> list[tuple]:
    """(month, province, metric, procedures' sum, remainder, remainder rows, province loss,
    bar) of each split metric that does not add up."""
    return con.execute("""
        WITH parts AS (
            SELECT month, province_id, any_value(province_code) AS province_code, metric_code,
                   sum(points_lost) FILTER (WHERE method = 'pooled') AS procedures,
                   sum(points_lost) FILTER (WHERE method = 'remainder') AS remainder,
                   count(*) FILTER (WHERE method = 'remainder') AS remainder_rows,
                   any_value(province_points_lost) AS province_lost,
                   any_value(bar_pct) AS bar_pct
            FROM marts.procedure_monthly
            WHERE level = 'metric' AND method IN ('pooled', 'remainder')
              AND list_contains($months, month)
            GROUP BY month, province_id, metric_code
        )
        SELECT month, province_code, metric_code, procedures, remainder, remainder_rows,
               province_lost, bar_pct
        FROM parts
        WHERE remainder_rows <> 1 OR procedures IS NULL OR province_lost IS NULL
           OR abs(procedures + remainder - province_lost) > $tolerance
           OR (bar_pct = 100 AND procedures > province_lost + $tolerance)
        ORDER BY 1, 2, 3
    """, {"months": months, "tolerance": PROCEDURE_TOLERANCE}).fetchall()


def describe_procedure_mismatches(bad: list[tuple]) -> str:
    def fmt(r):
        procedures = "none" if r[3] is None else f"{r[3]:.4f}"
        remainder = "missing" if r[4] is None else f"{r[4]:.4f}"
        province = "missing" if r[6] is None else f"{r[6]:.4f}"
        return (f"{r[0]:%Y-%m} {r[1]} {r[2]}: procedures {procedures} + remainder {remainder} "
                f"({r[5]} remainder rows) vs the province's loss {province}")
    return "\n".join(fmt(r) for r in bad[:10]) or "none"


def unit_procedure_mismatches(con: duckdb.DuckDBPyConnection,
                              months: list[date]) -> list[tuple]:
    """(month, province, procedure, metric, units' sum, procedure's loss) that differ."""
    return con.execute("""
        WITH units AS (
            SELECT month, province_id, procedure_id, metric_code, sum(points_lost) AS shares
            FROM marts.unit_procedure_points_lost
            WHERE list_contains($months, month)
            GROUP BY ALL
        )
        SELECT p.month, p.province_code, p.procedure_code, p.metric_code, u.shares,
               p.points_lost
        FROM marts.procedure_monthly p
        FULL JOIN units u USING (month, province_id, procedure_id, metric_code)
        WHERE list_contains($months, coalesce(p.month, u.month))
          AND (p.level = 'metric' AND p.method = 'pooled' OR p.month IS NULL)
          AND (u.shares IS NULL OR p.points_lost IS NULL
               OR abs(u.shares - p.points_lost) > $tolerance)
        ORDER BY 1, 2, 3, 4
    """, {"months": months, "tolerance": PROCEDURE_TOLERANCE}).fetchall()


def describe_unit_procedure_mismatches(bad: list[tuple]) -> str:
    def fmt(r):
        units = "no rows" if r[4] is None else f"{r[4]:.4f}"
        procedure = "no pooled row" if r[5] is None else f"{r[5]:.4f}"
        return f"{r[0]:%Y-%m} {r[1]} {r[2]} {r[3]}: units {units} vs procedure {procedure}"
    return "\n".join(fmt(r) for r in bad[:10]) or "none"
