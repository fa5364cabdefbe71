"""Portal responses → typed rows. Pure functions: no Dagster, no database.

One reader. msgspec decodes each answer from its bytes straight into Structs built from
assets/staging/fields.py, the list of the fields we read: their JSON type, whether they
are required, the column each fills. It is strict: a string is never a number, a boolean
is not a number, NaN and out-of-range numbers are refused, required text is not empty.
The rows go into columns, with no dict per row. Nulls stay null (a zero denominator is
not a zero score), data-quality flags are kept, and every row carries its month,
province, capture time and raw sha256.

An answer that does not fit stops the parse with a StagingError naming the file, period,
unit and field: msgspec's error path is followed into the answer to find the unit's name
and id. Tree rows are open-ended (every key not in the list is a raw parameter), so they
are decoded as typed dicts and their listed fields checked against the same list.
"""

import json
import re
from datetime import date, datetime
from functools import cache
from operator import attrgetter
from typing import Annotated

import msgspec
import polars as pl

from assets.domain.provinces import PROVINCES_FILE, code_of_department
from assets.months import month_key
from assets.sources.endpoints import ENDPOINTS
from assets.tables import PORTAL, PROVENANCE

from .fields import FIELDS, PARAMETER_ROWS, Field


class StagingError(ValueError):
    def __init__(self, file: str, month: str, unit: str, field_name: str, detail: str):
        self.file, self.month, self.unit, self.field_name = file, month, unit, field_name
        super().__init__(f"{detail}: file {file}, period {month}, unit {unit}, field {field_name}")


# The schemas live with every staged table's (assets/tables.py).
SCHEMAS = PORTAL


# --------------------------------------------------------------------------- the types
# A field's JSON type, from fields.py: a number is read as float (an integer too), text as
# str. Objects and lists are the Structs of the fields listed under them.

_Text = Annotated[str, msgspec.Meta(min_length=1)]  # required text: present, not empty
_ParameterRow = dict[str, float | str | None]  # a tree row: listed fields + raw parameters
_PY_TYPE = {"number": float, "text": str}
_NONE = type(None)


@cache
def _fields_at(shape: str, where: str) -> tuple[Field, ...]:
    return tuple(f for f in FIELDS if f.shape == shape and f.where == where)


def _below(where: str, f: Field) -> str:
    """Where the fields of an object or list field are listed: 'evaluation[].metrics[]'."""
    inner = f.name if where == "data" else f"{where}.{f.name}"
    return inner + "[]" if f.kind == "list" else inner


def _json_type(shape: str, where: str, f: Field):
    if f.kind == "number":
        return float
    if f.kind == "text":
        return _Text if f.required else str
    inner = _below(where, f)
    item = _ParameterRow if (shape, inner) in PARAMETER_ROWS else _struct(shape, inner)
    return list[item] if f.kind == "list" else item


def _struct(shape: str, where: str) -> type:
    spec = []
    for f in _fields_at(shape, where):
        t = _json_type(shape, where, f)
        spec.append((f.name, t) if f.required else (f.name, t | None, None))
    return msgspec.defstruct(re.sub(r"\W", "_", f"{shape}_{where}"), spec, kw_only=True)


_DECODERS = {shape: msgspec.json.Decoder(msgspec.defstruct(
    f"{shape}_answer", [("data", _struct(shape, "data"))])) for shape in ("national", "metrics",
                                                                          "tree")}


def _fill(out: dict[str, list], f: Field, values: list) -> None:
    """A field's values into its column: optional text "" is NULL; two fields filling one
    column (a unit's level) give the first that is not NULL."""
    if f.kind == "text" and not f.required:
        values = [v or None for v in values]
    if f.column in out:
        values = [a if a is not None else b for a, b in zip(out[f.column], values, strict=True)]
    out[f.column] = values


def _columns(shape: str, where: str, objs: list) -> dict[str, list]:
    """The columns the fields listed at ``where`` fill, over decoded objects (None: an
    optional object absent)."""
    out: dict[str, list] = {}
    whole = not any(o is None for o in objs)
    for f in _fields_at(shape, where):
        if f.column is None:
            continue
        get = attrgetter(f.name)
        values = list(map(get, objs)) if whole else [o and get(o) for o in objs]
        _fill(out, f, values)
    return out


# --------------------------------------------------------------------------- the rows


class _Table:
    """One staged table's rows, column by column: the values it reads itself, and for each
    row the index of the row it takes the others from (its response, or its unit)."""

    def __init__(self, name: str):
        self.name, self.parent, self.cols = name, [], {}

    def add(self, parent: int | list[int], cols: dict[str, list]) -> int:
        first, n = len(self.parent), len(next(iter(cols.values())))
        self.parent.extend([parent] * n if isinstance(parent, int) else parent)
        for c, values in cols.items():
            if c not in self.cols:
                self.cols[c] = [None] * first
            self.cols[c].extend(values)
        for values in self.cols.values():
            if len(values) < first + n:
                values.extend([None] * (first + n - len(values)))
        return first

    def frame(self, carrier: pl.DataFrame) -> pl.DataFrame:
        schema = SCHEMAS[self.name]
        if not self.parent:
            return pl.DataFrame(schema=schema)
        own = pl.DataFrame([pl.Series(c, v, dtype=schema[c]) for c, v in self.cols.items()])
        taken = carrier[self.parent].select([c for c in schema if c not in self.cols])
        return pl.concat([taken, own], how="horizontal").select(list(schema))


class Rows:
    """The staged tables being built, from one response after another."""

    def __init__(self):
        self.responses: list[dict] = []  # each response's provenance
        self.captures: list[dict] = []
        self.tables = {t: _Table(t) for t in SCHEMAS if t != "captures"}

    def response(self, prov: dict) -> int:
        self.responses.append(prov)
        return len(self.responses) - 1

    def frames(self) -> dict[str, pl.DataFrame]:
        prov = pl.DataFrame(self.responses, schema=PROVENANCE, orient="row")
        t = self.tables
        units = t["unit_group_scores"].frame(prov)
        out = {"captures": pl.DataFrame(self.captures, schema=SCHEMAS["captures"], orient="row"),
               "national_summary": t["national_summary"].frame(prov),
               "national_average": t["national_average"].frame(prov),
               "unit_group_scores": units,
               "unit_metrics": t["unit_metrics"].frame(units),
               "unit_parameters": t["unit_parameters"].frame(units)}
        return {name: out[name] for name in SCHEMAS}


def parse_capture(capture: dict, body: bytes, rows: Rows, month: date,
                  province_code: str | None = None) -> None:
    """Add the rows of one kept response (one page) to ``rows``."""
    endpoint = ENDPOINTS[capture["endpoint"]]
    read = _READERS.get(endpoint.shape)
    if read is None:
        raise ValueError(f"{endpoint.name}: no portal reader for the {endpoint.shape!r} shape")
    file, period = capture["path"], month_key(month)
    try:
        data = _DECODERS[endpoint.shape].decode(body).data
    except msgspec.ValidationError as exc:
        raise _misfit(str(exc), body, file, period) from exc
    except msgspec.DecodeError as exc:
        raise _undecodable(str(exc), body, file, period) from exc
    prov = {
        "month": month, "province_id": capture.get("province_id"),
        "province_code": province_code or capture.get("province_code"),
        "captured_at": datetime.fromisoformat(capture["captured_at"]),
        "raw_sha256": capture["sha256"], "raw_path": file,
        "is_synthetic": bool((capture.get("origin") or {}).get("synthetic", False)),
    }
    n = read(data, rows, prov, endpoint.group_code, capture["page"] == 1,
             lambda unit, name, detail: StagingError(file, period, unit, name, detail))
    pagination = getattr(data, "pagination", None)
    rows.captures.append({
        **prov, "endpoint": endpoint.name, "group_code": endpoint.group_code,
        "page": capture["page"], "http_status": capture["http_status"],
        "bytes": capture["bytes"], "declared_total": pagination and pagination.total,
        "rows_in_page": n,
    })


# --------------------------------------------------------------------------- per shape
# Each reader checks everything before it adds a row, so a failed response adds none.


def _read_national(data, rows: Rows, prov: dict, _group, first_page: bool, fail) -> int:
    # The minimal shape a real crawler relies on is enough: the code comes from
    # ref.provinces, ranks and missing group averages are computed in the marts.
    ev = data.evaluation
    cols = _columns("national", "evaluation[]", ev)
    cols.update(_columns("national", "evaluation[].groupScores", [r.groupScores for r in ev]))
    cols["province_code"] = [code or _reference_code(row, fail)
                             for code, row in zip(cols["province_code"], ev, strict=True)]
    cols["rank_reported"] = [None if s is None else int(s) for s in cols["rank_reported"]]
    resp = rows.response(prov)
    if ev:
        rows.tables["national_summary"].add(resp, cols)
    ov = data.overview
    if ov is not None and first_page:  # a paginated answer repeats it
        average = _columns("national", "overview", [ov])
        average.update(_columns("national", "overview.groupScores", [ov.groupScores]))
        rows.tables["national_average"].add(resp, average)
    return len(ev)


def _reference_code(row, fail) -> str:
    """No departmentCode: the code ref.provinces gives the row's departmentId."""
    code = code_of_department(row.departmentId)
    if code is None:
        raise fail(_label(row.departmentName, row.departmentId, "evaluation[]"), "departmentId",
                   f"no departmentCode, and departmentId {row.departmentId} "
                   f"({row.departmentName}) is not in {PROVINCES_FILE}")
    return code


def _read_metrics(data, rows: Rows, prov: dict, group: str, first_page: bool, fail) -> int:
    units = [data.overview, *data.evaluation] if first_page else data.evaluation
    cols = _columns("metrics", "evaluation[]", units)  # the overview lists the same fields
    cols["is_province"] = [first_page and i == 0 for i in range(len(units))]
    cols["group_code"] = [group] * len(units)
    metrics, metric_unit = [], []
    resp = rows.response(prov)
    if not units:
        return 0
    first = rows.tables["unit_group_scores"].add(resp, cols)
    for i, u in enumerate(units, start=first):
        metrics += u.metrics
        metric_unit += [i] * len(u.metrics)
    if metrics:
        rows.tables["unit_metrics"].add(metric_unit,
                                        _columns("metrics", "evaluation[].metrics[]", metrics))
    return len(data.evaluation)


def _read_tree(data, rows: Rows, prov: dict, group: str, _first_page, fail) -> int:
    units = [data.parent, *data.children]
    parent = _tree_columns("parent", units[:1], fail)
    children = _tree_columns("children[]", units[1:], fail)
    cols = {c: parent[c] + children[c] for c in parent}
    listed = _listed_names("children[]") | _listed_names("parent")
    param_unit, names, values = [], [], []
    for i, row in enumerate(units):
        for key, value in row.items():
            if key not in listed:
                param_unit.append(i)
                names.append(key)
                values.append(value)
    if not set(map(type, values)) <= {float, _NONE}:
        i, key, value = next((param_unit[j], names[j], v) for j, v in enumerate(values)
                             if type(v) not in (float, _NONE))
        raise fail(_row_label(units[i], i), key, _detail("number", True, value))
    cols["is_province"] = [i == 0 for i in range(len(units))]
    cols["group_code"] = [group] * len(units)
    first = rows.tables["unit_group_scores"].add(rows.response(prov), cols)
    if names:
        rows.tables["unit_parameters"].add([first + i for i in param_unit],
                                           {"parameter": names, "value": values})
    return len(data.children)


@cache
def _listed_names(where: str) -> frozenset[str]:
    return frozenset(n.strip() for f in _fields_at("tree", where) for n in f.name.split("|"))


def _tree_columns(where: str, units: list[dict], fail) -> dict[str, list]:
    """The listed fields of tree rows, checked as a Struct would check them; 'totalScore |
    score': whichever the row has."""
    out: dict[str, list] = {}
    for f in _fields_at("tree", where):
        first, *other = [n.strip() for n in f.name.split("|")]
        if other:  # 'totalScore | score' (two at most)
            values = [row[first] if first in row else row.get(other[0]) for row in units]
        else:
            values = [row.get(first) for row in units]
        allowed = {_PY_TYPE[f.kind]} if f.required else {_PY_TYPE[f.kind], _NONE}
        if not set(map(type, values)) <= allowed or (f.required and not all(values)
                                                      and f.kind == "text"):
            i = next(i for i, v in enumerate(values) if type(v) not in allowed
                     or (f.kind == "text" and f.required and not v))
            key = next((n for n in (first, *other) if n in units[i]), first)
            offset = 0 if where == "parent" else 1
            raise fail(_row_label(units[i], i + offset), key,
                       _detail(f.kind, key in units[i], values[i], f.required))
        _fill(out, f, values)
    return out


_READERS = {"national": _read_national, "metrics": _read_metrics, "tree": _read_tree}


# --------------------------------------------------------------------------- errors
# Only when an answer does not fit: the answer is decoded again, untyped, to say where.

_KIND_OF = {"float": "number", "str": "text", "object": "object", "array": "list"}
_NOUN = {"number": "a number", "text": "text", "object": "an object", "list": "a list"}
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[(\.\.\.)\]")


def _label(name, uid, where: str) -> str:
    return f"{name} ({uid})" if isinstance(uid, str) and uid else f"({where}, no departmentId)"


def _row_label(row: dict, index: int) -> str:
    return _label(row.get("departmentName"), row.get("departmentId"),
                  "parent" if index == 0 else f"children[{index - 1}]")


def _detail(kind: str, present: bool, value, required: bool = True) -> str:
    if not present:
        return "field missing"
    if value is None:
        return f"null where {_NOUN[kind]} is required"
    if kind == "text" and value == "" and required:
        return "field missing or empty"
    article = "a JSON number" if kind == "number" else _NOUN[kind]
    return f"expected {article}, got {type(value).__name__} {value!r:.80}"


def _walk(doc, steps: list) -> tuple[str, object]:
    """Follow a path into the untyped answer: the unit it is in, and what it reaches."""
    unit, obj, key = "(response)", doc, ""
    for step in steps:
        obj = obj[step]
        where = step if isinstance(step, str) else f"{key}[{step}]"
        if isinstance(obj, dict):
            if key == "metrics" and isinstance(step, int):
                unit = f"{unit} metric {obj.get('code')}"
            elif step == "pagination":
                unit = "(pagination)"
            elif where in ("overview", "parent") or key in ("evaluation", "children") \
                    and isinstance(step, int):
                unit = _label(obj.get("departmentName"), obj.get("departmentId"), where)
        if isinstance(step, str):
            key = step
    return unit, obj


def _misfit(message: str, body: bytes, file: str, period: str) -> StagingError:
    """The StagingError for msgspec's ValidationError: '<what> - at `$.data.x[2].y`'."""
    what, _, path = message.partition(" - at `")
    steps = [int(i) if i else ... if dots else name
             for name, i, dots in _STEP.findall(path.rstrip("`").removeprefix("$"))]
    doc = json.loads(body, parse_constant=_NonFinite)  # 1e400 too: msgspec refuses it
    missing = re.match(r"Object missing required field `(.+)`", what)
    if missing:
        unit, _obj = _walk(doc, steps)
        return StagingError(file, period, unit, missing.group(1), "field missing")
    if not steps:
        return StagingError(file, period, "(response)", "(body)", what)
    last, steps = steps[-1], steps[:-1]
    unit, holder = _walk(doc, steps)
    if last is ...:  # a tree row's value that is neither a number, text nor null
        last = next(k for k, v in holder.items()
                    if isinstance(v, bool | list | dict))
    elif isinstance(last, int):  # an element of a list: name the list
        unit, holder = _walk(doc, [*steps, last])
        return StagingError(file, period, unit, next(
            (s for s in reversed(steps) if isinstance(s, str)), "(response)"),
            f"{what}: {holder!r:.80}")
    value = holder.get(last)
    if what.startswith("Number out of range"):
        return StagingError(file, period, unit, last, f"not a finite number: {value!r}")
    if "of length >= 1" in what:
        return StagingError(file, period, unit, last, "field missing or empty")
    expected = re.match(r"Expected `(\w+)", what)
    kind = _KIND_OF.get(expected.group(1) if expected else "", "number")
    return StagingError(file, period, unit, last, _detail(kind, last in holder, value))


class _NonFinite(str):
    """NaN or ±Infinity, as Python's json reads them (msgspec refuses them outright)."""


def _undecodable(message: str, body: bytes, file: str, period: str) -> StagingError:
    try:
        doc = json.loads(body, parse_constant=_NonFinite)
    except ValueError as exc:
        return StagingError(file, period, "(response)", "(body)", f"not valid JSON: {exc}")
    path = _find_non_finite(doc, [])
    if path is None:
        return StagingError(file, period, "(response)", "(body)", f"not valid JSON: {message}")
    unit, holder = _walk(doc, path[:-1])
    return StagingError(file, period, unit, str(path[-1]),
                        f"not a finite number: {holder[path[-1]]}")


def _find_non_finite(obj, path: list) -> list | None:
    if isinstance(obj, _NonFinite):
        return path
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) \
        if isinstance(obj, list) else ()
    for k, v in items:
        found = _find_non_finite(v, [*path, k])
        if found is not None:
            return found
    return None
