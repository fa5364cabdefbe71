"""The inbox holds when the operator or the files misbehave (issue 11 §5, §6): names that
point outside it, long and Vietnamese names, files still being copied, files dropped
again, zip bombs, formulas. One import run covers the batch cases."""

import json
import os
import shutil
import zipfile
from datetime import date
from pathlib import Path

import dagster as dg
import pytest
from conftest import Pipeline
from openpyxl import load_workbook

from assets.resources import ChisoSettings
from assets.sources.spreadsheets import SpreadsheetError, read_ranking
from assets.staging.inbox import (
    InboxRefused,
    fit_name,
    inbox_key,
    inside_inbox,
    pending_files,
    safe_file_name,
    stable_files,
)
from pipelines.sensors import spreadsheet_inbox
from tools.synthetic_history import old_rows
from tools.synthetic_sheets import write_ranking_csv, write_ranking_xlsx

APR_2025 = date(2025, 4, 1)
SMALL = {"CHISO_INBOX_SETTLE_S": "0.05", "CHISO_INBOX_MAX_XML_MB": "2"}
LONG_VI = ("bảng xếp hạng chỉ số phục vụ người dân doanh nghiệp của các tỉnh thành phố "
           "tháng tư năm hai nghìn không trăm hai mươi lăm bản cuối cùng đã sửa lần hai gửi văn "
           "phòng ủy ban tỉnh xin cảm ơn")


def _bomb(path: Path) -> Path:
    """A tiny .xlsx whose sheet is ~6 MB once uncompressed."""
    write_ranking_xlsx(path, APR_2025, old_rows(APR_2025), layout="online_merged")
    with zipfile.ZipFile(path) as src:
        parts = {i.filename: src.read(i.filename) for i in src.infolist()}
    sheet = parts["xl/worksheets/sheet1.xml"]
    padding = b"<!--" + b" " * 6_000_000 + b"-->"
    parts["xl/worksheets/sheet1.xml"] = sheet.replace(b"<sheetData>", padding + b"<sheetData>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in parts.items():
            out.writestr(name, data)
    return path


def _formula_xlsx(path: Path) -> Path:
    write_ranking_xlsx(path, APR_2025, old_rows(APR_2025), layout="online_merged")
    workbook = load_workbook(path)
    workbook.active.cell(row=7, column=3).value = "=1+2"  # saved without a computed value
    workbook.save(path)
    return path


# -- pure functions ---------------------------------------------------------------------

def test_names_must_stay_inside_the_inbox(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (tmp_path / "secret.duckdb").write_bytes(b"x")
    (inbox / "link.csv").symlink_to(tmp_path / "secret.duckdb")
    (inbox / "ok.csv").write_text("a")
    for name in ("../secret.duckdb", str(tmp_path / "secret.duckdb"), "sub/../../x",
                 "link.csv", "..", ""):
        with pytest.raises(InboxRefused):
            inside_inbox(inbox, name)
    assert inside_inbox(inbox, "ok.csv") == inbox / "ok.csv"
    assert [p.name for p in pending_files(inbox)] == ["ok.csv"]  # the link is not listed


def test_long_names_keep_their_extension_and_fit_in_bytes():
    ninety = "x" * 86 + ".csv"
    assert safe_file_name(ninety).endswith(".csv")
    assert len(safe_file_name("a" * 300 + ".csv")) <= 120
    name = LONG_VI + ".xlsx"
    assert len(name.encode()) > 255 - len(".rejected.json")
    short = fit_name(name, 200)
    assert short.endswith(".xlsx") and len(short.encode()) <= 200
    short.encode().decode("utf-8")  # never half a character
    assert fit_name(name, 200) != fit_name(LONG_VI + " khác.xlsx", 200)


def test_temporary_names_are_left_alone(tmp_path):
    for name in ("a.csv.part", "b.xlsx.crdownload", "~$c.xlsx", ".d.csv", "e.har.tmp"):
        (tmp_path / name).write_text("x")
    (tmp_path / "f.csv").write_text("x")
    assert [p.name for p in pending_files(tmp_path)] == ["f.csv"]


def test_a_file_being_written_is_not_stable(tmp_path):
    growing, still, gone = tmp_path / "growing.csv", tmp_path / "still.csv", tmp_path / "g.csv"
    for path in (growing, still, gone):
        path.write_text("a")

    def copier_writes_meanwhile(seconds):  # what a copy in progress does between looks
        assert seconds == 0.5
        with open(growing, "a") as fh:
            fh.write("more")
        gone.unlink()

    stable, moving = stable_files([growing, still, gone], 0.5, wait=copier_writes_meanwhile)
    assert stable == [still] and moving == [growing]


def test_the_same_file_dropped_again_gets_a_new_run_key(tmp_path):
    source = write_ranking_csv(tmp_path / "xep-hang-2025-04.csv", APR_2025,
                               old_rows(APR_2025), layout="online_merged")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    first = Path(shutil.copy2(source, inbox))  # copy2 keeps the mtime
    key = inbox_key([first])
    assert inbox_key([first]) == key  # stable while nothing changes
    first.rename(tmp_path / "taken.csv")
    again = Path(shutil.copy2(source, inbox))  # same name, bytes and mtime
    assert again.stat().st_mtime_ns == source.stat().st_mtime_ns
    assert inbox_key([again]) != key


def test_zip_bomb_is_refused_from_the_zip_directory(tmp_path):
    bomb = _bomb(tmp_path / "bom-2025-04.xlsx")
    assert bomb.stat().st_size < 200_000
    with pytest.raises(SpreadsheetError) as error:
        read_ranking(bomb, max_xml_bytes=2_000_000)
    assert "uncompressed" in str(error.value) and error.value.field == "content"
    assert read_ranking(bomb).month == APR_2025  # under the default cap it is a table


def test_a_formula_without_a_value_is_named_as_a_formula(tmp_path):
    path = _formula_xlsx(tmp_path / "cong-thuc-2025-04.xlsx")
    with pytest.raises(SpreadsheetError) as error:
        read_ranking(path)
    assert "formula =1+2 in cell C7" in str(error.value)
    assert "empty cell" not in str(error.value)


# -- the import job and the sensor --------------------------------------------------------

@pytest.fixture(scope="module")
def batch(tmp_path_factory, replay_dir):
    """One inbox, one sensor tick, one import run: a good CSV with a 90-character name, a
    broken file with a ~250-byte Vietnamese name, a formula, a zip bomb, a file still
    named .part, and a last good file."""
    data = tmp_path_factory.mktemp("inbox") / "data"
    p = Pipeline(data, str(replay_dir), extra_env=SMALL)
    inbox = data / "inbox"
    inbox.mkdir(parents=True)
    ninety = "bang-xep-hang-chi-so-766-cac-tinh-thanh-pho-thang-04-nam-2025-ban-chinh-thuc-da-duyet"
    ninety = ninety + "x" * (86 - len(ninety)) + ".csv"
    assert len(ninety) == 90
    write_ranking_csv(inbox / ninety, APR_2025, old_rows(APR_2025), layout="online_merged")
    (inbox / (LONG_VI + ".xlsx")).write_bytes(b"PK\x03\x04 broken")
    _formula_xlsx(inbox / "cong-thuc-2025-04.xlsx")
    _bomb(inbox / "bom-2025-04.xlsx")
    (inbox / "dang-chep-2025-04.csv.part").write_text("half")
    chiso = ChisoSettings(data_dir=str(data), inbox_settle_s=0.05)
    request = spreadsheet_inbox(dg.build_sensor_context(instance=p.instance,
                                                        resources={"chiso": chiso}))
    assert isinstance(request, dg.RunRequest)
    result = p.defs.resolve_job_def("import_inbox").execute_in_process(
        run_config=request.run_config, instance=p.instance, tags=request.tags)
    return p, request, result, ninety


def _sidecars(p: Pipeline) -> dict[str, dict]:
    rejected = p.data_dir / "inbox" / "rejected"
    return {j["file"]: j for j in (json.loads(s.read_text()) for s in
                                   rejected.glob("*.rejected.json"))}


def test_the_batch_goes_on_and_every_rejection_has_a_note(batch):
    p, request, result, ninety = batch
    assert result.success
    assert request.run_config["ops"]["staging__spreadsheet_scores"]["config"]["files"] == \
        sorted(request.run_config["ops"]["staging__spreadsheet_scores"]["config"]["files"])
    assert "dang-chep-2025-04.csv.part" not in str(request.run_config)
    inbox = p.data_dir / "inbox"
    assert [x.name for x in (inbox / "imported").iterdir()] == [ninety]
    notes = _sidecars(p)
    assert set(notes) == {LONG_VI + ".xlsx", "cong-thuc-2025-04.xlsx", "bom-2025-04.xlsx"}
    long_note = notes[LONG_VI + ".xlsx"]
    assert (inbox / "rejected" / long_note["moved_to"]).is_file()
    assert long_note["moved_to"].endswith(".xlsx")
    assert "formula =1+2 in cell C7" in notes["cong-thuc-2025-04.xlsx"]["reason"]
    assert "uncompressed" in notes["bom-2025-04.xlsx"]["reason"]
    assert (inbox / "dang-chep-2025-04.csv.part").exists()  # still being copied: untouched
    with p.warehouse() as con:
        assert con.execute("SELECT count(*) FROM staging.spreadsheet_scores").fetchone()[0] == 63


def test_the_raw_copy_of_a_long_name_keeps_its_extension(batch):
    p, _, _, ninety = batch
    kept = [x for x in (p.settings.raw_dir / "spreadsheets").iterdir()
            if not x.name.endswith(".meta.json")]
    assert len(kept) == 4 and all(len(k.name.encode()) <= 133 for k in kept)
    meta = [json.loads(m.read_text()) for m in (p.settings.raw_dir / "spreadsheets").glob(
        "*.meta.json")]
    assert {m["original_name"] for m in meta} >= {ninety, LONG_VI + ".xlsx"}
    assert any(k.name.endswith(".csv") for k in kept)


def test_a_file_dropped_again_is_imported_again_and_failures_are_retried(batch):
    p, request, _, ninety = batch
    inbox = p.data_dir / "inbox"
    chiso = ChisoSettings(data_dir=str(p.data_dir), inbox_settle_s=0.0)
    tick = lambda: spreadsheet_inbox(dg.build_sensor_context(  # noqa: E731
        instance=p.instance, resources={"chiso": chiso}))
    job = p.defs.resolve_job_def("import_inbox")
    (inbox / "dang-chep-2025-04.csv.part").unlink()
    # the operator drops the imported file again, on purpose (same bytes, same mtime)
    shutil.copy2(inbox / "imported" / ninety, inbox / ninety)
    again = tick()
    assert isinstance(again, dg.RunRequest) and again.run_key != request.run_key
    keys = [again.run_key]
    # each failed run of these files is retried under a new key, then the sensor stops
    # and says why (a run config naming a file outside the inbox makes the run fail)
    bad = {"ops": {"staging__spreadsheet_scores": {"config": {"files": ["../x.csv"]}}}}
    for _ in range(3):
        request_now = tick()
        assert isinstance(request_now, dg.RunRequest)
        keys.append(request_now.run_key)
        assert not job.execute_in_process(run_config=bad, instance=p.instance,
                                          tags=request_now.tags, raise_on_error=False).success
    skip = tick()
    assert isinstance(skip, dg.SkipReason) and "failed 3 times" in skip.skip_message
    assert ninety in skip.skip_message and "drop the files again" in skip.skip_message
    assert len(set(keys[1:])) == 3 and keys[0] == keys[1]
    # dropped again: a new key, imported
    (inbox / ninety).rename(inbox / "aside.csv")
    (inbox / "aside.csv").rename(inbox / ninety)
    fresh = tick()
    assert isinstance(fresh, dg.RunRequest) and fresh.run_key not in keys
    assert job.execute_in_process(run_config=fresh.run_config, instance=p.instance,
                                  tags=fresh.tags).success
    assert not (inbox / ninety).exists()
    assert len(list((inbox / "imported").iterdir())) == 2


def test_config_names_outside_the_inbox_are_refused_and_nothing_moves(batch):
    p = batch[0]
    published = p.data_dir / "published" / "chiso766.duckdb"
    published.parent.mkdir(parents=True, exist_ok=True)
    published.write_bytes(b"the analysts' copy")
    before = sorted(os.listdir(p.data_dir / "inbox" / "rejected"))
    result = p.defs.resolve_job_def("import_inbox").execute_in_process(
        run_config={"ops": {"staging__spreadsheet_scores": {"config": {
            "files": ["../published/chiso766.duckdb", str(published)]}}}},
        instance=p.instance, raise_on_error=False)
    assert not result.success
    failure = [e for e in result.all_events if e.is_step_failure][0]
    assert "outside the inbox" in failure.step_failure_data.error.message
    assert published.read_bytes() == b"the analysts' copy"
    assert sorted(os.listdir(p.data_dir / "inbox" / "rejected")) == before
