"""First contact with the portal: one request per endpoint, and what came back.

Run it once when deploying, and again whenever a night fails strangely::

    source scripts/env.sh && python -m tools.probe            # last closed month, H60
    python -m tools.probe --month 2026-08 --province H44

It asks, through the configured transport (CHISO_PORTAL_TRANSPORT: plain or browser),
for the last closed month: the national summary, then the six group endpoints for one
province (CHISO_FOCUS_PROVINCE unless ``--province``). For each it prints the HTTP
status, content type, envelope code, top-level keys, whether there is pagination, the
row count, whether the crawler takes the answer, and whether the staging parser
(assets/staging/parse.py) accepts it, with the reason when not.

Every answer is kept byte for byte under ``<data>/raw/_probe/<timestamp>/`` with a
``probe.json`` listing each request (URL, body, status, content type, sha256) and
verdict; no header but the content type is kept. It is polite like the crawl: the
same pause between requests, one request in flight, and it stops at the first
refusal (401/403, a firewall page) or connection reset on every attempt, without
asking again. Exit status: 0 when every answer is accepted, 1 when some is not, 2
when the portal refused us or reset us.
"""

import argparse
import hashlib
import json
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from assets.domain.provinces import province_reference
from assets.months import Era, current_month, month_key, parse_month, previous_month
from assets.resources import PortalResource
from assets.settings import Settings, load_settings
from assets.sources.endpoints import GROUP_ENDPOINTS, NATIONAL, Endpoint, month_payload
from assets.sources.portal import (
    PortalClient,
    PortalError,
    PortalRejected,
    PortalResponse,
    PortalUnavailable,
    RequestContext,
    decode_envelope,
)
from assets.staging.parse import Rows, parse_capture

ROW_KEYS = ("evaluation", "children", "items")


@dataclass
class Finding:
    endpoint: str
    province: str
    url: str = ""
    request: dict = field(default_factory=dict)
    status: int | None = None
    content_type: str = ""
    envelope_code: str | None = None
    top_level_keys: list[str] = field(default_factory=list)
    data_keys: list[str] = field(default_factory=list)
    pagination: str = "absent"
    rows: int | None = None
    crawler: str = "not asked"
    parser: str = "not asked"
    kept: list[str] = field(default_factory=list)
    sha256: str = ""
    bytes: int = 0

    @property
    def accepted(self) -> bool:
        return self.crawler == "accepted" and self.parser == "accepted"


def province_id(code: str) -> str:
    for p in province_reference():
        if p.era == Era.MERGED and p.code == code:
            return p.department_id
    known = sorted(p.code for p in province_reference() if p.era == Era.MERGED)
    raise SystemExit(f"unknown province code {code!r}; known: {', '.join(known)}")


def _suffix(content_type: str, body: bytes) -> str:
    head = body.lstrip()[:1]
    if "json" in content_type.lower() or head in (b"{", b"["):
        return ".json"
    return ".html" if head == b"<" or "html" in content_type.lower() else ".bin"


class Probe:
    def __init__(self, client: PortalClient, out_dir: Path, month: date, province: str):
        self.client, self.out_dir, self.month, self.province = client, out_dir, month, province
        self.findings: list[Finding] = []
        self._n = 0

    def keep(self, finding: Finding, resp: PortalResponse) -> Path:
        """Keep one answer exactly (also a 503 before a retry, or a refusal)."""
        self._n += 1
        suffix = _suffix(resp.content_type, resp.body)
        path = self.out_dir / f"{self._n:02d}-{finding.endpoint}{suffix}"
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path.write_bytes(resp.body)
        finding.kept.append(path.name)
        return path

    def ask(self, endpoint: Endpoint, province_id: str | None, label: str) -> Finding:
        finding = Finding(endpoint.name, label)
        payload = month_payload(endpoint, self.month, province_id=province_id)
        finding.request = payload
        finding.url = getattr(self.client, "base_url", "") + endpoint.path
        ctx = RequestContext(endpoint, self.month, label, self.client.refusal_advice)
        self.findings.append(finding)
        try:
            resp = self.client.send(endpoint, payload, ctx,
                                    keep=lambda r: _Kept(self.keep(finding, r)))
        except PortalError as exc:
            finding.crawler = f"no: {self.short(exc.detail)}"
            if isinstance(exc, PortalRejected) or getattr(exc, "all_reset", False):
                raise  # refused, or reset like a firewall does: ask no more
            return finding
        finding.url = resp.url
        self.keep(finding, resp)
        self.inspect(finding, resp, ctx)
        return finding

    def short(self, detail: str) -> str:
        """The detail without the way forward, which is printed once at the end."""
        advice = self.client.refusal_advice
        return detail.replace(f". {advice}", "").replace(f" {advice}", "") if advice else detail

    def inspect(self, finding: Finding, resp: PortalResponse, ctx: RequestContext) -> None:
        finding.status, finding.content_type = resp.status, resp.content_type
        finding.sha256, finding.bytes = hashlib.sha256(resp.body).hexdigest(), len(resp.body)
        try:
            doc = json.loads(resp.body)
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            finding.envelope_code = doc.get("code")
            finding.top_level_keys = sorted(doc)
            data = doc.get("data")
            if isinstance(data, dict):
                finding.data_keys = sorted(data)
                pagination = data.get("pagination")
                if isinstance(pagination, dict):
                    finding.pagination = ", ".join(f"{k}={pagination[k]}" for k in
                                                   ("total", "totalPages", "pageSize")
                                                   if k in pagination) or "present"
                rows = next((data[k] for k in ROW_KEYS if isinstance(data.get(k), list)), None)
                finding.rows = len(rows) if rows is not None else None
        try:
            decode_envelope(resp, ctx, None)  # the crawler's own test; refusals raise
        except PortalRejected as exc:
            finding.crawler = f"no: {self.short(exc.detail)}"
            raise
        except PortalError as exc:
            finding.crawler = f"no: {self.short(exc.detail)}"
            return
        finding.crawler = "accepted"
        capture = {"endpoint": finding.endpoint, "province_id": finding.request.get(
            "rootDepartmentId"), "province_code": finding.province.split()[0],
            "captured_at": resp.captured_at.isoformat(), "sha256": finding.sha256,
            "path": str(self.out_dir / finding.kept[-1]), "page": 1,
            "http_status": resp.status, "bytes": finding.bytes}
        try:
            rows = Rows()
            parse_capture(capture, resp.body, rows, self.month)
            rows.frames()
        except Exception as exc:  # noqa: BLE001 - the reason is what the operator needs
            finding.parser = f"no: {type(exc).__name__}: {exc}"
        else:
            finding.parser = "accepted"


@dataclass
class _Kept:
    path: Path


def run(settings: Settings, month: date, province: str, *, attempts: int,
        out: Path | None = None, print_=print) -> tuple[int, Path]:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = out or settings.raw_dir / "_probe" / stamp
    resource = PortalResource(
        url=settings.portal_url, pause_s=settings.portal_pause_s,
        timeout_s=settings.portal_timeout_s, max_attempts=attempts,
        backoff_s=settings.portal_backoff_s, token=settings.portal_token,
        transport=settings.portal_transport, browser_page=settings.portal_browser_page,
        chromium=settings.chromium_path)
    client = resource.client()
    probe = Probe(client, out_dir, month, province)
    print_(f"chiso766 probe: {client.description}, month {month_key(month)}, "
           f"province {province}, transport {settings.portal_transport}")
    refused: PortalError | None = None

    def ask(endpoint: Endpoint, pid: str | None, label: str) -> None:
        try:
            probe.ask(endpoint, pid, label)
        finally:  # printed as it comes, the refused one too
            print_(describe(probe.findings[-1]))

    pid = province_id(province)  # an unknown code fails before any request
    try:
        ask(NATIONAL, None, "national")
        for endpoint in GROUP_ENDPOINTS.values():
            ask(endpoint, pid, province)
    except (PortalRejected, PortalUnavailable) as exc:
        refused = exc
    finally:
        close = getattr(client, "close", None)
        if close:
            close()
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {"probed_at": stamp, "source": client.description,
              "transport": settings.portal_transport, "month": month_key(month),
              "province": province, "refused": str(refused) if refused else None,
              "findings": [asdict(f) for f in probe.findings]}
    (out_dir / "probe.json").write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n",
                                        "utf-8")
    if refused is not None:
        how = "REFUSED" if isinstance(refused, PortalRejected) else "RESET"
        print_(f"{how}, probe stopped after {len(probe.findings)} request(s): "
               f"{probe.short(str(refused))}")
        if client.refusal_advice:
            print_(f"Way forward: {client.refusal_advice}")
        code = 2
    else:
        good = sum(f.accepted for f in probe.findings)
        print_(f"{good} of {len(probe.findings)} answers accepted by the crawler and the "
               "parser")
        code = 0 if good == len(probe.findings) else 1
    print_(f"answers kept in {out_dir} (probe.json lists them)")
    return code, out_dir


def describe(f: Finding) -> str:
    rows = "-" if f.rows is None else f.rows
    return "\n".join((
        f"{f.endpoint} ({f.province})",
        f"  HTTP {f.status or '-'} · {f.content_type or 'no content type'} · "
        f"envelope code {f.envelope_code!r}",
        f"  top-level keys: {', '.join(f.top_level_keys) or '-'} · "
        f"data: {', '.join(f.data_keys) or '-'}",
        f"  pagination: {f.pagination} · rows: {rows}",
        f"  crawler: {f.crawler}",
        f"  parser: {f.parser}",
        f"  kept: {', '.join(f.kept) or 'nothing'}",
    ))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--month", help="YYYY-MM (default: the last closed month)")
    parser.add_argument("--province", help="province code (default: CHISO_FOCUS_PROVINCE)")
    parser.add_argument("--attempts", type=int, default=1,
                        help="attempts per request for 5xx/429/no answer (default 1: see "
                             "exactly what the portal says)")
    parser.add_argument("--despite-safety-stop", action="store_true",
                        help="probe although data/SAFETY_STOP.json says the portal refused us")
    args = parser.parse_args(argv)
    settings = load_settings()
    month = parse_month(args.month) if args.month else previous_month(current_month())
    province = (args.province or settings.focus_province).upper()
    stop = settings.data_dir / "SAFETY_STOP.json"
    if stop.exists() and not args.despite_safety_stop:
        print(f"{stop} exists: the portal refused us earlier. Read it first; to probe anyway "
              "(7 requests, stopping at the first refusal): --despite-safety-stop",
              file=sys.stderr)
        return 2
    code, _ = run(settings, month, province, attempts=max(1, args.attempts))
    return code


if __name__ == "__main__":
    sys.exit(main())
