"""A HAR saved in a browser loads a month end to end (issue 10 §2): the real Phú Thọ
captures and a replayed national summary in one HAR, dropped in the inbox beside a HAR
whose answer fails validation and a file that is not JSON; one sensor tick, one run of
``import_inbox``; no portal contacted, no cookie kept anywhere, the marts equal the
portal's numbers."""

import hashlib
import json
import os
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import pytest
from conftest import AUGUST, PHU_THO, SAMPLES, Pipeline

from assets.resources import ChisoSettings
from assets.sources.endpoints import NATIONAL
from assets.sources.har import HarError, portal_answers, read_har
from assets.staging.har_import import missing_for_month
from pipelines.sensors import spreadsheet_inbox
from tools.har_sample import (
    AUTH,
    COOKIE,
    entry,
    noise_entries,
    replay_entries,
    sample_entries,
    write_har,
)
from tools.portal_server import serve

JULY = date(2026, 7, 1)
CAPTURED = datetime(2026, 9, 27, 8, 0, tzinfo=UTC)
# The portal's own figures for Phú Thọ, 08/2026 (data/samples/portal/README.md)
PORTAL_GROUPS = {"CKMB": 7.96, "TDGQ": 15.68, "CLGQ": 8.83, "TTTT": 6.25, "MDHL": 12.96,
                 "MDSH": 8.24}
SECRETS = (COOKIE.split("=", 1)[1].encode(), AUTH.split()[1].encode())


def _answers(tmp_path: Path, entries: list[dict], name: str = "x.har"):
    path = write_har(tmp_path / name, entries)
    return portal_answers(read_har(path), name)


# -- reading a HAR (pure) -------------------------------------------------------------------

def test_every_reporting_answer_is_found_bytes_exact_and_the_rest_counted(tmp_path):
    content = _answers(tmp_path, sample_entries(SAMPLES) + noise_entries(CAPTURED))
    manifest = json.loads((SAMPLES / "manifest.json").read_text())
    reporting = [c for c in manifest["captures"] if "/evaluation/" in c["url"]]
    assert len(content.answers) == len(reporting) == 31
    for answer, cap in zip(content.answers, reporting, strict=True):
        assert hashlib.sha256(answer.body).hexdigest() == cap["sha256"]  # base64 or not
        assert answer.captured_at == datetime.fromisoformat(cap["capturedAt"])
        assert answer.payload == cap["payload"] and answer.url == cap["url"]
        assert answer.province_id == PHU_THO
        assert answer.period_kind == cap["period"]
        assert (answer.formality_id is not None) == (cap["scope"] == "formality")
    months = [a for a in content.answers if a.stageable]
    assert sorted(a.endpoint.name for a in months) == sorted(
        ["transparency", "dvc-progress-tree", "provide-online-tree", "handling-satisfaction",
         "formality-online-payment-tree", "dossier-digitized"])
    assert {a.period for a in content.answers} == {"2026-08", "2026-Q3", "2026"}
    # formalityID (dossier-digitized) is a per-procedure filter too
    assert any(a.payload.get("formalityID") and a.formality_id for a in content.answers)
    assert dict(content.skipped) == {"page": 1, "script": 1, "image": 1, "304 not modified": 1,
                                     "failed request": 1, "other request": 2,
                                     "reporting request not a POST (preflight)": 1}


@pytest.mark.parametrize(("mutate", "field", "detail"), [
    (lambda p: p.write_text("{not json"), "file", "not JSON"),
    (lambda p: p.write_text('{"entries": []}'), "log", "not a HAR"),
    (lambda p: p.write_text('{"log": {"version": "2.0", "entries": []}}'), "log.version",
     "1.1 and 1.2"),
    (lambda p: p.write_text('{"log": {"version": "1.1", "entries": {}}}'), "log.entries",
     "not a list"),
])
def test_files_that_are_not_a_har(tmp_path, mutate, field, detail):
    path = tmp_path / "bad.har"
    mutate(path)
    with pytest.raises(HarError) as error:
        portal_answers(read_har(path), path.name)
    assert error.value.field == field and detail in str(error.value)
    assert "bad.har" in str(error.value)


def test_entries_the_import_refuses(tmp_path):
    good = sample_entries(SAMPLES)[4]  # transparency month-all
    no_body = json.loads(json.dumps(good))
    del no_body["response"]["content"]["text"]
    no_body["response"]["content"].pop("encoding", None)
    not_envelope = entry(good["request"]["url"], json.loads(good["request"]["postData"]["text"]),
                         b'{"code": "ERR", "message": "busy"}', CAPTURED)
    html = entry(good["request"]["url"], json.loads(good["request"]["postData"]["text"]),
                 b"<html>blocked</html>", CAPTURED, mime="text/html")
    for bad, field, detail in ((no_body, "response.content.text", "without its body"),
                               (not_envelope, "response.content.text", "envelope"),
                               (html, "response.content.text", "not JSON")):
        with pytest.raises(HarError) as error:
            _answers(tmp_path, [good, bad])
        assert error.value.entry == 2 and error.value.field == field
        assert detail in str(error.value) and "transparency" in str(error.value)
    path = write_har(tmp_path / "big.har", [good])
    with pytest.raises(HarError, match="over the 0 MB cap"):
        read_har(path, max_bytes=1000)


def test_handling_satisfaction_periods_come_from_from_and_to_dates(tmp_path):
    content = _answers(tmp_path, sample_entries(SAMPLES))
    mdhl = {a.period: a.period_kind for a in content.answers
            if a.endpoint.name == "handling-satisfaction"}
    assert mdhl == {"2026": "year", "2026-Q3": "quarter", "2026-08": "month"}


def test_a_month_without_its_national_summary_or_a_group_is_partial(tmp_path, replay_dir):
    only_groups = _answers(tmp_path, replay_entries(replay_dir, AUGUST, [PHU_THO], CAPTURED))
    assert missing_for_month(only_groups.answers, ("H44",), {}) == [
        "service-results (the national summary)"]
    some = _answers(tmp_path, replay_entries(replay_dir, AUGUST, [None], CAPTURED)
                    + replay_entries(replay_dir, AUGUST, [PHU_THO], CAPTURED,
                                     endpoints=["transparency", "dvc-progress-tree"]))
    missing = missing_for_month(some.answers, ("H44",), {})
    assert missing == ["provide-online-tree H44", "formality-online-payment-tree H44",
                       "handling-satisfaction H44", "dossier-digitized H44"]
    assert missing_for_month(some.answers, ("H44", "H60"), {})[-1] == "dossier-digitized H60"


# -- the job, end to end ------------------------------------------------------------------

def _bad_july(replay_dir: Path) -> list[dict]:
    """July for Phú Thọ, complete, but one unit's CKMB score is text."""
    entries = replay_entries(replay_dir, JULY, [None, PHU_THO], CAPTURED)
    for e in entries:
        if e["request"]["url"].endswith("/transparency"):
            doc = json.loads(e["response"]["content"]["text"])
            doc["data"]["evaluation"][3]["totalScore"] = "tám"
            e["response"]["content"]["text"] = json.dumps(doc, ensure_ascii=False)
    return entries


@pytest.fixture(scope="module")
def har_run(tmp_path_factory, replay_dir):
    root = tmp_path_factory.mktemp("har")
    data, home = root / "data", root / "dagster_home"
    with serve(replay_dir) as server:  # configured, never contacted
        p = Pipeline(data, server.url, provinces="H44", instance_dir=home,
                     extra_env={"CHISO_INBOX_SETTLE_S": "0.01"})
        inbox = data / "inbox"
        inbox.mkdir(parents=True)
        write_har(inbox / "dichvucong-phu-tho-2026-08.har",
                  noise_entries(CAPTURED) + sample_entries(SAMPLES)
                  + replay_entries(replay_dir, AUGUST, [None], CAPTURED))
        write_har(inbox / "thang-7.har", _bad_july(replay_dir))
        write_har(inbox / "mot-phan-thang-7.har",  # part of July: not staged, kept raw
                  replay_entries(replay_dir, JULY, [None], CAPTURED)
                  + replay_entries(replay_dir, JULY, [PHU_THO], CAPTURED,
                                   endpoints=["transparency"]))
        (inbox / "hong.har").write_text("Cookie: " + COOKIE + "\n{truncated")
        chiso = ChisoSettings(data_dir=str(data), inbox_settle_s=0.01)
        request = spreadsheet_inbox(dg.build_sensor_context(instance=p.instance,
                                                            resources={"chiso": chiso}))
        assert isinstance(request, dg.RunRequest)
        result = p.defs.resolve_job_def("import_inbox").execute_in_process(
            run_config=request.run_config, instance=p.instance, tags=request.tags)
        contacted = list(server.requests)
    return p, result, home, contacted


def test_a_har_loads_a_month_end_to_end_and_the_marts_equal_the_portal(har_run):
    p, result, _, contacted = har_run
    assert result.success and contacted == []
    with p.published() as con:
        groups = dict(con.execute("""SELECT group_code, score FROM marts.group_monthly
                                     WHERE province_code = 'H44' AND month = '2026-08-01'
                                  """).fetchall())
        total = con.execute("""SELECT total_score FROM marts.province_monthly
                               WHERE province_code = 'H44' AND month = '2026-08-01'
                            """).fetchone()[0]
        units = con.execute("""SELECT count(DISTINCT unit_id) FROM staging.unit_group_scores
                               WHERE month = '2026-08-01' AND NOT is_province""").fetchone()[0]
        marts = {t: con.execute(f"SELECT count(*) FROM marts.{t} "  # noqa: S608
                                "WHERE month = '2026-08-01'").fetchone()[0]
                 for (t,) in con.execute("SELECT table_name FROM duckdb_tables() "
                                         "WHERE schema_name = 'marts'").fetchall()}
    assert groups == pytest.approx(PORTAL_GROUPS, abs=0.006)
    assert total == pytest.approx(59.92, abs=0.006)
    assert units == 163
    # every mart has the month (with no July to compare with, the change is one total row
    # per province whose change is NULL)
    # (the procedure marts too: the HAR holds 2.000815's answers for the month)
    assert len(marts) == 10 and all(n > 0 for n in marts.values()), marts
    with p.published() as con:
        assert con.execute("""SELECT count(*), count(change), min(level), max(level)
                              FROM marts.score_change_explained
                              WHERE month = '2026-08-01'""").fetchone() == (34, 0, "total",
                                                                             "total")
    # Dagster knows which partitions the step refreshed
    record = p.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(["publish", "analyst_copy"]),
                              asset_partitions=["2026-08-01"]), limit=1).records
    assert record and record[0].run_id == result.run_id


def test_each_answer_is_kept_raw_as_if_crawled(har_run):
    p = har_run[0]
    raw = p.settings.raw_dir
    sessions = list((raw / "_sessions" / "2026-08").glob("*.json"))
    assert len(sessions) == 1
    manifest = json.loads(sessions[0].read_text())
    assert manifest["source"] == "har" and manifest["status"] == "complete"
    assert manifest["file"] == "dichvucong-phu-tho-2026-08.har" and manifest["missing"] == []
    samples = {c["sha256"]: c for c in json.loads((SAMPLES / "manifest.json").read_text())[
        "captures"]}
    kept = {c["endpoint"]: c for c in manifest["captures"]}
    assert set(kept) == {NATIONAL.name, "transparency", "dvc-progress-tree",
                         "provide-online-tree", "formality-online-payment-tree",
                         "handling-satisfaction", "dossier-digitized"}
    for name, cap in kept.items():
        body = (raw / cap["path"]).read_bytes()
        assert hashlib.sha256(body).hexdigest() == cap["sha256"]
        if name != NATIONAL.name:
            real = samples[cap["sha256"]]  # the real bytes, exactly
            assert cap["captured_at"] == datetime.fromisoformat(real["capturedAt"]).isoformat()
            assert cap["payload"] == real["payload"] and cap["province_code"] == "H44"
        assert cap["content_type"].startswith("application/json")
    # quarter and year answers are kept raw, not staged; the month's five per-procedure
    # answers are kept as a procedure crawl keeps them (their own manifest) and staged
    others = [x for x in raw.rglob("_periods/**/*.json") if not x.name.endswith(".meta.json")]
    assert len(others) == 31 - 6 - 5
    [manifest] = list((raw / "_procedure_sessions" / "2026-08").glob("*-har-*.json"))
    kept = json.loads(manifest.read_text())
    assert kept["status"] == "complete" and len(kept["captures"]) == 5
    assert {c["formality_id"] for c in kept["captures"]} == {
        "019d2bfd-8e22-77ef-819f-e49460350904"}
    with p.warehouse() as con:
        months = con.execute("SELECT DISTINCT month FROM staging.captures").fetchall()
        procedure = con.execute("SELECT count(DISTINCT group_code) FROM "
                                "staging.procedure_group_scores").fetchone()[0]
    assert months == [(AUGUST,)] and procedure == 5


def test_bad_hars_are_set_aside_with_a_note_and_nothing_else_is_touched(har_run):
    p = har_run[0]
    inbox = p.data_dir / "inbox"
    assert sorted(x.name for x in inbox.iterdir() if x.is_file()) == []  # no HAR left
    assert sorted(x.name for x in (inbox / "imported").iterdir()) == [
        "dichvucong-phu-tho-2026-08.har.imported.json", "mot-phan-thang-7.har.imported.json"]
    partial = json.loads((inbox / "imported" / "mot-phan-thang-7.har.imported.json").read_text())
    assert partial["months"]["2026-07"].startswith("partial, not staged; missing: "
                                                   "dvc-progress-tree H44")
    notes = {json.loads(s.read_text())["file"]: json.loads(s.read_text())
             for s in (inbox / "rejected").glob("*.rejected.json")}
    assert set(notes) == {"thang-7.har", "hong.har"}
    july = notes["thang-7.har"]
    assert july["period"] == "2026-07" and july["field"] and july["unit"]
    assert "tám" in july["reason"] or "totalScore" in july["reason"]
    assert "not JSON" in notes["hong.har"]["reason"] and "deleted" in notes["hong.har"]["kept"]
    assert notes["hong.har"]["moved_to"] is None and not (inbox / "rejected" / "hong.har").exists()
    assert (inbox / "rejected" / "thang-7.har").exists()  # readable: kept, headers removed
    # July's answers are kept raw, its manifest says rejected, nothing of it was staged
    july = {m["file"]: m for m in (json.loads(x.read_text()) for x in
                                   (p.settings.raw_dir / "_sessions" / "2026-07").glob("*.json"))}
    assert july["thang-7.har"]["status"] == "rejected"
    assert july["mot-phan-thang-7.har"]["status"] == "partial"
    assert len(july["mot-phan-thang-7.har"]["missing"]) == 5
    with p.warehouse() as con:
        assert con.execute("SELECT count(*) FROM staging.captures WHERE month = '2026-07-01'"
                           ).fetchone()[0] == 0


def test_no_cookie_or_token_is_kept_anywhere(har_run):
    p, _, home, _ = har_run
    found = []
    for root in (p.data_dir, home):
        for dirpath, _, files in os.walk(root):
            for name in files:
                path = Path(dirpath) / name
                data = path.read_bytes()
                found += [f"{path}: {s!r}" for s in SECRETS if s in data]
    assert found == []
    assert any(home.rglob("*.db"))  # the instance's storage was searched
