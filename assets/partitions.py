"""The one monthly partitions definition shared by assets, jobs and schedules.

Keys are Dagster's monthly default (``2026-08-01``). The range starts when the index
went live on the portal (2022-08) and includes the current, still open month. The month
itself (key forms, neighbours, era, finality) is ``assets/months.py``.
"""

from datetime import date

import dagster as dg

from assets.months import FIRST_MONTH, TIMEZONE, month_range, previous_month

monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date=FIRST_MONTH.isoformat(), timezone=TIMEZONE, end_offset=1
)


def months_in_window(context: dg.AssetExecutionContext) -> list[date]:
    """Every month a run covers (one partition or a single-run backfill range), from the
    run's partition time window: [start of the first month, start of the month after the
    last)."""
    window = context.partition_time_window
    return month_range(window.start, previous_month(window.end))
