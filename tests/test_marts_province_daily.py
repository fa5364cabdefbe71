"""marts.province_daily: how a month's scores moved day by day, by hand: the last capture
of each Vietnam day, the rank that day and the change since the previous captured day;
its blocking checks stop a row twice or a rank outside the day's count."""

from datetime import UTC, date, datetime

import duckdb
import pytest

from assets.marts.build import rebuild_months
from assets.warehouse import ensure_schema, refresh_reference
from checks.marts import MART_CHECKS

MONTH = date(2026, 8, 1)
# (province, captured at UTC, total): the 2nd of August 23:30 UTC is the 3rd in Vietnam
CAPTURES = [("A", datetime(2026, 8, 2, 1, 0, tzinfo=UTC), 70.0),
            ("B", datetime(2026, 8, 2, 1, 0, tzinfo=UTC), 72.0),
            ("A", datetime(2026, 8, 2, 9, 0, tzinfo=UTC), 71.0),  # later the same day
            ("A", datetime(2026, 8, 2, 23, 30, tzinfo=UTC), 73.5),
            ("B", datetime(2026, 8, 2, 23, 30, tzinfo=UTC), 72.5)]


@pytest.fixture
def con(tmp_path):
    c = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    ensure_schema(c)
    refresh_reference(c)
    for code, at, total in CAPTURES:
        c.execute("""INSERT INTO staging.national_summary_history
                         (month, province_id, province_code, province_name, total_score,
                          captured_at, session, is_synthetic)
                     VALUES (?, ?, ?, ?, ?, ?, 's1', true)""",
                  [MONTH, f"prov-{code}", f"H0{'AB'.index(code) + 1}", f"Tỉnh {code}",
                   total, at])
    yield c
    c.close()


def test_by_hand_the_last_capture_of_each_vietnam_day_ranked(con):
    assert rebuild_months(con, "province_daily", [MONTH]) == 4
    got = con.execute("""SELECT province_code, day, total_score, rank, ranked_of,
                                change_since_previous, is_latest
                         FROM marts.province_daily ORDER BY day, province_code""").fetchall()
    assert got == [("H01", date(2026, 8, 2), 71.0, 2, 2, None, False),
                   ("H02", date(2026, 8, 2), 72.0, 1, 2, None, False),
                   ("H01", date(2026, 8, 3), 73.5, 1, 2, 2.5, True),
                   ("H02", date(2026, 8, 3), 72.5, 2, 2, 0.5, True)]


def test_by_hand_a_day_twice_or_a_rank_past_ranked_of_fails_a_blocking_check(con):
    rebuild_months(con, "province_daily", [MONTH])
    checks = {c.name: c for c in MART_CHECKS["province_daily"]}
    con.execute("INSERT INTO marts.province_daily SELECT * FROM marts.province_daily "
                "WHERE province_code = 'H01' AND is_latest")
    assert checks["one_row_per_province_and_day"].find(con, [MONTH]) == [
        (MONTH, date(2026, 8, 3), "prov-A", 2)]
    con.execute("DELETE FROM marts.province_daily")
    rebuild_months(con, "province_daily", [MONTH])
    con.execute("UPDATE marts.province_daily SET rank = 0 WHERE province_code = 'H02'")
    assert [r[1:3] for r in checks["ranks_within_ranked_of"].find(con, [MONTH])] == [
        ("H02", 0), ("H02", 0)]
    assert all(c.blocking for c in checks.values())
