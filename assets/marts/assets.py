"""marts/*: the monthly indicator tables, each built from its own SQL file in sql/."""

import dagster as dg

from assets.partitions import monthly_partitions, months_in_window
from assets.resources import WarehouseResource
from assets.warehouse import ensure_schema, months_after, rebuild_mart_months, refresh_reference

STAGING = lambda *names: [dg.AssetKey(["staging", n]) for n in names]  # noqa: E731

MARTS = {
    "province_monthly": (
        STAGING("national_summary", "national_average"),
        "Each province's total, rank of the month, provisional band, gap to the best and "
        "change since the previous month."),
    "group_monthly": (
        STAGING("national_summary", "national_average"),
        "Each province's six group scores, points lost, national average, best and rank."),
    "metric_monthly": (
        STAGING("unit_metrics", "unit_parameters", "unit_group_scores"),
        "Each pulled province's metrics: counts, ratio, score, points lost, data-quality "
        "flags."),
    "unit_points_lost": (
        STAGING("unit_metrics", "unit_parameters", "unit_group_scores"),
        "Which unit lost the points: each unit's exact share of the province's loss where "
        "the arithmetic allows, otherwise the province-level or not-attributable amount."),
}


def _mart(name: str, deps: list[dg.AssetKey], description: str):
    @dg.asset(key=["marts", name], deps=deps, group_name="marts", description=description,
              partitions_def=monthly_partitions,
              backfill_policy=dg.BackfillPolicy.single_run(), pool="duckdb_warehouse",
              kinds={"duckdb", "sql"})
    def build(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        months = months_in_window(context)
        with warehouse.get_connection() as con:
            ensure_schema(con)
            refresh_reference(con)
            # The month after a rebuilt one has a month-over-month change to refresh too.
            touched = months_after(con, months)
            rows = rebuild_mart_months(con, f"marts.{name}", touched)
        return dg.MaterializeResult(metadata={
            "rows": rows, "table": f"marts.{name}",
            "months_rebuilt": ", ".join(m.isoformat()[:7] for m in touched)})

    return build


mart_assets = [_mart(name, deps, desc) for name, (deps, desc) in MARTS.items()]


@dg.asset_check(asset=dg.AssetKey(["marts", "unit_points_lost"]), blocking=True,
                pool="duckdb_warehouse",
                description="Exact unit shares add up to the province's points lost on each "
                            "metric (within 0.02).")
def unit_shares_add_up(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    query = """
        SELECT u.month, u.province_code, u.metric_code, sum(u.points_lost) AS shares,
               any_value(m.points_lost) AS province_lost
        FROM marts.unit_points_lost u
        JOIN marts.metric_monthly m USING (month, province_id, metric_code)
        WHERE u.method = 'exact_pooled'
        GROUP BY ALL
        HAVING abs(sum(u.points_lost) - any_value(m.points_lost)) > 0.02
        ORDER BY 1, 2, 3
    """
    with warehouse.get_connection() as con:
        bad = con.execute(query).fetchall()
    return dg.AssetCheckResult(
        passed=not bad,
        metadata={"mismatches": len(bad),
                  "examples": "\n".join(f"{r[0]:%Y-%m} {r[1]} {r[2]}: units {r[3]:.3f} vs "
                                        f"province {r[4]:.3f}" for r in bad[:10]) or "none"})
