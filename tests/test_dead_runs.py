"""Which runs count as dead (pipelines/dead_runs.py): pure checks, no pipeline run.

The whole story (a run killed mid-crawl / mid-publish on a persistent instance, the next
launch frees it) is in tests/test_crash.py."""

import subprocess
import sys

import dagster as dg

from pipelines.dead_runs import (
    PROCESS_TAG,
    process_identity,
    process_is_gone,
    sweep_dead_runs,
)


def a_dead_process() -> str:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    identity = process_identity(child.pid)
    child.wait()
    return identity


def test_this_process_is_alive_an_ended_one_is_gone():
    assert not process_is_gone(process_identity())
    assert process_is_gone(a_dead_process())


def test_a_reused_pid_or_another_host_is_not_taken_for_the_recorded_process():
    host, pid, started = process_identity().rsplit(":", 2)
    assert process_is_gone(f"{host}:{pid}:{int(started) + 1}")  # same pid, another process
    assert not process_is_gone(f"{host}-elsewhere:{pid}:1")     # cannot tell: left alone
    assert not process_is_gone("not an identity")


def started_run(instance: dg.DagsterInstance, identity: str | None) -> dg.DagsterRun:
    run = dg.DagsterRun(job_name="refresh_months", status=dg.DagsterRunStatus.STARTED,
                        tags={PROCESS_TAG: identity} if identity else {})
    return instance.add_run(run)


def test_the_sweep_fails_only_runs_whose_recorded_process_is_gone():
    with dg.DagsterInstance.ephemeral() as instance:
        dead = started_run(instance, a_dead_process())
        alive = started_run(instance, process_identity())
        untagged = started_run(instance, None)
        assert sweep_dead_runs(instance) == [dead.run_id]
        status = {r: instance.get_run_by_id(r).status for r in
                  (dead.run_id, alive.run_id, untagged.run_id)}
    assert status == {dead.run_id: dg.DagsterRunStatus.FAILURE,
                      alive.run_id: dg.DagsterRunStatus.STARTED,
                      untagged.run_id: dg.DagsterRunStatus.STARTED}


def test_the_sweeper_sensor_marks_a_dead_run_failed_and_launches_nothing():
    from pipelines.sensors import dead_run_sweeper

    with dg.DagsterInstance.ephemeral() as instance:
        dead = started_run(instance, a_dead_process())
        alive = started_run(instance, process_identity())
        result = dead_run_sweeper(dg.build_sensor_context(instance=instance))
        assert isinstance(result, dg.SkipReason) and dead.run_id in result.skip_message
        assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(alive.run_id).status == dg.DagsterRunStatus.STARTED
        again = dead_run_sweeper(dg.build_sensor_context(instance=instance))
        assert again.skip_message == "no run has lost its process"
