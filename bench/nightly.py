"""The nightly run, measured through the real Dagster job (``refresh_months``).

The warehouse starts as the benchmark's rebuild left it (every benchmark month staged
and its marts built), so publishing copies a warehouse of the benchmark's size. The
nights then run what the schedule runs, the previous and the current calendar month,
against a replay of the portal (``tools.synthetic``, seeded; no pause between requests):

1. first night: both months are new to this raw store (crawl, stage, marts, publish);
2. nothing new: the same answers again. The closed month's final crawl is kept and not
   fetched; the open month is fetched, its bytes are recognised by sha256, and nothing
   after staging runs;
3. one new day: the open month's answers change (another seed), so it is staged, and the
   marts, publish and scorecard run.

Dagster's own start-up is measured in the same process and instance: a run of a job with
one op that does nothing (run storage, events, step launch), and separately the import
and loading of the code location (what ``dg launch`` pays before the run starts).
"""

import shutil
import time
from datetime import date
from pathlib import Path

from assets.months import previous_month
from tools.synthetic import generate

STEPS_AFTER_STAGING = ("marts__", "publish__", "report__")


def _night(job, instance, first: date, last: date) -> dict:
    from pipelines.tags import range_tags

    t = time.perf_counter()
    result = job.execute_in_process(instance=instance, tags=range_tags(first, last))
    wall = time.perf_counter() - t
    steps = {e.step_key: e.event_type_value for e in result.all_events
             if e.event_type_value in ("STEP_SUCCESS", "STEP_SKIPPED", "STEP_FAILURE")}
    durations = {e.step_key: round(e.event_specific_data.duration_ms / 1000, 2)
                 for e in result.all_events if e.event_type_value == "STEP_SUCCESS"}
    return {"wall_s": wall, "success": result.success,
            "ran": sorted(k for k, v in steps.items() if v == "STEP_SUCCESS"),
            "skipped": sorted(k for k, v in steps.items() if v == "STEP_SKIPPED"),
            "step_s": durations}


def measure_nightly(work: str, warehouse_db: str | None, provinces: list[str] | None,
                    seed: int) -> dict:
    t = time.perf_counter()
    import dagster as dg
    import_s = time.perf_counter() - t

    t = time.perf_counter()
    from assets.months import current_month, month_key
    from assets.settings import load_settings
    from pipelines.definitions import build_defs  # the code location loads here
    location_s = time.perf_counter() - t

    work_dir = Path(work)
    data, replay = work_dir / "data", work_dir / "replay"
    current = current_month()
    previous = previous_month(current)
    generate(replay, [previous, current], provinces=provinces, seed=seed)
    settings = load_settings({
        "CHISO_DATA_DIR": str(data), "CHISO_PORTAL_URL": str(replay),
        "CHISO_PROVINCES": ",".join(provinces) if provinces else "all",
        "CHISO_FOCUS_PROVINCE": (provinces or ["H60"])[0], "CHISO_PORTAL_PAUSE_S": "0"})
    if warehouse_db:
        settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(warehouse_db, settings.warehouse_path)
    t = time.perf_counter()
    defs = build_defs(settings)
    job = defs.resolve_job_def("refresh_months")
    load_s = location_s + time.perf_counter() - t
    # run storage on disk (SQLite), as a deployment's instance
    (work_dir / "instance").mkdir(parents=True, exist_ok=True)
    instance = dg.DagsterInstance.local_temp(str(work_dir / "instance"))

    @dg.op
    def nothing():
        return None

    @dg.job(executor_def=dg.in_process_executor)
    def trivial():
        nothing()

    trivial.execute_in_process(instance=instance)  # first run pays one-off storage setup
    t = time.perf_counter()
    trivial.execute_in_process(instance=instance)
    startup_s = time.perf_counter() - t

    first = _night(job, instance, previous, current)
    nothing_new = _night(job, instance, previous, current)
    generate(replay, [current], provinces=provinces, seed=seed + 1)  # the portal moved on
    new_day = _night(job, instance, previous, current)
    instance.dispose()
    return {"months": [month_key(previous), month_key(current)],
            "import_s": import_s, "load_defs_s": load_s, "startup_run_s": startup_s,
            "first": first, "nothing_new": nothing_new, "new_day": new_day,
            "warehouse_mb": settings.warehouse_path.stat().st_size / 1e6}
