"""What follows a HAR's staging in the import step: every mart of the months it touched
rebuilt, and the analysts' copy published — wired here, in the roof, so staging does not
import the layers above it (assets/staging/har_import.py takes it as a parameter).
"""

from datetime import date

import dagster as dg
import duckdb

from assets.marts.build import MARTS, rebuild_months
from assets.months import months_following
from assets.publish.analyst_copy import publish_copy
from assets.resources import ChisoSettings
from assets.staging.har_import import Downstream, har_captures_asset
from assets.warehouse import months_scored, refresh_reference

PUBLISH_KEY = dg.AssetKey(["publish", "analyst_copy"])


def rebuild_and_publish(con: duckdb.DuckDBPyConnection, months: list[date],
                        chiso: ChisoSettings) -> Downstream:
    """Rebuild every mart of the staged months and the months after them, then publish."""
    refresh_reference(con)
    touched = sorted({*months, *months_scored(con, months_following(months))})
    rows = {name: rebuild_months(con, name, touched, chiso.final_gap_h) for name in MARTS}
    publish_copy(con, chiso.published_path)
    # a mart with no row for these months (the procedure marts of a HAR without
    # per-procedure answers) is not recorded as materialized for them
    return Downstream(touched, {"mart_rows": rows},
                      [*(dg.AssetKey(["marts", n]) for n in MARTS if rows[n]), PUBLISH_KEY])


har_captures = har_captures_asset(rebuild_and_publish)
