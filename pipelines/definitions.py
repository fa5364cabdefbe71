"""The chiso766 code location."""

import os

import dagster as dg

from assets.marts.build import mart_assets
from assets.marts.reference import reference_tables
from assets.publish.analyst_copy import analyst_copy
from assets.raw.captures import portal_captures
from assets.raw.procedures import procedure_captures, procedure_catalogue, ref_procedures
from assets.report.scorecard import scorecard
from assets.settings import Settings, load_settings
from assets.staging.procedure_load import procedure_tables
from assets.staging.sheet_import import spreadsheet_scores
from assets.staging.step import staging_tables
from checks.freshness import freshness_checks

from .after_import import har_captures
from .jobs import freshness_job, history_job, import_job, legacy_job, refresh_job
from .procedures import (
    catalogue_job,
    nightly_procedures,
    procedures_job,
    weekly_procedure_catalogue,
)
from .resources import build_resources
from .schedules import check_freshness_hourly, nightly_refresh
from .sensors import dead_run_sweeper, history_after_import, spreadsheet_inbox

# Offline by default: no usage statistics leave the machine.
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def build_defs(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=[portal_captures, staging_tables, spreadsheet_scores, har_captures,
                reference_tables, *mart_assets, analyst_copy, scorecard,
                procedure_catalogue, ref_procedures, procedure_captures, procedure_tables],
        asset_checks=[*freshness_checks],
        jobs=[refresh_job, legacy_job, freshness_job, import_job, history_job,
              catalogue_job, procedures_job],
        schedules=[nightly_refresh, check_freshness_hourly, weekly_procedure_catalogue,
                   nightly_procedures],
        sensors=[spreadsheet_inbox, history_after_import, dead_run_sweeper],
        resources=build_resources(settings),
    )


defs = build_defs(load_settings())
