"""The raw layer keeps bytes exactly; staging parses them into typed rows without guessing."""

import hashlib
import json
from datetime import UTC, date, datetime

import pytest
from conftest import AUGUST, PHU_THO, SAMPLES

from assets.raw.store import CaptureSession, RawStore, latest_complete_session
from assets.sources.endpoints import GROUP_ENDPOINTS, month_payload, safe_segment
from assets.sources.portal import PortalResponse
from assets.staging.parse import Rows, StagingError, parse_capture


def response(group: str, body: bytes, when: datetime) -> PortalResponse:
    ep = GROUP_ENDPOINTS[group]
    return PortalResponse(ep, "replay:x", month_payload(ep, AUGUST, province_id=PHU_THO), 201,
                          "application/json; charset=utf-8", body, when)


def test_a_capture_is_kept_byte_for_byte_and_never_written_twice(tmp_path):
    body = (SAMPLES / "transparency" / "month-all.json").read_bytes()
    store = RawStore(tmp_path)
    first = CaptureSession(store, AUGUST, "test")
    a = first.keep(response("CKMB", body, datetime(2026, 9, 1, tzinfo=UTC)),
                   province_code="H44", province_id=PHU_THO).capture
    first.finish("complete")
    second = CaptureSession(store, AUGUST, "test")
    b = second.keep(response("CKMB", body, datetime(2026, 9, 2, tzinfo=UTC)),
                    province_code="H44", province_id=PHU_THO).capture
    second.finish("complete")

    assert (tmp_path / a.path).read_bytes() == body
    assert a.sha256 == hashlib.sha256(body).hexdigest() and a.bytes == len(body)
    assert "transparency/2026-08/H44/20260901T" in a.path  # endpoint, period, province, time
    assert b.reused and b.path == a.path and b.captured_at != a.captured_at
    meta = json.loads((tmp_path / (a.path + ".meta.json")).read_text())
    assert meta["payload"]["rootDepartmentId"] == PHU_THO and meta["http_status"] == 201
    _, manifest = latest_complete_session(store, AUGUST)
    assert manifest["captures"][0]["captured_at"] == b.captured_at


def test_changed_bytes_get_a_new_file_and_tampering_is_detected(tmp_path):
    body = (SAMPLES / "transparency" / "month-all.json").read_bytes()
    store = RawStore(tmp_path)
    s = CaptureSession(store, AUGUST, "test")
    a = s.keep(response("CKMB", body, datetime(2026, 9, 1, tzinfo=UTC)), province_code="H44",
               province_id=PHU_THO).capture
    b = s.keep(response("CKMB", body + b" ", datetime(2026, 9, 2, tzinfo=UTC)),
               province_code="H44", province_id=PHU_THO).capture
    assert a.path != b.path and not b.reused
    (tmp_path / a.path).chmod(0o644)
    (tmp_path / a.path).write_bytes(body.replace(b"7.96", b"9.96"))
    with pytest.raises(ValueError, match="no longer matches its sha256"):
        store.read_verified({"path": a.path, "sha256": a.sha256})


def test_a_failed_crawl_is_not_what_staging_reads(tmp_path):
    store = RawStore(tmp_path)
    CaptureSession(store, AUGUST, "test").finish("complete")
    CaptureSession(store, AUGUST, "test").finish("failed", "HTTP 503")
    _, manifest = latest_complete_session(store, AUGUST)
    assert manifest["status"] == "complete"


def test_portal_values_never_become_unsafe_paths():
    for name in ("../../x", "a/b", "x\x00y", "..", ""):
        seg = safe_segment(name)
        assert "/" not in seg and "\x00" not in seg and seg not in ("", ".", "..")


def capture_of(group: str, body: bytes) -> dict:
    return {"endpoint": GROUP_ENDPOINTS[group].name, "path": "x.json",
            "province_id": PHU_THO, "province_code": "H44", "page": 1,
            "captured_at": "2026-09-26T11:20:53+00:00", "http_status": 201,
            "sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body), "origin": {}}


def parse(group: str, body: bytes) -> dict[str, list[dict]]:
    rows = Rows()
    parse_capture(capture_of(group, body), body, rows, date(2026, 8, 1))
    return {t: f.to_dicts() for t, f in rows.frames().items()}


def test_nulls_stay_null_and_flags_are_kept():
    rows = parse("CKMB", (SAMPLES / "transparency" / "month-all.json").read_bytes())
    province = [r for r in rows["unit_metrics"] if r["is_province"]]
    by_code = {r["metric_code"]: r for r in province}
    assert by_code["PUBLISH_ON_TIME"]["score"] is None
    assert by_code["PUBLISH_ON_TIME"]["ratio"] is None
    assert by_code["PUBLISH_ON_TIME"]["denominator"] == 0
    assert by_code["DOSSIER_SYNC"]["data_quality_status"] == "TEMP_NATIONAL_REPORT_DENOMINATOR"
    assert len(rows["unit_group_scores"]) == 164  # the province and its 163 units
    assert rows["captures"][0]["declared_total"] == 163


def test_tree_responses_keep_every_raw_parameter():
    rows = parse("TDGQ", (SAMPLES / "dvc-progress-tree" / "month-all.json").read_bytes())
    params = {(r["unit_id"], r["parameter"]): r["value"] for r in rows["unit_parameters"]}
    assert params[(PHU_THO, "totalReceived")] == 184513
    assert params[(PHU_THO, "totalOnTime")] == 144625
    assert rows["captures"][0]["declared_total"] is None  # trees are not paginated


@pytest.mark.parametrize("value,expected", [("87", "got str '87'"), (True, "got bool"),
                                            (None, "null where a number is required")])
def test_a_wrong_type_names_file_period_unit_and_field(value, expected):
    doc = json.loads((SAMPLES / "transparency" / "month-all.json").read_bytes())
    unit = doc["data"]["evaluation"][2]
    key = "maxScore" if value is None else "numerator"
    unit["metrics"][1][key] = value
    with pytest.raises(StagingError) as err:
        parse("CKMB", json.dumps(doc).encode())
    msg = str(err.value)
    assert expected in msg and "x.json" in msg and "2026-08" in msg
    assert unit["departmentName"] in msg and f"field {key}" in msg


# A tree row's keys that are not raw parameters, as docs/portal.md lists them.
TREE_UNIT_KEYS = {"departmentId", "departmentName", "departmentCode", "departmentType",
                  "departmentLevel", "level", "ratio", "score", "totalScore", "maxScore",
                  "totalMaxScore", "scoreDelta"}


@pytest.mark.parametrize("group", sorted(GROUP_ENDPOINTS))
def test_every_value_of_a_real_answer_is_staged_as_the_portal_sent_it(group):
    """The real answer read by hand (json, no reader of ours): each unit's score, each
    metric's counts, ratio, score and flag, each tree parameter, in the answer's order."""
    endpoint = GROUP_ENDPOINTS[group]
    body = (SAMPLES / endpoint.name / "month-all.json").read_bytes()
    data = json.loads(body)["data"]
    rows = parse(group, body)
    tree = endpoint.shape == "tree"
    units = [data["parent"], *data["children"]] if tree else [data["overview"],
                                                              *data["evaluation"]]

    def score(u, *keys):
        return next(u[k] for k in keys if k in u)

    assert [(r["unit_id"], r["is_province"], r["score"], r["max_score"], r["ratio"],
             r["score_delta"], r["unit_name"]) for r in rows["unit_group_scores"]] == [
        (u["departmentId"], i == 0, score(u, "totalScore", "score"),
         score(u, "totalMaxScore", "maxScore"), u.get("ratio"), u.get("scoreDelta"),
         u.get("departmentName") or None) for i, u in enumerate(units)]
    assert [(r["unit_id"], r["metric_code"], r["numerator"], r["denominator"], r["ratio"],
             r["score"], r["max_score"], r["data_quality_status"])
            for r in rows["unit_metrics"]] == [
        (u["departmentId"], m["code"], m.get("numerator"), m.get("denominator"),
         m.get("ratio"), m.get("score"), m["maxScore"], m.get("dataQualityStatus"))
        for u in units if not tree for m in u["metrics"]]
    assert [(r["unit_id"], r["parameter"], r["value"]) for r in rows["unit_parameters"]] == [
        (u["departmentId"], k, v) for u in units if tree for k, v in u.items()
        if k not in TREE_UNIT_KEYS]
    assert rows["captures"][0]["rows_in_page"] == len(units) - 1
    assert rows["unit_metrics"] or rows["unit_parameters"]


@pytest.mark.parametrize(("where", "raw", "says"), [
    ("numerator", b"NaN", "not a finite number: NaN"),
    ("numerator", b"-Infinity", "not a finite number: -Infinity"),
    ("numerator", b"1e400", "not a finite number"),
    ("code", b'""', "field missing or empty"),
    ("maxScore", b"[1]", "expected a JSON number, got list"),
])
def test_numbers_that_are_not_numbers_and_empty_keys_name_unit_and_field(where, raw, says):
    doc = json.loads((SAMPLES / "transparency" / "month-all.json").read_bytes())
    unit = doc["data"]["evaluation"][5]
    unit["metrics"][0][where] = "@HERE@"
    body = json.dumps(doc).encode().replace(b'"@HERE@"', raw)
    with pytest.raises(StagingError) as err:
        parse("CKMB", body)
    assert says in str(err.value) and err.value.field_name == where
    assert unit["departmentName"] in err.value.unit and unit["departmentId"] in err.value.unit


def test_a_tree_parameter_sent_as_text_names_it():
    doc = json.loads((SAMPLES / "dvc-progress-tree" / "month-all.json").read_bytes())
    child = doc["data"]["children"][7]
    child["totalReceived"] = "12"
    with pytest.raises(StagingError) as err:
        parse("TDGQ", json.dumps(doc).encode())
    assert err.value.field_name == "totalReceived" and "got str '12'" in str(err.value)
    assert child["departmentName"] in err.value.unit
