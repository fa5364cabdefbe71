"""Every nightly capture of a month is kept and shown day by day (marts.province_daily);
a month is final once it stops changing after it closes."""

import json
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
from conftest import Pipeline

from assets.months import month_key
from assets.raw.store import stamp
from tools.synthetic import generate

JULY = date(2026, 7, 1)


def _backdate_session(raw_dir: Path, month: date, when: datetime) -> None:
    """Pretend the latest crawl of ``month`` ran at ``when``: the pipeline takes capture
    times from the manifest, so a test can stand for nights that have passed. (Only the
    test rewrites a manifest; the pipeline never does.)"""
    folder = raw_dir / "_sessions" / month_key(month)
    latest = sorted(folder.glob("*.json"))[-1]
    manifest = json.loads(latest.read_text("utf-8"))
    for capture in manifest["captures"]:
        capture["captured_at"] = when.isoformat()
    manifest["started_at"] = when.isoformat()
    # a crawl's manifest is named after its start: rename it as the crawl of that night
    latest.unlink()
    (folder / f"{stamp(when)}.json").write_text(json.dumps(manifest), "utf-8")


def _restage(p: Pipeline, month: date) -> None:
    """Everything after the crawl (staging, marts, publish), on the captures as kept."""
    job = p.defs.resolve_job_def("refresh_months")
    keys = [k for k in job.asset_layer.executable_asset_keys
            if k != dg.AssetKey(["raw", "portal_captures"])]
    force = {"ops": {"staging_tables": {"config": {"force": True}}}}  # re-stage as kept
    assert job.execute_in_process(partition_key=month.isoformat(), instance=p.instance,
                                  asset_selection=keys, run_config=force).success


def _night(p: Pipeline, replay: Path, when: datetime) -> None:
    """One nightly crawl of July, as if it ran at ``when``."""
    p.configure(str(replay), "H60")
    assert p.run(JULY, force=True).success  # July is closed: fetch it again all the same
    _backdate_session(p.settings.raw_dir, JULY, when)


def _daily(p: Pipeline):
    with p.published() as con:
        return con.execute("""
            SELECT day, total_score, rank, change_since_previous, after_month_end, is_latest
            FROM marts.province_daily WHERE province_code = 'H60' ORDER BY day""").fetchall()


def _final(p: Pipeline):
    with p.published() as con:
        return con.execute("""SELECT is_final, final_reason, total_score
                              FROM marts.province_monthly
                              WHERE province_code = 'H60' AND month = '2026-07-01'""").fetchone()


def test_three_nights_of_july_move_day_by_day_and_settle(tmp_path):
    night1, night2 = tmp_path / "night-1", tmp_path / "night-2"
    generate(night1, [JULY], provinces=["H60"], seed=1)
    generate(night2, [JULY], provinces=["H60"], seed=2)  # the portal moved overnight
    p = Pipeline(tmp_path / "data", str(night1), provinces="H60")
    _night(p, night1, datetime(2026, 7, 30, 19, 0, tzinfo=UTC))  # 31 Jul 02:00, open
    _night(p, night2, datetime(2026, 7, 31, 19, 0, tzinfo=UTC))  # 1 Aug: closed, moved
    _night(p, night2, datetime(2026, 8, 1, 19, 0, tzinfo=UTC))  # 2 Aug: no change
    _restage(p, JULY)

    days = _daily(p)
    assert [d[0] for d in days] == [date(2026, 7, 31), date(2026, 8, 1), date(2026, 8, 2)]
    assert days[0][3] is None and days[1][3] == round(days[1][1] - days[0][1], 2) != 0
    assert days[2][3] == 0
    assert [d[4] for d in days] == [False, True, True]
    assert [d[5] for d in days] == [False, False, True]
    final = _final(p)
    assert final[:2] == (True, "unchanged_after_close")  # 2 days after the end, settled
    assert final[2] == days[2][1]  # the monthly mart uses the latest capture
    # every crawl is kept
    assert len(list((p.settings.raw_dir / "_sessions" / "2026-07").glob("*.json"))) == 3


def test_a_month_still_moving_after_it_closes_is_not_final(tmp_path):
    night1, night2 = tmp_path / "night-1", tmp_path / "night-2"
    generate(night1, [JULY], provinces=["H60"], seed=1)
    generate(night2, [JULY], provinces=["H60"], seed=2)
    p = Pipeline(tmp_path / "data", str(night1), provinces="H60")
    _night(p, night1, datetime(2026, 7, 31, 19, 0, tzinfo=UTC))  # 1 Aug
    _night(p, night2, datetime(2026, 8, 1, 19, 0, tzinfo=UTC))  # 2 Aug: moved again
    _restage(p, JULY)
    assert _final(p)[:2] == (False, None)
    assert [d[5] for d in _daily(p)] == [False, True]
