"""The procedure jobs and schedules (issue 15): the catalogue weekly, the procedure
crawl nightly after the group crawl."""

from datetime import date

import dagster as dg

from assets.marts_catalogue import REFERENCE_KEY
from assets.months import TIMEZONE, previous_month
from assets.raw.procedures import CATALOGUE_KEY, PROCEDURE_CAPTURES_KEY, REF_PROCEDURES_KEY
from assets.staging.procedure_load import PROCEDURE_STAGING_KEYS

from .jobs import writer_job
from .tags import range_tags

catalogue_job = writer_job(
    "refresh_procedure_catalogue", dg.AssetSelection.assets(CATALOGUE_KEY, REF_PROCEDURES_KEY),
    "Crawl the procedure catalogue (/formalities) unless the last complete crawl is under "
    "7 days old, and load it into ref.procedures.")

procedures_job = writer_job(
    "refresh_procedures",
    dg.AssetSelection.assets(PROCEDURE_CAPTURES_KEY, *PROCEDURE_STAGING_KEYS,
                             ["marts", "procedure_monthly"],
                             ["marts", "unit_procedure_points_lost"],
                             ["publish", "analyst_copy"], ["report", "scorecard"],
                             REFERENCE_KEY),
    "For the focus province(s), the five filtered group answers of the procedures chosen "
    "by priority, within CHISO_PROCEDURE_BUDGET requests a night (after the group crawl); "
    "then staged, the procedure marts rebuilt and the analysts' copy published.")

weekly_procedure_catalogue = dg.ScheduleDefinition(
    name="weekly_procedure_catalogue", job=catalogue_job, cron_schedule="0 1 * * 0",
    execution_timezone=TIMEZONE,
    description="Sunday 01:00 Asia/Ho_Chi_Minh: the procedure catalogue, weekly.")


@dg.schedule(job=procedures_job, cron_schedule="30 3 * * *", execution_timezone=TIMEZONE,
             name="nightly_procedures",
             description="03:30 Asia/Ho_Chi_Minh, after nightly_refresh (02:00; a writer "
                         "run, so this one queues until it ends): the procedures of the "
                         "open month and the month before it, within the night's budget.")
def nightly_procedures(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    when = context.scheduled_execution_time
    current = date(when.year, when.month, 1)
    return dg.RunRequest(
        run_key=f"procedures-{when:%Y-%m-%d}",
        tags=range_tags(previous_month(current), current))
