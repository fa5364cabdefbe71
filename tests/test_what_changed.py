"""What changed since last month: the total's change splits into groups and metrics, and
the units that moved most are named."""

from collections import defaultdict

import pytest
from conftest import AUGUST
from shared_runs import JULY, two_months


@pytest.fixture(scope="module")
def changes(tmp_path_factory, replay_dir):
    pipeline, _ = two_months(tmp_path_factory, replay_dir)
    with pipeline.published() as con:
        cur = con.execute("SELECT * FROM marts.score_change_explained WHERE month = ?",
                          [AUGUST])
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        totals = dict(con.execute("""
            SELECT province_code, list(total_score ORDER BY month)
            FROM marts.province_monthly GROUP BY 1""").fetchall())
        unit_lost = dict(con.execute("""
            SELECT month, sum(points_lost) FROM marts.unit_points_lost
            WHERE province_code = 'H44' AND unit_name LIKE 'Sở Nông Nghiệp%'
              AND method <> 'not_attributable' GROUP BY month""").fetchall())
    return rows, totals, unit_lost


def test_the_total_change_splits_into_groups_and_metrics(changes):
    rows, totals, _ = changes
    total = {r["province_code"]: r for r in rows if r["level"] == "total"}
    assert len(total) == 34 and {r["previous_month"] for r in rows} == {JULY}
    group_sum, metric_sum = defaultdict(float), defaultdict(float)
    for r in rows:
        if r["level"] == "group":
            group_sum[r["province_code"]] += r["change"]
        if r["level"] == "metric":
            metric_sum[(r["province_code"], r["group_code"])] += r["change"]
    for code, t in total.items():
        july, august = totals[code]
        assert t["change"] == pytest.approx(august - july)
        assert group_sum[code] == pytest.approx(t["change"], abs=0.05)
    # metric detail for the pulled provinces, adding up to each group's change
    assert {k[0] for k in metric_sum} == {"H44", "H60"}
    groups = {(r["province_code"], r["group_code"]): r["change"]
              for r in rows if r["level"] == "group"}
    for key, change in metric_sum.items():
        assert change == pytest.approx(groups[key], abs=0.03), key


def test_the_units_that_moved_most_come_first(changes):
    rows, _, unit_lost = changes
    units = sorted((r for r in rows if r["level"] == "unit" and r["province_code"] == "H44"),
                   key=lambda r: r["move_rank"])
    assert len(units) == 164  # 163 units and the province's own row
    moves = [abs(r["change"]) for r in units]
    assert moves == sorted(moves, reverse=True) and moves[0] > 0
    # the department of agriculture and environment lost 0.83 points more in August
    top = units[0]
    assert top["unit_name"].startswith("Sở Nông Nghiệp") and top["group_code"] == "TDGQ"
    assert top["points_lost"] == pytest.approx(unit_lost[AUGUST], abs=1e-4)
    assert top["previous_points_lost"] == pytest.approx(unit_lost[JULY], abs=1e-4)
    assert top["change"] == pytest.approx(unit_lost[JULY] - unit_lost[AUGUST], abs=1e-4)
    assert top["change"] < 0  # a positive change is points won back
