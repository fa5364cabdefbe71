"""The exports analysts open in Excel, Power BI and Jupyter: read back with other tools."""

import json
import os
from datetime import date, datetime

import duckdb
import polars as pl
import pytest
from openpyxl import load_workbook

from assets.publish.exports import BOM, EXPLAIN_SHEET, write_exports, write_xlsx
from assets.warehouse import ensure_schema

MONTHS = [date(2025, m, 1) for m in range(1, 13)]
NAMES = {"H60": "UBND tỉnh Tuyên Quang", "H44": "UBND tỉnh Phú Thọ",
         "H01": "UBND Thành phố Hà Nội"}


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    path = tmp_path_factory.mktemp("pub") / "published" / "chiso766.duckdb"
    path.parent.mkdir()
    with duckdb.connect(str(path)) as con:
        ensure_schema(con)
        con.execute("INSERT INTO ref.bands VALUES (90, 'Xuất sắc', true), (0, 'Yếu', true)")
        for i, month in enumerate(MONTHS):
            for j, (code, name) in enumerate(NAMES.items()):
                con.execute("""INSERT INTO marts.province_monthly
                    (month, province_code, province_name, total_score, rank, ranked_of, band,
                     captured_at, is_synthetic)
                    VALUES (?, ?, ?, ?, ?, 3, 'Khá', ?, false)""",
                            [month, code, name, 70.25 + i + j / 100, j + 1,
                             datetime(2025, 12, 1, 3, 4, 5)])
    return path


@pytest.fixture(scope="module")
def exported(published):
    first = write_exports(published, "run-one", xlsx_max_rows=2 + 3 * 4)
    second = write_exports(published, "run-two", xlsx_max_rows=2 + 3 * 4)
    return first, second


def test_the_set_is_swapped_in_whole(published, exported):
    first, second = exported
    link = published.parent / "exports"
    # the pointer names the newest complete set; the one before stays for its readers
    assert link.is_symlink() and link.resolve() == published.parent / second["dir"]
    assert os.path.isdir(first["dir"]) and not list(published.parent.glob(".exports-*"))
    manifest = json.loads((link / "MANIFEST.json").read_text())
    assert manifest["run_id"] == "run-two"
    assert (published.parent / "chiso766.xlsx").resolve() == link.resolve() / "chiso766.xlsx"


def test_parquet_and_csv_match_the_database(published, exported):
    link = published.parent / "exports"
    with duckdb.connect(str(published), read_only=True) as con:
        tables = [f"{s}.{t}" for s, t in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() "
            "WHERE schema_name IN ('marts', 'ref')").fetchall()]
        for table in tables:
            n = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            assert pl.read_parquet(link / f"{table}.parquet").height == n, table
            raw = (link / f"{table}.csv").read_bytes()
            assert raw.startswith(BOM), table
            assert raw.decode("utf-8-sig").count("\n") == n + 1, table  # header + rows
    csv = (link / "marts.province_monthly.csv").read_bytes().decode("utf-8-sig")
    header, row = csv.splitlines()[:2]
    assert header.startswith("month,province_id,province_code,province_name,total_score")
    # ISO date, a dot as decimal separator, the diacritics intact
    assert row.startswith("2025-01-01,,H60,UBND tỉnh Tuyên Quang,70.25,1,3,Khá,")
    assert ",2025-12-01T03:04:05+00," in row


def test_the_workbook_reads_back_with_another_library(published, exported):
    # written by xlsxwriter, read by openpyxl
    wb = load_workbook(published.parent / "chiso766.xlsx", read_only=True)
    assert wb.sheetnames[0] == EXPLAIN_SHEET and "province_monthly" in wb.sheetnames
    explain = list(wb[EXPLAIN_SHEET].values)
    meaning = {(r[1], r[2]): r[4] for r in explain[2:]}
    assert meaning[("marts.province_monthly", "rank")].startswith("Rank by total")
    rows = list(wb["province_monthly"].values)
    # 12 months × 3 provinces do not fit in 12 rows: the 4 most recent months do, and say so
    assert "từ 09/2025 trở đi" in rows[0][0]
    header = rows[1]
    data = [dict(zip(header, r, strict=False)) for r in rows[2:]]
    assert len(data) == 12
    assert {d["month"] for d in data} == {datetime(2025, m, 1) for m in range(9, 13)}
    hn = next(d for d in data if d["province_code"] == "H01" and d["month"].month == 12)
    assert hn["province_name"] == "UBND Thành phố Hà Nội"  # diacritics survive
    assert hn["total_score"] == pytest.approx(70.25 + 11 + 0.02) and hn["rank"] == 3
    assert hn["captured_at"] == datetime(2025, 12, 1, 3, 4, 5)  # a real date, not text
    assert hn["is_synthetic"] is False


def test_a_month_larger_than_a_sheet_keeps_its_first_rows(published, tmp_path):
    with duckdb.connect(str(published), read_only=True) as con:
        rows = write_xlsx(con, tmp_path / "small.xlsx", ["marts.province_monthly"], 2 + 2)
    assert rows == {"marts.province_monthly": 2}
    sheet = list(load_workbook(tmp_path / "small.xlsx", read_only=True)["province_monthly"]
                 .values)
    assert "chỉ giữ 2 dòng đầu của tháng 12/2025" in sheet[0][0]
    assert {r[0] for r in sheet[2:]} == {datetime(2025, 12, 1)}


def test_the_header_is_frozen(published, exported):
    wb = load_workbook(published.parent / "chiso766.xlsx")
    assert wb["province_monthly"].freeze_panes == "A3"
    assert wb["province_monthly"].column_dimensions["D"].width > 20  # fits the names
