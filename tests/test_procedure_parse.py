"""Per-procedure answers parsed: the real ones staged whole, a bad one refused with file,
period, unit and field named, nothing written and the previous rows kept."""

import json

import duckdb
import pytest
from conftest import AUGUST, PHU_THO, SAMPLES
from procedure_samples import PROCEDURE_ID, keep_samples

from assets.staging.engine import StageFailure
from assets.staging.parse import StagingError
from assets.staging.procedure_load import load_procedure_captures, procedure_captures
from assets.staging.procedures import SCHEMAS, parse_procedure_capture

ENDPOINTS = ("transparency", "dvc-progress-tree", "provide-online-tree",
             "formality-online-payment-tree", "dossier-digitized")


def capture(endpoint: str, path: str = "x.json") -> dict:
    return {"endpoint": endpoint, "formality_id": PROCEDURE_ID, "province_id": PHU_THO,
            "province_code": "H44", "captured_at": "2026-09-26T11:21:00+00:00",
            "sha256": "0" * 64, "path": path, "page": 1}


def sample(endpoint: str) -> bytes:
    return (SAMPLES / endpoint / "month-formality.json").read_bytes()


def parse(endpoint: str, body: bytes | None = None) -> dict:
    return parse_procedure_capture(capture(endpoint), sample(endpoint) if body is None
                                   else body, AUGUST)


def test_every_real_answer_is_staged_with_its_procedure_and_163_units():
    for endpoint in ENDPOINTS:
        frames = parse(endpoint)
        scores = frames["procedure_group_scores"]
        assert scores.schema == SCHEMAS["procedure_group_scores"]
        assert scores.height == 164 and scores["is_province"].sum() == 1
        assert set(scores["procedure_id"]) == {PROCEDURE_ID}
    tdgq = parse("dvc-progress-tree")["procedure_unit_parameters"]
    parent = dict(tdgq.filter("is_province").select("parameter", "value").iter_rows())
    assert parent["totalReceived"] == 44583 and parent["totalOnTime"] == 42318
    # children sum to the procedure's own counts
    assert tdgq.filter(~tdgq["is_province"] & (tdgq["parameter"] == "totalReceived")
                       )["value"].sum() == 44583


def test_dossier_digitized_without_one_metric_is_a_variant_not_an_error():
    frames = parse("dossier-digitized")
    province = frames["procedure_group_scores"].filter("is_province").row(0, named=True)
    assert (province["score"], province["max_score"]) == (7.68, 20)
    codes = set(frames["procedure_unit_metrics"]["metric_code"])
    assert "CITIZEN_DATA_CONNECTED_FORMALITY" not in codes and len(codes) == 6


def _tampered(endpoint: str, edit) -> bytes:
    doc = json.loads(sample(endpoint))
    edit(doc["data"])
    return json.dumps(doc, ensure_ascii=False).encode()


@pytest.mark.parametrize(("endpoint", "edit", "unit", "field"), [
    ("dvc-progress-tree", lambda d: d["children"][3].update(totalOnTime="12"),
     "children", "totalOnTime"),
    ("dvc-progress-tree", lambda d: d["children"][5].update(totalReceived=True),
     "children", "totalReceived"),
    ("dossier-digitized", lambda d: d["evaluation"][2]["metrics"][1].update(numerator="7"),
     "evaluation", "numerator"),
    ("transparency", lambda d: d["evaluation"][4].pop("departmentId"),
     "evaluation", "departmentId"),
    ("provide-online-tree", lambda d: d["parent"].pop("totalScore"), "parent",
     "totalScore | score"),
])
def test_a_wrong_value_names_file_period_unit_and_field(endpoint, edit, unit, field):
    body = _tampered(endpoint, edit)
    with pytest.raises(StagingError) as raised:
        parse_procedure_capture(capture(endpoint, "dvc/2026-08/H44/x.json"), body, AUGUST)
    err = raised.value
    assert (err.file, err.month, err.field_name) == ("dvc/2026-08/H44/x.json", "2026-08", field)
    row = json.loads(body)["data"]
    row = row[unit] if unit == "parent" else row[unit][
        {"children": 3 if field == "totalOnTime" else 5, "evaluation": 2 if field ==
         "numerator" else 4}[unit]]
    if "departmentId" in row:
        assert row["departmentId"] in err.unit and row["departmentName"] in err.unit
    assert PROCEDURE_ID in str(err)


@pytest.mark.parametrize(("body", "field"), [
    (b"<html>Bao tri he thong</html>", "(body)"),
    (b'{"code": "OK", "data": null, "message": null}', "data"),
])
def test_an_answer_that_is_not_data_is_refused(body, field):
    with pytest.raises(StagingError) as raised:
        parse_procedure_capture(capture("dossier-digitized", "dd/x.json"), body, AUGUST)
    assert (raised.value.file, raised.value.unit, raised.value.field_name) == (
        "dd/x.json", "(response)", field)


def test_a_capture_without_its_procedure_id_is_refused():
    with pytest.raises(StagingError, match="formality_id"):
        parse_procedure_capture({**capture("dvc-progress-tree"), "formality_id": None},
                                sample("dvc-progress-tree"), AUGUST)


def test_a_bad_answer_writes_nothing_and_keeps_the_previous_rows(tmp_path):
    good = keep_samples(tmp_path / "good")
    assert {c["endpoint"] for c in procedure_captures(good, AUGUST)} == set(ENDPOINTS)
    bad = keep_samples(tmp_path / "bad", {"dossier-digitized": _tampered(
        "dossier-digitized", lambda d: d["overview"].update(totalScore="7,68"))})
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        counts = load_procedure_captures(con, good, [AUGUST])
        assert counts["staging.procedure_group_scores"] == 5 * 164
        with pytest.raises(StageFailure) as raised:
            load_procedure_captures(con, bad, [AUGUST])
        assert raised.value.where["field"] == "totalScore"
        assert raised.value.where["period"] == "2026-08"
        assert "dossier-digitized" in raised.value.where["raw_file"]
        assert "Phú Thọ" in raised.value.where["unit"]
        audit = con.execute("SELECT suite, success, columns FROM audit.validation_results "
                            "WHERE NOT success").fetchall()
        assert audit == [("parse", False, "totalScore")]
        kept = con.execute("SELECT count(*), count(DISTINCT raw_sha256) "
                           "FROM staging.procedure_group_scores").fetchone()
    assert kept == (5 * 164, 5)


def test_the_procedure_crawls_manifests_are_read_and_the_catalogue_names_the_procedure(
        tmp_path):
    store = keep_samples(tmp_path / "raw", procedure_crawl=True)
    named = "SELECT DISTINCT procedure_code, procedure_name FROM staging.procedure_group_scores"
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        load_procedure_captures(con, store, [AUGUST])
        assert con.execute(named).fetchall() == [("2.000815", None)]  # the crawl's manifest
        # ref.procedures as the weekly catalogue leaves it (ref/procedures writes it)
        con.execute("INSERT INTO ref.procedures (procedure_id, code, name) VALUES "
                    "(?, '2.000815', 'Chứng thực bản sao từ bản chính')", [PROCEDURE_ID])
        counts = load_procedure_captures(con, store, [AUGUST])
        assert counts["staging.procedure_group_scores"] == 5 * 164
        assert con.execute(named).fetchall() == [("2.000815", "Chứng thực bản sao từ bản chính")]
