"""staging/legacy_scores: the legacy service's months (63 provinces and their units),
parsed, validated with Great Expectations before the write, then loaded.

Months of the 34-province era have no legacy captures: the asset leaves them alone.
"""

from datetime import UTC, date, datetime

import dagster as dg
import duckdb
import polars as pl

from assets.domain.provinces import era_of
from assets.partitions import monthly_partitions, months_in_window
from assets.raw.store import RawStore, latest_complete_session
from assets.resources import ChisoSettings, WarehouseResource
from assets.sources.endpoints import LEGACY, month_key
from assets.warehouse import append_rows, ensure_schema
from checks.history_suites import history_suites

from .history import frame, history_summaries, parse_legacy_capture
from .parse import StagingError

RAW_KEY = dg.AssetKey(["raw", "portal_captures"])
LEGACY_KEY = dg.AssetKey(["staging", "legacy_scores"])
LEGACY_SUITES = history_suites("legacy_scores")


def stage_legacy_months(store: RawStore, months: list[date]) -> tuple[pl.DataFrame, dict]:
    rows: list[dict] = []
    sessions = {}
    for month in months:
        found = latest_complete_session(store, month)
        if found is None:
            raise dg.Failure(
                f"No complete crawl of {month_key(month)} under {store.root}: "
                "materialize raw/portal_captures for this month first.", allow_retries=False)
        path, manifest = found
        sessions[month_key(month)] = str(path)
        for capture in manifest["captures"]:
            if capture["endpoint"] != LEGACY.name or capture["http_status"] not in (200, 201):
                continue
            try:
                body = store.read_verified(capture)
            except ValueError as exc:
                raise dg.Failure(str(exc), allow_retries=False) from exc
            rows += parse_legacy_capture(capture, body, month)
    return frame(rows), sessions


def validation_datasets(name: str, df: pl.DataFrame) -> dict[str, pl.DataFrame]:
    summaries = history_summaries(df)
    return {name: df, **{f"{name}:{k}": v for k, v in summaries.items()}}


def audit(con: duckdb.DuckDBPyConnection, rows: list[dict], run_id: str, label: str) -> None:
    stamp = datetime.now(UTC)
    append_rows(con, "audit.validation_results", pl.DataFrame(
        [{"run_id": run_id, "validated_at": stamp, "months": label, **r} for r in rows]))


def replace_history(con: duckdb.DuckDBPyConnection, table: str, df: pl.DataFrame,
                    months: list[date]) -> int:
    """Replace ``months`` of a history table in one transaction."""
    if table not in ("staging.legacy_scores", "staging.spreadsheet_scores"):
        raise ValueError(f"not a history table: {table}")
    con.execute("BEGIN")
    try:
        con.execute("DELETE FROM " + table + " WHERE list_contains($months, month)",  # noqa: S608 (fixed table list)
                    {"months": months})
        con.register("incoming", df.to_arrow())
        con.execute("INSERT INTO " + table + " BY NAME SELECT * FROM incoming")  # noqa: S608 (fixed table list)
        con.unregister("incoming")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return df.height


@dg.asset(
    key=LEGACY_KEY, deps=[RAW_KEY], group_name="staging",
    partitions_def=monthly_partitions, backfill_policy=dg.BackfillPolicy.single_run(),
    pool="duckdb_warehouse", kinds={"duckdb"},
    check_specs=[dg.AssetCheckSpec(s.name, asset=LEGACY_KEY, description=s.description,
                                   blocking=s.blocking) for s in LEGACY_SUITES],
    description="Months before 2025-07 from the legacy service (report_tinh_766_service): "
                "every province's six group scores, total and rank of the time (63 "
                "provinces), and the units of the pulled provinces.",
)
def legacy_scores(context: dg.AssetExecutionContext, chiso: ChisoSettings,
                  warehouse: WarehouseResource):
    from checks.gx_runner import outcome_rows, validate

    months = [m for m in months_in_window(context) if era_of(m) == "63"]
    label = ",".join(month_key(m) for m in months)
    if not months:
        # Nothing of the legacy era in this run (the nightly one): no GX start-up either.
        yield dg.MaterializeResult(metadata={
            "rows": 0, "table": "staging.legacy_scores",
            "months": "no month of the 63-province era in this run"})
        for suite in LEGACY_SUITES:
            yield dg.AssetCheckResult(asset_key=LEGACY_KEY, check_name=suite.name, passed=True,
                                      metadata={"details": "nothing to validate"})
        return
    with warehouse.get_connection() as con:
        ensure_schema(con)
        try:
            df, sessions = stage_legacy_months(RawStore(chiso.raw_dir), months)
        except StagingError as exc:
            audit(con, [{"suite": "parse", "dataset": "raw",
                         "expectation": "parseable legacy response", "columns": exc.field_name,
                         "success": False, "blocking": True, "element_count": 1,
                         "unexpected_count": 1, "examples": str(exc)}],
                  context.run.run_id, label)
            raise dg.Failure(description=f"Staging stopped, nothing loaded: {exc}",
                             metadata={"file": exc.file, "period": exc.month, "unit": exc.unit,
                                       "field": exc.field_name},
                             allow_retries=False) from exc
        report = validate(validation_datasets("legacy_scores", df), LEGACY_SUITES)
        audit(con, outcome_rows(report), context.run.run_id, label)
        if report.blocking_failures:
            text = report.failures_text()
            context.log.error(text)
            raise dg.Failure(
                description="Validation failed; nothing was loaded and the previous staging, "
                            f"marts and published copy are unchanged.\n{text}",
                metadata={"months": label, "details": dg.MetadataValue.md(f"```\n{text}\n```"),
                          "audit_table": "audit.validation_results"},
                allow_retries=False)
        rows = replace_history(con, "staging.legacy_scores", df, months)
    yield dg.MaterializeResult(metadata={
        "rows": rows, "table": "staging.legacy_scores", "months": label,
        "sessions": "\n".join(f"{k}: {v}" for k, v in sessions.items())})
    for suite in LEGACY_SUITES:
        failed = [o for o in report.outcomes if o.suite == suite.name and not o.success]
        yield dg.AssetCheckResult(
            asset_key=LEGACY_KEY, check_name=suite.name, passed=not failed,
            metadata={"expectations": sum(o.suite == suite.name for o in report.outcomes),
                      "failed": len(failed),
                      "details": "\n".join(o.message() for o in failed) or "all passed"})
