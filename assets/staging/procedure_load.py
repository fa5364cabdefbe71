"""Per-procedure answers into staging, until the staging engine takes them as one more spec.

A month's per-procedure captures are found in its complete crawls: the procedure crawl's
own manifests (``raw/_procedure_sessions/<yyyy-mm>/``) and any other crawl of the month
(``raw/_sessions/<yyyy-mm>/``); a capture with a ``formality_id`` is one. The latest answer
of each province, procedure, endpoint and page is kept, every one is read (sha256
verified) and parsed, then the months' rows of the three procedure tables are replaced in
one transaction. A parse error raises the StagingError naming file, period, unit and
field: nothing is written and the previous rows stay.

A procedure's code comes from the capture, else from its crawl's manifest (``procedures``:
id and code of each procedure crawled); its name from ``ref.procedures`` (the catalogue)
when the warehouse has it.
"""

import json
from datetime import date

import duckdb
import polars as pl

from assets.months import month_key
from assets.raw.store import SESSIONS, RawStore
from assets.warehouse import ensure_schema, replace_months

from .procedures import SCHEMAS, parse_procedure_capture

# where the procedure crawl keeps its manifests (assets/raw/procedure_crawl.py)
PROCEDURE_SESSIONS = "_procedure_sessions"


def _complete_manifests(store: RawStore, month: date) -> list[dict]:
    out = []
    for folder in (SESSIONS, PROCEDURE_SESSIONS):
        path = store.root / folder / month_key(month)
        for file in sorted(path.glob("*.json")) if path.exists() else []:
            manifest = json.loads(file.read_text("utf-8"))
            if manifest.get("status") == "complete":
                out.append(manifest)
    return out


def procedure_captures(store: RawStore, month: date) -> list[dict]:
    """The latest kept answer per (province, procedure, endpoint, page) of the month."""
    latest: dict[tuple, dict] = {}
    for manifest in _complete_manifests(store, month):
        codes = {p.get("procedure_id"): p.get("code")
                 for p in manifest.get("procedures") or [] if isinstance(p, dict)}
        for c in manifest["captures"]:
            if not c.get("formality_id") or c.get("http_status") not in (200, 201):
                continue
            if not c.get("formality_code") and codes.get(c["formality_id"]):
                c = {**c, "formality_code": codes[c["formality_id"]]}
            key = (c.get("province_id"), c["formality_id"], c["endpoint"], c.get("page", 1))
            if key not in latest or c["captured_at"] >= latest[key]["captured_at"]:
                latest[key] = c
    return [latest[k] for k in sorted(latest, key=lambda k: tuple(map(str, k)))]


def catalogue_names(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, str]]:
    """procedure id -> (code, name) from ref.procedures, when the catalogue was loaded."""
    present = con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'ref' "
                          "AND table_name = 'procedures'").fetchone()[0]
    if not present:
        return {}
    return {r[0]: (r[1], r[2]) for r in con.execute(
        "SELECT procedure_id, code, name FROM ref.procedures").fetchall()}


def parse_month(store: RawStore, month: date,
                names: dict[str, tuple[str, str]] | None = None) -> dict[str, pl.DataFrame]:
    """Every staged procedure row of one month (empty frames when nothing was crawled);
    ``names``: procedure id -> (code, name) of the catalogue."""
    parts: dict[str, list[pl.DataFrame]] = {t: [] for t in SCHEMAS}
    for capture in procedure_captures(store, month):
        code, name = (names or {}).get(capture["formality_id"], (None, None))
        capture = {**capture, "formality_code": capture.get("formality_code") or code,
                   "formality_name": capture.get("formality_name") or name}
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
    names = catalogue_names(con)
    parts: dict[str, list[pl.DataFrame]] = {f"staging.{t}": [] for t in SCHEMAS}
    for month in months:
        for table, frame in parse_month(store, month, names).items():
            parts[f"staging.{table}"].append(frame)
    return replace_months(con, {t: pl.concat(f) for t, f in parts.items()}, list(months))
