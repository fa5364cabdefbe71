"""marts/*: the monthly indicator tables, each built from its own SQL file in sql/ and
checked (checks/marts.py) in the step that writes it, before the rebuild commits."""

from datetime import date

import dagster as dg
import duckdb

from assets.marts_catalogue import MARTS, REFERENCE_KEY
from assets.metadata import add_partition_metadata, table_metadata
from assets.months import FINAL_GAP_H, final_rule_params, month_key, months_following
from assets.partitions import monthly_partitions, months_in_window
from assets.resources import ChisoSettings, WarehouseResource
from assets.warehouse import ensure_schema, months_scored, read_sql, reference_written
from checks.marts import MART_CHECKS, MartCheckFailed, run_mart_checks

__all__ = ["MARTS", "MartCheckFailed", "mart_assets", "rebuild_months", "rebuild_checked"]


# marts whose SQL applies the finality rule (its constants as bound parameters)
FINALITY_MARTS = frozenset({"province_monthly"})


# marts built only from the per-procedure answers: for months without any, the (cheap)
# delete is all there is to do (most months of most provinces)
NEEDS_TABLE = {"procedure_monthly": "staging.procedure_group_scores",
               "unit_procedure_points_lost": "staging.procedure_group_scores"}


def _has_input(con: duckdb.DuckDBPyConnection, name: str, months: list[date]) -> bool:
    source = NEEDS_TABLE.get(name)
    return source is None or con.execute(
        "SELECT EXISTS (SELECT 1 FROM " + source + " WHERE list_contains($months, month))",  # noqa: S608 (fixed table list)
        {"months": months}).fetchone()[0]


def rebuild_checked(con: duckdb.DuckDBPyConnection, name: str, months: list[date],
                    final_gap_h: float = FINAL_GAP_H) -> tuple[int, list[dg.AssetCheckResult]]:
    """Delete the months from marts.<name>, insert them again from sql/<name>.sql and run
    the mart's checks (checks/marts.py) before the commit: a blocking check that finds bad
    rows rolls the rebuild back and raises MartCheckFailed. The rows written and the
    check results. ``final_gap_h``: how far apart two identical captures after the close
    must be for the month to be final (ChisoSettings.final_gap_h)."""
    if name not in MARTS:  # identifiers go into SQL text only from the fixed list
        raise ValueError(f"not a mart: {name}")
    table = f"marts.{name}"
    con.execute("BEGIN")
    try:
        con.execute("DELETE FROM " + table + " WHERE list_contains($months, month)",  # noqa: S608 (fixed table list)
                    {"months": months})
        params = {"months": months}
        if name in FINALITY_MARTS:
            params.update(final_rule_params(final_gap_h))
        if _has_input(con, name, months):
            con.execute("INSERT INTO " + table + " BY NAME " + read_sql(name), params)
        n = con.execute("SELECT count(*) FROM " + table + " WHERE list_contains($months, month)",  # noqa: S608 (fixed table list)
                        {"months": months}).fetchall()[0][0]
        results = run_mart_checks(con, name, months)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return n, results


def rebuild_months(con: duckdb.DuckDBPyConnection, name: str, months: list[date],
                   final_gap_h: float = FINAL_GAP_H) -> int:
    """rebuild_checked, for callers that want only the number of rows (a blocking check
    still raises)."""
    return rebuild_checked(con, name, months, final_gap_h)[0]


def _mart(name: str, deps: list[dg.AssetKey], description: str):
    key = dg.AssetKey(["marts", name])

    @dg.asset(key=key, deps=[REFERENCE_KEY, *deps], group_name="marts",
              description=description, partitions_def=monthly_partitions,
              backfill_policy=dg.BackfillPolicy.single_run(), pool="duckdb_warehouse",
              kinds={"duckdb", "sql"}, check_specs=[c.spec() for c in MART_CHECKS[name]])
    def build(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
              chiso: ChisoSettings):
        months = months_in_window(context)
        with warehouse.get_connection() as con:
            ensure_schema(con)
            if not reference_written(con):
                raise dg.Failure(
                    description=f"the reference tables (ref.*) were never written to this "
                                f"warehouse: materialize {REFERENCE_KEY.to_user_string()} "
                                "first (every job that builds marts runs it)",
                    allow_retries=False)
            # The run's months and, when scored, the months after them: their
            # month-over-month change moves with the run's months.
            touched = sorted({*months, *months_scored(con, months_following(months))})
            try:
                rows, checks = rebuild_checked(con, name, touched, chiso.final_gap_h)
            except MartCheckFailed as failed:
                # the step fails (so publish does not run) and the old rows stay
                raise dg.Failure(description=str(failed), metadata={
                    "check": failed.check, "mismatches": len(failed.bad),
                    "examples": failed.described}, allow_retries=False) from None
            whole, per_month = table_metadata(con, "marts", name, months, chiso.focus_province)
        add_partition_metadata(context, per_month)
        return dg.MaterializeResult(check_results=checks, metadata={
            **whole, "rows": rows, "table": f"marts.{name}",
            "months_rebuilt": ", ".join(month_key(m) for m in touched)})

    return build


mart_assets = [_mart(name, deps, desc) for name, (deps, desc) in MARTS.items()]
