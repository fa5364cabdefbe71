"""The benchmark at its smallest size: every figure printed, and the marts it rebuilt
match what the real Dagster pipeline builds from the same capture. No timed assertions."""

import json
import subprocess
import sys
from datetime import date

from conftest import PROJECT, Pipeline

FIGURES = ("bytes parsed", "bytes kept", "wall time", "throughput", "MB/s", "rows/s",
           "peak RSS", "stages", "marts rows", "(b) floor", "(c) naive", "share of rebuild",
           "pipeline/floor", "naive/pipeline", "LATEST complete capture session",
           "(e) nightly", "Dagster start-up", "first night", "nothing new", "one new day",
           "beyond start-up")


def test_bench_prints_every_figure_and_matches_the_pipeline(tmp_path):
    out, report = tmp_path / "bench", tmp_path / "figures.json"
    # two provinces keep it to seconds; the national summary still lists all 34
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--days", "1", "--provinces", "H44,H60",
         "--out", str(out), "--naive-budget-s", "1", "--json", str(report)],
        cwd=PROJECT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    for label in FIGURES:
        assert label in done.stdout, f"missing {label!r} in:\n{done.stdout}"
    figures = json.loads(report.read_text("utf-8"))
    assert figures["blocking_failures"] == 0
    assert figures["captures_parsed"] == 2 * 6 + 1
    assert figures["floor_rows"] > 0 and figures["naive_rows_sample"] > 0
    nightly = figures["nightly"]
    assert all(nightly[n]["success"] for n in ("first", "nothing_new", "new_day"))
    # nothing new: nothing after staging ran; a new day: the marts and the publish ran
    assert not any(s.startswith(("marts__", "publish__")) for s in nightly["nothing_new"]["ran"])
    assert "publish__analyst_copy" in nightly["new_day"]["ran"]

    # The real pipeline (crawl + staging + checks + marts) on the same replay directory.
    june = date(2026, 6, 1)
    pipeline = Pipeline(tmp_path / "data", str(out / "replay" / "2026-06"), provinces="H44,H60")
    assert pipeline.run(june).success
    with pipeline.warehouse() as con:
        real = {name: con.execute(f"SELECT count(*) FROM marts.{name} WHERE month = ?",  # noqa: S608 (names from the bench's own output)
                                  [june]).fetchone()[0]
                for name in figures["marts_rows"]}
        staged = {f"staging.{t}": con.execute(f"SELECT count(*) FROM staging.{t}").fetchone()[0]  # noqa: S608
                  for t in ("national_summary", "unit_metrics", "unit_parameters")}
    assert figures["marts_rows"] == real
    assert all(figures["staged_rows"][k] == v for k, v in staged.items())
