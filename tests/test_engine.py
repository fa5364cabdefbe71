"""The staging engine without Dagster: a real crawl (replayed), real GX, a real DuckDB.

- a nightly parse error leaves an audit row (it used to leave none) and writes nothing;
- a check that did not run (bytes validated before, captures unchanged) is not reported
  as passed (the nightly check used to say "all passed" when GX was skipped);
- a new path is a spec and nothing else: a tiny one is staged, checked and refused
  through the same ``stage()``.
"""

import json
from dataclasses import replace
from pathlib import Path

import duckdb
import polars as pl
import pytest
from conftest import AUGUST

from assets.months import month_key
from assets.raw.crawl import crawl_month
from assets.raw.store import SESSIONS, RawStore, latest_complete_session
from assets.sources.endpoints import NATIONAL
from assets.sources.portal import ReplayPortalClient
from assets.staging.engine import (
    Batch,
    StagedPath,
    StageFailure,
    check_results,
    latest_session,
    stage,
)
from assets.staging.nightly import DAILY_SUITE, NIGHTLY_PATH
from assets.staging.parse import Rows, parse_capture
from assets.tables import asset_key
from assets.warehouse import ensure_schema
from checks.suites import Suite


@pytest.fixture(scope="module")
def crawled(replay_dir, tmp_path_factory):
    """One real complete crawl of August (Phú Thọ, Tuyên Quang), kept raw."""
    root = tmp_path_factory.mktemp("raw")
    crawl_month(ReplayPortalClient(replay_dir), RawStore(root), AUGUST, ("H44", "H60"))
    return root


@pytest.fixture
def store(crawled, tmp_path):
    """A private copy of the crawl (manifests and files), so a test may add crawls."""
    import shutil

    shutil.copytree(crawled, tmp_path / "raw")
    return RawStore(tmp_path / "raw")


@pytest.fixture
def con():
    with duckdb.connect() as c:
        ensure_schema(c)
        yield c


def another_crawl(store: RawStore, name: str, national_body: bytes | None = None) -> None:
    """A later complete crawl of August: the latest one again, its national summary's
    bytes replaced when given (kept under a new file, with their sha256)."""
    path, manifest = latest_complete_session(store, AUGUST)
    manifest = json.loads(json.dumps(manifest))
    if national_body is not None:
        import hashlib

        for capture in manifest["captures"]:
            if capture["endpoint"] == NATIONAL.name:
                rel = f"{capture['path']}.{name}.json"
                (store.root / rel).write_bytes(national_body)
                capture.update(path=rel, sha256=hashlib.sha256(national_body).hexdigest(),
                               bytes=len(national_body))
    target = store.root / SESSIONS / month_key(AUGUST) / f"{path.stem}-{name}.json"
    target.write_text(json.dumps(manifest), "utf-8")


def national_body(store: RawStore) -> dict:
    _, manifest = latest_complete_session(store, AUGUST)
    capture = next(c for c in manifest["captures"] if c["endpoint"] == NATIONAL.name)
    return json.loads(store.read_verified(capture))


def audit(con, suite: str | None = None) -> list[tuple]:
    return con.execute("SELECT suite, dataset, success, columns, examples "
                       "FROM audit.validation_results WHERE suite = coalesce(?, suite)",
                       [suite]).fetchall()


def test_a_nightly_parse_error_leaves_an_audit_row_and_writes_nothing(store, con):
    first = stage(NIGHTLY_PATH, con, store, [AUGUST], run_id="night-1")
    loaded = con.execute("SELECT count(*) FROM staging.national_summary_history").fetchone()[0]
    assert loaded > 0 and first.validated == [AUGUST]
    doc = national_body(store)
    doc["data"]["evaluation"][0]["totalScore"] = "mười"  # a number sent as text
    another_crawl(store, "bad", json.dumps(doc).encode())
    with pytest.raises(StageFailure, match="Staging stopped, nothing loaded") as failure:
        stage(NIGHTLY_PATH, con, store, [AUGUST], run_id="night-2")
    assert failure.value.where["period"] == month_key(AUGUST)
    assert failure.value.where["raw_file"].endswith(".bad.json")
    rows = con.execute("SELECT dataset, success, columns, examples FROM "
                       "audit.validation_results WHERE run_id = 'night-2'").fetchall()
    assert len(rows) == 1
    dataset, success, column, example = rows[0]
    assert (dataset, success) == ("raw", False) and column and ".bad.json" in example
    # the rows of the first night are still there, and only they
    assert con.execute("SELECT count(*), count(DISTINCT session) FROM "
                       "staging.national_summary_history").fetchone() == (loaded, 1)


def test_a_check_that_did_not_run_is_not_reported_as_passed(store, con):
    first = stage(NIGHTLY_PATH, con, store, [AUGUST], run_id="night-1")
    ran = check_results([first])
    assert [(r.check_name, r.passed) for r in ran] == [(DAILY_SUITE.name, True)]
    assert first.checks_not_run() == "none"

    # a second crawl with the same bytes: loaded, but GX has nothing new to look at
    another_crawl(store, "same")
    repeat = stage(NIGHTLY_PATH, con, store, [AUGUST], run_id="night-2")
    assert repeat.validated == [AUGUST] and not repeat.reports
    assert check_results([repeat]) == []  # it used to say passed, "all passed"
    assert repeat.checks_not_run().startswith(f"{DAILY_SUITE.name}: not run: 2026-08: "
                                              "the new crawls of 2026-08 repeat bytes")
    assert con.execute("SELECT count(DISTINCT session) FROM "
                       "staging.national_summary_history").fetchone()[0] == 2

    # nothing new at all: not parsed, not validated, not reported
    idle = stage(NIGHTLY_PATH, con, store, [AUGUST], run_id="night-3")
    assert idle.validated == [] and check_results([idle]) == []
    assert "loaded already" in idle.not_run()


# -- a path added by a spec alone ---------------------------------------------------------

def parse_average(batch: Batch, reads) -> dict[str, pl.DataFrame]:
    rows = Rows()
    for _session, capture, body in reads:
        parse_capture(capture, body, rows, batch.month)
    return {"national_average": rows.frames()["national_average"]}


AVERAGE_SUITE = Suite("national_average_in_range", "national_average",
                      "the national average's total is between 0 and 100",
                      [("ExpectColumnValuesToBeBetween",
                        {"column": "total_score", "min_value": 0, "max_value": 100})],
                      ("raw_path", "label"))
AVERAGE_PATH = StagedPath(
    name="average", tables=("national_average",), select=latest_session(NATIONAL.name),
    parse=parse_average, datasets=lambda frames, _month, _previous: frames,
    suites=(AVERAGE_SUITE,), check_key=lambda _suite: asset_key("national_average"))


def test_a_new_path_is_one_spec_through_the_same_stage(store, con):
    run = stage(AVERAGE_PATH, con, store, [AUGUST], run_id="spec-1")
    assert run.counts == {"staging.national_average": 1}
    assert audit(con, AVERAGE_SUITE.name)[0][2] is True
    (result,) = check_results([run])
    assert (result.asset_key, result.check_name, result.passed) == (
        asset_key("national_average"), AVERAGE_SUITE.name, True)
    # unchanged captures: not staged again (the default rule, by sha256)
    again = stage(AVERAGE_PATH, con, store, [AUGUST], run_id="spec-2")
    assert again.validated == [] and "already staged" in again.unchanged["2026-08"]

    # the same path with a rule the data breaks: refused, audited, the old rows kept
    strict = Suite(AVERAGE_SUITE.name, "national_average", "impossible", [
        ("ExpectColumnValuesToBeBetween", {"column": "total_score", "min_value": 0,
                                           "max_value": 1})], ("raw_path", "label"))
    before = con.execute("SELECT * FROM staging.national_average").fetchall()
    with pytest.raises(StageFailure, match="Validation failed; nothing was loaded"):
        stage(replace(AVERAGE_PATH, suites=(strict,)), con, store, [AUGUST],
              run_id="spec-3", force=True)
    assert con.execute("SELECT * FROM staging.national_average").fetchall() == before
    failed = con.execute("SELECT success FROM audit.validation_results "
                         "WHERE run_id = 'spec-3'").fetchall()
    assert failed == [(False,)]


def test_staging_and_the_tables_import_nothing_above_them():
    """Staging does not know the marts, the publish, the report or the wiring (the HAR
    import's rebuild and publish is given to it by the definitions); the tables and the
    warehouse do not import staging; no private Dagster module anywhere in them."""
    import re

    root = Path(__file__).resolve().parent.parent / "assets"
    above = re.compile(r"^\s*(from|import) (assets\.(marts|publish|report)|pipelines|"
                       r"dagster\._core)", re.M)
    upward = re.compile(r"^\s*(from|import) (assets\.staging|\.staging)", re.M)
    for path in [*sorted((root / "staging").glob("*.py")), root / "tables.py",
                 root / "warehouse.py"]:
        text = path.read_text("utf-8")
        assert not above.search(text), path
        if path.parent == root:
            assert not upward.search(text), path
