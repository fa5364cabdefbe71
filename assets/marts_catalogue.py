"""The marts, as a list: what each is built from and what it answers (ground floor).

The layers above the marts (publish, report) and the marts' own build and checks read
this list here, so nothing imports a layer above it: ``assets/marts/build.py`` turns
each entry into an asset, ``checks/marts.py`` holds each mart's checks, and publish
reads the tables themselves from the warehouse's catalogue.
"""

import dagster as dg


def _keys(prefix: str, *names: str) -> list[dg.AssetKey]:
    return [dg.AssetKey([prefix, n]) for n in names]


REFERENCE_KEY = dg.AssetKey(["ref", "reference_tables"])
HISTORY_STAGING = _keys("staging", "national_summary", "national_average", "legacy_scores",
                        "spreadsheet_scores", "national_summary_history")
UNIT_STAGING = _keys("staging", "unit_metrics", "unit_parameters", "unit_group_scores")
# the staged per-procedure answers (assets/staging/procedure_load.py)
PROCEDURE_STAGING = _keys("staging", "procedure_group_scores", "procedure_unit_metrics",
                          "procedure_unit_parameters")

# name -> (upstream assets, description); the order is the build order. Every mart also
# depends on the reference tables (REFERENCE_KEY).
MARTS: dict[str, tuple[list[dg.AssetKey], str]] = {
    "province_monthly": (
        HISTORY_STAGING,
        "Each province's total, rank of the month, provisional band, gap to the best and "
        "change since the previous month — every month since 2022-08, with its era and "
        "source, and a comparable series for today's 34 provinces before the merger."),
    "group_monthly": (
        HISTORY_STAGING,
        "Each province's six group scores, points lost, national average, best and rank, "
        "every month since 2022-08 (same series as province_monthly)."),
    "province_daily": (
        _keys("staging", "national_summary_history"),
        "How each month's scores moved day by day: every province's total, groups and rank "
        "on each day the national summary was captured, and the change since the day "
        "before."),
    "metric_monthly": (
        UNIT_STAGING,
        "Each pulled province's metrics: counts, ratio, score, points lost, data-quality "
        "flags."),
    "unit_points_lost": (
        # after metric_monthly: its check compares the two
        UNIT_STAGING + _keys("marts", "metric_monthly"),
        "Which unit lost the points: each unit's share of the province's loss on a metric "
        "(split by its missing count where the counts are pooled), otherwise the "
        "province-level or not-attributable amount, with the reason."),
    "procedure_monthly": (
        # after metric_monthly: its procedures share the province's loss on each metric
        PROCEDURE_STAGING + _keys("marts", "metric_monthly"),
        "Which procedures cost the points: each procedure's group scores and counts from the "
        "portal's per-procedure answers, the points the province loses through it (its "
        "shortfall pooled over the province's denominator), its share of the dossiers, and "
        "a remainder row for the procedures not crawled."),
    "unit_procedure_points_lost": (
        PROCEDURE_STAGING + _keys("staging", "unit_group_scores")
        + _keys("marts", "procedure_monthly"),
        "Who, on which procedure: each unit's share of a procedure's points lost on the "
        "pooled metrics."),
    "score_recomputation": (
        UNIT_STAGING,
        "The portal's scores recomputed from the raw counts (CKMB, TDGQ, TTTT, MDHL, MDSH) "
        "per metric and unit, CLGQ where its parameters are sent (the province) with a "
        "fitted formula, and the difference."),
    "recoverable_points": (
        _keys("marts", "province_monthly", "group_monthly", "metric_monthly",
              "unit_points_lost"),
        "What-if per metric: points and counts needed to reach the best pulled province, "
        "the bar, or the median unit, and the rank the province would then hold."),
    "score_change_explained": (
        _keys("marts", "province_monthly", "group_monthly", "metric_monthly",
              "unit_points_lost"),
        "Month over month: the change in the total split into groups and metrics, and the "
        "units that moved most."),
}

# Above this, our recomputed score and the portal's differ for a reason (the check
# recomputed_scores_match_portal warns; the scorecard says so in its warnings).
RECOMPUTATION_TOLERANCE = 0.02


def mart_order(table: str) -> tuple[int, str]:
    """Sort key for mart names: the build order above, then any other mart by name."""
    names = list(MARTS)
    return (names.index(table) if table in names else len(names), table)
