"""marts.score_recomputation: our arithmetic reproduces the portal's scores, by hand
(tests/hand_made.py) and on the real Phú Thọ captures, and says so loudly (a warning)
the day it stops doing so; its blocking check keeps one row per unit and score."""

import json
import shutil
from itertools import product

import dagster as dg
import duckdb
import pytest
from conftest import AUGUST, SAMPLES
from hand_made import MONTH, build, tampered_copy
from shared_runs import JULY, two_months

from assets.domain.catalogue import METRICS
from assets.marts.build import rebuild_months
from assets.warehouse import ensure_schema, refresh_reference
from checks.marts import MART_CHECKS, RECOMPUTED_MATCH
from tools.scoring_oracle import clgq_score, metric_score


@pytest.fixture(scope="module")
def run(tmp_path_factory, replay_dir):
    return two_months(tmp_path_factory, replay_dir)


@pytest.fixture(scope="module")
def hand_made_path(tmp_path_factory):
    return build(tmp_path_factory.mktemp("recomputation") / "warehouse.duckdb")


def test_by_hand_on_time_scores_are_recomputed_from_the_counts(hand_made_path):
    with duckdb.connect(str(hand_made_path), read_only=True) as con:
        got = {r[0]: r[1:] for r in con.execute("""
            SELECT unit_name, portal_score, recomputed_score, difference
            FROM marts.score_recomputation
            WHERE province_code = 'H01' AND level = 'group' AND group_code = 'TDGQ'
            """).fetchall()}
        _, warning = RECOMPUTED_MATCH.evaluate(con, [MONTH])
    # 140/200, 90/100 and 50/100 on time, out of 20 points
    assert got == {"Tỉnh A": (14.0, 14.0, 0.0), "Xã A1": (18.0, 18.0, 0.0),
                   "Xã A2": (10.0, 10.0, 0.0)}
    assert warning.passed is True and warning.metadata["compared"].value > 0


def test_by_hand_a_row_counted_twice_fails_the_blocking_check(hand_made_path, tmp_path):
    unique = next(c for c in MART_CHECKS["score_recomputation"] if c.blocking)
    with tampered_copy(hand_made_path, tmp_path, """
            INSERT INTO marts.score_recomputation SELECT * FROM marts.score_recomputation
            WHERE unit_name = 'Xã A1' AND level = 'group'""") as con:
        bad = unique.find(con, [MONTH])
    # the unit's one group-level row (TDGQ, the only group staged with its score)
    assert unique.name == "one_row_per_unit_and_score"
    assert bad == [(MONTH, "prov-A", "prov-A-u1", "group", "TDGQ", 2)]


def recomputation(run, level: str) -> dict:
    with run[0].published() as con:
        got = con.execute("""
            SELECT unit_id, coalesce(metric_code, group_code), portal_score, recomputed_score,
                   difference, is_synthetic
            FROM marts.score_recomputation
            WHERE province_code = 'H44' AND month = ? AND level = ?""",
                          [AUGUST, level]).fetchall()
    return {(r[0], r[1]): r[2:] for r in got}


def sample(endpoint: str) -> dict:
    return json.loads((SAMPLES / endpoint / "month-all.json").read_bytes())["data"]


def test_metric_scores_recomputed_from_the_real_counts_equal_the_portals(run):
    metrics = recomputation(run, "metric")
    checked = 0
    for endpoint in ("transparency", "handling-satisfaction", "dossier-digitized"):
        data = sample(endpoint)
        for unit in [data["overview"], *data["evaluation"]]:
            for m in unit["metrics"]:
                if METRICS[m["code"]].rule not in ("linear", "threshold"):
                    continue
                portal, ours, diff, synthetic = metrics[(unit["departmentId"], m["code"])]
                assert portal == m["score"] and synthetic is False
                assert abs(diff) <= 0.01, (unit["departmentName"], m["code"], portal, ours)
                checked += 1
    tdgq = sample("dvc-progress-tree")
    for unit in [tdgq["parent"], *tdgq["children"]]:
        portal, ours, diff, _ = metrics[(unit["departmentId"], "DOSSIER_ON_TIME")]
        assert portal == unit.get("totalScore", unit.get("score"))
        received = unit["totalReceived"]
        # rounded to two decimals like the portal's
        assert ours == pytest.approx(20 * unit["totalOnTime"] / received if received else 0,
                                     abs=0.0051)
        assert abs(diff) <= 0.01
        checked += 1
    assert checked == 164 * 14  # every unit and the province, every scored metric


def test_group_scores_recomputed_from_the_real_counts_equal_the_portals(run):
    groups = recomputation(run, "group")
    # five groups for every unit; CLGQ for the province only (units carry no parameters)
    assert len(groups) == 164 * 5 + 1 and {k[1] for k in groups} == {
        "CKMB", "TDGQ", "CLGQ", "TTTT", "MDHL", "MDSH"}
    payment = sample("formality-online-payment-tree")
    for unit in [payment["parent"], *payment["children"]]:
        portal, _, diff, _ = groups[(unit["departmentId"], "TTTT")]
        assert portal == unit["totalScore"]
        assert abs(diff) <= 0.01  # a public fit of the formula; the others are exact
    worst = {code: max(abs(v[2]) for k, v in groups.items() if k[1] == code)
             for code in ("CKMB", "TDGQ", "CLGQ", "TTTT", "MDHL", "MDSH")}
    assert worst == {"CKMB": 0, "TDGQ": 0, "CLGQ": 0, "TTTT": pytest.approx(0.01), "MDHL": 0,
                     "MDSH": 0}
    checks = {e.check_name: e for e in run[1].get_asset_check_evaluations()}
    assert checks["recomputed_scores_match_portal"].passed is True


def test_clgq_is_recomputed_with_the_fitted_formula_where_its_parameters_exist(run):
    """Issue 15 §4: the province's own provide-online-tree row carries CLGQ's parameters;
    the fitted formula gives the real 08/2026 score within the portal's rounding, and the
    row says the formula is fitted. Synthetic months (their generator scores with the
    oracle's copy of the formula) agree too, so the demo's warning stays quiet."""
    real = sample("provide-online-tree")["parent"]
    with run[0].published() as con:
        rows = con.execute("""
            SELECT month, province_code, unit_id, is_province, level, portal_score,
                   recomputed_score, difference, method, is_synthetic
            FROM marts.score_recomputation WHERE group_code = 'CLGQ'
            ORDER BY month, province_code""").fetchall()
        methods = dict(con.execute("""
            SELECT DISTINCT level || ':' || (metric_code IS NULL)::VARCHAR, method
            FROM marts.score_recomputation WHERE group_code <> 'CLGQ'""").fetchall())
    assert [(r[0], r[1]) for r in rows] == [(JULY, "H44"), (JULY, "H60"), (AUGUST, "H44"),
                                             (AUGUST, "H60")]
    assert all(r[3] and r[4] == "group" and r[8] == "fitted_formula" for r in rows)
    august = next(r for r in rows if (r[0], r[1]) == (AUGUST, "H44"))
    assert august[2] == real["departmentId"] and august[9] is False
    assert august[5] == real["totalScore"] == 8.83
    assert abs(august[7]) <= 0.005 and august[6] == 8.83
    # unrounded, the macro is within the portal's rounding too
    params = [real[k] for k in ("authorityCount", "partialCount", "fullCount",
                                "onlineDossierCount", "onlineServiceTotal")]
    with duckdb.connect() as con:
        ensure_schema(con)
        (fitted,) = con.execute("SELECT marts.clgq_score(?, ?, ?, ?, ?)", params).fetchone()
    assert abs(fitted - 8.83) <= 0.005
    assert fitted == pytest.approx(clgq_score(real), abs=1e-12)
    # a synthetic month rounds in Python, DuckDB rounds half away from zero: at most 0.01
    assert all(abs(r[7]) <= 0.01 for r in rows if r[9])
    assert methods == {"metric:false": "count_rule", "group:true": "sum_of_metrics"}


def test_a_clgq_score_the_formula_does_not_give_raises_the_warning(run, tmp_path):
    """The fit refuted: a portal CLGQ score 0.05 off its parameters is flagged."""
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(run[0].settings.warehouse_path, copy)
    with duckdb.connect(str(copy)) as con:
        con.execute("""
            UPDATE staging.unit_group_scores SET score = score + 0.05
            WHERE month = ? AND group_code = 'CLGQ' AND is_province
              AND province_code = 'H44'""", [AUGUST])
        rebuild_months(con, "score_recomputation", [AUGUST])
        _, result = RECOMPUTED_MATCH.evaluate(con, [AUGUST])
    assert result.passed is False
    assert result.metadata["differing"].value == 1
    assert "group CLGQ" in result.metadata["examples"].value


def test_the_sql_rule_is_the_domain_rule():
    """marts.rule_score (SQL, the pipeline's) and the oracle's metric_score (Python) agree on
    every metric."""
    counts = [None, 0, 1, 7, 79, 80, 90, 100, 250]
    with duckdb.connect() as con:
        ensure_schema(con)
        refresh_reference(con)
        for m in METRICS.values():
            if m.rule not in ("linear", "threshold"):
                continue
            for num, den in product(counts, counts):
                if num is not None and den is not None and num > den:
                    continue
                ours = con.execute(
                    "SELECT marts.rule_score(max_score, threshold, score_if_empty, ?, ?) "
                    "FROM ref.metrics WHERE metric_code = ?", [num, den, m.code]).fetchone()[0]
                assert ours == pytest.approx(metric_score(m, num, den)), (m.code, num, den)


def test_a_portal_that_changes_its_method_raises_a_warning(run, tmp_path):
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(run[0].settings.warehouse_path, copy)
    with duckdb.connect(str(copy)) as con:
        # the portal now gives one commune 0.05 more than its counts earn
        con.execute("""
            UPDATE staging.unit_metrics SET score = score + 0.05
            WHERE month = ? AND metric_code = 'ORIGINAL_RESULT_AVAILABLE'
              AND unit_id = (SELECT min(unit_id) FROM staging.unit_metrics
                             WHERE month = ? AND NOT is_province AND province_code = 'H44'
                               AND metric_code = 'ORIGINAL_RESULT_AVAILABLE'
                               AND score IS NOT NULL)""", [AUGUST, AUGUST])
        rebuild_months(con, "score_recomputation", [AUGUST])  # a warning does not block
        _, result = RECOMPUTED_MATCH.evaluate(con, [AUGUST])
    assert result.passed is False and result.severity == dg.AssetCheckSeverity.WARN
    assert result.metadata["differing"].value == 1
    assert "ORIGINAL_RESULT_AVAILABLE" in result.metadata["examples"].value
