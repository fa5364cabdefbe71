"""The national summary as the real portal may send it: minimal (no pagination, no
departmentCode, no stt/ratio/scoreDelta, no group averages in the overview) or full.

A month publishes with the same totals, ranks and national averages either way; the
marts say whether a national average is the portal's or computed from the provinces.
One Dagster run over real HTTP for the minimal shape; the rest at crawl and SQL level.
"""

import copy
import hashlib
import json
import statistics

import duckdb
import pytest
from conftest import AUGUST, Pipeline

from assets.domain.catalogue import GROUP_CODES
from assets.domain.provinces import code_of_department
from assets.marts.build import rebuild_months
from assets.raw.crawl import crawl_month
from assets.raw.store import RawStore
from assets.sources.endpoints import NATIONAL
from assets.sources.portal import LivePortalClient, PortalBadResponse
from assets.staging.parse import Rows, parse_capture
from assets.warehouse import ensure_schema, refresh_reference
from tools.portal_server import Fault, serve
from tools.synthetic import generate, load_provinces, national_summary


def _competition_rank(values: list[float]) -> list[int]:
    """1 + how many are strictly better: ties share a rank, the next rank is skipped."""
    return [1 + sum(v > x for v in values) for x in values]


# --------------------------------------------------------------------------- SQL level


def _summary(shape: str) -> bytes:
    refs = load_provinces()
    # ties on purpose: provinces i and i + 7 have the same scores
    scores = {r["departmentCode"]: {g: round(2 + (i % 7) * 0.75 + k, 2)
                                    for k, g in enumerate(GROUP_CODES)}
              for i, r in enumerate(refs)}
    return json.dumps(national_summary(refs, scores, None, shape=shape)).encode()


def _marts_from(*pages: bytes) -> dict[str, list[dict]]:
    rows = Rows()
    for page, body in enumerate(pages, 1):
        capture = {"endpoint": NATIONAL.name, "path": f"service-results/p{page}.json",
                   "province_id": None, "province_code": "national", "page": page,
                   "captured_at": "2026-09-02T01:00:00+00:00", "http_status": 201,
                   "sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body),
                   "origin": {}}
        parse_capture(capture, body, rows, AUGUST)
    frames = rows.frames()
    with duckdb.connect() as con:
        ensure_schema(con)
        refresh_reference(con)
        for table in ("national_summary", "national_average"):
            con.register("incoming", frames[table].to_arrow())
            con.execute(f"INSERT INTO staging.{table} BY NAME SELECT * FROM incoming")
            con.unregister("incoming")
        out = {}
        for mart, order in (("province_monthly", "province_code"),
                            ("group_monthly", "province_code, group_code")):
            rebuild_months(con, mart, [AUGUST])
            cur = con.execute(f"SELECT * FROM marts.{mart} WHERE series = 'reported' "
                              f"ORDER BY {order}")
            names = [d[0] for d in cur.description]
            out[mart] = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    return out


@pytest.fixture(scope="module")
def both_shapes() -> dict[str, dict[str, list[dict]]]:
    return {shape: _marts_from(_summary(shape)) for shape in ("full", "minimal")}


def test_totals_ranks_and_averages_are_the_same_whichever_shape_the_summary_has(both_shapes):
    same = ("province_code", "total_score", "rank", "ranked_of", "national_avg_score",
            "best_score", "gap_to_best")
    full, minimal = both_shapes["full"], both_shapes["minimal"]
    assert len(minimal["province_monthly"]) == 34
    for mart, keys in (("province_monthly", same),
                       ("group_monthly", ("province_code", "group_code", "score", "rank",
                                          "ranked_of", "national_avg_score", "best_score"))):
        assert [{k: r[k] for k in keys} for r in minimal[mart]] == \
               [{k: r[k] for k in keys} for r in full[mart]], mart
    # the codes came from ref.provinces; stt was absent, so no reported rank
    assert all(r["province_code"] == code_of_department(r["province_id"])
               for r in minimal["province_monthly"])
    assert {r["rank_reported"] for r in minimal["province_monthly"]} == {None}


def test_a_summary_in_two_pages_gives_each_province_once(both_shapes):
    doc = json.loads(_summary("full"))
    rows = doc["data"]["evaluation"]
    pages = []
    for n, part in enumerate((rows[:20], rows[20:]), 1):
        page = copy.deepcopy(doc)  # the overview is repeated on every page
        page["data"]["evaluation"] = part
        page["data"]["pagination"] = {"total": 34, "currentPage": n, "pageSize": 20,
                                      "totalPages": 2}
        pages.append(json.dumps(page).encode())
    assert _marts_from(*pages) == both_shapes["full"]


def test_ranks_without_stt_are_computed_with_ties_sharing_a_rank(both_shapes):
    rows = both_shapes["minimal"]["province_monthly"]
    totals = [r["total_score"] for r in rows]
    assert [r["rank"] for r in rows] == _competition_rank(totals)
    assert len(set(totals)) < len(totals)  # there were ties to handle
    for g in GROUP_CODES:
        group = [r for r in both_shapes["minimal"]["group_monthly"] if r["group_code"] == g]
        assert [r["rank"] for r in group] == _competition_rank([r["score"] for r in group])


def test_the_marts_say_whether_the_national_average_is_the_portals_or_computed(both_shapes):
    full, minimal = both_shapes["full"], both_shapes["minimal"]
    # the overview's total is in both shapes; its group averages only in the full one
    assert {r["national_avg_source"] for r in full["province_monthly"]} == {"portal"}
    assert {r["national_avg_source"] for r in minimal["province_monthly"]} == {"portal"}
    assert {r["national_avg_source"] for r in full["group_monthly"]} == {"portal"}
    assert {r["national_avg_source"] for r in minimal["group_monthly"]} == {"computed"}
    for g in GROUP_CODES:
        group = [r for r in minimal["group_monthly"] if r["group_code"] == g]
        assert {r["national_avg_score"] for r in group} == {
            round(statistics.mean(r["score"] for r in group), 2)}


# --------------------------------------------------------------------------- crawl level


@pytest.fixture(scope="module")
def minimal_replay(tmp_path_factory):
    out = tmp_path_factory.mktemp("minimal-replay")
    generate(out, [AUGUST], provinces=["H44"], national_shape="minimal")
    return out


def _crawl(server, tmp_path):
    client = LivePortalClient(server.url, pause_s=0, backoff_s=0.01, max_attempts=2,
                              timeout_s=5)
    return crawl_month(client, RawStore(tmp_path / "raw"), AUGUST, ("H44",))


def test_a_summary_without_pagination_is_one_page_of_the_eras_34_provinces(
        minimal_replay, tmp_path):
    with serve(minimal_replay, max_page_size=100) as server:  # the summary: served whole
        result = _crawl(server, tmp_path)
        national = [r for r in server.requests if r.path.endswith("/service-results")]
    assert len(national) == 1 and result.provinces == ["H44"]


def test_a_summary_without_pagination_missing_a_province_stops_the_crawl(
        minimal_replay, tmp_path):
    def drop_one(doc):
        del doc["data"]["evaluation"][-1]

    with serve(minimal_replay) as server:
        server.add_fault(Fault("mutate", endpoint=NATIONAL.name, mutate=drop_one))
        with pytest.raises(PortalBadResponse) as err:
            _crawl(server, tmp_path)
    msg = str(err.value)
    assert "no pagination" in msg and "33" in msg and "34" in msg and "service-results" in msg


def test_an_unknown_province_id_without_a_code_stops_the_crawl_naming_id_name_and_file(
        minimal_replay, tmp_path):
    def rename(doc):
        doc["data"]["evaluation"][5]["departmentId"] = "ffffffff-0000-unknown"
        doc["data"]["evaluation"][5]["departmentName"] = "UBND tỉnh Chưa Biết"

    with serve(minimal_replay) as server:
        server.add_fault(Fault("mutate", endpoint=NATIONAL.name, mutate=rename))
        with pytest.raises(PortalBadResponse) as err:
            _crawl(server, tmp_path)
    msg = str(err.value)
    assert "ffffffff-0000-unknown" in msg and "UBND tỉnh Chưa Biết" in msg
    assert "data/reference/provinces.json" in msg and err.value.raw_path
    assert err.value.raw_path in msg  # the kept answer


# --------------------------------------------------------------------------- end to end


def test_a_month_publishes_over_http_from_the_minimal_national_summary(minimal_replay, tmp_path):
    summary = json.loads(next((minimal_replay / NATIONAL.name).rglob("page-1.json")).read_bytes())
    rows = summary["data"]["evaluation"]
    assert "pagination" not in summary["data"] and "departmentCode" not in rows[0]

    with serve(minimal_replay, max_page_size=50) as server:
        p = Pipeline(tmp_path / "data", server.url)
        assert p.run(AUGUST).success
    with p.published() as con:
        got = con.execute("""
            SELECT province_id, province_code, total_score, rank, ranked_of, national_avg_score,
                   national_avg_source, rank_reported
            FROM marts.province_monthly WHERE month = ? ORDER BY province_id""",
                          [AUGUST]).fetchall()
        groups = con.execute("""
            SELECT group_code, min(national_avg_score), max(national_avg_score),
                   string_agg(DISTINCT national_avg_source, ','), count(*)
            FROM marts.group_monthly WHERE month = ? GROUP BY group_code""",
                             [AUGUST]).fetchall()
        pulled = con.execute("SELECT count(*) FROM marts.metric_monthly WHERE month = ? AND "
                             "province_code = 'H44'", [AUGUST]).fetchone()[0]
    totals = [r["totalScore"] for r in sorted(rows, key=lambda r: r["departmentId"])]
    assert got == [(r["departmentId"], code_of_department(r["departmentId"]), r["totalScore"],
                    rank, 34, summary["data"]["overview"]["totalScore"], "portal", None)
                   for r, rank in zip(sorted(rows, key=lambda r: r["departmentId"]),
                                      _competition_rank(totals), strict=True)]
    expected = {g: round(statistics.mean(r["groupScores"][g] for r in rows), 2)
                for g in GROUP_CODES}
    assert {g: (lo, hi, src, n) for g, lo, hi, src, n in groups} == {
        g: (v, v, "computed", 34) for g, v in expected.items()}
    assert pulled > 0  # Phú Thọ's own endpoints were crawled by the code from the reference
