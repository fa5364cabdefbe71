"""Build HAR files like a browser saves them, from recorded portal answers (for tests).

A browser's HAR holds, besides the reporting API's answers, the page, its scripts and
images, cached 304s, failed requests, and the analyst's cookies and headers; the
builders here add all of that, so a test can check none of it is kept.

- ``sample_entries``: the real Phú Thọ captures (``data/samples/portal``: every request
  URL, body and capture time from its ``manifest.json``), month, quarter, year and
  per-procedure answers;
- ``replay_entries``: answers from a replay directory (``tools.synthetic.generate``) for
  one month: the national summary and the six groups of the given provinces;
- ``noise_entries`` and ``har_document``: the rest of a browser's log, and the file.
"""

import base64
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from assets.months import month_key
from assets.sources.endpoints import ENDPOINTS, NATIONAL, month_payload

PORTAL = "https://dichvucong.gov.vn"
COOKIE = "SESSION=planted-cookie-8c1f2d"
AUTH = "Bearer planted-token-77aa"


def _headers(extra: list | None = None) -> list[dict]:
    return [{"name": "Cookie", "value": COOKIE}, {"name": "Authorization", "value": AUTH},
            {"name": "User-Agent", "value": "Mozilla/5.0"}, *(extra or [])]


def entry(url: str, payload: dict | None, body: bytes, started: datetime, *,
          status: int = 201, mime: str = "application/json; charset=utf-8",
          base64_body: bool = False, method: str = "POST") -> dict:
    """One HAR 1.2 entry with the analyst's cookie and token in it."""
    content: dict = {"size": len(body), "mimeType": mime}
    if base64_body:
        content.update(text=base64.b64encode(body).decode(), encoding="base64")
    else:
        content["text"] = body.decode("utf-8")
    request: dict = {"method": method, "url": url, "httpVersion": "HTTP/1.1",
                     "headers": _headers([{"name": "Content-Type",
                                           "value": "application/json"}]),
                     "cookies": [{"name": "SESSION", "value": COOKIE.split("=", 1)[1]}],
                     "queryString": [], "headersSize": -1, "bodySize": -1}
    if payload is not None:
        request["postData"] = {"mimeType": "application/json",
                               "text": json.dumps(payload, ensure_ascii=False)}
    return {"startedDateTime": started.isoformat(), "time": 120.5, "request": request,
            "response": {"status": status, "statusText": "", "httpVersion": "HTTP/1.1",
                         "headers": [{"name": "Set-Cookie", "value": COOKIE + "; Path=/"},
                                     {"name": "Content-Type", "value": mime}],
                         "cookies": [], "content": content, "redirectURL": "",
                         "headersSize": -1, "bodySize": len(body)},
            "cache": {}, "timings": {"send": 0, "wait": 100, "receive": 20}}


def sample_entries(samples: Path, *, base64_every: int = 2) -> list[dict]:
    """Every reporting capture of the bundled real samples, as the browser saw it."""
    manifest = json.loads((samples / "manifest.json").read_text("utf-8"))
    out = []
    for n, cap in enumerate(manifest["captures"]):
        body = (samples / cap["file"]).read_bytes()
        out.append(entry(cap["url"], cap["payload"], body,
                         datetime.fromisoformat(cap["capturedAt"]),
                         status=cap["httpStatus"], mime=cap["contentType"],
                         base64_body=n % base64_every == 0))
    return out


def replay_entries(replay: Path, month: date, province_ids: list[str | None],
                   started: datetime, endpoints=None) -> list[dict]:
    """The month's answers of a replay directory: ``None`` in province_ids is the
    national summary."""
    out = []
    for i, pid in enumerate(province_ids):
        names = ([NATIONAL.name] if pid is None else
                 [e for e in (endpoints or ENDPOINTS) if e != NATIONAL.name])
        for j, name in enumerate(names):
            endpoint = ENDPOINTS[name]
            path = replay / name / month_key(month) / (pid or "national") / "page-1.json"
            payload = month_payload(endpoint, month, province_id=pid)
            out.append(entry(PORTAL + endpoint.path, payload, path.read_bytes(),
                             started + timedelta(seconds=10 * i + j)))
    return out


def noise_entries(started: datetime) -> list[dict]:
    """What else a browser saves: the page, a script, an image, a 304, a failed request,
    a CORS preflight."""
    page = b"<!doctype html><html><body>Dich vu cong</body></html>"
    api = PORTAL + "/api/v1/reporting/evaluation/transparency"
    return [
        entry(PORTAL + "/p/home/dvc-danh-gia.html", None, page, started,
              status=200, mime="text/html", method="GET"),
        entry(PORTAL + "/static/app.js", None, b"console.log(1)", started,
              status=200, mime="application/javascript", method="GET"),
        entry(PORTAL + "/static/logo.png", None, b"\x89PNG\r\n", started, status=200,
              mime="image/png", method="GET", base64_body=True),
        entry(PORTAL + "/static/site.css", None, b"", started, status=304,
              mime="text/css", method="GET"),
        entry(api, {"timeType": "month", "year": 2026, "month": 8}, b"", started,
              status=0, mime="x-unknown"),
        entry(api, None, b"", started, status=204, mime="text/plain", method="OPTIONS"),
    ]


def har_document(entries: list[dict]) -> dict:
    return {"log": {"version": "1.2", "creator": {"name": "WebInspector", "version": "537.36"},
                    "pages": [{"startedDateTime": datetime(2026, 9, 26, tzinfo=UTC).isoformat(),
                               "id": "page_1", "title": PORTAL, "pageTimings": {}}],
                    "entries": entries}}


def write_har(path: Path, entries: list[dict]) -> Path:
    path.write_text(json.dumps(har_document(entries), ensure_ascii=False, indent=1), "utf-8")
    return path
