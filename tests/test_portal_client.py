"""The live portal client against a real local HTTP server (tools.portal_server).

No mocking of requests: every test talks HTTP to a server on 127.0.0.1 that
serves the real Phú Thọ 08/2026 captures and misbehaves on command.
"""

import email.utils
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import requests
from conftest import copy_samples

from assets.sources.endpoints import ENDPOINTS
from assets.sources.portal import (
    PortalBadResponse,
    PortalBoundExceeded,
    PortalRejected,
    PortalUnavailable,
    ReplayPortalClient,
)
from tools.portal_server import MAINTENANCE_PAGE, Fault, serve

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples" / "portal"
PHU_THO = "019d2be3-6a88-732b-8b17-b68020c8553a"
PROVINCE = "H44 Phú Thọ"
AUGUST = date(2026, 8, 1)
TRANSPARENCY = ENDPOINTS["transparency"]  # paginated, 163 rows
PROGRESS_TREE = ENDPOINTS["dvc-progress-tree"]  # tree: one response whatever the page size
TOKEN = "s3cret-portal-token-4f9a"


def sample_doc(folder: str) -> dict:
    return json.loads((SAMPLES / folder / "month-all.json").read_bytes())


@pytest.fixture(scope="module")
def replay_dir(tmp_path_factory) -> Path:
    return copy_samples(tmp_path_factory.mktemp("portal-replay"), (TRANSPARENCY, PROGRESS_TREE))


def fetch(client, endpoint=TRANSPARENCY, **options):
    return client.fetch(endpoint, AUGUST, province_id=PHU_THO, province=PROVINCE, **options)


def unit_ids(pages) -> list[str]:
    return [row["departmentId"] for page in pages for row in page.data.get("evaluation", [])]


def set_total(value: int):
    def mutate(doc: dict) -> None:
        doc["data"]["pagination"]["total"] = value
    return mutate


# --- pagination -----------------------------------------------------------------


def test_a_portal_that_pages_by_50_is_walked_to_exactly_163_units(replay_dir, make_client):
    with serve(replay_dir, max_page_size=50) as server:
        pages = fetch(make_client(server.url), page_size=200)

    assert len(pages) == 4
    assert [len(p.data["evaluation"]) for p in pages] == [50, 50, 50, 13]
    ids = unit_ids(pages)
    assert len(ids) == len(set(ids)) == 163
    recorded = sample_doc("transparency")["data"]["evaluation"]
    assert set(ids) == {row["departmentId"] for row in recorded}
    asked = [r.payload for r in server.requests]
    assert [p["currentPage"] for p in asked] == [1, 2, 3, 4]
    assert {p["pageSize"] for p in asked} == {200}
    assert {p["rootDepartmentId"] for p in asked} == {PHU_THO}


def test_a_server_lying_about_the_total_is_a_bad_response_that_says_where(replay_dir,
                                                                          make_client):
    with serve(replay_dir, max_page_size=50) as server:
        server.add_fault(Fault("mutate", times=None, mutate=set_total(170)))
        with pytest.raises(PortalBadResponse) as caught:
            fetch(make_client(server.url))

    message = str(caught.value)
    assert "163" in message and "170" in message
    assert "transparency" in message and "2026-08" in message and PROVINCE in message
    assert (caught.value.endpoint, caught.value.period, caught.value.province) == (
        "transparency", "2026-08", PROVINCE)


def test_a_total_that_changes_between_pages_is_a_bad_response(replay_dir, make_client):
    # Page 1 says 170, the others 163: the set changed under the walk (or the portal lies).
    with serve(replay_dir, max_page_size=50) as server:
        server.add_fault(Fault("mutate", page=1, mutate=set_total(170)))
        with pytest.raises(PortalBadResponse, match="changed between pages") as caught:
            fetch(make_client(server.url))

    assert "[170, 163, 163, 163]" in str(caught.value)


def test_a_page_repeating_another_pages_rows_stops_the_walk_at_once(replay_dir, make_client):
    first_page_rows = sample_doc("transparency")["data"]["evaluation"][:50]

    def repeat_page_one(doc: dict) -> None:
        doc["data"]["evaluation"] = first_page_rows

    with serve(replay_dir, max_page_size=50) as server:
        server.add_fault(Fault("mutate", endpoint="transparency", page=2, mutate=repeat_page_one))
        with pytest.raises(PortalBoundExceeded, match="page 2 has the same 50 rows as page 1"):
            fetch(make_client(server.url))

    assert [r.payload["currentPage"] for r in server.requests] == [1, 2]  # pages 3, 4 not asked
    assert [r.fault for r in server.requests] == [None, "mutate"]


def test_tree_endpoints_come_in_one_request_whatever_the_page_size(replay_dir, make_client):
    with serve(replay_dir, max_page_size=5) as server:
        pages = fetch(make_client(server.url), PROGRESS_TREE, page_size=10)

    assert len(pages) == 1 and len(server.requests) == 1
    assert server.requests[0].payload["pageSize"] == 10
    children = sample_doc("dvc-progress-tree")["data"]["children"]
    assert len(pages[0].data["children"]) == len(children) > 10


# --- retries, backoff and politeness ------------------------------------------------


def test_a_503_then_success_returns_the_data_after_one_backoff(replay_dir, make_client, sleeps):
    with serve(replay_dir) as server:
        server.add_fault(Fault("status", status=503, times=1))
        pages = fetch(make_client(server.url))

    assert len(unit_ids(pages)) == 163
    assert len(server.requests) == 2
    assert [r.fault for r in server.requests] == ["status", None]
    assert sleeps == [0.01]


def test_a_429_with_retry_after_is_waited_out_then_succeeds(replay_dir, make_client, sleeps):
    with serve(replay_dir) as server:
        server.add_fault(Fault("status", status=429, headers={"Retry-After": "3"}))
        pages = fetch(make_client(server.url))

    assert len(unit_ids(pages)) == 163
    assert len(server.requests) == 2
    assert sleeps == [3.0]


@pytest.mark.parametrize("retry_after, expected", [
    ("0", 0.0),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # a date in the past: go at once
    ("Wed, 21 Oct 2015 07:28:00 -0000", 0.0),  # same, parsed as a naive datetime
    ("soon", 0.01),  # unreadable: the client's own backoff
], ids=["seconds", "past-gmt", "past-minus-0000", "garbage"])
def test_other_retry_after_forms(replay_dir, make_client, sleeps, retry_after, expected):
    with serve(replay_dir) as server:
        server.add_fault(Fault("status", status=503, headers={"Retry-After": retry_after}))
        fetch(make_client(server.url))

    assert len(server.requests) == 2
    assert sleeps == [expected]


def test_a_retry_after_date_in_the_future_is_waited_for(replay_dir, make_client, sleeps):
    when = datetime.now(UTC) + timedelta(seconds=60)
    with serve(replay_dir) as server:
        server.add_fault(Fault("status", status=429,
                               headers={"Retry-After": email.utils.format_datetime(when, True)}))
        fetch(make_client(server.url))

    assert len(sleeps) == 1 and 55 < sleeps[0] <= 60


def test_a_portal_failing_every_time_is_unavailable_after_max_attempts(replay_dir, make_client,
                                                                       sleeps):
    with serve(replay_dir) as server:
        server.add_fault(Fault("status", status=502, times=None,
                               body="<html><body>502 Bad Gateway</body></html>",
                               content_type="text/html"))
        with pytest.raises(PortalUnavailable) as caught:
            fetch(make_client(server.url, max_attempts=3))

    assert len(server.requests) == 3
    assert caught.value.retryable
    assert "3 attempts" in str(caught.value) and "HTTP 502" in str(caught.value)
    assert sleeps == [0.01, 0.02]  # exponential backoff between attempts, none after the last


def test_a_403_stops_at_once_without_hammering(replay_dir, make_client, sleeps):
    with serve(replay_dir) as server:
        server.add_fault(Fault("status", status=403, times=None))
        with pytest.raises(PortalRejected, match="HTTP 403") as caught:
            fetch(make_client(server.url))

    assert len(server.requests) == 1
    assert not caught.value.retryable
    assert sleeps == []


def test_a_dropped_connection_is_retried_and_recovered(replay_dir, make_client, sleeps):
    with serve(replay_dir) as server:
        server.add_fault(Fault("drop_connection"))
        pages = fetch(make_client(server.url))

    assert len(unit_ids(pages)) == 163
    assert [r.fault for r in server.requests] == ["drop_connection", None]
    assert sleeps == [0.01]


def test_a_read_timeout_is_retried_and_recovered(replay_dir, make_client, sleeps):
    with serve(replay_dir) as server:
        server.add_fault(Fault("delay", seconds=2.0))
        pages = fetch(make_client(server.url, timeout_s=0.3))

    assert len(unit_ids(pages)) == 163
    assert [r.fault for r in server.requests] == ["delay", None]
    assert sleeps == [0.01]


def test_the_pause_between_requests_is_honoured(replay_dir, make_client, sleeps):
    with serve(replay_dir, max_page_size=50) as server:
        fetch(make_client(server.url, pause_s=1.0))

    assert len(server.requests) == 4
    assert len(sleeps) == 3  # before pages 2, 3 and 4; none before the first request
    assert all(0.5 < s <= 1.0 for s in sleeps), sleeps


# --- answers that are not data -------------------------------------------------------


def test_an_html_maintenance_page_with_200_is_a_bad_response_and_is_kept(replay_dir,
                                                                         make_client):
    kept = []
    with serve(replay_dir) as server:
        server.add_fault(Fault("html_200"))
        with pytest.raises(PortalBadResponse, match="HTML") as caught:
            fetch(make_client(server.url), on_response=kept.append)

    assert len(server.requests) == 1
    assert len(kept) == 1
    assert kept[0].status == 200 and kept[0].content_type.startswith("text/html")
    assert kept[0].body == MAINTENANCE_PAGE
    assert "2026-08" in str(caught.value)


def test_truncated_json_is_a_bad_response(replay_dir, make_client):
    kept = []
    with serve(replay_dir) as server:
        server.add_fault(Fault("truncate"))
        with pytest.raises(PortalBadResponse, match="truncated JSON"):
            fetch(make_client(server.url), on_response=kept.append)

    full = (SAMPLES / "transparency" / "month-all.json").read_bytes()
    assert kept[0].body == full[:len(full) // 2]


def test_an_envelope_code_other_than_ok_is_a_bad_response(replay_dir, make_client):
    def refuse(doc: dict) -> dict:
        return {"code": "INTERNAL_ERROR", "data": None, "message": "Lỗi hệ thống"}

    with serve(replay_dir) as server:
        server.add_fault(Fault("mutate", mutate=refuse))
        with pytest.raises(PortalBadResponse, match="INTERNAL_ERROR") as caught:
            fetch(make_client(server.url))

    assert "Lỗi hệ thống" in str(caught.value)
    assert len(server.requests) == 1


# --- secrets -----------------------------------------------------------------------------


@pytest.mark.parametrize("fault, error", [
    (lambda: Fault("status", status=403), PortalRejected),
    (lambda: Fault("status", status=500, times=None), PortalUnavailable),
    (lambda: Fault("drop_connection", times=None), PortalUnavailable),
    (lambda: Fault("html_200"), PortalBadResponse),
    (lambda: Fault("mutate", mutate=set_total(1)), PortalBadResponse),
], ids=["403", "500", "dropped", "html", "bad-total"])
def test_the_token_is_sent_but_never_appears_in_an_error(replay_dir, make_client, fault, error):
    with serve(replay_dir) as server:
        server.add_fault(fault())
        with pytest.raises(error) as caught:
            fetch(make_client(server.url, token=TOKEN, max_attempts=2))

    assert server.requests
    assert all(r.headers.get("Authorization") == f"Bearer {TOKEN}" for r in server.requests)
    for text in (str(caught.value), repr(caught.value), caught.value.detail):
        assert TOKEN not in text


# --- replay and live agree -----------------------------------------------------------


@pytest.mark.parametrize("endpoint", [TRANSPARENCY, PROGRESS_TREE], ids=lambda e: e.name)
def test_replay_client_and_server_give_the_same_bytes(replay_dir, make_client, endpoint):
    with serve(replay_dir) as server:
        live = fetch(make_client(server.url), endpoint)
    replay = fetch(ReplayPortalClient(replay_dir), endpoint)

    assert live[0].response.body == replay[0].response.body
    assert live[0].response.body == (SAMPLES / endpoint.name / "month-all.json").read_bytes()
    assert live[0].response.status == replay[0].response.status == 201
    assert live[0].response.content_type == "application/json; charset=utf-8"
    assert live[0].data == replay[0].data


# --- the server itself ---------------------------------------------------------------------


def test_server_answers_unknown_paths_with_json_404_and_scopes_faults(replay_dir, make_client):
    with serve(replay_dir) as server:
        r = requests.post(server.url + "/api/v1/reporting/evaluation/nope", json={}, timeout=2)
        assert r.status_code == 404 and r.headers["Content-Type"].startswith("application/json")
        assert r.json()["code"] != "OK"

        server.add_fault(Fault("status", status=503, endpoint="dvc-progress-tree", times=None))
        pages = fetch(make_client(server.url))  # transparency is untouched
        assert len(unit_ids(pages)) == 163
        assert len(server.pending_faults) == 1
        with pytest.raises(PortalUnavailable):
            fetch(make_client(server.url, max_attempts=2), PROGRESS_TREE)


def test_fault_kinds_are_checked():
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault("explode")
    with pytest.raises(ValueError, match="mutate callable"):
        Fault("mutate")
