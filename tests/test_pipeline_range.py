"""Several months: one run for a range, and months loaded in any order stay consistent."""

from datetime import date

import pytest
from conftest import AUGUST

JULY = date(2026, 7, 1)


def changes(p):
    with p.published() as con:
        return dict(con.execute("SELECT month, score_change FROM marts.province_monthly "
                                "WHERE province_code='H44' ORDER BY month").fetchall())


def test_a_range_runs_as_one_run_and_fills_month_over_month_changes(pipeline):
    assert pipeline.run(JULY, AUGUST).success
    with pipeline.published() as con:
        per_month = con.execute("SELECT month, count(*) FROM marts.province_monthly "
                                "GROUP BY 1 ORDER BY 1").fetchall()
        july, august = [r[0] for r in con.execute(
            "SELECT total_score FROM marts.province_monthly WHERE province_code='H44' "
            "ORDER BY month").fetchall()]
    assert per_month == [(JULY, 34), (AUGUST, 34)]
    assert changes(pipeline) == {JULY: None, AUGUST: pytest.approx(august - july)}
    runs = pipeline.instance.get_runs()
    assert len(runs) == 1


def test_an_earlier_month_loaded_later_refreshes_the_next_months_change(pipeline):
    assert pipeline.run(AUGUST).success
    assert changes(pipeline) == {AUGUST: None}
    assert pipeline.run(JULY).success
    filled = changes(pipeline)
    assert filled[JULY] is None and filled[AUGUST] is not None
