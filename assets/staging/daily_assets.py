"""staging/national_summary_history: the national summary of every complete crawl of a
month, not only the latest — how an open month's scores moved night after night.

The raw layer keeps every nightly capture (one session manifest per crawl); the other
staging tables read the latest complete one. This table reads them all, and
``marts.province_daily`` shows the day-by-day movement from it.
"""

import json
from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl

from assets.domain.provinces import era_of
from assets.partitions import monthly_partitions, months_in_window
from assets.raw.store import SESSIONS, RawStore
from assets.resources import ChisoSettings, WarehouseResource
from assets.sources.endpoints import NATIONAL, month_key
from assets.warehouse import ensure_schema
from checks.suites import Suite, _not_null

from .history import DAILY_SCHEMA
from .history_assets import audit
from .parse import Rows, StagingError, parse_capture

RAW_KEY = dg.AssetKey(["raw", "portal_captures"])
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


def complete_sessions(store: RawStore, month: date) -> list[tuple[Path, dict]]:
    """Every complete crawl of a month, oldest first."""
    folder = store.root / SESSIONS / month_key(month)
    out = []
    for path in sorted(folder.glob("*.json")) if folder.exists() else []:
        manifest = json.loads(path.read_text("utf-8"))
        if manifest.get("status") == "complete":
            out.append((path, manifest))
    return out


def stage_daily(store: RawStore, months: list[date]) -> pl.DataFrame:
    frames = []
    for month in months:
        for path, manifest in complete_sessions(store, month):
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


@dg.asset(
    key=DAILY_KEY, deps=[RAW_KEY], group_name="staging", partitions_def=monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(), pool="duckdb_warehouse", kinds={"duckdb"},
    check_specs=[dg.AssetCheckSpec(DAILY_SUITE.name, asset=DAILY_KEY, blocking=True,
                                   description=DAILY_SUITE.description)],
    description="The national summary of every complete crawl of a month (one per night "
                "while it is open), for marts.province_daily.",
)
def national_summary_history(context: dg.AssetExecutionContext, chiso: ChisoSettings,
                             warehouse: WarehouseResource):
    from checks.gx_runner import outcome_rows, validate

    store = RawStore(chiso.raw_dir)
    months = [m for m in months_in_window(context) if era_of(m) == "34"]
    with warehouse.get_connection() as con:
        ensure_schema(con)
        loaded = {(r[0], r[1]) for r in con.execute(
            "SELECT DISTINCT month, session FROM staging.national_summary_history "
            "WHERE list_contains($months, month)", {"months": months}).fetchall()}
    # a month whose crawls are all loaded already costs nothing (the nightly run of a
    # closed month, or a rerun)
    unchanged = [m for m in months if {(m, p.stem) for p, _ in complete_sessions(store, m)}
                 == {k for k in loaded if k[0] == m}]
    months = [m for m in months if m not in unchanged]
    label = ",".join(month_key(m) for m in months)
    try:
        df = stage_daily(store, months)
    except StagingError as exc:
        raise dg.Failure(description=f"Staging stopped, nothing loaded: {exc}",
                         metadata={"file": exc.file, "period": exc.month, "unit": exc.unit,
                                   "field": exc.field_name}, allow_retries=False) from exc
    with warehouse.get_connection() as con:
        ensure_schema(con)
        if months:
            report = validate({DAILY_SUITE.dataset: df}, (DAILY_SUITE,))
            audit(con, outcome_rows(report), context.run.run_id, label)
            if report.blocking_failures:
                raise dg.Failure(description="Validation failed; nothing was loaded.\n"
                                 + report.failures_text(), allow_retries=False)
            con.execute("BEGIN")
            try:
                con.execute("DELETE FROM staging.national_summary_history "
                            "WHERE list_contains($months, month)", {"months": months})
                con.register("incoming", df.to_arrow())
                con.execute("INSERT INTO staging.national_summary_history BY NAME "
                            "SELECT * FROM incoming")
                con.unregister("incoming")
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
    sessions = df["session"].n_unique() if df.height else 0
    yield dg.MaterializeResult(metadata={
        "rows": df.height, "captures": sessions, "table": DAILY_TABLE,
        "months": label or "nothing new to load",
        "unchanged_months": ",".join(month_key(m) for m in unchanged) or "none"})
    yield dg.AssetCheckResult(asset_key=DAILY_KEY, check_name=DAILY_SUITE.name, passed=True,
                              metadata={"details": "all passed" if months else
                                        "nothing to validate"})
