"""The shape of the code location: an accidental graph change shows up as a diff here.

After an intended change: CHISO_UPDATE_SNAPSHOT=1 python -m pytest tests/test_definitions.py
"""

import json
import os
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
from dagster._core.storage import tags as dagster_tags

from pipelines.definitions import defs
from pipelines.tags import PARTITION_TAG, RANGE_END_TAG, RANGE_START_TAG

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.json"
PROJECT = Path(__file__).resolve().parent.parent


def describe(d: dg.Definitions) -> dict:
    graph = d.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "partitions": type(node.partitions_def).__name__ if node.partitions_def else None,
            "pool": node.pools and sorted(node.pools),
            "checks": sorted(c.name for c in node.check_keys),
        }
    checks = {}
    for check_key in graph.asset_check_keys:
        spec = graph.get_check_spec(check_key)
        checks[f"{check_key.asset_key.to_user_string()}:{check_key.name}"] = {
            "blocking": spec.blocking}
    return {
        "assets": assets,
        "checks": dict(sorted(checks.items())),
        "jobs": sorted(j.name for j in d.resolve_all_job_defs() if not j.name.startswith("__")),
        "schedules": {s.name: {"cron": s.cron_schedule, "timezone": s.execution_timezone,
                               "job": s.job_name}
                      for s in d.get_repository_def().schedule_defs},
        "sensors": {s.name: {"jobs": sorted(j.name for j in s.jobs) if s.has_jobs else [],
                             "type": s.sensor_type.value,
                             "default_status": s.default_status.value,
                             "minimum_interval_seconds": s.minimum_interval_seconds}
                    for s in d.get_repository_def().sensor_defs},
        "resources": sorted(d.resources),
    }


def test_definitions_match_the_snapshot():
    current = describe(defs)
    if os.environ.get("CHISO_UPDATE_SNAPSHOT") == "1":
        SNAPSHOT.write_text(json.dumps(current, indent=1, ensure_ascii=False) + "\n")
    assert current == json.loads(SNAPSHOT.read_text())


def test_every_writer_shares_one_pool_and_the_crawler_has_its_own():
    pools = {k: v["pool"] for k, v in describe(defs)["assets"].items()}
    # the crawlers: the group crawl, and the procedure catalogue and answers (issue 15)
    for crawler in ("raw/portal_captures", "raw/procedure_catalogue", "raw/procedure_captures"):
        assert pools.pop(crawler) == ["portal"]
    assert set(map(tuple, pools.values())) == {("duckdb_warehouse",)}


def test_the_nightly_schedule_refreshes_the_open_month_and_the_one_before_in_one_run():
    schedule = defs.resolve_schedule_def("nightly_refresh")
    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    for when, start, end in [
        (datetime(2026, 11, 28, 2, 0, tzinfo=tz), "2026-10-01", "2026-11-01"),
        (datetime(2027, 1, 1, 2, 0, tzinfo=tz), "2026-12-01", "2027-01-01"),
    ]:
        with dg.build_schedule_context(scheduled_execution_time=when) as ctx:
            request = schedule.evaluate_tick(ctx).run_requests[0]
        assert request.tags[RANGE_START_TAG] == start
        assert request.tags[RANGE_END_TAG] == end
        # both months are partitions the assets know (the open month included)
        keys = defs.resolve_job_def("refresh_months").partitions_def.get_partition_keys(
            current_time=when)
        assert start in keys and end in keys


def test_the_run_tags_we_write_by_value_are_the_ones_dagster_reads():
    # pipelines/tags.py spells them out (no public constant); Dagster's private ones here
    assert (PARTITION_TAG, RANGE_START_TAG, RANGE_END_TAG) == (
        dagster_tags.PARTITION_NAME_TAG, dagster_tags.ASSET_PARTITION_RANGE_START_TAG,
        dagster_tags.ASSET_PARTITION_RANGE_END_TAG)


def test_no_private_dagster_import_outside_the_operators_launch_command():
    found = {str(path.relative_to(PROJECT))
             for folder in ("assets", "checks", "pipelines", "tools", "bench")
             for path in (PROJECT / folder).rglob("*.py")
             if "dagster._" in path.read_text("utf-8")}
    # loading a workspace from Python (no public API; what `dagster job launch` does)
    assert found <= {"tools/launch.py"}, found
