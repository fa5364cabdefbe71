"""The one monthly partitions definition shared by assets, jobs and schedules.

Keys are Dagster's monthly default (``2026-08-01``). The range starts when the index
went live on the portal (2022-08) and includes the current, still open month. Months
before 2025-07 (63 provinces) are crawled from the legacy service; the era of a month is
``assets.domain.provinces.era_of``.
"""

from datetime import date

import dagster as dg

TIMEZONE = "Asia/Ho_Chi_Minh"
FIRST_MONTH = "2022-08-01"

monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date=FIRST_MONTH, timezone=TIMEZONE, end_offset=1
)


def month_from_key(key: str) -> date:
    return date.fromisoformat(key)


def months_in_window(context: dg.AssetExecutionContext) -> list[date]:
    """Every month a run covers: one partition or a single-run backfill range."""
    keys = context.partition_keys
    return sorted(month_from_key(k) for k in keys)
