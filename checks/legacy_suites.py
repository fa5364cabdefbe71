"""Expectation suites for the history tables (legacy service, ranking spreadsheets).

Same discipline as checks/suites.py: plain data, run by checks/gx_runner.py before the
write, blocking. ``dataset`` names the staged frame or a summary from
assets/staging/legacy_parse.py::history_summaries.
"""

from assets.domain.catalogue import GROUP_CODES, GROUPS

from .suites import Suite, _not_null, _within

ONLINE_MAX = GROUPS["CLGQ"].max_score + GROUPS["TTTT"].max_score


def legacy_suites(dataset: str) -> tuple[Suite, ...]:
    """The suites for one history table (``legacy_scores`` or ``spreadsheet_scores``)."""
    where = ("raw_path", "month", "province_name_written", "unit_name")
    return (
        Suite(f"{dataset}_valid", dataset,
              "keys present; one row per province (or unit) and file; 0 ≤ group score ≤ "
              "group max; 0 ≤ merged online score ≤ 22; 0 ≤ total ≤ 100",
              [*_not_null("month", "era", "source", "level", "province_key", "total_score",
                          "captured_at", "raw_sha256", "ckmb", "tdgq", "mdhl", "mdsh"),
               ("ExpectCompoundColumnsToBeUnique",
                {"column_list": ["raw_sha256", "level", "province_key", "unit_id"],
                 "ignore_row_if": "all_values_are_missing"}),
               ("ExpectColumnValuesToBeBetween",
                {"column": "total_score", "min_value": 0, "max_value": 100}),
               ("ExpectColumnValuesToBeBetween",
                {"column": "online_combined", "min_value": 0, "max_value": ONLINE_MAX}),
               *[("ExpectColumnValuesToBeBetween",
                  {"column": g.lower(), "min_value": 0, "max_value": GROUPS[g].max_score})
                 for g in GROUP_CODES]],
              where),
        Suite(f"{dataset}_total_equals_groups", f"{dataset}:history_totals",
              "a row's total equals the sum of its group scores (or of the merged layout's "
              "five columns) within 0.05",
              [_within("difference", 0.05)], where),
        Suite(f"{dataset}_province_count_for_era", f"{dataset}:history_counts",
              "a ranking lists the era's number of provinces (63 before 2025-07, 34 after)",
              [("ExpectColumnPairValuesToBeEqual",
                {"column_A": "expected", "column_B": "provinces",
                 "ignore_row_if": "both_values_are_missing"})],
              ("raw_path", "month")),
    )
