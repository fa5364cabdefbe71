"""Every real answer, with one optional field taken out at a time, still stages (NULL or
the documented fallback) and changes nothing but that field's column; a field present
with the wrong type, or a required one absent, stops the parse naming the file and the
field.

The list of fields is assets/staging/fields.py; the files are every real capture in
data/samples/portal/ (month, quarter, year; whole province and one procedure). The
national summary has no real capture: it is the generator's, in the full and the
minimal shape.
"""

import copy
import hashlib
import json
from functools import cache

import polars as pl
import pytest
from conftest import AUGUST, PHU_THO, PROJECT, SAMPLES

from assets.domain.catalogue import GROUP_CODES
from assets.domain.provinces import code_of_department
from assets.sources.endpoints import ENDPOINTS, NATIONAL
from assets.staging.fields import FIELDS, fields_of, render
from assets.staging.parse import Rows, StagingError, parse_capture
from tools.synthetic import load_provinces, national_summary

NATIONAL_FILE = "service-results/synthetic.json"


@cache
def _national(shape: str) -> bytes:
    refs = load_provinces()
    scores = {r["departmentCode"]: {g: round(1 + (i % 7) * 0.5 + k, 2)
                                    for k, g in enumerate(GROUP_CODES)}
              for i, r in enumerate(refs)}
    return json.dumps(national_summary(refs, scores, None, shape=shape)).encode()


def _sample_files() -> list[tuple[str, str]]:
    """(endpoint, file under data/samples/portal) for every real answer we parse."""
    manifest = json.loads((SAMPLES / "manifest.json").read_text("utf-8"))
    out = []
    for c in manifest["captures"]:
        name = c["url"].rsplit("/", 1)[-1]
        if name in ENDPOINTS:
            out.append((name, c["file"]))
    return sorted(out)


KEEP_ROWS = 4  # of each real answer's 163 units: same fields and types, a tenth of the time


@cache
def _body(file: str) -> bytes:
    """The answer with its overview/parent and its first KEEP_ROWS unit rows."""
    if file == NATIONAL_FILE:
        return _national("full")
    doc = json.loads((SAMPLES / file).read_bytes())
    for rows in ("evaluation", "children"):
        if rows in doc["data"]:
            doc["data"][rows] = doc["data"][rows][:KEEP_ROWS]
    return json.dumps(doc).encode()


def _capture(endpoint: str, file: str, body: bytes) -> dict:
    national = endpoint == NATIONAL.name
    return {"endpoint": endpoint, "path": file, "province_id": None if national else PHU_THO,
            "province_code": "national" if national else "H44", "page": 1,
            "captured_at": "2026-09-26T11:20:53+00:00", "http_status": 201,
            "sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body), "origin": {}}


def _stage(endpoint: str, file: str, body: bytes) -> dict[str, pl.DataFrame]:
    rows = Rows()
    parse_capture(_capture(endpoint, file, body), body, rows, AUGUST)
    return rows.frames()


def _objects(data: dict, where: str) -> list[dict]:
    """The objects at a field's location: 'evaluation[].metrics[]', 'overview', …"""
    if where == "data":
        return [data]
    objs: list = [data]
    for part in where.split("."):
        key, many = part.removesuffix("[]"), part.endswith("[]")
        nxt = []
        for o in objs:
            v = o.get(key) if isinstance(o, dict) else None
            if many and isinstance(v, list):
                nxt += v
            elif isinstance(v, dict):
                nxt.append(v)
        objs = nxt
    return [o for o in objs if isinstance(o, dict)]


def _shape(endpoint: str) -> str:
    return ENDPOINTS[endpoint].shape


def _files() -> list[tuple[str, str]]:
    return [*_sample_files(), (NATIONAL.name, NATIONAL_FILE)]


def _optional_cases() -> list:
    return list(_optional_params())


def _optional_params():
    for endpoint, file in _files():
        data = json.loads(_body(file))["data"]
        for f in fields_of(_shape(endpoint), required=False):
            if any(f.name in o for o in _objects(data, f.where)):
                yield pytest.param(endpoint, file, f, id=f"{file}:{f.where}.{f.name}")


def _column(frames: dict, f, data: dict) -> tuple[list, list]:
    """(staged values, expected values) of the field's column for the objects it was
    removed from."""
    if f.name == "pagination" or f.where == "pagination":
        return frames["captures"]["declared_total"].to_list(), [None]
    if f.shape == "national":
        if f.name == "overview":
            return [frames["national_average"].height], [0]
        if f.name == "groupScores":
            return [frames["national_average"][g.lower()][0] for g in GROUP_CODES], [None] * 6
        table = "national_average" if f.where.startswith("overview") else "national_summary"
        got = frames[table][f.column].to_list()
        if f.name == "departmentCode":
            return got, [code_of_department(r["departmentId"]) for r in data["evaluation"]]
        return got, [None] * len(got)
    province = f.where.split(".")[0] in ("overview", "parent")
    table = "unit_metrics" if f.where.endswith("metrics[]") else "unit_group_scores"
    got = frames[table].filter(pl.col("is_province") == province)[f.column].to_list()
    if f.column == "unit_level":  # departmentLevel, else level (and the other way round)
        other = "level" if f.name == "departmentLevel" else "departmentLevel"
        return got, [o.get(other) or None for o in _objects(data, f.where)]
    return got, [None] * len(got)


@pytest.mark.parametrize("endpoint,file,field", _optional_cases())
def test_an_optional_field_absent_stages_null_or_its_fallback(endpoint, file, field):
    doc = copy.deepcopy(json.loads(_body(file)))
    for obj in _objects(doc["data"], field.where):
        obj.pop(field.name, None)
    frames = _stage(endpoint, file, json.dumps(doc).encode())
    got, expected = _column(frames, field, doc["data"])
    assert got == expected
    whole = _stage(endpoint, file, _body(file))
    for table, frame in frames.items():  # every other column as the whole answer stages it
        if table in _touched(field) and "*" in _touched(field)[table]:
            continue
        keep = [c for c in frame.columns
                if c not in _touched(field).get(table, ()) and c not in ("raw_sha256", "bytes")]
        assert frame.select(keep).equals(whole[table].select(keep), null_equal=True), table
    if field.name not in ("overview", "evaluation"):  # the rows themselves are all there
        assert frames["captures"]["rows_in_page"].to_list() == [len(doc["data"].get(
            "evaluation", doc["data"].get("children", [])))]


def _touched(f) -> dict[str, tuple[str, ...]]:
    """The columns taking out this optional field may change ('*': the whole table)."""
    if f.name == "pagination" or f.where == "pagination":
        return {"captures": ("declared_total",)}
    if f.shape == "national":
        if f.name == "overview":
            return {"national_average": ("*",)}
        if f.name == "groupScores":
            return {"national_average": tuple(g.lower() for g in GROUP_CODES)}
        table = "national_average" if f.where.startswith("overview") else "national_summary"
        return {table: (f.column,)}
    if f.where.endswith("metrics[]"):
        return {"unit_metrics": (f.column,)}
    # a unit's columns are carried onto its metric and parameter rows
    return {t: (f.column,) for t in ("unit_group_scores", "unit_metrics", "unit_parameters")}


_WRONG = {"number": "12.5", "text": 12345, "object": [1, 2], "list": {"a": 1}}


def _one_file(shape: str) -> tuple[str, str]:
    return next((e, f) for e, f in _files() if _shape(e) == shape and "month-all" in f) \
        if shape != "national" else (NATIONAL.name, NATIONAL_FILE)


def _field_cases() -> list:
    return [pytest.param(*_one_file(f.shape), f, id=f"{f.shape}:{f.where}.{f.name}")
            for f in FIELDS]


def _keys(f, obj: dict) -> list[str]:
    """The field's key in this object ('totalScore | score': whichever the row has)."""
    names = [n.strip() for n in f.name.split("|")]
    return [n for n in names if n in obj] or names[:1]


def _fails_naming(endpoint: str, file: str, doc: dict, fields: list[str]) -> None:
    with pytest.raises(StagingError) as err:
        _stage(endpoint, file, json.dumps(doc).encode())
    assert err.value.field_name in fields
    assert err.value.file == file and file in str(err.value) and "2026-08" in str(err.value)


@pytest.mark.parametrize("endpoint,file,field", _field_cases())
def test_a_field_present_with_the_wrong_type_stops_the_parse(endpoint, file, field):
    doc = copy.deepcopy(json.loads(_body(file)))
    obj = _objects(doc["data"], field.where)[0]
    key = _keys(field, obj)[0]
    obj[key] = _WRONG[field.kind]
    _fails_naming(endpoint, file, doc, [key])


@pytest.mark.parametrize("endpoint,file,field",
                         [p for p in _field_cases() if p.values[2].required])
def test_a_required_field_absent_stops_the_parse(endpoint, file, field):
    doc = copy.deepcopy(json.loads(_body(file)))
    obj = _objects(doc["data"], field.where)[-1]
    for key in _keys(field, obj):
        obj.pop(key)
    _fails_naming(endpoint, file, doc, [n.strip() for n in field.name.split("|")])


def test_every_field_we_require_is_in_every_real_answer():
    """Required is derived from the samples: nothing required is ever missing from one."""
    for endpoint, file in _sample_files():
        data = json.loads((SAMPLES / file).read_bytes())["data"]
        for f in fields_of(_shape(endpoint), required=True):
            for obj in _objects(data, f.where):
                assert any(k in obj and obj[k] is not None for k in _keys(f, obj)), \
                    (file, f.where, f.name)


def test_the_minimal_national_summary_stages_codes_from_the_reference():
    frames = _stage(NATIONAL.name, NATIONAL_FILE, _national("minimal"))
    summary = frames["national_summary"]
    assert summary.height == 34 and summary["rank_reported"].null_count() == 34
    assert summary["province_code"].to_list() == [code_of_department(i) for i in
                                                  summary["province_id"]]
    average = frames["national_average"]
    assert average["label"].to_list() == ["Cả nước"] and average["total_score"][0] is not None
    assert all(average[g.lower()][0] is None for g in GROUP_CODES)
    assert frames["captures"]["declared_total"].to_list() == [None]


def test_an_unknown_province_id_without_a_code_stops_the_parse_naming_it():
    doc = json.loads(_national("minimal"))
    row = doc["data"]["evaluation"][3]
    row["departmentId"] = "00000000-not-a-province"
    with pytest.raises(StagingError) as err:
        _stage(NATIONAL.name, NATIONAL_FILE, json.dumps(doc).encode())
    msg = str(err.value)
    assert err.value.field_name == "departmentId"
    assert "00000000-not-a-province" in msg and row["departmentName"] in msg
    assert NATIONAL_FILE in msg and "data/reference/provinces.json" in msg


def test_the_field_table_in_docs_portal_md_is_current():
    text = (PROJECT / "docs" / "portal.md").read_text("utf-8")
    assert render() in text, "run: python -m assets.staging.fields, and paste it into " \
                             "docs/portal.md"
