"""report/scorecard: what people read — the focus province's scorecard and the site.

Built from the published copy (what analysts see), after it is replaced:
- one page per month of the run: <data>/reports/<yyyy-mm>/<code>-scorecard.html with its
  charts, and a PDF of the newest month's page beside it (headless Chromium);
- the static site of every province and month (assets/report/site.py), months whose
  data changed rebuilt: <data>/reports/index.html.

The asset's latest materialization is always the newest published month: a run of older
months (the legacy service, a backfill) ends by recording the newest month's page again,
with the same links, so the UI never points at an old month.
"""

from pathlib import Path

import dagster as dg
import duckdb

from assets.months import month_key
from assets.partitions import monthly_partitions, months_in_window
from assets.publish.summary import focus_summary
from assets.resources import ChisoSettings

from .data import load_scorecard


def reports_dir(chiso: ChisoSettings) -> Path:
    return Path(chiso.data_dir) / "reports"


def _newest_month(con, code: str):
    return con.execute("SELECT max(month) FROM marts.province_monthly WHERE province_code = ?",
                       [code]).fetchone()[0]


@dg.asset(
    key=["report", "scorecard"],
    deps=[dg.AssetKey(["publish", "analyst_copy"])],
    group_name="report",
    partitions_def=monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    # it only reads the published copy, but stays in line with the writers so a queued
    # run's publish cannot swap the copy between two of its months
    pool="duckdb_warehouse",
    kinds={"html", "python"},
    description="Monthly scorecard of the focus province (CHISO_FOCUS_PROVINCE): total and "
                "rank, points lost by group, metric and unit, what-if, change since last "
                "month, data-quality warnings; HTML with PNG charts under <data>/reports/, a "
                "PDF of the newest month; and the report site of every province and month "
                "(<data>/reports/index.html).",
)
def scorecard(context: dg.AssetExecutionContext, chiso: ChisoSettings):
    # matplotlib takes ~1.5 s to import: only the run that draws pays for it
    from .page import write_scorecard
    from .site import build_site

    code = chiso.focus_province.upper()
    pages = {}
    out = reports_dir(chiso)
    with duckdb.connect(str(chiso.published_path), read_only=True) as con:
        run_months = months_in_window(context)
        newest = _newest_month(con, code)
        # the newest month's page is written by every run: the materialization that
        # ends this run points at it
        for month in sorted(set(run_months) | ({newest} if newest else set())):
            card = load_scorecard(con, code, month)
            if card is None:
                context.log.warning(f"no published data for {code} in {month_key(month)}: no page")
                continue
            pages[month] = write_scorecard(card, out, chiso.published_path)
            context.log.info(f"scorecard {code} {month_key(month)}: {pages[month]}")
        preview = focus_summary(con, code, newest) if newest else ""
    if newest is None:
        raise dg.Failure(f"No published data for the focus province {code} in any month: "
                         "check CHISO_FOCUS_PROVINCE (a province code such as H60).",
                         allow_retries=False)
    site = build_site(chiso.published_path, out, code)
    context.log.info(f"report site: {site['index']} ({site['pages_written']} pages written, "
                     f"{len(site['rebuilt_months'])} of {site['months']} months rebuilt, "
                     f"{site['seconds']} s)")
    latest = pages[newest]
    pdf = _print_pdf(context, latest)
    rebuilt = ", ".join(f"{m:%m/%Y}" for m in site["rebuilt_months"]) or "none"
    metadata = {
        "newest_month": f"{newest:%m/%Y}",
        "scorecard": dg.MetadataValue.path(str(latest)),
        "pdf": dg.MetadataValue.path(str(pdf)) if pdf else "not written (no browser)",
        "site_index": dg.MetadataValue.path(str(site["index"])),
        "site_newest_page": dg.MetadataValue.path(str(site["newest"])),
        "focus_province": code,
        # file:// links do nothing from the http UI: what matters is shown here
        "preview": dg.MetadataValue.md(preview),
        "site": dg.MetadataValue.md(
            f"Open in a browser on this machine (file links do not open from the UI):\n\n"
            f"- index: `{site['index']}`\n- newest page: `{site['newest']}`\n"
            f"- months rebuilt this run: {rebuilt} ({site['pages_written']} pages, "
            f"{site['seconds']} s)"),
        "run_months": ", ".join(f"{m:%m/%Y}" for m in sorted(pages) if m in run_months),
    }
    yield dg.MaterializeResult(metadata=metadata)
    if newest not in run_months:
        # recorded after the run's own months: the latest materialization is the newest
        yield dg.AssetMaterialization(asset_key=context.asset_key,
                                      partition=newest.strftime("%Y-%m-%d"),
                                      metadata=metadata)


def _print_pdf(context, page: Path) -> Path | None:
    from .browser import BrowserMissing, print_pdf

    try:
        return print_pdf(page, page.with_suffix(".pdf"))
    except BrowserMissing as exc:
        context.log.warning(f"no PDF of {page.name}: {exc}")
        return None
