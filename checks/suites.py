"""Expectation suites, written as code: what every staged dataset must satisfy.

Each suite is a list of (GX expectation class name, arguments). They are plain
data so the code location loads without importing Great Expectations; the
runner (checks/gx_runner.py) builds the real suites when a run validates. This is
the one place a rule is written: the bulk summary (checks/bulk.py) reads these same
arguments through one translation per expectation kind. Arguments GX would default
(``ignore_row_if``) are spelled out, so neither side restates GX's defaults.
A suite whose ``blocking`` is true stops the load when any expectation fails.
"""

from dataclasses import dataclass

from assets.domain.catalogue import GROUP_CODES, GROUPS, METRICS

from . import summaries

E = tuple[str, dict]


def _not_null(*cols: str) -> list[E]:
    return [("ExpectColumnValuesToNotBeNull", {"column": c}) for c in cols]


def _score_within_max(score: str = "score", max_col: str = "max_score") -> list[E]:
    return [
        ("ExpectColumnValuesToBeBetween", {"column": score, "min_value": 0}),
        ("ExpectColumnPairValuesAToBeGreaterThanB",
         {"column_A": max_col, "column_B": score, "or_equal": True,
          "ignore_row_if": "either_value_is_missing"}),
    ]


def _unique(*cols: str) -> E:
    return ("ExpectCompoundColumnsToBeUnique",
            {"column_list": list(cols), "ignore_row_if": "all_values_are_missing"})


def _none_missing(col: str = "missing_count") -> E:
    return ("ExpectColumnValuesToBeBetween", {"column": col, "min_value": 0, "max_value": 0})


def _ratio_pct(col: str = "ratio") -> E:
    return ("ExpectColumnValuesToBeBetween", {"column": col, "min_value": 0, "max_value": 100})


def _within(col: str, tolerance: float) -> E:
    return ("ExpectColumnValuesToBeBetween",
            {"column": col, "min_value": -tolerance, "max_value": tolerance})


@dataclass(frozen=True)
class Suite:
    name: str  # also the Dagster check name
    dataset: str  # staged table or summary it runs on
    description: str
    expectations: list[E]
    # columns that locate a failing row in a message: the file, the unit, the field
    locate: tuple[str, ...]
    blocking: bool = True


UNIT_KEY = ("month", "province_id", "unit_id")
METRIC_SHAPE_CODES = sorted(c for c, m in METRICS.items()
                            if GROUPS[m.group_code].endpoint in
                            ("transparency", "handling-satisfaction", "dossier-digitized"))

# A province may lose at most half its units from one staged month to the next; more is
# a broken answer (a tree endpoint with ``children: []``), unless the run config says it
# is a real reorganisation (``allow_unit_drop`` with a ``note`` on the staging step).
MIN_UNIT_SHARE = 0.5

SUITES: tuple[Suite, ...] = (
    Suite("unit_metrics_valid", "unit_metrics",
          "keys present and unique; known metric codes; 0 ≤ score ≤ max; 0 ≤ ratio ≤ 100; "
          "0 ≤ numerator ≤ denominator",
          [*_not_null(*UNIT_KEY, "group_code", "metric_code", "max_score", "captured_at",
                      "raw_sha256"),
           _unique(*UNIT_KEY, "metric_code"),
           ("ExpectColumnValuesToBeInSet", {"column": "metric_code",
                                            "value_set": METRIC_SHAPE_CODES}),
           *_score_within_max(), _ratio_pct(),
           ("ExpectColumnValuesToBeBetween", {"column": "numerator", "min_value": 0}),
           ("ExpectColumnValuesToBeBetween", {"column": "denominator", "min_value": 0}),
           ("ExpectColumnPairValuesAToBeGreaterThanB",
            {"column_A": "denominator", "column_B": "numerator", "or_equal": True,
             "ignore_row_if": "either_value_is_missing"})],
          ("raw_path", "unit_name", "unit_id", "metric_code")),
    Suite("unit_group_scores_valid", "unit_group_scores",
          "keys present and unique; 0 ≤ score ≤ max; 0 ≤ ratio ≤ 100",
          [*_not_null(*UNIT_KEY, "group_code", "score", "max_score", "captured_at",
                      "raw_sha256"),
           _unique(*UNIT_KEY, "group_code"),
           ("ExpectColumnValuesToBeInSet", {"column": "group_code",
                                            "value_set": list(GROUP_CODES)}),
           *_score_within_max(), _ratio_pct()],
          ("raw_path", "unit_name", "unit_id", "group_code")),
    Suite("unit_parameters_valid", "unit_parameters",
          "keys present and unique; counts not negative",
          [*_not_null(*UNIT_KEY, "group_code", "parameter", "captured_at", "raw_sha256"),
           _unique(*UNIT_KEY, "group_code", "parameter"),
           ("ExpectColumnValuesToBeBetween", {"column": "value", "min_value": 0})],
          ("raw_path", "unit_name", "unit_id", "parameter")),
    Suite("national_summary_valid", "national_summary",
          "one row per province and month; 0 ≤ group score ≤ group max; total ≤ 100",
          [*_not_null("month", "province_id", "province_code", "province_name",
                      "total_score", "captured_at", "raw_sha256"),
           _unique("month", "province_id"), _unique("month", "province_code"),
           ("ExpectColumnValuesToBeBetween", {"column": "total_score", "min_value": 0,
                                              "max_value": 100}),
           *[("ExpectColumnValuesToBeBetween",
              {"column": g.lower(), "min_value": 0, "max_value": GROUPS[g].max_score})
             for g in GROUP_CODES]],
          ("raw_path", "province_name", "province_code")),
    Suite("group_equals_sum_of_metrics", "group_totals",
          "a unit's group score equals the sum of its metric scores within 0.02",
          [_within("difference", 0.02)],
          ("raw_path", "unit_name", "unit_id", "group_code")),
    Suite("total_equals_sum_of_groups", "national_totals",
          "a province's total equals the sum of its six group scores within 0.05",
          [_within("difference", 0.05)],
          ("raw_path", "province_name", "province_code")),
    Suite("rows_match_declared_total", "response_counts",
          "rows staged from a response equal its pagination.total",
          [("ExpectColumnPairValuesToBeEqual", {"column_A": "declared_total", "column_B": "rows",
                                                 "ignore_row_if": "both_values_are_missing"})],
          ("raw_path", "province_id", "endpoint")),
    Suite("province_count_for_era", "province_counts",
          "the national summary lists the era's number of provinces (63 before 2025-07, 34 after)",
          [("ExpectColumnPairValuesToBeEqual", {"column_A": "expected", "column_B": "provinces",
                                                 "ignore_row_if": "both_values_are_missing"})],
          ("raw_path", "month")),
    Suite("every_metric_present", "metric_coverage",
          "every unit reports every metric of its group (a dropped metric is a format change)",
          [_none_missing()],
          ("raw_path", "unit_name", "unit_id", "group_code", "missing")),
    Suite("every_parameter_present", "parameter_coverage",
          "every unit of a tree endpoint reports the raw counts its metrics are computed from "
          "(a renamed field would otherwise null a metric)",
          [_none_missing()],
          ("raw_path", "unit_name", "unit_id", "group_code", "missing")),
    Suite("units_add_up_to_province", "unit_sums",
          "a tree endpoint's dossier counts (TDGQ received and on time, TTTT paid online and "
          "with a fee) summed over its units equal the province's (a dropped unit breaks it)",
          [("ExpectColumnPairValuesToBeEqual",
            {"column_A": "province_value", "column_B": "units_sum",
             "ignore_row_if": "either_value_is_missing"})],
          ("raw_path", "month", "province_name", "province_id", "group_code", "parameter")),
    Suite("unit_count_kept", "unit_counts",
          f"each group lists at least {MIN_UNIT_SHARE:.0%} of the units the previous staged "
          "month listed for the province (override: allow_unit_drop with a note)",
          [("ExpectColumnValuesToBeBetween", {"column": "unit_share",
                                              "min_value": MIN_UNIT_SHARE})],
          ("raw_path", "month", "province_name", "province_id", "group_code", "units",
           "previous_month", "previous_units")),
    Suite("provinces_of_the_era", "province_identity",
          "every national-summary row is a province of ref.provinces for its era, by "
          "departmentId, and a code it gives is that province's code",
          [("ExpectColumnValuesToBeInSet", {"column": "era_province_id",
                                            "value_set": summaries.era_province_keys()}),
           ("ExpectColumnPairValuesToBeEqual",
            {"column_A": "province_code", "column_B": "reference_code",
             "ignore_row_if": "either_value_is_missing"})],
          ("raw_path", "month", "province_name", "province_id", "province_code")),
    Suite("counts_in_order", "count_order",
          "a unit's counts obey their order: on time ≤ received, online ≤ total, paid online "
          "≤ with a fee, every metric's numerator ≤ its denominator",
          [("ExpectColumnPairValuesAToBeGreaterThanB",
            {"column_A": "whole", "column_B": "part", "or_equal": True,
             "ignore_row_if": "either_value_is_missing"})],
          ("raw_path", "month", "unit_name", "unit_id", "group_code", "rule")),
    Suite("summary_agrees_with_group_endpoints", "group_cross_check",
          "the national summary's group score equals the group endpoint's province total "
          "within 0.05 (warning: the two are captured minutes apart in an open month)",
          [_within("difference", 0.05)],
          ("raw_path", "province_code", "group_code"), blocking=False),
)
