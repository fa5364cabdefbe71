"""Dagster resources the assets ask for: settings, the portal client, the warehouse."""

import time
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field

from assets.settings import TokenError
from assets.sources.portal import LivePortalClient, PortalClient, ReplayPortalClient


class RefreshConfig(dg.Config):
    """Run config of the crawl and of staging: ``force: true`` under either op's name."""

    force: bool = Field(
        default=False,
        description="raw: fetch a closed month again although its final crawl is kept; "
                    "staging: parse, validate and load a month again although its captures "
                    "(sha256) are those already staged")


class ChisoSettings(dg.ConfigurableResource):
    """Where data lives and what to pull (CHISO_DATA_DIR, CHISO_PROVINCES, ...)."""

    data_dir: str
    provinces: str = "all"  # comma-separated province codes, or "all"
    focus_province: str = "H60"

    @property
    def province_codes(self) -> tuple[str, ...] | None:
        raw = self.provinces.strip()
        if not raw or raw.lower() == "all":
            return None
        return tuple(p.strip().upper() for p in raw.split(",") if p.strip())

    @property
    def raw_dir(self) -> Path:
        return Path(self.data_dir) / "raw"

    @property
    def published_path(self) -> Path:
        return Path(self.data_dir) / "published" / "chiso766.duckdb"

    @property
    def logs_dir(self) -> Path:
        return Path(self.data_dir) / "logs"

    @property
    def safety_stop_path(self) -> Path:
        """Written when the portal refuses us; crawling stays off until a person removes it."""
        return Path(self.data_dir) / "SAFETY_STOP.json"


class PortalResource(dg.ConfigurableResource):
    """A live client for an http(s) URL, a replay client for a directory."""

    url: str
    pause_s: float = 1.0
    timeout_s: float = 60.0
    max_attempts: int = 5
    backoff_s: float = 2.0
    token: str | None = None
    crawl_deadline_s: float = 7200.0

    def client(self) -> PortalClient:
        if self.url.startswith(("http://", "https://")):
            try:
                return LivePortalClient(self.url, timeout_s=self.timeout_s,
                                        max_attempts=self.max_attempts,
                                        backoff_s=self.backoff_s, pause_s=self.pause_s,
                                        token=self.token, crawl_deadline_s=self.crawl_deadline_s)
            except TokenError as exc:  # its message never shows the value
                raise dg.Failure(str(exc), allow_retries=False) from None
        path = Path(self.url)
        if not path.is_dir():
            raise dg.Failure(
                f"CHISO_PORTAL_URL={self.url!r} is neither an http(s) URL nor a directory of "
                "recorded responses (run scripts/demo.sh once to generate the bundled sample)",
                allow_retries=False)
        return ReplayPortalClient(path)


class WarehouseResource(DuckDBResource):
    """The pipeline's DuckDB file (read-write; analysts open the published copy).

    dagster-duckdb's own ``get_connection`` leaves the connection open when the
    body raises (no ``finally``), which keeps the file locked after a failed
    validation; this one always closes it, and says who holds a lock.
    """

    lock_wait_s: float = 60.0

    @contextmanager
    def get_connection(self):
        deadline = time.monotonic() + self.lock_wait_s
        while True:
            try:
                conn = duckdb.connect(self.database, config=dict(self.connection_config))
                break
            except duckdb.IOException as exc:
                if time.monotonic() >= deadline:
                    raise dg.Failure(
                        f"The warehouse {self.database} stayed locked for {self.lock_wait_s:.0f}"
                        f" s: {exc}. Only the pipeline may open it; analysts should open "
                        "the published copy (data/published/chiso766.duckdb).") from exc
                time.sleep(0.5)
        try:
            yield conn
        finally:
            conn.close()
