"""staging/*: the month's captures parsed into typed tables, validated, then loaded.

Validation runs before the write and blocks it: a month that fails keeps the
staging and mart rows it had, and the run fails with the file, unit and field.
"""

from datetime import UTC, date, datetime

import dagster as dg
import polars as pl

from assets.partitions import monthly_partitions, months_in_window
from assets.raw.store import RawStore, latest_complete_session
from assets.resources import ChisoSettings, WarehouseResource
from assets.sources.endpoints import month_key
from assets.warehouse import append_rows, ensure_schema, replace_months
from checks import summaries
from checks.suites import SUITES

from .parse import SCHEMAS, Rows, StagingError, parse_capture

RAW_KEY = dg.AssetKey(["raw", "portal_captures"])
STAGING_KEYS = {t: dg.AssetKey(["staging", t]) for t in SCHEMAS}

# Which staged table a suite's result is shown on in the UI.
CHECK_TARGET = {"unit_metrics": "unit_metrics", "unit_group_scores": "unit_group_scores",
                "unit_parameters": "unit_parameters", "national_summary": "national_summary",
                "group_totals": "unit_group_scores", "national_totals": "national_summary",
                "response_counts": "captures", "province_counts": "national_summary",
                "group_cross_check": "unit_group_scores", "metric_coverage": "unit_metrics",
                "parameter_coverage": "unit_parameters"}

DESCRIPTIONS = {
    "captures": "One row per kept response page: endpoint, sha256, declared and staged rows.",
    "national_summary": "Every province's total and six group scores from service-results.",
    "national_average": "The national average (Cả nước) from service-results.",
    "unit_group_scores": "Each unit's score per group (province rows flagged is_province).",
    "unit_metrics": "Each unit's metrics as the portal reports them (CKMB, MDHL, MDSH).",
    "unit_parameters": "Each unit's raw parameters from the tree endpoints (TDGQ, CLGQ, TTTT).",
}


def stage_months(store: RawStore, months: list[date]) -> tuple[dict[str, pl.DataFrame], dict]:
    """Parse the latest complete crawl of each month (sha256 verified on read)."""
    rows = Rows()
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
            if capture["http_status"] not in (200, 201):
                continue  # a 503 or 429 kept before a successful retry
            try:
                body = store.read_verified(capture)
            except ValueError as exc:
                raise dg.Failure(str(exc), allow_retries=False) from exc
            parse_capture(capture, body, rows, month)
    return rows.frames(), sessions


def validation_datasets(frames: dict[str, pl.DataFrame], months: list[date]) -> dict:
    return {**frames,
            "group_totals": summaries.group_totals(frames),
            "national_totals": summaries.national_totals(frames),
            "response_counts": summaries.response_counts(frames),
            "province_counts": summaries.province_counts(frames, months),
            "group_cross_check": summaries.group_cross_check(frames),
            "metric_coverage": summaries.metric_coverage(frames),
            "parameter_coverage": summaries.parameter_coverage(frames)}


def _audit_frame(rows: list[dict], run_id: str, months: list[date]) -> pl.DataFrame:
    stamp = datetime.now(UTC)
    label = ",".join(month_key(m) for m in months)
    return pl.DataFrame([{"run_id": run_id, "validated_at": stamp, "months": label, **r}
                         for r in rows])


@dg.multi_asset(
    specs=[dg.AssetSpec(key, deps=[RAW_KEY], group_name="staging",
                        description=DESCRIPTIONS[t], kinds={"duckdb"})
           for t, key in STAGING_KEYS.items()],
    check_specs=[dg.AssetCheckSpec(s.name, asset=STAGING_KEYS[CHECK_TARGET[s.dataset]],
                                   description=s.description, blocking=s.blocking)
                 for s in SUITES],
    partitions_def=monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="duckdb_warehouse",
    name="staging_tables",
)
def staging_tables(context: dg.AssetExecutionContext, chiso: ChisoSettings,
                   warehouse: WarehouseResource):
    from checks.gx_runner import outcome_rows, validate_in_bulk

    months = months_in_window(context)
    store = RawStore(chiso.raw_dir)
    try:
        frames, sessions = stage_months(store, months)
    except StagingError as exc:
        with warehouse.get_connection() as con:
            ensure_schema(con)
            append_rows(con, "audit.validation_results", _audit_frame([{
                "suite": "parse", "dataset": "raw", "expectation": "parseable portal response",
                "columns": exc.field_name, "success": False, "blocking": True,
                "element_count": 1, "unexpected_count": 1, "examples": str(exc)}],
                context.run.run_id, months))
        context.log.error(str(exc))
        raise dg.Failure(description=f"Staging stopped, nothing loaded: {exc}",
                         metadata={"file": exc.file, "period": exc.month, "unit": exc.unit,
                                   "field": exc.field_name},
                         allow_retries=False) from exc

    report = validate_in_bulk(validation_datasets(frames, months))
    with warehouse.get_connection() as con:
        ensure_schema(con)
        append_rows(con, "audit.validation_results",
                    _audit_frame(outcome_rows(report), context.run.run_id, months))
        for warning in report.warnings:
            context.log.warning(warning.message())
        if report.blocking_failures:
            text = report.failures_text()
            context.log.error(text)
            raise dg.Failure(
                description="Validation failed; nothing was loaded and the previous staging, "
                            f"marts and published copy are unchanged.\n{text}",
                metadata={"failed_expectations": len(report.blocking_failures),
                          "months": ", ".join(month_key(m) for m in months),
                          "details": dg.MetadataValue.md(f"```\n{text}\n```"),
                          "audit_table": "audit.validation_results"},
                allow_retries=False)
        counts = replace_months(con, {f"staging.{t}": f for t, f in frames.items()}, months)

    for table, key in STAGING_KEYS.items():
        yield dg.MaterializeResult(asset_key=key, metadata={
            "rows": counts[f"staging.{table}"], "table": f"staging.{table}",
            "sessions": "\n".join(f"{k}: {v}" for k, v in sessions.items()),
        })
    for suite in SUITES:
        failed = [o for o in report.outcomes if o.suite == suite.name and not o.success]
        yield dg.AssetCheckResult(
            asset_key=STAGING_KEYS[CHECK_TARGET[suite.dataset]], check_name=suite.name,
            passed=not failed,
            severity=dg.AssetCheckSeverity.ERROR if suite.blocking else dg.AssetCheckSeverity.WARN,
            metadata={"expectations": sum(o.suite == suite.name for o in report.outcomes),
                      "failed": len(failed),
                      "details": "\n".join(o.message() for o in failed) or "all passed"})
