"""Compact summaries that rules spanning many rows are checked on.

GX checks one row at a time; a sum over a unit's metrics or a count per
response is first computed here (polars), then validated like any table.
"""

from datetime import date

import polars as pl

from assets.domain.catalogue import GROUP_CODES, expected_province_count, metrics_of
from assets.sources.endpoints import GROUP_ENDPOINTS


def group_totals(frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Per unit and group: the reported group score against the sum of its metric scores."""
    sums = (frames["unit_metrics"]
            .group_by("month", "province_id", "unit_id", "group_code")
            .agg(pl.col("score").fill_null(0).sum().alias("metric_sum")))
    return (frames["unit_group_scores"]
            .join(sums, on=["month", "province_id", "unit_id", "group_code"], how="inner")
            .select("month", "province_id", "unit_id", "unit_name", "group_code", "raw_path",
                    pl.col("score").alias("reported_score"), "metric_sum",
                    (pl.col("score") - pl.col("metric_sum")).round(6).alias("difference")))


def national_totals(frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Per province: the reported total against the sum of its six group scores."""
    groups = pl.sum_horizontal([pl.col(g.lower()) for g in GROUP_CODES])
    return frames["national_summary"].select(
        "month", "province_id", "province_code", "province_name", "raw_path",
        pl.col("total_score").alias("reported_total"), groups.alias("group_sum"),
        (pl.col("total_score") - groups).round(6).alias("difference"))


def response_counts(frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Per paginated response: rows staged against the portal's declared total."""
    return (frames["captures"].filter(pl.col("declared_total").is_not_null())
            .group_by("month", "province_id", "endpoint")
            .agg(pl.col("declared_total").max(), pl.col("rows_in_page").sum().alias("rows"),
                 pl.col("raw_path").first()))


def province_counts(frames: dict[str, pl.DataFrame], months: list[date]) -> pl.DataFrame:
    """Per month: provinces in the national summary against the era's expected count."""
    counted = frames["national_summary"].group_by("month").agg(
        pl.len().alias("provinces"), pl.col("raw_path").first())
    wanted = pl.DataFrame({"month": months,
                           "expected": [expected_province_count(m) for m in months]},
                          schema={"month": pl.Date, "expected": pl.Int64})
    return (wanted.join(counted, on="month", how="left")
            .with_columns(pl.col("provinces").fill_null(0).cast(pl.Int64)))


def group_cross_check(frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """The national summary's group scores against the group endpoints' province rows."""
    national = frames["national_summary"].unpivot(
        index=["month", "province_id", "province_code"], on=[g.lower() for g in GROUP_CODES],
        variable_name="group", value_name="summary_score",
    ).with_columns(pl.col("group").str.to_uppercase().alias("group_code")).drop("group")
    own = frames["unit_group_scores"].filter(pl.col("is_province")).select(
        "month", "province_id", "group_code", "raw_path",
        pl.col("score").alias("endpoint_score"))
    return own.join(national, on=["month", "province_id", "group_code"], how="inner").with_columns(
        (pl.col("endpoint_score") - pl.col("summary_score")).round(6).alias("difference"))


def _coverage(base: pl.DataFrame, have: pl.DataFrame, expected: dict[str, list[str]],
              item: str) -> pl.DataFrame:
    """Per unit and group: which expected items (metric codes, parameters) are missing."""
    keys = ["month", "province_id", "unit_id", "group_code"]
    wanted = pl.DataFrame({"group_code": list(expected), "expected": list(expected.values())},
                          schema={"group_code": pl.String, "expected": pl.List(pl.String)})
    got = have.group_by(keys).agg(pl.col(item).unique().alias("present"))
    return (base.join(wanted, on="group_code", how="inner")
            .select(*keys, "unit_name", "raw_path", "expected")
            .join(got, on=keys, how="left")
            .with_columns(pl.col("expected").list.set_difference(
                pl.col("present").fill_null(pl.lit([], dtype=pl.List(pl.String))))
                .list.sort().alias("missing_list"))
            .with_columns(pl.col("missing_list").list.len().alias("missing_count"),
                          pl.col("missing_list").list.join(", ").alias("missing"))
            .drop("expected", "present", "missing_list"))


def metric_coverage(frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """A metric the portal stopped sending shows up here, not as a quietly smaller group."""
    expected = {g: sorted(m.code for m in metrics_of(g))
                for g, e in GROUP_ENDPOINTS.items() if e.shape == "metrics"}
    return _coverage(frames["unit_group_scores"], frames["unit_metrics"], expected,
                     "metric_code")


def parameter_coverage(frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """A renamed or missing raw count (TDGQ, TTTT) would silently null a metric."""
    expected = {}
    for g, e in GROUP_ENDPOINTS.items():
        needed = {p for m in metrics_of(g) for p in (m.numerator_param, m.denominator_param) if p}
        if e.shape == "tree" and needed:
            expected[g] = sorted(needed)
    return _coverage(frames["unit_group_scores"], frames["unit_parameters"], expected,
                     "parameter")
