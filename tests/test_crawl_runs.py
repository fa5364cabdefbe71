"""Whole runs of the crawl against a real local portal server (issue 11 items 2, 3, 10).

- a termination (SIGTERM) fails the crawl step at once: the crawl's retry does not
  run it again;
- a token with a stray ``\\r`` is cleaned when settings load (the run with a persistent
  instance that proves it is written nowhere is tests/test_security.py);
- a closed month's capture that validation rejected is fetched again by the next run;
- an outage longer than the client's patience: the whole crawl is run again after the
  wait the settings give (read when the run starts, not when the code is imported), and
  the incident names the portal's answer, not the retry.
"""

import json
import logging
import signal

import pytest
from conftest import AUGUST, Pipeline

from assets import redact
from assets.settings import TokenError, load_settings
from pipelines.incidents import write_incident
from tools.portal_server import Fault, serve

TOKEN = "Zq8-portal-token-5e1c"


def failure_text(result) -> str:
    return "\n".join(str(e.event_specific_data.error) for e in result.all_events
                     if e.event_type_value == "STEP_FAILURE")


def events_of(result, kind: str, step: str = "raw__portal_captures") -> list:
    return [e for e in result.all_events if e.event_type_value == kind and e.step_key == step]


def sessions(p: Pipeline) -> list[dict]:
    folder = p.settings.raw_dir / "_sessions" / "2026-08"
    return [json.loads(f.read_text()) for f in sorted(folder.glob("*.json"))]


# --- item 2: a termination is obeyed ----------------------------------------------------


def test_a_termination_fails_the_crawl_at_once_and_is_not_retried(replay_dir, tmp_path):
    with serve(replay_dir) as server:
        # SIGTERM to this process while the crawl waits for an answer, as `timeout` sends
        server.add_fault(Fault("signal", endpoint="transparency", signum=signal.SIGTERM,
                               seconds=5))
        p = Pipeline(tmp_path / "data", server.url)
        result = p.run(AUGUST, raise_on_error=False)
        asked = [r.path.rsplit("/", 1)[1] for r in server.requests]

    assert not result.success
    assert events_of(result, "STEP_UP_FOR_RETRY") == []  # not retried
    assert "terminated" in failure_text(result) and "not retried" in failure_text(result)
    assert asked[-1] == "transparency"  # nothing asked after the signal
    assert [s["status"] for s in sessions(p)] == ["failed"]  # what came so far is kept


# --- item 3: the token ------------------------------------------------------------------


def test_a_token_with_a_control_character_inside_is_refused_without_showing_it():
    assert load_settings({"CHISO_PORTAL_TOKEN": f" {TOKEN}\r\n"}).portal_token == TOKEN
    assert load_settings({"CHISO_PORTAL_TOKEN": " \r"}).portal_token is None
    with pytest.raises(TokenError) as caught:
        load_settings({"CHISO_PORTAL_TOKEN": "Zq8-por\x1btal-token"})
    assert "position 8" in str(caught.value)
    assert "Zq8" not in str(caught.value) and "tal-token" not in str(caught.value)


def test_the_second_line_of_defence_masks_the_token_in_logs_and_incidents(tmp_path,
                                                                          monkeypatch, caplog):
    monkeypatch.setenv("CHISO_PORTAL_TOKEN", TOKEN)
    redact.install()
    with caplog.at_level(logging.INFO, logger="chiso766"):
        logging.getLogger("chiso766").info("header was %s", f"Bearer {TOKEN}")
    assert TOKEN not in caplog.text and "Bearer [redacted]" in caplog.text
    path = write_incident(tmp_path, f"failed: Authorization: Bearer {TOKEN}\n")
    assert TOKEN not in path.read_text() + (tmp_path / "incident-latest.txt").read_text()


# --- item 10: a rejected final capture is not final -------------------------------------


def unknown_metric(doc):
    doc["data"]["evaluation"][0]["metrics"][0]["code"] = "NEW_METRIC"


def test_a_rejected_capture_of_a_closed_month_is_fetched_again(replay_dir, tmp_path):
    # 08/2026 closed months ago: a crawl taken now is final, if it was staged.
    with serve(replay_dir) as server:
        server.add_fault(Fault("mutate", endpoint="transparency", mutate=unknown_metric))
        p = Pipeline(tmp_path / "data", server.url)
        rejected = p.run(AUGUST, raise_on_error=False)
        asked_first = len(server.requests)
        corrected = p.run(AUGUST, raise_on_error=False)  # no force: the portal is asked again
        asked_second = len(server.requests) - asked_first

    assert not rejected.success and "NEW_METRIC" in failure_text(rejected)
    assert corrected.success, failure_text(corrected)
    assert asked_second == asked_first > 0
    # (once staged, a final crawl is not fetched again: tests/test_nightly.py)
    assert [s["status"] for s in sessions(p)] == ["complete", "complete"]


# --- the crawl retried as a whole ---------------------------------------------------------


def test_a_crawl_that_keeps_failing_is_retried_after_the_configured_waits(replay_dir,
                                                                           tmp_path):
    with serve(replay_dir) as server:
        server.add_fault(Fault("status", status=503, times=None, endpoint="transparency"))
        p = Pipeline(tmp_path / "data", server.url,
                     extra_env={"CHISO_CRAWL_RETRY_DELAY_S": "0.02"})
        result = p.run(AUGUST, raise_on_error=False)

    waits = [e.event_specific_data.seconds_to_wait
             for e in events_of(result, "STEP_UP_FOR_RETRY")]
    assert waits == [0.02, 0.06]  # twice, exponential, from this pipeline's settings
    assert not result.success and "HTTP 503" in failure_text(result)
    incident = (p.data_dir / "logs" / "incident-latest.txt").read_text("utf-8")
    assert "HTTP 503" in incident and "transparency" in incident
