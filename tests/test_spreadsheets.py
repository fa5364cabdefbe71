"""Ranking tables exported by provincial staff (.xlsx/.csv): both layouts, header and name
spellings, stray total rows, the period, and every way a file can be unreadable."""

import hashlib
import unicodedata
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook

from assets.sources.spreadsheets import SheetTable, SpreadsheetError, read_ranking
from tools.synthetic_sheets import demo_rows, write_ranking_csv, write_ranking_xlsx

AUG_2024 = date(2024, 8, 1)
AUG_2025 = date(2025, 8, 1)

ROWS = [
    {"province_name": "Hòa Bình", "ckmb": 15.7, "tdgq": 18.7, "clgq": 7.9, "tttt": 9.0,
     "mdhl": 18.0, "mdsh": 13.8, "dossiers_received": 12345},
    {"province_name": "Quảng Nam", "ckmb": 13.2, "tdgq": 18.4, "clgq": 7.7, "tttt": 7.6,
     "mdhl": 17.6, "mdsh": 15.6, "dossiers_received": 1234567},
    {"province_name": "TP. Hồ Chí Minh", "ckmb": 16.05, "tdgq": 19.12, "clgq": 10.4,
     "tttt": 9.96, "mdhl": 17.5, "mdsh": 18.01, "dossiers_received": 987},
    {"province_name": unicodedata.normalize("NFD", "Tuyên Quang"), "ckmb": 9.9, "tdgq": 19.1,
     "clgq": 6.0, "tttt": 5.5, "mdhl": 18.0, "mdsh": 13.6, "dossiers_received": 45000},
]


def _message_names(error: pytest.ExceptionInfo, path: Path, field: str) -> str:
    message = str(error.value)
    assert f"file {path.name}" in message, message
    assert f"field {field}" in message, message
    assert error.value.field == field
    assert error.value.file == str(path)
    return message


# -- the two layouts --------------------------------------------------------------------------

def test_six_column_xlsx_with_two_title_rows(tmp_path):
    path = write_ranking_xlsx(tmp_path / "bang-xep-hang.xlsx", AUG_2024, ROWS,
                              layout="six_groups", dossiers=True)
    table = read_ranking(path)

    assert isinstance(table, SheetTable)
    assert table.file == str(path)
    assert table.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert table.month == AUG_2024 and table.layout == "six_groups"
    assert table.sheet_name == "Xếp hạng"
    assert table.title.startswith("BẢNG XẾP HẠNG") and "Tháng 08 năm 2024" in table.title
    assert table.is_synthetic
    # listed by name, not by Tổng điểm: STT numbers the rows, it is no rank
    assert [r.rank_reported for r in table.rows] == [None] * 4
    assert "row 7 TP. Hồ Chí Minh 91.04 after row 6 Quảng Nam 80.1" in table.rank_note
    assert [r.row_number for r in table.rows] == [5, 6, 7, 8]  # 2 titles, a blank, header
    hoa_binh = table.rows[0]
    assert (hoa_binh.province_name, hoa_binh.ckmb, hoa_binh.tdgq, hoa_binh.clgq, hoa_binh.tttt,
            hoa_binh.mdhl, hoa_binh.mdsh) == ("Hòa Bình", 15.7, 18.7, 7.9, 9.0, 18.0, 13.8)
    assert hoa_binh.online_combined is None
    assert hoa_binh.total_score == pytest.approx(83.1)
    assert [r.dossiers_received for r in table.rows] == [12345, 1234567, 987, 45000]
    # the source line under the table is not a province, and is said to be ignored
    assert len(table.skipped) == 1 and "below the table ignored" in table.skipped[0]


def test_merged_five_column_csv_semicolons_decimal_commas_nfd_headers_bom(tmp_path):
    path = write_ranking_csv(tmp_path / "xep_hang.csv", AUG_2025, ROWS, layout="online_merged",
                             nfd_headers=True, bom=True, dossiers=True)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"15,70;18,70;16,90" in raw  # as staff see it
    assert b"1.234.567" in raw
    table = read_ranking(path)

    assert table.month == AUG_2025 and table.layout == "online_merged"
    assert table.sheet_name is None
    assert [r.province_name for r in table.rows][:2] == ["Hòa Bình", "Quảng Nam"]
    first = table.rows[0]
    assert first.clgq is None and first.tttt is None
    assert first.online_combined == pytest.approx(16.9)
    assert (first.ckmb, first.tdgq, first.mdhl, first.mdsh) == (15.7, 18.7, 18.0, 13.8)
    assert first.total_score == pytest.approx(83.1)
    assert [r.dossiers_received for r in table.rows] == [12345, 1234567, 987, 45000]
    assert table.rows[0].row_number == 4  # two title rows, then the header, no blank line


@pytest.mark.parametrize(("delimiter", "decimal_comma"), [(",", False), ("\t", True),
                                                          (",", True), (";", False)])
def test_csv_delimiters_and_decimal_marks(tmp_path, delimiter, decimal_comma):
    path = write_ranking_csv(tmp_path / "t8-2024.csv", AUG_2024, ROWS, layout="six_groups",
                             delimiter=delimiter, decimal_comma=decimal_comma, bom=False,
                             dossiers=True)
    table = read_ranking(path)
    assert [r.tttt for r in table.rows] == [9.0, 7.6, 9.96, 5.5]
    assert [r.total_score for r in table.rows] == pytest.approx([83.1, 80.1, 91.04, 72.1])
    assert [r.dossiers_received for r in table.rows] == [12345, 1234567, 987, 45000]


def test_headers_without_diacritics(tmp_path):
    xlsx = write_ranking_xlsx(tmp_path / "a.xlsx", AUG_2024, ROWS, layout="six_groups",
                              ascii_headers=True)
    header = [c.value for c in next(load_workbook(xlsx).active.iter_rows(min_row=4,
                                                                         max_row=4))]
    assert "Cong khai, minh bach (18)" in header  # the fixture really is diacritic-free
    csv_path = write_ranking_csv(tmp_path / "a.csv", AUG_2025, ROWS, layout="online_merged",
                                 ascii_headers=True)
    assert read_ranking(xlsx).rows[2].clgq == 10.4
    assert read_ranking(csv_path).rows[2].online_combined == pytest.approx(20.36)


def test_header_spellings_and_annotations(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(
        "Kết quả đánh giá Bộ chỉ số 766, thang 8 - 2024\n"
        "\n"
        "S.T.T;Tên tỉnh;CÔNG KHAI - MINH BẠCH (điểm);Tiến độ  giải quyết/20;"
        "Dịch vụ công trực tuyến [12];Thanh toán trực tuyến (10 điểm);mức độ hài lòng;"
        "Số hoá hồ sơ/22;Tổng;Tổng số hồ sơ;Ghi chú\n"
        "01;Hà Giang;12,5;17;6;5;16;11;67,5;12 345;\n",
        encoding="utf-8")
    table = read_ranking(path)
    (row,) = table.rows
    assert table.month == AUG_2024 and table.layout == "six_groups"
    assert (row.rank_reported, row.province_name, row.ckmb, row.tdgq, row.clgq, row.tttt,
            row.mdhl, row.mdsh, row.total_score, row.dossiers_received) == (
        1, "Hà Giang", 12.5, 17.0, 6.0, 5.0, 16.0, 11.0, 67.5, 12345.0)


def test_merged_column_is_not_taken_for_the_public_services_column(tmp_path):
    path = tmp_path / "2025-09.csv"
    path.write_text("STT;Địa phương;Công khai, minh bạch;Tiến độ giải quyết;"
                    "Dịch vụ trực tuyến /22;Mức độ hài lòng;Số hóa hồ sơ;Tổng điểm\n"
                    "1;Bắc Ninh;15,82;19,45;18,53;17,86;21,17;92,83\n", encoding="utf-8")
    table = read_ranking(path)
    assert table.layout == "online_merged" and table.month == date(2025, 9, 1)
    assert table.rows[0].online_combined == 18.53 and table.rows[0].clgq is None
    assert table.title == "" and not table.is_synthetic


def test_first_sheet_with_a_header_is_read(tmp_path):
    path = write_ranking_xlsx(tmp_path / "2024-08.xlsx", AUG_2024, ROWS, layout="six_groups")
    workbook = load_workbook(path)
    notes = workbook.create_sheet("Hướng dẫn", 0)
    notes.append(["Số liệu trích xuất từ Cổng DVCQG"])
    workbook.save(path)
    table = read_ranking(path)
    assert table.sheet_name == "Xếp hạng" and len(table.rows) == 4


def test_a_full_63_province_demo_table(tmp_path):
    rows = demo_rows(AUG_2024)
    path = write_ranking_xlsx(tmp_path / "x.xlsx", AUG_2024, rows, layout="six_groups",
                              dossiers=True)
    table = read_ranking(path)
    assert len(table.rows) == 63 and len({r.province_name for r in table.rows}) == 63
    assert table.rows[-1].rank_reported is None and table.rank_note  # sorted by name
    assert len(read_ranking(write_ranking_csv(tmp_path / "y.csv", AUG_2025,
                                              demo_rows(AUG_2025), layout="online_merged")
                            ).rows) == 34


# -- names and total rows ---------------------------------------------------------------------

def test_province_names_are_kept_as_written_but_nfc(tmp_path):
    rows = [dict(ROWS[0], province_name=name) for name in (
        "TP. Hồ Chí Minh", "  Thành phố Hồ Chí Minh ", unicodedata.normalize("NFD", "Hà Giang"),
        "UBND tỉnh Tuyên Quang")]
    for path in (write_ranking_xlsx(tmp_path / "n.xlsx", AUG_2024, rows, layout="six_groups"),
                 write_ranking_csv(tmp_path / "n.csv", AUG_2024, rows, layout="six_groups")):
        names = [r.province_name for r in read_ranking(path).rows]
        assert names == ["TP. Hồ Chí Minh", "Thành phố Hồ Chí Minh", "Hà Giang",
                         "UBND tỉnh Tuyên Quang"]
        assert all(unicodedata.is_normalized("NFC", n) for n in names)


@pytest.mark.parametrize("label", ["Tổng cộng", "Trung binh ca nuoc",
                                   unicodedata.normalize("NFD", "Cả nước"), "BÌNH QUÂN", ""])
def test_a_stray_total_row_is_skipped_and_noted(tmp_path, label):
    path = write_ranking_xlsx(tmp_path / "t.xlsx", AUG_2024, ROWS, layout="six_groups",
                              total_row=label, dossiers=True)
    table = read_ranking(path)
    assert [r.province_name for r in table.rows] == [
        "Hòa Bình", "Quảng Nam", "TP. Hồ Chí Minh", "Tuyên Quang"]
    assert table.skipped[0].startswith("row 9: ")
    shown = unicodedata.normalize("NFC", label)
    assert (f"total row {shown!r} skipped" if label else "no province") in table.skipped[0]


def test_total_row_in_csv_too(tmp_path):
    path = write_ranking_csv(tmp_path / "t.csv", AUG_2025, ROWS, layout="online_merged",
                             total_row=True)
    table = read_ranking(path)
    assert len(table.rows) == 4
    assert table.skipped == ("row 8: total row 'Tổng cộng' skipped",)


# -- the period -------------------------------------------------------------------------------

@pytest.mark.parametrize(("title", "expected"), [
    ("Bảng xếp hạng tháng 8/2024", AUG_2024),
    ("BẢNG XẾP HẠNG THÁNG 08 NĂM 2024", AUG_2024),
    ("Kết quả tháng 8 - 2024", AUG_2024),
    ("Xep hang T8/2024", AUG_2024),
    ("xep hang thang 12 nam 2025", date(2025, 12, 1)),
    (unicodedata.normalize("NFD", "Tháng 7/2025"), date(2025, 7, 1)),
])
def test_period_from_the_title(tmp_path, title, expected):
    path = write_ranking_xlsx(tmp_path / "bxh-2023-01.xlsx", expected, ROWS,
                              layout="six_groups", title_rows=[title])
    table = read_ranking(path, month_hint=date(2023, 2, 1))  # the title wins over both
    assert table.month == expected and table.title == unicodedata.normalize("NFC", title)
    assert not table.is_synthetic


@pytest.mark.parametrize("name", ["bxh_2024-08.csv", "08-2024.csv", "xep_hang_2024_08.csv",
                                  "thang-8-2024.csv", "BXH T8_2024.csv",
                                  "Tháng 8.2024.csv", "63_tinh_2024_08_v2.csv"])
def test_period_from_the_file_name(tmp_path, name):
    path = write_ranking_csv(tmp_path / name, AUG_2024, ROWS, layout="six_groups",
                             title_rows=["Bảng xếp hạng (mô phỏng)"])
    table = read_ranking(path, month_hint=date(2023, 2, 1))
    assert table.month == AUG_2024 and table.is_synthetic


def test_period_from_the_hint(tmp_path):
    path = write_ranking_xlsx(tmp_path / "bang-xep-hang.xlsx", AUG_2024, ROWS,
                              layout="six_groups", title_rows=[])
    assert read_ranking(path, month_hint=date(2024, 8, 17)).month == AUG_2024
    assert read_ranking(path, month_hint=date(2024, 8, 17)).title == ""


@pytest.mark.parametrize(("title", "detail"), [
    ("Bảng xếp hạng tháng 13/2024", "impossible month 13/2024"),
    ("Lũy kế từ tháng 1/2024 đến tháng 8/2024", "several months"),
    ("Xếp hạng tháng 5/2021", "before the index existed"),
])
def test_impossible_or_ambiguous_period_in_the_title(tmp_path, title, detail):
    path = write_ranking_xlsx(tmp_path / "2024-08.xlsx", AUG_2024, ROWS, layout="six_groups",
                              title_rows=[title])
    with pytest.raises(SpreadsheetError) as error:
        read_ranking(path)
    assert detail in _message_names(error, path, "period")


def test_no_period_anywhere(tmp_path):
    path = write_ranking_csv(tmp_path / "bang-xep-hang.csv", AUG_2024, ROWS,
                             layout="six_groups", title_rows=["Bảng xếp hạng"])
    with pytest.raises(SpreadsheetError) as error:
        read_ranking(path)
    message = _message_names(error, path, "period")
    assert "period unknown" in message and "no month hint" in message


# -- unreadable files -------------------------------------------------------------------------

def test_random_bytes_named_xlsx(tmp_path):
    path = tmp_path / "2024-08.xlsx"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(SpreadsheetError) as error:
        read_ranking(path)
    assert "not a readable .xlsx workbook" in _message_names(error, path, "content")


def test_a_zip_that_is_not_a_workbook(tmp_path):
    import zipfile

    path = tmp_path / "2024-08.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "xin chào")
    with pytest.raises(SpreadsheetError) as error:
        read_ranking(path)
    _message_names(error, path, "content")


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf\r\n  \r\n"])
def test_empty_file(tmp_path, content):
    for suffix in (".csv", ".xlsx"):
        path = tmp_path / f"2024-08{suffix}"
        path.write_bytes(content)
        with pytest.raises(SpreadsheetError) as error:
            read_ranking(path)
        assert "empty file" in _message_names(error, path, "content")


def test_other_extensions_are_refused(tmp_path):
    path = write_ranking_csv(tmp_path / "2024-08.csv", AUG_2024, ROWS, layout="six_groups")
    renamed = path.rename(tmp_path / "2024-08.txt")
    with pytest.raises(SpreadsheetError) as error:
        read_ranking(renamed)
    assert "expected .xlsx or .csv, got '.txt'" in _message_names(error, renamed, "extension")


def test_no_header(tmp_path):
    path = tmp_path / "2024-08.csv"
    path.write_text("Hòa Bình;15,7;18,7\nQuảng Nam;13,2;18,4\n", encoding="utf-8")
    with pytest.raises(SpreadsheetError) as error:
        read_ranking(path)
    assert "no ranking header" in _message_names(error, path, "header")


def test_missing_column_names_it_and_lists_the_headers(tmp_path):
    path = write_ranking_csv(tmp_path / "2024-08.csv", AUG_2024, ROWS, layout="six_groups")
    text = path.read_text("utf-8-sig").replace("Thanh toán trực tuyến (10)", "Ghi chú")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpreadsheetError) as error:
        read_ranking(path)
    message = _message_names(error, path, "Thanh toán trực tuyến")
    assert "missing column 'Thanh toán trực tuyến'" in message
    assert "'Ghi chú'" in message and "'DVC trực tuyến (12)'" in message
    assert "period 2024-08" in message and "row 3" in message


def test_missing_total_column(tmp_path):
    path = write_ranking_xlsx(tmp_path / "2025-08.xlsx", AUG_2025, ROWS, layout="online_merged")
    workbook = load_workbook(path)
    workbook.active.cell(row=4, column=8).value = "Xếp loại"
    workbook.save(path)
    with pytest.raises(SpreadsheetError) as error:
        read_ranking(path)
    assert "missing column 'Tổng điểm'" in _message_names(error, path, "Tổng điểm")


def test_text_in_a_score_cell_names_row_province_and_field(tmp_path):
    path = write_ranking_csv(tmp_path / "2024-08.csv", AUG_2024, ROWS, layout="six_groups")
    text = path.read_text("utf-8-sig").replace(";7,60;", ";abc;")  # Quảng Nam's TTTT
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpreadsheetError) as error:
        read_ranking(path)
    message = _message_names(error, path, "Thanh toán trực tuyến (10)")
    assert message.startswith("not a number: 'abc'")
    assert "row 5 (Quảng Nam)" in message and "period 2024-08" in message
    assert error.value.row == 5 and error.value.period == "2024-08"


def test_empty_score_cell_in_xlsx(tmp_path):
    path = write_ranking_xlsx(tmp_path / "2024-08.xlsx", AUG_2024, ROWS, layout="six_groups")
    workbook = load_workbook(path)
    workbook.active.cell(row=7, column=3).value = None  # TP. Hồ Chí Minh's CKMB
    workbook.save(path)
    with pytest.raises(SpreadsheetError) as error:
        read_ranking(path)
    message = _message_names(error, path, "Công khai, minh bạch (18)")
    assert "empty cell" in message and "row 7 (TP. Hồ Chí Minh)" in message


@pytest.mark.parametrize(("cell", "detail"), [("25", "outside 0–18"), ("nan", "not a")])
def test_scores_must_be_finite_and_in_range(tmp_path, cell, detail):
    path = write_ranking_csv(tmp_path / "2024-08.csv", AUG_2024, ROWS[:1], layout="six_groups")
    text = path.read_text("utf-8-sig").replace(";15,70;", f";{cell};")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpreadsheetError) as error:
        read_ranking(path)
    assert detail in _message_names(error, path, "Công khai, minh bạch (18)")


def test_header_without_rows(tmp_path):
    path = write_ranking_csv(tmp_path / "2024-08.csv", AUG_2024, [], layout="six_groups")
    with pytest.raises(SpreadsheetError) as error:
        read_ranking(path)
    assert "no province rows" in _message_names(error, path, "Tỉnh/Thành phố")


def test_writers_are_deterministic(tmp_path):
    one = write_ranking_xlsx(tmp_path / "1.xlsx", AUG_2024, ROWS, layout="six_groups")
    two = write_ranking_xlsx(tmp_path / "2.xlsx", AUG_2024, ROWS, layout="six_groups")
    assert one.read_bytes() == two.read_bytes()
    assert demo_rows(AUG_2024) == demo_rows(AUG_2024) != demo_rows(date(2024, 9, 1))


def test_a_quarterly_table_is_not_read_as_a_month(tmp_path):
    path = write_ranking_csv(tmp_path / "2024-08.csv", AUG_2024, ROWS, layout="six_groups",
                             title_rows=["Bảng xếp hạng Quý III/2024"])
    with pytest.raises(SpreadsheetError) as error:
        read_ranking(path, month_hint=AUG_2024)
    assert "longer period" in _message_names(error, path, "period")


def test_section_headings_repeated_headers_and_notes(tmp_path):
    path = tmp_path / "2024-08.csv"
    path.write_text(
        "STT;Tỉnh/Thành phố;Công khai, minh bạch;Tiến độ giải quyết;Dịch vụ trực tuyến;"
        "Mức độ hài lòng;Số hóa hồ sơ;Tổng điểm\n"
        ";Miền Bắc;;;;;;\n"
        "1.;Hà Giang;10;15;15;16;11;67\n"
        ";;;;;;;\n"
        "STT;Tỉnh/Thành phố;Công khai, minh bạch;Tiến độ giải quyết;Dịch vụ trực tuyến;"
        "Mức độ hài lòng;Số hóa hồ sơ;Tổng điểm\n"
        "2;Cà Mau;11;16;15;16;11;69\n"
        "Người lập biểu;;;;;;;\n", encoding="utf-8")
    table = read_ranking(path)
    assert [(r.row_number, r.rank_reported, r.province_name, r.total_score)
            for r in table.rows] == [(3, None, "Hà Giang", 67.0), (6, None, "Cà Mau", 69.0)]
    assert "row 6 Cà Mau 69 after row 3 Hà Giang 67" in table.rank_note
    assert table.skipped == ("row 2: not a data row 'Miền Bắc' skipped",
                             "row 5: repeated header skipped",
                             "row 7: not a data row 'Người lập biểu' below the table ignored")


def test_a_province_row_with_a_rank_but_no_scores_is_an_error(tmp_path):
    path = tmp_path / "2024-08.csv"
    path.write_text("STT;Tỉnh/Thành phố;Công khai, minh bạch;Tiến độ giải quyết;"
                    "Dịch vụ trực tuyến;Mức độ hài lòng;Số hóa hồ sơ;Tổng điểm\n"
                    "1;Hà Giang;;;;;;\n", encoding="utf-8")
    with pytest.raises(SpreadsheetError) as error:
        read_ranking(path)
    assert "row 2 (Hà Giang)" in _message_names(error, path, "Công khai, minh bạch")


def test_csv_that_is_not_utf8(tmp_path):
    path = tmp_path / "2024-08.csv"
    path.write_bytes("STT;Tỉnh;Tổng điểm\n1;Hà Giang;67\n".encode("utf-16"))
    with pytest.raises(SpreadsheetError) as error:
        read_ranking(path)
    assert "not UTF-8" in _message_names(error, path, "content")


def test_text_numbers_in_xlsx_cells(tmp_path):
    path = write_ranking_xlsx(tmp_path / "2024-08.xlsx", AUG_2024, ROWS[:1], layout="six_groups",
                              dossiers=True)
    workbook = load_workbook(path)
    sheet = workbook.active
    sheet.cell(row=5, column=3).value = "15,70"
    sheet.cell(row=5, column=4).value = " 18.7 "
    sheet.cell(row=5, column=10).value = "12.345"
    workbook.save(path)
    row = read_ranking(path).rows[0]
    assert (row.ckmb, row.tdgq, row.dossiers_received) == (15.7, 18.7, 12345.0)


def test_a_wrong_dimension_record_does_not_truncate_the_sheet(tmp_path):
    import re
    import zipfile

    source = write_ranking_xlsx(tmp_path / "ok.xlsx", AUG_2024, ROWS, layout="six_groups")
    path = tmp_path / "2024-08.xlsx"
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(path, "w") as new:
        for name in old.namelist():
            data = old.read(name)
            if name == "xl/worksheets/sheet1.xml":
                data, count = re.subn(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:A1"', data)
                assert count == 1
            new.writestr(name, data)
    table = read_ranking(path)
    assert [r.total_score for r in table.rows] == pytest.approx([83.1, 80.1, 91.04, 72.1])
