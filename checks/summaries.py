"""Compact summaries that rules spanning many rows are checked on.

GX checks one row at a time; a sum over a unit's metrics or a count per
response is first computed here (polars), then validated like any table.
"""

from datetime import date

import polars as pl

from assets.domain.catalogue import GROUP_CODES, metrics_of
from assets.months import MERGER_MONTH, Era, expected_province_count
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


# ---------------------------------------------------------------------------------------
# Counts that must hold together (issue 11): units add up to their province, the number
# of units does not collapse, provinces are the era's, counts obey their order.

# Dossier counts of a tree endpoint that its units add up to exactly (every real capture:
# TDGQ 184,513 received = the sum over the 163 units of Phú Thọ). Counts of procedures
# (totalFeeFormality, ...) do not add up: one procedure is offered by many units.
SUMMED_PARAMETERS: dict[str, tuple[str, ...]] = {
    "TDGQ": ("totalReceived", "totalOnTime"),
    "TTTT": ("totalDossierOnlinePaymentSuccess", "totalDossierFinancialObligation"),
}


def _count_order() -> dict[str, tuple[tuple[str, str], ...]]:
    """(part, whole) per tree group: every metric's numerator ≤ its denominator, plus the
    orders every real capture obeys (a part of a total is not above it)."""
    pairs: dict[str, list[tuple[str, str]]] = {}
    for group, endpoint in GROUP_ENDPOINTS.items():
        if endpoint.shape != "tree":
            continue
        pairs[group] = [(m.numerator_param, m.denominator_param) for m in metrics_of(group)
                        if m.numerator_param and m.denominator_param]
    pairs["TDGQ"] += [("totalCompleted", "totalReceived")]
    pairs["CLGQ"] += [("channelOnlineSum", "channelTotalSum"),
                      ("channelDirectSum", "channelTotalSum"),
                      ("channelPostalSum", "channelTotalSum"),
                      ("onlineOnTimeSum", "channelOnlineSum"),
                      ("onlineOverdueSum", "channelOnlineSum"),
                      ("partialCount", "authorityCount"), ("fullCount", "authorityCount")]
    return {g: tuple(dict.fromkeys(p)) for g, p in pairs.items() if p}


COUNT_ORDER = _count_order()
_UNIT_KEYS = ["month", "province_id", "unit_id", "group_code"]


def unit_sums(frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Per province, tree group and summed count: the province's figure against the sum
    over its units (0 when the endpoint listed no unit at all)."""
    params = frames["unit_parameters"].filter(pl.any_horizontal(
        (pl.col("group_code") == g) & pl.col("parameter").is_in(list(p))
        for g, p in SUMMED_PARAMETERS.items()))
    keys = ["month", "province_id", "group_code", "parameter"]
    province = params.filter(pl.col("is_province")).select(
        *keys, "raw_path", pl.col("unit_name").alias("province_name"),
        pl.col("value").alias("province_value"))
    units = params.filter(~pl.col("is_province")).group_by(keys).agg(
        pl.col("value").fill_null(0).sum().alias("units_sum"), pl.len().alias("units"))
    return (province.join(units, on=keys, how="left")
            .with_columns(pl.col("units_sum").fill_null(0.0),
                          pl.col("units").fill_null(0).cast(pl.Int64),
                          (pl.col("province_value") - pl.col("units_sum").fill_null(0.0))
                          .alias("difference")))


def count_order(frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Per unit and ordered pair of its counts: the part against the whole."""
    pairs = pl.DataFrame(
        [(g, part, whole, f"{part} ≤ {whole}") for g, ps in COUNT_ORDER.items()
         for part, whole in ps],
        schema={"group_code": pl.String, "part_parameter": pl.String,
                "whole_parameter": pl.String, "rule": pl.String}, orient="row")
    params = frames["unit_parameters"].filter(
        pl.col("group_code").is_in(list(COUNT_ORDER))).select(
        *_UNIT_KEYS, "unit_name", "raw_path", "parameter", "value")
    part = params.rename({"parameter": "part_parameter", "value": "part"})
    whole = params.select(*_UNIT_KEYS, pl.col("parameter").alias("whole_parameter"),
                          pl.col("value").alias("whole"))
    return (part.join(pairs, on=["group_code", "part_parameter"], how="inner")
            .join(whole, on=[*_UNIT_KEYS, "whole_parameter"], how="inner")
            .select(*_UNIT_KEYS, "unit_name", "raw_path", "rule", "part", "whole"))


def _era_provinces() -> pl.DataFrame:
    from assets.domain.provinces import province_reference

    return pl.DataFrame(
        [(p.era, p.department_id, p.code) for p in province_reference() if p.department_id],
        schema={"era": pl.String, "province_id": pl.String, "reference_code": pl.String},
        orient="row")


def era_province_keys() -> list[str]:
    """'<era>:<departmentId>' of every province of ref.provinces the portal has an id for."""
    return sorted(f"{r['era']}:{r['province_id']}" for r in _era_provinces().to_dicts())


def province_identity(frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Each national-summary row against ref.provinces of its month's era, by id: its era
    key (unknown ids fail the set), and the code the reference gives that id."""
    era = (pl.when(pl.col("month") >= MERGER_MONTH).then(pl.lit(Era.MERGED.value))
           .otherwise(pl.lit(Era.PRE_MERGER.value)))
    return (frames["national_summary"]
            .select("month", "province_id", "province_code", "province_name", "raw_path",
                    era.alias("era"))
            .join(_era_provinces(), on=["era", "province_id"], how="left")
            .with_columns(pl.concat_str("era", pl.lit(":"), pl.col("province_id")
                                        .fill_null("(none)")).alias("era_province_id")))


def unit_counts(frames: dict[str, pl.DataFrame],
                previous: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per province and group: units listed this month against the previous staged
    month's (``previous``: province_id, group_code, previous_month, previous_units).
    The share is null where there is nothing to compare with."""
    counted = (frames["unit_group_scores"]
               .group_by("month", "province_id", "group_code")
               .agg((~pl.col("is_province")).sum().cast(pl.Int64).alias("units"),
                    pl.col("raw_path").first(),
                    pl.col("unit_name").filter(pl.col("is_province")).first()
                    .alias("province_name")))
    if previous is None:
        previous = pl.DataFrame(schema=PREVIOUS_UNITS_SCHEMA)
    return (counted.join(previous.select(list(PREVIOUS_UNITS_SCHEMA)),
                         on=["province_id", "group_code"], how="left")
            .with_columns((pl.col("units") / pl.col("previous_units")).alias("unit_share")))


PREVIOUS_UNITS_SCHEMA = {"province_id": pl.String, "group_code": pl.String,
                         "previous_month": pl.Date, "previous_units": pl.Int64}
