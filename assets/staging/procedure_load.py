"""staging/procedure_*: the portal's answers filtered to one procedure, staged by the
staging engine as one more path (``procedure_path``), and the asset that runs it.

A month's per-procedure captures are found in its complete crawls: the procedure crawl's
own manifests (``raw/_procedure_sessions/<yyyy-mm>/``) and any other crawl of the month
(``raw/_sessions/<yyyy-mm>/``); a capture with a ``formality_id`` is one. The latest answer
of each province, procedure, endpoint and page is kept; the engine reads each (sha256
verified), parses it (assets/staging/procedures.py), validates it with
checks/procedure_suites.py (in bulk), audits, then replaces the month's rows of the three
procedure tables in one transaction. A month is staged in chunks of about
``CHUNK_CAPTURES`` captures, a procedure's answers in one chunk (``chunk_by_procedure``):
each chunk's frames are validated and spilled to Parquet before the next is parsed, so
memory holds one chunk; whether the month is unchanged is decided on all its captures.
A parse error or a blocking failure names file, period, unit and field: nothing is
written and the previous rows stay.

A procedure's code comes from the capture, else from its crawl's manifest (``procedures``:
id and code of each procedure crawled); its name from ``ref.procedures`` (the catalogue)
when the warehouse has it. A month without procedure answers is not staged and not
recorded as materialized (the procedure marts then have nothing to rebuild).
"""

import dataclasses
from collections.abc import Callable
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl

from assets.metadata import add_partition_metadata, table_metadata
from assets.months import Era, month_key
from assets.partitions import monthly_partitions, months_in_window
from assets.raw.procedures import PROCEDURE_CAPTURES_KEY
from assets.raw.store import PROCEDURE_SESSIONS, SESSIONS, RawStore, complete_manifests
from assets.resources import ChisoSettings, StagingConfig, WarehouseResource
from assets.tables import PROCEDURES, asset_key, qualified
from assets.warehouse import ensure_schema
from checks.procedure_suites import PROCEDURE_SUITES, procedure_datasets

from .engine import KEPT_STATUS, Batch, Reads, Staged, StagedPath, check_results, stage
from .procedures import ProcedureRows, add_procedure_capture

# captures a chunk of a month holds (about 50 procedures × 5 answers): at 163 units a
# chunk's frames are ~85 MB (a month of 1,000 procedures ~1.7 GB if parsed at once)
CHUNK_CAPTURES = 250

PROCEDURE_STAGING_KEYS = [asset_key(t) for t in PROCEDURES]


def _complete_manifests(store: RawStore, month: date) -> list[tuple[str, dict]]:
    """(session name, manifest) of every complete crawl of the month: the group crawls'
    and the procedure crawl's (a capture with a ``formality_id`` is a procedure answer)."""
    return [(path.stem, manifest) for folder in (SESSIONS, PROCEDURE_SESSIONS)
            for path, manifest in complete_manifests(store.root / folder / month_key(month))]


def procedure_captures(store: RawStore, month: date) -> list[dict]:
    """The latest kept answer per (province, procedure, endpoint, page) of the month."""
    return [c for _, captures in _select(store, month).sessions for c in captures]


def _select(store: RawStore, month: date) -> Batch:
    latest: dict[tuple, tuple[str, dict]] = {}
    for session, manifest in _complete_manifests(store, month):
        codes = {p.get("procedure_id"): p.get("code")
                 for p in manifest.get("procedures") or [] if isinstance(p, dict)}
        for c in manifest["captures"]:
            if not c.get("formality_id") or c.get("http_status") not in KEPT_STATUS:
                continue
            if not c.get("formality_code") and codes.get(c["formality_id"]):
                c = {**c, "formality_code": codes[c["formality_id"]]}
            key = (c.get("province_id"), c["formality_id"], c["endpoint"], c.get("page", 1))
            if key not in latest or c["captured_at"] >= latest[key][1]["captured_at"]:
                latest[key] = (session, c)
    by_session: dict[str, list[dict]] = {}
    for key in sorted(latest, key=lambda k: tuple(map(str, k))):
        session, capture = latest[key]
        by_session.setdefault(session, []).append(capture)
    return Batch(month, ", ".join(by_session) or "no procedure answers",
                 list(by_session.items()))


def catalogue_names(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, str]]:
    """procedure id -> (code, name) from ref.procedures, when the catalogue was loaded."""
    return {r[0]: (r[1], r[2]) for r in con.execute(
        "SELECT procedure_id, code, name FROM ref.procedures").fetchall()}


def _parse(batch: Batch, reads: Reads, names: dict[str, tuple[str, str]]
           ) -> dict[str, pl.DataFrame]:
    """The batch's rows, its frames built once (the batch is one chunk of a month)."""
    rows = ProcedureRows()
    for _session, capture, body in reads:
        code, name = names.get(capture["formality_id"], (None, None))
        capture = {**capture, "formality_code": capture.get("formality_code") or code,
                   "formality_name": capture.get("formality_name") or name}
        add_procedure_capture(rows, capture, body, batch.month)
    return rows.frames()


def chunk_by_procedure(captures_per_chunk: int = CHUNK_CAPTURES
                       ) -> Callable[[Batch], list[Batch]]:
    """The month's batch as chunks of about ``captures_per_chunk`` captures, a procedure's
    answers never split (its units are checked against its province row, its rows are
    unique per procedure): memory then holds one chunk's frames, not the month's."""
    def split(batch: Batch) -> list[Batch]:
        by_procedure: dict[str, list[tuple[str, dict]]] = {}
        for session, captures in batch.sessions:
            for c in captures:
                by_procedure.setdefault(c["formality_id"], []).append((session, c))
        chunks: list[list[tuple[str, dict]]] = [[]]
        for answers in by_procedure.values():
            if chunks[-1] and len(chunks[-1]) + len(answers) > captures_per_chunk:
                chunks.append([])
            chunks[-1].extend(answers)
        out = []
        for i, chunk in enumerate(chunks, 1):
            sessions: dict[str, list[dict]] = {}
            for session, c in chunk:
                sessions.setdefault(session, []).append(c)
            label = batch.label if len(chunks) == 1 else \
                f"{batch.label} (chunk {i}/{len(chunks)})"
            out.append(Batch(batch.month, label, list(sessions.items())))
        return out
    return split


def _nothing_to_stage(_con, batch: Batch) -> str | None:
    return None if batch.sessions else "no per-procedure answers for this month"


PROCEDURE_PATH = StagedPath(
    name="procedures", tables=tuple(PROCEDURES), era=Era.MERGED, select=_select,
    parse=lambda batch, reads: _parse(batch, reads, {}),
    datasets=lambda frames, _month, _previous: procedure_datasets(frames),
    suites=PROCEDURE_SUITES,
    check_key=lambda suite: asset_key(suite.dataset if suite.dataset in PROCEDURES
                                      else "procedure_group_scores"),
    split=chunk_by_procedure(), bulk=True,
    what="parseable per-procedure answer")


def procedure_path(names: dict[str, tuple[str, str]]) -> StagedPath:
    """The path with the catalogue's names; a month with no answer is left alone (the
    default ``unchanged``, same sha256, applies to one that has answers)."""
    def unchanged(con, batch):
        from .engine import same_sha256

        return _nothing_to_stage(con, batch) or same_sha256(con, path, batch)

    path = dataclasses.replace(PROCEDURE_PATH,
                               parse=lambda batch, reads: _parse(batch, reads, names),
                               unchanged=unchanged)
    return path


def stage_procedures(con: duckdb.DuckDBPyConnection, store: RawStore, months: list[date],
                     *, run_id: str = "load_procedure_captures", force: bool = True,
                     chunk: int = CHUNK_CAPTURES, spill_root: Path | None = None,
                     log=None) -> Staged:
    """Stage the months' per-procedure answers through the engine, ``chunk`` captures at
    a time (the asset, the benchmark, tests); the engine's ``Staged``."""
    path = dataclasses.replace(procedure_path(catalogue_names(con)),
                               split=chunk_by_procedure(chunk))
    return stage(path, con, store, months, run_id=run_id, force=force, log=log,
                 spill_root=spill_root)


def load_procedure_captures(con: duckdb.DuckDBPyConnection, store: RawStore,
                            months: list[date], *, run_id: str = "load_procedure_captures",
                            force: bool = True, chunk: int = CHUNK_CAPTURES
                            ) -> dict[str, int]:
    """Stage the months' per-procedure answers (see ``stage_procedures``); the rows
    written per table."""
    ensure_schema(con)
    return stage_procedures(con, store, months, run_id=run_id, force=force,
                            chunk=chunk).counts


@dg.multi_asset(
    specs=[dg.AssetSpec(key, deps=[PROCEDURE_CAPTURES_KEY], group_name="procedures",
                        skippable=True, kinds={"duckdb"},
                        description=f"{qualified(t)}: the portal's answers filtered to one "
                                    "procedure, for the focus province(s) (issue 15).")
           for t, key in zip(PROCEDURES, PROCEDURE_STAGING_KEYS, strict=True)],
    check_specs=PROCEDURE_PATH.check_specs(),
    partitions_def=monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="duckdb_warehouse",
    name="procedure_tables",
    can_subset=True,
)
def procedure_tables(context: dg.AssetExecutionContext, config: StagingConfig,
                     chiso: ChisoSettings, warehouse: WarehouseResource):
    window = months_in_window(context)
    with warehouse.get_connection() as con:
        ensure_schema(con)
        run = stage_procedures(con, RawStore(chiso.raw_dir), window,
                               run_id=context.run.run_id, force=config.force,
                               log=context.log, spill_root=Path(warehouse.database).parent)
        # every month of the run that has per-procedure rows, restaged or not: the
        # procedure marts are rebuilt for them (the province's side may have moved since);
        # a month without any is not recorded, so its marts are not built empty
        held = [r[0] for r in con.execute(
            "SELECT DISTINCT month FROM staging.procedure_group_scores "
            "WHERE list_contains($months, month) ORDER BY 1", {"months": window}).fetchall()]
        tables = {t: table_metadata(con, "staging", t, held, chiso.focus_province)
                  for t in PROCEDURES} if held else {}
    if held:
        for table, key in zip(PROCEDURES, PROCEDURE_STAGING_KEYS, strict=True):
            if key not in context.selected_asset_keys:
                continue
            add_partition_metadata(context, tables[table][1], asset_key=key)
            yield dg.MaterializeResult(asset_key=key, metadata={
                **tables[table][0], "rows_loaded": run.counts.get(qualified(table), 0),
                "months_restaged": run.months_label or "none",
                "months_held": ", ".join(month_key(m) for m in held),
                "not_reloaded": "\n".join(f"{k}: {v}" for k, v in run.unchanged.items())
                or "none",
                "checks_not_run": run.checks_not_run()})
    else:
        context.log.info("No per-procedure answers for these months: "
                         + ("; ".join(f"{k}: {v}" for k, v in run.unchanged.items())
                            or "no month of the 34-province era in this run"))
    yield from check_results([run], context.selected_asset_check_keys, context.log)
