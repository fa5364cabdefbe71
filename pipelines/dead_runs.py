"""Runs whose process is gone (kill -9, out of memory, a reboot): marked failed, slots freed.

A run killed hard never writes its end: Dagster keeps it STARTED, its pool slots
(duckdb_warehouse, portal) stay taken and the chiso766/writer queue stays blocked, so
every later writer waits forever. Each run records the process executing it as the run
tag ``chiso766/process`` (host, pid, the process's start time, so a reused pid is not
mistaken for it). Three things read that tag:

- ``python -m tools.launch`` sweeps before it launches anything;
- every run sweeps when its first step starts (``ChisoRunSettings``, pipelines/resources.py);
- while the Dagster daemon is up (``dg dev`` or ``dagster-daemon``), the sensor
  ``dead_run_sweeper`` (pipelines/sensors.py) sweeps every 30 s; it launches nothing.

A run on another host, or without the tag, is never touched: nothing can tell here
whether it is alive. ``python -m tools.launch --free RUN_ID`` frees one by hand.
"""

import os
import socket
from pathlib import Path

import dagster as dg

PROCESS_TAG = "chiso766/process"
IN_PROGRESS = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED,
               dg.DagsterRunStatus.CANCELING]


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name: [state, ppid, ...]."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def process_identity(pid: int | None = None) -> str:
    pid = pid or os.getpid()
    stat = _proc_stat(pid)
    started = stat[19] if stat else "?"  # field 22 of /proc/<pid>/stat: start time in ticks
    return f"{socket.gethostname()}:{pid}:{started}"


def process_is_gone(identity: str) -> bool:
    """True only when sure: the tag names this host and no such process runs (a zombie
    counts as gone, a different process under a reused pid too)."""
    try:
        host, pid_text, started = identity.rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return False
    if host != socket.gethostname():
        return False
    if not Path("/proc/self/stat").exists():  # no /proc: ask the kernel about the pid
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
    stat = _proc_stat(pid)
    if stat is None or stat[0] in ("Z", "X"):
        return True
    return started != "?" and stat[19] != started


def record_this_process(instance: dg.DagsterInstance, run_id: str) -> bool:
    """Tag the run with this process; False when it already was (a later step)."""
    run = instance.get_run_by_id(run_id)
    me = process_identity()
    if run is None or run.tags.get(PROCESS_TAG) == me:
        return False
    instance.add_run_tags(run_id, {PROCESS_TAG: me})
    return True


def free_pool_slots(instance: dg.DagsterInstance, run_id: str) -> None:
    # No public Dagster call frees the concurrency (pool) slots a run holds; the daemon's
    # own clean-up (free_slots_after_run_end_seconds) calls this storage method.
    instance.event_log_storage.free_concurrency_slots_for_run(run_id)


def mark_dead(instance: dg.DagsterInstance, run: dg.DagsterRun, why: str) -> None:
    instance.report_run_failed(run, why)
    free_pool_slots(instance, run.run_id)


def sweep_dead_runs(instance: dg.DagsterInstance, exclude: tuple[str, ...] = ()) -> list[str]:
    """Mark every in-progress run whose recorded process is gone as failed, free its slots;
    the ids of the runs swept."""
    swept = []
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=IN_PROGRESS)):
        run = record.dagster_run
        identity = run.tags.get(PROCESS_TAG)
        if run.run_id in exclude or not identity or not process_is_gone(identity):
            continue
        mark_dead(instance, run, f"chiso766: the process running this run ({identity}) is "
                                 "gone (killed or crashed); marked failed, its pool slots "
                                 "freed. Re-execute it from failure, or launch it again.")
        swept.append(run.run_id)
    return swept
