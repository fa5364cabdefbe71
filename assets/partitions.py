"""The one monthly partitions definition shared by assets, jobs and schedules.

Keys are Dagster's monthly default (``2026-08-01``). The range starts when the index
went live on the portal (2022-08) and includes the current, still open month. The month
itself (key forms, neighbours, era, finality) is ``assets/months.py``.
"""

from datetime import date

import dagster as dg

from assets.months import (  # noqa: F401 - re-exported until every caller imports months
    FINAL_AFTER_DAYS,
    FINAL_BY_PERIOD_SOURCES,
    FINAL_GAP_H,
    FIRST_MONTH,
    TIMEZONE,
    final_from,
    final_rule_params,
    month_close,
    parse_month,
)

monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date=FIRST_MONTH.isoformat(), timezone=TIMEZONE, end_offset=1
)


def month_from_key(key: str) -> date:
    return parse_month(key)


def months_in_window(context: dg.AssetExecutionContext) -> list[date]:
    """Every month a run covers: one partition or a single-run backfill range."""
    keys = context.partition_keys
    return sorted(month_from_key(k) for k in keys)
