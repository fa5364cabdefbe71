"""One month's crawl: the national summary, then the six group endpoints per province."""

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from assets.domain.provinces import (
    PROVINCES_FILE,
    code_of_department,
    province_reference,
    resolve_province,
)
from assets.months import Era, era_of, expected_province_count, month_key
from assets.sources.endpoints import GROUP_ENDPOINTS, LEGACY, NATIONAL
from assets.sources.portal import (
    FetchedPage,
    PortalBadResponse,
    PortalClient,
    RequestContext,
    page_rows,
)

from .store import CaptureSession, RawStore


@dataclass
class CrawlResult:
    month: date
    manifest_path: Path
    provinces: list[str]
    responses: int
    new_files: int
    bytes: int


def crawl_month(client: PortalClient, store: RawStore, month: date,
                provinces: tuple[str, ...] | None, log=None) -> CrawlResult:
    """Fetch and keep everything for one month; the manifest says whether it completed."""
    client.start_crawl()  # CHISO_CRAWL_DEADLINE_S counts from here, for this month
    if era_of(month) is Era.PRE_MERGER:
        return crawl_legacy_month(client, store, month, provinces, log)
    session = CaptureSession(store, month, client.description)
    try:
        summary = client.fetch(
            NATIONAL, month,
            on_response=lambda r: session.keep(r, province_code="national", province_id=None),
        )
        listed = listed_provinces(summary, month)
        by_code = {row["departmentCode"]: row for row in listed}
        if provinces is None:
            selected = listed
        else:
            missing = [c for c in provinces if c not in by_code]
            if missing:
                ctx = RequestContext(NATIONAL, month, "national")
                raise ctx.error(PortalBadResponse,
                                f"CHISO_PROVINCES names {missing}, not in the national summary")
            selected = [by_code[c] for c in provinces]
        for prov in selected:
            code, pid = prov["departmentCode"], prov["departmentId"]
            label = f"{code} {prov.get('departmentName', '')}".strip()
            for endpoint in GROUP_ENDPOINTS.values():
                if log:
                    log(f"{month_key(month)} {label}: {endpoint.name}")
                client.fetch(
                    endpoint, month, province_id=pid, province=label,
                    on_response=lambda r, c=code, p=pid: session.keep(r, province_code=c,
                                                                      province_id=p),
                )
    except BaseException as exc:
        session.finish("failed", f"{type(exc).__name__}: {exc}".rstrip(": "))
        raise
    path = session.finish("complete")
    return CrawlResult(
        month=month, manifest_path=path,
        provinces=[p["departmentCode"] for p in selected],
        responses=len(session.captures),
        new_files=sum(not c.reused for c in session.captures),
        bytes=sum(c.bytes for c in session.captures),
    )


def listed_provinces(summary: list[FetchedPage], month: date) -> list[dict]:
    """The national summary's province rows, each with its ``departmentCode``: the
    portal's, or when it sends none, the one ref.provinces has for the ``departmentId``
    (an id we do not know stops the crawl). An answer without pagination is one complete
    page, so it must list the era's number of provinces."""
    ctx = RequestContext(NATIONAL, month, "national")
    path = str(getattr(summary[-1].saved, "path", "") or "") or None
    rows = []
    for row in (r for page in summary for r in page_rows(page.data)):
        code = row.get("departmentCode") if isinstance(row, dict) else None
        if not code and isinstance(row, dict):
            code = code_of_department(str(row.get("departmentId")))
            if code is None:
                raise ctx.error(PortalBadResponse,
                                f"departmentId {row.get('departmentId')} "
                                f"({row.get('departmentName')}) has no departmentCode and is "
                                f"not in {PROVINCES_FILE}", path)
            row = {**row, "departmentCode": code}
        rows.append(row)
    expected = expected_province_count(month)
    if summary[0].data.get("pagination") is None and len(rows) != expected:
        raise ctx.error(PortalBadResponse,
                        f"the national summary has no pagination and lists {len(rows)} "
                        f"provinces; the era has {expected}", path)
    return rows


def crawl_legacy_month(client: PortalClient, store: RawStore, month: date,
                       provinces: tuple[str, ...] | None, log=None) -> CrawlResult:
    """A month before the merger, from the legacy service: the 63 provinces, then the
    units of each old province that became part of a configured (34-era) province."""
    session = CaptureSession(store, month, client.description)
    try:
        ranking = client.fetch(
            LEGACY, month,
            on_response=lambda r: session.keep(r, province_code="national", province_id=None))
        listed = ranking[0].data["rows"]
        wanted = set(provinces) if provinces is not None else None
        unknown = sorted(wanted - {p.key for p in province_reference() if p.era == Era.MERGED}) \
            if wanted else []
        if unknown:
            ctx = RequestContext(LEGACY, month, "national")
            raise ctx.error(PortalBadResponse, f"CHISO_PROVINCES names {unknown}, not a "
                            "province code of data/reference/provinces.json")
        selected = []
        for row in listed:
            old = resolve_province(str(row["TEN"]), month)
            if old is None:
                # validation names it with the file; the crawl keeps going
                continue
            if wanted is None or old.successor in wanted:
                selected.append((old, row))
        for old, row in selected:
            slug = old.key.removeprefix("old:")
            if log:
                log(f"{month_key(month)} {old.name}: {LEGACY.name} units")
            client.fetch(
                LEGACY, month, province_id=str(row["ID"]), province=old.name,
                on_response=lambda r, c=slug, i=str(row["ID"]): session.keep(
                    r, province_code=c, province_id=i))
    except BaseException as exc:
        session.finish("failed", f"{type(exc).__name__}: {exc}".rstrip(": "))
        raise
    path = session.finish("complete")
    return CrawlResult(
        month=month, manifest_path=path, provinces=[old.key for old, _ in selected],
        responses=len(session.captures),
        new_files=sum(not c.reused for c in session.captures),
        bytes=sum(c.bytes for c in session.captures),
    )
