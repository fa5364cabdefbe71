"""raw/har_captures: the portal's answers from a HAR dropped in the inbox, end to end.

When the portal refuses scripts, an analyst opens its public evaluation pages in a
browser and saves the network log as a HAR (DevTools → Network → "Save all as HAR with
content"), then drops the ``.har`` into ``<data>/inbox/``. The job ``import_inbox`` (or
the inbox sensor) then, for each HAR:

1. reads it (``assets.sources.har``): every reporting answer becomes a raw capture exactly
   as if crawled (bytes, endpoint, period, province from the request, capture time =
   ``startedDateTime``); pages, scripts, images, 304s and failed requests are counted and
   skipped;
2. writes one session manifest per month (``source: har``, the file named) beside the
   crawls' under ``raw/_sessions/``: ``complete`` when the HAR covers what a crawl must
   (the national summary and the six groups of each configured province, every page),
   else ``partial`` with what is missing (kept raw, not staged). A month's answers
   filtered to one procedure get their own manifest under ``raw/_procedure_sessions/``
   (as the procedure crawl keeps them) and are staged by the procedure path; quarter and
   year answers are kept raw under ``raw/<endpoint>/_periods/``;
3. parses and validates the complete months *before* taking the warehouse; a HAR with an
   answer that fails is rejected (``inbox/rejected/`` + a sidecar naming file, period,
   unit and field; its manifests say ``rejected``, so no later run stages them);
4. stages those months (the latest complete capture of a month wins, crawl or HAR), then
   rebuilds every mart of them and publishes the analysts' copy, in the same step: one
   ``dg launch --job import_inbox`` is enough, no daemon needed.

The HAR itself is never kept (it holds the analyst's cookies and authorization headers):
an imported one is deleted after a note ``inbox/imported/<name>.imported.json``; a
rejected one is kept in ``inbox/rejected/`` with every header and cookie removed (one that
cannot be read at all is deleted: only its note stays).
"""

import hashlib
import json
import os
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import duckdb

from assets.domain.provinces import province_reference
from assets.months import Era, era_of, month_key
from assets.raw.store import PROCEDURE_SESSIONS, SESSIONS, RawStore, stamp, write_atomic
from assets.resources import ChisoSettings, WarehouseResource
from assets.sources.endpoints import GROUP_ENDPOINTS, NATIONAL, safe_segment
from assets.sources.har import HarError, PortalAnswer, portal_answers, read_har
from assets.sources.portal import PortalResponse, page_rows
from assets.warehouse import ensure_schema

from .engine import Batch, check_batch, stage
from .inbox import NAME_MAX, SIDECAR_SUFFIX, file_sha256, fit_name
from .nightly import NIGHTLY_PATH
from .parse import StagingError
from .procedure_load import stage_procedures
from .procedures import parse_procedure_capture
from .sheet_import import ImportConfig, inbox_dir, inbox_files
from .step import PORTAL_PATH

HAR_KEY = dg.AssetKey(["raw", "har_captures"])
HAR_SUFFIX = ".har"


@dataclass
class MonthCapture:
    """One month of one HAR: its captures and whether they make a complete crawl."""

    month: date
    captures: list = field(default_factory=list)  # store Capture records
    # the month's answers filtered to one procedure (staged by the procedure path)
    procedure_captures: list = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    started: datetime | None = None
    finished: datetime | None = None

    @property
    def complete(self) -> bool:
        return not self.missing and era_of(self.month) == Era.MERGED


@dataclass
class HarImport:
    name: str
    sha256: str
    months: list[MonthCapture] = field(default_factory=list)
    other_kept: list[str] = field(default_factory=list)  # quarter/year/procedure answers
    skipped: dict = field(default_factory=dict)
    manifests: list[str] = field(default_factory=list)


def _codes(answers: list[PortalAnswer]) -> dict[str, str]:
    """departmentId → code: the reference of the 34, then any national summary in the HAR."""
    codes = {p.department_id: p.code for p in province_reference()
             if p.era == Era.MERGED and p.department_id}
    for a in answers:
        if a.endpoint is NATIONAL:
            data = json.loads(a.body)["data"]
            for row in page_rows(data):
                if isinstance(row, dict) and row.get("departmentId") and row.get(
                        "departmentCode"):
                    codes[str(row["departmentId"])] = str(row["departmentCode"])
    return codes


def _latest(answers: list[PortalAnswer]) -> list[PortalAnswer]:
    """One answer per request (a page loaded twice: the later one)."""
    best: dict[tuple, PortalAnswer] = {}
    for a in answers:
        key = (a.endpoint.name, a.period, a.province_id, a.formality_id,
               int(a.payload.get("currentPage", 1)))
        if key not in best or a.captured_at >= best[key].captured_at:
            best[key] = a
    return sorted(best.values(), key=lambda a: (a.captured_at, a.entry))


def _pages(answers: list[PortalAnswer]) -> tuple[set[int], int]:
    pages, declared = set(), 1
    for a in answers:
        pages.add(int(a.payload.get("currentPage", 1)))
        pagination = json.loads(a.body)["data"].get("pagination")
        if isinstance(pagination, dict) and isinstance(pagination.get("totalPages"), int):
            declared = max(declared, pagination["totalPages"])
    return pages, declared


def missing_for_month(answers: list[PortalAnswer], provinces: tuple[str, ...] | None,
                      codes: dict[str, str]) -> list[str]:
    """What a complete crawl of the month would have and these answers lack."""
    missing = []
    national = [a for a in answers if a.endpoint is NATIONAL and a.province_id is None]
    if not national:
        return ["service-results (the national summary)"]
    pages, declared = _pages(national)
    missing += [f"service-results page {n}" for n in range(1, declared + 1) if n not in pages]
    listed = {str(r.get("departmentCode")): str(r.get("departmentId"))
              for a in national for r in page_rows(json.loads(a.body)["data"])
              if isinstance(r, dict)}
    wanted = list(provinces) if provinces is not None else sorted(listed)
    for code in wanted:
        pid = listed.get(code) or next((i for i, c in codes.items() if c == code), None)
        for endpoint in GROUP_ENDPOINTS.values():
            got = [a for a in answers if a.endpoint is endpoint and a.province_id == pid]
            if not got:
                missing.append(f"{endpoint.name} {code}")
                continue
            if endpoint.paginated:
                pages, declared = _pages(got)
                missing += [f"{endpoint.name} {code} page {n}"
                            for n in range(1, declared + 1) if n not in pages]
    return missing


def _keep_other(store: RawStore, a: PortalAnswer, har: str) -> str:
    """A quarter, year or range answer (or a per-procedure one of those): kept raw, never
    staged."""
    sha = hashlib.sha256(a.body).hexdigest()
    folder = (store.root / safe_segment(a.endpoint.name) / "_periods" / safe_segment(a.period)
              / safe_segment(a.province_id or "national"))
    if a.formality_id:
        folder = folder / f"formality-{safe_segment(a.formality_id)}"
    path = folder / f"{stamp(a.captured_at)}-p{int(a.payload.get('currentPage', 1)):03d}-" \
                    f"{sha[:12]}.json"
    if not path.exists():
        write_atomic(path, a.body)
        meta = {"endpoint": a.endpoint.name, "url": a.url, "payload": a.payload,
                "period": a.period, "period_kind": a.period_kind,
                "province_id": a.province_id, "formality_id": a.formality_id,
                "http_status": a.status, "content_type": a.content_type,
                "captured_at": a.captured_at.isoformat(), "sha256": sha, "bytes": len(a.body),
                "source": "har", "file": har, "entry": a.entry}
        write_atomic(path.with_name(path.name + ".meta.json"),
                     json.dumps(meta, ensure_ascii=False, indent=1).encode())
    return str(path.relative_to(store.root))


def keep_answers(store: RawStore, name: str, sha: str, answers: list[PortalAnswer],
                 provinces: tuple[str, ...] | None) -> HarImport:
    """Every answer into the raw layer (months through RawStore.save, as a crawl does)."""
    result = HarImport(name, sha)
    codes = _codes(answers)
    by_month: dict[date, list[PortalAnswer]] = defaultdict(list)
    by_procedure: dict[date, list[PortalAnswer]] = defaultdict(list)
    for a in _latest(answers):
        if a.stageable:
            by_month[a.month].append(a)
        elif (a.month is not None and a.formality_id and era_of(a.month) == Era.MERGED
              and a.province_id):
            by_procedure[a.month].append(a)
        else:
            result.other_kept.append(_keep_other(store, a, name))

    def save(a: PortalAnswer, month: date):
        code = "national" if a.province_id is None else codes.get(a.province_id)
        if code is None:
            code = f"unknown-{a.province_id}"
        resp = PortalResponse(a.endpoint, a.url, a.payload, a.status, a.content_type,
                              a.body, a.captured_at,
                              origin={"source": "har", "file": name, "entry": a.entry})
        return store.save(resp, month=month, province_code=code, province_id=a.province_id)

    for month in sorted({*by_month, *by_procedure}):
        items, filtered = by_month.get(month, []), by_procedure.get(month, [])
        every = items + filtered
        mc = MonthCapture(month, started=min(a.captured_at for a in every),
                          finished=max(a.captured_at for a in every))
        mc.captures = [save(a, month) for a in items]
        mc.procedure_captures = [save(a, month) for a in filtered]
        mc.missing = missing_for_month(items, provinces, codes)
        if era_of(month) != Era.MERGED:
            mc.missing.append("months before 2025-07 are staged from the legacy service's "
                              "crawl only")
        result.months.append(mc)
    return result


def write_manifest(store: RawStore, har: HarImport, mc: MonthCapture, status: str,
                   error: str | None = None) -> Path:
    """The month's session manifest, as a crawl writes it, with ``source: har``."""
    manifest = {
        "month": month_key(mc.month), "status": status, "error": error, "source": "har",
        "file": har.name, "har_sha256": har.sha256,
        "started_at": mc.started.astimezone(UTC).isoformat(),
        "finished_at": mc.finished.astimezone(UTC).isoformat(),
        "missing": mc.missing, "skipped_in_har": har.skipped,
        "captures": [asdict(c) for c in mc.captures],
    }
    path = (store.root / SESSIONS / month_key(mc.month)
            / f"{stamp(mc.started)}-har-{har.sha256[:12]}.json")
    write_atomic(path, json.dumps(manifest, ensure_ascii=False, indent=1).encode())
    if mc.procedure_captures:
        # the month's per-procedure answers, beside the procedure crawl's manifests: the
        # procedure path stages them (complete: each answer is whole in itself)
        procedure = {**manifest, "status": "rejected" if status == "rejected" else "complete",
                     "missing": [], "captures": [asdict(c) for c in mc.procedure_captures],
                     "procedures": [{"procedure_id": f, "complete": True} for f in sorted(
                         {c.formality_id for c in mc.procedure_captures})]}
        write_atomic(store.root / PROCEDURE_SESSIONS / month_key(mc.month) / path.name,
                     json.dumps(procedure, ensure_ascii=False, indent=1).encode())
    return path


def validate_month(store: RawStore, mc: MonthCapture):
    """Parse and validate a complete month as staging will (raises StagingError); the
    validation report."""
    batch = Batch(mc.month, f"HAR month {month_key(mc.month)}",
                  [("har", [asdict(c) for c in mc.captures])])
    return check_batch(PORTAL_PATH, store, batch)


def scrubbed(log: dict) -> bytes:
    """A HAR with every header, cookie and query string removed (for rejected/)."""
    entries = []
    for entry in log.get("entries") or []:
        if not isinstance(entry, dict):
            continue
        clean = {k: v for k, v in entry.items() if k in ("startedDateTime", "time")}
        for side in ("request", "response"):
            part = entry.get(side)
            if isinstance(part, dict):
                clean[side] = {k: v for k, v in part.items()
                               if k not in ("headers", "cookies", "queryString")}
        entries.append(clean)
    doc = {"log": {"version": log.get("version"), "creator": log.get("creator"),
                   "entries": entries,
                   "comment": "chiso766: headers and cookies removed"}}
    return json.dumps(doc, ensure_ascii=False).encode()


def reject_har(path: Path, inbox: Path, reason: str, where: dict, log: dict | None,
               sha: str) -> Path:
    """Into rejected/ with a sidecar; a readable HAR is kept without headers or cookies."""
    folder = inbox / "rejected"
    if log is not None:
        name = fit_name(path.name, NAME_MAX - len(SIDECAR_SUFFIX) - 13)
        final = folder / name
        if final.exists():
            stem, suffix = os.path.splitext(name)
            final = folder / f"{stem}-{sha[:12]}{suffix}"
        write_atomic(final, scrubbed(log))
        path.unlink()
        kept = "kept without its headers and cookies"
    else:
        # unreadable, so nothing can be removed from it: not kept at all (it may hold the
        # analyst's cookies); the note says what it was
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / fit_name(path.name, NAME_MAX - len(SIDECAR_SUFFIX) - 13)
        if final.with_name(final.name + SIDECAR_SUFFIX).exists():
            stem, suffix = os.path.splitext(final.name)
            final = folder / f"{stem}-{sha[:12]}{suffix}"
        size = path.stat().st_size
        path.unlink()
        kept = (f"not kept: it could not be read as a HAR ({size} bytes, sha256 above), so its "
                "cookies could not be removed; it was deleted")
    sidecar = {"file": path.name, "rejected_at": datetime.now(UTC).isoformat(),
               "reason": reason, **where, "sha256": sha,
               "moved_to": final.name if final.exists() else None,
               "kept": kept,
               "what_to_do": "Save the HAR again from the portal's pages (DevTools → Network "
                             "→ \"Save all as HAR with content\") and drop it into the "
                             "inbox; nothing from this one was staged."}
    write_atomic(final.with_name(final.name + SIDECAR_SUFFIX),
                 json.dumps(sidecar, ensure_ascii=False, indent=1, default=str).encode())
    return final


def _log_of(path: Path) -> dict | None:
    """The ``log`` of a JSON file shaped like a HAR (whatever its oddities), for a
    scrubbed copy; None when it is not even that."""
    try:
        doc = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    log = doc.get("log") if isinstance(doc, dict) else None
    return log if isinstance(log, dict) else None


class Reject(Exception):
    def __init__(self, reason: str, where: dict):
        self.reason, self.where = reason, where
        super().__init__(reason)


def import_one(path: Path, sha: str, store: RawStore, chiso: ChisoSettings) -> HarImport:
    """Read, keep and validate one HAR whose sha256 is ``sha`` (raises Reject); no
    warehouse needed."""
    content = portal_answers(read_har(path, int(chiso.har_max_mb * 1e6)), path.name)
    if not content.answers:
        raise Reject("no reporting API answer in this HAR (was it saved on the portal's "
                     "evaluation pages, with content?)", {"field": "entries"})
    har = keep_answers(store, path.name, sha, content.answers, chiso.province_codes)
    har.skipped = dict(content.skipped)
    bad = None
    for mc in har.months:
        try:
            for capture in mc.procedure_captures:
                record = asdict(capture)
                parse_procedure_capture(record, store.read_verified(record), mc.month)
        except StagingError as exc:
            bad = Reject(str(exc), {"period": exc.month, "unit": exc.unit,
                                    "field": exc.field_name, "raw_file": exc.file})
            break
        if not mc.complete:
            continue
        try:
            report = validate_month(store, mc)
        except StagingError as exc:
            bad = Reject(str(exc), {"period": exc.month, "unit": exc.unit,
                                    "field": exc.field_name, "raw_file": exc.file})
            break
        if report.blocking_failures:
            bad = Reject("validation failed:\n" + report.failures_text(),
                         {"period": month_key(mc.month), "field": "see reason"})
            break
    for mc in har.months:
        status = "rejected" if bad else ("complete" if mc.complete else "partial")
        har.manifests.append(str(write_manifest(store, har, mc, status,
                                                bad.reason if bad else None)))
    if bad:
        raise bad
    return har


@dataclass
class Downstream:
    """What the step after a HAR's staging refreshed: the months it touched, what it says
    about them, and the asset keys to record for those months."""

    touched: list[date]
    detail: dict
    keys: list[dg.AssetKey]


# Given by the definitions (pipelines/after_import.py): staging does not know the marts,
# the publish or the report.
AfterStaging = Callable[[duckdb.DuckDBPyConnection, list[date], ChisoSettings], Downstream]


def stage_har_months(con, store: RawStore, months: list[date], run_id: str, log,
                 spill_root: Path) -> dict:
    """Stage the months (latest complete capture, crawl or HAR, wins) and every crawl's
    national summary, through the staging engine; a failure raises with nothing
    written."""
    portal = stage(PORTAL_PATH, con, store, months, run_id=run_id, log=log,
                   spill_root=spill_root)
    stage(NIGHTLY_PATH, con, store, months, run_id=run_id, log=log, spill_root=spill_root)
    procedures = stage_procedures(con, store, months, run_id=run_id, force=False, log=log,
                                  spill_root=spill_root)
    return {"sessions": portal.sessions, "unchanged": portal.unchanged,
            "procedure_months": procedures.months_label or "none"}


class HarConfig(ImportConfig):
    pass


def har_captures_asset(after_staging: AfterStaging) -> dg.AssetsDefinition:
    """raw/har_captures, with what follows the HAR's staging (rebuild the marts, publish)
    given by the definitions."""

    @dg.asset(
        key=HAR_KEY, group_name="raw", pool="duckdb_warehouse", kinds={"json", "duckdb"},
        description="The portal's answers from HAR files dropped in <data>/inbox/ (a browser's "
                    "saved network log): kept raw as if crawled, the complete months staged, "
                    "every mart rebuilt and the analysts' copy published, in one step. The HAR "
                    "itself (cookies, authorization) is never kept.",
    )
    def har_captures(context: dg.AssetExecutionContext, config: HarConfig, chiso: ChisoSettings,
                     warehouse: WarehouseResource) -> dg.MaterializeResult:
        inbox = inbox_dir(chiso)
        files = inbox_files(inbox, config.files, chiso.inbox_settle_s, context.log,
                            accept=lambda p: p.suffix.lower() == HAR_SUFFIX)
        store = RawStore(chiso.raw_dir)
        imported: list = []  # (path, HarImport)
        rejected: list[str] = []
        for path in files:
            sha = file_sha256(path)
            try:
                har = import_one(path, sha, store, chiso)
            except (HarError, Reject) as exc:
                where = ({"entry": exc.entry, "field": exc.field, "url": exc.url}
                         if isinstance(exc, HarError) else exc.where)
                reason = exc.detail if isinstance(exc, HarError) else exc.reason
                too_big = isinstance(exc, HarError) and exc.field == "size"
                parsed = None if too_big else _log_of(path)
                final = reject_har(path, inbox, reason, where, parsed, sha)
                rejected.append(f"{path.name}: {reason}")
                context.log.warning(f"{path.name} rejected: {reason} (see {final}"
                                    f"{SIDECAR_SUFFIX})")
                continue
            except Exception as exc:  # noqa: BLE001 - one file never stops the batch
                reason = f"could not be imported ({type(exc).__name__}: {exc})"
                final = reject_har(path, inbox, reason, {"field": "file"}, None, sha)
                rejected.append(f"{path.name}: {reason}")
                context.log.error(f"{path.name}: {reason}")
                continue
            imported.append((path, har))
            context.log.info(
                f"{har.name}: {sum(len(m.captures) for m in har.months)} month answers, "
                f"{sum(len(m.procedure_captures) for m in har.months)} per-procedure month "
                "answers, "
                f"{len(har.other_kept)} quarter/year/procedure answers kept raw; skipped "
                f"{', '.join(f'{v} {k}' for k, v in sorted(har.skipped.items())) or 'nothing'}")
            for m in har.months:
                if not m.complete:
                    context.log.warning(f"{har.name}: {month_key(m.month)} not staged, the HAR "
                                        f"lacks: {'; '.join(m.missing)} (kept raw)")

        months = sorted({m.month for _, h in imported for m in h.months if m.complete})
        staged = {}
        if months:
            # a failure here leaves the HARs in the inbox: the next run imports them again
            with warehouse.get_connection() as con:
                ensure_schema(con)
                staged = stage_har_months(con, store, months, context.run.run_id, context.log,
                                      Path(warehouse.database).parent)
                after = after_staging(con, months, chiso)
            staged.update(touched=after.touched, **after.detail)
            _record_downstream(context, months, after)
        for path, har in imported:
            _imported_note(inbox, har, staged)
            path.unlink()  # the HAR holds cookies: never kept once its answers are
        imported = [h for _, h in imported]
        return dg.MaterializeResult(metadata={
            "files": "\n".join(h.name for h in imported) or "none",
            "rejected": "\n".join(rejected) or "none",
            "months_staged": ",".join(month_key(m) for m in months),
            "months_partial": "\n".join(f"{h.name} {month_key(m.month)}: {'; '.join(m.missing)}"
                                        for h in imported for m in h.months if not m.complete)
            or "none",
            "skipped": "\n".join(f"{h.name}: " + ", ".join(f"{v} {k}" for k, v in
                                                            sorted(h.skipped.items()))
                                 for h in imported) or "none",
            "sessions_staged": "\n".join(f"{k}: {v}" for k, v in
                                         staged.get("sessions", {}).items()) or "none",
            "published": str(chiso.published_path) if months else "not republished",
        })

    return har_captures


def _imported_note(inbox: Path, har: HarImport, staged: dict) -> Path:
    note = {"file": har.name, "sha256": har.sha256,
            "imported_at": datetime.now(UTC).isoformat(),
            "months": {month_key(m.month): ("complete: staged, marts rebuilt, published"
                                            if m.complete else
                                            "partial, not staged; missing: "
                                            + "; ".join(m.missing))
                       for m in har.months},
            "sessions_staged": staged.get("sessions", {}),
            "other_answers_kept_raw": len(har.other_kept), "skipped": har.skipped,
            "manifests": har.manifests,
            "kept": "each answer's bytes, request URL and body, content type; the HAR "
                    "itself (headers, cookies) was deleted"}
    folder = inbox / "imported"
    name = fit_name(har.name, NAME_MAX - len(".imported.json") - 13)
    target = folder / f"{name}.imported.json"
    if target.exists():
        target = folder / f"{name}-{har.sha256[:12]}.imported.json"
    write_atomic(target, json.dumps(note, ensure_ascii=False, indent=1).encode())
    return target


def _record_downstream(context: dg.AssetExecutionContext, months: list[date],
                       after: Downstream) -> None:
    """Tell Dagster which partitions of staging, and of what came after it (the marts, the
    publish), this step refreshed, so the UI and the freshness checks see them."""
    staged = [*PORTAL_PATH.keys, *NIGHTLY_PATH.keys]
    for keys, when in ((staged, months), (after.keys, after.touched)):
        for key in keys:
            for month in when:
                context.log_event(dg.AssetMaterialization(
                    asset_key=key, partition=month.isoformat(),
                    metadata={"by": "import_inbox (HAR)"}))
