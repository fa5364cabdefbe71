"""The month: the one place that knows its key forms, its neighbours, its era and when its
figures are final. Nothing else does month arithmetic or decides the era.

Pure dates, no Dagster: the raw layer, staging, the marts and the tools all import it.
The Dagster partitions definition built on it is ``assets/partitions.py``.

Key forms
  ``month_key``      ``2026-08``     raw folders, manifests, labels, audit rows
  ``partition_key``  ``2026-08-01``  Dagster's monthly partition key
  ``parse_month``    either form (or a ``date``/``datetime``) back to the first day

Era
  Before 2025-07 the index scored 63 provinces (the legacy service); from 2025-07, after
  the merger, 34 (the current API). ``Era`` is a ``str`` enum whose values ("63", "34")
  are the ones stored in ``ref.provinces.era`` and the staged tables.

Finality (``marts.province_monthly.is_final``, the crawl not fetched again, the settling
window of the nightly captures) — one rule, in Vietnam time:
  A month closes at 00:00 Asia/Ho_Chi_Minh on the 1st of the next month. It is final
  - for a portal crawl taken ``FINAL_AFTER_DAYS`` days after the close or later, or once
    two captures after the close, at least ``FINAL_GAP_H`` hours apart
    (``CHISO_FINAL_GAP_H``), show the same scores;
  - for the legacy service and ranking spreadsheets, once its period is over: they are
    published figures, whenever they were imported.
  SQL gets the same constants as bound parameters (``final_rule_params``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

TIMEZONE = "Asia/Ho_Chi_Minh"
VIETNAM = ZoneInfo(TIMEZONE)
FIRST_MONTH = date(2022, 8, 1)  # the index went live on the portal
MERGER_MONTH = date(2025, 7, 1)  # first month of the 34-province era

FINAL_AFTER_DAYS = 5
FINAL_GAP_H = 24.0
FINAL_BY_PERIOD_SOURCES = ("legacy_api", "spreadsheet")


class Era(StrEnum):
    """The province map a month is scored on."""

    PRE_MERGER = "63"
    MERGED = "34"

    @property
    def province_count(self) -> int:
        return int(self.value)


# --- key forms --------------------------------------------------------------------------

def first_day(value: date | datetime) -> date:
    """The first day of the month ``value`` falls in."""
    return date(value.year, value.month, 1)


def month_key(month: date) -> str:
    """``2026-08``: raw folders, manifests, labels."""
    return f"{month.year:04d}-{month.month:02d}"


def last_day(month: date) -> date:
    """The last day of the month ``month`` falls in."""
    return next_month(month) - timedelta(days=1)


def partition_key(month: date) -> str:
    """``2026-08-01``: Dagster's monthly partition key."""
    return first_day(month).isoformat()


def parse_month(value: str | date | datetime) -> date:
    """The first day of a month given as ``2026-08``, ``2026-08-01`` (a partition key),
    ``08/2026`` (the portal's labels) or a date; ValueError naming the value otherwise."""
    if isinstance(value, datetime | date):
        return first_day(value)
    text = str(value).strip()
    try:
        if "/" in text:
            mm, yyyy = text.split("/")
            return date(int(yyyy), int(mm), 1)
        parts = text.split("-")
        if len(parts) in (2, 3) and len(parts[0]) == 4:
            return first_day(date(int(parts[0]), int(parts[1]),
                                  int(parts[2]) if len(parts) == 3 else 1))
    except ValueError:
        pass
    raise ValueError(f"not a month: {value!r} (expected YYYY-MM, YYYY-MM-01 or MM/YYYY)")


# --- neighbours and ranges --------------------------------------------------------------

def next_month(month: date) -> date:
    m = first_day(month)
    return date(m.year + m.month // 12, m.month % 12 + 1, 1)


def previous_month(month: date) -> date:
    m = first_day(month)
    return date(m.year - 1, 12, 1) if m.month == 1 else date(m.year, m.month - 1, 1)


def month_range(first: date, last: date) -> list[date]:
    """Every month from ``first`` to ``last``, both included (empty if last < first)."""
    out, current, end = [], first_day(first), first_day(last)
    while current <= end:
        out.append(current)
        current = next_month(current)
    return out


def months_between(first: date, last: date) -> int:
    """How many months ``last`` is after ``first`` (negative when before)."""
    a, b = first_day(first), first_day(last)
    return (b.year - a.year) * 12 + b.month - a.month


def iter_months(first: date, last: date) -> Iterator[date]:
    yield from month_range(first, last)


def months_following(months: Iterable[date]) -> list[date]:
    """The month after each given month, sorted, without the given months themselves:
    the months whose month-on-month figures change when ``months`` change."""
    given = {first_day(m) for m in months}
    return sorted({next_month(m) for m in given} - given)


def current_month(now: datetime | None = None) -> date:
    """The open month in Vietnam time."""
    return first_day((now or datetime.now(VIETNAM)).astimezone(VIETNAM))


# --- era ---------------------------------------------------------------------------------

def era_of(month: date) -> Era:
    return Era.MERGED if first_day(month) >= MERGER_MONTH else Era.PRE_MERGER


def expected_province_count(month: date) -> int:
    return era_of(month).province_count


# --- finality ----------------------------------------------------------------------------

def month_close(month: date) -> datetime:
    """00:00 Vietnam time on the first day after ``month`` (an aware datetime)."""
    nxt = next_month(month)
    return datetime(nxt.year, nxt.month, 1, tzinfo=VIETNAM)


def final_from(month: date) -> datetime:
    """When a single capture of ``month`` is final: FINAL_AFTER_DAYS days after its close."""
    return month_close(month) + timedelta(days=FINAL_AFTER_DAYS)


def final_rule_params(gap_h: float = FINAL_GAP_H, today: date | None = None) -> dict:
    """The rule's constants as bound parameters for SQL (province_monthly.sql)."""
    if today is None:
        today = datetime.now(VIETNAM).date()
    return {"final_tz": TIMEZONE, "final_after_days": FINAL_AFTER_DAYS,
            "final_gap_h": float(gap_h), "final_by_period": list(FINAL_BY_PERIOD_SOURCES),
            "today": today}
