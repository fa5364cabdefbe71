"""Shared fixtures: a small replay directory and a real Dagster pipeline on a temp data dir."""

import os
import shutil
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

from assets.settings import load_settings  # noqa: E402
from pipelines.definitions import build_defs  # noqa: E402
from pipelines.tags import range_tags  # noqa: E402
from tools.synthetic import generate  # noqa: E402

PROJECT = Path(__file__).resolve().parent.parent
SAMPLES = PROJECT / "data" / "samples" / "portal"
PHU_THO = "019d2be3-6a88-732b-8b17-b68020c8553a"
AUGUST = date(2026, 8, 1)


@pytest.fixture(scope="session")
def replay_dir(tmp_path_factory) -> Path:
    """Phú Thọ (real captures in 08/2026) and Tuyên Quang, July and August 2026."""
    out = tmp_path_factory.mktemp("replay")
    generate(out, [date(2026, 7, 1), AUGUST], provinces=["H44", "H60"])
    return out


class Pipeline:
    """The real code location on a temp data dir, run in process on a real instance."""

    def __init__(self, data_dir: Path, portal_url: str, provinces: str = "H44",
                 instance_dir: Path | None = None, extra_env: dict | None = None):
        self.data_dir = data_dir
        self.extra_env = extra_env or {}
        # ephemeral by default; on disk when a test needs to read what Dagster stored
        if instance_dir:
            instance_dir.mkdir(parents=True, exist_ok=True)
        self.instance = (dg.DagsterInstance.local_temp(str(instance_dir)) if instance_dir
                         else dg.DagsterInstance.ephemeral())
        self.configure(portal_url, provinces)

    def configure(self, portal_url: str, provinces: str = "H44") -> None:
        self.settings = load_settings({
            "CHISO_DATA_DIR": str(self.data_dir), "CHISO_PORTAL_URL": portal_url,
            "CHISO_PROVINCES": provinces, "CHISO_FOCUS_PROVINCE": "H44",
            "CHISO_PORTAL_PAUSE_S": "0", "CHISO_PORTAL_BACKOFF_S": "0.01",
            "CHISO_PORTAL_MAX_ATTEMPTS": "3", "CHISO_PORTAL_TIMEOUT_S": "5",
            "CHISO_CRAWL_RETRY_DELAY_S": "0",  # a crawl retried by Dagster waits 0 s
            **self.extra_env,
        })
        self.defs = build_defs(self.settings)

    def run(self, first: date, last: date | None = None, raise_on_error: bool = True,
            force: bool = False):
        """``force``: fetch a closed month again and re-stage it (the run config flag)."""
        job = self.defs.resolve_job_def("refresh_months")
        config = {"ops": {op: {"config": {"force": True}}
                          for op in ("raw__portal_captures", "staging_tables")}} if force else None
        if last is None:
            return job.execute_in_process(partition_key=first.isoformat(),
                                          instance=self.instance, run_config=config,
                                          raise_on_error=raise_on_error)
        return job.execute_in_process(tags=range_tags(first, last), instance=self.instance,
                                      run_config=config, raise_on_error=raise_on_error)

    def published(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.settings.published_path), read_only=True)

    def warehouse(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.settings.warehouse_path), read_only=True)


def copy_samples(root: Path, endpoints, month: date = AUGUST) -> Path:
    """A replay directory holding the real Phú Thọ answers of these endpoints."""
    from assets.sources.endpoints import month_payload, replay_relpath

    for endpoint in endpoints:
        rel = replay_relpath(endpoint, month_payload(endpoint, month, province_id=PHU_THO))
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SAMPLES / endpoint.name / "month-all.json", root / rel)
    return root


@pytest.fixture
def sleeps() -> list[float]:
    """What a live client was told to sleep (it sleeps through this list's append)."""
    return []


@pytest.fixture
def make_client(sleeps):
    """Live portal clients that wait nowhere and give up fast; closed after the test."""
    from assets.sources.portal import LivePortalClient

    clients = []

    def make(url: str, **options) -> LivePortalClient:
        settings = dict(timeout_s=2.0, connect_timeout_s=1.0, max_attempts=4, backoff_s=0.01,
                        pause_s=0, sleep=sleeps.append)
        settings.update(options)
        clients.append(LivePortalClient(url, **settings))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def pipeline(tmp_path, replay_dir) -> Pipeline:
    return Pipeline(tmp_path / "data", str(replay_dir))
