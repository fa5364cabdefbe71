"""staging/national_summary_history: the national summary of every complete crawl of a
month, not only the latest — how an open month's scores moved night after night.

A path of the staging engine (assets/staging/engine.py), run inside the staging step.
The raw layer keeps every nightly capture (one session manifest per crawl); the other
staging tables read the latest complete one. This table reads them all, and
``marts.province_daily`` shows the day-by-day movement from it.
"""

from datetime import date, datetime, timedelta

import duckdb
import polars as pl

from assets.months import Era, final_from, month_close, month_key
from assets.sources.endpoints import NATIONAL
from assets.tables import DAILY, asset_key, qualified
from checks.suites import Suite, _not_null, _unique

from .engine import Batch, Fresh, Reads, StagedPath, every_session
from .parse import Rows, parse_capture

DAILY_KEY = asset_key("national_summary_history")
DAILY_TABLE = qualified("national_summary_history")
DAILY_SUITE = Suite(
    "national_summary_history_valid", "national_summary_history",
    "one row per province and capture; totals between 0 and 100",
    [*_not_null("month", "province_id", "total_score", "captured_at", "session"),
     _unique("session", "province_id"),
     ("ExpectColumnValuesToBeBetween", {"column": "total_score", "min_value": 0,
                                        "max_value": 100})],
    ("raw_path", "province_name", "province_code"))


def _settling(month: date, captured_at: datetime) -> bool:
    """Captured in the days after the month ended (Vietnam time), while it may still be
    settling: up to a day past the time a capture is final (assets/months.py)."""
    return month_close(month) <= captured_at < final_from(month) + timedelta(days=1)


def parse_nightly(batch: Batch, reads: Reads) -> dict[str, pl.DataFrame]:
    """The national summary of each crawl of the batch, tagged with its session."""
    per_session: dict[str, Rows] = {name: Rows() for name, _ in batch.sessions}
    for session, capture, body in reads:
        parse_capture(capture, body, per_session[session], batch.month)
    frames = [rows.frames()["national_summary"].with_columns(pl.lit(name).alias("session"))
              for name, rows in per_session.items()]
    df = (pl.concat(frames, how="vertical").select(list(DAILY)) if frames
          else pl.DataFrame(schema=DAILY))
    return {"national_summary_history": df}


def _loaded(con: duckdb.DuckDBPyConnection, month: date) -> list[tuple]:
    return con.execute(f"SELECT DISTINCT session, raw_sha256 FROM {DAILY_TABLE} "  # noqa: S608 (fixed name)
                       "WHERE month = ?", [month]).fetchall()


def _unchanged(con: duckdb.DuckDBPyConnection, batch: Batch) -> str | None:
    """Every complete crawl of the month is loaded already (the nightly run of a closed
    month, a rerun): nothing to do."""
    loaded = {r[0] for r in _loaded(con, batch.month)}
    if {name for name, _ in batch.sessions} == loaded:
        return f"its {len(loaded)} complete crawl(s) are loaded already"
    return None


def _fresh(con: duckdb.DuckDBPyConnection, batch: Batch, frames: dict) -> Fresh:
    """Bytes not validated before are validated; a repeat of validated bytes needs no GX
    start-up. Downstream has news when the bytes moved, or while the month settles."""
    rows = _loaded(con, batch.month)
    sessions, shas = {r[0] for r in rows}, {r[1] for r in rows}
    df = frames["national_summary_history"]
    new = df.filter(~pl.col("session").is_in(sorted(sessions)))
    moved = bool(set(new["raw_sha256"].unique()) - shas) or not rows
    settling = any(_settling(batch.month, at) for at in new["captured_at"].unique())
    why = None if moved else (f"the new crawls of {month_key(batch.month)} repeat bytes "
                              "validated before (same sha256)")
    return Fresh(skip_validation=why, changed=moved or settling)


NIGHTLY_PATH = StagedPath(
    name="nightly", tables=("national_summary_history",), era=Era.MERGED,
    select=every_session(NATIONAL.name), parse=parse_nightly,
    datasets=lambda frames, _month, _previous: {DAILY_SUITE.dataset:
                                                frames["national_summary_history"]},
    suites=(DAILY_SUITE,), check_key=lambda _suite: DAILY_KEY, unchanged=_unchanged,
    fresh=_fresh, check_blocking=True, bulk=True)
