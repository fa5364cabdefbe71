"""Which procedures cost the points: procedure 2.000815 in Phú Thọ 08/2026, from the
portal's real answers, split over the province's denominator and over its units."""

import hashlib
import json
import re

import duckdb
import pytest
from conftest import AUGUST, SAMPLES
from procedure_samples import PROCEDURE_CODE, build, keep_samples

from assets.marts.build import MartCheckFailed, rebuild_months
from checks.marts import PROCEDURE_SHARES, UNIT_PROCEDURE_SHARES


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    root = tmp_path_factory.mktemp("procedure-marts")
    connection = duckdb.connect(str(root / "warehouse.duckdb"))
    build(connection, keep_samples(root / "raw"))
    yield connection
    connection.close()


def one(con, query, params=()):
    rows = con.execute(query, list(params)).fetchall()
    assert len(rows) == 1, rows
    return rows[0]


def test_the_procedure_has_the_portals_numbers(con):
    groups = dict(((g, (s, m)) for g, s, m in con.execute("""
        SELECT group_code, score, max_score FROM marts.procedure_monthly
        WHERE level = 'group' AND procedure_code = ?""", [PROCEDURE_CODE]).fetchall()))
    assert groups == {"CKMB": (6, 18), "TDGQ": (18.98, 20), "CLGQ": (12, 12),
                      "TTTT": (6.28, 10), "MDSH": (7.68, 20)}
    num, den, lost, method = one(con, """
        SELECT numerator, denominator, points_lost, method FROM marts.procedure_monthly
        WHERE metric_code = 'DOSSIER_ON_TIME' AND procedure_code = ?""", [PROCEDURE_CODE])
    assert (num, den, method) == (42318, 44583, "pooled")
    # its overdue dossiers pooled over the province's 184,513 received
    assert lost == pytest.approx(20 * (44583 - 42318) / 184513)
    # MDSH is worth 20 here: the answer lacks a 2-point metric, and says so
    method, note = one(con, """
        SELECT method, note FROM marts.procedure_monthly
        WHERE metric_code = 'CITIZEN_DATA_CONNECTED_FORMALITY' AND procedure_code = ?""",
                       [PROCEDURE_CODE])
    assert method == "not_in_answer" and "20.0 of 22.0" in note


def test_the_procedures_and_the_remainder_add_up_to_the_provinces_loss(con):
    sums = con.execute("""
        SELECT m.metric_code, m.points_lost, sum(p.points_lost),
               sum(p.points_lost) FILTER (WHERE p.method = 'pooled'),
               count(*) FILTER (WHERE p.method = 'remainder')
        FROM marts.metric_monthly m
        JOIN marts.procedure_monthly p USING (month, province_id, metric_code)
        WHERE p.method IN ('pooled', 'remainder')
        GROUP BY ALL""").fetchall()
    assert {s[0] for s in sums} == {
        "DOSSIER_ON_TIME", "PAYMENT_DOSSIER_ONLINE", "ORIGINAL_RESULT_AVAILABLE",
        "SO_HOA_GIAY_TO_GIAI_QUYET", "REUSED_DIGITIZED_DATA",
        "SYNCED_WITH_DVCQG_PERSONAL_STORAGE", "CITIZEN_DATA_CONNECTED_DOSSIER"}
    for metric, province, total, procedures, remainders in sums:
        assert remainders == 1, metric
        assert total == pytest.approx(province, abs=0.02), metric
        assert procedures <= province + 0.02, metric
    assert PROCEDURE_SHARES.find(con, [AUGUST]) == []
    # a group row sums its split metrics; the remainder's group row what is left
    tdgq = dict(con.execute("""
        SELECT method, points_lost FROM marts.procedure_monthly
        WHERE level = 'group' AND group_code = 'TDGQ'""").fetchall())
    assert tdgq["pooled"] + tdgq["remainder"] == pytest.approx(20 - 15.68, abs=0.02)


def test_metrics_that_cannot_be_split_by_procedure_say_why(con):
    got = dict(((m, (method, note)) for m, method, note in con.execute("""
        SELECT metric_code, method, note FROM marts.procedure_monthly
        WHERE level = 'metric' AND procedure_code = ? AND method <> 'pooled'""",
                                                       [PROCEDURE_CODE]).fetchall()))
    assert got["ONLINE_SERVICE"][0] == "not_attributable"  # CLGQ: formula unknown
    assert "formula not published" in got["ONLINE_SERVICE"][1]
    # TTTT's procedure counts: the answer repeats the province's 93 and 56 of 310
    for metric in ("PAYMENT_FORMALITY_ONLINE", "PAYMENT_FORMALITY_INTEGRATED",
                   "PUBLISH_ON_TIME"):
        assert got[metric][0] == "not_attributable" and "counts procedures" in got[metric][1]
    # CKMB's DOSSIER_SYNC comes back unfiltered: 138,744 of 138,744, as for the province
    assert got["DOSSIER_SYNC"][0] == "province_level"
    assert "repeats the province" in got["DOSSIER_SYNC"][1]
    assert got["ELECTRONIC_CERTIFIED_COPY"][0] == "not_attributable"
    assert con.execute("""
        SELECT count(*) FROM marts.procedure_monthly
        WHERE method <> 'pooled' AND points_lost IS NOT NULL AND method <> 'remainder'
    """).fetchone()[0] == 0


def test_coverage_is_the_procedures_share_of_the_provinces_dossiers(con):
    rows = set(con.execute("""
        SELECT dossiers, province_dossiers, coverage, month_coverage, procedures_crawled
        FROM marts.procedure_monthly WHERE procedure_code = ?""", [PROCEDURE_CODE]).fetchall())
    (dossiers, province, coverage, month_coverage, crawled), = rows  # the same on every row
    assert (dossiers, province, crawled) == (44583, 184513, 1)  # 24 % from one procedure
    assert coverage == month_coverage == pytest.approx(44583 / 184513)


def test_the_unit_split_sums_to_the_procedures_loss(con):
    sums = con.execute("""
        SELECT p.metric_code, p.points_lost, sum(u.points_lost), count(u.unit_id),
               string_agg(DISTINCT u.method, ',')
        FROM marts.procedure_monthly p
        JOIN marts.unit_procedure_points_lost u USING (month, province_id, procedure_id,
                                                      metric_code)
        WHERE p.method = 'pooled' GROUP BY ALL""").fetchall()
    assert len(sums) == 7
    for metric, procedure, units, n, methods in sums:
        assert units == pytest.approx(procedure, abs=1e-9), metric
        assert 0 < n <= 163 and methods == "exact_pooled"
    assert UNIT_PROCEDURE_SHARES.find(con, [AUGUST]) == []
    # the units that hold the overdue dossiers: their missing counts are the 2,265 overdue
    missing, top = one(con, """
        SELECT sum(missing_count), max(points_lost) FROM marts.unit_procedure_points_lost
        WHERE metric_code = 'DOSSIER_ON_TIME'""")
    assert missing == 44583 - 42318 and top > 0


def _rest_of_the_province(extra: int = 0) -> bytes:
    """A TDGQ answer for 'every other procedure': the province's counts minus 2.000815's,
    unit by unit, so that the two procedures cover all the province's dossiers (``extra``
    more on-time dossiers received, as if answered later in the day)."""
    every = json.loads((SAMPLES / "dvc-progress-tree" / "month-all.json").read_bytes())
    one_ = json.loads((SAMPLES / "dvc-progress-tree" / "month-formality.json").read_bytes())
    theirs = {c["departmentId"]: c for c in one_["data"]["children"]}
    for row, sub in [(every["data"]["parent"], one_["data"]["parent"])] + [
            (c, theirs[c["departmentId"]]) for c in every["data"]["children"]]:
        for key in ("totalReceived", "totalOnTime"):
            row[key] -= sub[key]
    every["data"]["parent"]["totalReceived"] += extra
    every["data"]["parent"]["totalOnTime"] += extra
    return json.dumps(every, ensure_ascii=False).encode()


def _no_dossier() -> bytes:
    """A TDGQ answer for a procedure no unit of the province received anything for."""
    body = json.loads((SAMPLES / "dvc-progress-tree" / "month-formality.json").read_bytes())
    for row in [body["data"]["parent"], *body["data"]["children"]]:
        for key in ("totalReceived", "totalOnTime"):
            row[key] = 0
    return json.dumps(body, ensure_ascii=False).encode()


def _with_the_rest(tmp_path, extra: int = 0, body: bytes | None = None
                   ) -> duckdb.DuckDBPyConnection:
    """The samples plus a second crawl that brings the rest of the dossiers as one more
    procedure (or ``body``, that procedure's answer); the warehouse built from both."""
    store = keep_samples(tmp_path / "raw")
    session = json.loads(next((store.root / "_sessions").rglob("*.json")).read_text())
    tree = next(c for c in session["captures"]
                if c.get("formality_id") and c["endpoint"] == "dvc-progress-tree")
    body = body if body is not None else _rest_of_the_province(extra)
    path = store.root / "dvc-progress-tree" / "rest.json"
    path.write_bytes(body)
    other = {**tree, "formality_id": "rest-of-the-province", "formality_code": "X",
             "formality_name": "others", "path": str(path.relative_to(store.root)),
             "sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body)}
    session["captures"].append(other)
    (store.root / "_sessions" / "2026-08" / "z-second.json").write_text(json.dumps(session))
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    build(con, store)
    return con


def test_with_every_procedure_crawled_the_procedures_alone_make_the_provinces_loss(
        tmp_path):
    with _with_the_rest(tmp_path) as con:
        rows = dict(((m, (lost, p)) for m, lost, p in con.execute("""
            SELECT method, points_lost, province_points_lost FROM marts.procedure_monthly
            WHERE metric_code = 'DOSSIER_ON_TIME'
              AND (method = 'remainder' OR procedure_code = 'X')""").fetchall()))
        total = con.execute("""
            SELECT sum(points_lost) FROM marts.procedure_monthly
            WHERE metric_code = 'DOSSIER_ON_TIME' AND method = 'pooled'""").fetchone()[0]
        coverage = con.execute("SELECT max(month_coverage) FROM marts.procedure_monthly"
                               ).fetchone()[0]
    assert coverage == pytest.approx(1.0)
    assert rows["remainder"][0] == pytest.approx(0, abs=1e-9)
    assert total == pytest.approx(20 - 15.68, abs=0.02)


def test_a_procedure_without_dossiers_loses_nothing_and_needs_no_unit_rows(tmp_path):
    # at scale most crawled procedures have no dossier in the province this month
    with _with_the_rest(tmp_path, body=_no_dossier()) as con:
        lost = con.execute("""
            SELECT points_lost FROM marts.procedure_monthly
            WHERE metric_code = 'DOSSIER_ON_TIME' AND procedure_code = 'X'""").fetchall()
        units = con.execute("SELECT count(*) FROM marts.unit_procedure_points_lost "
                            "WHERE procedure_code = 'X'").fetchone()[0]
        assert UNIT_PROCEDURE_SHARES.find(con, [AUGUST]) == []
    assert lost == [(0.0,)] and units == 0


def test_procedures_holding_more_than_the_province_are_not_split(tmp_path):
    # answered later in the day: 500 more dossiers than the province had when it answered
    with _with_the_rest(tmp_path, extra=500) as con:
        rows = con.execute("""
            SELECT procedure_code, method, points_lost, note FROM marts.procedure_monthly
            WHERE metric_code = 'DOSSIER_ON_TIME' ORDER BY 1""").fetchall()
        assert PROCEDURE_SHARES.find(con, [AUGUST]) == []
    assert [(r[0], r[1], r[2]) for r in rows] == [(PROCEDURE_CODE, "not_attributable", None),
                                                  ("X", "not_attributable", None)]
    assert "add up to more than the province's" in rows[0][3]


def test_a_province_loss_its_counts_do_not_explain_stops_the_build_and_keeps_the_rows(
        tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        build(con, keep_samples(tmp_path / "raw"))
        before = con.execute("SELECT count(*), sum(points_lost) FROM marts.procedure_monthly"
                             ).fetchone()
        # the portal's TDGQ score for the province no longer matches its own counts
        con.execute("""UPDATE staging.unit_group_scores SET score = 17.5
                       WHERE is_province AND group_code = 'TDGQ'""")
        with pytest.raises(MartCheckFailed) as failed:
            rebuild_months(con, "procedure_monthly", [AUGUST])
        assert "DOSSIER_ON_TIME" in str(failed.value) and "2.50" in str(failed.value)
        after = con.execute("SELECT count(*), sum(points_lost) FROM marts.procedure_monthly"
                            ).fetchone()
    assert after == before


def test_the_analyst_guides_procedure_queries_run_and_answer(con):
    from assets.marts.dictionary import GUIDE  # noqa: PLC0415

    queries = re.findall(r"```sql procedures\n(.*?)```", GUIDE.read_text("utf-8"), re.DOTALL)
    assert len(queries) == 3
    top = con.execute(queries[0]).fetchall()
    assert top[0][0] == PROCEDURE_CODE and top[0][2] == pytest.approx(3.64, abs=0.005)
    for query in queries[1:]:
        assert con.execute(query).fetchall(), query
