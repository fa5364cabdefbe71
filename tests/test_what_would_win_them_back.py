"""What would win the points back: the what-if, on a case small enough to check by hand,
then on the real captures."""

from datetime import UTC, date, datetime

import duckdb
import polars as pl
import pytest
from conftest import AUGUST
from shared_runs import two_months

from assets.marts.build import MARTS, rebuild_months
from assets.staging.parse import SCHEMAS
from assets.warehouse import ensure_schema, refresh_reference, replace_months

MONTH = date(2026, 8, 1)
CAPTURED = datetime(2026, 9, 10, tzinfo=UTC)
# Four provinces in the national summary; A and B were pulled.
TOTALS = {"A": 70.00, "B": 80.00, "C": 71.50, "D": 74.00}
# TDGQ (on-time / received) and dossier satisfaction (satisfied / dossiers, full marks
# at 90 %) for each pulled province's two units.
ON_TIME = {"A": [(90, 100), (50, 100)], "B": [(95, 100), (95, 100)]}
SATISFIED = {"A": [(95, 100), (55, 100)], "B": [(95, 100), (95, 100)]}


def _where(code: str, unit: int | None = None) -> dict:
    pid = f"prov-{code}"
    uid = pid if unit is None else f"{pid}-u{unit}"
    return {"month": MONTH, "province_id": pid, "province_code": f"H0{'ABCD'.index(code) + 1}",
            "captured_at": CAPTURED, "raw_sha256": "0" * 64, "raw_path": "hand-made",
            "is_synthetic": True, "unit_id": uid,
            "unit_name": f"Tỉnh {code}" if unit is None else f"Xã {code}{unit}",
            "unit_code": None, "unit_level": None, "is_province": unit is None,
            "unit_type": "PROVINCE" if unit is None else "COMMUNE_PEOPLE_COMMITTEE"}


def _staging() -> dict[str, pl.DataFrame]:
    national, groups, params, metrics = [], [], [], []
    for code, total in TOTALS.items():
        where = _where(code)
        # the other groups make up the total; only TDGQ and MDHL are used below
        tdgq = 20 * sum(n for n, _ in ON_TIME.get(code, [(15, 20)])) / sum(
            d for _, d in ON_TIME.get(code, [(15, 20)]))
        national.append({k: where[k] for k in SCHEMAS["national_summary"] if k in where}
                        | {"province_name": where["unit_name"], "rank_reported": None,
                           "total_score": total, "ratio": total, "score_delta": None,
                           "ckmb": 10.0, "tdgq": tdgq, "clgq": 8.0, "tttt": 6.0, "mdhl": 15.0,
                           "mdsh": total - 39.0 - tdgq})
    for code in ON_TIME:
        units = [None, 1, 2]
        for unit in units:
            where = _where(code, unit)
            on_time = ON_TIME[code] if unit is None else [ON_TIME[code][unit - 1]]
            satisfied = SATISFIED[code] if unit is None else [SATISFIED[code][unit - 1]]
            num, den = sum(n for n, _ in on_time), sum(d for _, d in on_time)
            groups.append(where | {"group_code": "TDGQ", "score": round(20 * num / den, 2),
                                   "max_score": 20.0, "ratio": 100 * num / den,
                                   "score_delta": None})
            params += [where | {"group_code": "TDGQ", "parameter": p, "value": float(v)}
                       for p, v in (("totalOnTime", num), ("totalReceived", den))]
            s_num, s_den = sum(n for n, _ in satisfied), sum(d for _, d in satisfied)
            metrics.append(where | {
                "group_code": "MDHL", "metric_code": "DOSSIER_RECEIVING_SATISFACTION",
                "metric_name": "Tỷ lệ hài lòng", "numerator": float(s_num),
                "denominator": float(s_den), "ratio": 100 * s_num / s_den,
                "score": round(min(6, 6 * (s_num / s_den) / 0.9), 2), "max_score": 6.0,
                "data_quality_status": None, "data_quality_message": None})
    frames = {"national_summary": national, "unit_group_scores": groups,
              "unit_parameters": params, "unit_metrics": metrics}
    return {f"staging.{t}": pl.DataFrame([{c: r.get(c) for c in SCHEMAS[t]} for r in rows],
                                         schema=SCHEMAS[t], orient="row")
            for t, rows in frames.items()}


@pytest.fixture(scope="module")
def hand_made(tmp_path_factory):
    path = tmp_path_factory.mktemp("what-if") / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        ensure_schema(con)
        refresh_reference(con)
        replace_months(con, _staging(), [MONTH])
        for name in MARTS:  # the assets' own build, in their order
            rebuild_months(con, name, [MONTH])
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


def test_the_split_behind_the_what_if_by_hand(hand_made):
    got = dict(hand_made.execute("""
        SELECT unit_name, points_lost FROM marts.unit_points_lost
        WHERE province_code = 'H01' AND metric_code = 'DOSSIER_RECEIVING_SATISFACTION'
        """).fetchall())
    # missing counts −5 and 35 of the 180 the bar asks for: 6 × (−5)/180 and 6 × 35/180
    assert got == pytest.approx({"Xã A1": -1 / 6, "Xã A2": 7 / 6})


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
