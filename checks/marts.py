"""Checks on the marts, run in the step that writes the mart, before it commits.

Each mart has at least one blocking check: when it finds bad rows in the months being
rebuilt, the rebuild rolls back (the previous rows stay), the step fails and publish
does not run. A warning check (recomputed_scores_match_portal) is reported but lets the
rows through. assets/marts/build.py runs them; docs/operations.md lists them per mart.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import dagster as dg
import duckdb

from assets.marts_catalogue import MARTS, RECOMPUTATION_TOLERANCE

SHARES_TOLERANCE = 0.02
CHANGE_TOLERANCE = 0.02
GAIN_TOLERANCE = 0.01


def _examples(rows: list[tuple], fmt: Callable[[tuple], str]) -> str:
    return "\n".join(fmt(r) for r in rows[:10]) or "none"


def _plain(row: tuple) -> str:
    return " ".join(f"{v:%Y-%m}" if isinstance(v, date) else str(v) for v in row)


@dataclass(frozen=True)
class MartCheck:
    """``bad_rows``: SQL returning the rows that break the rule within ``$months`` (and any
    ``params``); ``example`` formats one of them; ``summary``: optional SQL of one row
    whose columns become metadata."""

    mart: str
    name: str
    description: str
    bad_rows: str
    example: Callable[[tuple], str] = _plain
    blocking: bool = True
    params: dict = field(default_factory=dict)
    count_label: str = "mismatches"
    summary: str | None = None

    def find(self, con: duckdb.DuckDBPyConnection, months: list[date]) -> list[tuple]:
        return con.execute(self.bad_rows, {"months": months, **self.params}).fetchall()

    def evaluate(self, con: duckdb.DuckDBPyConnection,
                 months: list[date]) -> tuple[list[tuple], dg.AssetCheckResult]:
        """The bad rows and the check's result for the months."""
        bad = self.find(con, months)
        metadata = {self.count_label: len(bad), "months_checked": len(months),
                    "examples": _examples(bad, self.example)}
        if self.summary:
            cur = con.execute(self.summary, {"months": months})
            values = cur.fetchall()[0]
            metadata |= {d[0]: (float(v) if isinstance(v, float) else v or 0)
                         for d, v in zip(cur.description, values, strict=True)}
        return bad, dg.AssetCheckResult(
            asset_key=dg.AssetKey(["marts", self.mart]), check_name=self.name,
            passed=not bad, metadata=metadata,
            severity=dg.AssetCheckSeverity.ERROR if self.blocking
            else dg.AssetCheckSeverity.WARN)

    def spec(self) -> dg.AssetCheckSpec:
        return dg.AssetCheckSpec(self.name, asset=dg.AssetKey(["marts", self.mart]),
                                 blocking=self.blocking, description=self.description)


class MartCheckFailed(Exception):
    """A blocking check found bad rows in a rebuild (nothing committed)."""

    def __init__(self, name: str, check: str, bad: list[tuple], described: str):
        super().__init__(f"marts.{name}: check {check} failed for {len(bad)} rows; the "
                         f"previous rows are kept:\n{described}")
        self.check, self.bad, self.described = check, bad, described


def _one_row_per(mart: str, key: str, what: str) -> MartCheck:
    """A blocking check: no two rows of the months share ``key`` (SQL expressions)."""
    return MartCheck(
        mart, f"one_row_per_{what.replace(' ', '_')}",
        f"marts.{mart} has one row per {what} ({key}): a join that multiplied rows, or a "
        "month loaded twice, stops the rebuild before it commits.",
        f"SELECT {key}, count(*) AS copies FROM marts.{mart} "  # noqa: S608 (fixed names)
        f"WHERE list_contains($months, month) GROUP BY ALL HAVING count(*) > 1 "
        "ORDER BY ALL LIMIT 100")


def _ranks_within(mart: str, partition: str) -> MartCheck:
    return MartCheck(
        mart, "ranks_within_ranked_of",
        f"In marts.{mart}, every rank lies between 1 and ranked_of, and ranked_of is the "
        f"number of ranked rows of its {partition.replace(', ', ' × ')}.",
        f"""SELECT month, province_code, rank, ranked_of, ranked FROM (
                SELECT *, count(rank) OVER (PARTITION BY {partition}) AS ranked
                FROM marts.{mart} WHERE list_contains($months, month))
            WHERE rank < 1 OR rank > ranked_of OR ranked_of <> ranked
            ORDER BY ALL LIMIT 100""")  # noqa: S608 (fixed names)


UNIT_SHARES = MartCheck(
    "unit_points_lost", "unit_shares_add_up",
    "Every metric a province lost points on is attributed, and the rows of each metric "
    "(units, province rows) add up to the province's points lost on it (within "
    f"{SHARES_TOLERANCE}).",
    """
    WITH shares AS (
        SELECT month, province_id, metric_code, sum(points_lost) AS shares,
               string_agg(DISTINCT method, ',') AS methods
        FROM marts.unit_points_lost WHERE list_contains($months, month) GROUP BY ALL
    )
    SELECT m.month, m.province_code, m.metric_code, s.shares, m.points_lost, s.methods
    FROM marts.metric_monthly m
    LEFT JOIN shares s USING (month, province_id, metric_code)
    WHERE list_contains($months, m.month)
      AND m.max_score > 0 AND (m.points_lost > 0.005 OR s.shares IS NOT NULL)
      AND (s.shares IS NULL OR abs(s.shares - m.points_lost) > $tolerance)
    ORDER BY 1, 2, 3
    """,
    lambda r: (f"{r[0]:%Y-%m} {r[1]} {r[2]}: rows add up to "
               + ("nothing (no rows)" if r[3] is None else f"{r[3]:.3f} ({r[5]})")
               + f" vs province {r[4]:.3f}"),
    params={"tolerance": SHARES_TOLERANCE})

RECOMPUTED_MATCH = MartCheck(
    "score_recomputation", "recomputed_scores_match_portal",
    f"Scores recomputed from the raw counts match the portal's within "
    f"{RECOMPUTATION_TOLERANCE}; a warning means the portal has probably changed its "
    "method.",
    """
    SELECT month, province_code, level, coalesce(metric_code, group_code), unit_name,
           portal_score, recomputed_score, difference
    FROM marts.score_recomputation
    WHERE list_contains($months, month) AND abs(difference) > $tolerance
    ORDER BY abs(difference) DESC, month, province_code
    """,
    lambda r: (f"{r[0]:%Y-%m} {r[1]} {r[2]} {r[3]} {r[4]}: portal {r[5]} vs "
               f"recomputed {r[6]:.4f} ({r[7]:+.4f})"),
    blocking=False, params={"tolerance": RECOMPUTATION_TOLERANCE}, count_label="differing",
    summary="SELECT count(*) AS compared, coalesce(max(abs(difference)), 0.0) AS "
            "largest_difference FROM marts.score_recomputation "
            "WHERE list_contains($months, month)")

CHANGE_ADDS_UP = MartCheck(
    "score_change_explained", "units_and_remainder_add_up",
    "In marts.score_change_explained, every province-month with unit rows has one remainder "
    "row, and the unit rows plus the remainder add up to the total's change (within "
    f"{CHANGE_TOLERANCE}). Runs in the step that writes the mart, before it commits: a "
    "failure keeps the previous rows and stops the run before publish.",
    """
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
    """,
    lambda r: (f"{r[0]:%Y-%m} {r[1]}: units {r[3] or 0:+.4f} + remainder "
               + ("missing" if r[4] is None else f"{r[4]:+.4f}")
               + f" ({r[5]} remainder rows) vs total change "
               + ("missing" if r[2] is None else f"{r[2]:+.4f}")),
    params={"tolerance": CHANGE_TOLERANCE})

GAINS_WITHIN_LOSS = MartCheck(
    "recoverable_points", "gains_within_the_loss",
    "In marts.recoverable_points, no scenario wins back less than nothing or more than "
    f"the points lost (within {GAIN_TOLERANCE}): reaching the bar wins back exactly the "
    "loss, and more points never cost a place.",
    """
    SELECT month, province_code, metric_code, points_lost, gain_to_best, gain_to_full,
           gain_to_median
    FROM marts.recoverable_points
    WHERE list_contains($months, month)
      AND (gain_to_full IS DISTINCT FROM points_lost
           OR NOT coalesce(gain_to_best BETWEEN -$tol AND points_lost + $tol, true)
           OR NOT coalesce(gain_to_median BETWEEN -$tol AND points_lost + $tol, true)
           OR rank_if_full > rank OR rank_if_best > rank OR rank_if_median > rank)
    ORDER BY 1, 2, 3 LIMIT 100
    """,
    lambda r: (f"{r[0]:%Y-%m} {r[1]} {r[2]}: lost {r[3]}, gains best {r[4]}, full {r[5]}, "
               f"median {r[6]}"),
    params={"tol": GAIN_TOLERANCE})

PROCEDURE_SHARES = MartCheck(
    "procedure_monthly", "procedure_shares_add_up",
    "In marts.procedure_monthly, every metric split by procedure has one remainder row, and "
    "the procedures' rows plus the remainder add up to the province's points lost on it "
    f"(within {SHARES_TOLERANCE}): with every procedure crawled, the procedures alone make "
    "the province's loss. On a linear metric the procedures' rows never add up to more than "
    "the province's loss.",
    """
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
       OR abs(procedures + remainder - province_lost) > $tol
       OR (bar_pct = 100 AND procedures > province_lost + $tol)
    ORDER BY 1, 2, 3
    """,
    lambda r: (f"{r[0]:%Y-%m} {r[1]} {r[2]}: procedures "
               f"{'none' if r[3] is None else f'{r[3]:.4f}'} + remainder "
               f"{'missing' if r[4] is None else f'{r[4]:.4f}'} ({r[5]} remainder rows) vs "
               f"the province's loss {'missing' if r[6] is None else f'{r[6]:.4f}'}"),
    params={"tol": SHARES_TOLERANCE})

UNIT_PROCEDURE_SHARES = MartCheck(
    "unit_procedure_points_lost", "unit_procedure_shares_add_up",
    "In marts.unit_procedure_points_lost, the rows of each procedure and metric (its units, "
    "and the procedure's items no unit holds) add up to the procedure's points lost in "
    f"marts.procedure_monthly (within {SHARES_TOLERANCE}).",
    """
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
      -- a procedure that lost nothing (no dossier in the province, say) has no unit rows
      AND (p.points_lost IS NULL OR abs(coalesce(u.shares, 0) - p.points_lost) > $tol)
    ORDER BY 1, 2, 3, 4
    """,
    lambda r: (f"{r[0]:%Y-%m} {r[1]} {r[2]} {r[3]}: units "
               f"{'no rows' if r[4] is None else f'{r[4]:.4f}'} vs procedure "
               f"{'no pooled row' if r[5] is None else f'{r[5]:.4f}'}"),
    params={"tol": SHARES_TOLERANCE})

# mart -> its checks, run in this order after the rebuild's insert, before the commit
MART_CHECKS: dict[str, tuple[MartCheck, ...]] = {
    "province_monthly": (
        _one_row_per("province_monthly", "month, series, coalesce(province_key, province_id)",
                     "province and series"),
        _ranks_within("province_monthly", "month, series")),
    "group_monthly": (
        _one_row_per("group_monthly",
                     "month, series, coalesce(province_key, province_id), group_code",
                     "province group and series"),
        _ranks_within("group_monthly", "month, series, group_code")),
    "province_daily": (
        _one_row_per("province_daily", "month, day, province_id", "province and day"),
        _ranks_within("province_daily", "month, day")),
    "metric_monthly": (
        _one_row_per("metric_monthly", "month, province_id, metric_code",
                     "province and metric"),),
    "unit_points_lost": (UNIT_SHARES,),
    "procedure_monthly": (PROCEDURE_SHARES,),
    "unit_procedure_points_lost": (UNIT_PROCEDURE_SHARES,),
    "score_recomputation": (
        _one_row_per("score_recomputation",
                     "month, province_id, unit_id, level, coalesce(metric_code, group_code)",
                     "unit and score"),
        RECOMPUTED_MATCH),
    "recoverable_points": (
        _one_row_per("recoverable_points", "month, province_id, metric_code",
                     "province and metric"),
        GAINS_WITHIN_LOSS),
    "score_change_explained": (CHANGE_ADDS_UP,),
}
assert set(MART_CHECKS) == set(MARTS), "every mart has its checks"
assert all(any(c.blocking for c in checks) for checks in MART_CHECKS.values()), (
    "every mart has at least one blocking check")


def run_mart_checks(con: duckdb.DuckDBPyConnection, mart: str,
                    months: list[date]) -> list[dg.AssetCheckResult]:
    """Run the mart's checks on the months (inside the rebuild's transaction); raise
    MartCheckFailed at the first blocking check with bad rows, else return every result
    (a failed warning included)."""
    results = []
    for check in MART_CHECKS[mart]:
        bad, result = check.evaluate(con, months)
        if bad and check.blocking:
            raise MartCheckFailed(mart, check.name, bad, _examples(bad, check.example))
        results.append(result)
    return results
