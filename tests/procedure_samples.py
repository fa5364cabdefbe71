"""A raw store and a warehouse built from the real 08/2026 Phú Thọ captures: the province's
answers for all units and the same five requests filtered to procedure 2.000815.

The bytes are the real ones (data/samples/portal/, byte-exact copies of the shared
portal samples); they are kept through the real RawStore and a complete session manifest,
as a crawl would keep them, the per-procedure answers with their ``formality_id``.
"""

import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import duckdb
from conftest import AUGUST, PHU_THO, SAMPLES

from assets.marts.build import rebuild_months
from assets.months import month_key
from assets.raw.store import SESSIONS, RawStore, stamp, write_atomic
from assets.sources.endpoints import ENDPOINTS
from assets.sources.portal import PortalResponse
from assets.staging.parse import Rows, parse_capture
from assets.staging.procedure_load import load_procedure_captures
from assets.warehouse import ensure_schema, refresh_reference, replace_months

PROCEDURE_ID = "019d2bfd-8e22-77ef-819f-e49460350904"
PROCEDURE_CODE = "2.000815"


def _month_captures() -> list[dict]:
    manifest = json.loads((SAMPLES / "manifest.json").read_text("utf-8"))
    return [c for c in manifest["captures"] if c["period"] == "month"]


def keep_samples(root: Path, procedure_files: dict[str, bytes] | None = None,
                 procedure_crawl: bool = False) -> RawStore:
    """Every month capture of the samples kept in a raw store under ``root``, in one
    complete session; ``procedure_files`` replaces the bytes of a per-procedure answer
    (endpoint name -> body), for tests of bad input. ``procedure_crawl``: the per-procedure
    answers in their own manifest as the procedure crawl keeps them
    (``_procedure_sessions/``, the procedure's code in its ``procedures`` list, not on the
    captures)."""
    manifest = json.loads((SAMPLES / "manifest.json").read_text("utf-8"))
    formality = manifest["formality"]
    store = RawStore(root)
    kept, started = [], None
    for c in _month_captures():
        endpoint = ENDPOINTS[c["file"].split("/")[0]]
        body = (SAMPLES / c["file"]).read_bytes()
        scoped = c["scope"] == "formality"
        if scoped and procedure_files and endpoint.name in procedure_files:
            body = procedure_files[endpoint.name]
        captured = datetime.fromisoformat(c["capturedAt"])
        started = min(started or captured, captured)
        resp = PortalResponse(endpoint=endpoint, url=c["url"], payload=c["payload"],
                              status=c["httpStatus"], content_type=c["contentType"],
                              body=body, captured_at=captured)
        capture = asdict(store.save(resp, month=AUGUST, province_code="H44",
                                    province_id=PHU_THO))
        if scoped:
            capture["formality_id"] = formality["id"]
            if not procedure_crawl:
                capture.update(formality_code=formality["code"],
                               formality_name=formality["name"])
        kept.append(capture)
    if procedure_crawl:
        crawl = [c for c in kept if c.get("formality_id")]
        kept = [c for c in kept if not c.get("formality_id")]
        _manifest(root / "_procedure_sessions", started, crawl, procedures=[
            {"province": "H44", "procedure_id": formality["id"], "code": formality["code"],
             "reason": "dossiers", "complete": True}])
    _manifest(root / SESSIONS, started, kept)
    return store


def _manifest(folder: Path, started: datetime, captures: list[dict], **extra) -> None:
    session = {"month": month_key(AUGUST), "status": "complete", "error": None,
               "source": "samples", "started_at": started.isoformat(),
               "finished_at": started.isoformat(), "captures": captures, **extra}
    write_atomic(folder / month_key(AUGUST) / f"{stamp(started)}.json",
                 json.dumps(session, ensure_ascii=False).encode())


def stage_units(con: duckdb.DuckDBPyConnection, store: RawStore) -> None:
    """The province's answers for all units into the staging unit tables (today's parser)."""
    ensure_schema(con)
    refresh_reference(con)
    session = json.loads(next((store.root / SESSIONS).rglob("*.json")).read_text("utf-8"))
    # the province's answers for all units (a procedure crawl keeps its own manifest)
    rows = Rows()
    for capture in session["captures"]:
        if not capture.get("formality_id"):
            parse_capture(capture, store.read_verified(capture), rows, AUGUST)
    frames = {f"staging.{t}": f for t, f in rows.frames().items()}
    replace_months(con, frames, [AUGUST])


PROCEDURE_MARTS = ("metric_monthly", "procedure_monthly", "unit_procedure_points_lost")


def build(con: duckdb.DuckDBPyConnection, store: RawStore) -> None:
    """Stage the unit and procedure answers of the store, then build the procedure marts."""
    stage_units(con, store)
    load_procedure_captures(con, store, [AUGUST])
    for name in PROCEDURE_MARTS:
        rebuild_months(con, name, [AUGUST])
