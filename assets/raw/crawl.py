"""One month's crawl: the national summary, then the six group endpoints per province."""

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from assets.domain.provinces import era_of, province_reference, resolve_province
from assets.sources.endpoints import GROUP_ENDPOINTS, LEGACY, NATIONAL, month_key
from assets.sources.portal import PortalBadResponse, PortalClient, RequestContext, page_rows

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
    if era_of(month) == "63":
        return crawl_legacy_month(client, store, month, provinces, log)
    session = CaptureSession(store, month, client.description)
    try:
        summary = client.fetch(
            NATIONAL, month,
            on_response=lambda r: session.keep(r, province_code="national", province_id=None),
        )
        listed = [row for page in summary for row in page_rows(page.data)]
        by_code = {row.get("departmentCode"): row for row in listed}
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
        unknown = sorted(wanted - {p.key for p in province_reference() if p.era == "34"}) \
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
