"""Portal responses → typed rows. Pure functions: no Dagster, no database.

Nulls stay null (a zero denominator is not a zero score), data-quality flags are
kept, and every row carries its month, province, capture time and raw sha256.
A value of the wrong type stops the parse with the file, unit and field named.
"""

import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime

import polars as pl

from assets.domain.catalogue import GROUP_CODES
from assets.sources.endpoints import ENDPOINTS


class StagingError(ValueError):
    def __init__(self, file: str, month: str, unit: str, field_name: str, detail: str):
        self.file, self.month, self.unit, self.field_name = file, month, unit, field_name
        super().__init__(f"{detail}: file {file}, period {month}, unit {unit}, field {field_name}")


# Columns shared by every staged row: where it came from.
PROVENANCE = {
    "month": pl.Date, "province_id": pl.String, "province_code": pl.String,
    "captured_at": pl.Datetime("us", "UTC"), "raw_sha256": pl.String, "raw_path": pl.String,
    "is_synthetic": pl.Boolean,
}
UNIT = {"unit_id": pl.String, "unit_name": pl.String, "unit_code": pl.String,
        "unit_type": pl.String, "unit_level": pl.String, "is_province": pl.Boolean}

SCHEMAS: dict[str, dict] = {
    "captures": {**PROVENANCE, "endpoint": pl.String, "group_code": pl.String,
                 "page": pl.Int32, "http_status": pl.Int32, "bytes": pl.Int64,
                 "declared_total": pl.Int64, "rows_in_page": pl.Int64},
    "national_summary": {**PROVENANCE, "province_name": pl.String, "rank_reported": pl.Int32,
                         "total_score": pl.Float64, "ratio": pl.Float64,
                         "score_delta": pl.Float64,
                         **{g.lower(): pl.Float64 for g in GROUP_CODES}},
    "national_average": {"month": pl.Date, "captured_at": pl.Datetime("us", "UTC"),
                         "raw_sha256": pl.String, "raw_path": pl.String,
                         "is_synthetic": pl.Boolean, "label": pl.String,
                         "total_score": pl.Float64,
                         **{g.lower(): pl.Float64 for g in GROUP_CODES}},
    "unit_group_scores": {**PROVENANCE, **UNIT, "group_code": pl.String, "score": pl.Float64,
                          "max_score": pl.Float64, "ratio": pl.Float64,
                          "score_delta": pl.Float64},
    "unit_metrics": {**PROVENANCE, **UNIT, "group_code": pl.String, "metric_code": pl.String,
                     "metric_name": pl.String, "numerator": pl.Float64,
                     "denominator": pl.Float64, "ratio": pl.Float64, "score": pl.Float64,
                     "max_score": pl.Float64, "data_quality_status": pl.String,
                     "data_quality_message": pl.String},
    "unit_parameters": {**PROVENANCE, **UNIT, "group_code": pl.String, "parameter": pl.String,
                        "value": pl.Float64},
}

# Tree-row fields that are not raw parameters.
_TREE_NON_PARAMS = {"departmentId", "departmentName", "departmentCode", "level", "ratio",
                    "score", "totalScore", "maxScore", "totalMaxScore", "scoreDelta"}


@dataclass
class Rows:
    tables: dict[str, list[dict]] = field(default_factory=lambda: {t: [] for t in SCHEMAS})

    def frames(self) -> dict[str, pl.DataFrame]:
        return {t: pl.DataFrame(rows, schema=SCHEMAS[t], orient="row") if rows
                else pl.DataFrame(schema=SCHEMAS[t]) for t, rows in self.tables.items()}


class _Reader:
    """Typed access to one response, with errors that say where."""

    def __init__(self, file: str, month: date):
        self.file, self.month = file, month.isoformat()[:7]

    def fail(self, unit: str, field_name: str, detail: str) -> StagingError:
        return StagingError(self.file, self.month, unit, field_name, detail)

    def num(self, obj: dict, key: str, unit: str, required: bool = False) -> float | None:
        if key not in obj:
            if required:
                raise self.fail(unit, key, "field missing")
            return None
        v = obj[key]
        if v is None:
            if required:
                raise self.fail(unit, key, "null where a number is required")
            return None
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise self.fail(unit, key, f"expected a JSON number, got {type(v).__name__} {v!r}")
        if math.isnan(v) or math.isinf(v):
            raise self.fail(unit, key, f"not a finite number: {v!r}")
        return float(v)

    def text(self, obj: dict, key: str, unit: str, required: bool = True) -> str | None:
        v = obj.get(key)
        if v is None or v == "":
            if required:
                raise self.fail(unit, key, "field missing or empty")
            return None
        if not isinstance(v, str):
            raise self.fail(unit, key, f"expected text, got {type(v).__name__}")
        return v

    def items(self, obj: dict, key: str, unit: str) -> list:
        v = obj.get(key)
        if not isinstance(v, list):
            raise self.fail(unit, key, "expected a list")
        return v

    def obj(self, data: dict, key: str, unit: str) -> dict:
        v = data.get(key)
        if not isinstance(v, dict):
            raise self.fail(unit, key, "expected an object")
        return v


def parse_capture(capture: dict, body: bytes, rows: Rows, month: date,
                  province_code: str | None = None) -> None:
    """Add the rows of one kept response (one page) to ``rows``."""
    endpoint = ENDPOINTS[capture["endpoint"]]
    rd = _Reader(capture["path"], month)
    data = json.loads(body)["data"]
    prov = {
        "month": month, "province_id": capture.get("province_id"),
        "province_code": province_code or capture.get("province_code"),
        "captured_at": datetime.fromisoformat(capture["captured_at"]),
        "raw_sha256": capture["sha256"], "raw_path": capture["path"],
        "is_synthetic": bool((capture.get("origin") or {}).get("synthetic", False)),
    }
    pagination = data.get("pagination") if isinstance(data.get("pagination"), dict) else {}
    if endpoint.shape == "national":
        n = _parse_national(rd, data, prov, rows)
    elif endpoint.shape == "metrics":
        n = _parse_metrics(rd, data, prov, endpoint.group_code, rows,
                           include_overview=capture["page"] == 1)
    else:
        n = _parse_tree(rd, data, prov, endpoint.group_code, rows)
    rows.tables["captures"].append({
        **prov, "endpoint": endpoint.name, "group_code": endpoint.group_code,
        "page": capture["page"], "http_status": capture["http_status"],
        "bytes": capture["bytes"],
        "declared_total": rd.num(pagination, "total", "(pagination)") if pagination else None,
        "rows_in_page": n,
    })


def _group_scores(rd: _Reader, obj: dict, unit: str) -> dict:
    scores = rd.obj(obj, "groupScores", unit)
    return {g.lower(): rd.num(scores, g, unit, required=True) for g in GROUP_CODES}


def _parse_national(rd: _Reader, data: dict, prov: dict, rows: Rows) -> int:
    overview = data.get("overview")
    if isinstance(overview, dict):
        rows.tables["national_average"].append({
            "month": prov["month"], "captured_at": prov["captured_at"],
            "raw_sha256": prov["raw_sha256"], "raw_path": prov["raw_path"],
            "is_synthetic": prov["is_synthetic"],
            "label": overview.get("departmentName"),
            "total_score": rd.num(overview, "totalScore", "(overview)", required=True),
            **_group_scores(rd, overview, "(overview)"),
        })
    evaluation = rd.items(data, "evaluation", "(national)")
    for row in evaluation:
        pid = rd.text(row, "departmentId", "(row without id)")
        unit = f"{row.get('departmentName')} ({pid})"
        stt = rd.num(row, "stt", unit)
        rows.tables["national_summary"].append({
            **prov, "province_id": pid,
            "province_code": rd.text(row, "departmentCode", unit),
            "province_name": rd.text(row, "departmentName", unit),
            "rank_reported": None if stt is None else int(stt),
            "total_score": rd.num(row, "totalScore", unit, required=True),
            "ratio": rd.num(row, "ratio", unit), "score_delta": rd.num(row, "scoreDelta", unit),
            **_group_scores(rd, row, unit),
        })
    return len(evaluation)


def _unit_fields(rd: _Reader, row: dict, is_province: bool) -> tuple[dict, str]:
    uid = rd.text(row, "departmentId", f"(row {row.get('stt')})")
    name = rd.text(row, "departmentName", uid, required=False)
    unit = f"{name} ({uid})"
    return {
        "unit_id": uid, "unit_name": name,
        "unit_code": rd.text(row, "departmentCode", unit, required=False),
        "unit_type": rd.text(row, "departmentType", unit, required=False),
        "unit_level": rd.text(row, "departmentLevel", unit, required=False)
        or rd.text(row, "level", unit, required=False),
        "is_province": is_province,
    }, unit


def _parse_metrics(rd: _Reader, data: dict, prov: dict, group: str, rows: Rows,
                   include_overview: bool) -> int:
    evaluation = rd.items(data, "evaluation", "(response)")
    units = [(r, False) for r in evaluation]
    if include_overview:
        units.insert(0, (rd.obj(data, "overview", "(response)"), True))
    for row, is_province in units:
        ufields, unit = _unit_fields(rd, row, is_province)
        rows.tables["unit_group_scores"].append({
            **prov, **ufields, "group_code": group,
            "score": rd.num(row, "totalScore", unit, required=True),
            "max_score": rd.num(row, "totalMaxScore", unit, required=True),
            "ratio": rd.num(row, "ratio", unit), "score_delta": rd.num(row, "scoreDelta", unit),
        })
        for m in rd.items(row, "metrics", unit):
            code = rd.text(m, "code", unit)
            where = f"{unit} metric {code}"
            rows.tables["unit_metrics"].append({
                **prov, **ufields, "group_code": group, "metric_code": code,
                "metric_name": rd.text(m, "name", where, required=False),
                "numerator": rd.num(m, "numerator", where),
                "denominator": rd.num(m, "denominator", where),
                "ratio": rd.num(m, "ratio", where), "score": rd.num(m, "score", where),
                "max_score": rd.num(m, "maxScore", where, required=True),
                "data_quality_status": rd.text(m, "dataQualityStatus", where, required=False),
                "data_quality_message": rd.text(m, "dataQualityMessage", where, required=False),
            })
    return len(evaluation)


def _parse_tree(rd: _Reader, data: dict, prov: dict, group: str, rows: Rows) -> int:
    children = rd.items(data, "children", "(response)")
    units = [(rd.obj(data, "parent", "(response)"), True)] + [(c, False) for c in children]
    for row, is_province in units:
        ufields, unit = _unit_fields(rd, row, is_province)
        score_key = "totalScore" if "totalScore" in row else "score"
        max_key = "totalMaxScore" if "totalMaxScore" in row else "maxScore"
        rows.tables["unit_group_scores"].append({
            **prov, **ufields, "group_code": group,
            "score": rd.num(row, score_key, unit, required=True),
            "max_score": rd.num(row, max_key, unit, required=True),
            "ratio": rd.num(row, "ratio", unit), "score_delta": rd.num(row, "scoreDelta", unit),
        })
        for key in row:
            if key in _TREE_NON_PARAMS:
                continue
            rows.tables["unit_parameters"].append({
                **prov, **ufields, "group_code": group, "parameter": key,
                "value": rd.num(row, key, unit),
            })
    return len(children)
