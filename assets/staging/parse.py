"""Portal responses → typed rows. Pure functions: no Dagster, no database.

Nulls stay null (a zero denominator is not a zero score), data-quality flags are
kept, and every row carries its month, province, capture time and raw sha256.
A value of the wrong type stops the parse with the file, unit and field named.

Two readers, one meaning. The group endpoints (the bulk of the bytes) are first
decoded by msgspec straight from the bytes into typed structs and turned into
columns, with no dict per row. Anything that reader does not accept as
well-formed (a string where a number belongs, NaN, a missing field, an empty id)
is read again by the checking reader below (``_Reader``), which either stages it
the same way or raises the StagingError that names file, period, unit and field.
So the fast reader never decides what is an error; it only declines.
"""

import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime

import msgspec
import polars as pl

from assets.domain.catalogue import GROUP_CODES
from assets.domain.provinces import PROVINCES_FILE, code_of_department
from assets.sources.endpoints import ENDPOINTS
from assets.tables import PORTAL, PROVENANCE, UNIT


class StagingError(ValueError):
    def __init__(self, file: str, month: str, unit: str, field_name: str, detail: str):
        self.file, self.month, self.unit, self.field_name = file, month, unit, field_name
        super().__init__(f"{detail}: file {file}, period {month}, unit {unit}, field {field_name}")


# The schemas live with every staged table's (assets/tables.py).
SCHEMAS = PORTAL

# Tree-row fields that are not raw parameters.
_TREE_NON_PARAMS = {"departmentId", "departmentName", "departmentCode", "level", "ratio",
                    "score", "totalScore", "maxScore", "totalMaxScore", "scoreDelta"}


# The columns each typed reader fills per unit, per metric and per parameter; the unit's
# own columns and the response's provenance are gathered onto metric and parameter rows.
_UNIT_OWN = (*UNIT, "group_code", "score", "max_score", "ratio", "score_delta")
_METRIC_OWN = ("metric_code", "metric_name", "numerator", "denominator", "ratio", "score",
               "max_score", "data_quality_status", "data_quality_message")
_PARAM_OWN = ("parameter", "value")
_UNIT_CARRIED = (*PROVENANCE, *UNIT, "group_code")


class _Columns:
    """Rows of consecutive typed-read responses, column by column (no dict per row)."""

    def __init__(self):
        self.prov: list[dict] = []
        self.units: dict[str, list] = {c: [] for c in _UNIT_OWN}
        self.unit_response: list[int] = []
        self.metrics: dict[str, list] = {c: [] for c in _METRIC_OWN}
        self.metric_unit: list[int] = []
        self.params: dict[str, list] = {c: [] for c in _PARAM_OWN}
        self.param_unit: list[int] = []

    def __len__(self) -> int:
        return len(self.prov)

    def frames(self) -> dict[str, pl.DataFrame]:
        prov = pl.DataFrame(self.prov, schema=PROVENANCE, orient="row")
        own = pl.DataFrame({c: pl.Series(c, v, dtype=SCHEMAS["unit_group_scores"][c])
                            for c, v in self.units.items()})
        units = pl.concat([prov[self.unit_response], own], how="horizontal").select(
            list(SCHEMAS["unit_group_scores"]))
        carried = units.select(_UNIT_CARRIED)
        out = {"unit_group_scores": units}
        for table, cols, unit_idx in (("unit_metrics", self.metrics, self.metric_unit),
                                      ("unit_parameters", self.params, self.param_unit)):
            if unit_idx:
                own = pl.DataFrame({c: pl.Series(c, v, dtype=SCHEMAS[table][c])
                                    for c, v in cols.items()})
                out[table] = pl.concat([carried[unit_idx], own], how="horizontal").select(
                    list(SCHEMAS[table]))
        return out


@dataclass
class Rows:
    """The staged tables being built: finished frames, then the typed reader's columns."""

    parts: dict[str, list[pl.DataFrame]] = field(default_factory=lambda: {t: [] for t in SCHEMAS})
    columns: _Columns = field(default_factory=_Columns)
    captures: list[dict] = field(default_factory=list)

    def _flush(self) -> None:
        if len(self.columns):
            for table, frame in self.columns.frames().items():
                self.parts[table].append(frame)
            self.columns = _Columns()

    def add_frames(self, frames: dict[str, pl.DataFrame]) -> None:
        self._flush()  # keeps the rows in response order
        for table, frame in frames.items():
            self.parts[table].append(frame)

    def frames(self) -> dict[str, pl.DataFrame]:
        self._flush()
        parts = {**self.parts, "captures": [pl.DataFrame(self.captures, schema=SCHEMAS["captures"],
                                                         orient="row")] if self.captures else []}
        return {t: pl.concat(p, rechunk=True) if p else pl.DataFrame(schema=SCHEMAS[t])
                for t, p in parts.items()}


def _dict_frame(table: str, rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SCHEMAS[table], orient="row")


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

    def obj(self, data: dict, key: str, unit: str, required: bool = True) -> dict | None:
        v = data.get(key)
        if v is None and not required:
            return None
        if not isinstance(v, dict):
            raise self.fail(unit, key, "expected an object")
        return v


def parse_capture(capture: dict, body: bytes, rows: Rows, month: date,
                  province_code: str | None = None) -> None:
    """Add the rows of one kept response (one page) to ``rows``."""
    endpoint = ENDPOINTS[capture["endpoint"]]
    prov = {
        "month": month, "province_id": capture.get("province_id"),
        "province_code": province_code or capture.get("province_code"),
        "captured_at": datetime.fromisoformat(capture["captured_at"]),
        "raw_sha256": capture["sha256"], "raw_path": capture["path"],
        "is_synthetic": bool((capture.get("origin") or {}).get("synthetic", False)),
    }
    typed = _TYPED_READERS.get(endpoint.shape)
    try:
        if typed is None:
            raise _Declined
        n, declared_total = typed(body, prov, endpoint.group_code, capture["page"] == 1,
                                  rows.columns)
    except (_Declined, msgspec.ValidationError, msgspec.DecodeError):
        n, declared_total, frames = _checked_parse(capture, body, endpoint, prov, month)
        rows.add_frames(frames)
    rows.captures.append({
        **prov, "endpoint": endpoint.name, "group_code": endpoint.group_code,
        "page": capture["page"], "http_status": capture["http_status"],
        "bytes": capture["bytes"], "declared_total": declared_total, "rows_in_page": n,
    })


def _checked_parse(capture: dict, body: bytes, endpoint, prov: dict, month: date):
    """The checking reader: json.loads, then every value's type checked where it is read."""
    rd = _Reader(capture["path"], month)
    data = json.loads(body)["data"]
    tables = {t: [] for t in SCHEMAS}
    pagination = rd.obj(data, "pagination", "(response)", required=False) or {}
    if endpoint.shape == "national":
        n = _parse_national(rd, data, prov, tables, include_overview=capture["page"] == 1)
    elif endpoint.shape == "metrics":
        n = _parse_metrics(rd, data, prov, endpoint.group_code, tables,
                           include_overview=capture["page"] == 1)
    else:
        n = _parse_tree(rd, data, prov, endpoint.group_code, tables)
    declared = rd.num(pagination, "total", "(pagination)") if pagination else None
    return n, declared, {t: _dict_frame(t, r) for t, r in tables.items() if r}


def _group_scores(rd: _Reader, obj: dict, unit: str, required: bool = True) -> dict:
    scores = rd.obj(obj, "groupScores", unit, required=required) or {}
    return {g.lower(): rd.num(scores, g, unit, required=required) for g in GROUP_CODES}


def _province_code(rd: _Reader, row: dict, pid: str, unit: str) -> str:
    """The row's departmentCode, else the code ref.provinces gives its departmentId."""
    code = rd.text(row, "departmentCode", unit, required=False)
    if code is not None:
        return code
    code = code_of_department(pid)
    if code is None:
        raise rd.fail(unit, "departmentId",
                      f"no departmentCode, and departmentId {pid} "
                      f"({row.get('departmentName')}) is not in {PROVINCES_FILE}")
    return code


def _parse_national(rd: _Reader, data: dict, prov: dict, tables: dict,
                    include_overview: bool = True) -> int:
    # The minimal shape a real crawler relies on: the overview's label and total, and per
    # province its id, name, total and six group scores. Everything else is optional:
    # the code comes from ref.provinces, ranks and group averages are computed in the marts.
    overview = rd.obj(data, "overview", "(national)", required=False)
    if overview is not None and include_overview:  # a paginated answer repeats it
        tables["national_average"].append({
            "month": prov["month"], "captured_at": prov["captured_at"],
            "raw_sha256": prov["raw_sha256"], "raw_path": prov["raw_path"],
            "is_synthetic": prov["is_synthetic"],
            "label": rd.text(overview, "departmentName", "(overview)", required=False),
            "total_score": rd.num(overview, "totalScore", "(overview)", required=True),
            **_group_scores(rd, overview, "(overview)", required=False),
        })
    evaluation = rd.items(data, "evaluation", "(national)")
    for row in evaluation:
        if not isinstance(row, dict):
            raise rd.fail("(national)", "evaluation", "expected a list of objects")
        pid = rd.text(row, "departmentId", "(row without id)")
        unit = f"{row.get('departmentName')} ({pid})"
        stt = rd.num(row, "stt", unit)
        tables["national_summary"].append({
            **prov, "province_id": pid,
            "province_code": _province_code(rd, row, pid, unit),
            "province_name": rd.text(row, "departmentName", unit),
            "rank_reported": None if stt is None else int(stt),
            "total_score": rd.num(row, "totalScore", unit, required=True),
            "ratio": rd.num(row, "ratio", unit), "score_delta": rd.num(row, "scoreDelta", unit),
            **_group_scores(rd, row, unit),
        })
    return len(evaluation)


def _first(*values):
    return next((v for v in values if v is not None), None)


def _unit_fields(rd: _Reader, row: dict, is_province: bool) -> tuple[dict, str]:
    uid = rd.text(row, "departmentId", f"(row {row.get('stt')})")
    name = rd.text(row, "departmentName", uid, required=False)
    unit = f"{name} ({uid})"
    return {
        "unit_id": uid, "unit_name": name,
        "unit_code": rd.text(row, "departmentCode", unit, required=False),
        "unit_type": rd.text(row, "departmentType", unit, required=False),
        # both read, so a wrong type in either stops the parse
        "unit_level": _first(rd.text(row, "departmentLevel", unit, required=False),
                             rd.text(row, "level", unit, required=False)),
        "is_province": is_province,
    }, unit


def _parse_metrics(rd: _Reader, data: dict, prov: dict, group: str, tables: dict,
                   include_overview: bool) -> int:
    evaluation = rd.items(data, "evaluation", "(response)")
    units = [(r, False) for r in evaluation]
    if include_overview:
        units.insert(0, (rd.obj(data, "overview", "(response)"), True))
    for row, is_province in units:
        ufields, unit = _unit_fields(rd, row, is_province)
        tables["unit_group_scores"].append({
            **prov, **ufields, "group_code": group,
            "score": rd.num(row, "totalScore", unit, required=True),
            "max_score": rd.num(row, "totalMaxScore", unit, required=True),
            "ratio": rd.num(row, "ratio", unit), "score_delta": rd.num(row, "scoreDelta", unit),
        })
        for m in rd.items(row, "metrics", unit):
            code = rd.text(m, "code", unit)
            where = f"{unit} metric {code}"
            tables["unit_metrics"].append({
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


def _parse_tree(rd: _Reader, data: dict, prov: dict, group: str, tables: dict) -> int:
    children = rd.items(data, "children", "(response)")
    units = [(rd.obj(data, "parent", "(response)"), True)] + [(c, False) for c in children]
    for row, is_province in units:
        ufields, unit = _unit_fields(rd, row, is_province)
        score_key = "totalScore" if "totalScore" in row else "score"
        max_key = "totalMaxScore" if "totalMaxScore" in row else "maxScore"
        tables["unit_group_scores"].append({
            **prov, **ufields, "group_code": group,
            "score": rd.num(row, score_key, unit, required=True),
            "max_score": rd.num(row, max_key, unit, required=True),
            "ratio": rd.num(row, "ratio", unit), "score_delta": rd.num(row, "scoreDelta", unit),
        })
        for key in row:
            if key in _TREE_NON_PARAMS:
                continue
            tables["unit_parameters"].append({
                **prov, **ufields, "group_code": group, "parameter": key,
                "value": rd.num(row, key, unit),
            })
    return len(children)


# --------------------------------------------------------------------------- typed reader
# msgspec structs for the group endpoints. A field of the wrong JSON type, NaN or a number
# out of range fails the decode (msgspec.ValidationError / DecodeError); a missing required
# value raises _Declined. Either way the response goes to the checking reader above.


class _Declined(Exception):
    """The typed reader does not take this response; the checking reader will."""


class _Metric(msgspec.Struct):
    code: str | None = None
    name: str | None = None
    numerator: float | None = None
    denominator: float | None = None
    ratio: float | None = None
    score: float | None = None
    maxScore: float | None = None  # the portal's field names
    dataQualityStatus: str | None = None
    dataQualityMessage: str | None = None


class _MetricUnit(msgspec.Struct):
    metrics: list[_Metric]
    departmentId: str | None = None
    departmentName: str | None = None
    departmentCode: str | None = None
    departmentType: str | None = None
    departmentLevel: str | None = None
    level: str | None = None
    totalScore: float | None = None
    totalMaxScore: float | None = None
    ratio: float | None = None
    scoreDelta: float | None = None


class _Pagination(msgspec.Struct):
    total: float | None = None


class _MetricsData(msgspec.Struct):
    evaluation: list[_MetricUnit]
    overview: _MetricUnit | None = None
    pagination: _Pagination | None = None


# A tree row's keys are open-ended (each is a raw parameter): decoded as a typed dict.
_TreeRow = dict[str, float | str | None]


class _TreeData(msgspec.Struct):
    children: list[_TreeRow]
    parent: _TreeRow | None = None
    pagination: _Pagination | None = None


class _MetricsEnvelope(msgspec.Struct):
    data: _MetricsData


class _TreeEnvelope(msgspec.Struct):
    data: _TreeData


_METRICS_DECODER = msgspec.json.Decoder(_MetricsEnvelope)
_TREE_DECODER = msgspec.json.Decoder(_TreeEnvelope)
_TEXT = {str, type(None)}
_NUMBER = {float, type(None)}


def _declared(pagination: _Pagination | None) -> float | None:
    return None if pagination is None else pagination.total


def _add_units(out: _Columns, prov: dict, units: dict[str, list]) -> int:
    """Append one response's unit rows; returns the index of its first unit."""
    first = len(out.unit_response)
    out.unit_response.extend([len(out.prov)] * len(units["unit_id"]))
    out.prov.append(prov)
    for c, values in units.items():
        out.units[c].extend(values)
    return first


def _typed_metrics(body: bytes, prov: dict, group: str, include_overview: bool,
                   out: _Columns) -> tuple[int, float | None]:
    data = _METRICS_DECODER.decode(body).data
    units = list(data.evaluation)
    if include_overview:
        if data.overview is None:
            raise _Declined
        units.insert(0, data.overview)
    n_units = len(units)
    uid = [u.departmentId for u in units]
    score = [u.totalScore for u in units]
    max_score = [u.totalMaxScore for u in units]
    if not all(uid) or None in score or None in max_score:
        raise _Declined
    metrics = [m for u in units for m in u.metrics]
    codes = [m.code for m in metrics]
    m_max = [m.maxScore for m in metrics]
    if not all(codes) or None in m_max:
        raise _Declined
    # every check passed: nothing below can decline, so the columns are appended whole
    first = _add_units(out, prov, {
        "unit_id": uid,
        "unit_name": [u.departmentName or None for u in units],
        "unit_code": [u.departmentCode or None for u in units],
        "unit_type": [u.departmentType or None for u in units],
        "unit_level": [u.departmentLevel or u.level or None for u in units],
        "is_province": [include_overview and i == 0 for i in range(n_units)],
        "group_code": [group] * n_units, "score": score, "max_score": max_score,
        "ratio": [u.ratio for u in units], "score_delta": [u.scoreDelta for u in units],
    })
    for i, u in enumerate(units, start=first):
        out.metric_unit.extend([i] * len(u.metrics))
    m = out.metrics
    m["metric_code"].extend(codes)
    m["metric_name"].extend([x.name or None for x in metrics])
    m["numerator"].extend([x.numerator for x in metrics])
    m["denominator"].extend([x.denominator for x in metrics])
    m["ratio"].extend([x.ratio for x in metrics])
    m["score"].extend([x.score for x in metrics])
    m["max_score"].extend(m_max)
    m["data_quality_status"].extend([x.dataQualityStatus or None for x in metrics])
    m["data_quality_message"].extend([x.dataQualityMessage or None for x in metrics])
    return len(data.evaluation), _declared(data.pagination)


def _typed_tree(body: bytes, prov: dict, group: str, _include_overview: bool,
                out: _Columns) -> tuple[int, float | None]:
    data = _TREE_DECODER.decode(body).data
    if data.parent is None:
        raise _Declined
    units = [data.parent, *data.children]
    get = [row.get for row in units]
    uid = [g("departmentId") for g in get]
    text = {c: [g(k) for g in get] for c, k in (("unit_name", "departmentName"),
                                                ("unit_code", "departmentCode"),
                                                ("unit_type", "departmentType"),
                                                ("dept_level", "departmentLevel"),
                                                ("level", "level"))}
    score = [row.get("totalScore" if "totalScore" in row else "score") for row in units]
    max_score = [row.get("totalMaxScore" if "totalMaxScore" in row else "maxScore")
                 for row in units]
    ratio = [g("ratio") for g in get]
    delta = [g("scoreDelta") for g in get]
    # a parameter is every other key, in the response's order
    param_unit, names, values = [], [], []
    for i, row in enumerate(units):
        for key, value in row.items():
            if key not in _TREE_NON_PARAMS:
                param_unit.append(i)
                names.append(key)
                values.append(value)
    if (not all(uid) or set(map(type, uid)) != {str}
            or any(not set(map(type, v)) <= _TEXT for v in text.values())
            or set(map(type, score)) != {float} or set(map(type, max_score)) != {float}
            or not set(map(type, ratio)) <= _NUMBER or not set(map(type, delta)) <= _NUMBER
            or not set(map(type, values)) <= _NUMBER):
        raise _Declined
    n_units = len(units)
    first = _add_units(out, prov, {
        "unit_id": uid,
        "unit_name": [v or None for v in text["unit_name"]],
        "unit_code": [v or None for v in text["unit_code"]],
        "unit_type": [v or None for v in text["unit_type"]],
        "unit_level": [a or b or None for a, b in zip(text["dept_level"], text["level"],
                                                      strict=True)],
        "is_province": [i == 0 for i in range(n_units)],
        "group_code": [group] * n_units, "score": score, "max_score": max_score,
        "ratio": ratio, "score_delta": delta,
    })
    out.param_unit.extend([first + i for i in param_unit])
    out.params["parameter"].extend(names)
    out.params["value"].extend(values)
    return len(data.children), _declared(data.pagination)


_TYPED_READERS = {"metrics": _typed_metrics, "tree": _typed_tree}
