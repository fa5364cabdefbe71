"""Runs the expectation suites with Great Expectations (1.x) on in-memory frames.

GX is imported here, inside the call, never where the code location loads: it
costs seconds. GX's SQL path fails on DuckDB 2.x, so frames are validated as
pandas DataFrames (docs/stack.md).
"""

import json
import os
import re
from dataclasses import dataclass, field

import polars as pl

from .bulk import summarise_all
from .suites import SUITES, Suite


@dataclass
class ExpectationOutcome:
    suite: str
    dataset: str
    expectation: str
    columns: str
    success: bool
    blocking: bool
    element_count: int
    unexpected_count: int
    examples: list[dict] = field(default_factory=list)
    index: int = 0  # position of the expectation in its suite

    def message(self) -> str:
        lines = [f"{self.suite} ({self.dataset}): {self.expectation}({self.columns}) failed on "
                 f"{self.unexpected_count} of {self.element_count} row(s)"]
        for ex in self.examples[:5]:
            lines.append("  - " + ", ".join(f"{k} {v}" for k, v in ex.items()))
        return "\n".join(lines)


@dataclass
class ValidationReport:
    outcomes: list[ExpectationOutcome]

    @property
    def blocking_failures(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if o.blocking and not o.success]

    @property
    def warnings(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.blocking and not o.success]

    def failures_text(self) -> str:
        return "\n".join(o.message() for o in self.blocking_failures)


def _columns(kwargs: dict) -> str:
    for key in ("column", "column_list"):
        if key in kwargs:
            v = kwargs[key]
            return ", ".join(v) if isinstance(v, list) else v
    return ", ".join(str(kwargs[k]) for k in ("column_A", "column_B") if k in kwargs)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _config_key(expectation_type: str, kwargs: dict) -> str:
    keep = {k: float(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
            for k, v in kwargs.items() if k in _IDENTITY and v is not None}
    return expectation_type + json.dumps(keep, sort_keys=True, default=str)


_IDENTITY = ("column", "column_list", "column_A", "column_B", "min_value", "max_value",
             "value_set", "or_equal")


def _plain(value):
    """Dates as 2026-08-01, not pandas timestamps with a midnight."""
    if hasattr(value, "date") and callable(value.date) and getattr(value, "hour", 1) == 0 \
            and getattr(value, "minute", 1) == 0:
        return value.date().isoformat()
    return value


def _examples(result: dict, suite: Suite, kwargs: dict) -> list[dict]:
    examples = []
    for item in (result.get("unexpected_index_list") or [])[:5]:
        if not isinstance(item, dict):
            continue
        ex = {("file" if k == "raw_path" else k): _plain(v) for k, v in item.items()}
        for key in ("column", "column_A", "column_B"):
            col = kwargs.get(key)
            if col and col in item:
                ex[f"field {col} ="] = _plain(item[col])
        examples.append(ex)
    return examples


_GX: dict = {}


def _source():
    """One ephemeral GX context and pandas datasource per process (it costs ~0.3 s)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    if not _GX:
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = {"globally": False}
        _GX.update(gx=gx, source=context.data_sources.add_pandas("chiso766"), n=0)
    _GX["n"] += 1
    return _GX["gx"], _GX["source"], _GX["n"]


def _run_suite(name: str, pdf, expectations: list, result_format: dict):
    import great_expectations.expectations as gxe

    gx, source, n = _source()
    batch = (source.add_dataframe_asset(f"{name}-{n}")
             .add_batch_definition_whole_dataframe("all")
             .get_batch(batch_parameters={"dataframe": pdf}))
    gx_suite = gx.ExpectationSuite(name=f"{name}-{n}")
    for cls_name, kwargs in expectations:
        gx_suite.add_expectation(getattr(gxe, cls_name)(**kwargs))
    return batch.validate(gx_suite, result_format=result_format)


def validate(datasets: dict[str, pl.DataFrame], suites=SUITES) -> ValidationReport:
    """Row by row in GX: every expectation on every row of its dataset."""
    outcomes: list[ExpectationOutcome] = []
    for suite in suites:
        pdf = datasets[suite.dataset].to_pandas()
        locate = [c for c in suite.locate if c in pdf.columns]
        result = _run_suite(suite.name, pdf, suite.expectations, {
            "result_format": "COMPLETE", "unexpected_index_column_names": locate,
            "partial_unexpected_count": 5,
        })
        # GX does not keep the suite's order: match each result to its expectation.
        by_config = {_config_key(_snake(cls), kw): i
                     for i, (cls, kw) in enumerate(suite.expectations)}
        found = {}
        for res in result.results:
            cfg = res.expectation_config
            i = by_config[_config_key(cfg.type, cfg.kwargs)]
            cls_name, kwargs = suite.expectations[i]
            r = res.result or {}
            found[i] = ExpectationOutcome(
                suite=suite.name, dataset=suite.dataset, expectation=cls_name,
                columns=_columns(kwargs), success=bool(res.success), blocking=suite.blocking,
                element_count=int(r.get("element_count") or len(pdf)),
                unexpected_count=int(r.get("unexpected_count") or (0 if res.success else 1)),
                examples=[] if res.success else _examples(r, suite, kwargs), index=i,
            )
        outcomes += [found[i] for i in sorted(found)]
    return ValidationReport(outcomes)


# The compact summary (one row per capture and expectation) is validated by this one
# expectation: no capture has an unexpected row for any expectation of any suite.
SUMMARY_EXPECTATION = ("ExpectColumnValuesToBeBetween",
                       {"column": "unexpected", "min_value": 0, "max_value": 0})


def validate_in_bulk(datasets: dict[str, pl.DataFrame], suites=SUITES) -> ValidationReport:
    """Per-capture summaries validated in one GX batch; a suite with an unexpected row is
    then run row by row in GX (``validate``), so its failure names file, unit and field."""
    summary = summarise_all(datasets, suites)
    result = _run_suite("capture-summaries", summary.to_pandas(), [SUMMARY_EXPECTATION], {
        "result_format": "COMPLETE", "unexpected_index_column_names": ["suite"],
    })
    res = result.results[0]
    flagged = {item["suite"] for item in (res.result or {}).get("unexpected_index_list") or []
               if isinstance(item, dict)}
    if not res.success and not flagged:  # never expected: then trust nothing but rows
        flagged = {s.name for s in suites}
    detailed: dict[str, list[ExpectationOutcome]] = {}
    failing = [s for s in suites if s.name in flagged]
    for o in validate(datasets, failing).outcomes if failing else []:
        detailed.setdefault(o.suite, []).append(o)
    outcomes = []
    for suite in suites:
        if suite.name in detailed:
            outcomes += detailed[suite.name]
            continue
        rows = datasets[suite.dataset].height
        outcomes += [ExpectationOutcome(
            suite=suite.name, dataset=suite.dataset, expectation=cls_name,
            columns=_columns(kwargs), success=True, blocking=suite.blocking,
            element_count=rows, unexpected_count=0, index=i)
            for i, (cls_name, kwargs) in enumerate(suite.expectations)]
    return ValidationReport(outcomes)


def merge_reports(reports: list[ValidationReport]) -> ValidationReport:
    """Months validated one by one, reported as one: counts summed, examples in order."""
    merged: dict[tuple[str, int], ExpectationOutcome] = {}
    for report in reports:
        for o in report.outcomes:
            key = (o.suite, o.index)
            if key not in merged:
                merged[key] = ExpectationOutcome(**{**o.__dict__, "examples": list(o.examples)})
                continue
            m = merged[key]
            m.success = m.success and o.success
            m.element_count += o.element_count
            m.unexpected_count += o.unexpected_count
            m.examples = (m.examples + o.examples)[:5]
    return ValidationReport(list(merged.values()))


def outcome_rows(report: ValidationReport) -> list[dict]:
    return [{"suite": o.suite, "dataset": o.dataset, "expectation": o.expectation,
             "columns": o.columns, "success": o.success, "blocking": o.blocking,
             "element_count": o.element_count, "unexpected_count": o.unexpected_count,
             "examples": json.dumps(o.examples, ensure_ascii=False, default=str)}
            for o in report.outcomes]
