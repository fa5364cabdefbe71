"""The pipeline talking HTTP to a real local server that speaks the portal API."""

import json

from conftest import AUGUST

from tools.portal_server import Fault, serve

# Over HTTP nothing says a response is synthetic (only a replay directory's index does).
MART_QUERY = """
    SELECT * EXCLUDE (captured_at, is_synthetic) FROM marts.{table}
    WHERE province_code = 'H44' ORDER BY ALL"""


def marts(p) -> dict:
    with p.published() as con:
        return {t: con.execute(MART_QUERY.format(table=t)).fetchall()
                for t in ("province_monthly", "group_monthly", "metric_monthly")}


def test_the_live_client_over_http_gives_the_same_marts_as_the_replay(
        pipeline, replay_dir, tmp_path):
    from conftest import Pipeline

    assert pipeline.run(AUGUST).success
    with serve(replay_dir, max_page_size=50) as server:
        server.add_fault(Fault("status", status=503, endpoint="transparency"))
        over_http = Pipeline(tmp_path / "http-data", server.url)
        assert over_http.run(AUGUST).success
        paths = [r.path for r in server.requests]
    assert marts(over_http) == marts(pipeline)
    # 163 units in pages of 50: 4 pages for each paginated group endpoint, plus the retry
    assert sum(p.endswith("/transparency") for p in paths) == 5
    assert sum(p.endswith("/dvc-progress-tree") for p in paths) == 1
    # the 503 page is kept as raw too, and staging ignored it
    sessions = list((over_http.settings.raw_dir / "_sessions" / "2026-08").glob("*.json"))
    statuses = [c["http_status"] for c in json.loads(sessions[0].read_text())["captures"]]
    assert statuses.count(503) == 1


def test_an_html_page_with_status_200_fails_the_fetch_and_keeps_the_published_data(
        pipeline, replay_dir):
    assert pipeline.run(AUGUST).success
    before = marts(pipeline)
    mtime = pipeline.settings.published_path.stat().st_mtime_ns

    with serve(replay_dir) as server:
        server.add_fault(Fault("html_200", endpoint="dvc-progress-tree"))
        pipeline.configure(server.url)
        result = pipeline.run(AUGUST, raise_on_error=False, force=True)

    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    text = str(failure.event_specific_data.error)
    assert "HTML" in text and "dvc-progress-tree" in text and "2026-08" in text
    assert "H44" in text
    assert pipeline.settings.published_path.stat().st_mtime_ns == mtime
    assert marts(pipeline) == before
    # the maintenance page itself is kept, and the crawl's manifest says it failed
    kept = list((pipeline.settings.raw_dir / "dvc-progress-tree" / "2026-08" / "H44")
                .glob("*.bin"))
    assert len(kept) == 1 and kept[0].read_bytes().lstrip().startswith(b"<")
    manifests = sorted((pipeline.settings.raw_dir / "_sessions" / "2026-08").glob("*.json"))
    assert json.loads(manifests[-1].read_text())["status"] == "failed"
