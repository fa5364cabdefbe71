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

from assets.sources.endpoints import ENDPOINTS
from assets.staging.parse import PROVENANCE, UNIT, StagingError

PROCEDURE = {"procedure_id": pl.String, "procedure_code": pl.String,
             "procedure_name": pl.String}

SCHEMAS: dict[str, dict] = {
    "procedure_group_scores": {**PROVENANCE, **PROCEDURE, **UNIT, "group_code": pl.String,
                               "score": pl.Float64, "max_score": pl.Float64,
                               "ratio": pl.Float64, "score_delta": pl.Float64},
    "procedure_unit_metrics": {**PROVENANCE, **PROCEDURE, **UNIT, "group_code": pl.String,
                               "metric_code": pl.String, "metric_name": pl.String,
                               "numerator": pl.Float64, "denominator": pl.Float64,
                               "ratio": pl.Float64, "score": pl.Float64,
                               "max_score": pl.Float64, "data_quality_status": pl.String,
                               "data_quality_message": pl.String},
    "procedure_unit_parameters": {**PROVENANCE, **PROCEDURE, **UNIT, "group_code": pl.String,
                                  "parameter": pl.String, "value": pl.Float64},
}
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


class _Envelope(msgspec.Struct):
    data: msgspec.Raw


_ENVELOPE = msgspec.json.Decoder(_Envelope)
_DECODERS = {"metrics": msgspec.json.Decoder(_MetricsData),
             "tree": msgspec.json.Decoder(_TreeData)}
_PATH = re.compile(r"^\$\.(evaluation|children|overview|parent)(?:\[(\d+)\])?(.*)$")
_SEGMENT = re.compile(r"\.([A-Za-z_]\w*)")


class _Where:
    """Names file, period, unit and field in an error."""

    def __init__(self, capture: dict, month: date, body: bytes):
        self.file, self.month, self.body = capture["path"], month.isoformat()[:7], body
        self.procedure = capture.get("formality_id")

    def fail(self, unit: str, field_name: str, detail: str) -> StagingError:
        return StagingError(self.file, self.month, unit, field_name,
                            f"procedure {self.procedure}: {detail}")

    def from_msgspec(self, err: msgspec.MsgspecError) -> StagingError:
        """msgspec says ``... - at `$.evaluation[3].metrics[1].score```: name the unit (its
        id and name, read back from the body) and the field."""
        text = str(err)
        detail, _, path = text.partition(" - at ")
        found = _PATH.match(path.strip("`"))
        if not found:
            return self.fail("(response)", path.strip("`") or "(body)", detail)
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

def _empty_columns(table: str) -> dict[str, list]:
    return {c: [] for c in SCHEMAS[table]}


def _text(value, where: _Where, unit: str, key: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise where.fail(unit, key, f"expected text, got {type(value).__name__} {value!r}")
    return value


def _number(row: dict, key: str, where: _Where, unit: str, required: bool) -> float | None:
    if key not in row or row[key] is None:
        if required:
            raise where.fail(unit, key, "field missing or null")
        return None
    value = row[key]
    if not isinstance(value, float):  # msgspec gives every JSON number as a float
        raise where.fail(unit, key, f"expected a JSON number, got {type(value).__name__} "
                                    f"{value!r}")
    return value


def parse_procedure_capture(capture: dict, body: bytes, month: date) -> dict[str, pl.DataFrame]:
    """The staged rows of one kept per-procedure answer (one page), table by table."""
    endpoint = ENDPOINTS.get(capture.get("endpoint"))
    where = _Where(capture, month, body)
    if endpoint is None or endpoint.group_code not in PROCEDURE_GROUPS:
        raise where.fail("(capture)", "endpoint",
                         f"not an endpoint the portal filters by procedure: "
                         f"{capture.get('endpoint')!r}")
    procedure_id = capture.get("formality_id")
    if not isinstance(procedure_id, str) or not procedure_id:
        raise where.fail("(capture)", "formality_id", "capture has no procedure id")
    base = {
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
        data = _ENVELOPE.decode(body).data
        typed = _DECODERS[endpoint.shape].decode(data)
    except msgspec.MsgspecError as err:
        raise where.from_msgspec(err) from None
    if endpoint.shape == "metrics":
        units = [(typed.overview, True)] + [(u, False) for u in typed.evaluation]
        return _metrics_frames(units, base, where, first_page=capture.get("page", 1) == 1)
    return _tree_frames(typed, base, where)


def _unit(uid: str, name, code, utype, level, is_province: bool) -> dict:
    return {"unit_id": uid, "unit_name": name or None, "unit_code": code or None,
            "unit_type": utype or None, "unit_level": level or None,
            "is_province": is_province}


def _metrics_frames(units, base: dict, where: _Where, first_page: bool) -> dict:
    scores, metrics = _empty_columns("procedure_group_scores"), \
        _empty_columns("procedure_unit_metrics")
    for u, is_province in units:
        if is_province and not first_page:
            continue  # a later page repeats the overview
        if not u.departmentId:
            raise where.fail(f"{u.departmentName} (no id)", "departmentId", "empty id")
        ident = _unit(u.departmentId, u.departmentName, u.departmentCode, u.departmentType,
                      u.departmentLevel or u.level, is_province)
        row = {**base, **ident, "score": u.totalScore, "max_score": u.totalMaxScore,
               "ratio": u.ratio, "score_delta": u.scoreDelta}
        for c in scores:
            scores[c].append(row[c])
        for m in u.metrics:
            if not m.code:
                raise where.fail(f"{u.departmentName} ({u.departmentId})", "code",
                                 "metric without a code")
            mrow = {**base, **ident, "metric_code": m.code, "metric_name": m.name,
                    "numerator": m.numerator, "denominator": m.denominator, "ratio": m.ratio,
                    "score": m.score, "max_score": m.maxScore,
                    "data_quality_status": m.dataQualityStatus or None,
                    "data_quality_message": m.dataQualityMessage or None}
            for c in metrics:
                metrics[c].append(mrow[c])
    return {"procedure_group_scores": _frame("procedure_group_scores", scores),
            "procedure_unit_metrics": _frame("procedure_unit_metrics", metrics)}


def _tree_frames(typed: _TreeData, base: dict, where: _Where) -> dict:
    scores, params = _empty_columns("procedure_group_scores"), \
        _empty_columns("procedure_unit_parameters")
    for row, is_province in [(typed.parent, True)] + [(c, False) for c in typed.children]:
        uid = row.get("departmentId")
        label = f"{row.get('departmentName')} ({uid})"
        if not isinstance(uid, str) or not uid:
            raise where.fail(label, "departmentId", "field missing or empty")
        texts = {k: _text(row.get(k), where, label, k) for k in _TREE_IDENTITY}
        ident = _unit(uid, texts["departmentName"], texts["departmentCode"],
                      texts["departmentType"], texts["departmentLevel"] or texts["level"],
                      is_province)
        # children say score/maxScore, the parent totalScore/totalMaxScore
        score_key = "score" if "score" in row and "totalScore" not in row else "totalScore"
        max_key = "maxScore" if "maxScore" in row and "totalMaxScore" not in row \
            else "totalMaxScore"
        srow = {**base, **ident,
                "score": _number(row, score_key, where, label, required=True),
                "max_score": _number(row, max_key, where, label, required=True),
                "ratio": _number(row, "ratio", where, label, required=False),
                "score_delta": _number(row, "scoreDelta", where, label, required=False)}
        for c in scores:
            scores[c].append(srow[c])
        for key in row:
            if key in _TREE_IDENTITY or key in _TREE_SCORE:
                continue
            prow = {**base, **ident, "parameter": key,
                    "value": _number(row, key, where, label, required=False)}
            for c in params:
                params[c].append(prow[c])
    return {"procedure_group_scores": _frame("procedure_group_scores", scores),
            "procedure_unit_parameters": _frame("procedure_unit_parameters", params)}


def _frame(table: str, columns: dict[str, list]) -> pl.DataFrame:
    return pl.DataFrame({c: pl.Series(c, v, dtype=SCHEMAS[table][c])
                         for c, v in columns.items()})


def empty_frames() -> dict[str, pl.DataFrame]:
    return {t: pl.DataFrame(schema=s) for t, s in SCHEMAS.items()}
