"""Jobs and schedules."""

import hashlib
from datetime import date

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from assets.partitions import TIMEZONE
from assets.resources import ChisoSettings
from assets.staging.spreadsheet_assets import (
    SHEETS_KEY,
    ImportConfig,
    inbox_dir,
    months_of,
    pending_files,
)
from checks.freshness import freshness_checks

from .incidents import incident_report


def writer_job(name: str, selection, description: str):
    """A job that writes the warehouse: queued behind the others (tag), the incident hook,
    and one process for the whole run (the writers take turns anyway, one pool slot, and a
    process per step costs ~6 s of start-up each on two cores)."""
    return dg.define_asset_job(name, selection=selection,
                               tags={"chiso766/writer": "warehouse"}, hooks={incident_report},
                               executor_def=dg.in_process_executor, description=description)


refresh_job = writer_job(
    "refresh_months",
    # everything monthly; spreadsheets come in through the inbox (import_spreadsheets)
    dg.AssetSelection.all() - dg.AssetSelection.assets(SHEETS_KEY),
    "Crawl, validate, load, build the marts and publish, for one month or a range of "
    "months (one run).")

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


import_job = writer_job(
    "import_spreadsheets", dg.AssetSelection.assets(SHEETS_KEY),
    "Import the ranking spreadsheets waiting in <data>/inbox/ (rejected files move to "
    "inbox/rejected/ with a note saying why).")

history_job = writer_job(
    "rebuild_history",
    dg.AssetSelection.assets(["marts", "province_monthly"], ["marts", "group_monthly"],
                             ["publish", "analyst_copy"], ["report", "scorecard"]),
    "Rebuild the province and group marts of a range of months from staging (no crawl), "
    "then publish and rebuild the report site's changed months: after a spreadsheet "
    "import.")


@dg.sensor(job=import_job, minimum_interval_seconds=60,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Every minute: launch import_spreadsheets for the files waiting in "
                       "<data>/inbox/ (one run per set of files, keyed by their content).")
def spreadsheet_inbox(context: dg.SensorEvaluationContext, chiso: ChisoSettings):
    files = pending_files(inbox_dir(chiso))
    if not files:
        return dg.SkipReason(f"nothing waiting in {inbox_dir(chiso)}")
    key = hashlib.sha256()
    for path in files:
        key.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return dg.RunRequest(
        run_key=f"inbox-{key.hexdigest()[:16]}",
        run_config=dg.RunConfig(ops={"staging__spreadsheet_scores": ImportConfig(
            files=[p.name for p in files])}),
        tags={"chiso766/inbox_files": str(len(files))})


@dg.asset_sensor(asset_key=SHEETS_KEY, job=history_job,
                 default_status=dg.DefaultSensorStatus.RUNNING,
                 description="After an import, rebuild the marts of the months it brought "
                             "and publish (job rebuild_history).")
def history_after_import(context: dg.SensorEvaluationContext,
                         asset_event: dg.EventLogEntry):
    materialization = asset_event.asset_materialization
    months = months_of(materialization.metadata if materialization else {})
    if not months:
        return dg.SkipReason("the import brought no month (every file was rejected)")
    return dg.RunRequest(
        run_key=f"history-{asset_event.run_id}",
        tags={ASSET_PARTITION_RANGE_START_TAG: f"{min(months)}-01",
              ASSET_PARTITION_RANGE_END_TAG: f"{max(months)}-01"})
