"""The bulk (polars) form of every expectation counts exactly the rows GX counts.

A real staged month (Phú Thọ 08/2026 and Tuyên Quang, through the real crawl and parse)
is damaged in every way a suite looks for; then every suite is run row by row in GX and
in bulk, and each expectation's unexpected count must agree.
"""

import math
from datetime import date

import polars as pl
import pytest
from conftest import AUGUST

from assets.raw.crawl import crawl_month
from assets.raw.store import RawStore
from assets.sources.portal import ReplayPortalClient
from assets.staging.engine import parse_batch
from assets.staging.step import PORTAL_PATH, validation_datasets
from checks.bulk import RULE_KINDS, BulkFormMissing, summarise_all, unexpected
from checks.gx_runner import merge_reports, outcome_rows, validate, validate_in_bulk
from checks.legacy_suites import legacy_suites
from checks.suites import SUITES
from checks.summaries import unit_counts


@pytest.fixture(scope="module")
def staged(replay_dir, tmp_path_factory):
    store = RawStore(tmp_path_factory.mktemp("raw"))
    crawl_month(ReplayPortalClient(replay_dir), store, AUGUST, ("H44", "H60"))
    return parse_batch(PORTAL_PATH, store, PORTAL_PATH.select(store, AUGUST))


def set_rows(frame: pl.DataFrame, column: str, rows: list[int], value) -> pl.DataFrame:
    idx = pl.int_range(pl.len())
    dtype = frame.schema[column]
    return frame.with_columns(pl.when(idx.is_in(rows)).then(pl.lit(value, dtype))
                              .otherwise(pl.col(column)).alias(column))


def damaged(frames: dict) -> dict:
    um = frames["unit_metrics"]
    um = set_rows(um, "score", [3], -1.0)
    um = set_rows(um, "score", [4], 99.0)  # above its max, and breaks the group sum
    um = set_rows(um, "numerator", [5, 6], 1e6)  # above the denominator
    um = set_rows(um, "denominator", [6], None)  # ... unless one is missing
    um = set_rows(um, "ratio", [7], 150.0)
    um = set_rows(um, "ratio", [8], math.nan)  # NaN is missing to GX
    um = set_rows(um, "metric_code", [9], "NEW_METRIC")
    um = set_rows(um, "max_score", [10], None)
    um = set_rows(um, "unit_id", [12], None)
    um = pl.concat([um, um[20:22]])  # two rows twice
    ugs = frames["unit_group_scores"]
    ugs = set_rows(ugs, "score", [1], 200.0)
    ugs = set_rows(ugs, "group_code", [2], "XXXX")
    ugs = set_rows(ugs, "ratio", [3], -0.5)
    province_row = ugs["is_province"].arg_true()[0]
    ugs = set_rows(ugs, "score", [province_row], ugs["score"][province_row] + 1)  # summary differs
    ugs = pl.concat([ugs, ugs[5:6]])
    up = frames["unit_parameters"]
    up = set_rows(up, "value", [0, 1], -3.0)
    up = set_rows(up, "parameter", [2], None)
    # a raw count a metric needs, missing for one unit
    up = up.filter(pl.int_range(pl.len()) != up["parameter"].eq("totalReceived").arg_true()[1])
    # a unit's on time above its received (also breaks the province's sum of on time)
    up = set_rows(up, "value", [up["parameter"].eq("totalOnTime").arg_true()[5]], 1e7)
    ns = frames["national_summary"]
    ns = set_rows(ns, "total_score", [0], 120.0)
    ns = set_rows(ns, "ckmb", [1], -1.0)
    ns = set_rows(ns, "province_code", [2], ns["province_code"][3])
    ns = set_rows(ns, "province_name", [4], None)
    ns = ns.filter(pl.int_range(pl.len()) != 5)  # 33 provinces
    ns = set_rows(ns, "province_id", [6], "not-a-province")  # an id the reference lacks
    caps = frames["captures"]
    caps = set_rows(caps, "declared_total", [1], 7)
    return {**frames, "unit_metrics": um, "unit_group_scores": ugs, "unit_parameters": up,
            "national_summary": ns, "captures": caps}


def bulk_counts(datasets: dict) -> dict:
    summary = summarise_all(datasets)
    totals = summary.group_by("suite", "expectation").agg(pl.col("unexpected").sum())
    return {(r["suite"], r["expectation"]): r["unexpected"] for r in totals.to_dicts()}


def previous_units(frames: dict, collapse: bool) -> pl.DataFrame:
    """Last month's units per province and group: as many as now, or (``collapse``) three
    times as many for one group, as when a tree endpoint lost two thirds of its units."""
    now = unit_counts(frames).sort("province_id", "group_code")
    factor = pl.when(pl.int_range(pl.len()) == 0).then(3).otherwise(1) if collapse else 1
    return now.select("province_id", "group_code", pl.lit(date(2026, 7, 1)).alias(
        "previous_month"), (pl.col("units") * factor).alias("previous_units"))


@pytest.mark.parametrize("damage", [False, True], ids=["as captured", "damaged"])
def test_bulk_counts_equal_gx_counts_for_every_expectation(staged, damage):
    frames = damaged(staged) if damage else staged
    datasets = validation_datasets(frames, [AUGUST], previous_units(frames, damage))
    gx = validate(datasets)
    bulk = bulk_counts(datasets)
    assert len(gx.outcomes) == sum(len(s.expectations) for s in SUITES) == len(bulk)
    for o in gx.outcomes:
        assert bulk[(o.suite, o.index)] == o.unexpected_count, o.message()
        assert o.element_count == datasets[o.dataset].height
    failed = {o.suite for o in gx.outcomes if not o.success}
    if damage:  # every suite was hit: the comparison above covered failures of each
        assert failed == {s.name for s in SUITES}, failed
    else:
        assert not gx.blocking_failures


def test_bulk_validation_reports_what_row_by_row_gx_reports(staged):
    bad = damaged(staged)
    datasets = validation_datasets(bad, [AUGUST], previous_units(bad, True))
    rows = validate(datasets)
    bulk = validate_in_bulk(datasets)
    assert outcome_rows(bulk) == outcome_rows(rows)  # the audit rows (NaN as text)
    # a month that passes is reported in bulk without a row-by-row run, same figures
    clean = validation_datasets(staged, [AUGUST])
    assert outcome_rows(validate_in_bulk(clean)) == outcome_rows(validate(clean))
    # months validated one by one merge into one report per expectation
    merged = merge_reports([bulk, validate_in_bulk(clean)])
    assert len(merged.outcomes) == len(rows.outcomes)
    assert [o.unexpected_count for o in merged.outcomes] == [o.unexpected_count
                                                             for o in rows.outcomes]


def test_the_bulk_form_reads_each_rule_from_its_suite_and_restates_no_gx_default():
    """Every expectation of every suite has one translation of its kind, fed the suite's
    own arguments; an argument it does not know, or a GX default left unsaid, is refused."""
    for suite in (*SUITES, *legacy_suites("legacy_scores")):
        for cls_name, kw in suite.expectations:
            reads, needs, _ = RULE_KINDS[cls_name]
            assert needs <= set(kw) <= reads, (suite.name, cls_name, kw)
    frame = pl.DataFrame({"a": [1.0, None], "b": [1.0, 2.0]})
    with pytest.raises(BulkFormMissing, match="mostly"):
        unexpected("ExpectColumnValuesToBeBetween", {"column": "a", "min_value": 0,
                                                     "mostly": 0.9}, frame)
    with pytest.raises(BulkFormMissing, match="ignore_row_if"):
        unexpected("ExpectColumnPairValuesToBeEqual", {"column_A": "a", "column_B": "b"}, frame)
    with pytest.raises(BulkFormMissing, match="ExpectColumnMeanToBeBetween"):
        unexpected("ExpectColumnMeanToBeBetween", {"column": "a"}, frame)
