"""marts.metric_monthly: each pulled province's metrics, as the portal scored them or
recomputed from raw counts, by hand (tests/hand_made.py); its blocking check stops a
rebuild that would commit a metric twice."""

import duckdb
import pytest
from hand_made import MONTH, build, tampered_copy

from checks.marts import MART_CHECKS


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    return build(tmp_path_factory.mktemp("metric-monthly") / "warehouse.duckdb")


def test_by_hand_the_province_rows_of_two_metrics(path):
    with duckdb.connect(str(path), read_only=True) as con:
        got = {(r[0], r[1]): r[2:] for r in con.execute("""
            SELECT province_code, metric_code, numerator, denominator, score, points_lost,
                   score_source
            FROM marts.metric_monthly
            WHERE metric_code IN ('DOSSIER_ON_TIME', 'DOSSIER_RECEIVING_SATISFACTION')
            """).fetchall()}
    # only the pulled provinces (A, B) have metric detail; TDGQ's one metric is the
    # whole group: its counts from the raw parameters, its score the portal's group score
    assert got == {
        ("H01", "DOSSIER_ON_TIME"): (140, 200, 14.0, 6.0, "portal"),
        ("H02", "DOSSIER_ON_TIME"): (190, 200, 19.0, 1.0, "portal"),
        ("H01", "DOSSIER_RECEIVING_SATISFACTION"): (150, 200, 5.0, 1.0, "portal"),
        ("H02", "DOSSIER_RECEIVING_SATISFACTION"): (190, 200, 6.0, 0.0, "portal"),
    }


def test_by_hand_a_metric_counted_twice_fails_the_blocking_check(path, tmp_path):
    (check,) = MART_CHECKS["metric_monthly"]
    with tampered_copy(path, tmp_path, """
            INSERT INTO marts.metric_monthly SELECT * FROM marts.metric_monthly
            WHERE province_code = 'H02' AND metric_code = 'DOSSIER_ON_TIME'""") as con:
        assert check.find(con, [MONTH]) == [(MONTH, "prov-B", "DOSSIER_ON_TIME", 2)]
        assert check.find(con, [MONTH.replace(month=7)]) == []  # only the months asked
    assert check.blocking and check.name == "one_row_per_province_and_metric"
