"""staging/*: the month's captures parsed into typed tables, validated, then loaded, by
the staging engine (assets/staging/engine.py), one path after the other (MONTHLY_PATHS).

Validation runs before the write and blocks it: a month that fails keeps the
staging and mart rows it had, and the run fails with the file, unit and field.

Months are processed one at a time (parse, validate, set aside as Parquet), so memory
holds one month's frames however many months a run covers; the validated months are
then loaded in one transaction, and a failure in any month loads none. A month whose latest complete
crawl has exactly the captures (sha256) already staged is not parsed again.
"""

from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl

from assets.metadata import add_partition_metadata, table_metadata
from assets.months import Era, month_key, partition_key
from assets.partitions import monthly_partitions, months_in_window
from assets.raw.store import RawStore
from assets.resources import ChisoSettings, StagingConfig, WarehouseResource
from assets.tables import PORTAL, asset_key
from assets.warehouse import ensure_schema
from checks import summaries
from checks.suites import SUITES

from .engine import (
    Batch,
    Reads,
    StagedPath,
    UnitComparison,
    check_results,
    latest_session,
    stage,
)
from .legacy import LEGACY_KEY, LEGACY_PATH
from .nightly import DAILY_KEY, NIGHTLY_PATH
from .parse import Rows, parse_capture

RAW_KEY = dg.AssetKey(["raw", "portal_captures"])
STAGING_KEYS = {t: asset_key(t) for t in PORTAL}

# Which staged table a suite's result is shown on in the UI.
CHECK_TARGET = {"unit_metrics": "unit_metrics", "unit_group_scores": "unit_group_scores",
                "unit_parameters": "unit_parameters", "national_summary": "national_summary",
                "group_totals": "unit_group_scores", "national_totals": "national_summary",
                "response_counts": "captures", "province_counts": "national_summary",
                "group_cross_check": "unit_group_scores", "metric_coverage": "unit_metrics",
                "parameter_coverage": "unit_parameters", "unit_sums": "unit_parameters",
                "unit_counts": "unit_group_scores", "province_identity": "national_summary",
                "count_order": "unit_parameters"}

DESCRIPTIONS = {
    "legacy_scores": "Months before 2025-07 from the legacy service (report_tinh_766_service): "
                     "every province's six group scores, total and rank of the time (63 "
                     "provinces), and the units of the pulled provinces.",
    "national_summary_history": "The national summary of every complete crawl of a month "
                                "(one per night while it is open), for marts.province_daily.",
    "captures": "One row per kept response page: endpoint, sha256, declared and staged rows.",
    "national_summary": "Every province's total and six group scores from service-results.",
    "national_average": "The national average (Cả nước) from service-results.",
    "unit_group_scores": "Each unit's score per group (province rows flagged is_province).",
    "unit_metrics": "Each unit's metrics as the portal reports them (CKMB, MDHL, MDSH).",
    "unit_parameters": "Each unit's raw parameters from the tree endpoints (TDGQ, CLGQ, TTTT).",
}


def parse_portal(batch: Batch, reads: Reads) -> dict[str, pl.DataFrame]:
    """One month's crawl → the current API's tables."""
    rows = Rows()
    for _session, capture, body in reads:
        parse_capture(capture, body, rows, batch.month)
    return rows.frames()


def previous_unit_counts(con, month: date) -> pl.DataFrame:
    """Units per province and group in the latest month staged before ``month``."""
    return con.sql("""
        SELECT province_id, group_code, month AS previous_month,
               count(*) FILTER (WHERE NOT is_province) AS previous_units
        FROM staging.unit_group_scores
        WHERE month = (SELECT max(month) FROM staging.unit_group_scores WHERE month < $month)
        GROUP BY ALL""", params={"month": month}).pl().cast(summaries.PREVIOUS_UNITS_SCHEMA)


def _unit_counts_of(frames: dict[str, pl.DataFrame], month: date) -> pl.DataFrame:
    """This month's units per province and group, as the next month compares with them."""
    return (summaries.unit_counts(frames)
            .select("province_id", "group_code", pl.lit(month).alias("previous_month"),
                    pl.col("units").alias("previous_units"))
            .cast(summaries.PREVIOUS_UNITS_SCHEMA))


def validation_datasets(frames: dict[str, pl.DataFrame], months: list[date],
                        previous_units: pl.DataFrame | None = None) -> dict:
    """The staged frames and the summaries the suites run on. ``previous_units``: units
    per province and group of the month staged before (None: nothing to compare with)."""
    return {**frames,
            "unit_sums": summaries.unit_sums(frames),
            "unit_counts": summaries.unit_counts(frames, previous_units),
            "province_identity": summaries.province_identity(frames),
            "count_order": summaries.count_order(frames),
            "group_totals": summaries.group_totals(frames),
            "national_totals": summaries.national_totals(frames),
            "response_counts": summaries.response_counts(frames),
            "province_counts": summaries.province_counts(frames, months),
            "group_cross_check": summaries.group_cross_check(frames),
            "metric_coverage": summaries.metric_coverage(frames),
            "parameter_coverage": summaries.parameter_coverage(frames)}


PORTAL_PATH = StagedPath(
    name="portal", tables=tuple(PORTAL), era=Era.MERGED, select=latest_session(),
    parse=parse_portal,
    datasets=lambda frames, month, previous: validation_datasets(frames, [month], previous),
    suites=SUITES, check_key=lambda suite: STAGING_KEYS[CHECK_TARGET[suite.dataset]],
    # the default ``unchanged``: the crawl's sha256 are those in staging.captures
    compare=UnitComparison(previous_unit_counts, _unit_counts_of), bulk=True)

# Every path the staging step runs, in order; each one's tables are its assets and its
# suites its checks. A new monthly path is one more entry here (engine.py says how).
MONTHLY_PATHS: tuple[StagedPath, ...] = (PORTAL_PATH, LEGACY_PATH, NIGHTLY_PATH)
ALL_STAGING_KEYS = {t: asset_key(t) for p in MONTHLY_PATHS for t in p.tables}
assert LEGACY_KEY in ALL_STAGING_KEYS.values() and DAILY_KEY in ALL_STAGING_KEYS.values()


def _latest_stamp(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str) -> float:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1).records
    return records[0].timestamp if records else 0.0


def downstream_leaves(context: dg.AssetExecutionContext) -> list[dg.AssetKey]:
    """The last assets after staging in this run's job (the published copy, the
    scorecard), from the job's asset graph: staging does not name them."""
    graph = context.job_def.asset_layer.asset_graph
    after = dg.AssetSelection.assets(*STAGING_KEYS.values()).downstream().sinks()
    leaves = after.resolve(graph) - set(ALL_STAGING_KEYS.values())
    return sorted(leaves, key=lambda k: k.to_user_string())


def downstream_behind(instance: dg.DagsterInstance, months: list[date],
                      leaves: list[dg.AssetKey]) -> list[str]:
    """Months whose last staging was not followed by every downstream leaf (a run that
    stopped half-way): their marts are rebuilt though their captures did not change."""
    behind = []
    for month in months:
        partition = partition_key(month)
        staged = _latest_stamp(instance, STAGING_KEYS["captures"], partition)
        if not staged or any(_latest_stamp(instance, leaf, partition) < staged
                             for leaf in leaves):
            behind.append(month_key(month))
    return behind


def _idle(path: StagedPath) -> str:
    return (f"no month of the {path.era.value}-province era in this run" if path.era
            else "nothing in this run")


@dg.multi_asset(
    # skippable: a run with nothing new yields no materialization, and the marts,
    # the publish and the scorecard after it are skipped
    specs=[dg.AssetSpec(key, deps=[RAW_KEY], group_name="staging", skippable=True,
                        description=DESCRIPTIONS[t], kinds={"duckdb"})
           for t, key in ALL_STAGING_KEYS.items()],
    check_specs=[c for p in MONTHLY_PATHS for c in p.check_specs()],
    partitions_def=monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="duckdb_warehouse",
    name="staging_tables",
    # refresh_legacy selects staging/legacy_scores only: the months before 2025-07 have no
    # data for the other tables, so they are not recorded as materialized for them
    can_subset=True,
)
def staging_tables(context: dg.AssetExecutionContext, config: StagingConfig,
                   chiso: ChisoSettings, warehouse: WarehouseResource):
    chosen, chosen_checks = context.selected_asset_keys, context.selected_asset_check_keys
    window = months_in_window(context)
    store = RawStore(chiso.raw_dir)
    if config.allow_unit_drop and not config.note.strip():
        raise dg.Failure("allow_unit_drop needs a note saying why the units dropped (run "
                         "config of staging_tables: {\"allow_unit_drop\": true, \"note\": "
                         "\"...\"}); nothing was staged.", allow_retries=False)
    waiver = config.note if config.allow_unit_drop else None
    if waiver:
        context.log.warning(f"unit_count_kept waived by run config: {waiver}")
    staged = {}
    with warehouse.get_connection() as con:
        ensure_schema(con)
        for path in MONTHLY_PATHS:
            # each path: its months of the window, one transaction; a failure raises
            # (StageFailure, a dg.Failure) with nothing of that path written
            run = stage(path, con, store, window, run_id=context.run.run_id,
                        force=config.force, log=context.log,
                        spill_root=Path(warehouse.database).parent, waiver=waiver)
            for warning in run.report.warnings:
                context.log.warning(warning.message())
            staged[path.name] = run
        # row count, column schema and the focus province's rows, per table and month
        tables = {key: table_metadata(con, "staging", table, window, chiso.focus_province)
                  for table, key in ALL_STAGING_KEYS.items()}

    portal = staged[PORTAL_PATH.name]
    unchanged = "\n".join(f"{k}: {v}" for k, v in portal.unchanged.items()) or "none"
    # a month staged before but not published since (a run that stopped half way)
    reloaded = {month_key(m) for m in portal.validated}
    idle = [m for m in window if month_key(m) not in reloaded]
    behind = downstream_behind(context.instance, idle, downstream_leaves(context)) if idle else []
    others = [staged[p.name] for p in MONTHLY_PATHS if p is not PORTAL_PATH]
    if not portal.validated and not behind and not any(s.changed for s in others):
        # Nothing new: no materialization, so the marts, publish and scorecard are skipped.
        context.log.info("Nothing new to stage: the marts, the published copy and the "
                         "scorecard are current and are not rebuilt.")
        for key in STAGING_KEYS.values():
            if key in chosen:
                context.log_event(dg.AssetObservation(asset_key=key, metadata={
                    "not_reloaded": unchanged, "downstream": "current: skipped",
                    "checks_not_run": portal.checks_not_run(_idle(PORTAL_PATH))}))
    else:
        for key, (_whole, per_month) in tables.items():
            if key in chosen:
                add_partition_metadata(context, per_month, asset_key=key)
        for path in MONTHLY_PATHS:
            run = staged[path.name]
            if path is not PORTAL_PATH and not run.validated:
                extra = {"rows_loaded": 0, "not_reloaded": "nothing new for this table"}
            else:
                extra = {"not_reloaded": "\n".join(f"{k}: {v}" for k, v in
                                                    run.unchanged.items()) or "none"}
                if path is PORTAL_PATH:
                    extra["downstream_rebuilt_for"] = ", ".join(behind) or "loaded months only"
            for table in path.tables:
                key = asset_key(table)
                if key not in chosen:
                    continue
                yield dg.MaterializeResult(asset_key=key, metadata={
                    **tables[key][0],
                    "rows_loaded": run.counts.get(f"staging.{table}", 0),
                    "table": f"staging.{table}",
                    "sessions": "\n".join(f"{k}: {v}" for k, v in run.sessions.items())
                    or "none",
                    "checks_not_run": run.checks_not_run(_idle(path)),
                    **extra})
    for path in MONTHLY_PATHS:
        yield from check_results([staged[path.name]], chosen_checks, context.log,
                                 idle=_idle(path))
