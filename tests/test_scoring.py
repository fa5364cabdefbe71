"""The scoring rules reproduce the portal's own scores on every unit of the real captures."""

import json

import duckdb
import pytest
from conftest import AUGUST, PROJECT, SAMPLES

from assets.domain.catalogue import BANDS, GROUP_CODES, METRICS
from assets.marts.build import rebuild_months
from assets.months import expected_province_count
from assets.sources.endpoints import NATIONAL
from assets.staging.parse import Rows, parse_capture
from assets.warehouse import ensure_schema, refresh_reference
from tools.scoring_oracle import metric_score, tdgq_score, tttt_score
from tools.synthetic import load_provinces, national_summary

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


def test_a_total_gets_its_band_in_the_mart_from_ref_bands():
    """The band is looked up in SQL only, in the ref.bands the catalogue's BANDS fill."""
    totals = (95, 90, 85.5, 70, 59.92, 49.99, 0)
    refs = load_provinces()[:len(totals)]
    scores = {r["departmentCode"]: {g: (t if g == "CKMB" else 0.0) for g in GROUP_CODES}
              for r, t in zip(refs, totals, strict=True)}
    body = json.dumps(national_summary(refs, scores, None, shape="minimal")).encode()
    rows = Rows()
    parse_capture({"endpoint": NATIONAL.name, "path": "service-results/x.json",
                   "province_id": None, "province_code": "national", "page": 1,
                   "captured_at": "2026-09-02T01:00:00+00:00", "http_status": 201,
                   "sha256": "0" * 64, "bytes": len(body), "origin": {}}, body, rows, AUGUST)
    staged = rows.frames()["national_summary"]  # noqa: F841 (read by SQL)
    with duckdb.connect() as con:
        ensure_schema(con)
        refresh_reference(con)
        con.execute("INSERT INTO staging.national_summary BY NAME SELECT * FROM staged")
        rebuild_months(con, "province_monthly", [AUGUST])
        got = dict(con.execute("SELECT total_score, band FROM marts.province_monthly "
                               "WHERE series = 'reported'").fetchall())
        assert con.execute("SELECT floor, band FROM ref.bands ORDER BY floor DESC").fetchall() \
            == [(float(f), b) for f, b in BANDS]
    assert [got[t] for t in totals] == ["Xuất sắc", "Xuất sắc", "Tốt", "Khá", "Trung bình",
                                        "Yếu", "Yếu"]


def test_eras():
    from datetime import date

    assert expected_province_count(date(2025, 6, 1)) == 63
    assert expected_province_count(date(2025, 7, 1)) == 34


def test_the_pipeline_scores_in_sql_only():
    """The Python formula is a test oracle: nothing the pipeline runs imports it."""
    for root in ("assets", "checks", "pipelines"):
        for path in (PROJECT / root).rglob("*.py"):
            assert "scoring_oracle" not in path.read_text("utf-8"), path
