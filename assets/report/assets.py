"""report/scorecard: the focus province's monthly scorecard, an HTML page people read.

Built from the published copy (what analysts see), after it is replaced, one page per
month of the run: <data>/reports/<yyyy-mm>/<code>-scorecard.html with its charts.
"""

from pathlib import Path

import dagster as dg
import duckdb

from assets.partitions import monthly_partitions, months_in_window
from assets.resources import ChisoSettings

from .data import load_scorecard


def reports_dir(chiso: ChisoSettings) -> Path:
    return Path(chiso.data_dir) / "reports"


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
                "month, data-quality warnings. HTML with PNG charts under <data>/reports/.",
)
def scorecard(context: dg.AssetExecutionContext, chiso: ChisoSettings) -> dg.MaterializeResult:
    # matplotlib takes ~1.5 s to import: only the run that draws pays for it
    from .page import write_scorecard

    code = chiso.focus_province.upper()
    pages = {}
    with duckdb.connect(str(chiso.published_path), read_only=True) as con:
        for month in months_in_window(context):
            card = load_scorecard(con, code, month)
            if card is None:
                context.log.warning(f"no published data for {code} in {month:%Y-%m}: no page")
                continue
            pages[month] = write_scorecard(card, reports_dir(chiso), chiso.published_path)
            context.log.info(f"scorecard {code} {month:%Y-%m}: {pages[month]}")
    if not pages:
        raise dg.Failure(f"No published data for the focus province {code} in this run's "
                         "months: check CHISO_FOCUS_PROVINCE (a province code such as H60).",
                         allow_retries=False)
    latest = pages[max(pages)]
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(latest)),
        "url": dg.MetadataValue.url(latest.as_uri()),
        "focus_province": code,
        "pages": dg.MetadataValue.md("\n".join(
            f"- {m:%m/%Y}: [{p.name}]({p.as_uri()}) `{p}`" for m, p in sorted(pages.items()))),
    })
