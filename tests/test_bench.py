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


def test_procedure_bench_prints_its_ratios_and_both_sides_make_the_same_rows(tmp_path):
    """bench.procedures at its smallest: the pipeline's procedure rebuild and DuckDB's floor
    read the same kept answers into the same rows, and a year of K months is K times a
    month. No timed assertions."""
    report = tmp_path / "procedures.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.procedures", "--procedures", "5", "--months", "2",
         "--year-procedures", "3", "--curve", "3", "--chunk", "5",
         "--out", str(tmp_path / "proc"),
         "--json", str(report)],
        cwd=PROJECT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    for label in ("(a) rebuild", "(b) floor", "(a)/(b) worst", "parse+load/(b)",
                  "(c) peak RSS", "(d) nightly procedure crawl", "month-3 ", "year-3x2 "):
        assert label in done.stdout, f"missing {label!r} in:\n{done.stdout}"
    figures = json.loads(report.read_text("utf-8"))
    sets = figures["sets"]
    for label, s in sets.items():
        pipeline, floor = s["pipeline"], s["floor"]
        assert pipeline["staged_rows"] == floor["rows"] > 0, label
        units = sum(n for t, n in floor["tables"].items() if t.startswith("units_"))
        assert pipeline["staged"]["staging.procedure_group_scores"] == units, label
        assert s["ratio_rebuild"] > 0 and s["ratio_parse_load"] > 0
        assert pipeline["marts"] or pipeline["blocking_failures"]
    # staged in chunks of one procedure (5 answers): a chunk per procedure and month
    for label, s in sets.items():
        assert s["pipeline"]["chunks"] == s["procedures"] * s["months"], label
    month, year = sets["month-3"], sets["year-3x2"]
    assert (year["months"], year["procedures"]) == (2, 3)
    assert year["captures"] == 2 * month["captures"]
    assert year["pipeline"]["staged"] == {t: 2 * n for t, n in
                                          month["pipeline"]["staged"].items()}
    night = figures["night"]
    assert 0 < night["requests"] <= night["budget"]
