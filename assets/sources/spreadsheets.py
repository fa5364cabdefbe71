"""Ranking tables exported by provincial staff as .xlsx or .csv (issue 5, item 2).

One row per province (63 before 2025-07, 34 after), headed by the portal's
column names (INDEX_766.md §3): STT · Tỉnh/Thành phố · Công khai, minh bạch ·
Tiến độ giải quyết · DVC trực tuyến · Thanh toán trực tuyến · Mức độ hài lòng ·
Số hóa hồ sơ · Tổng điểm, or, in the mid-2025 layout, the two online columns
merged as one "Dịch vụ trực tuyến" (/22).

``read_ranking`` reads one file into a ``SheetTable`` or raises
``SpreadsheetError``; it never touches a database and never resolves province
names (the lead's staging does that against ``assets.domain.provinces``).

What it copes with: title rows above the header (the period and a "synthetic" /
"mô phỏng" mark are read from them), headers with or without diacritics, NFC or
NFD, with annotations such as "(18)", "/22" or "(điểm)"; decimal commas;
thousands separators in dossier counts; a stray total row ("Tổng cộng", "Cả
nước", …), which is skipped and noted; notes below the table. Readers:
openpyxl (read-only, values only) for .xlsx, the ``csv`` module for .csv.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

from assets.months import FIRST_MONTH, month_key

HEADER_SEARCH_ROWS = 20

# field -> maximum points (for a range check; online_combined is CLGQ 12 + TTTT 10)
SCORE_MAX: dict[str, float] = {
    "ckmb": 18, "tdgq": 20, "clgq": 12, "tttt": 10, "online_combined": 22,
    "mdhl": 18, "mdsh": 22, "total_score": 100,
}
# field -> the canonical Vietnamese header, for messages about missing columns
LABELS: dict[str, str] = {
    "rank": "STT", "province": "Tỉnh/Thành phố", "ckmb": "Công khai, minh bạch",
    "tdgq": "Tiến độ giải quyết", "clgq": "DVC trực tuyến", "tttt": "Thanh toán trực tuyến",
    "online_combined": "Dịch vụ trực tuyến", "mdhl": "Mức độ hài lòng", "mdsh": "Số hóa hồ sơ",
    "total_score": "Tổng điểm", "dossiers_received": "Hồ sơ tiếp nhận",
}
# Header vocabulary, as folded keys (see ``fold``): exact matches only, so that
# "dich vu truc tuyen" (merged) and "dich vu cong truc tuyen" (CLGQ) never mix.
_HEADERS: dict[str, str] = {
    "stt": "rank", "s t t": "rank", "so thu tu": "rank", "tt": "rank",
    "tinh thanh pho": "province", "tinh tp": "province", "ten tinh": "province",
    "ten tinh thanh pho": "province", "dia phuong": "province", "don vi": "province",
    "ten don vi": "province", "tinh": "province",
    "cong khai minh bach": "ckmb", "ckmb": "ckmb",
    "tien do giai quyet": "tdgq", "tdgq": "tdgq",
    "dvc truc tuyen": "clgq", "dich vu cong truc tuyen": "clgq", "clgq": "clgq",
    "thanh toan truc tuyen": "tttt", "tttt": "tttt",
    "dich vu truc tuyen": "online_combined",
    "muc do hai long": "mdhl", "mdhl": "mdhl",
    "so hoa ho so": "mdsh", "mdsh": "mdsh",
    "tong diem": "total_score", "tong": "total_score",
    "ho so tiep nhan": "dossiers_received", "so ho so tiep nhan": "dossiers_received",
    "tong so ho so": "dossiers_received", "tong so ho so tiep nhan": "dossiers_received",
}
_ALWAYS_REQUIRED = ("province", "ckmb", "tdgq", "mdhl", "mdsh", "total_score")
_SCORE_FIELDS = ("ckmb", "tdgq", "clgq", "tttt", "online_combined", "mdhl", "mdsh",
                 "total_score")
# a province cell that marks a summary row (folded, matched as a leading phrase)
_SUMMARY = re.compile(r"^(tong cong|tong so|tong|ca nuoc|trung binh|binh quan|toan quoc)\b")


class SpreadsheetError(ValueError):
    """A ranking spreadsheet that cannot be read; the message says where and why."""

    def __init__(self, file: str, period: str | None, row: int | None, field: str,
                 detail: str, province: str | None = None):
        self.file, self.period, self.row, self.field, self.detail = (
            file, period, row, field, detail)
        self.province = province
        where = "row n/a" if row is None else f"row {row}"
        if province:
            where += f" ({province})"
        super().__init__(f"{detail}: file {Path(file).name}, period {period or 'unknown'}, "
                         f"{where}, field {field}")


@dataclass(frozen=True)
class SheetRow:
    row_number: int  # 1-based, as the spreadsheet program shows it (CSV: record number)
    rank_reported: int | None  # the STT column
    province_name: str  # as written (NFC, stripped); not resolved
    ckmb: float | None
    tdgq: float | None
    clgq: float | None
    tttt: float | None
    online_combined: float | None
    mdhl: float | None
    mdsh: float | None
    total_score: float | None
    dossiers_received: float | None


@dataclass(frozen=True)
class SheetTable:
    file: str  # the path as given
    sha256: str  # of the file's bytes
    month: date  # first of the month
    layout: str  # 'six_groups' or 'online_merged'
    title: str  # the non-empty title rows above the header, joined with " | "
    is_synthetic: bool
    sheet_name: str | None  # None for CSV
    rows: tuple[SheetRow, ...]
    skipped: tuple[str, ...]
    # why rank_reported was emptied (the STT column numbers rows, it does not rank them)
    rank_note: str | None = None


def rank_or_row_number(rows: tuple[SheetRow, ...]) -> tuple[tuple[SheetRow, ...], str | None]:
    """The STT column is a rank only when the sheet lists the provinces by Tổng điểm,
    highest first (ties allowed); a sheet sorted otherwise (e.g. by name) numbers its rows.
    Then every rank_reported is emptied and the note says which rows showed it."""
    for above, below in zip(rows, rows[1:], strict=False):
        if (above.total_score is not None and below.total_score is not None
                and below.total_score > above.total_score):
            note = (f"STT is a row number, not a rank: the sheet is not in descending order "
                    f"of Tổng điểm (row {below.row_number} {below.province_name} "
                    f"{below.total_score:g} after row {above.row_number} "
                    f"{above.province_name} {above.total_score:g}); rank_reported left "
                    "empty")
            return tuple(replace(r, rank_reported=None) for r in rows), note
    return rows, None


# -- text helpers ---------------------------------------------------------------------------

def fold(text: str) -> str:
    """Lower case, no diacritics, no punctuation, single spaces: 'Tỉnh/Thành phố' → 'tinh
    thanh pho'. NFC and NFD spellings fold to the same key."""
    decomposed = unicodedata.normalize("NFD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    bare = bare.replace("đ", "d").replace("Đ", "D").lower()
    bare = re.sub(r"[^\w]+|_", " ", bare)
    return re.sub(r"\s+", " ", bare).strip()


def _header_key(text: str) -> str:
    """Fold a header cell after dropping annotations: '(18)', '[điểm]', '/22', '- 100 điểm'."""
    text = unicodedata.normalize("NFC", text)
    text = re.sub(r"\([^)]*\)|\[[^\]]*\]", " ", text)
    text = re.sub(r"/\s*\d+(?:[.,]\d+)?", " ", text)
    key = fold(text)
    return re.sub(r"\s+\d+(\s+diem)?$", "", key)  # a trailing '22 điểm'


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return unicodedata.normalize("NFC", str(value)).strip()


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# -- numbers --------------------------------------------------------------------------------

_DECIMAL = re.compile(r"^[+-]?\d+(?:[.,]\d+)?$")
_GROUPED = re.compile(r"^\d{1,3}([.,\u00a0\u202f ])\d{3}(?:\1\d{3})*$")


def _number(value: object, *, grouped: bool = False) -> float | str:
    """A finite float, or a string saying why the cell is not a number."""
    if isinstance(value, Formula):
        return value.reason()
    if value is None:
        return "empty cell where a number is required"
    if isinstance(value, bool):
        return f"not a number: {value!r}"
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, datetime | date):
        return f"a date, not a number: {value.isoformat()}"
    elif isinstance(value, str):
        text = value.strip().replace("\u00a0", " ")
        if not text:
            return "empty cell where a number is required"
        if grouped:
            match = _GROUPED.match(text)
            if match:
                return float(re.sub(r"[^\d]", "", text))
        compact = text.replace(" ", "")
        if not _DECIMAL.match(compact):
            return f"not a number: {value.strip()!r}"
        number = float(compact.replace(",", "."))
    else:
        return f"not a number: {value!r}"
    if not math.isfinite(number):
        return f"not a finite number: {value!r}"
    return number


# -- period ---------------------------------------------------------------------------------

_TITLE_PERIOD = (
    re.compile(r"\bthang\s*(\d{1,2})\s*(?:nam|/|-|\.)?\s*(\d{4})\b"),
    re.compile(r"\bt\s?(\d{1,2})\s*[/\-._]\s*(\d{4})\b"),
)
_NAME_PERIOD = (
    re.compile(r"(?<!\d)(20\d{2})[-_. ](\d{1,2})(?!\d)"),  # 2024-08, 2024_08
    re.compile(r"(?<!\d)(\d{1,2})[-_. ](20\d{2})(?!\d)"),  # 08-2024, thang-8-2024, T8_2024
)


# a title about a longer period ("Quý 3/2024", "6 tháng đầu năm", "lũy kế", "cả năm")
_NOT_A_MONTH = re.compile(r"\b(quy\s*(i{1,3}|iv|[1-4])\b|6 thang|sau thang|luy ke|ca nam)")


def _month_or_reason(year: int, month: int) -> date | str:
    if not 1 <= month <= 12:
        return f"impossible month {month:02d}/{year}"
    found = date(year, month, 1)
    if found < FIRST_MONTH:
        return f"month {month:02d}/{year} is before the index existed ({FIRST_MONTH:%m/%Y})"
    if found.year > 2100:
        return f"implausible year {year}"
    return found


def _title_months(title: str) -> list[tuple[int, int]]:
    # fold() drops '/', so match on a folded text that keeps the separators
    text = unicodedata.normalize("NFD", title)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.replace("đ", "d").replace("Đ", "D").lower()
    found: list[tuple[int, int]] = []
    for pattern in _TITLE_PERIOD:
        for match in pattern.finditer(text):
            pair = (int(match.group(2)), int(match.group(1)))
            if pair not in found:
                found.append(pair)
    return found


def _name_months(name: str) -> list[date]:
    text = unicodedata.normalize("NFD", Path(name).stem)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    found: list[date] = []
    for index, pattern in enumerate(_NAME_PERIOD):
        for match in pattern.finditer(text):
            year, month = (int(match.group(1)), int(match.group(2))) if index == 0 else (
                int(match.group(2)), int(match.group(1)))
            candidate = _month_or_reason(year, month)
            if isinstance(candidate, date) and candidate not in found:
                found.append(candidate)
    return found


# -- reading cells --------------------------------------------------------------------------

@dataclass
class _Grid:
    rows: list[tuple[int, list[object]]]  # (1-based row number, cells)
    sheet_name: str | None


def _read_csv(path: Path, data: bytes, file: str) -> _Grid:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpreadsheetError(file, None, None, "content",
                               f"not UTF-8 text (byte {exc.start})") from exc
    if "\x00" in text:
        raise SpreadsheetError(file, None, None, "content", "binary data in a .csv file")
    best: tuple[int, list[list[str]]] | None = None
    for delimiter in (";", "\t", ","):
        try:
            records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
        except csv.Error as exc:
            raise SpreadsheetError(file, None, None, "content",
                                   f"unreadable CSV ({exc})") from exc
        grid = [(i, list(r)) for i, r in enumerate(records, start=1)]
        found = _find_header(grid)
        score = len(found[1]) if found else 0
        if best is None or score > best[0]:
            best = (score, records)
    assert best is not None
    return _Grid([(i, list(r)) for i, r in enumerate(best[1], start=1)], None)


# An export of 63 provinces is a few hundred rows and a few hundred KB of sheet XML.
MAX_SHEET_XML_BYTES = 50_000_000  # uncompressed, all sheets and shared strings together
MAX_ROWS = 5_000  # rows read per sheet; a ranking table ends long before
MAX_COLUMNS = 100


class Formula:
    """A formula cell whose workbook holds no saved value for it (never opened in Excel
    after the formula was written): named as such, not as an empty cell."""

    def __init__(self, text: str, cell: str):
        self.text, self.cell = text, cell

    def __str__(self) -> str:
        return self.text

    def reason(self) -> str:
        return (f"formula {self.text} in cell {self.cell} has no saved value (open and save "
                "the workbook in Excel, or paste the values)")


def _check_xml_size(path: Path, file: str, limit: int) -> None:
    """Refuse a workbook whose sheets would be huge once decompressed (a zip bomb)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            parts = [i for i in archive.infolist()
                     if i.filename.startswith("xl/worksheets/")
                     or i.filename == "xl/sharedStrings.xml"]
    except (zipfile.BadZipFile, OSError) as exc:
        raise SpreadsheetError(file, None, None, "content",
                               f"not a readable .xlsx workbook ({type(exc).__name__}: "
                               f"{exc})") from exc
    total = sum(i.file_size for i in parts)
    if total > limit:
        raise SpreadsheetError(
            file, None, None, "content",
            f"sheets of {total / 1e6:.0f} MB once uncompressed, over the "
            f"{limit / 1e6:.0f} MB cap (CHISO_INBOX_MAX_XML_MB): not a ranking export")


def _sheet_rows(sheet) -> list[tuple[int, list[object]]]:
    rows = []
    for i, r in enumerate(sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS), start=1):
        if i > MAX_ROWS:
            break
        rows.append((i, list(r)))
    return rows


def _read_xlsx(path: Path, file: str, max_xml_bytes: int = MAX_SHEET_XML_BYTES) -> _Grid:
    # imported here so that CSV-only callers do not pay for openpyxl
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    _check_xml_size(path, file, max_xml_bytes)
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # BadZipFile, InvalidFileException, KeyError on missing parts, …
        raise SpreadsheetError(file, None, None, "content",
                               f"not a readable .xlsx workbook ({type(exc).__name__}: "
                               f"{exc})") from exc
    try:
        first: _Grid | None = None
        for index, sheet in enumerate(workbook.worksheets):
            # some exporters write a wrong <dimension> (e.g. A1:A1); read every cell instead
            sheet.reset_dimensions()
            rows = _sheet_rows(sheet)
            grid = _Grid(rows, sheet.title)
            if first is None:
                first = grid
            if _find_header(rows):
                if any(v is None for _, cells in rows for v in cells):
                    _mark_formulas(path, index, rows, get_column_letter)
                return grid
        return first or _Grid([], None)
    except SpreadsheetError:
        raise
    except Exception as exc:
        raise SpreadsheetError(file, None, None, "content",
                               f"damaged .xlsx workbook ({type(exc).__name__}: {exc})") from exc
    finally:
        workbook.close()


def _mark_formulas(path: Path, index: int, rows, column_letter) -> None:
    """Empty values that are formulas without a saved value become ``Formula`` cells."""
    from openpyxl import load_workbook

    formulas = load_workbook(path, read_only=True, data_only=False)
    try:
        sheet = formulas.worksheets[index]
        sheet.reset_dimensions()
        for (number, cells), (_, texts) in zip(rows, _sheet_rows(sheet), strict=False):
            for col, text in enumerate(texts[:len(cells)]):
                if cells[col] is None and isinstance(text, str) and text.startswith("="):
                    cells[col] = Formula(text, f"{column_letter(col + 1)}{number}")
    finally:
        formulas.close()


# -- header ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Column:
    index: int
    written: str  # the header cell as written (NFC, stripped)


def _header_fields(cells: Sequence[object]) -> dict[str, list[_Column]]:
    fields: dict[str, list[_Column]] = {}
    for index, cell in enumerate(cells):
        if not isinstance(cell, str) or not cell.strip():
            continue
        field = _HEADERS.get(_header_key(cell))
        if field:
            fields.setdefault(field, []).append(_Column(index, _cell_text(cell)))
    return fields


def _find_header(rows: Sequence[tuple[int, list[object]]]
                 ) -> tuple[int, dict[str, list[_Column]]] | None:
    """(position in rows, fields) of the first row that looks like the table's header."""
    for position, (_, cells) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        fields = _header_fields(cells)
        scores = set(fields) & set(_SCORE_FIELDS)
        if ("province" in fields and len(scores) >= 2) or len(scores) >= 4:
            return position, fields
    return None


# -- the reader -----------------------------------------------------------------------------

def read_ranking(path: Path, *, month_hint: date | None = None,
                 max_xml_bytes: int = MAX_SHEET_XML_BYTES) -> SheetTable:
    """Read one exported ranking table (.xlsx or .csv).

    The period comes from the title rows, else from the file name, else from
    ``month_hint``. Raises ``SpreadsheetError`` for anything that cannot be read.
    """
    path = Path(path)
    file = str(path)
    suffix = path.suffix.lower()
    if suffix not in {".xlsx", ".csv"}:
        raise SpreadsheetError(file, None, None, "extension",
                               f"not a ranking spreadsheet: expected .xlsx or .csv, got "
                               f"{path.suffix or 'no extension'!r}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SpreadsheetError(file, None, None, "content", f"cannot read the file ({exc})"
                               ) from exc
    if not data.removeprefix(b"\xef\xbb\xbf").strip():
        raise SpreadsheetError(file, None, None, "content", "empty file")
    sha256 = hashlib.sha256(data).hexdigest()
    grid = (_read_csv(path, data, file) if suffix == ".csv"
            else _read_xlsx(path, file, max_xml_bytes))

    if not any(not _is_blank(c) for _, cells in grid.rows for c in cells):
        raise SpreadsheetError(file, None, None, "content", "no cells with data")
    found = _find_header(grid.rows)
    if found is None:
        raise SpreadsheetError(
            file, None, None, "header",
            f"no ranking header (STT, Tỉnh/Thành phố, Công khai, minh bạch, …) in the first "
            f"{HEADER_SEARCH_ROWS} rows")
    position, fields = found
    header_row, header_cells = grid.rows[position]

    title_lines = []
    for _, cells in grid.rows[:position]:
        line = " ".join(_cell_text(c) for c in cells if not _is_blank(c))
        if line:
            title_lines.append(line)
    title = " | ".join(title_lines)
    folded_title = fold(title)
    is_synthetic = "synthetic" in folded_title or "mo phong" in folded_title

    month = _period(file, path, title, month_hint)
    period = month_key(month)

    def fail(row: int | None, field: str, detail: str, province: str | None = None):
        return SpreadsheetError(file, period, row, field, detail, province)

    for field, columns in fields.items():
        if len(columns) > 1:
            raise fail(header_row, columns[1].written,
                       f"column {LABELS[field]!r} appears twice "
                       f"({', '.join(repr(c.written) for c in columns)})")
    columns = {field: found_columns[0] for field, found_columns in fields.items()}
    written = [_cell_text(c) for c in header_cells if not _is_blank(c)]

    def missing(field: str, why: str = "") -> SpreadsheetError:
        return fail(header_row, LABELS[field],
                    f"missing column {LABELS[field]!r}{why}; headers found: "
                    f"{', '.join(repr(w) for w in written)}")

    for field in _ALWAYS_REQUIRED:
        if field not in columns:
            raise missing(field)
    if "clgq" in columns and "tttt" in columns:
        layout = "six_groups"
    elif "online_combined" in columns:
        layout = "online_merged"
        columns.pop("clgq", None)
        columns.pop("tttt", None)
    elif "clgq" in columns or "tttt" in columns:
        raise missing("tttt" if "clgq" in columns else "clgq",
                      " (the six-group layout needs both online columns)")
    else:
        raise missing("online_combined",
                      " (or the two columns 'DVC trực tuyến' and 'Thanh toán trực tuyến')")
    required = [*_ALWAYS_REQUIRED[1:], *(("clgq", "tttt") if layout == "six_groups"
                                         else ("online_combined",))]

    body = grid.rows[position + 1:]
    header_fields = set(fields)
    rows: list[SheetRow] = []
    skipped: list[str] = []
    pending_notes: list[str] = []  # rows without data; kept only if data follows them

    def cell(cells: list[object], field: str) -> object:
        column = columns.get(field)
        if column is None or column.index >= len(cells):
            return None
        return cells[column.index]

    for row_number, cells in body:
        if all(_is_blank(c) for c in cells):
            continue
        province = _cell_text(cell(cells, "province"))
        numbers = [f for f in required if not isinstance(_number(cell(cells, f)), str)]
        if set(_header_fields(cells)) == header_fields:
            skipped.append(f"row {row_number}: repeated header skipped")
            continue
        if province and _SUMMARY.match(fold(province)):
            skipped.append(f"row {row_number}: total row {province!r} skipped")
            continue
        if not province and numbers:
            skipped.append(f"row {row_number}: row with numbers but no province "
                           f"(a total row) skipped")
            continue
        rank_cell = cell(cells, "rank")
        if isinstance(rank_cell, str):
            rank_cell = rank_cell.strip().rstrip(".")  # "1." as some exports number rows
        rank = _number(rank_cell) if not _is_blank(rank_cell) else None
        if not numbers and not isinstance(rank, float):
            text = " ".join(_cell_text(c) for c in cells if not _is_blank(c))
            pending_notes.append(f"row {row_number}: not a data row {text[:60]!r}")
            continue
        skipped.extend(f"{note} skipped" for note in pending_notes)
        pending_notes.clear()

        where = province or None
        if isinstance(rank, str) or (rank is not None and not rank.is_integer()):
            raise fail(row_number, columns["rank"].written,
                       f"STT is not a whole number: {_cell_text(rank_cell)!r}", where)
        values: dict[str, float | None] = {}
        for field in _SCORE_FIELDS:
            if field not in columns:
                values[field] = None
                continue
            raw = cell(cells, field)
            if field not in required and _is_blank(raw):
                values[field] = None
                continue
            value = _number(raw)
            if isinstance(value, str):
                raise fail(row_number, columns[field].written, value, where)
            if not -0.005 <= value <= SCORE_MAX[field] + 0.005:
                raise fail(row_number, columns[field].written,
                           f"score {value:g} outside 0–{SCORE_MAX[field]:g}", where)
            values[field] = value
        dossiers: float | None = None
        raw = cell(cells, "dossiers_received")
        if not _is_blank(raw):
            value = _number(raw, grouped=True)
            if isinstance(value, str):
                raise fail(row_number, columns["dossiers_received"].written, value, where)
            if value < 0:
                raise fail(row_number, columns["dossiers_received"].written,
                           f"negative dossier count {value:g}", where)
            dossiers = value
        rows.append(SheetRow(
            row_number=row_number, rank_reported=None if rank is None else int(rank),
            province_name=province, dossiers_received=dossiers, **values))

    skipped.extend(f"{note} below the table ignored" for note in pending_notes)
    if not rows:
        raise fail(header_row, LABELS["province"], "no province rows under the header")
    ranked, rank_note = rank_or_row_number(tuple(rows))
    return SheetTable(file=file, sha256=sha256, month=month, layout=layout, title=title,
                      is_synthetic=is_synthetic, sheet_name=grid.sheet_name, rows=ranked,
                      skipped=tuple(skipped), rank_note=rank_note)


def _period(file: str, path: Path, title: str, month_hint: date | None) -> date:
    in_title = _title_months(title)
    if len(in_title) > 1:
        raise SpreadsheetError(file, None, None, "period",
                               "the title names several months: "
                               + ", ".join(f"{m:02d}/{y}" for y, m in in_title))
    if in_title:
        found = _month_or_reason(*in_title[0])
        if isinstance(found, str):
            raise SpreadsheetError(file, None, None, "period", f"{found} in the title")
        return found
    longer = _NOT_A_MONTH.search(fold(title))
    if longer:
        raise SpreadsheetError(file, None, None, "period",
                               f"the title is about a longer period than a month "
                               f"({longer.group(0)!r})")
    in_name = _name_months(path.name)
    if len(in_name) > 1:
        raise SpreadsheetError(file, None, None, "period",
                               "the file name names several months: "
                               + ", ".join(month_key(m) for m in in_name))
    if in_name:
        return in_name[0]
    if month_hint is not None:
        found = _month_or_reason(month_hint.year, month_hint.month)
        if isinstance(found, str):
            raise SpreadsheetError(file, None, None, "period", f"{found} (month hint)")
        return found
    raise SpreadsheetError(file, None, None, "period",
                           "no period in the title rows or the file name, and no month hint")

