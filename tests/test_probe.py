"""Issue 10 §4: ``python -m tools.probe`` against the local portal server, in both
transports, and stopping at the first refusal."""

import hashlib
import json

from conftest import AUGUST, PHU_THO

from assets.settings import load_settings
from assets.sources.endpoints import GROUP_ENDPOINTS, month_payload, replay_relpath
from tools import probe
from tools.portal_server import Fault, serve

ENDPOINT_NAMES = ["service-results", *(e.name for e in GROUP_ENDPOINTS.values())]


def settings(tmp_path, url: str, transport: str = "plain"):
    return load_settings({"CHISO_DATA_DIR": str(tmp_path / "data"), "CHISO_PORTAL_URL": url,
                          "CHISO_PORTAL_PAUSE_S": "0", "CHISO_PORTAL_TIMEOUT_S": "10",
                          "CHISO_PORTAL_TRANSPORT": transport})


def run_probe(tmp_path, url: str, transport: str = "plain"):
    lines: list[str] = []
    code, out = probe.run(settings(tmp_path, url, transport), AUGUST, "H44", attempts=1,
                          print_=lines.append)
    return code, out, "\n".join(lines), json.loads((out / "probe.json").read_text("utf-8"))


def score_as_text(doc: dict) -> None:
    doc["data"]["evaluation"][0]["totalScore"] = "8,24"


def test_plain_probe_reports_each_endpoint_and_why_the_parser_declines_one(
        tmp_path, replay_dir):
    with serve(replay_dir) as server:
        server.add_fault(Fault("mutate", endpoint="dossier-digitized", mutate=score_as_text))
        code, out, printed, report = run_probe(tmp_path, server.url)
        posts = server.requests

    assert code == 1  # one answer is not accepted
    assert out.parent == tmp_path / "data" / "raw" / "_probe" and str(out) in printed
    assert [f["endpoint"] for f in report["findings"]] == ENDPOINT_NAMES
    assert [r.path.rsplit("/", 1)[1] for r in posts] == ENDPOINT_NAMES  # one request each
    by_name = {f["endpoint"]: f for f in report["findings"]}
    national = by_name.pop("service-results")
    assert national["rows"] == 34 and national["pagination"].startswith("total=34")
    bad = by_name.pop("dossier-digitized")
    assert bad["crawler"] == "accepted" and bad["parser"].startswith("no: StagingError")
    assert "totalScore" in bad["parser"] and "2026-08" in bad["parser"]
    for f in by_name.values():
        assert (f["status"], f["envelope_code"], f["rows"]) == (201, "OK", 163)
        assert f["crawler"] == f["parser"] == "accepted", f
    assert by_name["dvc-progress-tree"]["pagination"] == "absent"
    assert "pagination: total=163" in printed and "parser: no: StagingError" in printed
    # answers kept byte for byte: the tree answer equals the recording the server served
    tree = GROUP_ENDPOINTS["TDGQ"]
    recorded = (replay_dir / replay_relpath(tree, month_payload(tree, AUGUST,
                                                                province_id=PHU_THO)))
    kept = out / by_name["dvc-progress-tree"]["kept"][0]
    assert kept.read_bytes() == recorded.read_bytes()
    assert by_name["dvc-progress-tree"]["sha256"] == hashlib.sha256(kept.read_bytes()).hexdigest()


def test_probe_stops_at_the_first_refusal_and_keeps_it(tmp_path, replay_dir):
    with serve(replay_dir) as server:
        server.add_fault(Fault("status", status=403, times=None))
        code, out, printed, report = run_probe(tmp_path, server.url)
        posts = server.requests

    assert code == 2 and len(posts) == 1
    assert "REFUSED" in printed and "CHISO_PORTAL_TRANSPORT=browser" in printed
    assert report["findings"][0]["kept"] and report["refused"]


def test_plain_probe_stops_when_reset_and_names_both_ways_forward(tmp_path, replay_dir):
    with serve(replay_dir, cookie_gate=True) as server:
        code, out, printed, report = run_probe(tmp_path, server.url)
        resets = server.gate_resets

    assert code == 2 and resets == 1  # the national summary, once; nothing more
    assert "RESET, probe stopped after 1 request(s)" in printed
    assert "CHISO_PORTAL_TRANSPORT=browser" in printed and ".har" in printed
    assert report["findings"][0]["crawler"].startswith("no: no good answer")


def test_browser_probe_gets_past_a_cookie_gate(tmp_path, replay_dir):
    with serve(replay_dir, cookie_gate=True) as server:
        code, out, printed, report = run_probe(tmp_path, server.url, transport="browser")
        resets, posts = server.gate_resets, [r for r in server.requests if r.method == "POST"]

    assert code == 0 and resets == 0, printed
    # one request per endpoint: the dashboard's own query as it loads was not let out
    assert [r.path.rsplit("/", 1)[1] for r in posts] == ENDPOINT_NAMES
    assert "browser transport" in report["source"]
    assert all(f["crawler"] == f["parser"] == "accepted" for f in report["findings"])
    assert len(list(out.glob("*.json"))) == len(ENDPOINT_NAMES) + 1  # + probe.json
