"""The raw layer: every portal response kept byte-for-byte, never overwritten.

Layout under ``<data>/raw``::

    <endpoint>/<yyyy-mm>/<province>/<captured_at>-p<page>-<sha12>.<ext>   the bytes
    ...same name....meta.json                                              first capture
    <endpoint>/<yyyy-mm>/<province>/formality-<id>/...       one procedure's answer
    _sessions/<yyyy-mm>/<started_at>.json                                  one crawl
    _procedure_sessions/<yyyy-mm | catalogue>/<started_at>.json   procedure crawls

A response identical to one already kept for the same endpoint, month, province
and page (same sha256) is not written again: the session manifest records the
new capture time and points at the existing file.
"""

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from assets.months import final_from, month_key
from assets.redact import redact
from assets.sources.endpoints import formality_of, safe_segment
from assets.sources.portal import PortalResponse

SESSIONS = "_sessions"
# The procedure crawls (catalogue, per-procedure answers) keep their manifests apart, so
# a month's group crawl (complete_sessions, final_session) never sees them.
PROCEDURE_SESSIONS = "_procedure_sessions"


def stamp(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class Capture:
    """One response as the manifest records it."""

    endpoint: str
    group_code: str | None
    url: str
    payload: dict
    month: str
    province_id: str | None
    province_code: str
    page: int
    http_status: int
    content_type: str
    captured_at: str
    sha256: str
    bytes: int
    path: str  # relative to the raw root
    reused: bool  # same bytes already kept: no new file written
    origin: dict = field(default_factory=dict)
    final_url: str = ""  # where the bytes came from (after same-host redirects)
    content_encoding: str = ""  # as received; "undecoded" captures keep the encoded bytes
    undecoded: bool = False
    formality_id: str | None = None  # the procedure a filtered answer is for


class RawStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    def save(self, resp: PortalResponse, *, month: date, province_code: str,
             province_id: str | None) -> Capture:
        sha = hashlib.sha256(resp.body).hexdigest()
        page = int(resp.payload.get("currentPage", 1))
        folder = (self.root / safe_segment(resp.endpoint.name) / month_key(month)
                  / safe_segment(province_code))
        formality = formality_of(resp.payload)
        if formality is not None:
            folder = folder / f"formality-{safe_segment(formality)}"
        ext = "json" if "json" in resp.content_type.lower() and not resp.undecoded else "bin"
        candidates = sorted(folder.glob(f"*-p{page:03d}-{sha[:12]}.*")) if folder.exists() else []
        existing = [p for p in candidates if not p.name.endswith(".meta.json")
                    and hashlib.sha256(p.read_bytes()).hexdigest() == sha]
        if existing:
            path, reused = existing[0], True
        else:
            path = folder / f"{stamp(resp.captured_at)}-p{page:03d}-{sha[:12]}.{ext}"
            write_atomic(path, resp.body)
            reused = False
        capture = Capture(
            endpoint=resp.endpoint.name, group_code=resp.endpoint.group_code, url=resp.url,
            payload=resp.payload, month=month_key(month), province_id=province_id,
            province_code=province_code, page=page, http_status=resp.status,
            content_type=resp.content_type, captured_at=resp.captured_at.isoformat(),
            sha256=sha, bytes=len(resp.body), path=str(path.relative_to(self.root)),
            reused=reused, origin=resp.origin, final_url=resp.final_url or resp.url,
            content_encoding=resp.content_encoding, undecoded=resp.undecoded,
            formality_id=formality,
        )
        if not reused:
            meta = path.with_name(path.name + ".meta.json")
            write_atomic(meta, json.dumps(asdict(capture), ensure_ascii=False, indent=1).encode())
        return capture

    def read_verified(self, capture: dict) -> bytes:
        """The kept bytes of a capture, refused if they no longer match the manifest."""
        path = self.root / capture["path"]
        body = path.read_bytes()
        if hashlib.sha256(body).hexdigest() != capture["sha256"]:
            raise ValueError(f"raw file {path} no longer matches its sha256 in the manifest")
        return body

    def abspath(self, capture: dict) -> Path:
        return self.root / capture["path"]


class CaptureSession:
    """One crawl of one month: its manifest is written when it ends, complete or failed."""

    def __init__(self, store: RawStore, month: date, source: str, *,
                 folder: str = SESSIONS, label: str | None = None):
        self.store, self.month = store, month
        self.started_at = datetime.now(UTC)
        self.source = source
        self.captures: list[Capture] = []
        self.folder = folder  # PROCEDURE_SESSIONS for the procedure crawls
        self.label = label or month_key(month)  # the manifest's sub-folder
        self.extra: dict = {}  # more manifest fields (the procedure crawl's figures)

    def keep(self, resp: PortalResponse, *, province_code: str, province_id: str | None):
        capture = self.store.save(resp, month=self.month, province_code=province_code,
                                  province_id=province_id)
        self.captures.append(capture)
        return _Saved(capture, self.store.root / capture.path)

    def finish(self, status: str, error: str | None = None) -> Path:
        manifest = {
            "month": month_key(self.month),
            "status": status,
            "error": redact(error) if error else error,
            "source": self.source,
            "started_at": self.started_at.isoformat(),
            "finished_at": datetime.now(UTC).isoformat(),
            **self.extra,
            "captures": [asdict(c) for c in self.captures],
        }
        path = self.store.root / self.folder / self.label / f"{stamp(self.started_at)}.json"
        write_atomic(path, json.dumps(manifest, ensure_ascii=False, indent=1).encode())
        return path


@dataclass
class _Saved:
    capture: Capture
    path: Path


def complete_manifests(folder: Path) -> list[tuple[Path, dict]]:
    """Every complete session manifest in ``folder``, oldest first (none if absent)."""
    out = []
    for path in sorted(folder.glob("*.json")) if folder.exists() else []:
        manifest = json.loads(path.read_text("utf-8"))
        if manifest.get("status") == "complete":
            out.append((path, manifest))
    return out


def complete_sessions(store: RawStore, month: date) -> list[tuple[Path, dict]]:
    """Every complete crawl of a month, oldest first."""
    return complete_manifests(store.root / SESSIONS / month_key(month))


def latest_complete_session(store: RawStore, month: date) -> tuple[Path, dict] | None:
    folder = store.root / SESSIONS / month_key(month)
    if not folder.exists():
        return None
    for path in sorted(folder.glob("*.json"), reverse=True):
        manifest = json.loads(path.read_text("utf-8"))
        if manifest.get("status") == "complete":
            return path, manifest
    return None


# A month's figures keep moving until some days after it ends (assets/months.py, the
# same rule as marts.province_monthly.is_final): a crawl that started later is the month's
# final word.


def kept_sha256(manifest: dict) -> set[str]:
    """The sha256 of a crawl's answers that are data (HTTP 200/201), as staging reads them."""
    return {c["sha256"] for c in manifest["captures"] if c["http_status"] in (200, 201)}


# Where staging records the sha256 of the captures it loaded (today's API, the legacy service).
STAGED_TABLES = ("staging.captures", "staging.legacy_scores")


def staged_sha256(con, month: date, tables: tuple[str, ...] = STAGED_TABLES) -> set[str]:
    """The sha256 of the captures staged for ``month`` in ``tables`` (those that exist)."""
    present = {r[0] for r in con.execute(
        "SELECT schema_name || '.' || table_name FROM duckdb_tables()").fetchall()}
    found: set[str] = set()
    for table in tables:
        if table in present:  # a name from the fixed list above
            found |= {r[0] for r in con.execute(
                f"SELECT DISTINCT raw_sha256 FROM {table} WHERE month = ?",  # noqa: S608
                [month]).fetchall()}
    return found


def final_session(store: RawStore, month: date,
                  staged: set[str] | None) -> tuple[Path, dict] | None:
    """The latest complete crawl of a closed month, if it started once the month was final
    AND its answers were staged (``staged``: the sha256 the warehouse holds for the month;
    None when unknown). A crawl that was rejected by validation, or never staged, is not
    final: the next run asks the portal again, which may have corrected its answer."""
    found = latest_complete_session(store, month)
    if not found or datetime.fromisoformat(found[1]["started_at"]) < final_from(month):
        return None
    kept = kept_sha256(found[1])
    if staged is None or not kept or not kept <= staged:
        return None
    return found
