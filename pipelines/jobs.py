"""Jobs: which assets each run writes. Schedules and sensors that launch them are
schedules.py and sensors.py beside this file."""

import dagster as dg

from assets.marts_catalogue import REFERENCE_KEY
from assets.raw.procedures import PROCEDURE_KEYS
from assets.staging.har_import import HAR_KEY
from assets.staging.legacy import LEGACY_KEY
from assets.staging.procedure_load import PROCEDURE_STAGING_KEYS
from assets.staging.sheet_import import SHEETS_KEY
from checks.freshness import freshness_checks

from .incidents import incident_report

PROCEDURE_ASSETS = (*PROCEDURE_STAGING_KEYS, dg.AssetKey(["marts", "procedure_monthly"]),
                    dg.AssetKey(["marts", "unit_procedure_points_lost"]))


def writer_job(name: str, selection, description: str):
    """A job that writes the warehouse: queued behind the others (tag), the incident hook,
    and one process for the whole run (the writers take turns anyway, one pool slot, and a
    process per step costs ~6 s of start-up each on two cores)."""
    return dg.define_asset_job(name, selection=selection,
                               tags={"chiso766/writer": "warehouse"}, hooks={incident_report},
                               executor_def=dg.in_process_executor, description=description)


refresh_job = writer_job(
    "refresh_months",
    # everything monthly; spreadsheets and HARs come in through the inbox (import_inbox),
    # and staging/legacy_scores is refresh_legacy's: a month from 2025-07 has no legacy data,
    # so it is not recorded as materialized (empty) for it. (A range over months before
    # 2025-07 still loads the legacy service's answers into staging.legacy_scores, in the
    # staging step, without recording it: use refresh_legacy for those months.)
    # (the procedure assets, their staging and marts included, have their own jobs:
    # pipelines/procedures.py. Here, a month without per-procedure answers would skip
    # the procedure marts and, after them, the publish.)
    dg.AssetSelection.all() - dg.AssetSelection.assets(SHEETS_KEY, HAR_KEY, LEGACY_KEY,
                                                       *PROCEDURE_KEYS, *PROCEDURE_ASSETS),
    "Crawl, validate, load, build the marts and publish, for one month or a range of "
    "months (one run).")

freshness_job = dg.define_asset_job(
    "check_freshness",
    selection=dg.AssetSelection.checks(*freshness_checks),
    description="Is the published copy up to date? (warnings only)",
)

PROVINCE_MARTS = dg.AssetSelection.assets(["marts", "province_monthly"],
                                          ["marts", "group_monthly"])
# Every mart built (directly or not) from the province and group marts: rebuilding a month
# of those rebuilds these too (score_change_explained, recoverable_points).
DEPENDENT_MARTS = PROVINCE_MARTS.downstream() & dg.AssetSelection.groups("marts")
# recoverable_points reads the metric detail (marts.metric_monthly), which the legacy
# service and the spreadsheets never have: for their months it is always empty, so
# refresh_legacy and rebuild_history do not record it (no empty materializations); today's
# months get it from refresh_months. (A spreadsheet never replaces an API month: the API
# is the first source of a month, so an import cannot change those months' ranks.)
NEEDS_METRIC_DETAIL = dg.AssetSelection.assets(["marts", "recoverable_points"])

LEGACY_SELECTION = (dg.AssetSelection.assets(["raw", "portal_captures"], LEGACY_KEY,
                                             ["publish", "analyst_copy"], REFERENCE_KEY)
                    | DEPENDENT_MARTS - NEEDS_METRIC_DETAIL)

legacy_job = writer_job(
    "refresh_legacy", LEGACY_SELECTION,
    "Months before 2025-07 (the legacy service, 63 provinces): crawl, load "
    "staging.legacy_scores, rebuild the province and group marts and the marts built on "
    "them (score_change_explained) and publish, in one run. "
    "Only the tables those months have data for are materialized.")

import_job = writer_job(
    "import_inbox", dg.AssetSelection.assets(SHEETS_KEY, HAR_KEY),
    "Import what waits in <data>/inbox/: ranking spreadsheets (.xlsx/.csv) and HAR files "
    "saved in a browser on the portal (.har: their complete months are staged, every mart "
    "rebuilt and the copy published in the same run). Rejected files move to "
    "inbox/rejected/ with a note saying why.")

history_job = writer_job(
    "rebuild_history",
    DEPENDENT_MARTS - NEEDS_METRIC_DETAIL
    | dg.AssetSelection.assets(["publish", "analyst_copy"], ["report", "scorecard"],
                               REFERENCE_KEY),
    "Rebuild the province and group marts of a range of months from staging (no crawl), "
    "and the marts built on them that such months feed (score_change_explained), then "
    "publish and rebuild the report site's changed months: after a spreadsheet import.")
