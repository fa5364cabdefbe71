"""Portal clients: one interface, a live HTTP implementation and a replay one.

Both share the envelope checks and the pagination walk; only ``send`` differs, so
the pipeline never knows which it has. Every response, good or bad, is handed to
``on_response`` *before* it is judged, so the raw layer keeps it.
"""

import email.utils
import json
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import requests

from .endpoints import (
    DEFAULT_PAGE_SIZE,
    Endpoint,
    month_key,
    month_payload,
    replay_relpath,
)


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

    @abstractmethod
    def send(self, endpoint: Endpoint, payload: dict, ctx: RequestContext,
             keep: OnResponse | None = None) -> PortalResponse:
        """Perform one request; raise PortalUnavailable/PortalRejected when there is no answer.

        ``keep`` receives the answers that are not returned (a 503 before a retry, a 403
        refusal), so the raw layer keeps them too; the returned one is the caller's.
        """

    def fetch(self, endpoint: Endpoint, month: date, *, province_id: str | None = None,
              province: str = "national", on_response: OnResponse | None = None,
              page_size: int = DEFAULT_PAGE_SIZE) -> list[FetchedPage]:
        """Every page of one month of one endpoint, checked against the portal's own count."""
        ctx = RequestContext(endpoint, month, province, self.refusal_advice)
        pages: list[FetchedPage] = []
        page = 1
        while True:
            payload = month_payload(endpoint, month, province_id=province_id, page=page,
                                    page_size=page_size)
            resp = self.send(endpoint, payload, ctx, keep=on_response)
            saved = on_response(resp) if on_response else None
            raw_path = getattr(saved, "path", None)
            decode = decode_legacy if endpoint.shape == "legacy" else decode_envelope
            data = decode(resp, ctx, str(raw_path) if raw_path else None)
            pages.append(FetchedPage(resp, data, saved))
            if not endpoint.paginated:
                break
            total_pages = declared_pages(endpoint, data, ctx, raw_path)
            if page >= total_pages:
                break
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
    rows = data.get("evaluation")
    return rows if isinstance(rows, list) else []


def check_row_count(pages: list[FetchedPage], ctx: RequestContext) -> None:
    """Rows fetched must equal the portal's own ``pagination.total``, with no unit twice."""
    declared = (pages[-1].data.get("pagination") or {}).get("total")
    ids = [row.get("departmentId") for p in pages for row in page_rows(p.data)]
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
        dupes = sorted({i for i in ids if ids.count(i) > 1})[:5]
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


class LivePortalClient(PortalClient):
    """POSTs JSON to a server that speaks the portal API, politely and with retries.

    ``transport`` (e.g. assets.sources.browser_transport.BrowserTransport) replaces the one
    point that sends a request and returns its answer; the pause, the single request in
    flight, the retries, the raw capture and the stop rules stay here, shared.
    """

    refusal_advice = PLAIN_REFUSED_ADVICE

    def __init__(self, base_url: str, *, timeout_s: float = 60.0, connect_timeout_s: float = 10.0,
                 max_attempts: int = 5, backoff_s: float = 2.0, max_backoff_s: float = 300.0,
                 pause_s: float = 1.0, token: str | None = None,
                 sleep: Callable[[float], None] = time.sleep, transport=None):
        self.base_url = base_url.rstrip("/")
        self.description = f"portal at {self.base_url}"
        self.transport = transport
        if transport is not None:
            self.description += f" ({transport.description})"
            self.refusal_advice = transport.refusal_advice
        self.timeout = (connect_timeout_s, timeout_s)
        self.max_attempts = max(1, max_attempts)
        self.backoff_s, self.max_backoff_s, self.pause_s = backoff_s, max_backoff_s, pause_s
        self._sleep = sleep
        self._session = requests.Session()
        self._session.headers["Accept"] = "application/json"
        if token:
            # Never logged: the session keeps it, messages only name the URL.
            self._session.headers["Authorization"] = f"Bearer {token}"
        self._lock = threading.Lock()  # at most one request in flight
        self._last_request = 0.0

    def _wait_turn(self) -> None:
        gap = self.pause_s - (time.monotonic() - self._last_request)
        if gap > 0:
            self._sleep(gap)

    def _post(self, url: str, endpoint: Endpoint, payload: dict):
        """Send one request; the answer has ``status_code``, ``headers``, ``content``, ``url``."""
        if self.transport is not None:
            return self.transport.post(url, payload, form_encoded=endpoint.form_encoded,
                                       timeout_s=self.timeout[1])
        if endpoint.form_encoded:
            form = {"params": json.dumps(payload, ensure_ascii=False)}
            return self._session.post(url, data=form, timeout=self.timeout)
        return self._session.post(url, json=payload, timeout=self.timeout)

    def close(self) -> None:
        self._session.close()
        if self.transport is not None:
            self.transport.close()

    def send(self, endpoint: Endpoint, payload: dict, ctx: RequestContext,
             keep: OnResponse | None = None) -> PortalResponse:
        url = self.base_url + endpoint.path
        last_problem = "no attempt made"
        resets = 0
        with self._lock:
            for attempt in range(1, self.max_attempts + 1):
                self._wait_turn()
                self._last_request = time.monotonic()
                delay = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
                try:
                    r = self._post(url, endpoint, payload)
                except (requests.ConnectionError, requests.Timeout,
                        requests.exceptions.ChunkedEncodingError,
                        requests.exceptions.ContentDecodingError, NoAnswer) as exc:
                    # refused, reset (also mid-body), timed out: worth another attempt
                    last_problem = f"{type(exc).__name__}: {exc}"
                    resets += was_reset(exc)
                else:
                    resp = PortalResponse(endpoint, url, payload, r.status_code,
                                          r.headers.get("Content-Type", ""), r.content,
                                          datetime.now(UTC))
                    refused = r.status_code in (401, 403)
                    if refused or r.status_code == 429 or r.status_code >= 500:
                        saved = keep(resp) if keep else None
                        raw_path = getattr(saved, "path", None)
                        raw_path = str(raw_path) if raw_path else None
                    if refused:
                        raise ctx.error(PortalRejected,
                                        f"HTTP {r.status_code}: the portal refused the request; "
                                        "crawl stopped", raw_path)
                    if r.status_code == 429 or r.status_code >= 500:
                        last_problem = f"HTTP {r.status_code}"
                        if raw_path:
                            last_problem += f", kept at {raw_path}"
                        wait = _retry_after_seconds(r.headers.get("Retry-After"))
                        if wait is not None:
                            delay = min(self.max_backoff_s, wait)
                    else:
                        return resp
                if attempt < self.max_attempts:
                    self._sleep(delay)
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


class ReplayPortalClient(PortalClient):
    """Serves recorded responses from a directory laid out by ``replay_relpath``."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.description = f"recorded responses in {self.directory}"
        index_path = self.directory / "index.json"
        self._index = json.loads(index_path.read_text("utf-8")) if index_path.exists() else {}

    def send(self, endpoint: Endpoint, payload: dict, ctx: RequestContext,
             keep: OnResponse | None = None) -> PortalResponse:
        rel = replay_relpath(endpoint, payload)
        path = self.directory / rel
        if not path.is_file():
            raise ctx.error(PortalUnavailable, f"no recorded response at {path}")
        return PortalResponse(endpoint, f"replay:{rel}", payload, 201,
                              "application/json; charset=utf-8", path.read_bytes(),
                              datetime.now(UTC), origin=dict(self._index.get(rel, {})))
