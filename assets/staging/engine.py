"""The staging engine: one sequence for every staged path.

    read (sha256 verified) → parse → validate (GX, checks/gx_runner.py) → audit → write
    (or fail naming file, period, unit and field: nothing written, the previous rows kept)
    → check results

A *path* is a ``StagedPath`` spec: which captures of a month it reads (``select``), how
they become typed frames (``parse``), which frames and summaries its suites validate
(``datasets`` + ``suites``), which staged tables it writes (``tables``, declared in
assets/tables.py) and which asset key shows each suite's check (``check_key``). The
paths today:

- ``step.PORTAL_PATH``   the current API's month (latest complete crawl, every answer);
- ``legacy.LEGACY_PATH`` months before 2025-07 (the legacy service's answers);
- ``nightly.NIGHTLY_PATH`` every complete crawl's national summary (one per night);
- ``sheet_import.SHEET_PATH`` a ranking spreadsheet from the inbox (one file a batch);
- the HAR import stages its complete months through ``PORTAL_PATH`` and ``NIGHTLY_PATH``.

``stage()`` handles a month at a time: a month whose captures are those already staged
is not parsed again (``unchanged``); each parsed month is validated, then set aside as
Parquet, so memory holds one month's frames; after the last month, if no blocking
expectation failed anywhere, every month is replaced in one transaction. A path with a
``split`` (the per-procedure answers) stages a month in chunks the same way, one after
the other, "unchanged" still decided on the whole month. Every month validated (or
refused by its parser) leaves rows in ``audit.validation_results`` (one per expectation,
its chunks' counts summed).

Check results are honest: a suite that ran reports its outcomes; one that did not run
(captures unchanged, bytes validated before, no month for it in the run) yields no
result at all (Dagster shows it not executed) and its reason, ``not run: …``, is in
``Staged.not_run`` for the asset's metadata and the run's log.

Adding a path (issue 15's per-procedure answers, say) is local:

1. declare its table(s) in ``assets/tables.py`` (``STAGED``): the warehouse creates them;
2. write its parser, ``parse(batch, reads) -> {table: frame}`` where ``reads`` yields
   ``(session, capture, body)`` already sha256-verified; raise ``StagingError`` for bad
   input;
3. write its suites (checks/) and ``datasets(frames, month, previous)`` giving the frames
   and summaries they run on;
4. declare ``StagedPath(...)`` next to its parser, with ``select=latest_session(endpoint)``
   (or ``every_session``), and add it to ``step.MONTHLY_PATHS``: the staging step then
   materializes its tables, shows its checks and runs it with the others.

``tests/test_engine.py`` stages a tiny made-up path end to end.
"""

import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl

from assets.months import Era, era_of, month_key
from assets.raw.store import RawStore, complete_sessions, latest_complete_session, staged_sha256
from assets.tables import asset_key, qualified
from assets.warehouse import append_rows, replace_from_parquet

from .parse import StagingError

KEPT_STATUS = (200, 201)  # a 503 or 429 kept before a successful retry is not data
SPILL_PREFIX = ".staging-spill-"
AUDIT_TABLE = "audit.validation_results"


@dataclass
class Batch:
    """What a path reads for one month: the kept captures of one or more crawls."""

    month: date | None  # None: the parser finds it (a spreadsheet names its period)
    label: str  # what metadata and the audit name: a session file, an inbox file
    sessions: list[tuple[str, list[dict]]]  # (session name, captures)
    notes: list[str] = field(default_factory=list)  # what the parser wants said

    @property
    def sha256(self) -> set[str]:
        return {c["sha256"] for _, captures in self.sessions for c in captures}


Reads = Iterator[tuple[str, dict, bytes]]  # (session, capture, verified bytes)


@dataclass(frozen=True)
class UnitComparison:
    """A month's units compared with the month staged before it (in the run, or in the
    warehouse). ``previous(con, month)`` the warehouse's, ``of(frames, month)`` this
    month's, in the same shape (a frame with a ``previous_month`` column)."""

    previous: Callable[[duckdb.DuckDBPyConnection, date], pl.DataFrame]
    of: Callable[[dict[str, pl.DataFrame], date], pl.DataFrame]


@dataclass(frozen=True)
class Fresh:
    """What a parsed month brings: ``skip_validation`` says why GX need not run (the bytes
    were validated before), ``changed`` whether downstream has anything new."""

    skip_validation: str | None = None
    changed: bool = True


@dataclass(frozen=True)
class StagedPath:
    """One staged path: see the module docstring."""

    name: str
    tables: tuple[str, ...]
    parse: Callable[[Batch, Reads], dict[str, pl.DataFrame]]
    datasets: Callable[[dict[str, pl.DataFrame], date, pl.DataFrame | None], dict]
    suites: tuple
    check_key: Callable[[object], dg.AssetKey]
    # which captures of a month (None: the caller gives the batches, an inbox file)
    select: Callable[[RawStore, date], Batch] | None = None
    era: Era | None = None  # the months it takes; None: any
    # why a month need not be staged again (None: stage it); default: its captures'
    # sha256 are those already staged in the first table
    unchanged: Callable[[duckdb.DuckDBPyConnection, Batch], str | None] | None = None
    fresh: Callable[[duckdb.DuckDBPyConnection, Batch, dict], Fresh] | None = None
    compare: UnitComparison | None = None
    bulk: bool = False  # validate per-capture summaries first (large months)
    # a month's batch as chunks, each parsed, validated and spilled in turn (memory holds
    # one chunk's frames); "unchanged" is still decided on the whole month's batch, and
    # the month is replaced once. None: the month is one batch
    split: Callable[["Batch"], list["Batch"]] | None = None
    what: str = "parseable portal response"  # the audit's expectation for a parse error
    # severity of a failed check: None, by the suite (ERROR if blocking, else WARN)
    severity: dg.AssetCheckSeverity | None = None
    check_blocking: bool | None = None  # the check spec's blocking; None: the suite's

    @property
    def keys(self) -> list[dg.AssetKey]:
        return [asset_key(t) for t in self.tables]

    def check_specs(self) -> list[dg.AssetCheckSpec]:
        return [dg.AssetCheckSpec(
            s.name, asset=self.check_key(s), description=s.description,
            blocking=s.blocking if self.check_blocking is None else self.check_blocking)
            for s in self.suites]

    def takes(self, month: date) -> bool:
        return self.era is None or era_of(month) == self.era


class StageFailure(dg.Failure):
    """Nothing was written; ``where`` names file, period, unit and field when known."""

    def __init__(self, description: str, metadata: dict, where: dict | None = None,
                 reason: str | None = None):
        super().__init__(description=description, metadata=metadata, allow_retries=False)
        self.where = where or {}
        self.reason = reason or description
        self.staged: Staged | None = None  # what was validated before it stopped


# -- which captures -------------------------------------------------------------------------

def _kept(manifest: dict, endpoint: str | None) -> list[dict]:
    return [c for c in manifest["captures"] if c["http_status"] in KEPT_STATUS
            and (endpoint is None or c["endpoint"] == endpoint)]


def no_crawl(store: RawStore, month: date) -> StageFailure:
    text = (f"No complete crawl of {month_key(month)} under {store.root}: "
            "materialize raw/portal_captures for this month first.")
    return StageFailure(text, {"period": month_key(month)}, {"period": month_key(month)})


def latest_session(endpoint: str | None = None) -> Callable[[RawStore, date], Batch]:
    """The month's latest complete crawl (its kept answers of ``endpoint``, or all)."""
    def select(store: RawStore, month: date) -> Batch:
        found = latest_complete_session(store, month)
        if found is None:
            raise no_crawl(store, month)
        path, manifest = found
        return Batch(month, str(path), [(path.stem, _kept(manifest, endpoint))])
    return select


def every_session(endpoint: str | None = None) -> Callable[[RawStore, date], Batch]:
    """Every complete crawl of the month, oldest first (none: an empty batch)."""
    def select(store: RawStore, month: date) -> Batch:
        crawls = complete_sessions(store, month)
        return Batch(month, ", ".join(p.name for p, _ in crawls) or "no complete crawl",
                     [(p.stem, _kept(m, endpoint)) for p, m in crawls])
    return select


def same_sha256(con: duckdb.DuckDBPyConnection, path: StagedPath, batch: Batch) -> str | None:
    """The default ``unchanged``: the batch's captures are exactly those staged."""
    shas = batch.sha256
    if shas and shas == staged_sha256(con, batch.month, (qualified(path.tables[0]),)):
        return (f"captures of {Path(batch.label).name} ({len(shas)} sha256) are those "
                "already staged: not parsed, validated or loaded again")
    return None


def _reads(store: RawStore, batch: Batch) -> Reads:
    period = month_key(batch.month) if batch.month else "-"
    for session, captures in batch.sessions:
        for capture in captures:
            try:
                body = store.read_verified(capture)
            except (OSError, ValueError) as exc:
                raise StagingError(capture["path"], period, "-", "sha256", str(exc)) from exc
            yield session, capture, body


# -- the result -----------------------------------------------------------------------------

@dataclass
class Staged:
    """What ``stage()`` did for one path."""

    path: StagedPath
    sessions: dict[str, str] = field(default_factory=dict)  # month -> what was read
    unchanged: dict[str, str] = field(default_factory=dict)  # month -> why not reloaded
    unvalidated: dict[str, str] = field(default_factory=dict)  # month -> why GX did not run
    validated: list[date] = field(default_factory=list)  # months parsed (and loaded)
    counts: dict[str, int] = field(default_factory=dict)  # qualified table -> rows written
    reports: list = field(default_factory=list)
    changed: bool = False  # something new for downstream
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def report(self):
        from checks.gx_runner import ValidationReport, merge_reports

        return merge_reports(self.reports) if self.reports else ValidationReport([])

    @property
    def months_label(self) -> str:
        return ",".join(month_key(m) for m in self.validated)

    def not_run(self, idle: str | None = None) -> str:
        """Why a suite without outcomes did not run."""
        why = [f"{k}: {v}" for k, v in {**self.unchanged, **self.unvalidated}.items()]
        return "not run: " + ("; ".join(why) if why else (idle or "nothing to validate"))

    def checks_not_run(self, idle: str | None = None) -> str:
        """The suites that did not run and why ("none" when every suite ran)."""
        ran = {o.suite for r in self.reports for o in r.outcomes}
        names = [s.name for s in self.path.suites if s.name not in ran]
        return f"{', '.join(names)}: {self.not_run(idle)}" if names else "none"


def check_results(staged: list[Staged], chosen: set | None = None, log=None,
                  idle: str | None = None) -> list[dg.AssetCheckResult]:
    """A result for each suite that ran, over every batch given (all of one path). A suite
    that did not run yields none: its ``not run: <why>`` goes to the log."""
    path = staged[0].path
    # each batch's report merged (a month validated in chunks counts its expectations once)
    outcomes = [o for s in staged if s.reports for o in s.report.outcomes]
    out = []
    for suite in path.suites:
        key = path.check_key(suite)
        if chosen is not None and dg.AssetCheckKey(key, suite.name) not in chosen:
            continue
        mine = [o for o in outcomes if o.suite == suite.name]
        if not mine:
            if log:
                log.info(f"check {suite.name}: {staged[0].not_run(idle)}")
            continue
        failed = [o for o in mine if not o.success]
        severity = path.severity or (dg.AssetCheckSeverity.ERROR if suite.blocking
                                     else dg.AssetCheckSeverity.WARN)
        out.append(dg.AssetCheckResult(
            asset_key=key, check_name=suite.name, passed=not failed, severity=severity,
            metadata={"expectations": len(mine), "failed": len(failed),
                      "months": ", ".join(s.months_label for s in staged if s.validated),
                      "details": "\n".join(o.message() for o in failed) or "all passed"}))
    return out


# -- the engine -----------------------------------------------------------------------------

def audit_rows(con: duckdb.DuckDBPyConnection, rows: list[dict], run_id: str,
               label: str) -> None:
    stamp = datetime.now(UTC)
    append_rows(con, AUDIT_TABLE, pl.DataFrame(
        [{"run_id": run_id, "validated_at": stamp, "months": label, **r} for r in rows]))


def parse_error_row(path: StagedPath, exc: StagingError) -> dict:
    return {"suite": "parse", "dataset": "raw", "expectation": path.what,
            "columns": exc.field_name, "success": False, "blocking": True,
            "element_count": 1, "unexpected_count": 1, "examples": str(exc)}


def waiver_row(note: str) -> dict:
    """The audit row of a run whose staging waived the unit-count rule, with its note."""
    return {"suite": "unit_count_kept", "dataset": "unit_counts",
            "expectation": "waived by run config allow_unit_drop", "columns": "unit_share",
            "success": True, "blocking": False, "element_count": 0, "unexpected_count": 0,
            "examples": json.dumps({"note": note}, ensure_ascii=False)}


def _validate(path: StagedPath, datasets: dict):
    from checks.gx_runner import validate, validate_in_bulk

    return (validate_in_bulk if path.bulk else validate)(datasets, path.suites)


def _month_of(batch: Batch, frames: dict[str, pl.DataFrame]) -> date:
    if batch.month is not None:
        return batch.month
    months = {m for f in frames.values() if "month" in f.columns for m in f["month"].unique()}
    if len(months) != 1:
        raise StagingError(batch.label, "-", "-", "month",
                           f"one period expected, found {sorted(months) or 'none'}")
    batch.month = months.pop()
    return batch.month


def parse_batch(path: StagedPath, store: RawStore, batch: Batch) -> dict[str, pl.DataFrame]:
    """The batch's frames (its captures read sha256-verified), or a StagingError."""
    return path.parse(batch, _reads(store, batch))


def check_batch(path: StagedPath, store: RawStore, batch: Batch):
    """Parse and validate one batch as ``stage`` would, writing nothing (the HAR import
    checks a month before taking the warehouse): the report, or a StagingError."""
    frames = parse_batch(path, store, batch)
    return _validate(path, path.datasets(frames, _month_of(batch, frames), None))


def _stage_part(path: StagedPath, con, store: RawStore, part: Batch, run: Staged,
                run_id: str, log, waiver: str | None, last, spill: str,
                files: dict[str, list[str]], part_no: int | None, label: str):
    """Parse, validate and spill one batch (a month, or one chunk of it); the month's
    units for the next month's comparison."""
    import time

    clock = time.perf_counter
    suffix = "" if part_no is None else f"-{part_no}"
    t0 = clock()
    try:
        frames = parse_batch(path, store, part)
        month = _month_of(part, frames)
    except StagingError as exc:
        label = month_key(part.month) if part.month else part.label
        audit_rows(con, [parse_error_row(path, exc)], run_id, label)
        if log:
            log.error(str(exc))
        failure = StageFailure(
            f"Staging stopped, nothing loaded: {exc}",
            {"file": exc.file, "period": exc.month, "unit": exc.unit,
             "field": exc.field_name},
            {"period": exc.month, "unit": exc.unit, "field": exc.field_name,
             "raw_file": exc.file}, reason=str(exc))
        failure.staged = run
        raise failure from exc
    key = month_key(month)
    t1 = clock()
    fresh = path.fresh(con, part, frames) if path.fresh else Fresh()
    if fresh.skip_validation:
        run.unvalidated[key] = fresh.skip_validation
    else:
        previous = None
        if path.compare is not None and waiver is None:
            previous = path.compare.previous(con, month)
            if last is not None and (previous.is_empty() or last[0] >
                                     previous["previous_month"].max()):
                previous = last[1]
        run.reports.append(_validate(path, path.datasets(frames, month, previous)))
        if path.compare is not None:
            last = (month, path.compare.of(frames, month))
    t2 = clock()
    if month not in run.validated:  # once, however many chunks the month has
        run.validated.append(month)
    run.sessions[key] = label
    run.changed |= fresh.changed
    run.notes += part.notes
    if not any(r.blocking_failures for r in run.reports):
        for table in path.tables:
            frame = frames.get(table)
            if frame is not None and frame.height:
                target = f"{spill}/{table}-{key}{suffix}.parquet"
                frame.write_parquet(target, compression="lz4")
                files[qualified(table)].append(target)
    del frames
    run.seconds["parse"] += t1 - t0
    run.seconds["validate"] += t2 - t1
    run.seconds["load"] += clock() - t2
    return last


def stage(path: StagedPath, con: duckdb.DuckDBPyConnection, store: RawStore,
          months: list[date] = (), *, run_id: str, batches: list[Batch] | None = None,
          force: bool = False, log=None, spill_root: Path | None = None,
          waiver: str | None = None) -> Staged:
    """Stage ``months`` (those of the path's era) or the given ``batches``; see the module
    docstring. Raises ``StageFailure`` with nothing written: a parse error at once, a
    blocking validation failure after every month was validated (so the report names
    every failure). ``waiver``: the run's note when it waives the unit comparison
    (allow_unit_drop). ``spill_root``: where the Parquet goes (the system temp dir if
    None); a spill left there was a killed run's and is removed."""
    import time

    clock = time.perf_counter
    run = Staged(path, seconds={"parse": 0.0, "validate": 0.0, "load": 0.0})
    if batches is None:
        if path.select is None:
            raise ValueError(f"path {path.name} has no select: give its batches")
        batches = [path.select(store, m) for m in months if path.takes(m)]
    files: dict[str, list[str]] = {qualified(t): [] for t in path.tables}
    if spill_root is not None:
        spill_root.mkdir(parents=True, exist_ok=True)
        for stale in spill_root.glob(SPILL_PREFIX + "*"):
            shutil.rmtree(stale, ignore_errors=True)
    last: tuple[date, pl.DataFrame] | None = None  # the month validated before, its units
    with tempfile.TemporaryDirectory(prefix=SPILL_PREFIX, dir=spill_root) as spill:
        for batch in batches:
            if not force and batch.month is not None:
                why = (path.unchanged or (lambda c, b: same_sha256(c, path, b)))(con, batch)
                if why:
                    run.unchanged[month_key(batch.month)] = why
                    if log:
                        log.info(f"{path.name} {month_key(batch.month)}: {why}")
                    continue
            parts = path.split(batch) if path.split is not None else [batch]
            for part_no, part in enumerate(parts):
                last = _stage_part(path, con, store, part, run, run_id, log, waiver, last,
                                   spill, files, part_no if len(parts) > 1 else None,
                                   batch.label)
        report = run.report
        if run.validated:
            from checks.gx_runner import outcome_rows

            rows = outcome_rows(report)
            if waiver is not None and path.compare is not None:
                rows.append(waiver_row(waiver))
            if rows:
                audit_rows(con, rows, run_id, run.months_label)
        if report.blocking_failures:
            text = report.failures_text()
            if log:
                log.error(text)
            failure = StageFailure(
                "Validation failed; nothing was loaded and the previous staging, marts and "
                f"published copy are unchanged.\n{text}",
                {"failed_expectations": len(report.blocking_failures),
                 "months": run.months_label,
                 "details": dg.MetadataValue.md(f"```\n{text}\n```"),
                 "audit_table": AUDIT_TABLE},
                {"period": run.months_label, "field": "see reason"},
                reason="validation failed:\n" + text)
            failure.staged = run
            raise failure
        if run.validated:
            t = clock()
            run.counts = replace_from_parquet(con, files, run.validated)
            run.seconds["load"] += clock() - t
    return run
