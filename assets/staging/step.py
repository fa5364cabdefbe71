"""staging/*: the month's captures parsed into typed tables, validated, then loaded.

Validation runs before the write and blocks it: a month that fails keeps the
staging and mart rows it had, and the run fails with the file, unit and field.

Months are processed one at a time (parse, validate, set aside as Parquet), so memory
holds one month's frames however many months a run covers; the validated months are
then loaded in one transaction, and a failure in any month loads none. A month whose latest complete
crawl has exactly the captures (sha256) already staged is not parsed again.
"""

import json
import shutil
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import polars as pl

from assets.domain.provinces import era_of
from assets.metadata import add_partition_metadata, table_metadata
from assets.partitions import monthly_partitions, months_in_window
from assets.raw.store import RawStore, latest_complete_session, staged_sha256
from assets.resources import ChisoSettings, StagingConfig, WarehouseResource
from assets.sources.endpoints import month_key
from assets.warehouse import append_rows, ensure_schema, replace_from_parquet
from checks import summaries
from checks.suites import SUITES

from .legacy import LEGACY_KEY, LEGACY_SUITES, load_legacy
from .nightly import DAILY_KEY, DAILY_SUITE, load_daily
from .parse import SCHEMAS, Rows, StagingError, parse_capture

RAW_KEY = dg.AssetKey(["raw", "portal_captures"])
STAGING_KEYS = {t: dg.AssetKey(["staging", t]) for t in SCHEMAS}

# Which staged table a suite's result is shown on in the UI.
CHECK_TARGET = {"unit_metrics": "unit_metrics", "unit_group_scores": "unit_group_scores",
                "unit_parameters": "unit_parameters", "national_summary": "national_summary",
                "group_totals": "unit_group_scores", "national_totals": "national_summary",
                "response_counts": "captures", "province_counts": "national_summary",
                "group_cross_check": "unit_group_scores", "metric_coverage": "unit_metrics",
                "parameter_coverage": "unit_parameters", "unit_sums": "unit_parameters",
                "unit_counts": "unit_group_scores", "province_identity": "national_summary",
                "count_order": "unit_parameters"}

# Staged by the same step (history before 2025-07, every crawl's national summary), so
# a run's staging is materialized as a whole or, when nothing is new, not at all.
ALL_STAGING_KEYS = {**STAGING_KEYS, "legacy_scores": LEGACY_KEY,
                    "national_summary_history": DAILY_KEY}

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


def _session(store: RawStore, month: date) -> tuple:
    found = latest_complete_session(store, month)
    if found is None:
        raise dg.Failure(
            f"No complete crawl of {month_key(month)} under {store.root}: "
            "materialize raw/portal_captures for this month first.", allow_retries=False)
    return found


def _kept(manifest: dict) -> list[dict]:
    # a 503 or 429 kept before a successful retry is not data
    return [c for c in manifest["captures"] if c["http_status"] in (200, 201)]


def parse_session(store: RawStore, month: date, manifest: dict) -> dict[str, pl.DataFrame]:
    """Parse one month's crawl (sha256 verified on read)."""
    rows = Rows()
    for capture in _kept(manifest):
        try:
            body = store.read_verified(capture)
        except ValueError as exc:
            raise dg.Failure(str(exc), allow_retries=False) from exc
        parse_capture(capture, body, rows, month)
    return rows.frames()


def stage_months(store: RawStore, months: list[date]) -> tuple[dict[str, pl.DataFrame], dict]:
    """Parse the latest complete crawl of each month, all months in one set of frames."""
    parts, sessions = defaultdict(list), {}
    for month in months:
        path, manifest = _session(store, month)
        sessions[month_key(month)] = str(path)
        for table, frame in parse_session(store, month, manifest).items():
            parts[table].append(frame)
    return {t: pl.concat(f) for t, f in parts.items()}, sessions


@dataclass
class StagingRun:
    """What stage_validate_load did, month by month."""

    sessions: dict[str, str] = field(default_factory=dict)  # month -> manifest loaded
    unchanged: dict[str, str] = field(default_factory=dict)  # month -> why not reloaded
    validated: list[date] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # staging table -> rows written
    reports: list = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    @property
    def report(self):
        from checks.gx_runner import merge_reports

        return merge_reports(self.reports)


SPILL_PREFIX = ".staging-spill-"


def stage_validate_load(store: RawStore, months: list[date], con, force: bool = False,
                        log=None, spill_root: Path | None = None,
                        allow_unit_drop: bool = False) -> StagingRun:
    """Each month: parse its latest complete crawl, validate it, and set its rows aside
    (Parquet in a temp dir); then, only if no blocking expectation failed in any month,
    replace every validated month in one transaction.

    Memory holds one month's frames at a time, and the load is one streaming insert per
    table. A StagingError (or any error) propagates with nothing written. After a
    blocking failure the later months are still parsed and validated, so the report
    names every failure. ``spill_root``: where the Parquet goes (the system temp dir if
    None); writers take turns (one pool slot), so a spill left there was a killed run's.
    Each month's units are compared with the month staged before it (in this run, or in
    the warehouse); ``allow_unit_drop`` waives that comparison (a real reorganisation).
    """
    from checks.gx_runner import validate_in_bulk

    run = StagingRun()
    clock = time.perf_counter
    files: dict[str, list[str]] = {f"staging.{t}": [] for t in STAGING_KEYS}
    if spill_root is not None:
        spill_root.mkdir(parents=True, exist_ok=True)
        for stale in spill_root.glob(SPILL_PREFIX + "*"):
            shutil.rmtree(stale, ignore_errors=True)
    last_units: tuple[date, pl.DataFrame] | None = None  # the month validated before
    with tempfile.TemporaryDirectory(prefix=SPILL_PREFIX, dir=spill_root) as spill:
        for month in months:
            key = month_key(month)
            path, manifest = _session(store, month)
            shas = {c["sha256"] for c in _kept(manifest)}
            if not force and shas and shas == staged_sha256(con, month, ("staging.captures",)):
                run.unchanged[key] = (f"captures of {path.name} ({len(shas)} sha256) are those "
                                      "already staged: not parsed, validated or loaded again")
                if log:
                    log.info(f"{key}: {run.unchanged[key]}")
                continue
            t0 = clock()
            frames = parse_session(store, month, manifest)
            t1 = clock()
            previous = None
            if not allow_unit_drop:
                previous = previous_unit_counts(con, month)
                if last_units is not None and (previous.is_empty() or last_units[0] >
                                               previous["previous_month"].max()):
                    previous = last_units[1]
            report = validate_in_bulk(validation_datasets(frames, [month], previous))
            last_units = (month, _unit_counts_of(frames, month))
            t2 = clock()
            run.reports.append(report)
            run.validated.append(month)
            run.sessions[key] = str(path)
            if not any(r.blocking_failures for r in run.reports):
                for table, frame in frames.items():
                    target = f"{spill}/{table}-{key}.parquet"
                    frame.write_parquet(target, compression="lz4")
                    files[f"staging.{table}"].append(target)
            del frames
            run.seconds["parse"] += t1 - t0
            run.seconds["validate"] += t2 - t1
            run.seconds["load"] += clock() - t2
        if run.validated and not run.report.blocking_failures:
            t = clock()
            run.counts = replace_from_parquet(con, files, run.validated)
            run.seconds["load"] += clock() - t
    return run


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


def _waiver_row(note: str) -> dict:
    """The audit row of a run whose staging waived the unit-count rule, with its note."""
    return {"suite": "unit_count_kept", "dataset": "unit_counts",
            "expectation": "waived by run config allow_unit_drop", "columns": "unit_share",
            "success": True, "blocking": False, "element_count": 0, "unexpected_count": 0,
            "examples": json.dumps({"note": note}, ensure_ascii=False)}


def _audit_frame(rows: list[dict], run_id: str, months: list[date]) -> pl.DataFrame:
    stamp = datetime.now(UTC)
    label = ",".join(month_key(m) for m in months)
    return pl.DataFrame([{"run_id": run_id, "validated_at": stamp, "months": label, **r}
                         for r in rows])


DOWNSTREAM_LEAVES = (dg.AssetKey(["publish", "analyst_copy"]), dg.AssetKey(["report", "scorecard"]))


def _latest_stamp(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str) -> float:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1).records
    return records[0].timestamp if records else 0.0


def downstream_behind(instance: dg.DagsterInstance, months: list[str]) -> list[str]:
    """Months whose last staging was not followed by a publish and a scorecard (a run that
    stopped half-way): their marts are rebuilt though their captures did not change."""
    behind = []
    for key in months:
        partition = f"{key}-01"
        staged = _latest_stamp(instance, STAGING_KEYS["captures"], partition)
        if not staged or any(_latest_stamp(instance, leaf, partition) < staged
                             for leaf in DOWNSTREAM_LEAVES):
            behind.append(key)
    return behind


@dg.multi_asset(
    # skippable: a run with nothing new yields no materialization, and the marts,
    # the publish and the scorecard after it are skipped
    specs=[dg.AssetSpec(key, deps=[RAW_KEY], group_name="staging", skippable=True,
                        description=DESCRIPTIONS[t], kinds={"duckdb"})
           for t, key in ALL_STAGING_KEYS.items()],
    check_specs=[*(dg.AssetCheckSpec(s.name, asset=STAGING_KEYS[CHECK_TARGET[s.dataset]],
                                     description=s.description, blocking=s.blocking)
                   for s in SUITES),
                 *(dg.AssetCheckSpec(s.name, asset=LEGACY_KEY, description=s.description,
                                     blocking=s.blocking) for s in LEGACY_SUITES),
                 dg.AssetCheckSpec(DAILY_SUITE.name, asset=DAILY_KEY, blocking=True,
                                   description=DAILY_SUITE.description)],
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
    from checks.gx_runner import outcome_rows

    chosen, chosen_checks = context.selected_asset_keys, context.selected_asset_check_keys
    # Months before 2025-07 come from the legacy service: staging/legacy_scores.
    window = months_in_window(context)
    months = [m for m in window if era_of(m) == "34"]
    store = RawStore(chiso.raw_dir)
    if config.allow_unit_drop and not config.note.strip():
        raise dg.Failure("allow_unit_drop needs a note saying why the units dropped (run "
                         "config of staging_tables: {\"allow_unit_drop\": true, \"note\": "
                         "\"...\"}); nothing was staged.", allow_retries=False)
    with warehouse.get_connection() as con:
        ensure_schema(con)
        try:
            run = stage_validate_load(store, months, con, force=config.force, log=context.log,
                                      spill_root=Path(warehouse.database).parent,
                                      allow_unit_drop=config.allow_unit_drop)
        except StagingError as exc:
            append_rows(con, "audit.validation_results", _audit_frame([{
                "suite": "parse", "dataset": "raw", "expectation": "parseable portal response",
                "columns": exc.field_name, "success": False, "blocking": True,
                "element_count": 1, "unexpected_count": 1, "examples": str(exc)}],
                context.run.run_id, months))
            context.log.error(str(exc))
            raise dg.Failure(description=f"Staging stopped, nothing loaded: {exc}",
                             metadata={"file": exc.file, "period": exc.month, "unit": exc.unit,
                                       "field": exc.field_name},
                             allow_retries=False) from exc
        report = run.report
        if run.validated:
            rows = outcome_rows(report)
            if config.allow_unit_drop:
                context.log.warning(f"unit_count_kept waived by run config: {config.note}")
                rows.append(_waiver_row(config.note))
            append_rows(con, "audit.validation_results",
                        _audit_frame(rows, context.run.run_id, run.validated))
        for warning in report.warnings:
            context.log.warning(warning.message())
        if report.blocking_failures:
            text = report.failures_text()
            context.log.error(text)
            raise dg.Failure(
                description="Validation failed; nothing was loaded and the previous staging, "
                            f"marts and published copy are unchanged.\n{text}",
                metadata={"failed_expectations": len(report.blocking_failures),
                          "months": ", ".join(month_key(m) for m in run.validated),
                          "details": dg.MetadataValue.md(f"```\n{text}\n```"),
                          "audit_table": "audit.validation_results"},
                allow_retries=False)
        side = [load_legacy(con, store, window, context.run.run_id, force=config.force,
                            log=context.log),
                load_daily(con, store, window, context.run.run_id)]
        # row count, column schema and the focus province's rows, per table and month
        tables = {key: table_metadata(con, "staging", table, window, chiso.focus_province)
                  for table, key in ALL_STAGING_KEYS.items()}

    unchanged = "\n".join(f"{k}: {v}" for k, v in run.unchanged.items()) or "none"
    # a month staged before but not published since (a run that stopped half way)
    reloaded = {month_key(m) for m in run.validated}
    idle = [month_key(m) for m in window if month_key(m) not in reloaded]
    behind = downstream_behind(context.instance, idle) if idle else []
    if not run.validated and not behind and not any(s.changed for s in side):
        # Nothing new: no materialization, so the marts, publish and scorecard are skipped.
        context.log.info("Nothing new to stage: the marts, the published copy and the "
                         "scorecard are current and are not rebuilt.")
        for key in STAGING_KEYS.values():
            if key in chosen:
                context.log_event(dg.AssetObservation(asset_key=key, metadata={
                    "not_reloaded": unchanged, "downstream": "current: skipped"}))
    else:
        for key, (_whole, per_month) in tables.items():
            if key in chosen:
                add_partition_metadata(context, per_month, asset_key=key)
        for table, key in STAGING_KEYS.items():
            if key not in chosen:
                continue
            yield dg.MaterializeResult(asset_key=key, metadata={
                **tables[key][0],
                "rows_loaded": run.counts.get(f"staging.{table}", 0),
                "table": f"staging.{table}",
                "sessions": "\n".join(f"{k}: {v}" for k, v in run.sessions.items()) or "none",
                "not_reloaded": unchanged,
                "downstream_rebuilt_for": ", ".join(behind) or "loaded months only",
            })
        for load in (s for s in side if s.key in chosen):
            yield dg.MaterializeResult(asset_key=load.key, metadata={
                **tables[load.key][0], **(load.metadata or {
                    "rows_loaded": 0, "not_reloaded": "nothing new for this table"})})
    for suite in SUITES:
        target = STAGING_KEYS[CHECK_TARGET[suite.dataset]]
        if dg.AssetCheckKey(target, suite.name) not in chosen_checks:
            continue
        outcomes = [o for o in report.outcomes if o.suite == suite.name]
        failed = [o for o in outcomes if not o.success]
        yield dg.AssetCheckResult(
            asset_key=target, check_name=suite.name, passed=not failed,
            severity=dg.AssetCheckSeverity.ERROR if suite.blocking else dg.AssetCheckSeverity.WARN,
            metadata={"expectations": len(outcomes), "failed": len(failed),
                      "details": "\n".join(o.message() for o in failed)
                      or ("all passed" if outcomes else "not re-run: captures unchanged since "
                          "they passed")})
    for load in side:
        yield from (c for c in load.checks
                    if dg.AssetCheckKey(c.asset_key, c.check_name) in chosen_checks)
