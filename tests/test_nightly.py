"""A night with nothing new costs almost nothing; a new day is staged, and only then the rest.

Unchanged captures are recognised by sha256 and not parsed, validated or loaded again;
a closed month whose final crawl is kept is not fetched again unless the run asks
(``force``); when staging has nothing new, the marts, the publish and the scorecard are
skipped. What is and is not done is asserted, never how long it takes.
"""

from datetime import date

import dagster as dg
from conftest import AUGUST, Pipeline

from assets.months import current_month, month_key
from assets.staging.step import STAGING_KEYS, staging_tables
from tools.synthetic import generate

RAW_STEP, STAGING_STEP = "raw__portal_captures", "staging_tables"
LATER_STEPS = ("marts__province_monthly", "marts__unit_points_lost", "publish__analyst_copy",
               "report__scorecard")


def steps(result) -> dict[str, str]:
    return {e.step_key: e.event_type_value for e in result.all_events
            if e.event_type_value in ("STEP_SUCCESS", "STEP_SKIPPED", "STEP_FAILURE")}


def materialized(result) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.all_events
            if e.event_type_value == "ASSET_MATERIALIZATION"}


def sessions(p: Pipeline, month: date) -> int:
    return len(list((p.settings.raw_dir / "_sessions" / month_key(month)).glob("*.json")))


def test_a_closed_month_already_final_is_neither_fetched_nor_staged_again(pipeline):
    assert pipeline.run(AUGUST).success
    published = pipeline.settings.published_path.stat().st_mtime_ns
    again = pipeline.run(AUGUST)
    assert again.success
    assert sessions(pipeline, AUGUST) == 1  # no request was made: no new crawl recorded
    done = steps(again)
    assert done[RAW_STEP] == done[STAGING_STEP] == "STEP_SUCCESS"
    assert all(done[s] == "STEP_SKIPPED" for s in LATER_STEPS), done
    assert not any(k.startswith(("staging/", "marts/", "publish/")) for k in materialized(again))
    assert pipeline.settings.published_path.stat().st_mtime_ns == published
    seen = [e.event_specific_data.asset_observation.metadata
            for e in again.all_events if e.event_type_value == "ASSET_OBSERVATION"]
    assert seen and "already staged" in seen[0]["not_reloaded"].value
    # the suites did not run on the unchanged captures: none is reported as passed, and
    # the observation says why (it used to report them all passed)
    checks = [e for e in again.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
              and e.asset_key.path[0] == "staging"]
    assert checks == []
    assert "not run: 2026-08: captures of" in seen[0]["checks_not_run"].value

    forced = pipeline.run(AUGUST, force=True)  # asked: fetched and staged again
    assert forced.success and sessions(pipeline, AUGUST) == 2
    assert "staging/unit_metrics" in materialized(forced)
    assert steps(forced)["publish__analyst_copy"] == "STEP_SUCCESS"


def test_the_open_month_is_fetched_every_night_and_staged_only_when_it_changed(tmp_path):
    month = current_month()  # still open: never final
    replay = tmp_path / "replay"
    generate(replay, [month], provinces=["H44"], seed=1)
    p = Pipeline(tmp_path / "data", str(replay))
    assert p.run(month).success
    published = p.settings.published_path.stat().st_mtime_ns

    nothing_new = p.run(month)
    assert nothing_new.success and sessions(p, month) == 2  # fetched again: same bytes
    assert all(steps(nothing_new)[s] == "STEP_SKIPPED" for s in LATER_STEPS)
    assert p.settings.published_path.stat().st_mtime_ns == published

    generate(replay, [month], provinces=["H44"], seed=2)  # the portal moved on by a day
    new_day = p.run(month)
    assert new_day.success and sessions(p, month) == 3
    assert all(steps(new_day)[s] == "STEP_SUCCESS" for s in LATER_STEPS)
    with p.warehouse() as con:
        staged = {r[0] for r in con.execute("SELECT DISTINCT raw_sha256 FROM staging.captures")
                  .fetchall()}
    with p.published() as con:
        published_shas = {r[0] for r in con.execute(
            "SELECT DISTINCT raw_sha256 FROM staging.captures").fetchall()}
    assert staged == published_shas  # the new day reached the analysts' copy


def test_a_run_that_stopped_after_staging_gets_its_marts_on_the_next_night(pipeline):
    """Staging committed, then the run died: unchanged captures, but the marts are behind."""
    assert pipeline.run(AUGUST).success
    assert pipeline.run(AUGUST, force=True).success
    # a run that staged (forced) and stopped before the marts
    staged_only = dg.materialize([staging_tables], partition_key=AUGUST.isoformat(),
                                 resources=pipeline.defs.resources, instance=pipeline.instance,
                                 run_config={"ops": {STAGING_STEP: {"config": {"force": True}}}})
    assert staged_only.success
    assert STAGING_KEYS["captures"].to_user_string() in materialized(staged_only)
    nightly = pipeline.run(AUGUST)
    done = steps(nightly)
    assert all(done[s] == "STEP_SUCCESS" for s in LATER_STEPS), done  # rebuilt
    assert "marts/province_monthly" in materialized(nightly)
