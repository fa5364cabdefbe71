"""staging/national_summary_history: the national summary of every complete crawl of a
month, not only the latest — how an open month's scores moved night after night.
Loaded inside the staging step (assets/staging/step.py).

The raw layer keeps every nightly capture (one session manifest per crawl); the other
staging tables read the latest complete one. This table reads them all, and
``marts.province_daily`` shows the day-by-day movement from it.
"""

from datetime import date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl

from assets.domain.provinces import era_of
from assets.partitions import final_from, month_close
from assets.raw.store import RawStore, complete_sessions
from assets.sources.endpoints import NATIONAL, month_key
from assets.warehouse import replace_months
from checks.suites import Suite, _not_null

from .legacy import SideLoad, audit
from .legacy_parse import DAILY_SCHEMA
from .parse import Rows, StagingError, parse_capture

DAILY_KEY = dg.AssetKey(["staging", "national_summary_history"])
DAILY_TABLE = "staging.national_summary_history"
DAILY_SUITE = Suite(
    "national_summary_history_valid", "national_summary_history",
    "one row per province and capture; totals between 0 and 100",
    [*_not_null("month", "province_id", "total_score", "captured_at", "session"),
     ("ExpectCompoundColumnsToBeUnique", {"column_list": ["session", "province_id"]}),
     ("ExpectColumnValuesToBeBetween", {"column": "total_score", "min_value": 0,
                                        "max_value": 100})],
    ("raw_path", "province_name", "province_code"))


def _settling(month: date, captured_at: datetime) -> bool:
    """Captured in the days after the month ended (Vietnam time), while it may still be
    settling: up to a day past the time a capture is final (assets/partitions.py)."""
    return month_close(month) <= captured_at < final_from(month) + timedelta(days=1)


def stage_daily(store: RawStore, sessions: dict[date, list[tuple[Path, dict]]]
                ) -> pl.DataFrame:
    """The national summary of each given crawl, tagged with its session."""
    frames = []
    for month, crawls in sessions.items():
        for path, manifest in crawls:
            rows = Rows()
            for capture in manifest["captures"]:
                if capture["endpoint"] != NATIONAL.name or capture["http_status"] not in (200,
                                                                                          201):
                    continue
                try:
                    body = store.read_verified(capture)
                except ValueError as exc:
                    raise dg.Failure(str(exc), allow_retries=False) from exc
                parse_capture(capture, body, rows, month)
            frame = rows.frames()["national_summary"]
            frames.append(frame.with_columns(pl.lit(path.stem).alias("session")))
    if not frames:
        return pl.DataFrame(schema=DAILY_SCHEMA)
    return pl.concat(frames, how="vertical").select(list(DAILY_SCHEMA))


def load_daily(con: duckdb.DuckDBPyConnection, store: RawStore, months: list[date],
               run_id: str) -> SideLoad:
    """Every complete crawl's national summary of the months into
    staging.national_summary_history; a month whose crawls are all loaded already costs
    nothing (the nightly run of a closed month, a rerun)."""
    months = [m for m in months if era_of(m) == "34"]
    loaded_rows = con.execute(
        "SELECT DISTINCT month, session, raw_sha256 FROM staging.national_summary_history "
        "WHERE list_contains($months, month)", {"months": months}).fetchall()
    loaded = {(r[0], r[1]) for r in loaded_rows}
    loaded_shas = {(r[0], r[2]) for r in loaded_rows}
    sessions = {m: complete_sessions(store, m) for m in months}
    unchanged = [m for m in months if {(m, p.stem) for p, _ in sessions[m]}
                 == {k for k in loaded if k[0] == m}]
    todo = [m for m in months if m not in unchanged]
    if not todo:
        return SideLoad(DAILY_KEY, False, {}, [dg.AssetCheckResult(
            asset_key=DAILY_KEY, check_name=DAILY_SUITE.name, passed=True,
            metadata={"details": "nothing new to validate"})])
    label = ",".join(month_key(m) for m in todo)
    try:
        df = stage_daily(store, {m: sessions[m] for m in todo})
    except StagingError as exc:
        raise dg.Failure(description=f"Staging stopped, nothing loaded: {exc}",
                         metadata={"file": exc.file, "period": exc.month, "unit": exc.unit,
                                   "field": exc.field_name}, allow_retries=False) from exc
    fresh = df.filter(~pl.col("session").is_in(sorted({k[1] for k in loaded})))
    moved = any((m, sha) not in loaded_shas for m, sha in
                fresh.select("month", "raw_sha256").unique().iter_rows())
    if moved or not loaded:
        from checks.gx_runner import outcome_rows, validate

        # bytes not validated before; a repeat of validated bytes needs no GX start-up
        report = validate({DAILY_SUITE.dataset: df}, (DAILY_SUITE,))
        audit(con, outcome_rows(report), run_id, label)
        if report.blocking_failures:
            raise dg.Failure(description="Validation failed; nothing was loaded.\n"
                             + report.failures_text(), allow_retries=False)
    replace_months(con, {DAILY_TABLE: df}, todo)
    settling = any(_settling(m, at) for m, at in
                   fresh.select("month", "captured_at").unique().iter_rows())
    return SideLoad(DAILY_KEY, moved or settling, {
        "rows_loaded": df.height, "captures": df["session"].n_unique() if df.height else 0,
        "table": DAILY_TABLE, "months": label,
        "not_reloaded": ",".join(month_key(m) for m in unchanged) or "none"},
        [dg.AssetCheckResult(asset_key=DAILY_KEY, check_name=DAILY_SUITE.name, passed=True,
                             metadata={"details": "all passed"})])
