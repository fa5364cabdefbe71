"""The live client's bounds and refusals, over real HTTP(S) to tools.portal_server.

Issue 11: a crawl has a page cap and stops at a repeated page; a response and a crawl
each have a wall-time deadline; a redirect to another host is refused; a TLS failure
is not retried; an answer that cannot be decoded is kept as received. No Dagster here:
the behaviour lives in the client and the raw store (the runs are in test_crawl_runs).
"""

import gzip
import json
from datetime import date
from pathlib import Path

import pytest
from conftest import copy_samples

from assets.raw.store import CaptureSession, RawStore
from assets.sources.endpoints import ENDPOINTS
from assets.sources.portal import (
    PortalBadResponse,
    PortalBoundExceeded,
    PortalRedirectRefused,
    PortalTLSError,
    PortalUnavailable,
    page_cap,
)
from tools.portal_server import Fault, self_signed_cert, serve

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples" / "portal"
PHU_THO = "019d2be3-6a88-732b-8b17-b68020c8553a"
AUGUST = date(2026, 8, 1)
TRANSPARENCY = ENDPOINTS["transparency"]  # paginated, 163 rows
TREE = ENDPOINTS["dvc-progress-tree"]


@pytest.fixture(scope="module")
def replay_dir(tmp_path_factory) -> Path:
    return copy_samples(tmp_path_factory.mktemp("portal-replay"), (TRANSPARENCY, TREE))


def fetch(client, endpoint=TRANSPARENCY, **options):
    return client.fetch(endpoint, AUGUST, province_id=PHU_THO, province="H44 Phú Thọ",
                        **options)


def kept_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and "_sessions" not in p.parts
                  and not p.name.endswith(".meta.json"))


# --- item 2: pages, repeats, deadlines ------------------------------------------------


def test_the_page_cap_comes_from_page_ones_total_and_page_size():
    assert page_cap({"total": 163, "pageSize": 50, "totalPages": 4}, 50, 200) == 4 + 2
    assert page_cap({"total": 163, "totalPages": 1_000_000}, 50, 200) == 4 + 2  # rows served
    assert page_cap({"totalPages": 3}, 0, 200) == 3 + 2  # no total: what page 1 declared
    assert page_cap({"total": 10**9, "pageSize": 1}, 1, 1) == 1000  # never past MAX_PAGES


def test_a_total_that_keeps_growing_stops_at_the_page_cap(replay_dir, make_client):
    # Every page declares one more page (and 50 more rows) than the one asked; 30 pages
    # of that, then the real answer. Page 1 declared 100 rows of 50: the cap is 2 + 2.
    with serve(replay_dir, max_page_size=50) as server:
        server.add_fault(Fault("endless_pages", times=30, endpoint="transparency"))
        with pytest.raises(PortalBoundExceeded) as caught:
            fetch(make_client(server.url))

    assert [r.payload["currentPage"] for r in server.requests] == [1, 2, 3, 4]
    message = str(caught.value)
    for fragment in ("page cap", "totalPages=5", "total=100", "pageSize=50", "stops at 4 pages",
                     "endpoint transparency", "period 2026-08", "H44"):
        assert fragment in message, message


def test_the_same_page_served_forever_stops_at_the_first_repeat(replay_dir, make_client):
    with serve(replay_dir, max_page_size=50) as server:
        server.add_fault(Fault("stuck_page", times=30, endpoint="transparency"))
        with pytest.raises(PortalBoundExceeded, match="page 2 has the same bytes") as caught:
            fetch(make_client(server.url))

    assert len(server.requests) == 2
    assert "as page 1" in str(caught.value) and "transparency" in str(caught.value)


def test_an_answer_trickling_in_is_cut_at_the_response_deadline(replay_dir, make_client):
    # 60 bytes at one every 50 ms: each chunk is on time, the whole answer is not (0.5 s).
    body = json.dumps({"code": "OK", "data": {"x": "y" * 30}}).encode()[:60]
    with serve(replay_dir) as server:
        server.add_fault(Fault("trickle", endpoint="dvc-progress-tree", seconds=0.05,
                               body=body))
        client = make_client(server.url, timeout_s=0.5, max_attempts=1)
        with pytest.raises(PortalUnavailable) as caught:
            fetch(client, TREE)

    message = str(caught.value)
    assert "not complete after 0.5 s" in message and "CHISO_PORTAL_TIMEOUT_S" in message
    received = int(message.split("; ")[1].split(" bytes")[0])
    assert received < len(body)  # cut before the end


def test_a_crawl_past_its_deadline_sends_no_more_requests(replay_dir, make_client):
    with serve(replay_dir, max_page_size=50) as server:
        server.add_fault(Fault("delay", times=None, seconds=0.2, endpoint="transparency"))
        client = make_client(server.url, crawl_deadline_s=0.3)
        client.start_crawl()
        with pytest.raises(PortalBoundExceeded, match="CHISO_CRAWL_DEADLINE_S=0.3") as caught:
            fetch(client)

    assert "crawl deadline" in str(caught.value)
    assert len(server.requests) <= 2  # page 3 (of 4) was never asked


# --- item 8: redirects ---------------------------------------------------------------


def test_a_redirect_to_another_host_is_refused_naming_both(replay_dir, make_client, tmp_path):
    with serve(replay_dir) as portal, serve(replay_dir) as elsewhere:
        other = elsewhere.url.replace("127.0.0.1", "localhost") + TREE.path
        portal.add_fault(Fault("redirect", endpoint="dvc-progress-tree", location=other))
        session = CaptureSession(RawStore(tmp_path / "raw"), AUGUST, "test")
        keep = lambda r: session.keep(r, province_code="H44", province_id=PHU_THO)  # noqa: E731
        with pytest.raises(PortalRedirectRefused) as caught:
            fetch(make_client(portal.url), TREE, on_response=keep)
        asked_elsewhere = len(elsewhere.requests)

    assert asked_elsewhere == 0
    message = str(caught.value)
    portal_host = portal.url.removeprefix("http://")
    other_host = other.removeprefix("http://").split("/")[0]
    assert portal_host in message and other_host in message and "HTTP 307" in message
    assert [c.http_status for c in session.captures] == [307]  # the redirect itself is kept


def test_a_same_host_redirect_is_followed_and_the_final_url_recorded(replay_dir, make_client,
                                                                     tmp_path):
    with serve(replay_dir) as portal:
        moved = f"{TREE.path}?moved=1"
        portal.add_fault(Fault("redirect", endpoint="dvc-progress-tree", location=moved))
        session = CaptureSession(RawStore(tmp_path / "raw"), AUGUST, "test")
        pages = fetch(make_client(portal.url), TREE,
                      on_response=lambda r: session.keep(r, province_code="H44",
                                                         province_id=PHU_THO))

    assert pages[0].data["children"]
    data = [f for f in kept_files(tmp_path / "raw") if f.suffix == ".json"]
    metas = [json.loads(f.with_name(f.name + ".meta.json").read_text()) for f in data]
    assert [m["final_url"] for m in metas if m["http_status"] == 201] == [portal.url + moved]
    assert {m["http_status"] for m in metas} == {307, 201}


# --- item 9: TLS -----------------------------------------------------------------------


def test_a_certificate_failure_fails_at_once_with_the_reason(replay_dir, make_client, sleeps,
                                                             tmp_path):
    cert, key = self_signed_cert(tmp_path / "tls")
    with serve(replay_dir, tls=(cert, key)) as server:
        assert server.url.startswith("https://127.0.0.1:")
        with pytest.raises(PortalTLSError) as caught:
            fetch(make_client(server.url), TREE)
        tried = sleeps.copy()
        # the same server, trusted: HTTPS itself works, only the trust failed
        trusted = fetch(make_client(server.url, verify=str(cert)), TREE)

    assert tried == []  # no backoff: not retried
    message = str(caught.value)
    assert "TLS failure" in message and "not retried" in message
    assert "certificate verify failed" in message.lower()
    assert trusted[0].data["children"]


# --- item 11: undecodable bodies --------------------------------------------------------


def test_a_body_that_cannot_be_decoded_is_kept_as_received(replay_dir, make_client, tmp_path):
    garbage = b"\x1f\x8b\x08\x00 this was never gzip \xff\xfe"
    real = (SAMPLES / TREE.name / "month-all.json").read_bytes()
    store = RawStore(tmp_path / "raw")
    session = CaptureSession(store, AUGUST, "test")
    keep = lambda r: session.keep(r, province_code="H44", province_id=PHU_THO)  # noqa: E731
    with serve(replay_dir) as server:
        server.add_fault(Fault("bad_gzip", endpoint="dvc-progress-tree", body=garbage))
        with pytest.raises(PortalBadResponse) as caught:
            fetch(make_client(server.url), TREE, on_response=keep)
        asked = len(server.requests)
        # a well-formed gzip answer is decoded as before
        server.add_fault(Fault("body", endpoint="dvc-progress-tree", body=gzip.compress(real),
                               headers={"Content-Encoding": "gzip"}))
        good = fetch(make_client(server.url), TREE, on_response=keep)

    assert asked == 1  # bad content: not asked again
    message = str(caught.value)
    assert "Content-Encoding 'gzip'" in message and "could not be decoded" in message
    assert caught.value.raw_path and Path(caught.value.raw_path).read_bytes() == garbage
    bad, ok = session.captures
    assert (bad.undecoded, bad.content_encoding, bad.path.endswith(".bin")) == (True, "gzip", True)
    assert (ok.undecoded, ok.path.endswith(".json")) == (False, True)
    assert store.read_verified(json.loads(json.dumps(ok.__dict__))) == real
    assert good[0].data["children"]
