"""staging/spreadsheet_scores: ranking tables exported by provincial staff (.xlsx/.csv).

Staff drop files into ``<data>/inbox/``; the sensor ``spreadsheet_inbox`` launches
``import_inbox`` for them. Each file is kept byte for byte under
``<data>/raw/spreadsheets/`` first, then read (openpyxl / csv), its province names
matched to the reference of the month's era, and validated with Great Expectations.

- A good file replaces its month in ``staging.spreadsheet_scores`` and moves to
  ``inbox/imported/``.
- A file that cannot be read or does not validate moves to ``inbox/rejected/`` with
  ``<name>.rejected.json`` beside it saying why (file, period, row, field); nothing else
  is affected: the other files of the run are imported, the tables keep their rows.

The sensor ``history_after_import`` then rebuilds the province and group marts of the
months imported and publishes (job ``rebuild_history``).
"""

import dataclasses
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path

import dagster as dg
import polars as pl

from assets.metadata import whole_table_metadata
from assets.months import era_of, month_key
from assets.raw.store import RawStore, write_atomic
from assets.resources import ChisoSettings, WarehouseResource
from assets.tables import asset_key
from assets.warehouse import ensure_schema
from checks.legacy_suites import legacy_suites

from .engine import Batch, Reads, StagedPath, StageFailure, check_results, stage
from .inbox import (
    NAME_MAX,
    SIDECAR_SUFFIX,
    InboxRefused,
    fit_name,
    inside_inbox,
    pending_files,
    safe_file_name,
    stable_files,
)
from .legacy import validation_datasets
from .legacy_parse import frame, province_fields
from .parse import StagingError

SHEETS_KEY = asset_key("spreadsheet_scores")
SHEET_SUITES = legacy_suites("spreadsheet_scores")
SPREADSHEET_TYPES = (".xlsx", ".csv")
OTHER_IMPORTS = (".har",)  # taken by raw/har_captures, in the same job


def inbox_dir(chiso: ChisoSettings) -> Path:
    return Path(chiso.data_dir) / "inbox"


class Rejected(Exception):
    def __init__(self, reason: str, **where):
        self.reason, self.where = reason, where
        super().__init__(reason)


@dataclass
class Outcome:
    name: str
    sha256: str
    raw_path: str
    status: str  # imported / rejected
    month: date | None = None
    rows: int = 0
    reason: str | None = None
    moved_to: str | None = None


def keep_raw(raw_root: Path, path: Path, folder: str = "spreadsheets") -> tuple[str, Path]:
    """Copy the file into the raw layer (never overwritten); return its sha256 and copy.
    The copy's name is ASCII, at most 120 bytes, extension kept; the original name is in
    the ``.meta.json`` beside it."""
    body = path.read_bytes()
    sha = hashlib.sha256(body).hexdigest()
    target = raw_root / folder / f"{sha[:12]}-{safe_file_name(path.name)}"
    if not target.exists():
        write_atomic(target, body)
        meta = {"original_name": path.name, "sha256": sha, "bytes": len(body),
                "received_at": datetime.now(UTC).isoformat()}
        write_atomic(target.with_name(target.name + ".meta.json"),
                     json.dumps(meta, ensure_ascii=False, indent=1).encode())
    return sha, target


def sheet_rows(table, sha: str, raw_rel: str, received: datetime) -> list[dict]:
    """A read SheetTable → staging rows, names matched to the era's provinces."""
    month = table.month
    out = []
    for row in table.rows:
        label = f"row {row.row_number} ({row.province_name})"
        rec = {
            "month": month, "era": era_of(month).value, "source": "spreadsheet",
            "level": "province",
            "source_id": None, "unit_id": None, "unit_name": None,
            "rank_reported": row.rank_reported, "ckmb": row.ckmb, "tdgq": row.tdgq,
            "clgq": row.clgq, "tttt": row.tttt, "online_combined": row.online_combined,
            "mdhl": row.mdhl, "mdsh": row.mdsh, "total_score": row.total_score,
            "dossiers_received": row.dossiers_received, "layout": table.layout,
            "captured_at": received, "raw_sha256": sha, "raw_path": raw_rel,
            "is_synthetic": table.is_synthetic, "rank_note": table.rank_note,
        }
        rec.update(province_fields(row.province_name, month, file=raw_rel, row_label=label))
        out.append(rec)
    return out


def move(path: Path, folder: Path, sha: str) -> Path:
    """Move into imported/ or rejected/, under a name that leaves room for the sidecar
    (``.rejected.json``) and a ``-<sha12>`` when the name is taken (shortened by bytes,
    extension kept)."""
    folder.mkdir(parents=True, exist_ok=True)
    room = NAME_MAX - len(SIDECAR_SUFFIX) - 13
    name = fit_name(path.name, room)
    target = folder / name
    if target.exists():  # the same name imported before: keep both
        stem, suffix = os.path.splitext(name)
        target = folder / f"{stem}-{sha[:12]}{suffix}"
    shutil.move(str(path), target)
    return target


def reject(path: Path, inbox: Path, outcome: Outcome, reason: str, where: dict) -> None:
    target = move(path, inbox / "rejected", outcome.sha256)
    sidecar = {"file": path.name, "rejected_at": datetime.now(UTC).isoformat(),
               "reason": reason, **where, "sha256": outcome.sha256,
               "raw_copy": outcome.raw_path, "moved_to": target.name,
               "what_to_do": "Fix the file (or export it again) and drop it into the inbox; "
                             "nothing from it was loaded."}
    write_atomic(target.with_name(target.name + SIDECAR_SUFFIX),
                 json.dumps(sidecar, ensure_ascii=False, indent=1, default=str).encode())
    outcome.status, outcome.reason, outcome.moved_to = "rejected", reason, str(target)


def safe_reject(path: Path, inbox: Path, outcome: Outcome, reason: str, where: dict,
                log) -> None:
    """Reject, and never let one file's failure stop the batch."""
    try:
        reject(path, inbox, outcome, reason, where)
        log.warning(f"{path.name} rejected: {reason}")
    except Exception as exc:  # noqa: BLE001 - reported, the batch goes on
        outcome.status, outcome.reason = "rejected", f"{reason} (and could not be set " \
            f"aside: {type(exc).__name__}: {exc})"
        log.error(f"{path.name}: {outcome.reason}")


def inbox_files(inbox: Path, names: list[str], settle_s: float, log,
                accept=lambda path: True) -> list[Path]:
    """The files a run takes: the named ones (each must be a plain file inside the inbox,
    else the run fails before touching anything) or every file waiting; only those that
    are stable (not being copied)."""
    if names:
        refused = []
        files = []
        for name in names:
            try:
                files.append(inside_inbox(inbox, name))
            except InboxRefused as exc:
                refused.append(str(exc))
        if refused:
            raise dg.Failure(
                description="Refused: run config names files outside the inbox; nothing was "
                            "moved or read.\n" + "\n".join(refused),
                metadata={"inbox": str(inbox), "refused": "\n".join(refused)},
                allow_retries=False)
    else:
        files = pending_files(inbox)
    files = [p for p in files if accept(p)]
    present = [p for p in files if p.is_file()]
    for p in files:
        if p not in present:
            log.warning(f"{p.name}: no longer in {inbox} (imported already?)")
    stable, moving = stable_files(present, settle_s)
    for p in moving:
        log.warning(f"{p.name}: still being written (size or mtime changed within "
                    f"{settle_s:g} s); left in the inbox for the next run")
    return stable


class ImportConfig(dg.Config):
    files: list[str] = []  # names in the inbox; empty: every file waiting there


def parse_sheet(batch: Batch, reads: Reads, *, max_xml_bytes: int,
                received: datetime) -> dict[str, pl.DataFrame]:
    """A kept spreadsheet (sha256 verified) → staging rows; a file that cannot be read
    raises a StagingError saying why (period, row, field), worded as the reader put it."""
    from assets.sources.spreadsheets import SpreadsheetError, read_ranking

    rows: list[dict] = []
    for _session, capture, _body in reads:
        try:
            table = read_ranking(Path(capture["file"]), max_xml_bytes=max_xml_bytes)
        except SpreadsheetError as exc:
            error = StagingError(capture["path"], exc.period or "-",
                                 "-" if exc.row is None else str(exc.row), exc.field, str(exc))
            error.args = (str(exc),)  # the reader's message names file, period, row, field
            raise error from exc
        batch.month = table.month
        batch.notes.append(f"{capture['name']}: {month_key(table.month)}, "
                           f"{len(table.rows)} provinces ({table.layout}); skipped: "
                           f"{'; '.join(table.skipped) or 'nothing'}"
                           + (f"; {table.rank_note}" if table.rank_note else ""))
        rows += sheet_rows(table, capture["sha256"], capture["path"], received)
    return {"spreadsheet_scores": frame(rows)}


# A spreadsheet from the inbox: one file a batch, its period read from the file. A file
# that fails is rejected (the others go on), so its checks only warn.
SHEET_PATH = StagedPath(
    name="spreadsheet", tables=("spreadsheet_scores",),
    parse=partial(parse_sheet, max_xml_bytes=0, received=datetime.min),
    datasets=lambda frames, _m, _p: validation_datasets("spreadsheet_scores",
                                                        frames["spreadsheet_scores"]),
    suites=SHEET_SUITES, check_key=lambda _suite: SHEETS_KEY,
    what="readable ranking spreadsheet", severity=dg.AssetCheckSeverity.WARN,
    check_blocking=False)


@dg.multi_asset(
    specs=[dg.AssetSpec(
        SHEETS_KEY, group_name="staging", kinds={"duckdb", "excel"},
        description="Province rankings from spreadsheets staff exported (.xlsx/.csv, both "
                    "the six-column and the merged Dịch vụ trực tuyến /22 layouts), from the "
                    "inbox.")],
    check_specs=[*SHEET_PATH.check_specs(),
                 dg.AssetCheckSpec("inbox_files_accepted", asset=SHEETS_KEY,
                                   description="Every file in the run was imported (a "
                                               "warning names the rejected ones and why).")],
    pool="duckdb_warehouse",
    # the op's name as when it was a single @asset (run config names it)
    name="staging__spreadsheet_scores",
    # a suite that did not run (no file was read) yields no result: not executed
    can_subset=True,
)
def spreadsheet_scores(context: dg.AssetExecutionContext, config: ImportConfig,
                       chiso: ChisoSettings, warehouse: WarehouseResource):
    inbox = inbox_dir(chiso)
    files = inbox_files(inbox, config.files, chiso.inbox_settle_s, context.log,
                        accept=lambda p: p.suffix.lower() not in OTHER_IMPORTS)
    store = RawStore(chiso.raw_dir)
    path_def = dataclasses.replace(SHEET_PATH, parse=partial(
        parse_sheet, max_xml_bytes=int(chiso.inbox_max_xml_mb * 1e6),
        received=datetime.now(UTC)))
    outcomes: list[Outcome] = []
    runs = []  # every file's staging, imported or refused by validation
    table_meta = {}
    with warehouse.get_connection() as con:
        ensure_schema(con)
        for path in files:
            outcome = Outcome(path.name, "", "", "imported")
            outcomes.append(outcome)
            try:
                sha, copy = keep_raw(chiso.raw_dir, path)
                outcome.sha256, outcome.raw_path = sha, str(copy.relative_to(chiso.raw_dir))
                if path.suffix.lower() not in SPREADSHEET_TYPES:
                    raise Rejected(f"not a spreadsheet export ({path.suffix or 'no extension'}"
                                   f"; expected {', '.join(SPREADSHEET_TYPES)})", field="file")
                capture = {"path": outcome.raw_path, "sha256": sha, "file": str(copy),
                           "name": path.name}
                batch = Batch(None, path.name, [(path.name, [capture])])
                try:
                    run = stage(path_def, con, store, batches=[batch],
                                run_id=context.run.run_id, log=context.log)
                except StageFailure as exc:
                    outcome.month = batch.month
                    if exc.staged is not None:
                        runs.append(exc.staged)
                    raise Rejected(exc.reason, **_where(exc)) from exc
                runs.append(run)
                outcome.month, outcome.rows = batch.month, sum(run.counts.values())
                outcome.moved_to = str(move(path, inbox / "imported", outcome.sha256))
                for note in run.notes:
                    context.log.info(note)
            except Rejected as exc:
                safe_reject(path, inbox, outcome, exc.reason, exc.where, context.log)
            except Exception as exc:  # noqa: BLE001 - one file never stops the batch
                safe_reject(path, inbox, outcome, f"could not be imported ({type(exc).__name__}"
                            f": {exc})", {"field": "file"}, context.log)
        if files:
            table_meta = whole_table_metadata(con, "staging", "spreadsheet_scores")

    imported = [o for o in outcomes if o.status == "imported"]
    rejected = [o for o in outcomes if o.status == "rejected"]
    months = sorted({o.month for o in imported})
    yield dg.MaterializeResult(asset_key=SHEETS_KEY, metadata={
        **table_meta,
        "months": ",".join(month_key(m) for m in months),
        "imported": "\n".join(f"{o.name}: {month_key(o.month)}, {o.rows} rows" for o in imported)
        or "none",
        "rejected": "\n".join(f"{o.name}: {o.reason} (see {o.moved_to}.rejected.json)"
                              for o in rejected) or "none",
        "table": "staging.spreadsheet_scores"})
    if runs:
        yield from check_results(runs, log=context.log)
    else:
        context.log.info("spreadsheet checks: not run: no file was read and validated")
    yield dg.AssetCheckResult(
        asset_key=SHEETS_KEY, check_name="inbox_files_accepted", passed=not rejected,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"imported": len(imported), "rejected": len(rejected),
                  "details": "\n".join(f"{o.name}: {o.reason}" for o in rejected) or "none"})


def _where(failure: StageFailure) -> dict:
    """Where a refused file went wrong, for its sidecar: as the reader said it."""
    from assets.sources.spreadsheets import SpreadsheetError

    source = failure.__cause__.__cause__ if failure.__cause__ is not None else None
    if isinstance(source, SpreadsheetError):
        return {"period": source.period, "row": source.row, "field": source.field}
    where = {"period": failure.where.get("period"), "row": failure.where.get("unit"),
             "field": failure.where.get("field")}
    return {k: v for k, v in where.items() if v not in (None, "-")}


def months_of(metadata: dict) -> list[str]:
    value = metadata.get("months")
    text = getattr(value, "value", value) or ""
    return [m for m in str(text).split(",") if m]
