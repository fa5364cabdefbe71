"""Rerun from the UI, for real: the webserver's GraphQL API, as the UI's buttons use it.

A month is launched with the operator's command (``python -m tools.launch``, README)
while the portal is down and fails; the portal comes back, the UI comes up, and the
failed run is re-executed from failure. The marts then hold the portal's numbers.
One webserver (``dg dev``, with its daemon) for the module.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import duckdb
import pytest
import requests
from conftest import PROJECT

from tools.portal_server import serve

LOCATION, REPOSITORY, JOB = "chiso766", "__repository__", "refresh_months"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Ui:
    def __init__(self, port: int):
        self.url = f"http://127.0.0.1:{port}/graphql"

    def query(self, text: str, variables: dict | None = None) -> dict:
        r = requests.post(self.url, json={"query": text, "variables": variables or {}},
                          timeout=30)
        r.raise_for_status()
        body = r.json()
        assert "errors" not in body, body
        return body["data"]

    def wait_until_up(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.query("{ version }")["version"]:
                    locations = self.query(
                        "{ workspaceOrError { ... on Workspace { locationEntries { name "
                        "locationOrLoadError { __typename } } } } }")
                    entries = locations["workspaceOrError"]["locationEntries"]
                    if entries and entries[0]["locationOrLoadError"]["__typename"] \
                            == "RepositoryLocation":
                        return
            except (requests.ConnectionError, requests.HTTPError):
                pass
            time.sleep(1)
        raise AssertionError("the webserver did not come up")

    def wait_for_the_queue_daemon(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            statuses = self.query("{ instance { daemonHealth { allDaemonStatuses { "
                                  "daemonType healthy } } } }")
            statuses = statuses["instance"]["daemonHealth"]["allDaemonStatuses"]
            if any(d["daemonType"] == "QUEUED_RUN_COORDINATOR" and d["healthy"]
                   for d in statuses):
                return
            time.sleep(1)
        raise AssertionError("the daemon's run queue did not come up")

    def wait_for_run(self, run_id: str, timeout: float = 900) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.query("query($id: ID!) { runOrError(runId: $id) { ... on Run { "
                                "status } } }", {"id": run_id})["runOrError"]["status"]
            if status in ("SUCCESS", "FAILURE", "CANCELED"):
                return status
            time.sleep(1)
        raise AssertionError(f"run {run_id} did not finish")


LAUNCH = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}"""

REEXECUTE = """
mutation($params: ReexecutionParams!) {
  launchRunReexecution(reexecutionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
  }
}"""


@pytest.fixture(scope="module")
def site(tmp_path_factory, replay_dir):
    """DAGSTER_HOME, data dir and the portal's (free) port, shared by the module."""
    root = tmp_path_factory.mktemp("ui")
    home = root / "home"
    home.mkdir()
    shutil.copy(PROJECT / "dagster.yaml", home / "dagster.yaml")
    portal_port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "CHISO_DATA_DIR": str(root / "data"),
           "CHISO_PORTAL_URL": f"http://127.0.0.1:{portal_port}", "CHISO_PROVINCES": "H44",
           "CHISO_PORTAL_PAUSE_S": "0", "CHISO_PORTAL_MAX_ATTEMPTS": "2",
           "CHISO_PORTAL_BACKOFF_S": "0.01", "CHISO_CRAWL_RETRY_DELAY_S": "0",
           "DAGSTER_DISABLE_TELEMETRY": "1",
           "PATH": f"{PROJECT / '.venv' / 'bin'}:{os.environ['PATH']}"}
    return root, env, portal_port


@pytest.fixture(scope="module")
def ui(site):
    """`dg dev` (webserver + daemon) on the site, started once, on first use."""
    root, env, _ = site
    ui_port = free_port()
    log = open(root / "dg-dev.log", "w")
    server = subprocess.Popen(["dg", "dev", "--host", "127.0.0.1", "--port", str(ui_port)],
                              cwd=PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        ui = Ui(ui_port)
        ui.wait_until_up()
        yield ui
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


def operator_launch(env: dict, *args: str, **popen) -> subprocess.Popen:
    """The README's command: python -m tools.launch --job refresh_months ..."""
    return subprocess.Popen([sys.executable, "-m", "tools.launch", "--job", JOB, *args],
                            cwd=PROJECT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **popen)


RUN_TIMES = """query($id: ID!) { runOrError(runId: $id) { ... on Run { startTime endTime } } }"""


def launch_august(ui: Ui) -> str:
    launched = ui.query(LAUNCH, {"params": {
        "selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY,
                     "jobName": JOB},
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": "2026-08-01"}]},
    }})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


def test_a_run_the_operator_launched_while_the_portal_was_down_is_re_executed_from_failure(
        site, request, replay_dir):
    root, env, portal_port = site
    data_dir = root / "data"
    launcher = operator_launch(env, "--partition", "2026-08-01")
    out, _ = launcher.communicate(timeout=900)  # a guard only
    assert launcher.returncode == 1, out[-3000:]  # nothing listens on the portal's port
    failed_id = re.search(r"^Run ([0-9a-f-]{36}): FAILURE", out, re.M).group(1)
    assert "Re-execute, From failure" in out
    assert not (data_dir / "published" / "chiso766.duckdb").exists()

    ui = request.getfixturevalue("ui")  # the UI comes up after the failure, as at night
    with serve(replay_dir, port=portal_port):  # the portal is back
        again = ui.query(REEXECUTE, {"params": {"parentRunId": failed_id,
                                                "strategy": "FROM_FAILURE"}})
        again = again["launchRunReexecution"]
        assert again["__typename"] == "LaunchRunSuccess", again
        assert ui.wait_for_run(again["run"]["runId"]) == "SUCCESS"

    with duckdb.connect(str(data_dir / "published" / "chiso766.duckdb"),
                        read_only=True) as con:
        total = con.execute("SELECT total_score FROM marts.province_monthly "
                            "WHERE province_code = 'H44' AND month = '2026-08-01'").fetchone()
    assert total == (59.92,)
    incidents = (data_dir / "logs" / "incidents.log").read_text()
    assert failed_id in incidents and "Re-execute" in incidents
    assert "python -m tools.launch --job refresh_months --partition 2026-08-01" in incidents


def test_the_ui_and_the_operator_command_at_once_take_turns_and_leave_one_copy(
        site, ui, replay_dir):
    """As when someone clicks Materialize while the operator launches the same month."""
    root, env, portal_port = site
    ui.wait_for_the_queue_daemon()
    with serve(replay_dir, port=portal_port):
        launcher = operator_launch(env, "--partition", "2026-08-01")
        from_ui = launch_august(ui)
        out, _ = launcher.communicate(timeout=900)  # a guard only
        assert launcher.returncode == 0, out[-3000:]
        assert "queued: the Dagster daemon" in out  # a daemon is up: through its queue
        from_shell = re.search(r"^Run ([0-9a-f-]{36}): SUCCESS", out, re.M).group(1)
        assert ui.wait_for_run(from_ui) == "SUCCESS"
    a, b = (ui.query(RUN_TIMES, {"id": r})["runOrError"] for r in (from_ui, from_shell))
    # the run queue let one in at a time (tag chiso766/writer, limit 1)
    assert a["endTime"] <= b["startTime"] or b["endTime"] <= a["startTime"]
    with duckdb.connect(str(root / "data" / "published" / "chiso766.duckdb"),
                        read_only=True) as con:
        assert con.execute("SELECT count(*), count(DISTINCT province_id) FROM "
                           "marts.province_monthly").fetchone() == (34, 34)
        metrics = con.execute("SELECT count(*), count(DISTINCT metric_code) FROM "
                              "marts.metric_monthly").fetchone()
    assert metrics[0] == metrics[1]  # one row per metric: nothing doubled
