"""Reading a browser's network log (HAR 1.1/1.2) for the portal's reporting answers.

Pure functions, no Dagster, no writes. An analyst who can reach the portal in a browser
saves the network log ("Save all as HAR with content"); ``read_har`` checks the file and
``portal_answers`` picks out every reporting API answer, exactly as the crawler would
have received it:

- the response bytes (base64-decoded when ``content.encoding == "base64"``), its
  status and content type, and nothing else of the response headers;
- the request URL and JSON body (period: month/quarter/year, or ``fromDate``/``toDate``;
  province: ``rootDepartmentId``; procedure: ``formalityId``/``formalityID``), and
  nothing of the request headers (cookies and authorization never leave this module);
- the capture time: the entry's ``startedDateTime``.

Everything else a browser saves (pages, scripts, images, 304s, failed requests) is
counted by kind and skipped. Anything that makes the file unusable raises ``HarError``
naming the entry and field.
"""

import base64
import binascii
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from assets.months import last_day, month_key, month_range

from .endpoints import LEGACY, Endpoint, endpoint_for_path
from .portal import PortalResponse

DEFAULT_MAX_BYTES = 500_000_000


class HarError(ValueError):
    """A HAR that cannot be imported; ``entry`` is 1-based (None: the whole file)."""

    def __init__(self, file: str, detail: str, *, entry: int | None = None,
                 field: str = "content", url: str | None = None):
        self.file, self.detail, self.entry, self.field, self.url = file, detail, entry, field, url
        where = f"entry {entry}" if entry else "the file"
        target = f" ({url})" if url else ""
        super().__init__(f"{file}: {where}{target}, field {field}: {detail}")


@dataclass(kw_only=True)
class PortalAnswer(PortalResponse):
    """One reporting API answer found in a HAR: the portal's answer as a crawl would have
    kept it, with where it was in the HAR and what it covers."""

    entry: int
    period_kind: str  # month / quarter / year / range
    period: str  # 2026-08, 2026-Q3, 2026, 2026-01-01..2026-06-30
    month: date | None  # the month, for a whole-month answer
    province_id: str | None  # rootDepartmentId (None: national)
    formality_id: str | None  # a per-procedure answer

    @property
    def stageable(self) -> bool:
        """A whole month, not filtered to one procedure: what staging reads."""
        return self.month is not None and self.formality_id is None


@dataclass
class HarContent:
    answers: list[PortalAnswer] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)  # kind -> count


def _kind(mime: str, url: str) -> str:
    mime = (mime or "").lower()
    path = urlsplit(url).path.lower()
    if "html" in mime:
        return "page"
    if "javascript" in mime or path.endswith((".js", ".mjs")):
        return "script"
    if mime.startswith("image/") or path.endswith((".png", ".jpg", ".svg", ".ico", ".gif",
                                                   ".webp")):
        return "image"
    if "css" in mime or path.endswith(".css"):
        return "stylesheet"
    if mime.startswith("font/") or path.endswith((".woff", ".woff2", ".ttf")):
        return "font"
    return "other request"


def read_har(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> dict:
    """The parsed HAR ``log``; HarError for a file too big, not JSON, or not a HAR."""
    file = Path(path).name
    size = Path(path).stat().st_size
    if size > max_bytes:
        raise HarError(file, f"{size / 1e6:.0f} MB, over the {max_bytes / 1e6:.0f} MB cap "
                       "(CHISO_HAR_MAX_MB): save only the portal's pages, or raise the cap",
                       field="size")
    data = Path(path).read_bytes()
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise HarError(file, f"not JSON ({exc}); a HAR is the JSON file a browser's "
                       "network panel saves", field="file") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("log"), dict):
        raise HarError(file, "no top-level 'log' object: not a HAR", field="log")
    log = doc["log"]
    version = str(log.get("version", ""))
    if version and not version.startswith("1."):
        raise HarError(file, f"HAR version {version!r}; 1.1 and 1.2 are read",
                       field="log.version")
    entries = log.get("entries")
    if not isinstance(entries, list):
        raise HarError(file, "'log.entries' is missing or not a list", field="log.entries")
    return log


def _request_body(entry: dict, file: str, n: int, url: str) -> dict:
    post = entry["request"].get("postData") or {}
    text = post.get("text")
    if text is None:  # HAR 1.1 may give form fields as params only
        params = post.get("params") or []
        form = {p.get("name"): p.get("value") for p in params if isinstance(p, dict)}
        text = form.get("params")
        if text is None:
            raise HarError(file, "a reporting request without its POST body",
                           entry=n, field="request.postData.text", url=url)
    mime = str(post.get("mimeType", "")).lower()
    if "x-www-form-urlencoded" in mime:
        text = (parse_qs(text).get("params") or [text])[0]
    try:
        payload = json.loads(text)
    except ValueError:
        raise HarError(file, "the POST body is not JSON", entry=n,
                       field="request.postData.text", url=url) from None
    if not isinstance(payload, dict):
        raise HarError(file, "the POST body is not a JSON object", entry=n,
                       field="request.postData.text", url=url)
    return payload


QUARTER_STARTS = (1, 4, 7, 10)


def _period(payload: dict, endpoint: Endpoint) -> tuple[str, str, date | None]:
    """(kind, label, month or None) of a request body."""
    if endpoint is LEGACY:
        year, month = int(payload.get("p_nam") or 0), int(payload.get("p_thang") or 0)
        if month and not payload.get("p_quy") and not payload.get("p_6thang"):
            first = date(year, month, 1)
            return "month", month_key(first), first
        return "range", json.dumps(payload, sort_keys=True), None
    if "fromDate" in payload or "toDate" in payload:
        start = date.fromisoformat(str(payload.get("fromDate")))
        end = date.fromisoformat(str(payload.get("toDate")))
        whole_months = month_range(start, end) if start.day == 1 and end == last_day(end) else []
        if len(whole_months) == 1:
            return "month", month_key(start), start
        if len(whole_months) == 12 and start.month == 1:
            return "year", f"{start.year}", None
        if len(whole_months) == 3 and start.month in QUARTER_STARTS:
            return "quarter", f"{start.year}-Q{QUARTER_STARTS.index(start.month) + 1}", None
        return "range", f"{start}..{end}", None
    kind = payload.get("timeType")
    year = int(payload["year"])
    if kind == "month":
        month = int(payload["month"])
        first = date(year, month, 1)
        return "month", month_key(first), first
    if kind == "quarter":
        return "quarter", f"{year}-Q{int(payload['quarter'])}", None
    if kind == "year":
        return "year", f"{year}", None
    raise ValueError(f"timeType {kind!r}")


def _body(content: dict, file: str, n: int, url: str) -> bytes:
    text = content.get("text")
    if text is None:
        raise HarError(file, "a reporting answer saved without its body (save the HAR "
                       "\"with content\")", entry=n, field="response.content.text", url=url)
    if content.get("encoding") == "base64":
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise HarError(file, "content.encoding is base64 but the text is not",
                           entry=n, field="response.content.text", url=url) from None
    if content.get("encoding"):
        raise HarError(file, f"unknown content.encoding {content['encoding']!r}", entry=n,
                       field="response.content.encoding", url=url)
    return text.encode("utf-8")


def _check_envelope(body: bytes, endpoint: Endpoint, file: str, n: int, url: str) -> None:
    try:
        doc = json.loads(body)
    except ValueError:
        raise HarError(file, "the answer is not JSON", entry=n,
                       field="response.content.text", url=url) from None
    if endpoint is LEGACY:
        if not isinstance(doc, list):
            raise HarError(file, "the legacy service's answer is not a JSON array", entry=n,
                           field="response.content.text", url=url)
        return
    if not isinstance(doc, dict) or doc.get("code") != "OK" or not isinstance(
            doc.get("data"), dict) or not doc["data"]:
        code = doc.get("code") if isinstance(doc, dict) else type(doc).__name__
        raise HarError(file, f"not the portal's envelope (code {code!r}, expected 'OK' with "
                       "a non-empty 'data')", entry=n, field="response.content.text",
                       url=url)


def portal_answers(log: dict, file: str) -> HarContent:
    """Every reporting API answer of a HAR's ``log``; everything else counted as skipped."""
    out = HarContent()
    for n, entry in enumerate(log["entries"], start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("request"), dict) \
                or not isinstance(entry.get("response"), dict):
            raise HarError(file, "an entry without 'request' and 'response' objects",
                           entry=n, field="entries")
        request, response = entry["request"], entry["response"]
        url = str(request.get("url", ""))
        content = response.get("content") if isinstance(response.get("content"), dict) else {}
        mime = str(content.get("mimeType") or "")
        endpoint = endpoint_for_path(urlsplit(url).path)
        status = response.get("status")
        if status == 304:
            out.skipped["304 not modified"] += 1
            continue
        if not isinstance(status, int) or status <= 0 or status >= 400:
            out.skipped["failed request"] += 1
            continue
        if endpoint is None or endpoint.shape == "catalogue":
            # the procedure catalogue has no period: the weekly crawl brings it, not a HAR
            out.skipped[_kind(mime, url)] += 1
            continue
        if str(request.get("method", "")).upper() != "POST":
            out.skipped["reporting request not a POST (preflight)"] += 1
            continue
        if status not in (200, 201):
            out.skipped[f"reporting answer with HTTP {status}"] += 1
            continue
        try:
            started = datetime.fromisoformat(str(entry.get("startedDateTime")))
        except ValueError:
            raise HarError(file, f"startedDateTime {entry.get('startedDateTime')!r} is not "
                           "an ISO time", entry=n, field="startedDateTime", url=url) from None
        if started.tzinfo is None:
            raise HarError(file, "startedDateTime has no time zone", entry=n,
                           field="startedDateTime", url=url)
        payload = _request_body(entry, file, n, url)
        try:
            kind, label, month = _period(payload, endpoint)
        except (KeyError, TypeError, ValueError) as exc:
            raise HarError(file, f"no period in the request body ({exc})", entry=n,
                           field="request.postData.text", url=url) from None
        body = _body(content, file, n, url)
        _check_envelope(body, endpoint, file, n, url)
        formality = payload.get("formalityId") or payload.get("formalityID")
        province = payload.get("rootDepartmentId")
        if endpoint is LEGACY and payload.get("p_tinh_id"):
            province = str(payload["p_tinh_id"])
        out.answers.append(PortalAnswer(
            entry=n, endpoint=endpoint, url=url, payload=payload, status=status,
            content_type=mime or "application/json", body=body, captured_at=started,
            period_kind=kind, period=label, month=month,
            province_id=str(province) if province else None,
            formality_id=str(formality) if formality else None))
    return out
