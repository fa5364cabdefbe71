"""Procedures (thủ tục hành chính, TTHC): the portal's catalogue and which of them to ask.

Pure functions, no HTTP and no Dagster:

- ``parse_catalogue_page``: one ``/formalities`` answer decoded strictly (msgspec) into
  typed items; a field missing or of the wrong type names the file, the page and the field.
- ``procedure_received``: what a filtered TDGQ answer says the procedure received.
- ``plan_procedure_requests``: the night's procedures in priority order under a request
  budget (the crawl in ``assets/raw/procedures.py`` executes the plan).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import msgspec
import polars as pl

from assets.months import final_from
from assets.sources.endpoints import PROCEDURE_GROUPS

# --- the catalogue ------------------------------------------------------------------------


class CatalogueItem(msgspec.Struct):
    id: str
    code: str
    name: str
    state: str
    publishingDepartmentIds: list[str]
    appliedDepartmentIds: list[str]
    departmentId: str | None = None


class CataloguePagination(msgspec.Struct):
    total: int
    currentPage: int
    totalPages: int
    pageSize: int | None = None


class CatalogueData(msgspec.Struct):
    items: list[CatalogueItem]
    pagination: CataloguePagination


class CatalogueAnswer(msgspec.Struct):
    code: str
    data: CatalogueData
    message: str | None = None


_CATALOGUE = msgspec.json.Decoder(CatalogueAnswer)


class CatalogueError(ValueError):
    """A catalogue page that cannot be read: names the file, the page and the field."""


def parse_catalogue_page(body: bytes, *, file: str, page: int) -> CatalogueData:
    try:
        answer = _CATALOGUE.decode(body)
    except msgspec.ValidationError as exc:
        text = str(exc)
        where = text.rsplit(" - at `$.", 1)
        fld = where[1].rstrip("`") if len(where) == 2 else "(the document)"
        raise CatalogueError(f"procedure catalogue {file}, page {page}, field {fld}: "
                             f"{where[0]}") from None
    except msgspec.DecodeError as exc:
        raise CatalogueError(f"procedure catalogue {file}, page {page}: not JSON ({exc})") \
            from None
    if answer.code != "OK":
        raise CatalogueError(f"procedure catalogue {file}, page {page}, field code: "
                             f"{answer.code!r}, expected 'OK'")
    return answer.data


CATALOGUE_SCHEMA = {
    "procedure_id": pl.String, "code": pl.String, "name": pl.String, "state": pl.String,
    "department_id": pl.String, "publishing_department_ids": pl.List(pl.String),
    "applied_department_ids": pl.List(pl.String), "page": pl.Int32,
    "captured_at": pl.Datetime("us", "UTC"), "raw_sha256": pl.String,
}


def catalogue_frame(pages: Sequence[tuple[CatalogueData, int, datetime, str]]) -> pl.DataFrame:
    """One row per procedure from (page data, page number, captured_at, sha256) tuples;
    the rows must equal the portal's own total and no id may repeat."""
    rows = []
    for data, page, captured_at, sha in pages:
        for item in data.items:
            rows.append((item.id, item.code, item.name, item.state, item.departmentId,
                         item.publishingDepartmentIds, item.appliedDepartmentIds, page,
                         captured_at, sha))
    frame = pl.DataFrame(rows, schema=CATALOGUE_SCHEMA, orient="row")
    if pages:
        declared = pages[-1][0].pagination.total
        if frame.height != declared:
            raise CatalogueError(f"procedure catalogue: {frame.height} procedures in "
                                 f"{len(pages)} pages, pagination.total says {declared}")
    dupes = frame.filter(pl.col("procedure_id").is_duplicated())["procedure_id"].unique()
    if dupes.len():
        raise CatalogueError(f"procedure catalogue: ids listed twice: {dupes.to_list()[:5]}")
    return frame


# --- what a filtered answer says --------------------------------------------------------


class _TreeParent(msgspec.Struct):
    totalReceived: int | None = None


class _TreeData(msgspec.Struct):
    parent: _TreeParent


class _TreeAnswer(msgspec.Struct):
    data: _TreeData


_TREE = msgspec.json.Decoder(_TreeAnswer)


def procedure_received(body: bytes) -> int | None:
    """The dossiers a procedure received (its filtered dvc-progress-tree parent's
    ``totalReceived``); None when the answer does not say."""
    try:
        return _TREE.decode(body).data.parent.totalReceived
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


# --- the plan ----------------------------------------------------------------------------

REQUESTS_PER_PROCEDURE = len(PROCEDURE_GROUPS)  # one page each: five filtered groups


@dataclass(frozen=True)
class Procedure:
    id: str
    code: str
    applied: frozenset[str] = frozenset()  # appliedDepartmentIds


@dataclass(frozen=True)
class Known:
    """What earlier captures say of one procedure in one province."""

    dossiers: int | None = None  # TDGQ received in its latest complete capture
    captured: Mapping[date, datetime] = field(default_factory=dict)  # latest, per month


@dataclass(frozen=True)
class Slot:
    """One province in one month: the units it has, its open or final state."""

    province: str  # code
    month: date
    units: frozenset[str]  # departmentIds of the province and its units
    cost: int = REQUESTS_PER_PROCEDURE  # requests one procedure takes (pages included)


@dataclass(frozen=True)
class Planned:
    province: str
    month: date
    procedure_id: str
    code: str
    reason: str  # most_dossiers | applied_here | rotation | refresh


def _staleness(known: Known | None) -> tuple:
    """Never captured first, then the longest since its last capture (any month)."""
    if known is None or not known.captured:
        return (0, datetime.min.isoformat())
    return (1, max(known.captured.values()).isoformat())


def plan_procedure_requests(catalogue: Sequence[Procedure], slots: Sequence[Slot],
                            known: Mapping[tuple[str, str], Known], *, budget: int,
                            now: datetime) -> list[Planned]:
    """The procedures to crawl tonight, in order, within ``budget`` requests.

    The budget is shared by the slots (province × month), newest month first, each
    taking an equal part of what is left (what one does not use passes to the next); a
    procedure costs its slot's ``cost`` requests (five groups, more when the province's
    answers take several pages).
    Within a slot:

    1. ``most_dossiers``: procedures known from earlier captures to hold dossiers in the
       province, most first (at most half of the slot's share, so discovery goes on);
    2. ``applied_here``: not yet captured this month, applied by one of the province's
       units (the catalogue's appliedDepartmentIds), least recently captured first;
    3. ``rotation``: the rest not yet captured this month, least recently captured first;
    4. ``refresh``: with what remains, the known holders past the cap, then the procedures
       already captured this month, least recently first.

    A closed month that is final (``final_from``) keeps the capture taken once it was
    final: that procedure is never asked for it again. ``known`` is keyed by
    (province code, procedure id).
    """
    if any(s.cost < 1 for s in slots):
        raise ValueError("a procedure costs at least one request")
    ordered = sorted(slots, key=lambda s: s.month, reverse=True)
    left = max(0, budget)
    plan: list[Planned] = []
    for n, slot in enumerate(ordered):
        share = left // (len(ordered) - n) // slot.cost  # whole procedures
        chosen = _plan_slot(catalogue, slot, known, share, now)
        plan += chosen
        left -= len(chosen) * slot.cost
    return plan


def _plan_slot(catalogue: Sequence[Procedure], slot: Slot,
               known: Mapping[tuple[str, str], Known], share: int,
               now: datetime) -> list[Planned]:
    if share <= 0:
        return []
    final_at = final_from(slot.month)
    closed = now >= final_at

    def kn(p: Procedure) -> Known | None:
        return known.get((slot.province, p.id))

    def this_month(p: Procedure) -> datetime | None:
        k = kn(p)
        return k.captured.get(slot.month) if k else None

    eligible = [p for p in catalogue
                if not (closed and (this_month(p) or datetime.min.replace(
                    tzinfo=final_at.tzinfo)) >= final_at)]
    holders = sorted((p for p in eligible if (kn(p) and kn(p).dossiers or 0) > 0),
                     key=lambda p: (-kn(p).dossiers, p.code, p.id))
    cap = max(1, share // 2)
    fresh = [p for p in eligible if this_month(p) is None]
    by_staleness = lambda p: (_staleness(kn(p)), p.code, p.id)  # noqa: E731
    tiers = (
        ("most_dossiers", holders[:cap]),
        ("applied_here", sorted((p for p in fresh if p.applied & slot.units),
                                key=by_staleness)),
        ("rotation", sorted(fresh, key=by_staleness)),
        ("refresh", holders[cap:] + sorted((p for p in eligible if this_month(p) is not None),
                                           key=lambda p: (this_month(p), p.code, p.id))),
    )
    out: list[Planned] = []
    taken: set[str] = set()
    for reason, procedures in tiers:
        for p in procedures:
            if len(out) >= share:
                return out
            if p.id not in taken:
                taken.add(p.id)
                out.append(Planned(slot.province, slot.month, p.id, p.code, reason))
    return out
