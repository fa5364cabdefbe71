"""Expectation suites for the per-procedure tables (issue 15), run by the staging engine
before the write, blocking. Same discipline as checks/suites.py: plain data.

``procedure_units_within_the_procedure``: a procedure's unit rows never hold more
dossiers than the procedure's province row (the portal's children add up to the parent
in every real answer), checked on a summary (``procedure_unit_sums``).
"""

import polars as pl

from .suites import Suite, _not_null, _score_within_max, _unique
from .summaries import SUMMED_PARAMETERS

WHERE = ("raw_path", "month", "procedure_code", "unit_name", "group_code")

PROCEDURE_SUITES: tuple[Suite, ...] = (
    Suite("procedure_group_scores_valid", "procedure_group_scores",
          "keys present; one row per procedure, unit and group; 0 ≤ score ≤ its maximum",
          [*_not_null("month", "province_id", "procedure_id", "unit_id", "group_code",
                      "raw_sha256"),
           _unique("month", "province_id", "procedure_id", "unit_id", "group_code"),
           *_score_within_max()],
          WHERE),
    Suite("procedure_unit_metrics_valid", "procedure_unit_metrics",
          "keys present; one row per procedure, unit and metric; 0 ≤ score ≤ its maximum; "
          "counts not negative",
          [*_not_null("month", "province_id", "procedure_id", "unit_id", "metric_code"),
           _unique("month", "province_id", "procedure_id", "unit_id", "metric_code"),
           *_score_within_max(),
           ("ExpectColumnValuesToBeBetween", {"column": "denominator", "min_value": 0})],
          WHERE),
    Suite("procedure_units_within_the_procedure", "procedure_unit_sums",
          "per procedure and summed count, the units' counts add up to no more than the "
          "procedure's province row (within 0.5)",
          [("ExpectColumnValuesToBeBetween", {"column": "excess", "max_value": 0.5})],
          ("month", "procedure_code", "group_code", "parameter")),
)


def procedure_unit_sums(frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Per procedure and summed count (the ones the province's units add up to,
    checks/summaries.py SUMMED_PARAMETERS): the units' sum minus the procedure's row."""
    p = frames["procedure_unit_parameters"].filter(pl.any_horizontal(
        (pl.col("group_code") == g) & pl.col("parameter").is_in(list(names))
        for g, names in SUMMED_PARAMETERS.items()))
    key = ["month", "province_id", "procedure_id", "procedure_code", "group_code",
           "parameter"]
    if p.is_empty():
        return pl.DataFrame(schema={**{k: p.schema[k] for k in key}, "excess": pl.Float64})
    units = p.filter(~pl.col("is_province")).group_by(key).agg(pl.col("value").sum()
                                                             .alias("units"))
    province = p.filter(pl.col("is_province")).select(*key, pl.col("value").alias("province"))
    return (province.join(units, on=key, how="inner")
            .select(*key, (pl.col("units") - pl.col("province")).alias("excess")))


def procedure_datasets(frames: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    return {**frames, "procedure_unit_sums": procedure_unit_sums(frames)}
