"""Bad input gets a clear error and loses nothing."""

import json
import shutil

from conftest import AUGUST, PHU_THO, Pipeline

from assets.sources.endpoints import GROUP_ENDPOINTS, month_payload, replay_relpath


def corrupt_copy(replay_dir, tmp_path, edit):
    """A copy of the replay directory with Phú Thọ's 08/2026 transparency edited."""
    bad = tmp_path / "bad-replay"
    shutil.copytree(replay_dir, bad)
    endpoint = GROUP_ENDPOINTS["CKMB"]
    path = bad / replay_relpath(endpoint, month_payload(endpoint, AUGUST, province_id=PHU_THO))
    doc = json.loads(path.read_bytes())
    edit(doc["data"])
    path.write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    return bad


def snapshot(p: Pipeline) -> dict:
    with p.published() as con:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
                for t in ("marts.province_monthly", "marts.metric_monthly",
                          "marts.unit_points_lost", "staging.unit_metrics")}


def failure_text(result) -> str:
    return "\n".join(str(e.event_specific_data.error) for e in result.all_events
                     if e.event_type_value == "STEP_FAILURE")


def test_a_score_above_its_maximum_fails_validation_and_keeps_the_published_tables(
        pipeline, replay_dir, tmp_path):
    assert pipeline.run(AUGUST).success
    before = snapshot(pipeline)
    published_mtime = pipeline.settings.published_path.stat().st_mtime_ns

    def too_high(data):
        unit = data["evaluation"][4]
        unit["metrics"][3]["score"] = 7.5  # DOSSIER_SYNC, max 6
        unit["totalScore"] = round(sum(m["score"] or 0 for m in unit["metrics"]), 2)

    pipeline.configure(str(corrupt_copy(replay_dir, tmp_path, too_high)))
    result = pipeline.run(AUGUST, raise_on_error=False, force=True)  # August is final: re-fetch

    assert not result.success
    text = failure_text(result)
    bad_unit = json.loads((replay_dir / replay_relpath(
        GROUP_ENDPOINTS["CKMB"], month_payload(GROUP_ENDPOINTS["CKMB"], AUGUST,
                                               province_id=PHU_THO))).read_bytes()
    )["data"]["evaluation"][4]
    assert "transparency/2026-08/H44/" in text  # the file
    assert bad_unit["departmentName"] in text  # the unit
    assert "score" in text and "7.5" in text  # the field and its value
    # nothing after validation ran: marts and the published copy are as they were
    step_status = {e.step_key: e.event_type_value for e in result.all_events
                   if e.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE")}
    assert step_status["staging_tables"] == "STEP_FAILURE"
    assert "publish__analyst_copy" not in step_status
    assert pipeline.settings.published_path.stat().st_mtime_ns == published_mtime
    assert snapshot(pipeline) == before
    # the bad response is kept, and the failed validation is on record
    kept = list((pipeline.settings.raw_dir / "transparency" / "2026-08" / "H44").glob("*.json"))
    assert len([k for k in kept if not k.name.endswith(".meta.json")]) == 2
    with pipeline.warehouse() as con:
        failed = con.execute("SELECT dataset, columns, examples FROM audit.validation_results "
                             "WHERE NOT success").fetchall()
    assert ("unit_metrics", "max_score, score") in {(f[0], f[1]) for f in failed}


def test_a_number_sent_as_text_names_the_file_unit_and_field(pipeline, replay_dir, tmp_path):
    def as_text(data):
        data["evaluation"][7]["metrics"][2]["numerator"] = "87"

    pipeline.configure(str(corrupt_copy(replay_dir, tmp_path, as_text)))
    result = pipeline.run(AUGUST, raise_on_error=False)
    assert not result.success
    text = failure_text(result)
    assert "field numerator" in text and "expected a JSON number, got str '87'" in text
    assert "period 2026-08" in text and "transparency/2026-08/H44/" in text
    assert not pipeline.settings.published_path.exists()


def test_a_month_never_crawled_is_refused_with_the_fix(pipeline):
    import dagster as dg

    from assets.staging.step import staging_tables

    result = dg.materialize([staging_tables], partition_key=AUGUST.isoformat(),
                            resources=pipeline.defs.resources, instance=pipeline.instance,
                            raise_on_error=False)
    assert not result.success
    assert "materialize raw/portal_captures for this month first" in failure_text(result)
