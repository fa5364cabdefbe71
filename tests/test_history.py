"""Years of history (issue 5): the legacy service over HTTP, ranking spreadsheets through
the inbox sensor, and one continuous series for Tuyên Quang across the 2025 merger."""

import json
from datetime import date
from pathlib import Path

import dagster as dg
import pytest
from conftest import Pipeline

from assets.domain.provinces import province_reference
from assets.resources import ChisoSettings
from pipelines.sensors import history_after_import, spreadsheet_inbox
from pipelines.tags import RANGE_END_TAG, RANGE_START_TAG
from tools.portal_server import Fault, serve
from tools.synthetic import generate
from tools.synthetic_history import legacy_ranking, old_rows, write_legacy_replay
from tools.synthetic_sheets import write_ranking_csv, write_ranking_xlsx

AUG_2024, APR_2025, MAY_2025, JUN_2025 = (date(2024, 8, 1), date(2025, 4, 1), date(2025, 5, 1),
                                          date(2025, 6, 1))
JUL_2025 = date(2025, 7, 1)


@pytest.fixture(scope="module")
def history_replay(tmp_path_factory) -> Path:
    """Legacy service for 05–06/2025 (63 provinces), today's API for 07/2025."""
    out = tmp_path_factory.mktemp("history-replay")
    generate(out, [JUL_2025], provinces=["H60"])
    write_legacy_replay(out, [MAY_2025, JUN_2025])
    return out


def _sensor_run(p: Pipeline):
    """What the daemon would do: evaluate the inbox sensor, run what it asks for, then
    the sensor that rebuilds the months the import brought."""
    chiso = ChisoSettings(data_dir=str(p.data_dir), inbox_settle_s=0.01)
    request = spreadsheet_inbox(dg.build_sensor_context(instance=p.instance,
                                                        resources={"chiso": chiso}))
    if isinstance(request, dg.SkipReason):
        return None, request
    result = p.defs.resolve_job_def("import_inbox").execute_in_process(
        run_config=request.run_config, instance=p.instance)
    assert result.success
    tick = history_after_import.evaluate_tick(
        dg.build_sensor_context(instance=p.instance, definitions=p.defs))
    follow = tick.run_requests or dg.SkipReason(tick.skip_message)
    for request in tick.run_requests or []:
        assert p.defs.resolve_job_def("rebuild_history").execute_in_process(
            tags=request.tags, instance=p.instance).success
    return result, follow


@pytest.fixture(scope="module")
def history(tmp_path_factory, history_replay):
    """One pipeline: 05/2025–07/2025 over HTTP (legacy service, then today's API), then
    three files dropped in the inbox: 08/2024 six columns with dossier counts (.xlsx),
    04/2025 merged online column (.csv, NFD headers, a total row), and a broken one."""
    data = tmp_path_factory.mktemp("history") / "data"
    with serve(history_replay) as server:
        p = Pipeline(data, server.url, provinces="H60",
                     extra_env={"CHISO_INBOX_SETTLE_S": "0.01"})
        assert p.run(MAY_2025, JUL_2025).success
        legacy_requests = [r for r in server.requests if r.path == "/jsp/rest.jsp"]
    inbox = data / "inbox"
    inbox.mkdir(parents=True)
    write_ranking_xlsx(inbox / "xep-hang-2024-08.xlsx", AUG_2024,
                       old_rows(AUG_2024, with_dossiers=True), layout="six_groups",
                       dossiers=True)
    write_ranking_csv(inbox / "bang-xep-hang-2025-04.csv", APR_2025, old_rows(APR_2025),
                      layout="online_merged", nfd_headers=True, total_row=True)
    (inbox / "bao-cao-hong.xlsx").write_bytes(b"PK\x03\x04 this is not a workbook")
    imported, follow = _sensor_run(p)
    return p, legacy_requests, imported, follow


def test_the_legacy_service_is_asked_by_form_field_and_kept_raw(history):
    p, requests, _, _ = history
    # per month: the 63 provinces, then the units of Hà Giang and Tuyên Quang (→ H60)
    assert len(requests) == 6
    first = requests[0]
    assert first.payload == {"type": "ref", "service": "report_tinh_766_service",
                             "p_nam": 2025, "p_6thang": 0, "p_quy": 0, "p_thang": 5,
                             "p_tinh_id": 0, "p_loaidonvi": 1}
    assert "application/x-www-form-urlencoded" in first.headers["Content-Type"]
    kept = sorted((p.settings.raw_dir / "report_tinh_766_service" / "2025-06").iterdir())
    assert [k.name for k in kept] == ["ha-giang", "national", "tuyen-quang"]
    with p.warehouse() as con:
        rows = con.execute("""
            SELECT level, count(*), count(DISTINCT province_key), min(total_score) >= 0
            FROM staging.legacy_scores WHERE month = '2025-06-01' GROUP BY ALL ORDER BY 1
        """).fetchall()
    assert rows[0][:3] == ("province", 63, 63)
    assert rows[1][0] == "unit" and rows[1][2] == 2 and rows[1][1] > 10  # two old provinces


def test_the_province_reference_has_both_eras_with_dates_and_the_mapping(history):
    p = history[0]
    with p.published() as con:
        eras = con.execute("""SELECT era, count(*), min(valid_from), max(valid_to)
                              FROM ref.provinces GROUP BY era ORDER BY era""").fetchall()
        tq = con.execute("""SELECT province_key FROM ref.provinces
                            WHERE successor_key = 'H60' AND era = '63' ORDER BY 1""").fetchall()
    assert eras == [("34", 34, date(2025, 7, 1), None),
                    ("63", 63, date(2022, 8, 1), date(2025, 6, 30))]
    assert tq == [("old:ha-giang",), ("old:tuyen-quang",)]


def test_spreadsheets_in_both_layouts_are_imported_and_a_broken_one_is_set_aside(history):
    p, _, imported, follow = history
    inbox = p.data_dir / "inbox"
    assert sorted(x.name for x in (inbox / "imported").iterdir()) == [
        "bang-xep-hang-2025-04.csv", "xep-hang-2024-08.xlsx"]
    assert sorted(x.name for x in (inbox / "rejected").iterdir()) == [
        "bao-cao-hong.xlsx", "bao-cao-hong.xlsx.rejected.json"]
    why = json.loads((inbox / "rejected" / "bao-cao-hong.xlsx.rejected.json").read_text())
    assert why["file"] == "bao-cao-hong.xlsx" and why["field"] == "content"
    assert "not a readable .xlsx workbook" in why["reason"]
    # the raw layer kept all three, byte for byte
    kept = sorted(x.name for x in (p.settings.raw_dir / "spreadsheets").iterdir()
                  if not x.name.endswith(".meta.json"))
    assert len(kept) == 3 and any(k.endswith("bao-cao-hong.xlsx") for k in kept)
    # the import ran the marts of its months, one run per block of consecutive months
    assert [(r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG])
            for r in follow] == [("2024-08-01", "2024-08-01"), ("2025-04-01", "2025-04-01")]
    with p.published() as con:
        layouts = con.execute("""
            SELECT month, layout, count(*), count(clgq), count(online_combined)
            FROM staging.spreadsheet_scores GROUP BY ALL ORDER BY 1""").fetchall()
    assert layouts == [(AUG_2024, "six_groups", 63, 63, 0),  # staging keeps what was sent
                       (APR_2025, "online_merged", 63, 0, 63)]
    # nothing waits in the inbox any more: the sensor skips
    assert isinstance(_sensor_run(p)[1], dg.SkipReason)


def test_after_the_import_and_its_rebuilds_no_sensor_asks_for_a_run(history):
    """What `dg dev` does right after the demo: each sensor's first tick, no cursor yet
    (the daemon never ran), finds nothing to do."""
    p = history[0]
    tick = history_after_import.evaluate_tick(
        dg.build_sensor_context(instance=p.instance, definitions=p.defs, cursor=None))
    assert not tick.run_requests
    assert "rebuilt and published since the import" in tick.skip_message
    assert tick.cursor  # moved past the import, as a daemon leaves it
    chiso = ChisoSettings(data_dir=str(p.data_dir))
    inbox = spreadsheet_inbox(dg.build_sensor_context(instance=p.instance,
                                                      resources={"chiso": chiso}))
    assert isinstance(inbox, dg.SkipReason)


def test_months_without_data_are_not_materialized(history):
    """The rebuilds covered 2024-08 and 2025-04 only: the months between them, which have
    no data, show as missing, not as materialized with 0 rows."""
    p = history[0]
    for name in ("province_monthly", "group_monthly"):
        done = p.instance.get_materialized_partitions(dg.AssetKey(["marts", name]))
        assert "2024-08-01" in done and "2025-04-01" in done and "2025-07-01" in done
        assert not done & {f"2024-{m:02d}-01" for m in range(9, 13)}, name
        assert not done & {f"2025-{m:02d}-01" for m in range(1, 4)}, name


def test_tuyen_quang_is_one_series_across_the_merger(history):
    p = history[0]
    with p.published() as con:
        series = con.execute("""
            SELECT month, era, series, source, total_score, rank, ranked_of, combine_method,
                   predecessors
            FROM marts.province_monthly WHERE province_code = 'H60' ORDER BY month""").fetchall()
        old = dict(con.execute("""
            SELECT province_key, total_score FROM marts.province_monthly
            WHERE month = '2025-06-01' AND province_key IN ('old:ha-giang', 'old:tuyen-quang')
        """).fetchall())
        counts = con.execute("""SELECT month, series, count(*) FROM marts.province_monthly
                                GROUP BY ALL ORDER BY ALL""").fetchall()
        change = con.execute("""SELECT score_change, total_score FROM marts.province_monthly
                                WHERE province_code = 'H60' AND month = '2025-07-01'""").fetchone()
    assert [r[0] for r in series] == [AUG_2024, APR_2025, MAY_2025, JUN_2025, JUL_2025]
    assert [(r[1], r[2], r[3]) for r in series] == [
        ("63", "comparable", "spreadsheet"), ("63", "comparable", "spreadsheet"),
        ("63", "comparable", "legacy_api"), ("63", "comparable", "legacy_api"),
        ("34", "reported", "portal_api")]
    assert [r[7] for r in series] == ["dossier_weighted", "plain_mean", "plain_mean",
                                      "plain_mean", None]
    assert series[2][8] == "Hà Giang + Tuyên Quang"
    assert all(r[6] == 34 for r in series)
    # June: a plain mean of the two predecessors' totals
    june = series[3][4]
    assert june == pytest.approx((old["old:ha-giang"] + old["old:tuyen-quang"]) / 2, abs=0.006)
    # the change in July is measured against the comparable June
    assert change[0] == pytest.approx(change[1] - june, abs=0.006)
    assert (MAY_2025, "reported", 63) in counts and (MAY_2025, "comparable", 34) in counts
    assert (JUL_2025, "reported", 34) in counts


def test_the_dossier_weighted_combination_is_the_weighted_mean_of_the_predecessors(history):
    p = history[0]
    rows = {r["province_name"]: r for r in old_rows(AUG_2024, with_dossiers=True)}
    ha, tq = rows["Hà Giang"], rows["Tuyên Quang"]
    total = lambda r: round(sum(r[g] for g in ("ckmb", "tdgq", "clgq", "tttt", "mdhl",  # noqa: E731
                                                "mdsh")), 2)
    expected = ((total(ha) * ha["dossiers_received"] + total(tq) * tq["dossiers_received"])
                / (ha["dossiers_received"] + tq["dossiers_received"]))
    with p.published() as con:
        got = con.execute("""SELECT total_score, dossiers_received FROM marts.province_monthly
                             WHERE province_code = 'H60' AND month = '2024-08-01'""").fetchone()
    assert got[0] == pytest.approx(expected, abs=0.006)
    assert got[1] == ha["dossiers_received"] + tq["dossiers_received"]


def test_where_only_the_merged_online_column_existed_clgq_and_tttt_are_null(history):
    p = history[0]
    with p.published() as con:
        groups = dict(con.execute("""
            SELECT group_code, score FROM marts.group_monthly
            WHERE province_code = 'H60' AND month = '2025-04-01'""").fetchall())
        online = con.execute("""SELECT online_combined_score, layout FROM marts.province_monthly
                                WHERE province_code = 'H60' AND month = '2025-04-01'""").fetchone()
    assert groups["CLGQ"] is None and groups["TTTT"] is None
    assert all(groups[g] is not None for g in ("CKMB", "TDGQ", "MDHL", "MDSH"))
    assert online[1] == "online_merged" and 0 < online[0] <= 22


def test_a_legacy_ranking_short_of_63_provinces_is_blocked_and_loses_nothing(tmp_path):
    replay = tmp_path / "replay"
    write_legacy_replay(replay, [JUN_2025])
    ranking = legacy_ranking(JUN_2025)[:-1]  # 62 provinces
    p = Pipeline(tmp_path / "data", str(replay), provinces="H60")
    assert p.run(JUN_2025).success
    with p.warehouse() as con:
        before = con.execute("SELECT count(*) FROM staging.legacy_scores").fetchone()[0]
    with serve(replay) as server:
        server.add_fault(Fault("body", endpoint="report_tinh_766_service",
                               body=json.dumps(ranking).encode(), status=200))
        p.configure(server.url, "H60")
        result = p.run(JUN_2025, raise_on_error=False, force=True)  # fetch June again
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    text = failure.step_failure_data.error.message
    assert "legacy_scores_province_count_for_era" in text and "provinces = 62" in text
    assert "report_tinh_766_service/2025-06/national/" in text
    with p.warehouse() as con:
        assert con.execute("SELECT count(*) FROM staging.legacy_scores").fetchone()[0] == before


def test_every_old_province_has_exactly_one_successor():
    old = [p for p in province_reference() if p.era == "63"]
    assert len(old) == 63 and len({p.key for p in old}) == 63
    assert {p.successor for p in old} == {p.key for p in province_reference() if p.era == "34"}


@pytest.mark.parametrize("body, says", [
    (b'{"code": "OK", "data": []}', "answered a JSON dict, expected an array of rows"),
    (b"[]", "answered no rows"),
    (b'[{"TEN": "Tuy\\u00ean Quang"}]', "legacy row 1 has no ID/TEN"),
])
def test_a_legacy_answer_of_the_wrong_shape_fails_the_crawl_and_is_kept(tmp_path, body, says):
    replay = tmp_path / "replay"
    write_legacy_replay(replay, [JUN_2025])
    with serve(replay) as server:
        server.add_fault(Fault("body", endpoint="report_tinh_766_service", body=body,
                               status=200))
        p = Pipeline(tmp_path / "data", server.url, provinces="H60")
        result = p.run(JUN_2025, raise_on_error=False)
    assert not result.success
    text = next(e for e in result.all_events if e.is_step_failure
                ).step_failure_data.error.message
    assert says in text
    assert "endpoint report_tinh_766_service, period 2025-06, province national" in text
    kept = list((p.settings.raw_dir / "report_tinh_766_service" / "2025-06" / "national")
                .glob("*.json"))
    assert [k.read_bytes() for k in kept if not k.name.endswith(".meta.json")] == [body]
