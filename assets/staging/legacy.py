"""staging/legacy_scores: the legacy service's months (63 provinces and their units).

A path of the staging engine (assets/staging/engine.py), run inside the staging step
(assets/staging/step.py), so a run's staging tables are materialized together or, when
nothing is new, not at all. Months of the 34-province era have no legacy captures: the
path leaves them alone.
"""

from datetime import date

import polars as pl

from assets.months import Era
from assets.sources.endpoints import LEGACY
from assets.tables import asset_key
from checks.legacy_suites import legacy_suites

from .engine import Batch, Reads, StagedPath, latest_session
from .legacy_parse import frame, history_summaries, parse_legacy_capture

LEGACY_KEY = asset_key("legacy_scores")
LEGACY_SUITES = legacy_suites("legacy_scores")


def validation_datasets(name: str, df: pl.DataFrame) -> dict[str, pl.DataFrame]:
    summaries = history_summaries(df)
    return {name: df, **{f"{name}:{k}": v for k, v in summaries.items()}}


def parse_legacy(batch: Batch, reads: Reads) -> dict[str, pl.DataFrame]:
    rows: list[dict] = []
    for _session, capture, body in reads:
        rows += parse_legacy_capture(capture, body, batch.month)
    return {"legacy_scores": frame(rows)}


def _datasets(frames: dict[str, pl.DataFrame], _month: date, _previous) -> dict:
    return validation_datasets("legacy_scores", frames["legacy_scores"])


LEGACY_PATH = StagedPath(
    name="legacy", tables=("legacy_scores",), era=Era.PRE_MERGER,
    select=latest_session(LEGACY.name), parse=parse_legacy, datasets=_datasets,
    suites=LEGACY_SUITES, check_key=lambda _suite: LEGACY_KEY,
    what="parseable legacy response")
