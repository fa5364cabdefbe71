"""Which fields of each portal answer we require and which we only use when present.

Derived from the real captures (data/samples/portal/ and the shared portal-samples:
every endpoint, month/quarter/year, the whole province and one procedure) and, for the
national summary (never captured), from what a crawler of the real portal relies on.
``required``: absent or null stops the parse, naming file, period, unit and field.
Optional: absent or null is staged as NULL (or the fallback ``when_absent`` says).
Either way a value present with the wrong type stops the parse. Fields not listed are
not read (e.g. ``stt``, ``agencyLevel`` and ``averageScore`` on unit rows), except on
tree rows, where every other key is a raw parameter (a number or null).

``python -m assets.staging.fields`` prints the table kept in docs/portal.md (a test
fails when that copy is stale). The reader in parse.py is built from this list: its
msgspec Structs (types, required fields) and the column each field fills come from
here, so the list, the docs and the reader cannot disagree; the tests hold the reader
to it on every real sample file.
"""

from dataclasses import dataclass

from assets.domain.catalogue import GROUP_CODES


@dataclass(frozen=True)
class Field:
    shape: str  # national, metrics (overview + evaluation[]), tree (parent + children[])
    where: str  # "data", "overview", "evaluation[]", "evaluation[].metrics[]", ...
    name: str
    kind: str  # number, text, object, list
    required: bool
    column: str | None  # the staged column it fills (None: structure only)
    when_absent: str = "NULL"


_UNIT_OPTIONAL = (("departmentName", "text", "unit_name"),
                  ("departmentCode", "text", "unit_code"),
                  ("departmentType", "text", "unit_type"),
                  ("departmentLevel", "text", "unit_level"),
                  ("ratio", "number", "ratio"),
                  ("scoreDelta", "number", "score_delta"))


def _unit_fields(shape: str, where: str, score: str, max_score: str) -> list[Field]:
    out = [Field(shape, where, "departmentId", "text", True, "unit_id"),
           Field(shape, where, score, "number", True, "score"),
           Field(shape, where, max_score, "number", True, "max_score")]
    for name, kind, column in _UNIT_OPTIONAL:
        fallback = "`level`, else NULL" if name == "departmentLevel" else "NULL"
        out.append(Field(shape, where, name, kind, False, column, fallback))
    out.append(Field(shape, where, "level", "text", False, "unit_level",
                     "`departmentLevel`, else NULL"))
    return out


def _metric_fields(where: str) -> list[Field]:
    w = f"{where}.metrics[]"
    return [Field("metrics", where, "metrics", "list", True, None),
            Field("metrics", w, "code", "text", True, "metric_code"),
            Field("metrics", w, "maxScore", "number", True, "max_score"),
            Field("metrics", w, "name", "text", False, "metric_name"),
            *(Field("metrics", w, n, "number", False, n)
              for n in ("numerator", "denominator", "ratio", "score")),
            Field("metrics", w, "dataQualityStatus", "text", False, "data_quality_status"),
            Field("metrics", w, "dataQualityMessage", "text", False, "data_quality_message")]


_ONE_PAGE = "one complete page, checked against the era's province count (34)"
_CRAWLER_NEEDS = "staged with `declared_total` NULL, but the crawler stops: it needs " \
                 "`totalPages` to walk the pages and `total` to check the rows"

FIELDS: tuple[Field, ...] = (
    # the national summary (service-results): the minimal shape a real crawler relies on
    Field("national", "data", "overview", "object", False, None,
          "no portal average: every figure computed from the provinces"),
    Field("national", "data", "evaluation", "list", True, None),
    Field("national", "data", "pagination", "object", False, None, _ONE_PAGE),
    Field("national", "pagination", "total", "number", False, "declared_total"),
    Field("national", "overview", "departmentName", "text", False, "label"),
    Field("national", "overview", "totalScore", "number", True, "total_score"),
    Field("national", "overview", "groupScores", "object", False, None,
          "each group's average computed from the provinces "
          "(`national_avg_source = 'computed'`)"),
    *(Field("national", "overview.groupScores", g, "number", False, g.lower(),
            "computed from the provinces") for g in GROUP_CODES),
    Field("national", "evaluation[]", "departmentId", "text", True, "province_id"),
    Field("national", "evaluation[]", "departmentName", "text", True, "province_name"),
    Field("national", "evaluation[]", "totalScore", "number", True, "total_score"),
    Field("national", "evaluation[]", "groupScores", "object", True, None),
    *(Field("national", "evaluation[].groupScores", g, "number", True, g.lower())
      for g in GROUP_CODES),
    Field("national", "evaluation[]", "departmentCode", "text", False, "province_code",
          "from `ref.provinces` by `departmentId` (an unknown id stops the parse)"),
    Field("national", "evaluation[]", "stt", "number", False, "rank_reported",
          "NULL; the marts rank by total anyway"),
    Field("national", "evaluation[]", "ratio", "number", False, "ratio"),
    Field("national", "evaluation[]", "scoreDelta", "number", False, "score_delta"),
    # transparency, handling-satisfaction, dossier-digitized
    Field("metrics", "data", "overview", "object", True, None),
    Field("metrics", "data", "evaluation", "list", True, None),
    Field("metrics", "data", "pagination", "object", False, None, _CRAWLER_NEEDS),
    Field("metrics", "pagination", "total", "number", False, "declared_total"),
    *_unit_fields("metrics", "overview", "totalScore", "totalMaxScore"),
    *_metric_fields("overview"),
    *_unit_fields("metrics", "evaluation[]", "totalScore", "totalMaxScore"),
    *_metric_fields("evaluation[]"),
    # dvc-progress-tree, provide-online-tree, formality-online-payment-tree
    Field("tree", "data", "parent", "object", True, None),
    Field("tree", "data", "children", "list", True, None),
    *_unit_fields("tree", "parent", "totalScore | score", "totalMaxScore | maxScore"),
    *_unit_fields("tree", "children[]", "totalScore | score", "totalMaxScore | maxScore"),
)

# Objects whose keys not listed above are raw parameters (a number or null), one staged
# row each in unit_parameters: the tree endpoints' rows.
PARAMETER_ROWS = frozenset({("tree", "parent"), ("tree", "children[]")})


def fields_of(shape: str, required: bool | None = None) -> list[Field]:
    return [f for f in FIELDS if f.shape == shape and (required is None or f.required == required)]


def render() -> str:
    """The markdown table for docs/portal.md."""
    out = ["| endpoints | where | field | type | required | staged as | when absent |",
           "|---|---|---|---|---|---|---|"]
    for f in FIELDS:
        column = f"`{f.column}`" if f.column else ""
        absent = "stops the parse" if f.required else f.when_absent
        out.append(f"| {f.shape} | `{f.where}` | `{f.name}` | {f.kind} | "
                   f"{'yes' if f.required else 'no'} | {column} | {absent} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(render(), end="")
