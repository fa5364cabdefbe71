"""Exports of the published copy for the tools analysts already use: Parquet, CSV, Excel.

    <data>/published/exports -> exports-<stamp>/      (a symlink, swapped atomically)
        marts.province_monthly.parquet / .csv ...    every marts.* and ref.* table
        chiso766.xlsx                                one sheet per mart + "Giải thích"
        MANIFEST.json                                the run, the tables, their row counts
    <data>/published/chiso766.xlsx -> exports/chiso766.xlsx

The whole set is written into a new directory beside the current one; only when every
file is complete is the ``exports`` symlink replaced (os.replace of a new symlink: one
rename, atomic). A reader who resolves ``exports`` once sees one run's files, never half
a file or a mix of two runs. The previous set is kept (a reader may still be in it);
older ones are removed.

    python -m assets.publish.exports [--db data/published/chiso766.duckdb]
"""

import argparse
import json
import os
import shutil
import time
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from assets.marts_catalogue import mart_order
from assets.report.numbers import vn

EXCEL_MAX_ROWS = 1_048_576  # Excel's sheet limit, header rows included
# The workbook's own limit per sheet: the two detail marts (score_recomputation,
# unit_points_lost) run to hundreds of thousands of rows, which no one scrolls in Excel
# and which cost minutes to write on every publish (docs/stack.md has the figures).
# Their sheets keep the most recent months that fit; Parquet and CSV have every row.
XLSX_SHEET_ROWS = 50_000
LINK = "exports"
XLSX = "chiso766.xlsx"
KEEP = 2  # the current set and the one before it
BOM = b"\xef\xbb\xbf"
EXPLAIN_SHEET = "Giải thích"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def export_tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """Every table (not view) of the marts and ref schemas, in a fixed order."""
    return [tuple(r) for r in con.execute("""
        SELECT schema_name, table_name FROM duckdb_tables()
        WHERE database_name = current_database() AND schema_name IN ('marts', 'ref')
        ORDER BY schema_name DESC, table_name""").fetchall()]


def column_comments() -> tuple[dict, dict]:
    """{(schema, table): [(column, type, meaning)]} and {"schema.table": meaning}, from
    sql/comments.sql: the same source as the data dictionary (assets/marts/dictionary.py)."""
    from assets.warehouse import ensure_schema

    with duckdb.connect() as con:
        ensure_schema(con)
        out: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
        for s, t, c, dt, m in con.execute("""
                SELECT schema_name, table_name, column_name, data_type, comment
                FROM duckdb_columns() ORDER BY schema_name, table_name, column_index"""
                                          ).fetchall():
            out.setdefault((s, t), []).append((c, dt, m or ""))
        tables = {f"{r[0]}.{r[1]}": r[2] or "" for r in con.execute(
            "SELECT schema_name, table_name, comment FROM duckdb_tables()").fetchall()}
    return out, tables


def _write_csv(con: duckdb.DuckDBPyConnection, table: str, path: Path) -> None:
    """UTF-8 with a BOM (Excel then shows the diacritics), ISO dates, dot decimals."""
    raw = path.with_suffix(".nobom")
    con.execute(f"COPY (SELECT * FROM {table}) TO {_literal(str(raw))} "  # noqa: S608
                "(FORMAT csv, HEADER, DELIMITER ',', DATEFORMAT '%Y-%m-%d', "
                "TIMESTAMPFORMAT '%Y-%m-%dT%H:%M:%S%z')")
    with open(path, "wb") as out, open(raw, "rb") as src:
        out.write(BOM)
        shutil.copyfileobj(src, out, 1 << 20)
    raw.unlink()


# ---------------------------------------------------------------- Excel


def _sheet_name(table: str) -> str:
    return table[:31]


def _month_cut(con, table: str, limit: int) -> tuple[str, date | None, bool, int]:
    """The rows of a mart that fit in `limit` rows: the most recent whole months (or, when
    the newest month alone is larger, its first `limit` rows); the first month kept,
    whether that month itself was cut, and the table's row count."""
    cols = [r[0] for r in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name || '.' || table_name = ?", [table]).fetchall()]
    keys = [k for k in ("month DESC", "province_code") if k.split()[0] in cols]
    order = f" ORDER BY {', '.join(keys)}" if keys else ""
    total = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
    if total <= limit or "month" not in cols:
        return f"SELECT * FROM {table}{order} LIMIT {int(limit)}", None, False, total  # noqa: S608
    first = con.execute(f"""
        SELECT min(month) FROM (
            SELECT month, sum(count(*)) OVER (ORDER BY month DESC) AS upto
            FROM {table} GROUP BY month) WHERE upto <= ?""", [limit]).fetchone()[0]  # noqa: S608
    if first is None:  # the newest month alone passes the limit
        first = con.execute(f"SELECT max(month) FROM {table}").fetchone()[0]  # noqa: S608
        return (f"SELECT * FROM {table} WHERE month = DATE '{first}'{order} "  # noqa: S608
                f"LIMIT {int(limit)}", first, True, total)
    return (f"SELECT * FROM {table} WHERE month >= DATE '{first}'{order}",  # noqa: S608
            first, False, total)


def _cell(v):
    if isinstance(v, datetime):
        return v.astimezone(UTC).replace(tzinfo=None)
    if isinstance(v, list | dict | tuple):
        return json.dumps(v, ensure_ascii=False, default=str)
    return v


def _width(v) -> int:
    if isinstance(v, datetime):
        return 19
    if isinstance(v, date):
        return 10
    if isinstance(v, float):
        return min(len(f"{v:.6g}"), 14)
    return len(str(v))


def write_xlsx(con: duckdb.DuckDBPyConnection, path: Path, tables: list[str],
               max_rows: int = XLSX_SHEET_ROWS) -> dict[str, int]:
    """One sheet per mart after a "Giải thích" sheet; returns the rows written per sheet.

    Row 1 of each sheet says what it holds (and, when the table passes Excel's row limit,
    which months were left out); row 2 is the frozen header; numbers and dates are cells
    of their type, not text.
    """
    import xlsxwriter

    comments, table_comments = column_comments()
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True,
                                         "default_date_format": "yyyy-mm-dd",
                                         "remove_timezone": True})
    bold = wb.add_format({"bold": True, "bg_color": "#F0F2F6", "bottom": 1})
    note = wb.add_format({"italic": True, "font_color": "#6B7280"})
    stamp = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    explain = wb.add_worksheet(EXPLAIN_SHEET)
    explain.write_row(0, 0, ["Mỗi sheet là một bảng (mart) của bản sao phân tích; bảng dưới "
                             "đây giải thích từng cột. Nguồn: chú thích COMMENT ON trong cơ sở "
                             "dữ liệu, như trong docs/analysts.md."], note)
    explain.write_row(1, 0, ["sheet", "bảng", "cột", "kiểu", "ý nghĩa"], bold)
    explain.freeze_panes(2, 0)
    r = 2
    for table in tables:
        schema, name = table.split(".")
        explain.write_row(r, 0, [_sheet_name(name), table, "", "",
                                 table_comments.get(table, "")])
        r += 1
        for col, dtype, meaning in comments.get((schema, name), []):
            explain.write_row(r, 0, [_sheet_name(name), table, col, dtype, meaning])
            r += 1
    for c, w in enumerate((22, 28, 26, 14, 110)):
        explain.set_column(c, c, w)
    written = {}
    for table in tables:
        query, first, cut, total = _month_cut(con, table, min(max_rows, EXCEL_MAX_ROWS) - 2)
        cur = con.execute(query)
        names = [d[0] for d in cur.description]
        stamps = [i for i, d in enumerate(cur.description) if "TIMESTAMP" in str(d[1])]
        ws = wb.add_worksheet(_sheet_name(table.split(".")[1]))
        title = table_comments.get(table, "")
        if first is not None:
            limit = vn(min(max_rows, EXCEL_MAX_ROWS), 0)
            kept = (f"chỉ giữ {vn(min(max_rows, EXCEL_MAX_ROWS) - 2, 0)} dòng đầu của tháng "
                    f"{first:%m/%Y}" if cut else
                    f"chỉ giữ các tháng gần nhất, từ {first:%m/%Y} trở đi")
            title = (f"Bảng có {vn(total, 0)} dòng, quá giới hạn {limit} dòng của sheet: sheet "
                     f"này {kept}. Đủ mọi tháng: file {table}.parquet hoặc {table}.csv. "
                     f"— {title}")
        ws.write_string(0, 0, title, note)
        ws.write_row(1, 0, names, bold)
        ws.freeze_panes(2, 0)
        widths = [len(n) + 2 for n in names]
        row = 2
        while batch := cur.fetchmany(20_000):
            if row < 2 + 2_000:  # widths from the first rows: enough to fit, cheap
                for values in batch[:2_000]:
                    for c, v in enumerate(values):
                        if v is not None:
                            widths[c] = max(widths[c], _width(v))
            for values in batch:
                # xlsxwriter types each cell: numbers, booleans, dates (default format)
                cells = [_cell(v) for v in values]
                ws.write_row(row, 0, cells)
                for c in stamps:  # a time of day too: its own format
                    if cells[c] is not None:
                        ws.write_datetime(row, c, cells[c], stamp)
                row += 1
        # constant_memory writes rows as they come: widths are set at the end
        for c, w in enumerate(widths):
            ws.set_column(c, c, min(w + 1, 60))
        written[table] = row - 2
    wb.close()
    return written


# ---------------------------------------------------------------- the set


def _cleanup(root: Path, current: str) -> None:
    sets = sorted((p for p in root.glob("exports-*") if p.is_dir() and p.name != current),
                  key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in root.glob(".exports-*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)
    for old in sets[KEEP - 1:]:
        shutil.rmtree(old, ignore_errors=True)


def write_exports(published: Path, run_id: str = "manual",
                  xlsx_max_rows: int = XLSX_SHEET_ROWS) -> dict:
    """Write every export of the published copy as one set and swap it in; the manifest."""
    root = published.parent
    started = time.perf_counter()
    stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{run_id[:8]}"
    tmp = root / f".exports-{stamp}.tmp"
    final = root / f"exports-{stamp}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with duckdb.connect(str(published), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        tables = [f"{s}.{t}" for s, t in export_tables(con)]
        counts = {}
        for table in tables:
            con.execute(f"COPY (SELECT * FROM {table}) TO "  # noqa: S608
                        f"{_literal(str(tmp / f'{table}.parquet'))} "
                        "(FORMAT parquet, COMPRESSION zstd)")
            _write_csv(con, table, tmp / f"{table}.csv")
            counts[table] = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
        files_s = time.perf_counter() - started
        # every mart the copy holds (its catalogue), in build order
        marts = [f"marts.{t}" for t in sorted(
            (t.removeprefix("marts.") for t in tables if t.startswith("marts.")),
            key=mart_order)]
        xlsx_rows = write_xlsx(con, tmp / XLSX, marts, xlsx_max_rows)
    manifest = {"run_id": run_id, "written_at": f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}",
                "source": str(published), "rows": counts, "xlsx_rows": xlsx_rows,
                "seconds_files": round(files_s, 2),
                "seconds_xlsx": round(time.perf_counter() - started - files_s, 2)}
    (tmp / "MANIFEST.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
    for f in tmp.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
    os.rename(tmp, final)
    _swap_link(root / LINK, final.name)
    xlsx_link = root / XLSX
    if not xlsx_link.is_symlink():
        if xlsx_link.exists():
            xlsx_link.unlink()
        _swap_link(xlsx_link, f"{LINK}/{XLSX}")
    _cleanup(root, final.name)
    return manifest | {"dir": str(final)}


def _swap_link(link: Path, target: str) -> None:
    new = link.with_name(f".{link.name}.{os.getpid()}.link")
    new.unlink(missing_ok=True)
    os.symlink(target, new)
    if link.is_dir() and not link.is_symlink():  # an old plain directory: moved aside
        link.rename(link.with_name(f"exports-legacy-{int(time.time())}"))
    os.replace(new, link)


def main() -> None:
    from assets.settings import load_settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=load_settings().published_path)
    args = parser.parse_args()
    manifest = write_exports(args.db)
    print(json.dumps({k: v for k, v in manifest.items() if k != "rows"}, indent=1,
                     ensure_ascii=False))


if __name__ == "__main__":
    main()
