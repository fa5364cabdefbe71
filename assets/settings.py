"""Runtime configuration, read from the environment in one place.

Every knob an operator can turn is listed here with its default, so the README,
the code and the tests agree on names.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from assets.months import FINAL_GAP_H
from assets.sources.endpoints import DEFAULT_PAGE

PROJECT_ROOT = Path(__file__).resolve().parent.parent

DEFAULT_FOCUS_PROVINCE = "H60"  # Tuyên Quang after the 2025 merger
DEFAULT_PROCEDURE_BUDGET = 300  # requests per night for the procedure crawl


def parse_province_codes(text: str | None) -> tuple[str, ...] | None:
    """CHISO_PROVINCES: comma-separated province codes, upper-cased; None (every province
    in the national summary) when blank or "all"."""
    text = (text or "").strip()
    if not text or text.lower() == "all":
        return None
    return tuple(p.strip().upper() for p in text.split(",") if p.strip())


class DataLayout:
    """Where things live under the data folder (``data_dir``); shared by the settings read
    from the environment and the settings resource the assets get."""

    data_dir: Path | str

    @property
    def raw_dir(self) -> Path:
        return Path(self.data_dir) / "raw"

    @property
    def warehouse_path(self) -> Path:
        return Path(self.data_dir) / "warehouse" / "chiso766.duckdb"

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


@dataclass(frozen=True)
class Settings(DataLayout):
    data_dir: Path
    portal_url: str
    provinces: tuple[str, ...] | None  # None: every province in the national summary
    focus_province: str
    portal_pause_s: float
    portal_timeout_s: float
    portal_max_attempts: int
    portal_backoff_s: float
    portal_token: str | None
    crawl_retry_delay_s: float
    # the inbox (spreadsheets, HAR files): see assets/staging/inbox.py
    inbox_settle_s: float = 5.0
    inbox_max_xml_mb: float = 50.0
    har_max_mb: float = 500.0
    # the opt-in browser transport (assets/sources/browser_transport.py)
    portal_transport: str = "plain"  # CHISO_PORTAL_TRANSPORT: plain | browser
    portal_browser_page: str = DEFAULT_PAGE  # CHISO_PORTAL_BROWSER_PAGE
    chromium_path: str | None = None  # CHISO_CHROMIUM: else /usr/bin/chromium or on PATH
    crawl_deadline_s: float = 7200.0
    # is_final: hours between two identical captures after the close (assets/months.py)
    final_gap_h: float = FINAL_GAP_H  # CHISO_FINAL_GAP_H
    # CHISO_FOCUS_PROVINCE may list several (H60,H44): the reports use the first, the
    # procedure crawl every one; CHISO_PROCEDURE_BUDGET: its requests per night
    focus_provinces: tuple[str, ...] = (DEFAULT_FOCUS_PROVINCE,)
    procedure_budget: int = DEFAULT_PROCEDURE_BUDGET


def default_replay_dir() -> Path:
    return PROJECT_ROOT / "data" / "portal-replay"


def load_settings(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    data_dir = Path(env.get("CHISO_DATA_DIR") or PROJECT_ROOT / "data").resolve()
    portal_url = env.get("CHISO_PORTAL_URL") or str(default_replay_dir())
    focus = parse_province_codes(env.get("CHISO_FOCUS_PROVINCE")) or (DEFAULT_FOCUS_PROVINCE,)
    budget = int(env.get("CHISO_PROCEDURE_BUDGET") or DEFAULT_PROCEDURE_BUDGET)
    if budget < 0:
        raise ValueError(f"CHISO_PROCEDURE_BUDGET={budget}: a number of requests, 0 or more")
    return Settings(
        data_dir=data_dir,
        portal_url=portal_url,
        provinces=parse_province_codes(env.get("CHISO_PROVINCES")),
        focus_province=focus[0],
        focus_provinces=focus,
        procedure_budget=budget,
        portal_pause_s=float(env.get("CHISO_PORTAL_PAUSE_S", "1.0")),
        portal_timeout_s=float(env.get("CHISO_PORTAL_TIMEOUT_S", "60")),
        portal_max_attempts=int(env.get("CHISO_PORTAL_MAX_ATTEMPTS", "5")),
        portal_backoff_s=float(env.get("CHISO_PORTAL_BACKOFF_S", "2.0")),
        portal_token=clean_token(env.get("CHISO_PORTAL_TOKEN")),
        crawl_retry_delay_s=float(env.get("CHISO_CRAWL_RETRY_DELAY_S", "120")),
        inbox_settle_s=float(env.get("CHISO_INBOX_SETTLE_S", "5")),
        inbox_max_xml_mb=float(env.get("CHISO_INBOX_MAX_XML_MB", "50")),
        har_max_mb=float(env.get("CHISO_HAR_MAX_MB", "500")),
        portal_transport=(env.get("CHISO_PORTAL_TRANSPORT") or "plain").strip().lower(),
        portal_browser_page=env.get("CHISO_PORTAL_BROWSER_PAGE") or DEFAULT_PAGE,
        chromium_path=env.get("CHISO_CHROMIUM") or None,
        crawl_deadline_s=float(env.get("CHISO_CRAWL_DEADLINE_S", "7200")),
        final_gap_h=float(env.get("CHISO_FINAL_GAP_H", str(FINAL_GAP_H))),
    )


class TokenError(ValueError):
    """CHISO_PORTAL_TOKEN cannot be sent; the message never shows the value."""


def clean_token(value: str | None) -> str | None:
    """The token without surrounding whitespace (a file edited on Windows leaves ``\\r``);
    None when unset or blank. A control or non-ASCII character inside it is refused with
    an error that gives its position, never the value."""
    if value is None:
        return None
    from assets.redact import register_secret

    register_secret(value)  # masked in every message from now on, whatever happens next
    token = value.strip()
    if not token:
        return None
    for i, ch in enumerate(token, 1):
        if not (" " <= ch <= "~"):
            raise TokenError(
                f"CHISO_PORTAL_TOKEN has a control or non-ASCII character (code {ord(ch)}) "
                f"at position {i} of {len(token)}, after trimming the surrounding whitespace; "
                "it cannot be sent in a header. Fix the file or variable that sets it "
                "(the value is not shown).")
    return token
