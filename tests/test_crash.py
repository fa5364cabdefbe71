"""Killed with SIGKILL mid-write: the warehouse stays consistent, the published copy whole."""

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from conftest import AUGUST, Pipeline

JULY = date(2026, 7, 1)
RUNNER = Path(__file__).parent / "support" / "crash_runner.py"


def kill_when_paused(data_dir: Path, replay_dir: Path, pause_at: str, tmp_path: Path) -> None:
    ready = tmp_path / f"{pause_at}.ready"
    child = subprocess.Popen(
        [sys.executable, str(RUNNER), "--data", str(data_dir), "--replay", str(replay_dir),
         "--pause-at", pause_at, "--ready", str(ready), "--first", JULY.isoformat(),
         "--last", AUGUST.isoformat()],
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
