"""The chiso766 code location."""

import os

import dagster as dg

from assets.marts.assets import mart_assets, unit_shares_add_up
from assets.publish.assets import analyst_copy
from assets.raw.assets import portal_captures
from assets.settings import Settings, load_settings
from assets.staging.assets import staging_tables

from .jobs import nightly_refresh, refresh_job
from .resources import build_resources

# Offline by default: no usage statistics leave the machine.
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def build_defs(settings: Settings) -> dg.Definitions:
    return dg.Definitions(
        assets=[portal_captures, staging_tables, *mart_assets, analyst_copy],
        asset_checks=[unit_shares_add_up],
        jobs=[refresh_job],
        schedules=[nightly_refresh],
        resources=build_resources(settings),
    )


defs = build_defs(load_settings())
