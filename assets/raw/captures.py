"""raw/portal_captures: one month's responses from the portal, kept byte for byte."""

import json
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import duckdb

from assets import redact
from assets.months import month_key
from assets.partitions import monthly_partitions, months_in_window
from assets.resources import ChisoSettings, PortalResource, RefreshConfig, WarehouseResource
from assets.sources.portal import PortalError, PortalRejected

from .crawl import crawl_month
from .store import RawStore, final_session, staged_sha256

# The client already retries each request; the whole crawl is run again this many times,
# later, for an outage longer than the client's patience (PortalResource.crawl_retry_delay_s,
# CHISO_CRAWL_RETRY_DELAY_S, read when the run starts). Bad content is not retried.
CRAWL_RETRIES = 2


@dg.asset(
    key=["raw", "portal_captures"],
    group_name="raw",
    partitions_def=monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="portal",
    kinds={"python", "json"},
    description="The national summary and, for each configured province, the six group "
                "endpoints, saved immutably under <data>/raw with a manifest per crawl.",
)
def portal_captures(context: dg.AssetExecutionContext, config: RefreshConfig,
                    chiso: ChisoSettings, portal: PortalResource,
                    warehouse: WarehouseResource) -> dg.MaterializeResult:
    redact.install(context.log)
    try:
        return _crawl(context, config, chiso, portal, warehouse)
    except Exception as exc:
        if isinstance(exc, dg.DagsterError) or (isinstance(exc, dg.Failure)
                                                and not exc.allow_retries):
            raise
        raise dg.RetryRequested(
            max_retries=CRAWL_RETRIES,
            seconds_to_wait=retry_wait_s(context.retry_number, portal.crawl_retry_delay_s),
        ) from exc
    except BaseException as exc:
        if isinstance(exc, GeneratorExit):
            raise
        # SIGTERM, Ctrl-C, a termination from the UI: obeyed at once, never retried.
        raise dg.Failure(
            description=(f"Portal crawl terminated ({type(exc).__name__}): the run was asked "
                         "to stop; not retried. Answers received so far are kept under "
                         f"{chiso.raw_dir} with a manifest marked failed. Rerun when wanted."),
            metadata={"terminated_by": type(exc).__name__},
            allow_retries=False) from None


def retry_wait_s(retries_so_far: int, delay_s: float) -> float:
    """Exponential: ``delay_s`` before the first retry, 3 × before the second."""
    return (2 ** (retries_so_far + 1) - 1) * delay_s


def _crawl(context: dg.AssetExecutionContext, config: RefreshConfig, chiso: ChisoSettings,
           portal: PortalResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
    refuse_if_stopped(chiso)
    client = portal.client()
    store = RawStore(chiso.raw_dir)
    per_month, kept_final = {}, {}
    months = months_in_window(context)
    staged = ({} if config.force else
              staged_in_warehouse(Path(warehouse.database), months, context.log))
    for month in months:
        final = None if config.force else final_session(store, month, staged[month])
        if final is not None:  # a closed month's final, staged crawl: not fetched again
            kept_final[month_key(month)] = final[0].name
            context.log.info(f"{month_key(month)}: final crawl {final[0]} kept and staged, "
                             "not fetched again (run config force: true re-fetches it)")
            continue
        try:
            result = crawl_month(client, store, month, chiso.province_codes,
                                 log=context.log.debug)
        except PortalError as exc:
            context.log.error(str(exc))
            if exc.retryable:
                raise
            if isinstance(exc, PortalRejected):
                write_safety_stop(chiso, exc)
            raise dg.Failure(
                description=f"Portal crawl of {month_key(month)} failed: {exc}",
                metadata={"endpoint": exc.endpoint, "period": exc.period,
                          "province": exc.province, "raw_path": exc.raw_path or "",
                          "source": client.description},
                allow_retries=False,
            ) from exc
        per_month[month_key(month)] = result
        context.log.info(
            f"{month_key(month)}: {result.responses} responses "
            f"({result.new_files} new files, {result.bytes / 1e6:.1f} MB) for "
            f"{len(result.provinces)} provinces; manifest {result.manifest_path}")
    return dg.MaterializeResult(metadata={
        "source": client.description,
        "responses": sum(r.responses for r in per_month.values()),
        "new_files": sum(r.new_files for r in per_month.values()),
        "megabytes": round(sum(r.bytes for r in per_month.values()) / 1e6, 2),
        "provinces": len(next(iter(per_month.values())).provinces) if per_month else 0,
        "manifests": "\n".join(str(r.manifest_path) for r in per_month.values()),
        "final_not_refetched": "\n".join(f"{k}: {v}" for k, v in kept_final.items()) or "none",
    })


def staged_in_warehouse(warehouse: Path, months: list[date], log=None
                        ) -> dict[date, set[str] | None]:
    """Per month, the sha256 of its staged captures (empty if none); None for every month
    if the warehouse cannot be read now (another process writes it): then the months are
    fetched again, the safe side."""
    if not warehouse.exists():
        return {m: set() for m in months}
    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            return {m: staged_sha256(con, m) for m in months}
    except duckdb.Error as exc:
        if log:
            log.warning(f"cannot read what was staged from {warehouse} "
                        f"({type(exc).__name__}); every month is fetched again")
        return {m: None for m in months}


def write_safety_stop(chiso: ChisoSettings, exc: PortalError) -> None:
    chiso.safety_stop_path.parent.mkdir(parents=True, exist_ok=True)
    chiso.safety_stop_path.write_text(json.dumps({
        "since": datetime.now(UTC).isoformat(), "endpoint": exc.endpoint,
        "period": exc.period, "province": exc.province, "detail": exc.detail,
        "raw_path": exc.raw_path,
    }, ensure_ascii=False, indent=1), "utf-8")


def refuse_if_stopped(chiso: ChisoSettings) -> None:
    """After a refusal, no crawl until a person has looked (asking again could get us banned)."""
    path = chiso.safety_stop_path
    if path.exists():
        stop = json.loads(path.read_text("utf-8"))
        raise dg.Failure(
            description=(f"Crawling is stopped since {stop.get('since')}: the portal refused "
                         f"{stop.get('endpoint')} {stop.get('period')} {stop.get('province')} "
                         f"({stop.get('detail')}). Check the kept answer "
                         f"({stop.get('raw_path')}), then delete {path} to resume."),
            metadata={"safety_stop": str(path)}, allow_retries=False)
