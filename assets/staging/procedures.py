"""Per-procedure answers → typed staged tables (issue 15). Pure parsing, then one loader.

The portal answers five of the six group endpoints filtered to one administrative
procedure (thủ tục hành chính, TTHC): the same shapes as the province's answers, with the
procedure's counts on the parent/overview row and each unit's share of them on its rows.
A capture of such an answer is a raw capture like any other, plus the manifest field
``formality_id`` (the procedure's id; ``formality_code`` / ``formality_name`` when the
crawl knows them).

Three staged tables, the unit tables keyed by procedure as well (``is_province`` marks the
procedure's province-level row):

- ``staging.procedure_group_scores``   unit × procedure × group: score, maximum, ratio;
- ``staging.procedure_unit_metrics``    unit × procedure × metric (CKMB, MDSH): counts, score;
- ``staging.procedure_unit_parameters`` unit × procedure × raw parameter (TDGQ, CLGQ, TTTT).

Decoding is msgspec with typed structs, strict: a value of the wrong JSON type, a missing
required field or an empty id stops the parse with a StagingError naming file, period,
unit and field. A metric missing from a procedure's answer is a variant, not an error
(the filtered ``dossier-digitized`` has no CITIZEN_DATA_CONNECTED_FORMALITY: its maximum
becomes 20); the marts say which metric is absent.
"""

import json
import re
from datetime import date, datetime

import msgspec
import polars as pl

from assets.months import month_key
from assets.sources.endpoints import ENDPOINTS
from assets.staging.parse import StagingError
from assets.tables import PROCEDURES

SCHEMAS = PROCEDURES
TABLES = tuple(f"staging.{t}" for t in SCHEMAS)

# The groups the portal filters by procedure (all but MDHL).
PROCEDURE_GROUPS = ("CKMB", "TDGQ", "CLGQ", "TTTT", "MDSH")

# Tree-row keys that are the unit's identity or score, not raw parameters.
_TREE_IDENTITY = {"departmentId", "departmentName", "departmentCode", "departmentType",
                  "departmentLevel", "level"}
_TREE_SCORE = {"ratio", "score", "totalScore", "maxScore", "totalMaxScore", "scoreDelta"}


# --------------------------------------------------------------------------- typed shapes

class _Metric(msgspec.Struct):
    code: str
    maxScore: float  # noqa: N815 (the portal's field names)
    name: str | None = None
    numerator: float | None = None
    denominator: float | None = None
    ratio: float | None = None
    score: float | None = None
    dataQualityStatus: str | None = None  # noqa: N815
    dataQualityMessage: str | None = None  # noqa: N815


class _MetricUnit(msgspec.Struct):
    departmentId: str  # noqa: N815
    totalScore: float  # noqa: N815
    totalMaxScore: float  # noqa: N815
    metrics: list[_Metric]
    departmentName: str | None = None  # noqa: N815
    departmentCode: str | None = None  # noqa: N815
    departmentType: str | None = None  # noqa: N815
    departmentLevel: str | None = None  # noqa: N815
    level: str | None = None
    ratio: float | None = None
    scoreDelta: float | None = None  # noqa: N815


class _MetricsData(msgspec.Struct):
    overview: _MetricUnit
    evaluation: list[_MetricUnit]


# A tree row's keys are open-ended (every other key is a raw parameter): a typed dict,
# its keys checked below (identity keys text, every other key a number or null).
_TreeRow = dict[str, float | str | None]


class _TreeData(msgspec.Struct):
    parent: _TreeRow
    children: list[_TreeRow]


class _MetricsEnvelope(msgspec.Struct):
    data: _MetricsData


class _TreeEnvelope(msgspec.Struct):
    data: _TreeData


_DECODERS = {"metrics": msgspec.json.Decoder(_MetricsEnvelope),
             "tree": msgspec.json.Decoder(_TreeEnvelope)}
_PATH = re.compile(r"^\$\.data\.(evaluation|children|overview|parent)(?:\[(\d+)\])?(.*)$")
_SEGMENT = re.compile(r"\.([A-Za-z_]\w*)")


class _Where:
    """Names file, period, unit and field in an error."""

    def __init__(self, capture: dict, month: date, body: bytes):
        self.file, self.month, self.body = capture["path"], month_key(month), body
        self.procedure = capture.get("formality_id")

    def fail(self, unit: str, field_name: str, detail: str) -> StagingError:
        return StagingError(self.file, self.month, unit, field_name,
                            f"procedure {self.procedure}: {detail}")

    def from_msgspec(self, err: msgspec.MsgspecError) -> StagingError:
        """msgspec says ``... - at `$.data.evaluation[3].metrics[1].score```: name the unit
        (its id and name, read back from the body) and the field."""
        text = str(err)
        detail, _, path = text.partition(" - at ")
        found = _PATH.match(path.strip("`"))
        if not found:  # not JSON, or the envelope itself (``data`` missing or null)
            segments = _SEGMENT.findall(path)
            return self.fail("(response)", segments[-1] if segments else "(body)", detail)
        key, index, rest = found.group(1), found.group(2), found.group(3)
        row = self._row(key, None if index is None else int(index))
        unit = (f"{row.get('departmentName')} ({row.get('departmentId')})"
                if isinstance(row, dict) else f"{key}[{index}]")
        names = _SEGMENT.findall(rest)
        if "missing required field" in detail:
            field_name = detail.split("`")[1]
        elif rest.endswith("[...]") and isinstance(row, dict):  # a tree row's value
            field_name = next((k for k, v in row.items() if isinstance(v, bool)
                               or not isinstance(v, int | float | str | type(None))), "?")
        else:
            field_name = names[-1] if names else key
        metric = re.search(r"\.metrics\[(\d+)\]", rest)
        if metric and isinstance(row, dict):
            try:
                unit += f" metric {row['metrics'][int(metric.group(1))].get('code')}"
            except (KeyError, IndexError, TypeError, AttributeError):
                pass
        return self.fail(unit, field_name, detail)

    def _row(self, key: str, index: int | None):
        try:
            data = json.loads(self.body)["data"]
            return data[key] if index is None else data[key][index]
        except (ValueError, KeyError, IndexError, TypeError):
            return None


# --------------------------------------------------------------------------- the parser

def _bad_text(values: list) -> int | None:
    """Index of the first value that is neither text nor null."""
    return next((i for i, v in enumerate(values) if v is not None and type(v) is not str), None)


def _bad_number(values: list) -> int | None:
    return next((i for i, v in enumerate(values) if v is not None and type(v) is not float),
                None)


class ProcedureRows:
    """The three tables being built, capture after capture, as columns: each capture adds
    to plain lists (its constants once, its rows by index), and ``frames()`` builds the
    frames once for all the captures added (a chunk of a month), not two per capture."""

    def __init__(self):
        self.constants: list[dict] = []  # per capture: the columns its rows repeat
        self.columns: dict[str, dict[str, list]] = {t: {} for t in SCHEMAS}
        self.owner: dict[str, list[int]] = {t: [] for t in SCHEMAS}  # row -> capture

    def __len__(self) -> int:
        return len(self.constants)

    def _add(self, table: str, capture: int, columns: dict[str, list]) -> None:
        target = self.columns[table]
        for name, values in columns.items():
            target.setdefault(name, []).extend(values)
        self.owner[table].extend([capture] * len(next(iter(columns.values()))))

    def frames(self) -> dict[str, pl.DataFrame]:
        """Every table's rows so far, in schema order (an empty frame when none)."""
        const_schema = {c: SCHEMAS["procedure_group_scores"][c] for c in _CONSTANTS}
        constants = pl.DataFrame(self.constants, schema=const_schema, orient="row")
        out = {}
        for table, schema in SCHEMAS.items():
            columns = self.columns[table]
            if not self.owner[table]:
                out[table] = pl.DataFrame(schema=schema)
                continue
            varying = pl.DataFrame([pl.Series(c, v, dtype=schema[c])
                                    for c, v in columns.items()])
            index = pl.Series("capture", self.owner[table], dtype=pl.UInt32)
            repeated = constants.select(pl.all().gather(index))
            out[table] = pl.concat([varying, repeated], how="horizontal").select(list(schema))
        return out


# the columns a capture's rows all share (the rest vary by row)
_CONSTANTS = ("month", "province_id", "province_code", "captured_at", "raw_sha256",
              "raw_path", "is_synthetic", "procedure_id", "procedure_code", "procedure_name",
              "group_code")


def parse_procedure_capture(capture: dict, body: bytes, month: date) -> dict[str, pl.DataFrame]:
    """The staged rows of one kept per-procedure answer (one page), table by table."""
    rows = ProcedureRows()
    add_procedure_capture(rows, capture, body, month)
    return rows.frames()


def add_procedure_capture(rows: ProcedureRows, capture: dict, body: bytes,
                          month: date) -> None:
    """Add the rows of one kept per-procedure answer (one page) to ``rows``; a
    StagingError (file, period, unit, field) leaves ``rows`` as it was."""
    endpoint = ENDPOINTS.get(capture.get("endpoint"))
    where = _Where(capture, month, body)
    if endpoint is None or endpoint.group_code not in PROCEDURE_GROUPS:
        raise where.fail("(capture)", "endpoint",
                         f"not an endpoint the portal filters by procedure: "
                         f"{capture.get('endpoint')!r}")
    procedure_id = capture.get("formality_id")
    if not isinstance(procedure_id, str) or not procedure_id:
        raise where.fail("(capture)", "formality_id", "capture has no procedure id")
    constants = {
        "month": month, "province_id": capture.get("province_id"),
        "province_code": capture.get("province_code"),
        "captured_at": datetime.fromisoformat(capture["captured_at"]),
        "raw_sha256": capture["sha256"], "raw_path": capture["path"],
        "is_synthetic": bool((capture.get("origin") or {}).get("synthetic", False)),
        "procedure_id": procedure_id, "procedure_code": capture.get("formality_code"),
        "procedure_name": capture.get("formality_name"),
        "group_code": endpoint.group_code,
    }
    try:
        data = _DECODERS[endpoint.shape].decode(body).data
    except msgspec.MsgspecError as err:
        raise where.from_msgspec(err) from None
    if endpoint.shape == "metrics":
        tables = _metrics_columns(data, where, first_page=capture.get("page", 1) == 1)
    else:
        tables = _tree_columns(data, where)
    index = len(rows.constants)  # checked in full above: nothing added before this point
    rows.constants.append(constants)
    for table, columns in tables.items():
        rows._add(table, index, columns)


def _metrics_columns(data: _MetricsData, where: _Where, first_page: bool
                     ) -> dict[str, dict[str, list]]:
    units = ([data.overview] if first_page else []) + data.evaluation  # pages repeat it
    for u in units:
        if not u.departmentId:
            raise where.fail(f"{u.departmentName} (no id)", "departmentId", "empty id")
        for m in u.metrics:
            if not m.code:
                raise where.fail(f"{u.departmentName} ({u.departmentId})", "code",
                                 "metric without a code")
    unit_cols = {
        "unit_id": [u.departmentId for u in units],
        "unit_name": [u.departmentName or None for u in units],
        "unit_code": [u.departmentCode or None for u in units],
        "unit_type": [u.departmentType or None for u in units],
        "unit_level": [u.departmentLevel or u.level or None for u in units],
        "is_province": [first_page and i == 0 for i in range(len(units))],
    }
    owner = [i for i, u in enumerate(units) for _ in u.metrics]
    metrics = [m for u in units for m in u.metrics]
    scores = {**unit_cols, "score": [u.totalScore for u in units],
              "max_score": [u.totalMaxScore for u in units],
              "ratio": [u.ratio for u in units], "score_delta": [u.scoreDelta for u in units]}
    metric_cols = {
        **{c: [v[i] for i in owner] for c, v in unit_cols.items()},
        "metric_code": [m.code for m in metrics], "metric_name": [m.name for m in metrics],
        "numerator": [m.numerator for m in metrics],
        "denominator": [m.denominator for m in metrics],
        "ratio": [m.ratio for m in metrics], "score": [m.score for m in metrics],
        "max_score": [m.maxScore for m in metrics],
        "data_quality_status": [m.dataQualityStatus or None for m in metrics],
        "data_quality_message": [m.dataQualityMessage or None for m in metrics]}
    return {"procedure_group_scores": scores, "procedure_unit_metrics": metric_cols}


def _tree_columns(data: _TreeData, where: _Where) -> dict[str, dict[str, list]]:
    rows = [data.parent, *data.children]

    def label(i: int) -> str:
        return f"{rows[i].get('departmentName')} ({rows[i].get('departmentId')})"

    def column(key: str, kind: str, required: bool = False, fallback: str | None = None):
        values = [r.get(key, r.get(fallback)) if fallback and key not in r else r.get(key)
                  for r in rows]
        bad = (_bad_text if kind == "text" else _bad_number)(values)
        if bad is not None:
            what = "text" if kind == "text" else "a JSON number"
            raise where.fail(label(bad), key, f"expected {what}, got "
                                              f"{type(values[bad]).__name__} {values[bad]!r}")
        if required and (None in values or (kind == "text" and "" in values)):
            i = next(i for i, v in enumerate(values) if v is None or v == "")
            missing = key if key in rows[i] or not fallback else f"{key} | {fallback}"
            raise where.fail(label(i), missing, "field missing or empty")
        return [v or None for v in values] if kind == "text" else values

    ids = column("departmentId", "text", required=True)
    level = column("departmentLevel", "text")
    short = column("level", "text")
    unit_cols = {
        "unit_id": ids, "unit_name": column("departmentName", "text"),
        "unit_code": column("departmentCode", "text"),
        "unit_type": column("departmentType", "text"),
        "unit_level": [a or b for a, b in zip(level, short, strict=True)],
        "is_province": [i == 0 for i in range(len(rows))],
    }
    # the parent says totalScore/totalMaxScore, the children score/maxScore
    scores = {
        **unit_cols,
        "score": column("totalScore", "number", required=True, fallback="score"),
        "max_score": column("totalMaxScore", "number", required=True, fallback="maxScore"),
        "ratio": column("ratio", "number"), "score_delta": column("scoreDelta", "number")}
    owner, names, values = [], [], []
    for i, row in enumerate(rows):
        for key, value in row.items():
            if key not in _TREE_IDENTITY and key not in _TREE_SCORE:
                owner.append(i)
                names.append(key)
                values.append(value)
    bad = _bad_number(values)
    if bad is not None:
        raise where.fail(label(owner[bad]), names[bad],
                         f"expected a JSON number, got {type(values[bad]).__name__} "
                         f"{values[bad]!r}")
    return {"procedure_group_scores": scores, "procedure_unit_parameters": {
        **{c: [v[i] for i in owner] for c, v in unit_cols.items()},
        "parameter": names, "value": values}}
