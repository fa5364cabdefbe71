"""marts.recoverable_points, what would win the points back: the what-if on a case small
enough to check by hand (tests/hand_made.py), then on the real captures; its blocking
check (gains_within_the_loss) stops a rebuild whose gains exceed the loss."""

import duckdb
import pytest
from conftest import AUGUST
from hand_made import build
from shared_runs import two_months


@pytest.fixture(scope="module")
def hand_made(tmp_path_factory):
    path = build(tmp_path_factory.mktemp("what-if") / "warehouse.duckdb")
    con = duckdb.connect(str(path), read_only=True)
    yield con
    con.close()


def whatif(con, code: str, metric: str) -> dict:
    cur = con.execute("SELECT * FROM marts.recoverable_points "
                      "WHERE province_code = ? AND metric_code = ?", [code, metric])
    names = [d[0] for d in cur.description]
    return dict(zip(names, cur.fetchone(), strict=True))


def test_on_time_handling_what_if_by_hand(hand_made):
    # A: 140 of 200 dossiers on time → 14.00/20; total 70.00, rank 4 of 4
    w = whatif(hand_made, "H01", "DOSSIER_ON_TIME")
    assert (w["score"], w["points_lost"], w["total_score"], w["rank"], w["ranked_of"]) == (
        14.0, 6.0, 70.0, 4, 4)
    # (a) B's 95 %: +5.00 points for 50 more on-time dossiers; 75.00 passes C and D → 2nd
    assert (w["best_province_code"], w["best_ratio"], w["compared_provinces"]) == ("H02", 95, 2)
    assert (w["gain_to_best"], w["needed_to_best"], w["rank_if_best"]) == (5.0, 50, 2)
    # (b) 100 %: +6.00 for 60 more; 76.00 → 2nd (B keeps 80.00)
    assert (w["gain_to_full"], w["needed_to_full"], w["rank_if_full"]) == (6.0, 60, 2)
    # (c) the median unit is at 70 % (units at 90 % and 50 %): the weaker one needs 20 more,
    # 160/200 → 16.00, +2.00; 72.00 passes C (71.50) only → 3rd
    assert (w["median_unit_ratio"], w["units_below_median"]) == (70.0, 1)
    assert (w["gain_to_median"], w["needed_to_median"], w["rank_if_median"]) == (2.0, 20, 3)


def test_a_threshold_metric_what_if_stops_at_the_threshold(hand_made):
    # A: 150 of 200 satisfied = 75 % against a 90 % bar → 6 × 75/90 = 5.00, 1.00 lost
    w = whatif(hand_made, "H01", "DOSSIER_RECEIVING_SATISFACTION")
    assert (w["score"], w["points_lost"], w["bar_pct"]) == (5.0, 1.0, 90)
    # B is at 95 %, but 90 % is enough: 30 more satisfied dossiers, +1.00 → 71.00, still 4th
    assert (w["gain_to_best"], w["needed_to_best"], w["rank_if_best"]) == (1.0, 30, 4)
    assert (w["gain_to_full"], w["needed_to_full"], w["rank_if_full"]) == (1.0, 30, 4)
    # median of 95 % and 55 % is 75 %: +20 → 170/200 = 85 % → 6 × 85/90 = 5.67, +0.67
    assert (w["median_unit_ratio"], w["needed_to_median"]) == (75.0, 20)
    assert w["gain_to_median"] == pytest.approx(6 * 85 / 90 - 5, abs=1e-4)
    assert w["rank_if_median"] == 4


def test_the_best_province_has_nothing_to_gain_from_itself(hand_made):
    w = whatif(hand_made, "H02", "DOSSIER_ON_TIME")
    assert (w["best_province_code"], w["gain_to_best"], w["needed_to_best"]) == ("H02", 0, 0)
    assert (w["rank"], w["rank_if_best"], w["rank_if_full"]) == (1, 1, 1)
    assert (w["gain_to_full"], w["needed_to_full"]) == (1.0, 10)
    assert (w["units_below_median"], w["gain_to_median"]) == (0, 0)


def test_on_the_real_captures_the_what_if_is_consistent(tmp_path_factory, replay_dir):
    pipeline, _ = two_months(tmp_path_factory, replay_dir)
    with pipeline.published() as con:
        rows = con.execute("""
            SELECT metric_code, points_lost, gain_to_full, needed_to_full, gain_to_best,
                   gain_to_median, rank, rank_if_best, rank_if_full, rank_if_median,
                   numerator, denominator
            FROM marts.recoverable_points WHERE province_code = 'H44' AND month = ?""",
                           [AUGUST]).fetchall()
    by_metric = {r[0]: r for r in rows}
    assert len(rows) == 19
    # TDGQ: 39,888 more on-time dossiers would give back all 4.32 points
    tdgq = by_metric["DOSSIER_ON_TIME"]
    assert (tdgq[3], tdgq[2]) == (184513 - 144625, pytest.approx(20 - 15.68))
    for r in rows:
        assert r[2] == r[1]  # reaching the bar wins back exactly what was lost
        assert 0 <= r[4] <= r[2] + 1e-9 and (r[5] is None or 0 <= r[5] <= r[2] + 1e-9)
        # more points never cost places
        assert r[8] <= r[7] <= r[6] and (r[9] is None or r[9] <= r[6])
