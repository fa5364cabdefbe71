"""Issue 10 §3: a portal whose firewall resets scripted POSTs (tools.portal_server's
``cookie_gate``: only requests carrying the cookie its dashboard page's script sets are
answered). The plain transport fails and names both ways forward; the browser transport
(real headless Chromium, assets/sources/browser_transport.py) crawls and publishes.
"""

import json
from datetime import date

import dagster as dg
import pytest
from conftest import AUGUST, Pipeline

from assets.resources import PortalResource
from assets.sources.browser_transport import BROWSER_REFUSED_ADVICE, BrowserTransport
from assets.sources.endpoints import ENDPOINTS
from assets.sources.portal import LivePortalClient, PortalRejected, PortalUnavailable
from tools.portal_server import DASHBOARD_PATH, Fault, serve


@pytest.fixture(scope="module")
def gated(replay_dir):
    with serve(replay_dir, cookie_gate=True) as server:
        yield server


def step_failure(result) -> str:
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    return str(failure.event_specific_data.error)


def test_the_plain_transport_is_reset_and_names_both_ways_forward(gated, tmp_path):
    before = gated.gate_resets
    p = Pipeline(tmp_path / "data", gated.url)
    result = p.run(AUGUST, raise_on_error=False)

    assert not result.success
    assert gated.gate_resets > before  # it was the firewall's reset, not something else
    incident = (p.data_dir / "logs" / "incident-latest.txt").read_text("utf-8")
    for text in (step_failure(result), incident):
        assert "reset the connection every time" in text
        assert "CHISO_PORTAL_TRANSPORT=browser" in text
        assert ".har" in text and "inbox" in text
        assert "service-results" in text and "2026-08" in text
    assert not p.settings.published_path.exists()


def test_the_browser_transport_crawls_and_publishes_the_month(gated, tmp_path):
    start = len(gated.requests)
    p = Pipeline(tmp_path / "data", gated.url, extra_env={"CHISO_PORTAL_TRANSPORT": "browser"})
    result = p.run(AUGUST)

    assert result.success
    with p.published() as con:
        total, rank, ranked_of = con.execute(
            "SELECT total_score, rank, ranked_of FROM marts.province_monthly "
            "WHERE province_code = 'H44' AND month = DATE '2026-08-01'").fetchone()
    assert round(total, 2) == 59.92  # the portal's own figure for the real captures
    assert ranked_of == 34 and 1 <= rank <= 34

    api = [r for r in gated.requests[start:] if r.method == "POST"]
    assert api and all(r.fault is None for r in api)
    # one national summary: the dashboard page's own query as it loads was not let out
    assert sum(r.path.endswith("/service-results") for r in api) == 1
    # the browser says what it is, and sent the page's cookie with every request
    assert all("HeadlessChrome" in r.headers.get("User-Agent", "") for r in api)
    assert all(gated.gate_cookie_value in r.headers.get("Cookie", "") for r in api)
    manifest = json.loads(next((p.settings.raw_dir / "_sessions" / "2026-08")
                               .glob("*.json")).read_text("utf-8"))
    assert "browser transport" in json.dumps(manifest)
    # the page's cookie is kept nowhere: raw captures, manifests, logs, warehouse
    for path in p.data_dir.rglob("*"):
        if path.is_file():
            assert gated.gate_cookie_value.encode() not in path.read_bytes(), path


def test_a_portal_that_refuses_the_browser_too_stops_and_points_to_the_har_path(replay_dir):
    with serve(replay_dir) as server:
        server.add_fault(Fault("status", status=403, times=None))
        client = LivePortalClient(server.url, pause_s=0, backoff_s=0.01, max_attempts=3,
                                  transport=BrowserTransport(server.url, DASHBOARD_PATH))
        try:
            with pytest.raises(PortalRejected) as caught:
                client.fetch(ENDPOINTS["service-results"], date(2026, 8, 1))
        finally:
            client.close()
        posts = [r for r in server.requests if r.method == "POST"]
    assert len(posts) == 1  # a refusal is not retried
    message = str(caught.value)
    assert "HTTP 403" in message and BROWSER_REFUSED_ADVICE in message
    assert "CHISO_PORTAL_TRANSPORT=browser to" not in message


def test_without_chromium_the_browser_transport_says_how_to_install_it():
    resource = PortalResource(url="http://127.0.0.1:9", transport="browser",
                              chromium="/nonexistent/chromium")
    with pytest.raises(dg.Failure, match="ensure_browser.sh"):
        resource.client()


def test_a_portal_that_resets_the_browser_too_points_to_the_har_path(replay_dir):
    with serve(replay_dir) as server:
        server.add_fault(Fault("drop_connection", times=None))
        client = LivePortalClient(server.url, pause_s=0, backoff_s=0.01, max_attempts=2,
                                  transport=BrowserTransport(server.url, DASHBOARD_PATH))
        try:
            with pytest.raises(PortalUnavailable) as caught:
                client.fetch(ENDPOINTS["service-results"], date(2026, 8, 1))
        finally:
            client.close()
        requests = [(r.method, r.path) for r in server.requests]
    # each attempt opened the page again, then asked (Chromium itself sends a POST again,
    # once, when a kept-alive connection closes without an answer: at most 2 per attempt)
    gets = [i for i, (method, _) in enumerate(requests) if method == "GET"]
    assert requests[0] == ("GET", DASHBOARD_PATH) and len(gets) == 2
    assert all(1 <= n <= 2 for n in (gets[1] - 1, len(requests) - gets[1] - 1))
    message = str(caught.value)
    assert "reset the connection every time" in message and BROWSER_REFUSED_ADVICE in message
