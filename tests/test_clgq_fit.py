"""CLGQ's formula, fitted on the real captures (issue 15 §4): what docs/index.md claims,
checked against tools/clgq_fit.py on byte-exact copies in tests/data/clgq/."""

import hashlib
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from tools.clgq_fit import (
    DOCUMENTED,
    HYPOTHESES,
    ROUNDING,
    TOLERANCE,
    children_summary,
    fit,
    grid,
    hypothesis,
    load_observations,
    period_checks,
    render_markdown,
    slope_estimates,
)
from tools.scoring_oracle import clgq_score

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data" / "clgq"
MACRO = ROOT / "assets" / "marts" / "sql" / "macros" / "clgq_score.sql"


@pytest.fixture(scope="module")
def observations():
    return load_observations([DATA])


def test_the_copies_are_the_real_captures():
    manifest = json.loads((DATA / "manifest.json").read_text("utf-8"))
    for capture in manifest["captures"]:
        body = (DATA / capture["file"]).read_bytes()
        assert hashlib.sha256(body).hexdigest() == capture["sha256"], capture["file"]


def test_six_observations_and_the_units_carry_scores_only(observations):
    assert [(o.period, o.scope) for o in observations] == [
        ("month", "all"), ("month", "formality"), ("quarter", "all"),
        ("quarter", "formality"), ("year", "all"), ("year", "formality")]
    assert {o.unit for o in observations} == {"H44"}
    # per-unit CLGQ cannot be fitted: 163 children per answer, none with a parameter
    assert {o.children for o in observations} == {163}
    assert sum(o.children_with_parameters for o in observations) == 0
    # the same answer found twice (samples and a raw store) is one observation
    assert len(load_observations([DATA, DATA])) == 6


def test_filtered_unit_scores_are_one_constant_per_level(observations):
    """What the doc says about the units' scores, the only per-unit CLGQ there is."""
    s = children_summary(observations)
    assert (s["formality", "COMMUNE"]["n"], s["formality", "COMMUNE"]["min"],
            s["formality", "COMMUNE"]["max"]) == (444, 10, 10)
    assert s["formality", "PROVINCE"]["zero"] == s["formality", "PROVINCE"]["n"] == 45
    assert (s["all", "COMMUNE"]["min"], s["all", "COMMUNE"]["max"]) == (6.09, 6.67)
    assert (s["all", "PROVINCE"]["zero"], s["all", "PROVINCE"]["below_6"]) == (5, 2)
    assert s["all", "PROVINCE"]["max"] == 8.12


def test_the_documented_hypothesis_reproduces_every_observation(observations):
    f = fit(hypothesis(DOCUMENTED), observations)
    assert f.n == 6
    assert f.max_error <= ROUNDING  # within the portal's 2-decimal rounding
    assert all(round(v, 2) == o.score for o, v in f.rows)


def test_the_metric_table_read_literally_does_not(observations):
    fits = {h.code: fit(h, observations) for h in HYPOTHESES}
    assert [c for c, f in fits.items() if f.reproduces] == [DOCUMENTED]
    for code in ("H1", "H2", "H3"):  # no number chosen: the table's maxima and ratios
        assert hypothesis(code).fitted == 0
        assert fits[code].max_error > 2.5
    assert 0.5 < fits["H4"].max_error < 0.6  # the A term alone misses the quarter/year 0.54


def test_the_a_slope_is_pinned_by_three_pairs_and_the_rest_by_one_value(observations):
    slopes = slope_estimates(observations)
    assert sorted(slopes) == ["month", "quarter", "year"]
    assert all(abs(s - 4) < 0.015 for s in slopes.values())
    # only two procedure-count states: the 2-point term is one equation in two numbers
    states = {(o.params["authorityCount"], o.params["partialCount"], o.params["fullCount"])
              for o in observations}
    assert states == {(56, 31, 21), (89, 31, 21)}
    assert len(grid(observations, ROUNDING)) == 1
    assert len(grid(observations, TOLERANCE)) == 4


def test_the_sql_macro_is_the_documented_formula(observations):
    con = duckdb.connect()
    con.execute("CREATE SCHEMA marts")
    con.execute(MACRO.read_text("utf-8"))
    h = hypothesis(DOCUMENTED)
    for o in observations:
        p = o.params
        (sql,) = con.execute(
            "SELECT marts.clgq_score(?, ?, ?, ?, ?)",
            [int(p["authorityCount"]), int(p["partialCount"]), int(p["fullCount"]),
             int(p["onlineDossierCount"]), int(p["onlineServiceTotal"])]).fetchone()
        assert sql == pytest.approx(h.score(p), abs=1e-12), o.source
        assert round(sql, 2) == o.score, o.source
        # the test oracle's copy (what the synthetic generator scores with) is the same
        assert clgq_score(p) == pytest.approx(sql, abs=1e-12), o.source
    # never observed: unknown, not zero
    assert con.execute("SELECT marts.clgq_score(0, 0, 0, 5, 10)").fetchone() == (None,)
    assert clgq_score({"authorityCount": 0, "partialCount": 0, "fullCount": 0,
                       "onlineDossierCount": 5, "onlineServiceTotal": 10}) is None
    assert con.execute("SELECT marts.clgq_score(56, 31, 21, 0, 0)").fetchone() == (None,)


def test_quarter_and_year_are_scored_on_their_own_counts_not_the_months_mean():
    for c in period_checks(DATA):
        assert abs(c.pooled - c.portal) <= ROUNDING, c
        assert abs(c.chart_mean - c.portal) > 0.25, c


def test_the_doc_quotes_the_fit(observations):
    doc = (ROOT / "docs" / "index.md").read_text("utf-8")
    assert render_markdown(observations) in doc
    assert hypothesis(DOCUMENTED).formula in doc
    slopes = slope_estimates(observations)
    assert ", ".join(f"{v:.3f} ({k})" for k, v in slopes.items()) in doc
    for c in period_checks(DATA):
        assert f"| {c.portal:.2f} | {c.pooled:.4f} | {c.chart_mean:.4f} ({c.months} months) |" \
            in doc, c


def test_a_parent_missing_a_parameter_names_file_period_unit_and_field(tmp_path):
    shutil.copytree(DATA, tmp_path / "copy")
    path = tmp_path / "copy" / "provide-online-tree" / "quarter-all.json"
    body = json.loads(path.read_text("utf-8"))
    del body["data"]["parent"]["onlineServiceTotal"]
    path.write_text(json.dumps(body), "utf-8")
    with pytest.raises(ValueError) as err:
        load_observations([tmp_path / "copy"])
    message = str(err.value)
    for part in ("quarter-all.json", "period quarter", "unit H44",
                 "parent.onlineServiceTotal"):
        assert part in message


def test_synthetic_captures_are_left_out(tmp_path):
    """The generator's CLGQ is invented: fitting it would fit the generator."""
    replay = tmp_path / "provide-online-tree" / "2026-07" / "H44"
    raw = tmp_path / "raw" / "2026-07"
    replay.mkdir(parents=True)
    raw.mkdir(parents=True)
    sample = DATA / "provide-online-tree" / "month-all.json"
    shutil.copy(sample, replay / "page-1.json")
    (tmp_path / "index.json").write_text(json.dumps(
        {"provide-online-tree/2026-07/H44/page-1.json": {"synthetic": True}}), "utf-8")
    shutil.copy(sample, raw / "a.json")
    shutil.copy(sample, raw / "b.json")
    payload = {"timeType": "month", "year": 2026, "month": 7}
    (raw / "a.json.meta.json").write_text(json.dumps(
        {"payload": payload, "origin": {"synthetic": True}}), "utf-8")
    (raw / "b.json.meta.json").write_text(json.dumps({"payload": payload}), "utf-8")
    skipped: list[str] = []
    found = load_observations([tmp_path], skipped)
    assert sorted(Path(s).name for s in skipped) == ["a.json", "page-1.json"]
    assert [(o.source, o.period, o.scope) for o in found] == [
        ("raw/2026-07/b.json", "month", "all")]
