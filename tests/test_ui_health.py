"""A fresh install looks healthy in the UI (issue 12 §2, §3): the demo's sample ends at
the current month, no beta-warning noise when the code location loads, and every staging
and mart asset shows its row count, column schema (with the dictionary's descriptions)
and a preview of the focus province."""

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import pytest
from conftest import AUGUST, PROJECT
from shared_runs import two_months

from assets.marts.dictionary import current
from assets.months import current_month, partition_key
from tools.synthetic import generate

DEMO_MONTHS = PROJECT / "scripts" / "demo_months.sh"


def _demo_months(**env) -> list[str]:
    out = subprocess.run(["bash", str(DEMO_MONTHS)], env={**os.environ, **env},
                         capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_the_demo_sample_ends_at_the_current_month():
    first, last = _demo_months()
    assert last == partition_key(current_month())
    assert first <= "2026-08-01"  # the real Phú Thọ captures are always in it
    assert _demo_months(CHISO_DEMO_LAST_MONTH="2026-12-01") == ["2026-07-01", "2026-12-01"]
    assert _demo_months(CHISO_DEMO_LAST_MONTH="2027-06-01") == ["2026-08-01", "2027-06-01"]
    assert _demo_months(CHISO_DEMO_FIRST_MONTH="2026-10-01",
                        CHISO_DEMO_LAST_MONTH="2027-06-01") == ["2026-10-01", "2027-06-01"]


def _received(replay: Path, month: str) -> int:
    import json

    [path] = (replay / "dvc-progress-tree" / month).rglob("*.json")
    return json.loads(path.read_text("utf-8"))["data"]["parent"]["totalReceived"]


def test_the_generator_makes_any_range_and_its_last_month_is_the_open_one(tmp_path):
    """From the command line, a range past 2026 (across a new year) is generated the same
    way twice, and its last month is the partial, open one."""
    from tools.synthetic import main

    for name in ("a", "b"):
        main(["--out", str(tmp_path / name), "--months", "2026-12:2027-01",
              "--provinces", "H60"])
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.json"))
    assert files and all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()
                         for f in files)
    december, january = (_received(tmp_path / "a", m) for m in ("2026-12", "2027-01"))
    assert 0.8 < january / december < 0.99  # ~28 of 30 days
    # the library keeps the original sample's open month unless told otherwise
    generate(tmp_path / "c", [date(2027, 1, 1)], provinces=["H60"], open_month=None)
    assert _received(tmp_path / "c", "2027-01") > january


def test_loading_the_code_location_prints_no_backfill_policy_beta_warning():
    out = subprocess.run([sys.executable, "-W", "always", "-c", "import pipelines.definitions"],
                         cwd=PROJECT, capture_output=True, text=True, check=True)
    assert "BetaWarning" not in out.stderr, out.stderr[-2000:]


@pytest.fixture(scope="module")
def run(tmp_path_factory, replay_dir):
    return two_months(tmp_path_factory, replay_dir)


def _latest(p, key: list[str], partition: str) -> dict:
    [record] = p.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(key), asset_partitions=[partition]),
        limit=1).records
    return record.asset_materialization.metadata


@pytest.mark.parametrize("key", [["marts", "province_monthly"], ["marts", "metric_monthly"],
                                 ["staging", "unit_metrics"], ["staging", "national_summary"]])
def test_tables_report_row_count_and_column_schema_per_month(run, key):
    p, _ = run
    schema, table = key
    july, august = (_latest(p, key, m) for m in ("2026-07-01", "2026-08-01"))
    with p.published() as con:
        counts = dict(con.execute(f"SELECT month, count(*) FROM {schema}.{table} "  # noqa: S608
                                  "GROUP BY month").fetchall())
        columns = con.execute("SELECT column_name, data_type, coalesce(comment, '') "
                              "FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? "
                              "ORDER BY column_index", [schema, table]).fetchall()
    assert july["dagster/row_count"].value == counts[date(2026, 7, 1)]
    assert august["dagster/row_count"].value == counts[AUGUST]
    shown = august["dagster/column_schema"].value
    assert [(c.name, c.type, c.description) for c in shown.columns] == columns


def test_mart_columns_carry_the_dictionary_descriptions_and_a_focus_preview(run):
    p, _ = run
    meta = _latest(p, ["marts", "province_monthly"], "2026-08-01")
    described = {c.name: c.description for c in meta["dagster/column_schema"].value.columns}
    dictionary = current()  # the data dictionary of docs/analysts.md, from the same COMMENTs
    assert described["province_id"].startswith("The portal's province id")
    for column in ("province_id", "total_score", "rank", "is_final"):
        assert f"| `{column}` | " in dictionary and f" | {described[column]} |" in dictionary
    preview = meta["preview"].value
    assert preview.startswith("H44, 2026-08: ")  # the focus province in tests
    assert "| province_code |" in preview and "59.92" in preview  # Phú Thọ's real total


def test_the_legacy_job_materializes_only_the_tables_legacy_months_have(tmp_path):
    """refresh_legacy (the demo's run for 01–06/2025): the province and group tables of a
    63-province month are materialized; the unit-level tables, which have no data for it,
    stay missing instead of showing 0 rows."""
    from conftest import Pipeline

    from tools.portal_server import serve
    from tools.synthetic_history import write_legacy_replay

    june = "2025-06-01"
    write_legacy_replay(tmp_path / "replay", [date(2025, 6, 1)])
    with serve(tmp_path / "replay") as server:
        p = Pipeline(tmp_path / "data", server.url, provinces="H60")
        assert p.defs.resolve_job_def("refresh_legacy").execute_in_process(
            partition_key=june, instance=p.instance).success
    done = {k.to_user_string() for k in p.defs.resolve_asset_graph().get_all_asset_keys()
            if june in p.instance.get_materialized_partitions(k)}
    # score_change_explained is rebuilt with the marts it is built on (issue 13); here
    # (no May) it has no rows, as the first month of any range
    assert done == {"raw/portal_captures", "staging/legacy_scores", "marts/province_monthly",
                    "marts/group_monthly", "marts/score_change_explained",
                    "publish/analyst_copy"}
    assert _latest(p, ["marts", "province_monthly"], june)["dagster/row_count"].value >= 34


def test_refresh_months_does_not_record_legacy_scores_for_its_months(run):
    """A month from 2025-07 has no legacy data: staging/legacy_scores stays missing for it
    (refresh_legacy's table), while the province marts built without it are there."""
    p, _ = run
    assert "2026-08-01" not in p.instance.get_materialized_partitions(
        dg.AssetKey(["staging", "legacy_scores"]))
    assert "2026-08-01" in p.instance.get_materialized_partitions(
        dg.AssetKey(["marts", "province_monthly"]))
