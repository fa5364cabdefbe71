"""Issue 15 §1-2: the procedure catalogue and the budgeted, prioritised procedure crawl.

Pure parts (payloads, the catalogue reader, the plan) without HTTP; the crawl over real
HTTP against tools/portal_server.py, counting requests at the server; one Dagster run of
the two procedure jobs on a temp data dir.
"""

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from conftest import AUGUST, PHU_THO, SAMPLES, Pipeline

from assets.months import VIETNAM, final_from
from assets.raw.crawl import crawl_month
from assets.raw.procedure_crawl import (
    crawl_catalogue,
    crawl_procedures,
    procedure_sessions,
)
from assets.raw.store import PROCEDURE_SESSIONS, RawStore, complete_sessions
from assets.sources.endpoints import (
    GROUP_ENDPOINTS,
    PROCEDURE_GROUPS,
    month_payload,
    payload_month,
)
from assets.sources.portal import LivePortalClient
from assets.sources.procedures import (
    CatalogueError,
    Known,
    Procedure,
    Slot,
    catalogue_frame,
    parse_catalogue_page,
    plan_procedure_requests,
)
from tools.portal_server import serve
from tools.synthetic import generate
from tools.synthetic_procedures import generate_procedures, real_procedure

REAL = real_procedure()
FILTERED_PATHS = {GROUP_ENDPOINTS[g].path for g in PROCEDURE_GROUPS}


# --- payloads -------------------------------------------------------------------------

def test_filtered_payloads_are_the_ones_the_portal_was_asked():
    """The five filtered requests carry exactly the samples' bodies; dossier-digitized
    spells the filter formalityID."""
    manifest = json.loads((SAMPLES / "manifest.json").read_text("utf-8"))
    seen = 0
    for entry in manifest["captures"]:
        if entry.get("scope") != "formality" or entry.get("period") != "month":
            continue
        name = entry["url"].rsplit("/", 1)[1]
        endpoint = next(e for e in GROUP_ENDPOINTS.values() if e.name == name)
        ours = month_payload(endpoint, payload_month(entry["payload"]), province_id=PHU_THO,
                             formality_id=REAL["id"],
                             page_size=entry["payload"]["pageSize"])
        assert ours == entry["payload"], name
        seen += 1
    assert seen == 5
    assert "formalityID" in month_payload(GROUP_ENDPOINTS["MDSH"], AUGUST, province_id="p",
                                          formality_id="f")
    with pytest.raises(ValueError, match="does not answer per procedure"):
        month_payload(GROUP_ENDPOINTS["MDHL"], AUGUST, province_id="p", formality_id="f")


# --- the catalogue reader -------------------------------------------------------------

def test_the_real_catalogue_pages_read_strictly_into_typed_rows():
    first = parse_catalogue_page((SAMPLES / "formalities" / "page-1.json").read_bytes(),
                                 file="page-1.json", page=1)
    assert first.pagination.total == 5741 and len(first.items) == 10
    assert first.items[0].code == "1.000010"
    assert len(first.items[0].appliedDepartmentIds) == 11
    last = parse_catalogue_page((SAMPLES / "formalities" / "page-last.json").read_bytes(),
                                file="page-last.json", page=575)
    assert last.items[0].appliedDepartmentIds == []
    # two pages of a 5,741-procedure catalogue are not the catalogue: refused, named
    now = datetime.now(UTC)
    with pytest.raises(CatalogueError, match="11 procedures in 2 pages, pagination.total "
                                             "says 5741"):
        catalogue_frame([(first, 1, now, "a"), (last, 575, now, "b")])


def test_a_catalogue_field_of_the_wrong_type_names_file_page_and_field():
    doc = json.loads((SAMPLES / "formalities" / "page-1.json").read_bytes())
    doc["data"]["items"][3]["code"] = 1000045
    with pytest.raises(CatalogueError) as err:
        parse_catalogue_page(json.dumps(doc).encode(), file="formalities/x.json", page=7)
    assert "formalities/x.json, page 7, field data.items[3].code" in str(err.value)
    del doc["data"]["items"][2]["appliedDepartmentIds"]
    doc["data"]["items"][3]["code"] = "1.000045"
    with pytest.raises(CatalogueError, match=r"field data.items\[2\]"):
        parse_catalogue_page(json.dumps(doc).encode(), file="f.json", page=1)


# --- the plan -------------------------------------------------------------------------

MONTH = date(2026, 8, 1)
OPEN_NOW = datetime(2026, 8, 20, 12, tzinfo=UTC)
UNITS = frozenset({"prov", "unit-a", "unit-b"})


def _catalogue(n: int) -> list[Procedure]:
    # p00..p{n-1}; every third one is applied by one of the province's units
    return [Procedure(f"p{i:02d}", f"1.{i:06d}",
                      frozenset({"unit-a"} if i % 3 == 0 else {"elsewhere"}))
            for i in range(n)]


def test_the_plan_puts_the_biggest_known_procedures_first_then_the_applied_then_the_rest():
    catalogue = _catalogue(12)
    earlier = datetime(2026, 7, 10, tzinfo=UTC)
    known = {("H44", "p05"): Known(900, {date(2026, 7, 1): earlier}),
             ("H44", "p07"): Known(4000, {date(2026, 7, 1): earlier}),
             ("H44", "p01"): Known(0, {date(2026, 7, 1): earlier}),  # holds nothing
             ("H44", "p02"): Known(None, {MONTH: datetime(2026, 8, 19, tzinfo=UTC)})}
    plan = plan_procedure_requests(catalogue, [Slot("H44", MONTH, UNITS)], known,
                                   budget=10 * 5 + 4, now=OPEN_NOW)
    assert [(p.procedure_id, p.reason) for p in plan] == [
        ("p07", "most_dossiers"), ("p05", "most_dossiers"),  # most dossiers first
        ("p00", "applied_here"), ("p03", "applied_here"), ("p06", "applied_here"),
        ("p09", "applied_here"),
        # the rest not yet captured this month; never captured before the others
        ("p04", "rotation"), ("p08", "rotation"), ("p10", "rotation"), ("p11", "rotation"),
    ]
    # p01 and p02 come last (captured before; p02 already this month): budget ran out


def test_the_rest_rotates_least_recently_captured_first_and_refreshes_come_last():
    catalogue = _catalogue(4)
    known = {("H44", "p01"): Known(0, {date(2026, 6, 1): datetime(2026, 6, 9, tzinfo=UTC)}),
             ("H44", "p02"): Known(0, {date(2026, 5, 1): datetime(2026, 5, 9, tzinfo=UTC)}),
             ("H44", "p03"): Known(None, {MONTH: datetime(2026, 8, 2, tzinfo=UTC)})}
    plan = plan_procedure_requests(catalogue, [Slot("H44", MONTH, frozenset({"prov"}))],
                                   known, budget=100, now=OPEN_NOW)
    assert [(p.procedure_id, p.reason) for p in plan] == [
        ("p00", "rotation"), ("p02", "rotation"), ("p01", "rotation"), ("p03", "refresh")]


def test_a_final_month_is_never_asked_again_for_a_procedure_captured_once_final():
    closed = date(2026, 6, 1)
    final = final_from(closed)
    known = {("H44", "p00"): Known(50, {closed: final + timedelta(hours=1)}),  # final capture
             ("H44", "p01"): Known(40, {closed: final - timedelta(days=2)})}  # before: not final
    plan = plan_procedure_requests(_catalogue(3), [Slot("H44", closed, UNITS)], known,
                                   budget=100, now=final + timedelta(days=30))
    assert [p.procedure_id for p in plan] == ["p01", "p02"]
    # while the month is still settling, the big one is refreshed like any open month
    plan = plan_procedure_requests(_catalogue(3), [Slot("H44", closed, UNITS)], known,
                                   budget=100, now=final - timedelta(hours=1))
    assert [p.procedure_id for p in plan][:2] == ["p00", "p01"]


def test_the_plan_never_costs_more_than_the_budget_and_shares_it_between_months():
    slots = [Slot("H44", date(2026, 7, 1), UNITS, cost=11), Slot("H44", MONTH, UNITS),
             Slot("H60", MONTH, UNITS, cost=7)]
    cost = {(s.province, s.month): s.cost for s in slots}
    for budget in (0, 4, 5, 23, 64, 300):
        plan = plan_procedure_requests(_catalogue(40), slots, {}, budget=budget, now=OPEN_NOW)
        assert sum(cost[(p.province, p.month)] for p in plan) <= budget
    plan = plan_procedure_requests(_catalogue(40), slots, {}, budget=64, now=OPEN_NOW)
    by_slot = {k: sum(1 for p in plan if (p.province, p.month) == k) for k in cost}
    # newest month first, each slot an equal part of what is left, in whole procedures:
    # 64 // 3 // 5 = 4 (20 used), 44 // 2 // 7 = 3 (21 used), 23 // 11 = 2
    assert by_slot == {("H44", MONTH): 4, ("H60", MONTH): 3, ("H44", date(2026, 7, 1)): 2}


# --- over HTTP ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def procedure_replay(tmp_path_factory) -> Path:
    """Phú Thọ 08/2026 (the real answers, 2.000815's filtered ones included) and a
    24-procedure catalogue with every procedure's filtered answers."""
    out = tmp_path_factory.mktemp("procedure-replay")
    generate(out, [AUGUST], provinces=["H44"])
    generate_procedures(out, [AUGUST], ["H44"], count=24)
    return out


@pytest.fixture(scope="module")
def crawled(procedure_replay, tmp_path_factory):
    """The group crawl and the catalogue over HTTP, then procedure crawls with a budget
    of 43 from a server cutting pages at 50 rows: the plan expects 5 requests a
    procedure (what the group crawl took), each takes 11 (the metrics answers in 4
    pages), so only the hard stop keeps the budget."""
    store = RawStore(tmp_path_factory.mktemp("procedure-data") / "raw")
    with serve(procedure_replay) as server:
        client = LivePortalClient(server.url, pause_s=0, max_attempts=2, backoff_s=0.01)
        crawl_catalogue(client, store, datetime.now(UTC), page_size=10)
        crawl_month(client, store, AUGUST, ("H44",))
        client.close()
    with serve(procedure_replay, max_page_size=50) as server:
        client = LivePortalClient(server.url, pause_s=0, max_attempts=2, backoff_s=0.01)
        try:
            first = crawl_procedures(client, store, ["H44"], [AUGUST], budget=43)
            asked_first = server.requests_per_path(per_procedure=True)
            again = crawl_procedures(client, store, ["H44"], [AUGUST], budget=43)
            total = len(server.requests)
        finally:
            client.close()
    return store, first, again, asked_first, total


def test_the_budget_is_never_exceeded_counted_at_the_server(crawled):
    store, first, again, asked_first, total = crawled
    assert set(asked_first) == FILTERED_PATHS  # the five groups, never MDHL
    assert sum(asked_first.values()) == 43 == first.requests
    assert first.stopped_by_budget
    # planned: 43 // 5 = 8 procedures; 43 requests paid for three of 11 requests and
    # part of a fourth, left out
    assert len(first.planned) == 8 and len(first.crawled) == 3
    # the same night, the budget is spent: nothing more is asked
    assert again.spent_before == 43 and again.requests == 0 and total == 43


def test_each_procedure_answer_is_kept_raw_with_its_procedure_id(crawled):
    store, first, *_ = crawled
    [(_path, manifest)] = procedure_sessions(store, AUGUST)
    assert manifest["source"] == "procedures" and manifest["requests"] == 43
    crawled_ids = {p["procedure_id"] for p in manifest["procedures"] if p["complete"]}
    # applied by the province's units, least recently captured (never) then by code
    assert [p.code for p in first.planned[:3]] == ["1.000016", "1.000025", "1.000028"]
    assert len(manifest["captures"]) == 3 * 11
    for capture in manifest["captures"]:
        assert capture["formality_id"] in crawled_ids
        assert capture["endpoint"] in {GROUP_ENDPOINTS[g].name for g in PROCEDURE_GROUPS}
        assert capture["province_id"] == PHU_THO and capture["month"] == "2026-08"
        assert store.read_verified(capture)  # the bytes, sha256 checked
        assert f"formality-{capture['formality_id']}" in capture["path"]
    # the unfinished fourth procedure's answers are kept raw, but not as captures
    assert manifest["incomplete_captures"]
    assert all(c["formality_id"] not in crawled_ids for c in manifest["incomplete_captures"])
    # the month's group crawl still has exactly one manifest: its logic never sees these
    assert len(complete_sessions(store, AUGUST)) == 1
    assert (store.root / PROCEDURE_SESSIONS / "catalogue").is_dir()


def test_the_real_procedure_answers_are_served_byte_for_byte(procedure_replay):
    with serve(procedure_replay) as server:
        client = LivePortalClient(server.url, pause_s=0, max_attempts=1)
        for group in PROCEDURE_GROUPS:
            endpoint = GROUP_ENDPOINTS[group]
            [page] = client.fetch(endpoint, AUGUST, province_id=PHU_THO,
                                  formality_id=REAL["id"])
            sample = SAMPLES / endpoint.name / "month-formality.json"
            assert page.response.body == sample.read_bytes(), endpoint.name
        client.close()
        asked = [r.payload for r in server.requests]
    assert [("formalityID" in a, "formalityId" in a) for a in asked] == [
        (False, True)] * 4 + [(True, False)]


def test_the_run_says_what_share_of_the_provinces_dossiers_it_covered(crawled):
    store, first, *_ = crawled
    cov = first.coverage["2026-08"]["H44"]
    [(_path, manifest)] = procedure_sessions(store, AUGUST)
    received = {p["procedure_id"]: p["dossiers"] for p in manifest["procedures"]
                if p["complete"]}
    for capture in manifest["captures"]:  # each figure is its kept TDGQ answer's
        if capture["endpoint"] == "dvc-progress-tree":
            parent = json.loads(store.read_verified(capture))["data"]["parent"]
            assert received[capture["formality_id"]] == parent["totalReceived"]
    assert cov.province_received == 184513
    assert cov.covered_received == sum(received.values())
    assert cov.share == round(sum(received.values()) / 184513, 4)
    assert 0 < cov.share <= 1
    assert manifest["coverage"]["H44"]["procedure_coverage"] == cov.share


def test_procedure_answers_sum_to_no_more_than_the_province(procedure_replay):
    """The generated answers: each procedure's units sum to its parent, and the
    procedures' received sum to no more than the province's."""
    base = procedure_replay / "dvc-progress-tree" / "2026-08" / PHU_THO
    province = json.loads((base / "page-1.json").read_bytes())["data"]["parent"]
    total = 0
    for path in base.glob("formality-*/page-1.json"):
        data = json.loads(path.read_bytes())["data"]
        assert sum(c["totalReceived"] for c in data["children"]) == \
            data["parent"]["totalReceived"]
        total += data["parent"]["totalReceived"]
    assert len(list(base.glob("formality-*"))) == 24
    assert 44583 < total <= province["totalReceived"]


# --- Dagster ----------------------------------------------------------------------------

def test_the_procedure_jobs_crawl_the_catalogue_weekly_and_the_procedures_within_budget(
        procedure_replay, tmp_path):
    with serve(procedure_replay) as server:
        pipeline = Pipeline(tmp_path / "data", server.url,
                            extra_env={"CHISO_FOCUS_PROVINCE": "H44", "CHISO_PROVINCES": "H44",
                                       "CHISO_PROCEDURE_BUDGET": "20"})
        # the night's group refresh first (the procedure assets are not in it)
        months = pipeline.defs.resolve_job_def("refresh_months")
        first = months.execute_in_process(partition_key=AUGUST.isoformat(),
                                          instance=pipeline.instance)
        assert first.success
        assert not first.asset_materializations_for_node("marts__procedure_monthly")
        catalogue = pipeline.defs.resolve_job_def("refresh_procedure_catalogue")
        assert catalogue.execute_in_process(instance=pipeline.instance).success
        asked = len(server.requests)
        # a week has not passed: the second run asks nothing
        result = catalogue.execute_in_process(instance=pipeline.instance)
        assert result.success and len(server.requests) == asked
        procedures = pipeline.defs.resolve_job_def("refresh_procedures")
        result = procedures.execute_in_process(partition_key=AUGUST.isoformat(),
                                               instance=pipeline.instance)
        assert result.success
        filtered = server.requests_per_path(per_procedure=True)
        again = procedures.execute_in_process(partition_key=AUGUST.isoformat(),
                                              instance=pipeline.instance)
    assert sum(filtered.values()) == 20  # one page each here: four procedures of five
    [event] = result.asset_materializations_for_node("raw__procedure_captures")
    meta = {k: v.value for k, v in event.metadata.items()}
    assert meta["budget_used"] == 20 and meta["procedures_crawled"] == 4
    assert 0.24 < meta["procedure_coverage"] <= 1
    with duckdb.connect(str(pipeline.settings.warehouse_path), read_only=True) as con:
        rows = con.execute("SELECT count(*), count(*) FILTER (WHERE code = '2.000815') "
                           "FROM ref.procedures").fetchone()
    assert rows == (24, 1)
    # then staged by the engine, the procedure marts rebuilt and the copy published
    with duckdb.connect(str(pipeline.settings.published_path), read_only=True) as con:
        procedures = con.execute("""
            SELECT count(DISTINCT procedure_id) FILTER (WHERE method = 'pooled'),
                   count(*) FILTER (WHERE method = 'remainder') > 0
            FROM marts.procedure_monthly WHERE month = ?""", [AUGUST]).fetchone()
        units = con.execute("SELECT count(*) FROM marts.unit_procedure_points_lost "
                            "WHERE month = ?", [AUGUST]).fetchone()[0]
    assert procedures == (4, True) and units > 0
    # a second run the same night (nothing left in the budget, nothing new): the month
    # still has its per-procedure rows, so the procedure marts are rebuilt on the
    # province's figures of the day
    assert again.success
    assert again.asset_materializations_for_node("marts__procedure_monthly")


def test_the_procedure_assets_run_in_their_own_jobs_not_in_the_group_refresh():
    from pipelines.definitions import defs

    def keys(job: str) -> set[str]:
        layer = defs.resolve_job_def(job).asset_layer
        return {k.to_user_string() for k in layer.executable_asset_keys}

    # the crawls, the procedure tables and marts run in their own jobs
    assert not {k for k in keys("refresh_months") if "procedure" in k}
    assert keys("refresh_procedures") == {
        "raw/procedure_captures", "staging/procedure_group_scores",
        "staging/procedure_unit_metrics", "staging/procedure_unit_parameters",
        "marts/procedure_monthly", "marts/unit_procedure_points_lost", "ref/reference_tables",
        "publish/analyst_copy", "report/scorecard"}
    assert keys("refresh_procedure_catalogue") == {"raw/procedure_catalogue", "ref/procedures"}
    tags = defs.resolve_schedule_def("nightly_procedures").evaluate_tick(
        dg.build_schedule_context(scheduled_execution_time=datetime(
            2026, 9, 2, 3, 30, tzinfo=VIETNAM))).run_requests[0].tags
    assert (tags["dagster/asset_partition_range_start"],
            tags["dagster/asset_partition_range_end"]) == ("2026-08-01", "2026-09-01")


def test_the_focus_province_may_be_a_list_and_the_budget_a_number():
    from assets.settings import load_settings

    s = load_settings({"CHISO_FOCUS_PROVINCE": " h60, H44,", "CHISO_PROCEDURE_BUDGET": "120"})
    assert (s.focus_province, s.focus_provinces, s.procedure_budget) == ("H60", ("H60", "H44"),
                                                                         120)
    s = load_settings({})
    assert (s.focus_provinces, s.procedure_budget) == (("H60",), 300)
    with pytest.raises(ValueError, match="CHISO_PROCEDURE_BUDGET=-1"):
        load_settings({"CHISO_PROCEDURE_BUDGET": "-1"})


def test_without_a_catalogue_or_a_group_crawl_nothing_is_asked_and_the_run_says_why(
        procedure_replay, tmp_path):
    from assets.sources.portal import ReplayPortalClient

    store = RawStore(tmp_path / "raw")
    client = ReplayPortalClient(procedure_replay)
    run = crawl_procedures(client, store, ["H44"], [AUGUST], budget=300)
    assert run.requests == 0 and run.notes == [
        "no procedure catalogue yet: run refresh_procedure_catalogue first"]
    crawl_catalogue(client, store, datetime.now(UTC))  # 24 procedures: one page of 100
    run = crawl_procedures(client, store, ["H44"], [AUGUST], budget=300)
    assert run.requests == 0 and not run.planned
    assert "2026-08 H44: no complete group crawl" in run.notes[0]


def test_a_bad_catalogue_page_fails_the_crawl_named_kept_raw_and_the_last_one_stays(
        procedure_replay, tmp_path):
    from assets.raw.procedure_crawl import catalogue_sessions, latest_catalogue
    from tools.portal_server import Fault

    def break_code(doc):
        doc["data"]["items"][2]["code"] = 1000025

    store = RawStore(tmp_path / "raw")
    with serve(procedure_replay) as server:
        client = LivePortalClient(server.url, pause_s=0, max_attempts=1)
        good = crawl_catalogue(client, store, datetime.now(UTC), page_size=10)
        server.add_fault(Fault("mutate", endpoint="formalities", page=2, mutate=break_code))
        with pytest.raises(CatalogueError) as err:
            crawl_catalogue(client, store, datetime.now(UTC), page_size=10)
        client.close()
    assert ", page 2, field data.items[2].code: Expected `str`, got `int`" in str(err.value)
    failed = sorted((store.root / PROCEDURE_SESSIONS / "catalogue").glob("*.json"))[-1]
    manifest = json.loads(failed.read_text("utf-8"))
    assert manifest["status"] == "failed" and "page 2" in manifest["error"]
    assert json.loads(store.read_verified(manifest["captures"][1]))["data"]["items"][2][
        "code"] == 1000025  # the bad page is kept as received
    assert [p for p, _m in catalogue_sessions(store)] == [good.manifest_path]
    assert latest_catalogue(store)[1].height == 24
