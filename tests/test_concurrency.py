"""Analysts keep the published file open while a run publishes.

(Two runs started at once, as the schedule and a person in the UI would: see
tests/test_ui_rerun.py, which goes through the webserver and the run queue.)"""

import subprocess
import sys
import textwrap
import time

from conftest import AUGUST

JULY = AUGUST.replace(month=7)

ANALYST = textwrap.dedent("""
    import sys, time, duckdb
    from pathlib import Path
    published, ready, stop = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    con = duckdb.connect(published, read_only=True)   # held for the whole run
    seen = set()
    while not stop.exists():
        seen.add(con.execute("SELECT count(DISTINCT month) FROM marts.province_monthly")
                 .fetchone()[0])
        ready.write_text("open")
        time.sleep(0.1)
    print(sorted(seen))
""")


def test_an_analyst_holding_the_published_file_open_does_not_stop_the_run(
        pipeline, tmp_path):
    assert pipeline.run(AUGUST).success
    ready, stop = tmp_path / "ready", tmp_path / "stop"
    analyst = subprocess.Popen(
        [sys.executable, "-c", ANALYST, str(pipeline.settings.published_path), str(ready),
         str(stop)], stdout=subprocess.PIPE, text=True)
    try:
        while not ready.exists():
            assert analyst.poll() is None
            time.sleep(0.05)
        assert pipeline.run(JULY, AUGUST).success  # publishes while the file is open
    finally:
        stop.write_text("done")
        out, _ = analyst.communicate(timeout=30)
    assert analyst.returncode == 0
    assert out.strip() == "[1]"  # the analyst's open copy kept answering, unchanged
    with pipeline.published() as con:  # the next connection sees the new data
        assert con.execute("SELECT count(DISTINCT month) FROM marts.province_monthly")\
            .fetchone()[0] == 2
