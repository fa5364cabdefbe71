"""The one monthly partitions definition shared by assets, jobs and schedules.

Keys are Dagster's monthly default (``2026-08-01``). The range starts when the index
went live on the portal (2022-08) and includes the current, still open month. Months
before 2025-07 (63 provinces) are crawled from the legacy service; the era of a month is
``assets.domain.provinces.era_of``.
"""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import dagster as dg

TIMEZONE = "Asia/Ho_Chi_Minh"
FIRST_MONTH = "2022-08-01"

# When a month's figures are final (marts.province_monthly.is_final, the crawl that is not
# fetched again, the settling window of the daily history): the one place for the rule.
# A month closes at 00:00 Vietnam time on the 1st of the next month. It is final
#  - for a portal crawl taken FINAL_AFTER_DAYS days after the close or later (Vietnam
#    time), or once two captures after the close, at least FINAL_GAP_H hours apart
#    (ChisoSettings.final_gap_h, CHISO_FINAL_GAP_H), show the same scores throughout;
#  - for the legacy service and ranking spreadsheets, once its period is over: they are
#    published figures, whenever they were imported.
FINAL_AFTER_DAYS = 5
FINAL_GAP_H = 24.0
FINAL_BY_PERIOD_SOURCES = ("legacy_api", "spreadsheet")


def month_close(month: date) -> datetime:
    """00:00 Vietnam time on the first day after ``month`` (an aware datetime)."""
    nxt = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return datetime(nxt.year, nxt.month, 1, tzinfo=ZoneInfo(TIMEZONE))


def final_from(month: date) -> datetime:
    """When a single capture of ``month`` is final: FINAL_AFTER_DAYS days after its close."""
    return month_close(month) + timedelta(days=FINAL_AFTER_DAYS)


def final_rule_params(gap_h: float = FINAL_GAP_H, today: date | None = None) -> dict:
    """The rule's constants as bound parameters for SQL (province_monthly.sql)."""
    if today is None:
        today = datetime.now(ZoneInfo(TIMEZONE)).date()
    return {"final_tz": TIMEZONE, "final_after_days": FINAL_AFTER_DAYS,
            "final_gap_h": float(gap_h), "final_by_period": list(FINAL_BY_PERIOD_SOURCES),
            "today": today}

monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date=FIRST_MONTH, timezone=TIMEZONE, end_offset=1
)


def month_from_key(key: str) -> date:
    return date.fromisoformat(key)


def months_in_window(context: dg.AssetExecutionContext) -> list[date]:
    """Every month a run covers: one partition or a single-run backfill range."""
    keys = context.partition_keys
    return sorted(month_from_key(k) for k in keys)
