"""One month, end to end: real Dagster runs on the real Phú Thọ captures of 08/2026."""

import json

import pytest
from conftest import AUGUST, SAMPLES

from checks.suites import SUITES


def sample(endpoint: str) -> dict:
    return json.loads((SAMPLES / endpoint / "month-all.json").read_bytes())["data"]


@pytest.fixture(scope="module")
def august(tmp_path_factory, replay_dir):
    from conftest import Pipeline

    p = Pipeline(tmp_path_factory.mktemp("august") / "data", str(replay_dir))
    result = p.run(AUGUST)
    assert result.success
    return p


def test_the_marts_equal_the_portals_own_numbers(august):
    with august.published() as con:
        total, rank, of, band, synthetic = con.execute(
            "SELECT total_score, rank, ranked_of, band, is_synthetic "
            "FROM marts.province_monthly WHERE province_code='H44' AND month=?",
            [AUGUST]).fetchone()
        groups = dict(con.execute(
            "SELECT group_code, score FROM marts.group_monthly "
            "WHERE province_code='H44' AND month=?", [AUGUST]).fetchall())
        lost = dict(con.execute(
            "SELECT group_code, points_lost FROM marts.group_monthly "
            "WHERE province_code='H44' AND month=?", [AUGUST]).fetchall())
    # The portal's own province totals, read from the real captures.
    portal = {"CKMB": sample("transparency")["overview"]["totalScore"],
              "TDGQ": sample("dvc-progress-tree")["parent"]["totalScore"],
              "CLGQ": sample("provide-online-tree")["parent"]["totalScore"],
              "TTTT": sample("formality-online-payment-tree")["parent"]["totalScore"],
              "MDHL": sample("handling-satisfaction")["overview"]["totalScore"],
              "MDSH": sample("dossier-digitized")["overview"]["totalScore"]}
    assert groups == pytest.approx(portal, abs=1e-9)
    assert groups == pytest.approx({"CKMB": 7.96, "TDGQ": 15.68, "CLGQ": 8.83, "TTTT": 6.25,
                                    "MDHL": 12.96, "MDSH": 8.24})
    assert total == pytest.approx(59.92)
    assert lost["MDSH"] == pytest.approx(22 - 8.24)
    assert of == 34 and 1 <= rank <= 34 and band == "Trung bình"
    # the national summary is synthetic (no real capture of it exists), and says so
    assert synthetic is True


def test_metric_rows_match_the_portal_and_keep_nulls_and_flags(august):
    with august.published() as con:
        rows = {r[0]: r[1:] for r in con.execute(
            "SELECT metric_code, numerator, denominator, ratio, score, max_score, points_lost, "
            "data_quality_status, score_source FROM marts.metric_monthly "
            "WHERE province_code='H44' AND month=?", [AUGUST]).fetchall()}
    for endpoint in ("transparency", "handling-satisfaction", "dossier-digitized"):
        for m in sample(endpoint)["overview"]["metrics"]:
            num, den, ratio, score, mx, lost, flag, source = rows[m["code"]]
            assert (num, den, ratio, score, mx) == (m["numerator"], m["denominator"],
                                                    m["ratio"], m["score"], m["maxScore"])
            assert flag == m.get("dataQualityStatus")
            assert lost == pytest.approx(m["maxScore"] - (m["score"] or 0))
            assert source == "portal"
    # PUBLISH_ON_TIME has a zero denominator: null, not zero, and all 6 points lost
    assert rows["PUBLISH_ON_TIME"][2:4] == (None, None)
    assert rows["PUBLISH_ON_TIME"][5] == 6
    # TDGQ from the raw counts of the tree endpoint
    assert rows["DOSSIER_ON_TIME"][:2] == (144625, 184513)
    assert rows["DOSSIER_ON_TIME"][3] == 15.68
    # TTTT terms recomputed from raw counts add up to the portal's group score
    tttt = sum(rows[c][3] for c in ("PAYMENT_DOSSIER_ONLINE", "PAYMENT_FORMALITY_ONLINE",
                                    "PAYMENT_FORMALITY_INTEGRATED"))
    assert tttt == pytest.approx(6.25, abs=0.01)
    assert rows["ONLINE_SERVICE"][3] == 8.83 and rows["ONLINE_SERVICE"][7] == "portal_group"


def test_lost_points_split_exactly_across_units(august):
    with august.published() as con:
        units = con.execute(
            "SELECT unit_name, numerator, denominator, points_lost FROM marts.unit_points_lost "
            "WHERE province_code='H44' AND month=? AND metric_code='DOSSIER_ON_TIME'",
            [AUGUST]).fetchall()
        methods = dict(con.execute(
            "SELECT metric_code, any_value(method) FROM marts.unit_points_lost "
            "WHERE province_code='H44' AND month=? GROUP BY 1", [AUGUST]).fetchall())
    assert len(units) == 163
    # each unit's share: 20 × its overdue dossiers / the province's 184,513 received
    for _, num, den, lost in units:
        assert lost == pytest.approx(20 * (den - num) / 184513)
    assert sum(u[3] for u in units) == pytest.approx(20 - 15.68, abs=0.01)
    assert methods["DOSSIER_ON_TIME"] == "exact_pooled"
    assert methods["ONLINE_SERVICE"] == "not_attributable"
    assert methods["PUBLISH_ON_TIME"] == "province_level"  # 0/0 for the province
    # the synthetic Tuyên Quang was not pulled: no unit rows for it
    assert "H60" not in {r[0] for r in con_rows(august, "SELECT DISTINCT province_code "
                                                        "FROM marts.unit_points_lost")}


def con_rows(p, query):
    with p.published() as con:
        return con.execute(query).fetchall()


def test_the_checks_ran_and_were_recorded(august):
    rows = con_rows(august, "SELECT suite, bool_and(success), count(*) "
                            "FROM audit.validation_results GROUP BY suite")
    suites = {r[0]: r[1] for r in rows}
    assert suites["unit_metrics_valid"] and suites["group_equals_sum_of_metrics"]
    assert suites["province_count_for_era"] and suites["rows_match_declared_total"]
    assert suites["national_summary_history_valid"]
    # the real Phú Thọ captures obey the counts that must hold together (issue 11)
    assert all(suites[s] for s in ("units_add_up_to_province", "unit_count_kept",
                                   "provinces_of_the_era", "counts_in_order"))
    assert len(suites) == len(SUITES) + 1  # the month's and the daily history's (no legacy)


def test_every_staged_row_knows_its_month_province_capture_and_sha(august):
    rows = con_rows(august, """
        SELECT count(*), count(month), count(province_id), count(captured_at),
               count(raw_sha256) FROM staging.unit_metrics""")
    n, *filled = rows[0]
    assert n > 0 and filled == [n, n, n, n]
    # the real captures reached the raw layer byte for byte
    manifest = json.loads((SAMPLES / "manifest.json").read_text())
    real = {c["sha256"] for c in manifest["captures"] if c["file"].endswith("month-all.json")}
    kept = {r[0] for r in con_rows(august, "SELECT raw_sha256 FROM staging.captures "
                                           "WHERE province_code='H44'")}
    assert real == kept


def test_a_rerun_leaves_one_copy_of_each_row(august):
    tables = ["staging.unit_metrics", "staging.unit_parameters", "staging.national_summary",
              "marts.province_monthly", "marts.group_monthly", "marts.metric_monthly",
              "marts.unit_points_lost"]
    count = "SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in tables)
    before = con_rows(august, count)
    raw_files = sorted(p for p in august.settings.raw_dir.rglob("*.json")
                       if "_sessions" not in p.parts)
    assert august.run(AUGUST, force=True).success  # August is final: fetched again when asked
    assert con_rows(august, count) == before
    # the re-capture is recorded in a new manifest, but no byte is stored twice
    assert sorted(p for p in august.settings.raw_dir.rglob("*.json")
                  if "_sessions" not in p.parts) == raw_files
    sessions = list((august.settings.raw_dir / "_sessions" / "2026-08").glob("*.json"))
    assert len(sessions) == 2
    latest = json.loads(max(sessions).read_text())
    assert latest["status"] == "complete" and all(c["reused"] for c in latest["captures"])
