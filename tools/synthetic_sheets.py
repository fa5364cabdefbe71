"""Deterministic ranking-table spreadsheets, as provincial staff export them (test and demo
fixtures for ``assets.sources.spreadsheets``).

``rows`` is a list of dicts with ``province_name``, ``ckmb``, ``tdgq``, ``clgq``, ``tttt``,
``mdhl``, ``mdsh`` and optionally ``dossiers_received``; they are written in the order given,
numbered 1, 2, … in the STT column, with the total (the sum of the six groups, two
decimals) in "Tổng điểm". The merged layout writes CLGQ + TTTT as one "Dịch vụ trực tuyến"
column. The same arguments always give the same bytes (the .xlsx's timestamps are fixed).

    python -m tools.synthetic_sheets --out data/inbox --month 2024-08 --format xlsx
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import re
import unicodedata
import zipfile
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

from assets.months import month_key, parse_month

SIX = "six_groups"
MERGED = "online_merged"
_FIXED_TIME = datetime(2024, 1, 1)


def default_title_rows(month: date) -> list[str]:
    return [
        "BẢNG XẾP HẠNG BỘ CHỈ SỐ PHỤC VỤ NGƯỜI DÂN, DOANH NGHIỆP (QĐ 766/QĐ-TTg)",
        f"Tháng {month.month:02d} năm {month.year} — dữ liệu mô phỏng (synthetic)",
    ]


def _headers(layout: str, *, nfd: bool, ascii_only: bool, dossiers: bool) -> list[str]:
    if layout not in (SIX, MERGED):
        raise ValueError(f"layout must be {SIX!r} or {MERGED!r}, not {layout!r}")
    online = (["DVC trực tuyến (12)", "Thanh toán trực tuyến (10)"] if layout == SIX
              else ["Dịch vụ trực tuyến (22)"])
    headers = ["STT", "Tỉnh/Thành phố", "Công khai, minh bạch (18)", "Tiến độ giải quyết (20)",
               *online, "Mức độ hài lòng (18)", "Số hóa hồ sơ (22)", "Tổng điểm"]
    if dossiers:
        headers.append("Số hồ sơ tiếp nhận")
    if ascii_only:
        headers = [_strip_marks(h) for h in headers]
    elif nfd:
        headers = [unicodedata.normalize("NFD", h) for h in headers]
    return headers


def _strip_marks(text: str) -> str:
    bare = "".join(c for c in unicodedata.normalize("NFD", text)
                   if not unicodedata.combining(c))
    return bare.replace("đ", "d").replace("Đ", "D")


def _values(row: dict, layout: str) -> list[float]:
    groups = [round(float(row[k]), 2) for k in ("ckmb", "tdgq", "clgq", "tttt", "mdhl", "mdsh")]
    total = round(sum(groups), 2)
    if layout == SIX:
        return [*groups, total]
    ckmb, tdgq, clgq, tttt, mdhl, mdsh = groups
    return [ckmb, tdgq, round(clgq + tttt, 2), mdhl, mdsh, total]


def _table(rows: Sequence[dict], layout: str, *, dossiers: bool,
           total_row: bool | str) -> list[list[object]]:
    """STT, province and numbers of each row (numbers as floats; dossiers as ints)."""
    out: list[list[object]] = []
    for rank, row in enumerate(rows, start=1):
        line: list[object] = [rank, row["province_name"], *_values(row, layout)]
        if dossiers:
            line.append(int(row.get("dossiers_received", 0)))
        out.append(line)
    if total_row is not False and rows:
        label = "Tổng cộng" if total_row is True else total_row
        width = len(out[0]) - 2 - (1 if dossiers else 0)
        means = [round(sum(float(r[2 + i]) for r in out) / len(out), 2) for i in range(width)]
        line = [None, label, *means]
        if dossiers:
            line.append(sum(int(r[-1]) for r in out))
        out.append(line)
    return out


def write_ranking_xlsx(path: Path, month: date, rows: Sequence[dict], *, layout: str,
                       title_rows: Sequence[str] | None = None, nfd_headers: bool = False,
                       ascii_headers: bool = False, total_row: bool | str = False,
                       dossiers: bool = False, sheet_name: str = "Xếp hạng") -> Path:
    """Write an .xlsx ranking table: title rows, an empty row, the header, the rows.

    ``title_rows=None`` writes the default title (month and a "mô phỏng (synthetic)" mark);
    ``[]`` writes none. ``total_row`` True adds a "Tổng cộng" row (column means), a string
    chooses its label."""
    from openpyxl import Workbook

    titles = default_title_rows(month) if title_rows is None else list(title_rows)
    workbook = Workbook()
    workbook.properties.created = _FIXED_TIME
    workbook.properties.modified = _FIXED_TIME
    sheet = workbook.active
    sheet.title = sheet_name
    for line in titles:
        sheet.append([line])
    if titles:
        sheet.append([])
    sheet.append(_headers(layout, nfd=nfd_headers, ascii_only=ascii_headers,
                          dossiers=dossiers))
    for line in _table(rows, layout, dossiers=dossiers, total_row=total_row):
        sheet.append(line)
    sheet.append([])
    sheet.append([None, "Nguồn: Cổng Dịch vụ công quốc gia"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_fixed_timestamps(buffer.getvalue()))
    return path


def _fixed_timestamps(xlsx: bytes) -> bytes:
    """The same workbook with fixed zip-entry times and a fixed 'modified' property
    (openpyxl stamps both with the current time), so that equal inputs give equal bytes."""
    stamp = _FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                              rb"\g<1>" + stamp.encode() + rb"\g<2>", data)
            entry = zipfile.ZipInfo(info.filename, date_time=_FIXED_TIME.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(entry, data)
    return out.getvalue()


def _format(value: object, *, decimal_comma: bool, grouped: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        if not grouped:
            return str(value)
        text = f"{value:,}"  # 12,345
        return text.replace(",", ".") if decimal_comma else text
    if isinstance(value, float):
        text = f"{value:.2f}"
        return text.replace(".", ",") if decimal_comma else text
    return str(value)


def write_ranking_csv(path: Path, month: date, rows: Sequence[dict], *, layout: str,
                      delimiter: str = ";", decimal_comma: bool = True,
                      title_rows: Sequence[str] | None = None, nfd_headers: bool = False,
                      ascii_headers: bool = False, total_row: bool | str = False,
                      bom: bool = True, dossiers: bool = False) -> Path:
    """Write a .csv ranking table (UTF-8, with a BOM unless ``bom=False``).

    Scores have two decimals, with a decimal comma unless ``decimal_comma=False``; dossier
    counts are written with thousands grouping ("12.345", or "12,345" with decimal dots)."""
    titles = default_title_rows(month) if title_rows is None else list(title_rows)
    headers = _headers(layout, nfd=nfd_headers, ascii_only=ascii_headers, dossiers=dossiers)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    for line in titles:
        writer.writerow([line] + [""] * (len(headers) - 1))
    writer.writerow(headers)
    for line in _table(rows, layout, dossiers=dossiers, total_row=total_row):
        cells = [_format(v, decimal_comma=decimal_comma) for v in line]
        if dossiers:
            cells[-1] = _format(line[-1], decimal_comma=decimal_comma, grouped=True)
        writer.writerow(cells)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode("utf-8"))
    return path


def demo_rows(month: date, seed: int = 766) -> list[dict]:
    """One made-up row per province of the time: the 63 old provinces before 2025-07, the
    portal's 34 after (names from data/reference, in short form)."""
    from assets.domain.provinces import lineages

    maps = lineages()
    if month < maps[0].since:
        names = [p for lineage in maps for p in lineage.predecessors]
    else:
        names = [re.sub(r"^UBND\s+(tỉnh|thành phố)\s+", "", m.name, flags=re.IGNORECASE)
                 for m in maps]
    rng = random.Random(f"{seed}:{month_key(month)}")
    rows = []
    for name in sorted(names):
        rows.append({
            "province_name": name,
            "ckmb": round(rng.uniform(9, 18), 2), "tdgq": round(rng.uniform(14, 20), 2),
            "clgq": round(rng.uniform(6, 12), 2), "tttt": round(rng.uniform(5, 10), 2),
            "mdhl": round(rng.uniform(14, 18), 2), "mdsh": round(rng.uniform(10, 22), 2),
            "dossiers_received": rng.randint(20_000, 400_000),
        })
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write into")
    parser.add_argument("--month", required=True, help="yyyy-mm")
    parser.add_argument("--format", choices=("xlsx", "csv"), default="xlsx")
    parser.add_argument("--layout", choices=(SIX, MERGED), default=SIX)
    parser.add_argument("--seed", type=int, default=766)
    args = parser.parse_args(argv)
    month = parse_month(args.month)
    rows = demo_rows(month, args.seed)
    target = args.out / f"xep-hang-766_{month_key(month)}.{args.format}"
    if args.format == "xlsx":
        write_ranking_xlsx(target, month, rows, layout=args.layout, dossiers=True)
    else:
        write_ranking_csv(target, month, rows, layout=args.layout, dossiers=True)
    print(target)


if __name__ == "__main__":
    main()
