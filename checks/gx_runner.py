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

    def suite_passed(self, suite: str) -> bool:
        return all(o.success for o in self.outcomes if o.suite == suite)

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


def validate(datasets: dict[str, pl.DataFrame], suites=SUITES) -> ValidationReport:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    import great_expectations.expectations as gxe

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    source = context.data_sources.add_pandas("chiso766")
    outcomes: list[ExpectationOutcome] = []
    for suite in suites:
        frame = datasets[suite.dataset]
        pdf = frame.to_pandas()
        batch = (source.add_dataframe_asset(suite.name)
                 .add_batch_definition_whole_dataframe("all")
                 .get_batch(batch_parameters={"dataframe": pdf}))
        gx_suite = gx.ExpectationSuite(name=suite.name)
        for cls_name, kwargs in suite.expectations:
            gx_suite.add_expectation(getattr(gxe, cls_name)(**kwargs))
        locate = [c for c in suite.locate if c in pdf.columns]
        result = batch.validate(gx_suite, result_format={
            "result_format": "COMPLETE", "unexpected_index_column_names": locate,
            "partial_unexpected_count": 5,
        })
        # GX does not keep the suite's order: match each result to its expectation.
        by_config = {_config_key(_snake(cls), kw): (cls, kw) for cls, kw in suite.expectations}
        for res in result.results:
            cfg = res.expectation_config
            cls_name, kwargs = by_config[_config_key(cfg.type, cfg.kwargs)]
            r = res.result or {}
            outcomes.append(ExpectationOutcome(
                suite=suite.name, dataset=suite.dataset, expectation=cls_name,
                columns=_columns(kwargs), success=bool(res.success), blocking=suite.blocking,
                element_count=int(r.get("element_count") or len(pdf)),
                unexpected_count=int(r.get("unexpected_count") or (0 if res.success else 1)),
                examples=[] if res.success else _examples(r, suite, kwargs),
            ))
    return ValidationReport(outcomes)


def outcome_rows(report: ValidationReport) -> list[dict]:
    return [{"suite": o.suite, "dataset": o.dataset, "expectation": o.expectation,
             "columns": o.columns, "success": o.success, "blocking": o.blocking,
             "element_count": o.element_count, "unexpected_count": o.unexpected_count,
             "examples": json.dumps(o.examples, ensure_ascii=False, default=str)}
            for o in report.outcomes]
