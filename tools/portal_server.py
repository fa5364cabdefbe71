"""A local HTTP server that speaks the portal's reporting API from a replay directory.

It answers ``POST /api/v1/reporting/evaluation/<endpoint>`` with the recording that
``replay_relpath`` names, with status 201 like the real portal, and the legacy
``POST /jsp/rest.jsp`` (form field ``params``) with status 200. Per-procedure requests
(``formalityId``, ``formalityID`` on dossier-digitized) get the procedure's recording
(``tools/synthetic_procedures.py`` writes them, the real ones for 2.000815 included),
and ``POST /api/v1/reporting/formalities`` pages of the recorded catalogue cut to the
``pageSize`` asked (and ``max_page_size``). ``server.requests_per_path()`` counts what
was asked, per path. It exists for the
tests of the live client and for trying that client by hand::

    python -m tools.portal_server --dir data/portal-replay --port 8766

In tests::

    with serve(replay_dir, max_page_size=50) as server:
        server.add_fault(Fault("status", status=503))          # next request: 503
        server.add_fault(Fault("status", status=429, headers={"Retry-After": "3"}))
        server.add_fault(Fault("mutate", endpoint="transparency", page=2, mutate=fn))
        client = LivePortalClient(server.url, ...)
        ...
        assert len(server.requests) == 3

    with serve(replay_dir, cookie_gate=True) as server:   # only a browser gets answers
        ...

With ``cookie_gate`` the server behaves like the portal's firewall as seen from a
provincial office: its dashboard page (``DASHBOARD_PATH``, GET) is an HTML page whose
script sets a cookie, and an API POST without that cookie gets its connection reset
(closed with an RST, no answer), as scripted requests do there.

Faults wait in a queue and are consumed in order: each request takes the first
queued fault that matches it (endpoint name, page), at most one per request, and
a fault is used up after ``times`` requests (``None``: never used up). A request
that matches no fault gets the recorded answer. To add a kind, write a
``_fault_<kind>`` method on ``_Handler`` and add the kind to ``FAULT_KINDS``.
"""

import argparse
import json
import math
import os
import secrets
import socket
import ssl
import struct
import subprocess
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from assets.sources.endpoints import (
    DEFAULT_PAGE,
    LEGACY_PATH,
    Endpoint,
    endpoint_for_path,
    formality_of,
    replay_relpath,
)

JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
MAINTENANCE_PAGE = (
    "<!DOCTYPE html>\n<html lang=\"vi\"><head><meta charset=\"utf-8\">"
    "<title>Bảo trì hệ thống</title></head>\n<body><h1>Hệ thống đang bảo trì</h1>"
    "<p>Cổng Dịch vụ công quốc gia đang được nâng cấp. Vui lòng quay lại sau.</p>"
    "</body></html>\n"
).encode()

# The portal's public evaluation dashboard, where the browser transport starts.
DASHBOARD_PATH = DEFAULT_PAGE
GATE_COOKIE = "chiso_test_gate"


def _dashboard_page(cookie_value: str) -> bytes:
    # The cookie is set by the page's script, as firewalls' challenge pages do: a client
    # that does not run the page never gets it.
    return (
        "<!DOCTYPE html>\n<html lang=\"vi\"><head><meta charset=\"utf-8\">"
        "<title>Đánh giá chất lượng phục vụ</title></head>\n<body>"
        "<h1>Bộ chỉ số chỉ đạo, điều hành và đánh giá chất lượng phục vụ</h1>\n"
        f"<script>document.cookie = \"{GATE_COOKIE}={cookie_value}; path=/; "
        "SameSite=Strict\";\n"
        # like the real dashboard, it queries the API itself as it loads
        "fetch(\"/api/v1/reporting/evaluation/service-results\", {method: \"POST\", headers: "
        "{\"Content-Type\": \"application/json\"}, body: JSON.stringify({timeType: "
        "\"month\", year: 2026, month: 8, departmentType: \"ADMINISTRATIVE_UNIT\", "
        "currentPage: 1, pageSize: 50})}).catch(() => {});</script>\n</body></html>\n"
    ).encode()


FAULT_KINDS = ("status", "html_200", "body", "truncate", "mutate", "drop_connection", "delay",
               "reset_mid_body", "endless_pages", "stuck_page", "trickle", "redirect",
               "bad_gzip", "signal")


@dataclass
class Fault:
    """One scripted misbehaviour. Only the fields its kind uses matter.

    - ``status``: answer ``status`` with ``body`` (default: a small JSON error)
      of ``content_type`` and extra ``headers`` (e.g. ``{"Retry-After": "3"}``).
    - ``html_200``: a maintenance HTML page (or ``body``) with status 200, text/html.
    - ``body``: ``body`` bytes as ``content_type`` with ``status`` (default 201).
    - ``truncate``: the real answer cut in half (a complete HTTP message whose
      JSON is broken).
    - ``mutate``: ``mutate(doc)`` changes the decoded real answer (in place, or
      returns a replacement) before it is served.
    - ``drop_connection``: read the request, then close the socket unanswered.
    - ``delay``: wait ``seconds`` before giving the real answer.
    - ``reset_mid_body``: promise the real answer's length, send half of it, close.
    - ``endless_pages``: the real page 1's rows, renamed so every page's rows are new,
      under a ``totalPages`` (and total) that is always one more than the page asked.
    - ``stuck_page``: page 1's answer, byte for byte, whatever page is asked, declaring
      ``totalPages`` = 1 000 000.
    - ``trickle``: the real answer (or ``body``) one byte every ``seconds`` (honest
      Content-Length).
    - ``redirect``: ``status`` (default 307) with ``Location: location``.
    - ``bad_gzip``: ``Content-Encoding: gzip`` on bytes that are not gzip (``body`` or a
      default), status 201.
    - ``signal``: send signal ``signum`` to this process (a test's own run), then leave
      the request unanswered for up to ``seconds``.
    """

    kind: str
    times: int | None = 1
    endpoint: str | None = None  # only requests to this endpoint name
    page: int | None = None  # only requests for this currentPage
    status: int | None = None
    body: bytes | str | None = None
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    mutate: Callable[[dict], dict | None] | None = None
    seconds: float = 0.0
    location: str = ""
    signum: int = 0

    def __post_init__(self):
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {', '.join(FAULT_KINDS)}")
        if self.kind == "mutate" and self.mutate is None:
            raise ValueError("a 'mutate' fault needs a mutate callable")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be at least 1 (or None for every request)")

    def matches(self, endpoint: Endpoint, payload: dict) -> bool:
        if self.endpoint is not None and self.endpoint != endpoint.name:
            return False
        return self.page is None or self.page == _page_of(payload)


@dataclass
class RecordedRequest:
    method: str
    path: str
    payload: object  # the decoded JSON body (None if it was not JSON)
    headers: dict[str, str]
    fault: str | None = None  # the kind of fault applied to it, if any


def _page_of(payload: dict) -> int:
    try:
        return int(payload.get("currentPage", 1))
    except (TypeError, ValueError):
        return 1


def _dump(doc: object) -> bytes:
    # The portal's own encoding: compact, UTF-8, no escaping of Vietnamese letters.
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _error_doc(status: int, message: str) -> bytes:
    return _dump({"code": "ERROR", "data": None, "message": message, "status": status})


class PortalServer(ThreadingHTTPServer):
    """Serves a replay directory over HTTP; see the module docstring."""

    daemon_threads = False
    block_on_close = True  # server_close() waits for every handler thread

    def __init__(self, replay_dir: Path | str, host: str = "127.0.0.1", port: int = 0, *,
                 max_page_size: int | None = None, cookie_gate: bool = False,
                 tls: tuple[Path, Path] | None = None):
        if max_page_size is not None and max_page_size < 1:
            raise ValueError("max_page_size must be at least 1")
        self.replay_dir = Path(replay_dir)
        self.max_page_size = max_page_size
        self.cookie_gate = cookie_gate
        self.gate_cookie_value = secrets.token_hex(8)
        self.gate_resets = 0  # API requests reset for want of the page's cookie
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._requests: list[RecordedRequest] = []
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        super().__init__((host, port), _Handler)
        self.tls = tls
        if tls is not None:  # HTTPS with the given (certificate, key); handshake per handler
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            self.socket = context.wrap_socket(self.socket, server_side=True,
                                              do_handshake_on_connect=False)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    def handle_error(self, request, client_address):
        pass  # a client that hung up or refused our certificate: nothing to report

    # --- faults and request log -------------------------------------------------

    def add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def pending_faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_per_path(self, *, per_procedure: bool = False) -> dict[str, int]:
        """How many requests each path got (``per_procedure``: filtered ones only)."""
        counts: dict[str, int] = {}
        for r in self.requests:
            if per_procedure and not (isinstance(r.payload, dict) and formality_of(r.payload)):
                continue
            counts[r.path] = counts.get(r.path, 0) + 1
        return counts

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _take_fault(self, endpoint: Endpoint, payload: dict) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.matches(endpoint, payload):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times == 0:
                            del self._faults[i]
                    return fault
        return None

    # --- the recorded answers ---------------------------------------------------

    def answer(self, endpoint: Endpoint, payload: dict) -> bytes | None:
        """The body the portal would give, or None when nothing is recorded for it."""
        if endpoint.shape == "catalogue" or (endpoint.paginated
                                             and self.max_page_size is not None):
            return self._resliced(endpoint, payload)
        path = self.replay_dir / replay_relpath(endpoint, payload)
        return path.read_bytes() if path.is_file() else None

    def _resliced(self, endpoint: Endpoint, payload: dict) -> bytes | None:
        """The recorded rows re-cut into pages of min(pageSize, max_page_size)."""
        first_path = self.replay_dir / replay_relpath(endpoint, {**payload, "currentPage": 1})
        if not first_path.is_file():
            return None
        recorded = first_path.read_bytes()
        doc = json.loads(recorded)
        data = doc.get("data") if isinstance(doc, dict) else None
        if not isinstance(data, dict) or data.get("pagination") is None:
            # an error recording, or an answer the portal does not paginate (the national
            # summary in its minimal shape): serve it as it is
            return recorded
        key = "items" if endpoint.shape == "catalogue" else "evaluation"
        rows = list(data.get(key) or [])
        recorded_pages = (data.get("pagination") or {}).get("totalPages") or 1
        for n in range(2, int(recorded_pages) + 1):  # a recording made in several pages
            more = self.replay_dir / replay_relpath(endpoint, {**payload, "currentPage": n})
            if more.is_file():
                rows += json.loads(more.read_bytes()).get("data", {}).get(key) or []
        asked = payload.get("pageSize")
        size = self.max_page_size or (asked if isinstance(asked, int) and asked > 0 else 10)
        if isinstance(asked, int) and asked > 0:
            size = min(asked, size)
        page = max(1, _page_of(payload))
        data[key] = rows[(page - 1) * size:page * size]
        data["pagination"] = {"total": len(rows), "currentPage": page, "pageSize": size,
                              "totalPages": max(1, math.ceil(len(rows) / size))}
        return _dump(doc)

    # --- lifecycle --------------------------------------------------------------

    def start(self) -> "PortalServer":
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="portal-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake delayed answers, close kept-alive connections, join threads."""
        self._stopping.set()
        if self._thread is not None:  # started by start(); else serve_forever has returned
            self.shutdown()
            self._thread.join()
            self._thread = None
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.server_close()

    def process_request(self, request, client_address):
        with self._lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._lock:
            self._connections.discard(request)
        super().shutdown_request(request)


class _NotRecorded(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    server: PortalServer
    protocol_version = "HTTP/1.1"  # keep-alive, like the real portal
    server_version = "portal-replay/1"
    timeout = 30  # an idle kept-alive connection is dropped after this

    def log_message(self, format, *args):
        pass  # quiet in tests; the request log is server.requests

    def do_GET(self):
        if self.path.split("?", 1)[0] == DASHBOARD_PATH:
            self.server._record(RecordedRequest("GET", self.path, None, dict(self.headers.items())))
            return self._send(200, _dashboard_page(self.server.gate_cookie_value), HTML_TYPE)
        self._send(405, _error_doc(405, "the portal API only answers POST"), JSON_TYPE)

    def _has_gate_cookie(self) -> bool:
        wanted = f"{GATE_COOKIE}={self.server.gate_cookie_value}"
        cookies = "; ".join(self.headers.get_all("Cookie") or [])
        return wanted in [c.strip() for c in cookies.split(";")]

    def _reset(self) -> None:
        """Close the socket with an RST (SO_LINGER 0): the client sees a connection reset."""
        with self.server._lock:
            self.server.gate_resets += 1
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.server.cookie_gate and not self._has_gate_cookie():
            return self._reset()
        try:
            if self.path.split("?", 1)[0] == LEGACY_PATH:
                # the legacy JSP service: form field params holds the JSON
                form = urllib.parse.parse_qs(raw.decode("utf-8"))
                payload = json.loads(form["params"][0])
            else:
                payload = json.loads(raw) if raw else {}
        except (ValueError, KeyError, UnicodeDecodeError):
            payload = None
        record = RecordedRequest("POST", self.path, payload, dict(self.headers.items()))
        self.server._record(record)

        endpoint = endpoint_for_path(self.path.split("?", 1)[0])
        if endpoint is None:
            return self._send(404, _error_doc(404, f"no such API path: {self.path}"), JSON_TYPE)
        if not isinstance(payload, dict):
            return self._send(400, _error_doc(400, "the body must be a JSON object"), JSON_TYPE)
        try:
            fault = self.server._take_fault(endpoint, payload)
            if fault is not None:
                record.fault = fault.kind
                if getattr(self, f"_fault_{fault.kind}")(fault, endpoint, payload):
                    return
            # the legacy service answered 200, today's API answers 201
            status = 200 if endpoint.shape == "legacy" else 201
            self._send(status, self._recorded(endpoint, payload), JSON_TYPE)
        except _NotRecorded:
            self._send(404, _error_doc(404, f"nothing recorded for {endpoint.name} {payload}"),
                       JSON_TYPE)
        except ValueError as exc:  # not a monthly request, unreadable recording
            self._send(400, _error_doc(400, str(exc)), JSON_TYPE)

    def _recorded(self, endpoint: Endpoint, payload: dict) -> bytes:
        body = self.server.answer(endpoint, payload)
        if body is None:
            raise _NotRecorded
        return body

    def _send(self, status: int, body: bytes, content_type: str,
              headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. its timeout)

    # --- faults: return True when the request has been answered ----------------

    def _fault_status(self, fault: Fault, endpoint: Endpoint, payload: dict) -> bool:
        status = fault.status or 503
        body = fault.body if fault.body is not None else _error_doc(status, f"HTTP {status}")
        self._send(status, _bytes(body), fault.content_type or JSON_TYPE, fault.headers)
        return True

    def _fault_html_200(self, fault: Fault, endpoint: Endpoint, payload: dict) -> bool:
        body = fault.body if fault.body is not None else MAINTENANCE_PAGE
        self._send(200, _bytes(body), fault.content_type or HTML_TYPE, fault.headers)
        return True

    def _fault_body(self, fault: Fault, endpoint: Endpoint, payload: dict) -> bool:
        self._send(fault.status or 201, _bytes(fault.body or b""),
                   fault.content_type or JSON_TYPE, fault.headers)
        return True

    def _fault_truncate(self, fault: Fault, endpoint: Endpoint, payload: dict) -> bool:
        # A complete HTTP message (honest Content-Length) whose JSON stops half way.
        body = self._recorded(endpoint, payload)
        self._send(fault.status or 201, body[:len(body) // 2], JSON_TYPE, fault.headers)
        return True

    def _fault_mutate(self, fault: Fault, endpoint: Endpoint, payload: dict) -> bool:
        doc = json.loads(self._recorded(endpoint, payload))
        changed = fault.mutate(doc)
        self._send(fault.status or 201, _dump(doc if changed is None else changed), JSON_TYPE,
                   fault.headers)
        return True

    def _hang_up(self) -> bool:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        return True

    def _fault_drop_connection(self, fault: Fault, endpoint: Endpoint, payload: dict) -> bool:
        return self._hang_up()

    def _fault_reset_mid_body(self, fault: Fault, endpoint: Endpoint, payload: dict) -> bool:
        body = self._recorded(endpoint, payload)
        self.send_response(201)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        return self._hang_up()

    def _fault_delay(self, fault: Fault, endpoint: Endpoint, payload: dict) -> bool:
        if self.server._stopping.wait(fault.seconds):
            self.close_connection = True
            return True  # shutting down: leave it unanswered
        return False  # then answer as usual


    def _fault_endless_pages(self, fault: Fault, endpoint: Endpoint, payload: dict) -> bool:
        page = _page_of(payload)
        doc = json.loads(self._recorded(endpoint, {**payload, "currentPage": 1}))
        rows = doc["data"].get("evaluation") or []
        for row in rows:
            row["departmentId"] = f"{row.get('departmentId')}-p{page}"
        size = len(rows) or 1
        doc["data"]["pagination"] = {"total": (page + 1) * size, "currentPage": page,
                                     "pageSize": size, "totalPages": page + 1}
        self._send(201, _dump(doc), JSON_TYPE)
        return True

    def _fault_stuck_page(self, fault: Fault, endpoint: Endpoint, payload: dict) -> bool:
        doc = json.loads(self._recorded(endpoint, {**payload, "currentPage": 1}))
        doc["data"]["pagination"]["totalPages"] = 1_000_000
        self._send(201, _dump(doc), JSON_TYPE)
        return True

    def _fault_trickle(self, fault: Fault, endpoint: Endpoint, payload: dict) -> bool:
        body = _bytes(fault.body) if fault.body is not None else self._recorded(endpoint, payload)
        try:
            self.send_response(201)
            self.send_header("Content-Type", JSON_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.flush()
            for i in range(len(body)):
                if self.server._stopping.wait(fault.seconds):
                    break
                self.wfile.write(body[i:i + 1])
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # the client gave up: what it should do
        return self._hang_up()

    def _fault_redirect(self, fault: Fault, endpoint: Endpoint, payload: dict) -> bool:
        status = fault.status or 307
        self._send(status, _error_doc(status, "moved"), JSON_TYPE,
                   {"Location": fault.location, **fault.headers})
        return True

    def _fault_bad_gzip(self, fault: Fault, endpoint: Endpoint, payload: dict) -> bool:
        body = _bytes(fault.body) if fault.body is not None else b"\x1f\x8bnot gzip at all"
        self._send(fault.status or 201, body, fault.content_type or JSON_TYPE,
                   {"Content-Encoding": "gzip", **fault.headers})
        return True

    def _fault_signal(self, fault: Fault, endpoint: Endpoint, payload: dict) -> bool:
        os.kill(os.getpid(), fault.signum)
        self.server._stopping.wait(fault.seconds)
        return self._hang_up()


def self_signed_cert(folder: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A throw-away certificate and key for ``host`` (openssl), for an HTTPS server that
    no client trusts: what a certificate failure looks like."""
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", f"/CN={host}", "-addext", f"subjectAltName=IP:{host}",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def _bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


@contextmanager
def serve(replay_dir: Path | str, **options) -> Iterator[PortalServer]:
    """A running server on 127.0.0.1 (any free port unless ``port=`` is given)."""
    server = PortalServer(replay_dir, **options).start()
    try:
        yield server
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default="data/portal-replay", help="the replay directory")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--max-page-size", type=int, default=None,
                        help="serve at most this many rows per page, like the real portal")
    parser.add_argument("--cookie-gate", action="store_true",
                        help=f"reset API requests without the cookie set by {DASHBOARD_PATH}")
    args = parser.parse_args(argv)
    server = PortalServer(args.dir, args.host, args.port, max_page_size=args.max_page_size,
                          cookie_gate=args.cookie_gate)
    print(f"serving {Path(args.dir).resolve()} at {server.url} (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
