"""Killed with SIGKILL mid-write: the warehouse stays consistent, the published copy whole."""

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from conftest import AUGUST, PROJECT, Pipeline

JULY = date(2026, 7, 1)
RUNNER = Path(__file__).parent / "support" / "crash_runner.py"


def kill_when_paused(data_dir: Path, replay_dir: Path, pause_at: str, tmp_path: Path,
                     first: date = JULY, instance_dir: Path | None = None) -> None:
    ready = tmp_path / f"{pause_at}.ready"
    child = subprocess.Popen(
        [sys.executable, str(RUNNER), "--data", str(data_dir), "--replay", str(replay_dir),
         "--pause-at", pause_at, "--ready", str(ready), "--first", first.isoformat(),
         "--last", AUGUST.isoformat(),
         *(["--instance", str(instance_dir)] if instance_dir else [])],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert child.poll() is None, "the run ended before reaching the pause point"
            assert time.monotonic() < deadline, "the run never reached the pause point"
            time.sleep(0.1)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL


def month_counts(con) -> dict:
    return dict(con.execute("SELECT month, count(*) FROM staging.unit_metrics GROUP BY 1")
                .fetchall())


@pytest.fixture
def august_loaded(tmp_path, replay_dir) -> Pipeline:
    p = Pipeline(tmp_path / "data", str(replay_dir))
    assert p.run(AUGUST).success
    return p


def test_killed_inside_the_staging_transaction_nothing_is_half_written(
        august_loaded, replay_dir, tmp_path):
    p = august_loaded
    with p.warehouse() as con:
        before = con.execute("SELECT * FROM staging.unit_metrics ORDER BY ALL").fetchall()
    kill_when_paused(p.data_dir, replay_dir, "staging", tmp_path)

    with p.warehouse() as con:  # DuckDB replays its WAL: the open transaction is gone
        assert con.execute("SELECT * FROM staging.unit_metrics ORDER BY ALL").fetchall() == before
        assert JULY not in month_counts(con)
    # the next run completes the work, with one copy of each row
    assert p.run(JULY, AUGUST).success
    with p.warehouse() as con:
        counts = month_counts(con)
    assert counts[AUGUST] == len(before) and counts[JULY] > 0


def test_killed_while_publishing_the_published_copy_is_never_half_written(
        august_loaded, replay_dir, tmp_path):
    p = august_loaded
    published = p.settings.published_path
    with p.published() as con:
        before = con.execute("SELECT * FROM marts.province_monthly ORDER BY ALL").fetchall()
    kill_when_paused(p.data_dir, replay_dir, "publish", tmp_path)

    assert list(published.parent.glob(".chiso766.duckdb.*.tmp*"))  # the killed copy's temp
    with p.published() as con:  # the old copy, whole and queryable
        assert con.execute("SELECT * FROM marts.province_monthly ORDER BY ALL").fetchall() \
            == before
    assert p.run(JULY, AUGUST).success
    with p.published() as con:
        months = {r[0] for r in con.execute("SELECT DISTINCT month FROM marts.province_monthly")
                  .fetchall()}
    assert months == {JULY, AUGUST}
    assert not list(published.parent.glob(".chiso766.duckdb.*.tmp*"))
    assert not os.access(published, os.W_OK) or os.geteuid() == 0
    assert published.stat().st_mode & 0o222 == 0  # written read-only


# --- a killed run must not block every later run (persistent instance, as in production) ---

@pytest.fixture(scope="module")
def persistent(tmp_path_factory, replay_dir):
    """A DAGSTER_HOME on disk with the project's dagster.yaml (pools, queue, run launcher)."""
    root = tmp_path_factory.mktemp("persistent")
    (root / "home").mkdir()
    (root / "home" / "dagster.yaml").write_text((PROJECT / "dagster.yaml").read_text())
    env = {**os.environ, "DAGSTER_HOME": str(root / "home"),
           "CHISO_DATA_DIR": str(root / "data"), "CHISO_PORTAL_URL": str(replay_dir),
           "CHISO_PROVINCES": "H44", "CHISO_FOCUS_PROVINCE": "H44",
           "CHISO_PORTAL_PAUSE_S": "0", "DAGSTER_DISABLE_TELEMETRY": "1"}
    return root, env


def the_only_run_in_progress(home: Path) -> dg.DagsterRun:
    with dg.DagsterInstance.from_config(str(home)) as instance:
        (record,) = instance.get_run_records(
            filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        return record.dagster_run


def launch(env: dict, *args: str) -> subprocess.CompletedProcess:
    """The operator's command (README), as a shell would run it."""
    return subprocess.run([sys.executable, "-m", "tools.launch", "--job", "refresh_months",
                           *args], cwd=PROJECT, env=env, capture_output=True, text=True,
                          timeout=900)  # a guard only: before the fix this waited forever


@pytest.mark.parametrize("pause_at,pool,first", [
    ("crawl", "portal", AUGUST),
    ("publish", "duckdb_warehouse", JULY),  # July is new: August alone is not re-published
])
def test_a_run_killed_mid_step_is_failed_and_its_slot_freed_by_the_next_launch(
        persistent, replay_dir, tmp_path, pause_at, pool, first):
    root, env = persistent
    home = root / "home"
    kill_when_paused(root / "data", replay_dir, pause_at, tmp_path, first=first,
                     instance_dir=home)
    dead = the_only_run_in_progress(home)  # the killed run still looks alive to Dagster
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert dead.run_id in instance.event_log_storage.get_concurrency_info(
            pool).active_run_ids

    done = launch(env, "--partition-range", f"{first.isoformat()}...{AUGUST.isoformat()}")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"Run {dead.run_id} had lost its process" in done.stdout
    assert ": SUCCESS (job refresh_months)" in done.stdout
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
        assert not instance.event_log_storage.get_concurrency_info(pool).active_run_ids
    with duckdb.connect(str(root / "data" / "published" / "chiso766.duckdb"),
                        read_only=True) as con:
        totals = dict(con.execute("SELECT month, total_score FROM marts.province_monthly "
                                  "WHERE province_code = 'H44'").fetchall())
    assert totals[AUGUST] == 59.92 and first in totals  # 59.92: the real captures' score
