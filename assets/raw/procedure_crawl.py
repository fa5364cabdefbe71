"""The procedure crawls, without Dagster: the catalogue (weekly) and, for the focus
province(s), the five filtered group endpoints of the procedures the plan chooses.

Everything is kept like any capture (raw store, sha256, one manifest per crawl), with
the manifests under ``raw/_procedure_sessions/`` so a month's group crawl never sees
them: ``catalogue/<started>.json`` for the catalogue, ``<yyyy-mm>/<started>.json`` for
the procedure answers of a month. Each procedure answer's capture has ``formality_id``.
A procedure session manifest also says what the night covered::

    "procedures": [{"province", "procedure_id", "code", "reason", "complete",
                    "dossiers", "captured_at"}],
    "requests": 60, "budget": 300,
    "coverage": {"H44": {"province_received", "covered_received", "procedure_coverage",
                         "procedures"}}
"""

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl

from assets.months import VIETNAM, current_month, month_key
from assets.sources.endpoints import (
    CATALOGUE_PAGE_SIZE,
    FORMALITIES,
    GROUP_ENDPOINTS,
    PROCEDURE_GROUPS,
)
from assets.sources.portal import PortalBudgetSpent, PortalClient, RequestBudget
from assets.sources.procedures import (
    Known,
    Planned,
    Procedure,
    Slot,
    catalogue_frame,
    parse_catalogue_page,
    plan_procedure_requests,
    procedure_received,
)

from .store import (
    PROCEDURE_SESSIONS,
    CaptureSession,
    RawStore,
    complete_manifests,
    latest_complete_session,
)

CATALOGUE = "catalogue"
CATALOGUE_MAX_AGE = timedelta(days=7)
TDGQ = GROUP_ENDPOINTS["TDGQ"].name
SOURCE = "procedures"


# --- the catalogue ----------------------------------------------------------------------

def catalogue_sessions(store: RawStore) -> list[tuple[Path, dict]]:
    """Every complete catalogue crawl, oldest first."""
    return complete_manifests(store.root / PROCEDURE_SESSIONS / CATALOGUE)


def catalogue_is_fresh(store: RawStore, now: datetime) -> tuple[Path, dict] | None:
    """The last complete catalogue crawl if it started less than 7 days before ``now``."""
    sessions = catalogue_sessions(store)
    if not sessions:
        return None
    path, manifest = sessions[-1]
    started = datetime.fromisoformat(manifest["started_at"])
    return (path, manifest) if now - started < CATALOGUE_MAX_AGE else None


@dataclass
class CatalogueCrawl:
    manifest_path: Path
    frame: pl.DataFrame
    requests: int


def crawl_catalogue(client: PortalClient, store: RawStore, now: datetime,
                    page_size: int = CATALOGUE_PAGE_SIZE) -> CatalogueCrawl:
    """Every page of ``/formalities``, kept raw, then read strictly: a page that does not
    parse fails the crawl (its manifest says so), naming the file, the page and the field."""
    client.start_crawl()
    month = current_month(now)
    session = CaptureSession(store, month, SOURCE, folder=PROCEDURE_SESSIONS, label=CATALOGUE)
    session.extra["client"] = client.description
    try:
        client.fetch(FORMALITIES, month, province="catalogue", page_size=page_size,
                     on_response=lambda r: session.keep(r, province_code=CATALOGUE,
                                                        province_id=None))
        frame = read_catalogue(store, [asdict(c) for c in session.captures])
    except BaseException as exc:
        session.finish("failed", f"{type(exc).__name__}: {exc}".rstrip(": "))
        raise
    session.extra["procedures"] = frame.height
    path = session.finish("complete")
    return CatalogueCrawl(path, frame, len(session.captures))


def read_catalogue(store: RawStore, captures: Sequence[dict]) -> pl.DataFrame:
    """The catalogue frame from a crawl's kept pages (sha256 verified on read)."""
    pages = []
    for c in captures:
        if c["http_status"] not in (200, 201):
            continue
        data = parse_catalogue_page(store.read_verified(c), file=c["path"], page=c["page"])
        pages.append((data, c["page"], datetime.fromisoformat(c["captured_at"]), c["sha256"]))
    pages.sort(key=lambda p: p[1])
    return catalogue_frame(pages)


def latest_catalogue(store: RawStore) -> tuple[Path, pl.DataFrame] | None:
    sessions = catalogue_sessions(store)
    if not sessions:
        return None
    path, manifest = sessions[-1]
    return path, read_catalogue(store, manifest["captures"])


def procedures_of(frame: pl.DataFrame) -> list[Procedure]:
    return [Procedure(pid, code, frozenset(applied or ()))
            for pid, code, applied in frame.select("procedure_id", "code",
                                                   "applied_department_ids").iter_rows()]


# --- what earlier crawls know -----------------------------------------------------------

def procedure_sessions(store: RawStore, month: date | None = None) -> list[tuple[Path, dict]]:
    """Every procedure crawl's manifest (of one month, or of all), oldest first."""
    root = store.root / PROCEDURE_SESSIONS
    if not root.exists():
        return []
    folders = [root / month_key(month)] if month else sorted(
        p for p in root.iterdir() if p.is_dir() and p.name != CATALOGUE)
    out = []
    for folder in folders:
        for path in sorted(folder.glob("*.json")) if folder.exists() else []:
            out.append((path, json.loads(path.read_text("utf-8"))))
    out.sort(key=lambda pm: pm[1]["started_at"])
    return out


def known_procedures(sessions: Sequence[tuple[Path, dict]]) -> dict[tuple[str, str], Known]:
    """(province, procedure) -> its latest dossier count and its latest capture per month,
    from the complete procedures of earlier crawls."""
    dossiers: dict[tuple[str, str], tuple[str, int | None]] = {}
    captured: dict[tuple[str, str], dict[date, datetime]] = {}
    for _path, manifest in sessions:
        month = date.fromisoformat(f"{manifest['month']}-01")
        for p in manifest.get("procedures", []):
            if not p.get("complete"):
                continue
            key = (p["province"], p["procedure_id"])
            at = datetime.fromisoformat(p["captured_at"])
            per_month = captured.setdefault(key, {})
            if month not in per_month or at > per_month[month]:
                per_month[month] = at
            if key not in dossiers or p["captured_at"] >= dossiers[key][0]:
                dossiers[key] = (p["captured_at"], p.get("dossiers"))
    return {key: Known(dossiers.get(key, (None, None))[1], captured[key]) for key in captured}


def spent_tonight(sessions: Sequence[tuple[Path, dict]], now: datetime) -> int:
    """Requests the procedure crawls already sent on ``now``'s night (Vietnam date)."""
    night = now.astimezone(VIETNAM).date()
    return sum(int(m.get("requests", 0)) for _p, m in sessions
               if datetime.fromisoformat(m["started_at"]).astimezone(VIETNAM).date() == night)


@dataclass(frozen=True)
class ProvinceMonth:
    """What the month's group crawl says of a province: its id, units and dossiers."""

    code: str
    province_id: str
    units: frozenset[str]
    received: int | None
    pages: int = len(PROCEDURE_GROUPS)  # requests the five groups took for the province


def province_month(store: RawStore, month: date, code: str) -> ProvinceMonth | None:
    """From the month's latest complete group crawl: the province's TDGQ answer."""
    found = latest_complete_session(store, month)
    if found is None:
        return None
    names = {GROUP_ENDPOINTS[g].name for g in PROCEDURE_GROUPS}
    mine = [c for c in found[1]["captures"] if c["province_code"] == code
            and c["http_status"] in (200, 201) and not c.get("formality_id")]
    for c in mine:
        if c["endpoint"] == TDGQ:
            doc = json.loads(store.read_verified(c))
            data = doc["data"]
            units = {str(ch.get("departmentId")) for ch in data.get("children") or []}
            units.add(str(c["province_id"]))
            pages = sum(1 for m in mine if m["endpoint"] in names)
            return ProvinceMonth(code, str(c["province_id"]), frozenset(units),
                                 data["parent"].get("totalReceived"),
                                 max(pages, len(PROCEDURE_GROUPS)))
    return None


# --- the night's crawl ------------------------------------------------------------------

@dataclass
class MonthCoverage:
    province_received: int | None
    covered_received: int
    procedures: int

    @property
    def share(self) -> float | None:
        if not self.province_received:
            return None
        return round(self.covered_received / self.province_received, 4)


@dataclass
class ProcedureRun:
    budget: int
    spent_before: int
    requests: int = 0
    planned: list[Planned] = field(default_factory=list)
    crawled: list[dict] = field(default_factory=list)  # complete procedures
    manifests: list[Path] = field(default_factory=list)
    coverage: dict[str, dict[str, MonthCoverage]] = field(default_factory=dict)  # month->prov
    notes: list[str] = field(default_factory=list)
    stopped_by_budget: bool = False


def crawl_procedures(client: PortalClient, store: RawStore, provinces: Sequence[str],
                     months: Sequence[date], *, budget: int, now: datetime | None = None,
                     log: Callable[[str], None] | None = None) -> ProcedureRun:
    """Plan and fetch tonight's procedures; the budget counts every request sent
    (retries too) together with those the procedure crawls sent earlier tonight."""
    now = now or datetime.now(UTC)
    sessions = procedure_sessions(store)
    spent = spent_tonight(sessions, now)
    run = ProcedureRun(budget=budget, spent_before=spent)
    found = latest_catalogue(store)
    if found is None:
        run.notes.append("no procedure catalogue yet: run refresh_procedure_catalogue first")
        return run
    catalogue = procedures_of(found[1])
    slots, info = [], {}
    for month in months:
        for code in provinces:
            pm = province_month(store, month, code)
            if pm is None:
                run.notes.append(f"{month_key(month)} {code}: no complete group crawl of "
                                 "the province this month (refresh_months; is it in "
                                 "CHISO_PROVINCES?); its procedures wait for one")
                continue
            info[(code, month)] = pm
            slots.append(Slot(code, month, pm.units, pm.pages))
    run.planned = plan_procedure_requests(catalogue, slots, known_procedures(sessions),
                                          budget=budget - spent, now=now)
    client.budget = RequestBudget(max(0, budget - spent))
    try:
        for month in sorted({p.month for p in run.planned}, reverse=True):
            todo = [p for p in run.planned if p.month == month]
            path = _crawl_month(client, store, month, todo, info, run, log)
            run.manifests.append(path)
            if run.stopped_by_budget:
                break
    finally:
        run.requests = client.budget.used
        client.budget = None
    for month in months:
        run.coverage[month_key(month)] = month_coverage(store, month, info, provinces)
    return run


def _crawl_month(client: PortalClient, store: RawStore, month: date, todo: list[Planned],
                 info: dict, run: ProcedureRun, log) -> Path:
    client.start_crawl()
    session = CaptureSession(store, month, SOURCE, folder=PROCEDURE_SESSIONS)
    session.extra.update({"client": client.description, "budget": run.budget,
                          "spent_before": run.spent_before})
    used_before = client.budget.used
    done: list[dict] = []
    incomplete = []
    status, error = "complete", None
    try:
        for planned in todo:
            pm: ProvinceMonth = info[(planned.province, month)]
            first = len(session.captures)
            try:
                for group in PROCEDURE_GROUPS:
                    endpoint = GROUP_ENDPOINTS[group]
                    if log:
                        log(f"{month_key(month)} {pm.code} {planned.code}: {endpoint.name}")
                    client.fetch(endpoint, month, province_id=pm.province_id,
                                 province=f"{pm.code} procedure {planned.code}",
                                 formality_id=planned.procedure_id,
                                 on_response=lambda r, pm=pm: session.keep(
                                     r, province_code=pm.code, province_id=pm.province_id))
            except PortalBudgetSpent:
                incomplete += session.captures[first:]
                del session.captures[first:]
                run.stopped_by_budget = True
                done.append(_entry(planned, [], False))
                break
            except BaseException:
                incomplete += session.captures[first:]
                del session.captures[first:]
                done.append(_entry(planned, [], False))
                raise
            mine = session.captures[first:]
            entry = _entry(planned, mine, True, store)
            done.append(entry)
            run.crawled.append(entry)
    except BaseException as exc:
        status, error = "failed", f"{type(exc).__name__}: {exc}".rstrip(": ")
        raise
    finally:
        session.extra.update({
            "requests": client.budget.used - used_before,
            "stopped_by_budget": run.stopped_by_budget,
            "procedures": done,
            "incomplete_captures": [asdict(c) for c in incomplete],
        })
        coverage = month_coverage(store, month, info, sorted({p.province for p in todo}),
                                  extra=done)
        session.extra["coverage"] = {code: {**asdict(cov), "procedure_coverage": cov.share}
                                     for code, cov in coverage.items()}
        path = session.finish(status, error)
    return path


def _entry(planned: Planned, captures: list, complete: bool, store: RawStore | None = None
           ) -> dict:
    dossiers, captured_at = None, None
    for c in captures:
        captured_at = captured_at or c.captured_at
        if c.endpoint == TDGQ and store is not None:
            dossiers = procedure_received(store.read_verified(asdict(c)))
    return {"province": planned.province, "procedure_id": planned.procedure_id,
            "code": planned.code, "reason": planned.reason, "complete": complete,
            "dossiers": dossiers, "captured_at": captured_at}


def month_coverage(store: RawStore, month: date, info: dict, provinces: Sequence[str],
                   extra: Sequence[dict] = ()) -> dict[str, MonthCoverage]:
    """Per province: the dossiers of the procedures captured this month (each procedure's
    latest complete capture) against the province's TDGQ received."""
    latest: dict[tuple[str, str], tuple[str, int]] = {}
    entries = [p for _path, m in procedure_sessions(store, month)
               for p in m.get("procedures", [])] + list(extra)
    for p in entries:
        if p.get("complete") and p.get("dossiers") is not None:
            key = (p["province"], p["procedure_id"])
            if key not in latest or p["captured_at"] >= latest[key][0]:
                latest[key] = (p["captured_at"], p["dossiers"])
    out = {}
    for code in provinces:
        pm = info.get((code, month)) or province_month(store, month, code)
        mine = [d for (prov, _pid), (_at, d) in latest.items() if prov == code]
        out[code] = MonthCoverage(pm.received if pm else None, sum(mine), len(mine))
    return out
