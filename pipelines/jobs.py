"""Jobs and schedules."""

from datetime import date

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from assets.partitions import TIMEZONE
from checks.freshness import freshness_checks

from .incidents import incident_report

refresh_job = dg.define_asset_job(
    "refresh_months",
    selection=dg.AssetSelection.all(),
    tags={"chiso766/writer": "warehouse"},
    hooks={incident_report},
    # The writers take turns anyway (one pool slot), and a process per step costs ~6 s of
    # start-up each on two cores: one process for the whole run is several times faster.
    executor_def=dg.in_process_executor,
    description="Crawl, validate, load, build the marts and publish, for one month or a "
                "range of months (one run).",
)

freshness_job = dg.define_asset_job(
    "check_freshness",
    selection=dg.AssetSelection.checks(*freshness_checks),
    description="Is the published copy up to date? (warnings only)",
)

check_freshness_hourly = dg.ScheduleDefinition(
    name="check_freshness_hourly", job=freshness_job, cron_schedule="15 * * * *",
    execution_timezone=TIMEZONE,
    description="Every hour: warn when the open month is over 26 h old or last month is "
                "missing after the 5th.")


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
