"""Jobs and schedules."""

from datetime import date

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from assets.partitions import TIMEZONE

refresh_job = dg.define_asset_job(
    "refresh_months",
    selection=dg.AssetSelection.all(),
    tags={"chiso766/writer": "warehouse"},
    description="Crawl, validate, load, build the marts and publish, for one month or a "
                "range of months (one run).",
)


def previous_month(month: date) -> date:
    return date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)


@dg.schedule(job=refresh_job, cron_schedule="0 2 * * *", execution_timezone=TIMEZONE,
             name="nightly_refresh",
             description="02:00 Asia/Ho_Chi_Minh: refresh the open month and the month "
                         "before it (still settling), in one run.")
def nightly_refresh(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    when = context.scheduled_execution_time
    current = date(when.year, when.month, 1)
    start = previous_month(current)
    return dg.RunRequest(
        run_key=f"nightly-{when:%Y-%m-%d}",
        tags={ASSET_PARTITION_RANGE_START_TAG: start.isoformat(),
              ASSET_PARTITION_RANGE_END_TAG: current.isoformat()},
    )
