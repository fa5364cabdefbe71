"""No green run on broken data (issue 11, item 4): counts that must hold together block.

One pipeline for the module: July and August 2026 are staged and published from the
local portal server (Phú Thọ's real 08/2026 captures and the synthetic July). Then the
server answers August from an edited copy of the replay directory, and each broken
answer must fail the staging step before the write, name file, period, unit and field,
load nothing and leave the published copy as it was, with the failure in the audit.
"""

import json
import shutil

import dagster as dg
import pytest
from conftest import AUGUST, PHU_THO, Pipeline
from test_bad_data import failure_text, snapshot

from assets.sources.endpoints import GROUP_ENDPOINTS, NATIONAL, month_payload, replay_relpath
from tools.portal_server import serve

JULY = AUGUST.replace(month=7)
TDGQ = GROUP_ENDPOINTS["TDGQ"]
TDGQ_FILE = "dvc-progress-tree/2026-08/H44/"


@pytest.fixture(scope="module")
def published(tmp_path_factory, replay_dir):
    """A pipeline whose July and August passed, and what it published."""
    with serve(replay_dir) as server:
        p = Pipeline(tmp_path_factory.mktemp("blocking") / "data", server.url)
        assert p.run(JULY, AUGUST).success
    return p, snapshot(p), p.settings.published_path.stat().st_mtime_ns


def edited_copy(replay_dir, tmp_path, endpoint, edit, province_id=PHU_THO):
    """A copy of the replay directory with one of August's answers edited."""
    bad = tmp_path / "bad-replay"
    shutil.copytree(replay_dir, bad)
    payload = (month_payload(endpoint, AUGUST, province_id=province_id) if province_id
               else month_payload(endpoint, AUGUST))
    path = bad / replay_relpath(endpoint, payload)
    doc = json.loads(path.read_bytes())
    edit(doc["data"])
    path.write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    return bad


def run_august(p: Pipeline, replay: str, staging_config: dict | None = None):
    """August fetched again (it is closed) from ``replay`` over HTTP, then staged."""
    with serve(replay) as server:
        p.configure(server.url)
        job = p.defs.resolve_job_def("refresh_months")
        config = {"ops": {"raw__portal_captures": {"config": {"force": True}},
                          "staging_tables": {"config": {"force": True,
                                                        **(staging_config or {})}}}}
        return job.execute_in_process(partition_key=AUGUST.isoformat(), instance=p.instance,
                                      run_config=config, raise_on_error=False)


def assert_nothing_loaded(p: Pipeline, result, before: dict, mtime: int) -> str:
    assert not result.success
    steps = {e.step_key: e.event_type_value for e in result.all_events
             if e.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE")}
    assert steps["staging_tables"] == "STEP_FAILURE"
    assert "publish__analyst_copy" not in steps
    assert p.settings.published_path.stat().st_mtime_ns == mtime
    assert snapshot(p) == before  # August's and July's rows as they were
    with p.warehouse() as con:
        staged = dict(con.execute("SELECT month, count(*) FROM staging.unit_group_scores "
                                  "GROUP BY ALL").fetchall())
    assert set(staged) == {JULY, AUGUST}
    return failure_text(result)


def failed_suites(p: Pipeline, result) -> set[str]:
    with p.warehouse() as con:
        return {r[0] for r in con.execute(
            "SELECT suite FROM audit.validation_results WHERE run_id = ? AND NOT success",
            [result.run_id]).fetchall()}


def test_a_tree_endpoint_without_its_units_is_blocked(published, replay_dir, tmp_path):
    p, before, mtime = published

    def no_children(data):
        data["children"] = []

    result = run_august(p, str(edited_copy(replay_dir, tmp_path, TDGQ, no_children)))
    text = assert_nothing_loaded(p, result, before, mtime)
    assert "units_add_up_to_province" in text and "unit_count_kept" in text
    assert TDGQ_FILE in text and "month 2026-08-01" in text  # file and period
    assert "UBND tỉnh Phú Thọ" in text and "TDGQ" in text
    assert "field province_value = 184513" in text and "units_sum" in text  # the field
    assert "field unit_share = 0.0" in text and "previous_units 163" in text
    assert failed_suites(p, result) == {"units_add_up_to_province", "unit_count_kept"}
    # the broken answer is kept raw
    kept = [f for f in (p.settings.raw_dir / "dvc-progress-tree" / "2026-08" / "H44")
            .glob("*.json") if not f.name.endswith(".meta.json")]
    assert any(json.loads(f.read_bytes())["data"]["children"] == [] for f in kept)


def test_a_summary_row_not_of_the_era_and_counts_out_of_order_are_blocked(
        published, replay_dir, tmp_path):
    p, before, mtime = published
    bad = tmp_path / "bad"
    bad.mkdir()

    def strangers(data):
        rows = [r for r in data["evaluation"] if r["departmentId"] != PHU_THO]
        rows[0]["departmentCode"] = "../../etc"  # a known id with a code not its own
        rows[1]["departmentId"] = "00000000-0000-0000-0000-0000000000aa"  # no such province

    def on_time_above_received(data):
        unit = next(c for c in data["children"] if c["totalReceived"] > 100)
        extra = unit["totalReceived"] + 7 - unit["totalOnTime"]
        unit["totalOnTime"] += extra
        data["parent"]["totalOnTime"] += extra  # the province's sum still holds

    first = edited_copy(replay_dir, bad, NATIONAL, strangers, province_id=None)
    both = edited_copy(first, tmp_path, TDGQ, on_time_above_received)
    result = run_august(p, str(both))
    text = assert_nothing_loaded(p, result, before, mtime)
    assert failed_suites(p, result) == {"provinces_of_the_era", "counts_in_order"}
    assert "service-results/2026-08/" in text and "month 2026-08-01" in text
    assert "../../etc" in text and "field province_code = ../../etc" in text
    assert "34:00000000-0000-0000-0000-0000000000aa" in text  # the unknown id, by era
    assert "totalOnTime ≤ totalReceived" in text and TDGQ_FILE in text
    assert "field whole =" in text and "field part =" in text


def test_units_that_collapse_are_blocked_unless_the_run_says_why(
        published, replay_dir, tmp_path):
    p, before, mtime = published

    def one_unit_left(data):  # every count moved onto one unit: the sums still hold
        keep = data["children"][1]
        for key in ("totalReceived", "totalOnTime", "totalOverdue"):
            keep[key] = sum(c.get(key) or 0 for c in data["children"])
        data["children"] = [keep]

    replay = str(edited_copy(replay_dir, tmp_path, TDGQ, one_unit_left))
    result = run_august(p, replay)
    text = assert_nothing_loaded(p, result, before, mtime)
    assert failed_suites(p, result) == {"unit_count_kept"}
    assert "units 1" in text and "previous_units 163" in text and TDGQ_FILE in text

    with pytest.raises(dg.DagsterInvalidConfigError):  # no such option on the crawl
        p.defs.resolve_job_def("refresh_months").execute_in_process(
            partition_key=AUGUST.isoformat(), instance=p.instance,
            run_config={"ops": {"raw__portal_captures": {"config": {"allow_unit_drop": True}}}})
    refused = run_august(p, replay, {"allow_unit_drop": True})  # a waiver needs a note
    assert not refused.success and "needs a note" in failure_text(refused)

    note = "Sáp nhập các xã theo Nghị quyết 1234/NQ-UBTVQH15"
    allowed = run_august(p, replay, {"allow_unit_drop": True, "note": note})
    assert allowed.success
    with p.warehouse() as con:
        units = con.execute("SELECT count(*) FROM staging.unit_group_scores WHERE month = ? "
                            "AND group_code = 'TDGQ' AND NOT is_province", [AUGUST]).fetchone()
        waiver = con.execute("SELECT expectation, examples FROM audit.validation_results "
                             "WHERE run_id = ? AND suite = 'unit_count_kept' AND NOT blocking",
                             [allowed.run_id]).fetchall()
    assert units == (1,)
    assert waiver == [("waived by run config allow_unit_drop", json.dumps(
        {"note": note}, ensure_ascii=False))]
