"""Per-procedure answers into staging, until the staging engine takes them as one more spec.

A month's per-procedure captures are found in its complete crawls (any source: a capture
with a ``formality_id`` is one); the latest answer of each province, procedure, endpoint
and page is kept, every one is read (sha256 verified) and parsed, then the months' rows of
the three procedure tables are replaced in one transaction. A parse error raises the
StagingError naming file, period, unit and field: nothing is written and the previous rows
stay.
"""

from datetime import date

import duckdb
import polars as pl

from assets.raw.store import RawStore, complete_sessions
from assets.warehouse import ensure_schema, replace_months

from .procedures import SCHEMAS, parse_procedure_capture


def procedure_captures(store: RawStore, month: date) -> list[dict]:
    """The latest kept answer per (province, procedure, endpoint, page) of the month."""
    latest: dict[tuple, dict] = {}
    for _, manifest in complete_sessions(store, month):
        for c in manifest["captures"]:
            if not c.get("formality_id") or c.get("http_status") not in (200, 201):
                continue
            key = (c.get("province_id"), c["formality_id"], c["endpoint"], c.get("page", 1))
            if key not in latest or c["captured_at"] >= latest[key]["captured_at"]:
                latest[key] = c
    return [latest[k] for k in sorted(latest, key=lambda k: tuple(map(str, k)))]


def parse_month(store: RawStore, month: date) -> dict[str, pl.DataFrame]:
    """Every staged procedure row of one month (empty frames when nothing was crawled)."""
    parts: dict[str, list[pl.DataFrame]] = {t: [] for t in SCHEMAS}
    for capture in procedure_captures(store, month):
        frames = parse_procedure_capture(capture, store.read_verified(capture), month)
        for table, frame in frames.items():
            parts[table].append(frame)
    return {t: pl.concat(p, rechunk=True) if p else pl.DataFrame(schema=SCHEMAS[t])
            for t, p in parts.items()}


def load_procedure_captures(con: duckdb.DuckDBPyConnection, store: RawStore,
                            months: list[date]) -> dict[str, int]:
    """Parse every month first, then replace the months' procedure rows in one transaction;
    returns the rows written per table."""
    ensure_schema(con)
    parts: dict[str, list[pl.DataFrame]] = {f"staging.{t}": [] for t in SCHEMAS}
    for month in months:
        for table, frame in parse_month(store, month).items():
            parts[f"staging.{table}"].append(frame)
    return replace_months(con, {t: pl.concat(f) for t, f in parts.items()}, list(months))
