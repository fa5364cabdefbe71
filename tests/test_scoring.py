"""The scoring rules reproduce the portal's own scores on every unit of the real captures."""

import json

import pytest
from conftest import SAMPLES

from assets.domain.catalogue import METRICS, band_for
from assets.domain.scoring import metric_score, tdgq_score, tttt_score
from assets.months import expected_province_count

PERIODS = ("month", "quarter", "year")


def units(endpoint: str, period: str, top: str, rows: str) -> list[dict]:
    data = json.loads((SAMPLES / endpoint / f"{period}-all.json").read_bytes())["data"]
    return [data[top], *data[rows]]


@pytest.mark.parametrize("endpoint", ["transparency", "handling-satisfaction",
                                      "dossier-digitized"])
@pytest.mark.parametrize("period", PERIODS)
def test_metric_rules_reproduce_every_unit(endpoint, period):
    checked = 0
    for unit in units(endpoint, period, "overview", "evaluation"):
        for m in unit["metrics"]:
            rule = METRICS[m["code"]].rule
            if rule in ("tracking", "as_reported"):
                continue
            ours = metric_score(m["code"], m["numerator"], m["denominator"])
            if m["score"] is None:
                assert ours is None, (unit["departmentName"], m)
            else:
                assert round(ours, 2) == pytest.approx(m["score"], abs=0.0101), m
            checked += 1
        # a group's score is the sum of its metric scores
        assert sum(m["score"] or 0 for m in unit["metrics"]) == pytest.approx(
            unit["totalScore"], abs=0.02)
    assert checked >= 3 * 164  # at least three scored metrics on every unit


@pytest.mark.parametrize("period", PERIODS)
def test_tree_groups_reproduce_from_raw_counts(period):
    for u in units("dvc-progress-tree", period, "parent", "children"):
        assert round(tdgq_score(u["totalOnTime"], u["totalReceived"]), 2) == pytest.approx(
            u.get("totalScore", u.get("score")), abs=0.0101)
    for u in units("formality-online-payment-tree", period, "parent", "children"):
        assert round(tttt_score(u), 2) == pytest.approx(u["totalScore"], abs=0.0101)


def test_zero_denominators_follow_the_portal():
    assert metric_score("PUBLISH_ON_TIME", 0, 0) is None  # null, counted as 0
    assert metric_score("PETITION_PROCESSING_ON_TIME", 0, 0) == 6  # no petitions: full marks
    assert metric_score("DOSSIER_RECEIVING_SATISFACTION", 0, 0) == 0
    assert metric_score("DOSSIER_RECEIVING_SATISFACTION", 95, 100) == 6  # above the threshold


def test_bands_and_eras():
    assert [band_for(x) for x in (95, 90, 85.5, 70, 59.92, 49.99)] == [
        "Xuất sắc", "Xuất sắc", "Tốt", "Khá", "Trung bình", "Yếu"]
    from datetime import date
    assert expected_province_count(date(2025, 6, 1)) == 63
    assert expected_province_count(date(2025, 7, 1)) == 34
