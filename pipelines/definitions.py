"""The chiso766 code location."""

import os

import dagster as dg

from assets.marts.build import mart_assets
from assets.marts.checks import mart_checks
from assets.publish.analyst_copy import analyst_copy
from assets.raw.captures import portal_captures
from assets.report.scorecard import scorecard
from assets.settings import Settings, load_settings
from assets.staging.sheet_import import spreadsheet_scores
from assets.staging.step import staging_tables
from checks.freshness import freshness_checks

from .after_import import har_captures
from .jobs import (
    check_freshness_hourly,
    freshness_job,
    history_after_import,
    history_job,
    import_job,
    legacy_job,
    nightly_refresh,
    refresh_job,
    spreadsheet_inbox,
)
from .resources import build_resources

# Offline by default: no usage statistics leave the machine.
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def build_defs(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=[portal_captures, staging_tables, spreadsheet_scores, har_captures,
                *mart_assets, analyst_copy, scorecard],
        asset_checks=[*mart_checks, *freshness_checks],
        jobs=[refresh_job, legacy_job, freshness_job, import_job, history_job],
        schedules=[nightly_refresh, check_freshness_hourly],
        sensors=[spreadsheet_inbox, history_after_import],
        resources=build_resources(settings),
    )


defs = build_defs(load_settings())
