"""Which library writes the analysts' xlsx faster, on the published copy's marts.

    python -m bench.xlsx_writers [--db data/published/chiso766.duckdb]

Both write the same cells (typed numbers, dates, text, a frozen header) in streaming
mode: openpyxl's write_only workbook and xlsxwriter's constant_memory workbook. The
project writes with the winner (assets/publish/exports.py); docs/stack.md has figures.
"""

import argparse
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

import duckdb

from assets.marts.build import MARTS
from assets.publish.exports import XLSX_SHEET_ROWS, _month_cut, write_xlsx
from assets.settings import load_settings


def openpyxl_write(con, path: Path, tables: list[str], max_rows: int) -> int:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    cells = 0
    for table in tables:
        cur = con.execute(_month_cut(con, table, max_rows - 2)[0])
        ws = wb.create_sheet(table.split(".")[1][:31])
        ws.freeze_panes = "A3"
        ws.append([table])
        ws.append([d[0] for d in cur.description])
        while batch := cur.fetchmany(20_000):
            for values in batch:
                row = []
                for v in values:
                    if isinstance(v, datetime):
                        v = v.replace(tzinfo=None)
                    elif not isinstance(v, int | float | str | date | bool | type(None)):
                        v = str(v)
                    row.append(v)
                ws.append(row)
                cells += len(row)
    wb.save(path)
    return cells


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=load_settings().published_path)
    parser.add_argument("--max-rows", type=int, default=XLSX_SHEET_ROWS)
    args = parser.parse_args()
    with duckdb.connect(str(args.db), read_only=True) as con, \
            tempfile.TemporaryDirectory() as tmp:
        con.execute("SET TimeZone = 'UTC'")
        tables = [f"marts.{m}" for m in MARTS]
        count = "SELECT count(*) FROM "
        rows = sum(min(args.max_rows - 2, con.execute(count + t).fetchone()[0]) for t in tables)
        for name, write in (("openpyxl write_only",
                             lambda p: openpyxl_write(con, p, tables, args.max_rows)),
                            ("xlsxwriter constant_memory",
                             lambda p: write_xlsx(con, p, tables, args.max_rows))):
            path = Path(tmp) / f"{name.split()[0]}.xlsx"
            started = time.perf_counter()
            write(path)
            print(f"{name:28s} {time.perf_counter() - started:6.2f} s  "
                  f"{path.stat().st_size / 1e6:5.1f} MB  ({rows:,} rows)")


if __name__ == "__main__":
    main()
