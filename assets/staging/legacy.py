"""staging/legacy_scores: the legacy service's months (63 provinces and their units),
parsed, validated with Great Expectations before the write, then loaded.

It runs inside the staging step (assets/staging/step.py), so a run's staging tables
are materialized together or, when nothing is new, not at all. Months of the
34-province era have no legacy captures: it leaves them alone.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import dagster as dg
import duckdb
import polars as pl

from assets.domain.provinces import era_of
from assets.raw.store import RawStore, latest_complete_session, staged_sha256
from assets.sources.endpoints import LEGACY, month_key
from assets.warehouse import append_rows, replace_months
from checks.legacy_suites import legacy_suites

from .legacy_parse import frame, history_summaries, parse_legacy_capture
from .parse import StagingError

RAW_KEY = dg.AssetKey(["raw", "portal_captures"])
LEGACY_KEY = dg.AssetKey(["staging", "legacy_scores"])
LEGACY_SUITES = legacy_suites("legacy_scores")


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
    return replace_months(con, {table: df}, months)[table]


@dataclass
class SideLoad:
    """What one of the history loads did inside the staging step."""

    key: dg.AssetKey
    changed: bool
    metadata: dict
    checks: list[dg.AssetCheckResult] = field(default_factory=list)


def _check_results(key: dg.AssetKey, suites, report, idle: str) -> list[dg.AssetCheckResult]:
    out = []
    for suite in suites:
        outcomes = [o for o in report.outcomes if o.suite == suite.name] if report else []
        failed = [o for o in outcomes if not o.success]
        out.append(dg.AssetCheckResult(
            asset_key=key, check_name=suite.name, passed=not failed,
            metadata={"expectations": len(outcomes), "failed": len(failed),
                      "details": "\n".join(o.message() for o in failed)
                      or ("all passed" if outcomes else idle)}))
    return out


def load_legacy(con: duckdb.DuckDBPyConnection, store: RawStore, months: list[date],
                run_id: str, *, force: bool = False, log=None) -> SideLoad:
    """Months before 2025-07 (the legacy service) into staging.legacy_scores: parsed,
    validated with GX before the write (a failure raises and loads nothing), replaced
    in one transaction. A month whose kept legacy answers (sha256) are those already
    staged is not parsed again unless ``force``."""
    from checks.gx_runner import outcome_rows, validate

    months = [m for m in months if era_of(m) == "63"]
    unchanged = [] if force else [m for m in months if _legacy_unchanged(con, store, m)]
    todo = [m for m in months if m not in unchanged]
    label = ",".join(month_key(m) for m in todo)
    if not todo:
        idle = ("not re-run: answers unchanged since they passed" if unchanged
                else "no month of the 63-province era in this run")
        return SideLoad(LEGACY_KEY, False, {}, _check_results(LEGACY_KEY, LEGACY_SUITES,
                                                              None, idle))
    try:
        df, sessions = stage_legacy_months(store, todo)
    except StagingError as exc:
        audit(con, [{"suite": "parse", "dataset": "raw",
                     "expectation": "parseable legacy response", "columns": exc.field_name,
                     "success": False, "blocking": True, "element_count": 1,
                     "unexpected_count": 1, "examples": str(exc)}], run_id, label)
        raise dg.Failure(description=f"Staging stopped, nothing loaded: {exc}",
                         metadata={"file": exc.file, "period": exc.month, "unit": exc.unit,
                                   "field": exc.field_name},
                         allow_retries=False) from exc
    report = validate(validation_datasets("legacy_scores", df), LEGACY_SUITES)
    audit(con, outcome_rows(report), run_id, label)
    if report.blocking_failures:
        text = report.failures_text()
        if log:
            log.error(text)
        raise dg.Failure(
            description="Validation failed; nothing was loaded and the previous staging, "
                        f"marts and published copy are unchanged.\n{text}",
            metadata={"months": label, "details": dg.MetadataValue.md(f"```\n{text}\n```"),
                      "audit_table": "audit.validation_results"},
            allow_retries=False)
    rows = replace_history(con, "staging.legacy_scores", df, todo)
    return SideLoad(LEGACY_KEY, True, {
        "rows_loaded": rows, "table": "staging.legacy_scores", "months": label,
        "not_reloaded": ",".join(month_key(m) for m in unchanged) or "none",
        "sessions": "\n".join(f"{k}: {v}" for k, v in sessions.items())},
        _check_results(LEGACY_KEY, LEGACY_SUITES, report, "all passed"))


def _legacy_unchanged(con: duckdb.DuckDBPyConnection, store: RawStore, month: date) -> bool:
    found = latest_complete_session(store, month)
    if found is None:
        return False
    kept = {c["sha256"] for c in found[1]["captures"]
            if c["endpoint"] == LEGACY.name and c["http_status"] in (200, 201)}
    return bool(kept) and kept == staged_sha256(con, month, ("staging.legacy_scores",))
