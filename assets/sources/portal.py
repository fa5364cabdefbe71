"""Portal clients: one interface, a live HTTP implementation and a replay one.

Both share the envelope checks and the pagination walk; only ``send`` differs, so
the pipeline never knows which it has. Every response, good or bad, is handed to
``on_response`` *before* it is judged, so the raw layer keeps it.
"""

import email.utils
import gzip
import hashlib
import json
import math
import threading
import time
import urllib.parse
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import requests
import urllib3

from assets.months import month_key
from assets.redact import redact, register_secret
from assets.settings import clean_token

from .endpoints import DEFAULT_PAGE_SIZE, Endpoint, month_payload, replay_relpath


@dataclass
class PortalResponse:
    endpoint: Endpoint
    url: str
    payload: dict
    status: int
    content_type: str
    body: bytes
    captured_at: datetime
    origin: dict = field(default_factory=dict)  # what a replay knows of the recording
    final_url: str = ""  # where the answer came from after same-host redirects ("" = url)
    content_encoding: str = ""  # the Content-Encoding header as received
    undecoded: bool = False  # body holds the bytes as received: they could not be decoded
    decode_error: str = ""
    retry_after: str | None = None  # the Retry-After header of a 429/503


@dataclass
class FetchedPage:
    response: PortalResponse
    data: dict
    saved: object = None  # whatever on_response returned (the raw capture record)


class PortalError(Exception):
    """A failed request, described so the person on call knows where to look."""

    retryable = False

    def __init__(self, endpoint: str, period: str, province: str, detail: str,
                 raw_path: str | None = None):
        detail = redact(detail)  # a second line of defence: no message carries the token
        self.endpoint, self.period, self.province, self.detail = endpoint, period, province, detail
        self.raw_path = raw_path
        where = f"endpoint {endpoint}, period {period}, province {province}"
        kept = f"; raw response kept at {raw_path}" if raw_path else ""
        super().__init__(f"{detail} ({where}{kept})")


class PortalUnavailable(PortalError):
    """Network errors, 5xx or 429 after every retry: worth another try later."""

    retryable = True


class PortalRejected(PortalError):
    """401/403: the portal refuses us. Stop the whole crawl; do not hammer."""


class PortalBadResponse(PortalError):
    """An answer that is not the data we asked for (HTML, broken JSON, wrong counts)."""


class PortalBoundExceeded(PortalError):
    """The crawl went past one of its bounds (page cap, repeated page, crawl deadline).
    Not retried: asking again would only repeat it."""


class PortalRedirectRefused(PortalError):
    """The portal redirected the request to another host: nothing is fetched from there."""


class PortalTLSError(PortalError):
    """The TLS handshake failed (certificate, protocol): not an outage, not retried."""


class PortalBudgetSpent(PortalBoundExceeded):
    """The request budget (CHISO_PROCEDURE_BUDGET) is spent: no request was sent."""


class RequestBudget:
    """At most ``limit`` requests (every attempt counts, retries included): the one that
    would pass it is not sent. Shared by every fetch it is given to."""

    def __init__(self, limit: int):
        self.limit, self.used = max(0, int(limit)), 0

    @property
    def left(self) -> int:
        return self.limit - self.used

    def spend(self, ctx: "RequestContext", what: str) -> None:
        if self.used >= self.limit:
            raise ctx.error(PortalBudgetSpent,
                            f"request budget spent: {self.used} of {self.limit} requests "
                            f"used; stopped before {what}")
        self.used += 1


class NoAnswer(Exception):
    """A transport got no HTTP answer (refused, reset, timed out): worth another attempt.
    ``reset`` marks a connection the other end closed or reset, as a firewall does."""

    def __init__(self, detail: str, reset: bool = False):
        super().__init__(detail)
        self.reset = reset


# Said when the portal refuses or resets the plain transport (the browser transport has its own).
PLAIN_REFUSED_ADVICE = (
    "The portal may be refusing scripted requests from this network. Two ways forward "
    "(docs/operations.md, 'Three ways in'): set CHISO_PORTAL_TRANSPORT=browser to send the "
    "same requests from a headless Chromium on the portal's public page, or save the "
    "portal's evaluation pages from a browser as a HAR and drop the .har in <data>/inbox/.")


@dataclass
class RequestContext:
    endpoint: Endpoint
    month: date
    province: str  # code or label, for messages
    advice: str = ""  # the client's way forward when the portal refuses it

    def error(self, cls: type[PortalError], detail: str, raw_path: str | None = None):
        if cls is PortalRejected and self.advice:
            detail = f"{detail}. {self.advice}"
        return cls(self.endpoint.name, month_key(self.month), self.province, detail, raw_path)


OnResponse = Callable[[PortalResponse], object]


class PortalClient(ABC):
    description: str
    refusal_advice: str = ""  # appended to every refusal (PortalRejected) it raises
    crawl_deadline_s: float | None = None  # wall time allowed to one crawl (start_crawl)
    budget: RequestBudget | None = None  # when set, every request attempt spends one
    _crawl_ends: float | None = None
    _crawl_started: float | None = None

    @abstractmethod
    def send(self, endpoint: Endpoint, payload: dict, ctx: RequestContext,
             keep: OnResponse | None = None) -> PortalResponse:
        """Perform one request; raise PortalUnavailable/PortalRejected when there is no answer.

        ``keep`` receives the answers that are not returned (a 503 before a retry, a 403
        refusal), so the raw layer keeps them too; the returned one is the caller's.
        """

    def start_crawl(self) -> None:
        """Start the clock of one crawl (one month): past ``crawl_deadline_s`` no request
        is sent and the crawl fails."""
        self._crawl_started = time.monotonic()
        self._crawl_ends = (None if self.crawl_deadline_s is None
                            else self._crawl_started + self.crawl_deadline_s)

    def spend_request(self, ctx: RequestContext, what: str) -> None:
        """Before each attempt: the crawl deadline, then the request budget, if any."""
        self.check_crawl_deadline(ctx, what)
        if self.budget is not None:
            self.budget.spend(ctx, what)

    def check_crawl_deadline(self, ctx: RequestContext, what: str) -> None:
        if self._crawl_ends is not None and time.monotonic() >= self._crawl_ends:
            spent = time.monotonic() - (self._crawl_started or 0.0)
            raise ctx.error(PortalBoundExceeded,
                            f"crawl deadline: the crawl has run {spent:.1f} s, past "
                            f"CHISO_CRAWL_DEADLINE_S={self.crawl_deadline_s:g}; stopped before "
                            f"{what}")

    def fetch(self, endpoint: Endpoint, month: date, *, province_id: str | None = None,
              province: str = "national", on_response: OnResponse | None = None,
              page_size: int = DEFAULT_PAGE_SIZE,
              formality_id: str | None = None) -> list[FetchedPage]:
        """Every page of one month of one endpoint (filtered to one procedure when
        ``formality_id`` is given), checked against the portal's own count.

        Bounded: at most ``page_cap`` pages (from page 1's declared total), and a page that
        repeats an earlier one stops the walk."""
        ctx = RequestContext(endpoint, month, province, self.refusal_advice)
        pages: list[FetchedPage] = []
        seen = PageHistory()
        cap = None
        page = 1
        while True:
            self.check_crawl_deadline(ctx, f"page {page}")
            payload = month_payload(endpoint, month, province_id=province_id, page=page,
                                    page_size=page_size, formality_id=formality_id)
            resp = self.send(endpoint, payload, ctx, keep=on_response)
            saved = on_response(resp) if on_response else None
            raw_path = getattr(saved, "path", None)
            raw_path = str(raw_path) if raw_path else None
            decode = decode_legacy if endpoint.shape == "legacy" else decode_envelope
            data = decode(resp, ctx, raw_path)
            seen.check(page, resp.body, page_rows(data), ctx, raw_path)
            pages.append(FetchedPage(resp, data, saved))
            if not endpoint.paginated:
                break
            total_pages = declared_pages(endpoint, data, ctx, raw_path)
            if page >= total_pages:
                break
            if cap is None:  # the FIRST page's declared total sets the cap
                cap = page_cap(data.get("pagination") or {}, len(page_rows(data)), page_size)
            if page + 1 > cap:
                raise ctx.error(PortalBoundExceeded, cap_message(pages[0].data, total_pages,
                                                                 cap, page_size), raw_path)
            page += 1
        if endpoint.paginated and pages[0].data.get("pagination") is not None:
            check_row_count(pages, ctx)
        return pages


def declared_pages(endpoint: Endpoint, data: dict, ctx: RequestContext, raw_path) -> int:
    """How many pages the portal says there are. The national summary may come without
    ``pagination`` at all: that answer is one complete page (the crawl then checks it
    lists the era's number of provinces). Anywhere else, or a pagination without an
    integer ``totalPages``, is a bad response."""
    if endpoint.shape == "national" and data.get("pagination", None) is None:
        return 1
    total_pages = (data.get("pagination") or {}).get("totalPages")
    if not isinstance(total_pages, int):
        raise ctx.error(PortalBadResponse, "response has no pagination.totalPages",
                        str(raw_path) if raw_path else None)
    return total_pages


# The walk of a paginated endpoint stops this many pages past what page 1 declared.
PAGE_MARGIN = 2
# Whatever is declared, no endpoint is walked past this many pages (50 000 rows at 50 a page).
MAX_PAGES = 1000


def page_cap(pagination: dict, first_rows: int, asked: int) -> int:
    """How many pages the walk may fetch, from page 1's ``pagination``: its declared total
    divided by the page size served (``pageSize``, else the rows on page 1, else the size
    asked), plus PAGE_MARGIN; without a usable total, page 1's ``totalPages`` plus the
    margin. Never more than MAX_PAGES."""
    total = pagination.get("total")
    size = pagination.get("pageSize")
    if not isinstance(size, int) or size < 1:
        size = first_rows if first_rows > 0 else max(1, asked)
    if isinstance(total, int) and total >= 0:
        pages = max(1, math.ceil(total / size))
    else:
        declared = pagination.get("totalPages")
        pages = declared if isinstance(declared, int) and declared > 0 else 1
    return min(MAX_PAGES, pages + PAGE_MARGIN)


def cap_message(first: dict, total_pages: int, cap: int, asked: int) -> str:
    p1 = first.get("pagination") or {}
    return (f"page cap: the portal now declares totalPages={total_pages}, but page 1 declared "
            f"total={p1.get('total')!r}, totalPages={p1.get('totalPages')!r}, "
            f"pageSize={p1.get('pageSize', asked)!r}, so the walk stops at {cap} pages "
            f"({PAGE_MARGIN} past the declared count)")


class PageHistory:
    """The pages of one walk so far: a page whose bytes (sha256) or rows repeat an earlier
    page's stops the walk; a portal stuck on one page would otherwise be asked forever."""

    def __init__(self):
        self._by_sha: dict[str, int] = {}
        self._by_rows: dict[str, int] = {}

    def check(self, page: int, body: bytes, rows: list, ctx: RequestContext,
              raw_path: str | None) -> None:
        sha = hashlib.sha256(body).hexdigest()
        key = hashlib.sha256(json.dumps(rows, sort_keys=True, ensure_ascii=False,
                                        default=str).encode()).hexdigest()
        if sha in self._by_sha:
            earlier, same = self._by_sha[sha], f"the same bytes (sha256 {sha[:12]})"
        elif key in self._by_rows:
            earlier, same = self._by_rows[key], f"the same {len(rows)} rows"
        else:
            self._by_sha[sha], self._by_rows[key] = page, page
            return
        raise ctx.error(PortalBoundExceeded,
                        f"repeated page: page {page} has {same} as page {earlier}; "
                        f"the walk stopped after {page} requests", raw_path)


def _json_body(resp: PortalResponse, ctx: RequestContext, raw_path: str | None):
    """The decoded JSON of an HTTP 200/201 answer; HTML, rejection pages and broken JSON
    raise, naming what came instead."""
    if resp.status not in (200, 201):
        raise ctx.error(PortalBadResponse, f"HTTP {resp.status}", raw_path)
    head = resp.body.lstrip()[:1]
    if "json" not in resp.content_type.lower() or head == b"<":
        what = "an HTML page" if head == b"<" else f"content type {resp.content_type!r}"
        if looks_like_rejection(resp.body):
            # A firewall's "request rejected" page: we may be blocked. Stop, do not hammer.
            raise ctx.error(PortalRejected,
                            f"HTTP {resp.status} with {what} that rejects the request; "
                            "crawl stopped", raw_path)
        raise ctx.error(PortalBadResponse,
                        f"HTTP {resp.status} but the body is {what}, not JSON", raw_path)
    try:
        return json.loads(resp.body)
    except ValueError as exc:
        raise ctx.error(PortalBadResponse,
                        f"invalid or truncated JSON ({len(resp.body)} bytes): {exc}",
                        raw_path) from None


def decode_envelope(resp: PortalResponse, ctx: RequestContext, raw_path: str | None) -> dict:
    """The ``data`` of a good answer: HTTP 200/201, JSON, ``code == "OK"``, data not empty."""
    doc = _json_body(resp, ctx, raw_path)
    if not isinstance(doc, dict) or doc.get("code") != "OK":
        code = doc.get("code") if isinstance(doc, dict) else type(doc).__name__
        message = doc.get("message") if isinstance(doc, dict) else None
        raise ctx.error(PortalBadResponse,
                        f"envelope code {code!r} (message {message!r}), expected 'OK'", raw_path)
    data = doc.get("data")
    if not isinstance(data, dict) or not data:
        raise ctx.error(PortalBadResponse, "envelope 'data' is empty", raw_path)
    return data


LEGACY_KEYS = ("ID", "TEN")


def decode_legacy(resp: PortalResponse, ctx: RequestContext, raw_path: str | None) -> dict:
    """The legacy JSP service answers a bare JSON array of rows (``ID, TEN, ROW_STT, CKMB,
    …, TONG_SCORE``); it is wrapped as ``{"rows": [...]}``. An empty or non-array answer,
    or rows without ``ID``/``TEN``, is a bad response."""
    doc = _json_body(resp, ctx, raw_path)
    if not isinstance(doc, list):
        kind = type(doc).__name__
        raise ctx.error(PortalBadResponse,
                        f"the legacy service answered a JSON {kind}, expected an array of rows",
                        raw_path)
    if not doc:
        raise ctx.error(PortalBadResponse, "the legacy service answered no rows", raw_path)
    for n, row in enumerate(doc, 1):
        if not isinstance(row, dict) or any(k not in row for k in LEGACY_KEYS):
            raise ctx.error(PortalBadResponse,
                            f"legacy row {n} has no {'/'.join(LEGACY_KEYS)}: {str(row)[:120]}",
                            raw_path)
    return {"rows": doc}


_REJECTION_WORDS = (b"request rejected", b"access denied", b"forbidden", b"blocked")


def looks_like_rejection(body: bytes) -> bool:
    text = body[:4096].lower()
    return any(word in text for word in _REJECTION_WORDS)


def page_rows(data: dict) -> list:
    """The rows of one page: ``evaluation`` (units, provinces) or ``items`` (the catalogue)."""
    rows = data.get("evaluation")
    if rows is None:
        rows = data.get("items")
    return rows if isinstance(rows, list) else []


def check_row_count(pages: list[FetchedPage], ctx: RequestContext) -> None:
    """Rows fetched must equal the portal's own ``pagination.total``, with no unit twice."""
    declared = (pages[-1].data.get("pagination") or {}).get("total")
    key = "id" if ctx.endpoint.shape == "catalogue" else "departmentId"  # a procedure, a unit
    ids = [row.get(key) if isinstance(row, dict) else None
           for p in pages for row in page_rows(p.data)]
    last_path = getattr(pages[-1].saved, "path", None)
    raw_path = str(last_path) if last_path else None
    totals = [(p.data.get("pagination") or {}).get("total") for p in pages]
    if any(t != declared for t in totals):
        raise ctx.error(PortalBadResponse,
                        f"pagination.total changed between pages: {totals}", raw_path)
    if declared != len(ids):
        raise ctx.error(PortalBadResponse,
                        f"fetched {len(ids)} rows in {len(pages)} page(s) but pagination.total "
                        f"says {declared}", raw_path)
    if len(set(ids)) != len(ids):
        dupes = sorted({str(i) for i in ids if ids.count(i) > 1})[:5]
        raise ctx.error(PortalBadResponse,
                        f"the same unit appears on more than one row or page: {dupes}", raw_path)


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # "-0000": UTC, but parsed as a naive datetime
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - datetime.now(UTC)).total_seconds())


class _TooSlow(Exception):
    """The whole answer did not arrive within the response deadline."""


REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 5


def origin_of(url: str) -> str:
    """scheme://host:port of a URL, lowercased, with the default port made explicit."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{port}"


def decode_body(raw: bytes, encoding: str) -> bytes:
    """The body under its Content-Encoding (gzip, deflate or none); ValueError when the
    bytes are not what the header says."""
    codings = [c.strip().lower() for c in encoding.split(",") if c.strip()]
    body = raw
    for coding in reversed(codings):  # applied in order, so undone in reverse
        try:
            if coding in ("gzip", "x-gzip"):
                body = gzip.decompress(body)
            elif coding == "deflate":
                try:
                    body = zlib.decompress(body)
                except zlib.error:
                    body = zlib.decompress(body, -zlib.MAX_WBITS)  # raw deflate
            elif coding != "identity":
                raise ValueError(f"unsupported Content-Encoding {coding!r}")
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"{type(exc).__name__}: {exc}") from None
    return body


class LivePortalClient(PortalClient):
    """POSTs JSON to a server that speaks the portal API, politely and with retries.

    Every answer is read whole within ``timeout_s`` of wall time (not per chunk), kept
    as received when it cannot be decoded, and refused when it redirects to another host.
    No error message ever quotes a header: the token travels in one.

    ``transport`` (e.g. assets.sources.browser_transport.BrowserTransport) replaces the one
    point that sends a request and returns its answer; the pause, the single request in
    flight, the retries, the raw capture and the stop rules stay here, shared.
    """

    refusal_advice = PLAIN_REFUSED_ADVICE

    def __init__(self, base_url: str, *, timeout_s: float = 60.0, connect_timeout_s: float = 10.0,
                 max_attempts: int = 5, backoff_s: float = 2.0, max_backoff_s: float = 300.0,
                 pause_s: float = 1.0, token: str | None = None,
                 crawl_deadline_s: float | None = None,
                 sleep: Callable[[float], None] = time.sleep, verify: bool | str = True,
                 transport=None):
        self.base_url = base_url.rstrip("/")
        self.description = f"portal at {self.base_url}"
        self.transport = transport
        if transport is not None:
            self.description += f" ({transport.description})"
            self.refusal_advice = transport.refusal_advice
        self.timeout_s, self.connect_timeout_s = timeout_s, connect_timeout_s
        self.max_attempts = max(1, max_attempts)
        self.backoff_s, self.max_backoff_s, self.pause_s = backoff_s, max_backoff_s, pause_s
        self.crawl_deadline_s = crawl_deadline_s
        self._sleep = sleep
        self._session = requests.Session()
        self._session.verify = verify
        self._session.trust_env = False  # offline: no proxy, no netrc, no CA bundle from env
        self._session.headers["Accept"] = "application/json"
        self._session.headers["Accept-Encoding"] = "gzip, deflate"  # what decode_body knows
        register_secret(token)
        token = clean_token(token)  # raises TokenError, which never shows the value
        if token:
            # Never logged: the session keeps it, messages only name the URL.
            self._session.headers["Authorization"] = f"Bearer {token}"
        self._lock = threading.Lock()  # at most one request in flight
        self._last_request = 0.0

    def _wait_turn(self) -> None:
        gap = self.pause_s - (time.monotonic() - self._last_request)
        if gap > 0:
            self._sleep(gap)

    def _pause(self, delay: float, ctx: RequestContext, url: str) -> None:
        """The backoff between attempts, unless it would end past the crawl deadline."""
        if self._crawl_ends is not None and time.monotonic() + delay >= self._crawl_ends:
            self.check_crawl_deadline(ctx, f"waiting {delay:g} s to ask {url} again")
            raise ctx.error(PortalBoundExceeded,
                            f"crawl deadline: waiting {delay:g} s before asking {url} again "
                            f"would pass CHISO_CRAWL_DEADLINE_S={self.crawl_deadline_s:g}")
        self._sleep(delay)

    def _post(self, url: str, endpoint: Endpoint, payload: dict) -> requests.Response:
        options = dict(timeout=(self.connect_timeout_s, self.timeout_s), stream=True,
                       allow_redirects=False)
        if endpoint.form_encoded:
            form = {"params": json.dumps(payload, ensure_ascii=False)}
            return self._session.post(url, data=form, **options)
        return self._session.post(url, json=payload, **options)

    def close(self) -> None:
        self._session.close()
        if self.transport is not None:
            self.transport.close()

    def _read_all(self, r: requests.Response, deadline: float) -> bytes:
        """The body exactly as sent (not decoded), read whole before ``deadline``."""
        chunks, size, whole = [], 0, False
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise _TooSlow(size)
                conn = getattr(r.raw, "connection", None)
                sock = getattr(conn, "sock", None)
                if sock is not None:  # no single read may outlast the deadline either
                    sock.settimeout(max(0.05, min(left, self.timeout_s)))
                chunk = r.raw.read1(65536, decode_content=False)
                if not chunk:
                    whole = True
                    return b"".join(chunks)
                chunks.append(chunk)
                size += len(chunk)
        except (urllib3.exceptions.ReadTimeoutError, TimeoutError) as exc:
            raise _TooSlow(size) from exc
        finally:
            if whole:
                r.raw.release_conn()  # read to the end: the connection can be kept alive
            else:
                r.close()  # cut short: this connection is not reused

    def _answer(self, endpoint: Endpoint, payload: dict, ctx: RequestContext, url: str,
                r: requests.Response, final_url: str, raw: bytes) -> PortalResponse:
        encoding = r.headers.get("Content-Encoding", "")
        resp = PortalResponse(endpoint, url, payload, r.status_code,
                              r.headers.get("Content-Type", ""), raw, datetime.now(UTC),
                              final_url=final_url, content_encoding=encoding,
                              retry_after=r.headers.get("Retry-After"))
        if encoding:
            try:
                resp.body = decode_body(raw, encoding)
            except ValueError as exc:
                resp.undecoded = True
                resp.decode_error = str(exc)
        return resp

    def _exchange(self, endpoint: Endpoint, payload: dict, ctx: RequestContext,
                  keep: OnResponse | None) -> PortalResponse:
        """One attempt: the request, same-host redirects, the whole body within the deadline."""
        url = target = self.base_url + endpoint.path
        home = origin_of(self.base_url)
        if self.transport is not None:
            return self._exchange_by_transport(endpoint, payload, ctx, url, home)
        for _hop in range(MAX_REDIRECTS + 1):
            started = time.monotonic()
            deadline = started + self.timeout_s
            if self._crawl_ends is not None:
                deadline = min(deadline, self._crawl_ends)
            r = self._post(target, endpoint, payload)
            raw = self._read_all(r, deadline)
            resp = self._answer(endpoint, payload, ctx, url, r, target, raw)
            location = r.headers.get("Location")
            if r.status_code not in REDIRECTS or not location:
                return resp
            saved = keep(resp) if keep else None
            raw_path = _path_of(saved)
            nxt = urllib.parse.urljoin(target, location)
            if origin_of(nxt) != home:
                raise ctx.error(
                    PortalRedirectRefused,
                    f"HTTP {r.status_code} redirect from {urllib.parse.urlsplit(target).netloc} "
                    f"to another host, {urllib.parse.urlsplit(nxt).netloc or nxt!r}: refused, "
                    "nothing was asked of that host", raw_path)
            target = nxt
        raise ctx.error(PortalBadResponse, f"more than {MAX_REDIRECTS} redirects from {url}")

    def _exchange_by_transport(self, endpoint: Endpoint, payload: dict, ctx: RequestContext,
                               url: str, home: str) -> PortalResponse:
        """One attempt through the transport: it follows redirects itself, so the answer's
        final URL must still be on the portal's host."""
        r = self.transport.post(url, payload, form_encoded=endpoint.form_encoded,
                                timeout_s=self.timeout_s)
        final_url = getattr(r, "url", "") or url
        resp = PortalResponse(endpoint, url, payload, r.status_code,
                              r.headers.get("Content-Type", ""), r.content, datetime.now(UTC),
                              final_url=final_url, retry_after=r.headers.get("Retry-After"))
        if origin_of(final_url) != home:
            raise ctx.error(
                PortalRedirectRefused,
                f"the answer to {urllib.parse.urlsplit(url).netloc} came from another host, "
                f"{urllib.parse.urlsplit(final_url).netloc or final_url!r}: refused")
        return resp

    def send(self, endpoint: Endpoint, payload: dict, ctx: RequestContext,
             keep: OnResponse | None = None) -> PortalResponse:
        url = self.base_url + endpoint.path
        last_problem = "no attempt made"
        resets = 0
        with self._lock:
            for attempt in range(1, self.max_attempts + 1):
                self.spend_request(ctx, f"attempt {attempt} at {url}")
                self._wait_turn()
                self._last_request = time.monotonic()
                delay = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
                try:
                    resp = self._exchange(endpoint, payload, ctx, keep)
                except requests.exceptions.SSLError as exc:
                    # a certificate or protocol failure will not heal by asking again
                    raise ctx.error(PortalTLSError,
                                    f"TLS failure talking to {url}: {_reason(exc)}; not "
                                    "retried (check the certificate, the clock, the URL)") \
                        from None
                except _TooSlow as slow:
                    last_problem = (f"the answer was not complete after {self.timeout_s:g} s "
                                    f"(CHISO_PORTAL_TIMEOUT_S; {slow.args[0]} bytes received)")
                except (requests.ConnectionError, requests.Timeout,
                        requests.exceptions.ChunkedEncodingError,
                        urllib3.exceptions.HTTPError, NoAnswer) as exc:
                    # refused, reset (also mid-body), timed out: worth another attempt
                    last_problem = f"{type(exc).__name__}: {_reason(exc)}"
                    resets += was_reset(exc)
                except requests.RequestException as exc:
                    # e.g. InvalidHeader, InvalidURL: its text may quote a header; not shown
                    raise ctx.error(PortalBadResponse,
                                    f"the request to {url} could not be sent "
                                    f"({type(exc).__name__})") from None
                else:
                    status = resp.status
                    refused = status in (401, 403)
                    failed = status == 429 or status >= 500
                    raw_path = None
                    if refused or failed or resp.undecoded:
                        raw_path = _path_of(keep(resp) if keep else None)
                    if resp.undecoded:
                        raise ctx.error(
                            PortalBadResponse,
                            f"HTTP {status} with Content-Encoding {resp.content_encoding!r} "
                            f"whose {len(resp.body)} bytes could not be decoded "
                            f"({resp.decode_error}); kept as received", raw_path)
                    if refused:
                        raise ctx.error(PortalRejected,
                                        f"HTTP {status}: the portal refused the request; "
                                        "crawl stopped", raw_path)
                    if not failed:
                        return resp
                    last_problem = f"HTTP {status}"
                    if raw_path:
                        last_problem += f", kept at {raw_path}"
                    wait = _retry_after_seconds(resp.retry_after)
                    if wait is not None:
                        delay = min(self.max_backoff_s, wait)
                if attempt < self.max_attempts:
                    self._pause(delay, ctx, url)
        detail = (f"no good answer from {url} after {self.max_attempts} attempts "
                  f"(last: {last_problem})")
        all_reset = resets == self.max_attempts  # every attempt reset: as a firewall does
        if all_reset:
            detail += (f"; the portal closed or reset the connection every time. "
                       f"{self.refusal_advice}")
        error = ctx.error(PortalUnavailable, detail)
        error.all_reset = all_reset
        raise error


_RESET_WORDS = ("ConnectionResetError", "RemoteDisconnected", "Connection reset",
                "Connection aborted")


def was_reset(exc: BaseException) -> bool:
    """True when the other end closed or reset the connection (not a timeout or a refusal)."""
    if isinstance(exc, NoAnswer):
        return exc.reset
    if isinstance(exc, requests.Timeout):
        return False
    return any(word in f"{type(exc).__name__}: {exc!r}" for word in _RESET_WORDS)


def _path_of(saved) -> str | None:
    path = getattr(saved, "path", None)
    return str(path) if path else None


def _reason(exc: BaseException) -> str:
    """The innermost cause of a requests/urllib3 error, without URLs' or headers' noise."""
    inner = exc
    while True:
        nxt = getattr(inner, "reason", None) or inner.__cause__ or inner.__context__
        if nxt is None or nxt is inner or not isinstance(nxt, BaseException):
            break
        inner = nxt
    return redact(f"{type(inner).__name__}: {inner}" if inner is not exc else str(exc))


def recorded_at(origin: dict) -> datetime | None:
    """When a real capture was taken (index.json ``recordedAt``, from the samples'
    manifest): a replay keeps that time, so finality is judged on it. Synthetic answers
    have none (they are stamped with the replay's time)."""
    if origin.get("synthetic", True) or not origin.get("recordedAt"):
        return None
    at = datetime.fromisoformat(origin["recordedAt"])
    return at if at.tzinfo else at.replace(tzinfo=UTC)


class ReplayPortalClient(PortalClient):
    """Serves recorded responses from a directory laid out by ``replay_relpath``."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.description = f"recorded responses in {self.directory}"
        index_path = self.directory / "index.json"
        self._index = json.loads(index_path.read_text("utf-8")) if index_path.exists() else {}

    def send(self, endpoint: Endpoint, payload: dict, ctx: RequestContext,
             keep: OnResponse | None = None) -> PortalResponse:
        self.spend_request(ctx, f"reading {endpoint.name}")
        rel = replay_relpath(endpoint, payload)
        path = self.directory / rel
        if not path.is_file():
            raise ctx.error(PortalUnavailable, f"no recorded response at {path}")
        origin = dict(self._index.get(rel, {}))
        return PortalResponse(endpoint, f"replay:{rel}", payload, 201,
                              "application/json; charset=utf-8", path.read_bytes(),
                              recorded_at(origin) or datetime.now(UTC), origin=origin)
