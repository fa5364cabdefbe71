"""marts.province_monthly: by hand (tests/hand_made.py), the four provinces ranked; its
blocking checks stop a province counted twice or a rank outside the month's count.
rank_reported: a spreadsheet's STT is kept as the printed rank only when the sheet lists
the provinces by Tổng điểm (highest first, ties allowed); otherwise it is a row number,
so rank_reported is empty and rank_note says why. is_final: the finality rule."""

import json
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import duckdb
import pytest
from hand_made import MONTH, build, tampered_copy

from assets.marts.build import rebuild_months
from assets.months import final_from
from assets.sources.endpoints import ENDPOINTS, month_payload, replay_relpath
from assets.sources.portal import ReplayPortalClient, RequestContext
from assets.sources.spreadsheets import read_ranking
from assets.staging.legacy_parse import frame
from assets.staging.sheet_import import sheet_rows
from assets.warehouse import ensure_schema, refresh_reference
from checks.marts import MART_CHECKS
from tools.synthetic_sheets import write_ranking_csv

AUG_2024 = date(2024, 8, 1)
TRANSPARENCY = ENDPOINTS["transparency"]


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


# -- by hand, and the blocking checks ---------------------------------------------------------


def test_by_hand_the_four_provinces_ranked_with_their_gap_to_the_best(tmp_path):
    path = build(tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(path), read_only=True) as con:
        got = con.execute("""SELECT province_code, total_score, rank, ranked_of, gap_to_best,
                                    series, era
                             FROM marts.province_monthly ORDER BY rank""").fetchall()
    assert got == [("H02", 80.0, 1, 4, 0.0, "reported", "34"),
                   ("H04", 74.0, 2, 4, 6.0, "reported", "34"),
                   ("H03", 71.5, 3, 4, 8.5, "reported", "34"),
                   ("H01", 70.0, 4, 4, 10.0, "reported", "34")]
    checks = {c.name: c for c in MART_CHECKS["province_monthly"]}
    assert all(c.blocking for c in checks.values())
    (tmp_path / "twice").mkdir()
    with tampered_copy(path, tmp_path / "twice", "INSERT INTO marts.province_monthly "
                       "SELECT * FROM marts.province_monthly WHERE province_code = 'H03'") as con:
        assert checks["one_row_per_province_and_series"].find(con, [MONTH]) == [
            (MONTH, "reported", "H03", 2)]
    (tmp_path / "rank").mkdir()
    with tampered_copy(path, tmp_path / "rank", "UPDATE marts.province_monthly SET rank = 0 "
                       "WHERE province_code = 'H02'") as con:
        assert checks["ranks_within_ranked_of"].find(con, [MONTH]) == [
            (MONTH, "H02", 0, 4, 4)]


# -- is_final ---------------------------------------------------------------------------------

JUL_2026 = date(2026, 7, 1)
VN = ZoneInfo("Asia/Ho_Chi_Minh")


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _finality(con, source: str, captured: str, after_close: list[str], gap_h=24.0):
    """One province's month from `source`, captured at `captured`, with national-summary
    captures after the close at `after_close` (all with the same scores)."""
    con.execute("DELETE FROM staging.national_summary")
    con.execute("DELETE FROM staging.national_summary_history")
    con.execute("DELETE FROM staging.legacy_scores")
    month = JUL_2026 if source == "portal_api" else date(2025, 6, 1)
    if source == "portal_api":
        con.execute("""INSERT INTO staging.national_summary (month, province_id, province_code,
                       province_name, total_score, captured_at, is_synthetic)
                       VALUES (?, 'p1', 'H60', 'Tuyên Quang', 80, ?, false)""",
                    [month, _utc(captured)])
    else:
        con.execute("""INSERT INTO staging.legacy_scores (month, era, source, level,
                       province_key, province_code, province_id, province_name, total_score,
                       captured_at, is_synthetic)
                       VALUES (?, '63', 'legacy_api', 'province', 'X', 'X', 'p1', 'X', 80, ?,
                               false)""", [month, _utc(captured)])
    for i, at in enumerate(after_close):
        con.execute("""INSERT INTO staging.national_summary_history (month, province_id,
                       province_code, total_score, captured_at, session, is_synthetic)
                       VALUES (?, 'p1', 'H60', 80, ?, ?, false)""", [month, _utc(at), f"s{i}"])
    rebuild_months(con, "province_monthly", [month], gap_h)
    return con.execute("SELECT is_final, final_reason FROM marts.province_monthly "
                       "WHERE month = ? AND series = 'reported'", [month]).fetchone()


@pytest.fixture(scope="module")
def warehouse():
    con = duckdb.connect(":memory:")
    ensure_schema(con)
    refresh_reference(con)
    yield con
    con.close()


def test_two_identical_captures_count_only_a_gap_apart(warehouse):
    # both after the close (00:00 on 1 August, Vietnam time), before the 5 days are over
    two_hours = ["2026-08-02T08:00+07:00", "2026-08-02T10:00+07:00"]
    assert _finality(warehouse, "portal_api", two_hours[-1], two_hours) == (False, None)
    a_day = ["2026-08-02T08:00+07:00", "2026-08-03T08:00+07:00"]
    assert _finality(warehouse, "portal_api", a_day[-1], a_day) == (
        True, "unchanged_after_close")
    # the gap is a setting (ChisoSettings.final_gap_h)
    assert _finality(warehouse, "portal_api", two_hours[-1], two_hours, gap_h=1) == (
        True, "unchanged_after_close")


def test_the_five_day_rule_runs_in_vietnam_time(warehouse):
    # 01:00 on 6 August in Vietnam is still 5 August in UTC
    assert _finality(warehouse, "portal_api", "2026-08-06T01:00+07:00", []) == (
        True, "captured_5_days_after_close")
    assert _finality(warehouse, "portal_api", "2026-08-05T23:00+07:00", []) == (False, None)
    assert final_from(JUL_2026) == datetime(2026, 8, 6, tzinfo=VN)
    assert final_from(JUL_2026).astimezone(UTC) == datetime(2026, 8, 5, 17, tzinfo=UTC)


def test_a_legacy_month_is_final_by_its_period_not_its_import_time(warehouse):
    # loaded the day after June 2025 ended: the legacy service's figures are published ones
    assert _finality(warehouse, "legacy_api", "2025-07-02T09:00+07:00", []) == (
        True, "period_closed")


def test_the_replay_keeps_a_real_captures_time(tmp_path):
    payload = month_payload(TRANSPARENCY, JUL_2026, province_id="p1")
    rel = replay_relpath(TRANSPARENCY, payload)
    (tmp_path / rel).parent.mkdir(parents=True)
    (tmp_path / rel).write_bytes(b"{}")
    recorded = "2026-09-26T11:20:53.102320+00:00"  # as in data/samples/portal/manifest.json
    (tmp_path / "index.json").write_text(json.dumps(
        {rel: {"synthetic": False, "recordedAt": recorded}}), "utf-8")
    ctx = RequestContext(TRANSPARENCY, JUL_2026, "H60")
    got = ReplayPortalClient(tmp_path).send(TRANSPARENCY, payload, ctx)
    assert got.captured_at == datetime.fromisoformat(recorded)
    assert got.origin["recordedAt"] == recorded
