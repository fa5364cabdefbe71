"""The portal misbehaves: every fault keeps good data, keeps the raw answer, and says where.

Each case starts from the same good August (Phú Thọ, published), points the pipeline
at a real local server that misbehaves on command, and runs August again.
"""

import json
import math
import shutil
from dataclasses import dataclass, field

import pytest
from conftest import AUGUST, SAMPLES, Pipeline

from tools.portal_server import Fault, serve

TABLES = ("staging.unit_metrics", "staging.unit_parameters", "staging.unit_group_scores",
          "staging.national_summary", "marts.province_monthly", "marts.group_monthly",
          "marts.metric_monthly", "marts.unit_points_lost")


# The values, not when they were captured, nor whether a replay index called them synthetic
# (over HTTP nothing does).
VALUES = "SELECT COLUMNS(lambda c: c NOT IN ('captured_at', 'is_synthetic')) FROM {} ORDER BY ALL"


def rows(p: Pipeline) -> dict:
    with p.published() as con:
        return {t: con.execute(VALUES.format(t)).fetchall() for t in TABLES}


def first_page_ids(n: int) -> list[str]:
    doc = json.loads((SAMPLES / "transparency" / "month-all.json").read_bytes())
    return [u["departmentId"] for u in doc["data"]["evaluation"][:n]]


def edit_units(fn):
    """A mutate fault that edits every unit row of a metrics or tree response."""
    def mutate(doc):
        data = doc["data"]
        for unit in data.get("evaluation") or data.get("children") or []:
            fn(unit)
    return mutate


def drop_metric(code):
    def fn(unit):
        unit["metrics"] = [m for m in unit["metrics"] if m["code"] != code]
    return fn


def repeat_page_one(doc):
    for unit, repeated in zip(doc["data"]["evaluation"], first_page_ids(50), strict=False):
        unit["departmentId"] = repeated


def duplicate_child(doc):
    doc["data"]["children"].append(dict(doc["data"]["children"][0]))


def one_province_less(doc):
    doc["data"]["evaluation"].pop(0)  # the best province, not Phú Thọ
    doc["data"]["pagination"]["total"] -= 1


def set_first(path, value):
    """Set a field of the first unit (tree child or metrics row, or one of its metrics)."""
    def mutate(doc):
        data = doc["data"]
        unit = (data.get("evaluation") or data.get("children"))[0]
        target = unit["metrics"][path[0]] if isinstance(path[0], int) else unit
        target[path[-1]] = value
    return mutate


@dataclass
class Case:
    faults: list[Fault]
    recovers: bool
    says: list[str] = field(default_factory=list)  # fragments the failure must contain
    endpoint: str = ""  # where the fault is (named in the message)
    kept: str | None = None  # a byte string the kept raw answer contains
    server_opts: dict = field(default_factory=dict)


E_CKMB, E_TDGQ = "transparency", "dvc-progress-tree"
CASES = {
    "connection refused": Case([], False, ["no good answer", "ConnectionError"],
                               "service-results"),
    "timeout then recovery": Case([Fault("delay", seconds=2.5, endpoint=E_CKMB)], True),
    "reset mid-body then recovery": Case([Fault("reset_mid_body", endpoint=E_TDGQ)], True),
    # three bad answers use up the client's 3 attempts; the crawl asks Dagster to run it again
    "500 502 503 then recovery": Case(
        [Fault("status", status=s, endpoint=E_CKMB) for s in (500, 502, 503)], True,
        kept=b"\"status\":503"),
    "429 with Retry-After": Case(
        [Fault("status", status=429, headers={"Retry-After": "1"}, endpoint=E_TDGQ)], True),
    "5xx that never ends": Case([Fault("status", status=503, times=None, endpoint=E_TDGQ)],
                                False, ["no good answer", "HTTP 503"], E_TDGQ),
    "403 refused": Case([Fault("status", status=403, endpoint=E_CKMB)], False,
                        ["HTTP 403", "refused", "crawl stopped"], E_CKMB),
    "HTML request-rejected page": Case(
        [Fault("html_200", endpoint=E_CKMB,
               body="<html><body><h1>Request Rejected</h1>Your support ID is 1</body></html>")],
        False, ["rejects the request", "crawl stopped"], E_CKMB, kept=b"Request Rejected"),
    "200 with an HTML maintenance page": Case(
        [Fault("html_200", endpoint=E_TDGQ)], False, ["HTML page, not JSON"], E_TDGQ,
        kept=b"<!DOCTYPE html>"),
    "truncated JSON": Case([Fault("truncate", endpoint=E_CKMB)], False,
                           ["invalid or truncated JSON"], E_CKMB, kept=b'"code":"OK"'),
    "envelope code not OK": Case(
        [Fault("body", endpoint=E_TDGQ,
               body=json.dumps({"code": "ERROR", "message": "Hệ thống bận"}),
               content_type="application/json")],
        False, ["envelope code 'ERROR'", "Hệ thống bận"], E_TDGQ, kept=b"ERROR"),
    "empty data": Case([Fault("body", endpoint=E_CKMB, body='{"code":"OK","data":{}}',
                              content_type="application/json")],
                       False, ["envelope 'data' is empty"], E_CKMB),
    "pagination total that does not match": Case(
        [Fault("mutate", endpoint=E_CKMB, times=None,
               mutate=lambda d: d["data"]["pagination"].update(total=170))],
        False, ["pagination.total"], E_CKMB),
    "a page that repeats another page": Case(
        [Fault("mutate", endpoint=E_CKMB, page=2, mutate=repeat_page_one)], False,
        ["more than one row or page"], E_CKMB, server_opts={"max_page_size": 50}),
    "a raw count renamed": Case(
        [Fault("mutate", endpoint=E_TDGQ, mutate=edit_units(
            lambda u: u.update(totalReceive=u.pop("totalReceived"))))],
        False, ["missing_count", "totalReceived"], E_TDGQ),
    "a metric dropped": Case(
        [Fault("mutate", endpoint=E_CKMB, mutate=edit_units(drop_metric("DOSSIER_SYNC")))],
        False, ["missing_count", "DOSSIER_SYNC"], E_CKMB),
    "a metric code never seen before": Case(
        [Fault("mutate", endpoint=E_CKMB, mutate=set_first((0, "code"), "NEW_METRIC"))],
        False, ["metric_code", "NEW_METRIC"], E_CKMB),
    "a unit listed twice": Case([Fault("mutate", endpoint=E_TDGQ, mutate=duplicate_child)],
                                False, ["ExpectCompoundColumnsToBeUnique"], E_TDGQ),
    "a number sent as text": Case(
        [Fault("mutate", endpoint=E_CKMB, mutate=set_first((2, "numerator"), "87"))],
        False, ["field numerator", "got str '87'"], E_CKMB),
    "NaN": Case([Fault("mutate", endpoint=E_TDGQ, mutate=set_first(("score",), math.nan))],
                False, ["field score", "not a finite number"], E_TDGQ),
    "a negative count": Case(
        [Fault("mutate", endpoint=E_CKMB, mutate=set_first((2, "numerator"), -5))],
        False, ["numerator", "-5"], E_CKMB),
    "33 provinces in the national summary": Case(
        [Fault("mutate", endpoint="service-results", mutate=one_province_less)],
        False, ["province_count_for_era", "field provinces = 33"], "service-results"),
}


@pytest.fixture(scope="module")
def good_august(tmp_path_factory, replay_dir):
    p = Pipeline(tmp_path_factory.mktemp("good") / "data", str(replay_dir))
    assert p.run(AUGUST).success
    return p


def failure_text(result) -> str:
    return "\n".join(str(e.event_specific_data.error) for e in result.all_events
                     if e.event_type_value == "STEP_FAILURE")


@pytest.mark.parametrize("name", list(CASES))
def test_a_misbehaving_portal_loses_no_good_row(name, good_august, replay_dir, tmp_path):
    case = CASES[name]
    shutil.copytree(good_august.data_dir, tmp_path / "data")
    before = rows(good_august)
    with serve(replay_dir, **case.server_opts) as server:
        for fault in case.faults:
            server.add_fault(fault)
        url = server.url
        if name == "connection refused":
            server.stop()  # nothing listens on that port any more
        p = Pipeline(tmp_path / "data", url)
        # August's crawl is final and kept: only a forced run fetches it again
        result = p.run(AUGUST, raise_on_error=False, force=True)

    assert result.success == case.recovers, failure_text(result)
    after = rows(p)
    lost = sum(len(set(before[t]) - set(after[t])) for t in TABLES)
    assert lost == 0 and after == before  # no good row lost or changed
    if not case.recovers:
        text = failure_text(result)
        for fragment in [case.endpoint, "2026-08", *case.says]:
            assert fragment in text, f"{fragment!r} not in:\n{text}"
        province = "national" if case.endpoint == "service-results" else "H44"
        assert province in text
    if case.kept:
        kept = [f for f in (p.settings.raw_dir).rglob("*") if f.is_file()
                and "_sessions" not in f.parts and not f.name.endswith(".meta.json")
                and case.kept in f.read_bytes()]
        assert kept, f"no raw file keeps {case.kept!r}"


def test_after_a_refusal_nothing_is_crawled_until_a_person_says_so(good_august, replay_dir,
                                                                    tmp_path):
    shutil.copytree(good_august.data_dir, tmp_path / "data")
    with serve(replay_dir) as server:
        server.add_fault(Fault("status", status=403, endpoint=E_CKMB))
        p = Pipeline(tmp_path / "data", server.url)
        assert not p.run(AUGUST, raise_on_error=False, force=True).success
        refused_at = len(server.requests)
        again = p.run(AUGUST, raise_on_error=False, force=True)
        assert len(server.requests) == refused_at  # not one more request
        assert "Crawling is stopped" in failure_text(again)
        assert "SAFETY_STOP.json" in failure_text(again)
        (tmp_path / "data" / "SAFETY_STOP.json").unlink()  # the operator has looked
        assert p.run(AUGUST).success
    # the 403 stopped the crawl at once: the refused request was the last one sent
    assert [r.path.rsplit("/", 1)[1] for r in server.requests[:refused_at]][-1] == E_CKMB
