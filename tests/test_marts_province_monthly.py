"""marts.province_monthly.rank_reported: a spreadsheet's STT is kept as the printed rank
only when the sheet lists the provinces by Tổng điểm (highest first, ties allowed);
otherwise it is a row number, so rank_reported is empty and rank_note says why."""

from datetime import UTC, date, datetime

import duckdb

from assets.marts.assets import rebuild_months
from assets.sources.spreadsheets import read_ranking
from assets.staging.history import frame
from assets.staging.spreadsheet_assets import sheet_rows
from assets.warehouse import ensure_schema, refresh_reference
from tools.synthetic_sheets import write_ranking_csv

AUG_2024 = date(2024, 8, 1)


def _row(name, ckmb):
    return {"province_name": name, "ckmb": ckmb, "tdgq": 18.0, "clgq": 8.0, "tttt": 8.0,
            "mdhl": 17.0, "mdsh": 15.0}


# totals 82, 80, 80 (a tie), 75
BY_TOTAL = [_row("Quảng Nam", 16.0), _row("Hòa Bình", 14.0), _row("Cà Mau", 14.0),
            _row("Hà Giang", 9.0)]
BY_NAME = sorted(BY_TOTAL, key=lambda r: r["province_name"])  # Cà Mau, Hà Giang, Hòa Bình…


def test_a_sheet_listed_by_total_keeps_its_stt_as_the_rank(tmp_path):
    table = read_ranking(write_ranking_csv(tmp_path / "xep-hang-2024-08.csv", AUG_2024,
                                           BY_TOTAL, layout="six_groups"))
    assert [r.rank_reported for r in table.rows] == [1, 2, 3, 4]
    assert table.rank_note is None


def test_a_sheet_listed_by_name_has_no_rank_and_says_why_down_to_the_mart(tmp_path):
    table = read_ranking(write_ranking_csv(tmp_path / "xep-hang-2024-08.csv", AUG_2024,
                                           BY_NAME, layout="six_groups"))
    assert [r.rank_reported for r in table.rows] == [None] * 4
    assert table.rank_note.startswith("STT is a row number, not a rank")
    con = duckdb.connect(":memory:")
    ensure_schema(con)
    refresh_reference(con)
    staged = frame(sheet_rows(table, "0" * 64, "sheets/x.csv",  # noqa: F841 (read by SQL)
                              datetime(2024, 9, 10, tzinfo=UTC)))
    con.execute("INSERT INTO staging.spreadsheet_scores BY NAME SELECT * FROM staged")
    rebuild_months(con, "province_monthly", [AUG_2024])
    got = con.execute("""SELECT replace(province_name, 'Tỉnh ', ''), rank, rank_reported, rank_note
                         FROM marts.province_monthly
                         WHERE series = 'reported' ORDER BY rank, 1""").fetchall()
    assert [(name, rank, reported) for name, rank, reported, _ in got] == [
        ("Quảng Nam", 1, None), ("Cà Mau", 2, None), ("Hòa Bình", 2, None),
        ("Hà Giang", 4, None)]
    assert {note for *_, note in got} == {table.rank_note}
