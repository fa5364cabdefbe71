"""Schedules: the nightly refresh and the hourly freshness check, in Vietnam time."""

import dagster as dg

from assets.months import TIMEZONE, first_day, previous_month

from .jobs import freshness_job, refresh_job
from .tags import range_tags

check_freshness_hourly = dg.ScheduleDefinition(
    name="check_freshness_hourly", job=freshness_job, cron_schedule="15 * * * *",
    execution_timezone=TIMEZONE,
    description="Every hour: warn when the open month is over 26 h old or last month is "
                "missing after the 5th.")


@dg.schedule(job=refresh_job, cron_schedule="0 2 * * *", execution_timezone=TIMEZONE,
             name="nightly_refresh",
             description="02:00 Asia/Ho_Chi_Minh: refresh the open month and the month "
                         "before it (still settling), in one run.")
def nightly_refresh(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    when = context.scheduled_execution_time  # in the schedule's time zone
    current = first_day(when)
    return dg.RunRequest(run_key=f"nightly-{when:%Y-%m-%d}",
                         tags=range_tags(previous_month(current), current))
