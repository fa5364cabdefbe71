"""marts.group_monthly: each province's group scores, points lost, national average, best
and rank, by hand (tests/hand_made.py); its blocking checks stop a rebuild that would
commit a row twice or a rank outside its group's count, and keep the previous rows."""

import duckdb
import pytest
from hand_made import MONTH, build, tampered_copy

import assets.marts.build as mart_build
from assets.marts.build import MartCheckFailed, rebuild_months
from checks.marts import MART_CHECKS

CHECKS = {c.name: c for c in MART_CHECKS["group_monthly"]}


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    return build(tmp_path_factory.mktemp("group-monthly") / "warehouse.duckdb")


def test_by_hand_on_time_handling_ranks_the_four_provinces(path):
    with duckdb.connect(str(path), read_only=True) as con:
        got = {r[0]: r[1:] for r in con.execute("""
            SELECT province_code, score, points_lost, rank, ranked_of, best_score,
                   national_avg_score, national_avg_source
            FROM marts.group_monthly WHERE group_code = 'TDGQ' AND month = ?""",
                                                [MONTH]).fetchall()}
    # A 140/200 on time → 14, B 190/200 → 19, C and D 15/20 → 15 (a tie for 2nd); no
    # national average was staged, so it is the mean of the four: 15.75
    assert got == {
        "H01": (14.0, 6.0, 4, 4, 19.0, 15.75, "computed"),
        "H02": (19.0, 1.0, 1, 4, 19.0, 15.75, "computed"),
        "H03": (15.0, 5.0, 2, 4, 19.0, 15.75, "computed"),
        "H04": (15.0, 5.0, 2, 4, 19.0, 15.75, "computed"),
    }


def test_by_hand_a_row_twice_or_a_rank_past_ranked_of_fails_a_blocking_check(path, tmp_path):
    (tmp_path / "twice").mkdir()
    (tmp_path / "rank").mkdir()
    with tampered_copy(path, tmp_path / "twice", """
            INSERT INTO marts.group_monthly SELECT * FROM marts.group_monthly
            WHERE province_code = 'H01' AND group_code = 'CKMB'""") as con:
        twice = CHECKS["one_row_per_province_group_and_series"].find(con, [MONTH])
    with tampered_copy(path, tmp_path / "rank", "UPDATE marts.group_monthly SET rank = 5 "
                       "WHERE province_code = 'H02' AND group_code = 'MDHL'") as con:
        ranks = CHECKS["ranks_within_ranked_of"].find(con, [MONTH])
    assert [r[1:] for r in twice] == [("reported", "H01", "CKMB", 2)]
    assert [(r[1], r[2], r[3]) for r in ranks] == [("H02", 5, 4)]
    assert all(c.blocking for c in CHECKS.values())


def test_a_rebuild_that_would_commit_rows_twice_keeps_the_previous_rows(path, tmp_path,
                                                                       monkeypatch):
    with tampered_copy(path, tmp_path) as con:
        before = con.execute("SELECT * FROM marts.group_monthly ORDER BY ALL").fetchall()
        real = mart_build.read_sql
        monkeypatch.setattr(mart_build, "read_sql", lambda name: real(name).replace(
            "FROM scored l", "FROM (SELECT * FROM scored UNION ALL SELECT * FROM scored) l"))
        with pytest.raises(MartCheckFailed, match=r"one_row_per_province_group_and_series "
                                                  r"failed for 24 rows.*\n2026-08 reported"):
            rebuild_months(con, "group_monthly", [MONTH])
        assert con.execute("SELECT * FROM marts.group_monthly ORDER BY ALL").fetchall() == before
