"""Sensors: the inbox watcher, the rebuild after an import, the dead-run sweeper."""

from datetime import date

import dagster as dg

from assets.months import month_key, next_month, parse_month, partition_key
from assets.resources import ChisoSettings
from assets.staging.har_import import HarConfig
from assets.staging.inbox import inbox_key, pending_files, stable_files
from assets.staging.sheet_import import SHEETS_KEY, ImportConfig, inbox_dir, months_of
from checks.freshness import PUBLISH_KEY

from .dead_runs import sweep_dead_runs
from .jobs import history_job, import_job
from .tags import range_tags

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


def month_blocks(months: list[str]) -> list[tuple[date, date]]:
    """Consecutive months grouped, first and last: ['2023-08', '2024-08', '2025-07',
    '2025-08'] -> the blocks 2023-08, 2024-08 and 2025-07 to 2025-08."""
    blocks: list[list[date]] = []
    for month in sorted({parse_month(m) for m in months}):
        if blocks and month == next_month(blocks[-1][-1]):
            blocks[-1].append(month)
        else:
            blocks.append([month])
    return [(b[0], b[-1]) for b in blocks]


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
    return [dg.RunRequest(run_key=f"history-{asset_event.run_id}-{month_key(first)}",
                          tags=range_tags(first, last))
            for first, last in month_blocks(months)]


@dg.sensor(minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING,
           description="While the daemon is up: every 30 s, runs whose process is gone "
                       "(killed, out of memory, a reboot) are marked failed and their pool "
                       "slots freed (pipelines/dead_runs.py). Launches nothing.")
def dead_run_sweeper(context: dg.SensorEvaluationContext):
    swept = sweep_dead_runs(context.instance)
    for run_id in swept:
        context.log.warning(f"run {run_id} had lost its process: marked failed, its pool "
                            "slots freed")
    return dg.SkipReason(f"marked failed: {', '.join(swept)}" if swept
                         else "no run has lost its process")
