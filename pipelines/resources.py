"""Resources built from the environment (assets/settings.py lists every variable)."""

import dagster as dg

from assets.resources import ChisoSettings, PortalResource, WarehouseResource
from assets.settings import Settings

from .dead_runs import record_this_process, sweep_dead_runs


class ChisoRunSettings(ChisoSettings):
    """The project's settings resource; when a run's first step starts, it records the
    process executing the run and sweeps runs whose process is gone."""

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        instance, run = context.instance, context.run
        run_id = run.run_id if run is not None else None
        if instance is None or run_id is None:  # a sensor, not a run
            return
        if record_this_process(instance, run_id):
            for dead in sweep_dead_runs(instance, exclude=(run_id,)):
                context.log.warning(f"Run {dead} had lost its process: marked failed, "
                                    "its pool slots freed.")


def build_resources(settings: Settings) -> dict:
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    return {
        "chiso": ChisoRunSettings(
            data_dir=str(settings.data_dir),
            provinces=",".join(settings.provinces) if settings.provinces else "all",
            focus_province=settings.focus_province,
            focus_provinces=",".join(settings.focus_provinces),
            procedure_budget=settings.procedure_budget,
            inbox_settle_s=settings.inbox_settle_s,
            final_gap_h=settings.final_gap_h,
            inbox_max_xml_mb=settings.inbox_max_xml_mb,
            har_max_mb=settings.har_max_mb,
        ),
        "portal": PortalResource(
            url=settings.portal_url, pause_s=settings.portal_pause_s,
            timeout_s=settings.portal_timeout_s, max_attempts=settings.portal_max_attempts,
            backoff_s=settings.portal_backoff_s, crawl_deadline_s=settings.crawl_deadline_s,
            crawl_retry_delay_s=settings.crawl_retry_delay_s,
            # An EnvVar is resolved at run time and never shown in the UI or in logs.
            token=dg.EnvVar("CHISO_PORTAL_TOKEN") if settings.portal_token else None,
            transport=settings.portal_transport, browser_page=settings.portal_browser_page,
            chromium=settings.chromium_path,
        ),
        "warehouse": WarehouseResource(database=str(settings.warehouse_path)),
    }
