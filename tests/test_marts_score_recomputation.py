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
from shared_runs import two_months

from assets.domain.catalogue import METRICS
from assets.marts.build import rebuild_months
from assets.warehouse import ensure_schema, refresh_reference
from checks.marts import MART_CHECKS, RECOMPUTED_MATCH
from tools.scoring_oracle import metric_score


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
    assert len(groups) == 164 * 5 and {k[1] for k in groups} == {
        "CKMB", "TDGQ", "TTTT", "MDHL", "MDSH"}
    payment = sample("formality-online-payment-tree")
    for unit in [payment["parent"], *payment["children"]]:
        portal, _, diff, _ = groups[(unit["departmentId"], "TTTT")]
        assert portal == unit["totalScore"]
        assert abs(diff) <= 0.01  # a public fit of the formula; the others are exact
    worst = {code: max(abs(v[2]) for k, v in groups.items() if k[1] == code)
             for code in ("CKMB", "TDGQ", "TTTT", "MDHL", "MDSH")}
    assert worst == {"CKMB": 0, "TDGQ": 0, "TTTT": pytest.approx(0.01), "MDHL": 0, "MDSH": 0}
    checks = {e.check_name: e for e in run[1].get_asset_check_evaluations()}
    assert checks["recomputed_scores_match_portal"].passed is True


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
