"""marts/*: the monthly indicator tables, each built from its own SQL file in sql/."""

from datetime import date

import dagster as dg
import duckdb

from assets.marts.checks import (
    CHANGE_CHECK,
    CHANGE_CHECK_DESCRIPTION,
    change_mismatches,
    describe_change_mismatches,
)
from assets.metadata import add_partition_metadata, table_metadata
from assets.months import FINAL_GAP_H, final_rule_params, month_key, months_following
from assets.partitions import monthly_partitions, months_in_window
from assets.resources import ChisoSettings, WarehouseResource
from assets.warehouse import ensure_schema, months_scored, read_sql, refresh_reference

STAGING = lambda *names: [dg.AssetKey(["staging", n]) for n in names]  # noqa: E731
MART = lambda *names: [dg.AssetKey(["marts", n]) for n in names]  # noqa: E731
HISTORY_STAGING = STAGING("national_summary", "national_average", "legacy_scores",
                          "spreadsheet_scores", "national_summary_history")
UNIT_STAGING = STAGING("unit_metrics", "unit_parameters", "unit_group_scores")

# name -> (upstream assets, description); the order is the build order.
MARTS = {
    "province_monthly": (
        HISTORY_STAGING,
        "Each province's total, rank of the month, provisional band, gap to the best and "
        "change since the previous month — every month since 2022-08, with its era and "
        "source, and a comparable series for today's 34 provinces before the merger."),
    "group_monthly": (
        HISTORY_STAGING,
        "Each province's six group scores, points lost, national average, best and rank, "
        "every month since 2022-08 (same series as province_monthly)."),
    "province_daily": (
        STAGING("national_summary_history"),
        "How each month's scores moved day by day: every province's total, groups and rank "
        "on each day the national summary was captured, and the change since the day "
        "before."),
    "metric_monthly": (
        UNIT_STAGING,
        "Each pulled province's metrics: counts, ratio, score, points lost, data-quality "
        "flags."),
    "unit_points_lost": (
        # after metric_monthly: its check compares the two
        UNIT_STAGING + MART("metric_monthly"),
        "Which unit lost the points: each unit's share of the province's loss on a metric "
        "(split by its missing count where the counts are pooled), otherwise the "
        "province-level or not-attributable amount, with the reason."),
    "score_recomputation": (
        UNIT_STAGING,
        "The portal's scores recomputed from the raw counts (CKMB, TDGQ, TTTT, MDHL, MDSH) "
        "per metric and unit, and the difference."),
    "recoverable_points": (
        MART("province_monthly", "group_monthly", "metric_monthly", "unit_points_lost"),
        "What-if per metric: points and counts needed to reach the best pulled province, "
        "the bar, or the median unit, and the rank the province would then hold."),
    "score_change_explained": (
        MART("province_monthly", "group_monthly", "metric_monthly", "unit_points_lost"),
        "Month over month: the change in the total split into groups and metrics, and the "
        "units that moved most."),
}


class MartCheckFailed(Exception):
    """A blocking check that runs inside the rebuild found bad rows (nothing committed)."""

    def __init__(self, name: str, check: str, bad: list[tuple], described: str):
        super().__init__(f"marts.{name}: check {check} failed for {len(bad)} rows; the "
                         f"previous rows are kept:\n{described}")
        self.check, self.bad, self.described = check, bad, described


# mart -> (check name, description, query of the bad rows, their description): run before
# the rebuild commits
IN_STEP_CHECKS = {
    "score_change_explained": (CHANGE_CHECK, CHANGE_CHECK_DESCRIPTION, change_mismatches,
                               describe_change_mismatches),
}


# marts whose SQL applies the finality rule (its constants as bound parameters)
FINALITY_MARTS = frozenset({"province_monthly"})


def rebuild_months(con: duckdb.DuckDBPyConnection, name: str, months: list[date],
                   final_gap_h: float = FINAL_GAP_H) -> int:
    """Delete the months from marts.<name> and insert them again from sql/<name>.sql; the
    mart's in-step check (if any) runs before the commit and raises MartCheckFailed.
    ``final_gap_h``: how far apart two identical captures after the close must be for the
    month to be final (ChisoSettings.final_gap_h)."""
    if name not in MARTS:  # identifiers go into SQL text only from the fixed list above
        raise ValueError(f"not a mart: {name}")
    table = f"marts.{name}"
    con.execute("BEGIN")
    try:
        con.execute("DELETE FROM " + table + " WHERE list_contains($months, month)",  # noqa: S608 (fixed table list)
                    {"months": months})
        params = {"months": months}
        if name in FINALITY_MARTS:
            params.update(final_rule_params(final_gap_h))
        con.execute("INSERT INTO " + table + " BY NAME " + read_sql(name), params)
        n = con.execute("SELECT count(*) FROM " + table + " WHERE list_contains($months, month)",  # noqa: S608 (fixed table list)
                        {"months": months}).fetchone()[0]
        if name in IN_STEP_CHECKS:
            check, _, query, describe = IN_STEP_CHECKS[name]
            bad = query(con, months)
            if bad:
                raise MartCheckFailed(name, check, bad, describe(bad))
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return n


def _mart(name: str, deps: list[dg.AssetKey], description: str):
    key = dg.AssetKey(["marts", name])
    specs = [dg.AssetCheckSpec(IN_STEP_CHECKS[name][0], asset=key, blocking=True,
                               description=IN_STEP_CHECKS[name][1])
             ] if name in IN_STEP_CHECKS else []

    @dg.asset(key=key, deps=deps, group_name="marts", description=description,
              partitions_def=monthly_partitions,
              backfill_policy=dg.BackfillPolicy.single_run(), pool="duckdb_warehouse",
              kinds={"duckdb", "sql"}, check_specs=specs)
    def build(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
              chiso: ChisoSettings):
        months = months_in_window(context)
        with warehouse.get_connection() as con:
            ensure_schema(con)
            refresh_reference(con)
            # The run's months and, when scored, the months after them: their
            # month-over-month change moves with the run's months.
            touched = sorted({*months, *months_scored(con, months_following(months))})
            try:
                rows = rebuild_months(con, name, touched, chiso.final_gap_h)
            except MartCheckFailed as failed:
                # the step fails (so publish does not run) and the old rows stay
                raise dg.Failure(description=str(failed), metadata={
                    "check": failed.check, "mismatches": len(failed.bad),
                    "examples": failed.described}) from None
            whole, per_month = table_metadata(con, "marts", name, months, chiso.focus_province)
        add_partition_metadata(context, per_month)
        checks = [dg.AssetCheckResult(
            check_name=spec.name, passed=True,
            metadata={"months_checked": len(touched)}) for spec in specs]
        return dg.MaterializeResult(check_results=checks, metadata={
            **whole, "rows": rows, "table": f"marts.{name}",
            "months_rebuilt": ", ".join(month_key(m) for m in touched)})

    return build


mart_assets = [_mart(name, deps, desc) for name, (deps, desc) in MARTS.items()]
