"""Dagster resources the assets ask for: settings, the portal client, the warehouse."""

import time
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import Field, PrivateAttr

from assets.months import FINAL_GAP_H
from assets.settings import DataLayout, TokenError, parse_province_codes
from assets.sources.endpoints import DEFAULT_PAGE
from assets.sources.portal import LivePortalClient, PortalClient, ReplayPortalClient


class RefreshConfig(dg.Config):
    """Run config of the crawl and of staging: ``force: true`` under either op's name."""

    force: bool = Field(
        default=False,
        description="raw: fetch a closed month again although its final crawl is kept; "
                    "staging: parse, validate and load a month again although its captures "
                    "(sha256) are those already staged")


class StagingConfig(RefreshConfig):
    """Run config of the staging step: ``force``, and the waiver of the unit-count rule."""

    allow_unit_drop: bool = Field(
        default=False,
        description="a real reorganisation: let a province's units fall below half of the "
                    "previous staged month's (the unit_count_kept rule); needs a note")
    note: str = Field(
        default="",
        description="why the units dropped (e.g. the decision that merged the communes); "
                    "recorded in audit.validation_results")


class ChisoSettings(DataLayout, dg.ConfigurableResource):
    """Where data lives and what to pull (CHISO_DATA_DIR, CHISO_PROVINCES, ...)."""

    data_dir: str
    provinces: str = "all"  # comma-separated province codes, or "all"
    focus_province: str = "H60"
    focus_provinces: str = ""  # comma list for the procedure crawl; "" = focus_province
    procedure_budget: int = 300  # CHISO_PROCEDURE_BUDGET: procedure requests per night
    # the inbox: seconds a file must stay unchanged before it is read; caps
    inbox_settle_s: float = 5.0
    inbox_max_xml_mb: float = 50.0
    har_max_mb: float = 500.0
    # is_final: two identical captures after a month's close count when at least this many
    # hours apart (assets/months.py holds the rule)
    final_gap_h: float = FINAL_GAP_H

    @property
    def province_codes(self) -> tuple[str, ...] | None:
        return parse_province_codes(self.provinces)

    @property
    def procedure_provinces(self) -> tuple[str, ...]:
        """The province codes the procedure crawl covers (CHISO_FOCUS_PROVINCE)."""
        listed = parse_province_codes(self.focus_provinces) or ()
        return listed or (self.focus_province.upper(),)


class PortalResource(dg.ConfigurableResource):
    """A live client for an http(s) URL, a replay client for a directory."""

    url: str
    pause_s: float = 1.0
    timeout_s: float = 60.0
    max_attempts: int = 5
    backoff_s: float = 2.0
    token: str | None = None
    crawl_deadline_s: float = 7200.0
    crawl_retry_delay_s: float = 120.0  # the whole crawl again, later (assets/raw/captures.py)
    transport: str = "plain"  # or "browser": the same requests from headless Chromium
    browser_page: str = DEFAULT_PAGE
    chromium: str | None = None
    _live_clients: list = PrivateAttr(default_factory=list)

    def client(self) -> PortalClient:
        if self.transport not in ("plain", "browser"):
            raise dg.Failure(f"CHISO_PORTAL_TRANSPORT={self.transport!r}: expected 'plain' "
                             "or 'browser'", allow_retries=False)
        if self.url.startswith(("http://", "https://")):
            browser = None
            if self.transport == "browser":
                # imported here: playwright is loaded only when this transport is used
                from assets.sources.browser_transport import (
                    BrowserTransport,
                    BrowserUnavailable,
                    check_browser,
                )

                try:
                    check_browser(self.chromium)
                except BrowserUnavailable as exc:
                    raise dg.Failure(str(exc), allow_retries=False) from exc
                browser = BrowserTransport(self.url, self.browser_page,
                                           executable=self.chromium,
                                           page_timeout_s=self.timeout_s)
            try:
                client = LivePortalClient(self.url, timeout_s=self.timeout_s,
                                          max_attempts=self.max_attempts,
                                          backoff_s=self.backoff_s, pause_s=self.pause_s,
                                          token=self.token,
                                          crawl_deadline_s=self.crawl_deadline_s,
                                          transport=browser)
            except TokenError as exc:  # its message never shows the value
                raise dg.Failure(str(exc), allow_retries=False) from None
            self._live_clients.append(client)
            return client
        if self.transport == "browser":
            raise dg.Failure(f"CHISO_PORTAL_TRANSPORT=browser needs an http(s) "
                             f"CHISO_PORTAL_URL, not {self.url!r}", allow_retries=False)
        path = Path(self.url)
        if not path.is_dir():
            raise dg.Failure(
                f"CHISO_PORTAL_URL={self.url!r} is neither an http(s) URL nor a directory of "
                "recorded responses (run scripts/demo.sh once to generate the bundled sample)",
                allow_retries=False)
        return ReplayPortalClient(path)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        """End the step's browser, if it started one (and close its HTTP sessions)."""
        while self._live_clients:
            self._live_clients.pop().close()


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
