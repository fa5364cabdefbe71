"""marts.score_change_explained: the unit rows plus a remainder row add up to the total's
change, and a blocking check (run inside the rebuild, before the commit) holds it; on the
real captures, the total's change splits into groups and metrics, and the units that
moved most are named."""

from collections import defaultdict
from datetime import date

import dagster as dg
import duckdb
import pytest
from conftest import AUGUST
from shared_runs import two_months

import assets.marts.build as mart_assets
from assets.marts.build import MartCheckFailed, rebuild_months
from assets.warehouse import ensure_schema
from checks.marts import CHANGE_ADDS_UP

CHANGE_CHECK = CHANGE_ADDS_UP.name

JUNE, JULY = date(2026, 6, 1), date(2026, 7, 1)
change_mismatches = CHANGE_ADDS_UP.find
H44 = "prov-h44"


def _province(con, month, total):
    con.execute("""INSERT INTO marts.province_monthly
                   (month, province_id, province_code, province_name, total_score, is_synthetic)
                   VALUES (?, ?, 'H44', 'Phú Thọ', ?, false)""", [month, H44, total])


def _lost(con, month, unit, lost, method):
    con.execute("""INSERT INTO marts.unit_points_lost
                   (month, province_id, province_code, unit_id, unit_name, unit_type,
                    group_code, metric_code, points_lost, method, is_synthetic)
                   VALUES (?, ?, 'H44', ?, ?, 'SO', 'CKMB', 'M1', ?, ?, false)""",
                [month, H44, unit, f"Sở {unit}", lost, method])


@pytest.fixture
def con():
    """H44 loses 0.5 points from June to July, while its one attributed unit wins 1.0
    back: the 1.5 the province lost on a not-attributable metric is the difference (the
    sign flips if the remainder is left out)."""
    c = duckdb.connect(":memory:")
    ensure_schema(c)
    _province(c, JUNE, 90.0)
    _province(c, JULY, 89.5)
    for month, unit_lost, other in ((JUNE, 3.0, 7.0), (JULY, 2.0, 8.5)):
        _lost(c, month, "A", unit_lost, "exact_pooled")
        _lost(c, month, "H44", other, "not_attributable")
    yield c
    c.close()


def _rows(con):
    return con.execute("""SELECT level, unit_name, change FROM marts.score_change_explained
                          WHERE month = ? ORDER BY level, unit_name""", [JULY]).fetchall()


def test_units_plus_remainder_add_up_to_the_total_change(con):
    rebuild_months(con, "score_change_explained", [JULY])
    rows = _rows(con)
    total = [c for level, _, c in rows if level == "total"]
    units = [c for level, _, c in rows if level == "unit"]
    remainder = [(name, c) for level, name, c in rows if level == "remainder"]
    assert total == [pytest.approx(-0.5)] and units == [pytest.approx(1.0)]
    assert remainder == [("Không phân bổ được cho đơn vị", pytest.approx(-1.5))]
    assert sum(units) + remainder[0][1] == pytest.approx(total[0], abs=0.02)
    assert change_mismatches(con, [JULY]) == []


def test_the_check_names_a_province_month_that_does_not_add_up(con):
    rebuild_months(con, "score_change_explained", [JULY])
    con.execute("DELETE FROM marts.score_change_explained WHERE level = 'remainder'")
    bad = change_mismatches(con, [JULY])
    assert [(m, code, rows) for m, code, *_, rows in bad] == [(JULY, "H44", 0)]


def test_a_failing_check_keeps_the_previous_rows(con, monkeypatch):
    rebuild_months(con, "score_change_explained", [JULY])
    before = _rows(con)
    # a regression that drops the remainder row: the rebuild must not commit it
    real = mart_assets.read_sql
    monkeypatch.setattr(mart_assets, "read_sql", lambda name: real(name).replace(
        "UNION ALL BY NAME SELECT * FROM remainder", ""))
    with pytest.raises(MartCheckFailed, match=r"units_and_remainder_add_up.*\n2026-07 H44"):
        rebuild_months(con, "score_change_explained", [JULY])
    assert _rows(con) == before


def test_the_check_is_blocking_and_belongs_to_the_step_that_writes_the_mart():
    from pipelines.definitions import defs
    key = dg.AssetKey(["marts", "score_change_explained"])
    specs = list(defs.resolve_assets_def(key).check_specs)
    assert [(s.name, s.blocking) for s in specs] == [(CHANGE_CHECK, True)]


# refresh_legacy leaves out the marts that read metric detail, which legacy months never
# have (they would only record empty partitions)
# recoverable_points needs the metric detail that legacy and spreadsheet months never have
LEFT_OUT = {"refresh_legacy": {"marts/recoverable_points"},
            "rebuild_history": {"marts/recoverable_points"},
            # rebuilt by refresh_procedures, which every night after refresh_months restages
            # each month that has per-procedure answers and rebuilds the two marts (a month
            # without them has nothing to build: no empty partitions, no skipped publish)
            "refresh_months": {"marts/procedure_monthly",
                               "marts/unit_procedure_points_lost"}}


@pytest.mark.parametrize("job", ["rebuild_history", "refresh_legacy", "refresh_months",
                                 "import_inbox"])
def test_a_job_that_rebuilds_months_rebuilds_every_mart_built_on_them(job):
    """rebuild_history used to rebuild province_monthly and group_monthly only, so
    score_change_explained had no rows for the months a spreadsheet brought."""
    from pipelines.definitions import defs
    graph = defs.resolve_asset_graph()
    selected = {k.to_user_string()
                for k in defs.resolve_job_def(job).asset_layer.executable_asset_keys}
    marts = {k for k in selected if k.startswith("marts/")}
    if not marts:  # import_inbox: the HAR import rebuilds every mart in its own step
        from assets.marts.build import MARTS
        from pipelines import after_import
        assert after_import.MARTS is MARTS
        return
    dependents = {d.to_user_string() for d in dg.AssetSelection.assets(
        *(dg.AssetKey.from_user_string(m) for m in marts)).downstream().resolve(graph)}
    missing = {d for d in dependents if d.startswith("marts/")} - selected
    assert missing == LEFT_OUT.get(job, set())
    assert "publish/analyst_copy" in selected


def test_a_month_with_no_month_before_it_has_its_total_rows_and_nothing_to_compare(con):
    """June is the first month in the marts: it is there (one total row, change NULL), so
    Dagster's partition is not an empty materialization, and nothing is invented."""
    rebuild_months(con, "score_change_explained", [JUNE])
    rows = con.execute("""SELECT level, previous_month, score, previous_score, change
                          FROM marts.score_change_explained WHERE month = ?""",
                       [JUNE]).fetchall()
    assert rows == [("total", None, 90.0, None, None)]
    assert change_mismatches(con, [JUNE]) == []


# On the real captures (the shared two-month run)

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
