"""marts.unit_points_lost, who lost the points: every lost point of a metric is on a row,
and the rows add up (the blocking check unit_shares_add_up holds it, in the step that
writes the mart). By hand on tests/hand_made.py, then on the real captures."""

import shutil

import duckdb
import pytest
from conftest import AUGUST
from hand_made import MONTH, build, tampered_copy
from shared_runs import two_months

from checks.marts import UNIT_SHARES


@pytest.fixture(scope="module")
def run(tmp_path_factory, replay_dir):
    return two_months(tmp_path_factory, replay_dir)


@pytest.fixture(scope="module")
def hand_made_path(tmp_path_factory):
    return build(tmp_path_factory.mktemp("unit-points") / "warehouse.duckdb")


@pytest.fixture(scope="module")
def hand_made(hand_made_path):
    con = duckdb.connect(str(hand_made_path), read_only=True)
    yield con
    con.close()


def test_the_split_behind_the_what_if_by_hand(hand_made):
    got = dict(hand_made.execute("""
        SELECT unit_name, points_lost FROM marts.unit_points_lost
        WHERE province_code = 'H01' AND metric_code = 'DOSSIER_RECEIVING_SATISFACTION'
        """).fetchall())
    # missing counts −5 and 35 of the 180 the bar asks for: 6 × (−5)/180 and 6 × 35/180
    assert got == pytest.approx({"Xã A1": -1 / 6, "Xã A2": 7 / 6})


def test_by_hand_on_time_handling_splits_by_each_units_missing_dossiers(hand_made):
    # A: units at 90/100 and 50/100 on time, 20 points pooled over 200 dossiers: the
    # 60 dossiers short of 100 % are 10 and 50, 20 × 10/200 and 20 × 50/200
    got = {r[0]: r[1:] for r in hand_made.execute("""
        SELECT unit_name, missing_count, points_lost, method FROM marts.unit_points_lost
        WHERE province_code = 'H01' AND metric_code = 'DOSSIER_ON_TIME'""").fetchall()}
    assert got == {"Xã A1": (10, pytest.approx(1.0), "exact_pooled"),
                   "Xã A2": (50, pytest.approx(5.0), "exact_pooled")}
    assert UNIT_SHARES.find(hand_made, [MONTH]) == []


def test_by_hand_a_unit_share_off_by_more_than_rounding_fails_the_check(hand_made_path,
                                                                      tmp_path):
    with tampered_copy(hand_made_path, tmp_path, """
            UPDATE marts.unit_points_lost SET points_lost = points_lost + 0.03
            WHERE unit_name = 'Xã A1' AND metric_code = 'DOSSIER_ON_TIME'""") as con:
        bad, result = UNIT_SHARES.evaluate(con, [MONTH])
    assert [(r[1], r[2]) for r in bad] == [("H01", "DOSSIER_ON_TIME")]
    assert result.passed is False and "rows add up to 6.030" in result.metadata[
        "examples"].value


def rows(run, query, params=()):
    with run[0].published() as con:
        return con.execute(query, list(params)).fetchall()


def test_the_rows_of_every_metric_add_up_to_the_provinces_loss(run):
    # every pulled province and month, every method (units, remainders, province rows)
    sums = rows(run, """
        SELECT m.month, m.province_code, m.metric_code, m.points_lost, sum(u.points_lost),
               count(u.metric_code)
        FROM marts.metric_monthly m
        LEFT JOIN marts.unit_points_lost u USING (month, province_id, metric_code)
        WHERE m.max_score > 0
        GROUP BY ALL""")
    assert len(sums) == 2 * 2 * 19  # months × provinces × scored metrics
    for month, code, metric, lost, shares, n in sums:
        if lost > 0.005:
            assert n > 0, (month, code, metric)
            assert shares == pytest.approx(lost, abs=0.02), (month, code, metric)
        else:
            assert n == 0  # nothing lost, nothing to attribute
    checks = {e.check_name: e.passed for e in run[1].get_asset_check_evaluations()}
    assert checks["unit_shares_add_up"] is True


def test_a_threshold_metric_splits_the_shortfall_by_each_units_missing_count(run):
    # DOSSIER_RECEIVING_SATISFACTION: 6 points at 90 %; Phú Thọ's real 08/2026 counts
    (p_num, p_den, p_lost), = rows(run, """
        SELECT numerator, denominator, points_lost FROM marts.metric_monthly
        WHERE province_code = 'H44' AND month = ?
          AND metric_code = 'DOSSIER_RECEIVING_SATISFACTION'""", [AUGUST])
    assert (p_num, p_den) == (144315, 184503) and p_lost == pytest.approx(6 - 5.21)
    units = rows(run, """
        SELECT numerator, denominator, bar_pct, missing_count, points_lost, method
        FROM marts.unit_points_lost
        WHERE province_code = 'H44' AND month = ?
          AND metric_code = 'DOSSIER_RECEIVING_SATISFACTION'""", [AUGUST])
    assert len(units) == 163 and {u[5] for u in units} == {"exact_pooled"}
    for num, den, bar, missing, lost, _ in units:
        assert bar == 90
        assert missing == pytest.approx(0.9 * den - num)  # dossiers short of the bar
        assert lost == pytest.approx(6 * missing / (0.9 * 184503))
    # units above 90 % win some back; the missing counts add up to the province's shortfall
    assert any(u[3] < 0 for u in units) and any(u[3] > 0 for u in units)
    assert sum(u[3] for u in units) == pytest.approx(0.9 * p_den - p_num)
    assert sum(u[4] for u in units) == pytest.approx(p_lost, abs=0.01)


def test_petitions_split_over_units_and_the_province_keeps_its_own(run):
    # 247 petitions reached Phú Thọ, 38 of them a unit: the 209 others are the province's
    got = {row[0]: row[1:] for row in rows(run, """
        SELECT unit_type = 'PROVINCE', count(*), sum(numerator), sum(denominator),
               sum(points_lost), any_value(method), any_value(note)
        FROM marts.unit_points_lost
        WHERE province_code = 'H44' AND month = ? AND metric_code = 'PETITION_PROCESSING_ON_TIME'
        GROUP BY ALL""", [AUGUST])}
    units, province = got[False], got[True]
    assert units[:3] == (163, 30, 38) and units[4] == "pooled_with_remainder"
    assert units[3] == pytest.approx(6 * (38 - 30) / 247)
    assert province[:3] == (1, 182 - 30, 247 - 38)
    assert province[3] == pytest.approx(6 * ((247 - 38) - (182 - 30)) / 247)
    assert "209 of the province's 247" in province[5]
    assert units[3] + province[3] == pytest.approx(6 - 4.42, abs=0.01)


def test_what_cannot_be_split_says_why(run):
    got = dict(((m, (method, note)) for m, method, note in rows(run, """
        SELECT metric_code, method, note FROM marts.unit_points_lost
        WHERE province_code = 'H44' AND month = ? AND unit_type = 'PROVINCE'
          AND method IN ('province_level', 'not_attributable')""", [AUGUST])))
    assert got["ONLINE_SERVICE"] == (
        "not_attributable", "scoring formula not published; only the group score is known")
    # distinct procedures are counted once per province: units add up to more
    method, note = got["PAYMENT_FORMALITY_ONLINE"]
    assert method == "not_attributable" and "5288 vs 310" in note
    # the same counts on every unit row: computed for the province as a whole
    assert got["PUBLIC_CONTENT_FULL"][0] == "province_level"
    assert got["PUBLISH_ON_TIME"][0] == "province_level"  # nothing counted (0/0)


def test_the_shares_check_fails_when_a_share_is_off_by_more_than_rounding(run, tmp_path):
    pipeline = run[0]
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(pipeline.settings.warehouse_path, copy)
    with duckdb.connect(str(copy)) as con:
        con.execute("""
            UPDATE marts.unit_points_lost SET points_lost = points_lost + 0.03
            WHERE unit_id = (SELECT min(unit_id) FROM marts.unit_points_lost
                             WHERE metric_code = 'DOSSIER_ON_TIME' AND month = ?
                               AND unit_id <> province_id)
              AND metric_code = 'DOSSIER_ON_TIME' AND month = ?""", [AUGUST, AUGUST])
    with duckdb.connect(str(copy)) as con:
        _, result = UNIT_SHARES.evaluate(con, [AUGUST])
    assert result.passed is False
    assert result.metadata["mismatches"].value == 1
    assert "DOSSIER_ON_TIME" in result.metadata["examples"].value


def test_a_rerun_leaves_one_copy_of_every_row_of_the_new_marts(run):
    from shared_runs import JULY

    tables = ["marts.unit_points_lost", "marts.score_recomputation",
              "marts.recoverable_points", "marts.score_change_explained"]

    def contents():  # a rerun captures again: only captured_at may differ
        return [rows(run, f"SELECT COLUMNS(lambda c: c <> 'captured_at') FROM {t} ORDER BY ALL")
                for t in tables]

    before = contents()
    assert run[0].run(JULY, AUGUST).success
    assert contents() == before
