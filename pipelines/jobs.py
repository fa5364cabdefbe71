"""Jobs and schedules."""

from datetime import date

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from assets.months import TIMEZONE, first_day, month_key, parse_month, partition_key, previous_month
from assets.resources import ChisoSettings
from assets.staging.har_import import HAR_KEY, HarConfig
from assets.staging.inbox import inbox_key, pending_files, stable_files
from assets.staging.legacy import LEGACY_KEY
from assets.staging.sheet_import import (
    SHEETS_KEY,
    ImportConfig,
    inbox_dir,
    months_of,
)
from checks.freshness import PUBLISH_KEY, freshness_checks

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
    # everything monthly; spreadsheets and HARs come in through the inbox (import_inbox),
    # and staging/legacy_scores is refresh_legacy's: a month from 2025-07 has no legacy data,
    # so it is not recorded as materialized (empty) for it. (A range over months before
    # 2025-07 still loads the legacy service's answers into staging.legacy_scores, in the
    # staging step, without recording it: use refresh_legacy for those months.)
    dg.AssetSelection.all() - dg.AssetSelection.assets(SHEETS_KEY, HAR_KEY, LEGACY_KEY),
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


@dg.schedule(job=refresh_job, cron_schedule="0 2 * * *", execution_timezone=TIMEZONE,
             name="nightly_refresh",
             description="02:00 Asia/Ho_Chi_Minh: refresh the open month and the month "
                         "before it (still settling), in one run.")
def nightly_refresh(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    when = context.scheduled_execution_time
    current = first_day(when)  # the schedule's time is in Vietnam time
    start = previous_month(current)
    return dg.RunRequest(
        run_key=f"nightly-{when:%Y-%m-%d}",
        tags={ASSET_PARTITION_RANGE_START_TAG: partition_key(start),
              ASSET_PARTITION_RANGE_END_TAG: partition_key(current)},
    )


PROVINCE_MARTS = dg.AssetSelection.assets(["marts", "province_monthly"],
                                          ["marts", "group_monthly"])
# Every mart built (directly or not) from the province and group marts: rebuilding a month
# of those rebuilds these too (score_change_explained, recoverable_points).
DEPENDENT_MARTS = PROVINCE_MARTS.downstream() & dg.AssetSelection.groups("marts")
# recoverable_points reads the metric detail (marts.metric_monthly), which the legacy
# service and the spreadsheets never have: for their months it is always empty, so
# refresh_legacy and rebuild_history do not record it (no empty materializations); today's
# months get it from refresh_months. (A spreadsheet never replaces an API month: the API
# is the first source of a month, so an import cannot change those months' ranks.)
NEEDS_METRIC_DETAIL = dg.AssetSelection.assets(["marts", "recoverable_points"])

LEGACY_SELECTION = (dg.AssetSelection.assets(["raw", "portal_captures"], LEGACY_KEY,
                                             ["publish", "analyst_copy"])
                    | DEPENDENT_MARTS - NEEDS_METRIC_DETAIL)

legacy_job = writer_job(
    "refresh_legacy", LEGACY_SELECTION,
    "Months before 2025-07 (the legacy service, 63 provinces): crawl, load "
    "staging.legacy_scores, rebuild the province and group marts and the marts built on "
    "them (score_change_explained) and publish, in one run. "
    "Only the tables those months have data for are materialized.")

import_job = writer_job(
    "import_inbox", dg.AssetSelection.assets(SHEETS_KEY, HAR_KEY),
    "Import what waits in <data>/inbox/: ranking spreadsheets (.xlsx/.csv) and HAR files "
    "saved in a browser on the portal (.har: their complete months are staged, every mart "
    "rebuilt and the copy published in the same run). Rejected files move to "
    "inbox/rejected/ with a note saying why.")

history_job = writer_job(
    "rebuild_history",
    DEPENDENT_MARTS - NEEDS_METRIC_DETAIL
    | dg.AssetSelection.assets(["publish", "analyst_copy"], ["report", "scorecard"]),
    "Rebuild the province and group marts of a range of months from staging (no crawl), "
    "and the marts built on them that such months feed (score_change_explained), then "
    "publish and rebuild the report site's changed months: after a spreadsheet import.")


MAX_IMPORT_ATTEMPTS = 3
INBOX_KEY_TAG = "chiso766/inbox_key"


@dg.sensor(job=import_job, minimum_interval_seconds=60,
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Every minute: launch the import for the files waiting in "
                       "<data>/inbox/ once they are stable (not being copied). The run key "
                       "is the files' names, content, size, mtime and drop time (ctime): "
                       "a file dropped again is imported again; a failed import is retried "
                       f"up to {MAX_IMPORT_ATTEMPTS} times.")
def spreadsheet_inbox(context: dg.SensorEvaluationContext, chiso: ChisoSettings):
    inbox = inbox_dir(chiso)
    waiting = pending_files(inbox)
    if not waiting:
        return dg.SkipReason(f"nothing waiting in {inbox}")
    files, moving = stable_files(waiting, chiso.inbox_settle_s)
    if not files:
        return dg.SkipReason(f"still being copied (size or mtime changed within "
                             f"{chiso.inbox_settle_s:g} s): {', '.join(p.name for p in moving)}"
                             "; looking again at the next tick")
    key = inbox_key(files)
    names = ", ".join(p.name for p in files)
    earlier = context.instance.get_runs(filters=dg.RunsFilter(tags={INBOX_KEY_TAG: key}))
    failed = [r for r in earlier if r.status == dg.DagsterRunStatus.FAILURE]
    if len(earlier) > len(failed):
        run = next(r for r in earlier if r.status != dg.DagsterRunStatus.FAILURE)
        return dg.SkipReason(
            f"{names}: these exact files (name, content, size, mtime, drop time) are "
            f"already taken by run {run.run_id} ({run.status.value}); drop a file again "
            "(copy it in anew) to import it again")
    if len(failed) >= MAX_IMPORT_ATTEMPTS:
        return dg.SkipReason(
            f"{names}: the import failed {len(failed)} times (runs "
            f"{', '.join(r.run_id for r in failed)}); not retried again. Fix the cause, "
            "then drop the files again (a new copy) to retry")
    return dg.RunRequest(
        run_key=f"{key}-{len(failed) + 1}",
        run_config=dg.RunConfig(ops={
            "staging__spreadsheet_scores": ImportConfig(files=[p.name for p in files]),
            "raw__har_captures": HarConfig(files=[p.name for p in files])}),
        tags={"chiso766/inbox_files": str(len(files)), INBOX_KEY_TAG: key})


def month_blocks(months: list[str]) -> list[tuple[str, str]]:
    """Consecutive months grouped: ['2023-08', '2024-08', '2025-07', '2025-08'] ->
    [('2023-08', '2023-08'), ('2024-08', '2024-08'), ('2025-07', '2025-08')]."""
    blocks: list[list[date]] = []
    for month in sorted({parse_month(m) for m in months}):
        if blocks and previous_month(month) == blocks[-1][-1]:
            blocks[-1].append(month)
        else:
            blocks.append([month])
    return [(month_key(b[0]), month_key(b[-1])) for b in blocks]


def rebuilt_since(instance: dg.DagsterInstance, months: list[str], timestamp: float) -> bool:
    """Every month was published (rebuild_history's last step) after `timestamp`."""
    for month in months:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=PUBLISH_KEY,
                                  asset_partitions=[partition_key(parse_month(month))]),
            limit=1).records
        if not records or records[0].timestamp < timestamp:
            return False
    return True


@dg.asset_sensor(asset_key=SHEETS_KEY, job=history_job,
                 default_status=dg.DefaultSensorStatus.RUNNING,
                 description="After an import, rebuild the marts of the months it brought "
                             "and publish (job rebuild_history, one run per block of "
                             "consecutive months, so a month without data is never "
                             "materialized).")
def history_after_import(context: dg.SensorEvaluationContext,
                         asset_event: dg.EventLogEntry):
    materialization = asset_event.asset_materialization
    months = months_of(materialization.metadata if materialization else {})
    if not months:
        return dg.SkipReason("the import brought no month (every file was rejected)")
    if rebuilt_since(context.instance, months, asset_event.timestamp):
        # e.g. the demo, or an operator, ran rebuild_history after the import already
        return dg.SkipReason(f"{', '.join(months)}: rebuilt and published since the import")
    return [dg.RunRequest(
        run_key=f"history-{asset_event.run_id}-{first}",
        tags={ASSET_PARTITION_RANGE_START_TAG: partition_key(parse_month(first)),
              ASSET_PARTITION_RANGE_END_TAG: partition_key(parse_month(last))})
        for first, last in month_blocks(months)]
