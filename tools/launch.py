"""The operator's launch command: a run the UI can re-execute from failure.

    source scripts/env.sh
    python -m tools.launch --job refresh_months --partition 2026-08-01
    python -m tools.launch --job refresh_months --partition-range 2026-06-01...2026-11-01
    python -m tools.launch --job import_inbox

Unlike ``dg launch`` (which executes in its own process and leaves the run without a
remote job origin, so "Re-execute → From failure" in the UI fails), this loads the
workspace (workspace.yaml) in a code server, as the UI does, and creates the run with
its origin. Then:

- a Dagster daemon is up (``dg dev`` or ``dagster-daemon``): the run goes into the
  instance's run queue, behind other writers (tag chiso766/writer), and the daemon
  starts it;
- no daemon: this command launches the run itself (a new process, from the code server)
  and stays until it ends.

Either way it prints the run's events as they come, then the run id, its status and
where its logs are; the exit code is 0 only when the run succeeded. Before launching it
sweeps runs whose process is gone (pipelines/dead_runs.py); ``--sweep`` does only that,
``--free RUN_ID`` marks one such run failed and frees its slots by hand.
"""

import argparse
import json
import logging
import os
import sys
import time
from datetime import datetime
from pathlib import Path

import dagster as dg

from pipelines.dead_runs import PROCESS_TAG, mark_dead, process_is_gone, sweep_dead_runs
from pipelines.tags import PARTITION_TAG, RANGE_END_TAG, RANGE_START_TAG

ROOT = Path(__file__).resolve().parent.parent
LOCATION = "chiso766"
DAEMON_FRESH_S = 60  # the daemon beats every ~20 s


def run_tags(partition: str | None, partition_range: str | None) -> dict[str, str]:
    if partition and partition_range:
        raise ValueError("give --partition or --partition-range, not both")
    if partition:
        return {PARTITION_TAG: partition}
    if partition_range:
        first, sep, last = partition_range.partition("...")
        if not sep or not first or not last:
            raise ValueError(f"--partition-range {partition_range!r}: expected FIRST...LAST, "
                             "e.g. 2026-06-01...2026-11-01")
        return {RANGE_START_TAG: first, RANGE_END_TAG: last}
    return {}


def daemon_is_up(instance: dg.DagsterInstance) -> bool:
    """Is a daemon dequeuing runs from this instance's queue right now?"""
    if not isinstance(instance.run_coordinator, dg.QueuedRunCoordinator):
        return False
    beat = instance.get_daemon_heartbeats().get("QUEUED_RUN_COORDINATOR")
    return beat is not None and time.time() - beat.timestamp < DAEMON_FRESH_S


def _workspace(instance: dg.DagsterInstance, workspace_yaml: Path):
    # No public Dagster API loads a workspace from Python; this is what `dagster job
    # launch` and the webserver do: the code location runs in a gRPC code server.
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget

    return WorkspaceProcessContext(
        instance=instance, version=dg.__version__, read_only=False,
        workspace_load_target=WorkspaceFileTarget(paths=[str(workspace_yaml)]))


def create_run(instance: dg.DagsterInstance, workspace, job_name: str,
               tags: dict[str, str], run_config: dict | None = None) -> dg.DagsterRun:
    """A run of the whole job, with the remote origin the UI's re-execution needs."""
    if workspace.has_code_location_error(LOCATION):
        raise RuntimeError(f"the code location {LOCATION} does not load: "
                           f"{workspace.get_code_location_error(LOCATION)}")
    location = workspace.get_code_location(LOCATION)
    (repo,) = location.get_repositories().values()
    if not repo.has_job(job_name):
        names = sorted(j.name for j in repo.get_all_jobs() if not j.name.startswith("__"))
        raise ValueError(f"no job {job_name!r}; jobs: {', '.join(names)}")
    job = repo.get_full_job(job_name)
    run_config = run_config or {}
    plan = location.get_execution_plan(job, run_config, step_keys_to_execute=None,
                                       known_state=None, instance=instance
                                       ).execution_plan_snapshot
    return instance.create_run(
        job_name=job_name, run_id=None, run_config=run_config, resolved_op_selection=None,
        step_keys_to_execute=plan.step_keys_to_execute, op_selection=None, status=None,
        root_run_id=None, parent_run_id=None, tags={**job.tags, **tags},
        job_snapshot=job.job_snapshot, execution_plan_snapshot=plan,
        parent_job_snapshot=job.parent_job_snapshot,
        remote_job_origin=job.get_remote_origin(), job_code_origin=job.get_python_origin(),
        asset_selection=None, asset_check_selection=None, asset_graph=repo.asset_graph)


def format_entry(entry) -> str:
    """One event as `dg launch` prints it (scripts/demo.sh reads these lines)."""
    event = entry.dagster_event
    when = datetime.fromtimestamp(entry.timestamp).astimezone()
    parts = [entry.job_name or "system", entry.run_id,
             str(event.pid) if event is not None and event.pid else None, entry.step_key,
             event.event_type_value if event is not None else None, entry.user_message]
    return (f"{when:%Y-%m-%d %H:%M:%S %z} - dagster - {logging.getLevelName(entry.level)} - "
            + " - ".join(p for p in parts if p))


def follow(instance: dg.DagsterInstance, run_id: str, echo: bool = True, out=sys.stdout,
           poll_s: float = 0.5) -> dg.DagsterRun:
    """Wait until the run has ended, printing its events if ``echo``; the finished run."""
    cursor = None
    while True:
        run = instance.get_run_by_id(run_id)
        page = instance.get_records_for_run(run_id, cursor=cursor, limit=1000)
        for record in page.records:
            if echo and record.event_log_entry.user_message:
                print(format_entry(record.event_log_entry), file=out, flush=True)
        cursor = page.cursor
        if run.is_finished and not page.has_more:
            return run
        if not page.has_more:
            time.sleep(poll_s)


def report(run: dg.DagsterRun) -> str:
    home = os.environ.get("DAGSTER_HOME", "$DAGSTER_HOME")
    data = os.environ.get("CHISO_DATA_DIR", str(ROOT / "data"))
    lines = [f"Run {run.run_id}: {run.status.value} (job {run.job_name})",
             f"  events: the UI (dg dev --host 127.0.0.1), Runs, {run.run_id[:8]}; "
             f"stdout/stderr of each step: {home}/storage/{run.run_id}/compute_logs/"]
    if run.status != dg.DagsterRunStatus.SUCCESS:
        lines.append(f"  what failed and how to rerun: {data}/logs/incident-latest.txt; or "
                     f"in the UI: Runs, {run.run_id[:8]}, Re-execute, From failure")
    return "\n".join(lines)


def free_by_hand(instance: dg.DagsterInstance, run_id: str) -> int:
    run = instance.get_run_by_id(run_id)
    if run is None:
        print(f"no run {run_id}", file=sys.stderr)
        return 2
    if run.is_finished:
        print(f"run {run_id} has already ended ({run.status.value}); nothing to free")
        return 0
    identity = run.tags.get(PROCESS_TAG)
    if identity and not process_is_gone(identity):
        print(f"run {run_id} is still running here ({identity}): terminate it from the UI "
              "(Runs, Terminate) or stop that process first", file=sys.stderr)
        return 1
    mark_dead(instance, run, "chiso766: marked failed by hand (python -m tools.launch "
                             "--free); its pool slots freed.")
    print(f"run {run_id} marked failed; its pool slots freed")
    return 0


def sweep(instance: dg.DagsterInstance) -> None:
    for run_id in sweep_dead_runs(instance):
        print(f"Run {run_id} had lost its process (killed or crashed): marked failed, its "
              "pool slots freed.", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.launch", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--job", help="refresh_months, import_inbox, rebuild_history, ...")
    ap.add_argument("--partition", help="one month, e.g. 2026-08-01")
    ap.add_argument("--partition-range", help="FIRST...LAST, e.g. 2026-06-01...2026-11-01")
    ap.add_argument("--config-json", help="run config, e.g. the force flag (docs/operations.md)")
    ap.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--no-wait", action="store_true",
                    help="with a daemon up: queue the run and return at once")
    ap.add_argument("--workspace", type=Path, default=ROOT / "workspace.yaml")
    ap.add_argument("--sweep", action="store_true",
                    help="only mark runs whose process is gone failed and free their slots")
    ap.add_argument("--free", metavar="RUN_ID",
                    help="mark one in-progress run failed and free its pool slots, by hand")
    args = ap.parse_args(argv)
    if "DAGSTER_HOME" not in os.environ:
        ap.error("DAGSTER_HOME is not set: source scripts/env.sh first")
    try:
        tags = run_tags(args.partition, args.partition_range)
        tags.update(dict(t.split("=", 1) for t in args.tag))
        run_config = json.loads(args.config_json) if args.config_json else None
    except ValueError as exc:
        ap.error(str(exc))

    with dg.DagsterInstance.get() as instance:
        if args.free:
            return free_by_hand(instance, args.free)
        sweep(instance)
        if args.sweep:
            return 0
        if not args.job:
            ap.error("--job is required")
        with _workspace(instance, args.workspace) as process_context:
            workspace = process_context.create_request_context()
            try:
                run = create_run(instance, workspace, args.job, tags, run_config)
            except (RuntimeError, ValueError, dg.DagsterInvalidConfigError) as exc:
                print(f"cannot launch: {exc}", file=sys.stderr)
                return 2
            queued = daemon_is_up(instance)
            if queued:
                instance.submit_run(run.run_id, workspace)
                print(f"Run {run.run_id} queued: the Dagster daemon (dg dev / dagster-daemon) "
                      "starts it when the writer queue allows.", flush=True)
                if args.no_wait:
                    return 0
            else:
                instance.launch_run(run.run_id, workspace)
                print(f"Run {run.run_id} launched in a new process (no Dagster daemon is up)."
                      " Waiting for it; Ctrl-C stops the run.", flush=True)
            try:
                # launched from here, the run's process writes its log to our stdout
                # already; from the daemon's queue, it is printed from the event log
                finished = follow(instance, run.run_id, echo=queued)
            except KeyboardInterrupt:
                if not queued:
                    instance.run_launcher.terminate(run.run_id)
                print(f"\nRun {run.run_id}: "
                      + ("terminated" if not queued else "still queued/running (daemon)"),
                      file=sys.stderr)
                return 130
        print(report(finished), flush=True)
        return 0 if finished.status == dg.DagsterRunStatus.SUCCESS else 1


if __name__ == "__main__":
    sys.exit(main())
