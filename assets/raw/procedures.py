"""The procedure assets: the catalogue (weekly), ref.procedures, and the nightly,
budgeted crawl of the focus province(s)' procedures (issue 15 §1-2).

- ``raw/procedure_catalogue``: ``/formalities``, every page, kept raw; skipped while the
  last complete catalogue crawl is less than 7 days old (run config ``force: true``
  crawls anyway).
- ``ref/procedures``: that crawl read strictly into ``ref.procedures``.
- ``raw/procedure_captures`` (monthly): for each province of CHISO_FOCUS_PROVINCE, the
  five filtered group answers of the procedures ``plan_procedure_requests`` chooses,
  within CHISO_PROCEDURE_BUDGET requests a night, on top of the group crawl.
"""

from datetime import UTC, datetime

import dagster as dg
from pydantic import Field

from assets import redact
from assets.months import month_key
from assets.partitions import monthly_partitions, months_in_window
from assets.resources import ChisoSettings, PortalResource, WarehouseResource
from assets.sources.portal import PortalError, PortalRejected
from assets.sources.procedures import CatalogueError

from .captures import refuse_if_stopped, write_safety_stop
from .procedure_crawl import (
    catalogue_is_fresh,
    crawl_catalogue,
    crawl_procedures,
    latest_catalogue,
)
from .store import RawStore

CATALOGUE_KEY = dg.AssetKey(["raw", "procedure_catalogue"])
REF_PROCEDURES_KEY = dg.AssetKey(["ref", "procedures"])
PROCEDURE_CAPTURES_KEY = dg.AssetKey(["raw", "procedure_captures"])
PROCEDURE_KEYS = (CATALOGUE_KEY, REF_PROCEDURES_KEY, PROCEDURE_CAPTURES_KEY)
GROUP = "procedures"

# The table and its comments (the data dictionary reads them).


def _portal_failure(exc: PortalError, chiso: ChisoSettings, what: str, source: str):
    if isinstance(exc, PortalRejected):
        write_safety_stop(chiso, exc)
    return dg.Failure(description=f"{what} failed: {exc}",
                      metadata={"endpoint": exc.endpoint, "period": exc.period,
                                "province": exc.province, "raw_path": exc.raw_path or "",
                                "source": source},
                      allow_retries=False)


class CatalogueConfig(dg.Config):
    force: bool = Field(default=False, description="crawl the catalogue although the last "
                                                   "complete crawl is less than 7 days old")


@dg.asset(key=CATALOGUE_KEY, group_name=GROUP, pool="portal", kinds={"python", "json"},
          description="The procedure catalogue (/formalities, ~5,700 procedures, paged), "
                      "kept raw with its manifest under raw/_procedure_sessions/catalogue/; "
                      "weekly: skipped while the last complete crawl is under 7 days old.")
def procedure_catalogue(context: dg.AssetExecutionContext, config: CatalogueConfig,
                        chiso: ChisoSettings, portal: PortalResource) -> dg.MaterializeResult:
    redact.install(context.log)
    refuse_if_stopped(chiso)
    store = RawStore(chiso.raw_dir)
    now = datetime.now(UTC)
    fresh = None if config.force else catalogue_is_fresh(store, now)
    if fresh is not None:
        context.log.info(f"catalogue crawled at {fresh[1]['started_at']} (under 7 days ago): "
                         "not fetched again (run config force: true fetches it)")
        return dg.MaterializeResult(metadata={
            "crawled": False, "manifest": str(fresh[0]),
            "procedures": int(fresh[1].get("procedures") or 0)})
    client = portal.client()
    try:
        crawl = crawl_catalogue(client, store, now)
    except PortalError as exc:
        context.log.error(str(exc))
        if exc.retryable:
            raise
        raise _portal_failure(exc, chiso, "Procedure catalogue crawl",
                              client.description) from exc
    except CatalogueError as exc:
        raise dg.Failure(description=f"{exc}. The pages are kept under {chiso.raw_dir}; "
                                     "the previous catalogue stays in use.",
                         allow_retries=False) from exc
    states = crawl.frame.group_by("state").len().sort("state").iter_rows()
    return dg.MaterializeResult(metadata={
        "crawled": True, "manifest": str(crawl.manifest_path), "requests": crawl.requests,
        "procedures": crawl.frame.height, "source": client.description,
        "states": ", ".join(f"{s}: {n}" for s, n in states)})


@dg.asset(key=REF_PROCEDURES_KEY, group_name=GROUP, deps=[CATALOGUE_KEY],
          pool="duckdb_warehouse", kinds={"duckdb"},
          description="ref.procedures: the latest complete catalogue crawl, one row per "
                      "procedure (id, code, name, state, publishing and applied departments).")
def ref_procedures(context: dg.AssetExecutionContext, chiso: ChisoSettings,
                   warehouse: WarehouseResource) -> dg.MaterializeResult:
    from assets.warehouse import ensure_schema

    store = RawStore(chiso.raw_dir)
    try:
        found = latest_catalogue(store)
    except (CatalogueError, ValueError) as exc:
        raise dg.Failure(description=f"ref.procedures not replaced: {exc}",
                         allow_retries=False) from exc
    if found is None:
        raise dg.Failure(description="no complete procedure catalogue crawl under "
                                     f"{chiso.raw_dir}: materialize raw/procedure_catalogue",
                         allow_retries=False)
    manifest, frame = found
    with warehouse.get_connection() as con:
        ensure_schema(con)
        con.execute("BEGIN")
        try:
            con.execute("DELETE FROM ref.procedures")
            con.register("incoming", frame.to_arrow())
            con.execute("INSERT INTO ref.procedures BY NAME SELECT * FROM incoming")
            con.unregister("incoming")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return dg.MaterializeResult(metadata={"rows": frame.height, "manifest": str(manifest)})


@dg.asset(key=PROCEDURE_CAPTURES_KEY, group_name=GROUP, partitions_def=monthly_partitions,
          backfill_policy=dg.BackfillPolicy.single_run(),
          deps=[dg.AssetKey(["raw", "portal_captures"]), REF_PROCEDURES_KEY],
          pool="portal", kinds={"python", "json"},
          description="For each focus province (CHISO_FOCUS_PROVINCE), the five filtered "
                      "group answers (all but MDHL) of the procedures chosen by priority, "
                      "within CHISO_PROCEDURE_BUDGET requests a night; manifests under "
                      "raw/_procedure_sessions/<yyyy-mm>/, each capture with formality_id.")
def procedure_captures(context: dg.AssetExecutionContext, chiso: ChisoSettings,
                       portal: PortalResource) -> dg.MaterializeResult:
    redact.install(context.log)
    refuse_if_stopped(chiso)
    client = portal.client()
    store = RawStore(chiso.raw_dir)
    months = months_in_window(context)
    try:
        run = crawl_procedures(client, store, chiso.procedure_provinces, months,
                               budget=chiso.procedure_budget, log=context.log.debug)
    except PortalError as exc:
        context.log.error(str(exc))
        if exc.retryable:
            raise
        raise _portal_failure(exc, chiso, "Procedure crawl", client.description) from exc
    for note in run.notes:
        context.log.warning(note)
    lines = ["| month | province | procedures | dossiers covered | of | coverage |",
             "|---|---|---:|---:|---:|---:|"]
    shares = []
    for month, per_province in run.coverage.items():
        for code, cov in per_province.items():
            shares.append(cov.share)
            lines.append(f"| {month} | {code} | {cov.procedures} | {cov.covered_received} | "
                         f"{cov.province_received} | "
                         f"{'' if cov.share is None else f'{100 * cov.share:.1f} %'} |")
    context.log.info(
        f"procedures crawled: {len(run.crawled)} of {len(run.planned)} planned; budget used "
        f"{run.requests} of {run.budget - run.spent_before} left tonight "
        f"(CHISO_PROCEDURE_BUDGET={run.budget}); "
        + "; ".join(f"{m} coverage " + ", ".join(
            f"{c} {'-' if v.share is None else f'{100 * v.share:.1f} %'}" for c, v in p.items())
            for m, p in run.coverage.items()))
    metadata = {
        "procedures_crawled": len(run.crawled), "procedures_planned": len(run.planned),
        "budget": run.budget, "budget_used": run.requests,
        "spent_earlier_tonight": run.spent_before,
        "stopped_by_budget": run.stopped_by_budget,
        "coverage": dg.MetadataValue.md("\n".join(lines)),
        "manifests": "\n".join(str(p) for p in run.manifests) or "none",
        "notes": "\n".join(run.notes) or "none",
    }
    if len(shares) == 1 and shares[0] is not None:
        metadata["procedure_coverage"] = shares[0]
    if run.coverage and len(months) == 1:
        metadata["month"] = month_key(months[0])
    return dg.MaterializeResult(metadata=metadata)
