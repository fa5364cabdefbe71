"""Run the refresh job in this process and stop dead at a chosen point, for crash tests.

The parent test waits for the ready file, then kills this process with SIGKILL:
- ``--pause-at staging``: inside the staging write, after DELETE and INSERT, before COMMIT;
- ``--pause-at publish``: while the published copy is being written to its temp file;
- ``--pause-at crawl``: as the crawl of the first month starts (the "portal" pool slot held).

``--instance DIR``: a persistent (SQLite) Dagster instance in DIR, with DIR/dagster.yaml.
"""

import argparse
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/, for conftest

from conftest import Pipeline  # noqa: E402

import assets.publish.analyst_copy as publish  # noqa: E402
import assets.raw.captures as raw  # noqa: E402
import assets.staging.step as staging  # noqa: E402


class PausingConnection:
    """Forwards everything to a DuckDB connection, but hangs on one statement."""

    def __init__(self, con, statement: str, ready: Path):
        self._con, self._statement, self._ready = con, statement, ready

    def execute(self, sql, *args, **kwargs):
        if sql.strip().startswith(self._statement):
            self._ready.write_text("paused")
            time.sleep(600)
        return self._con.execute(sql, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._con, name)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--replay", required=True)
    ap.add_argument("--pause-at", choices=["staging", "publish", "crawl"], required=True)
    ap.add_argument("--ready", type=Path, required=True)
    ap.add_argument("--first", required=True)
    ap.add_argument("--last", required=True)
    ap.add_argument("--instance", type=Path)
    args = ap.parse_args()

    if args.pause_at == "staging":
        original = staging.stage
        staging.stage = lambda path, con, *a, **kw: original(
            path, PausingConnection(con, "COMMIT", args.ready) if path is staging.PORTAL_PATH
            else con, *a, **kw)
    elif args.pause_at == "crawl":
        def crawl_month(*_args, **_kwargs):
            args.ready.write_text("paused")
            time.sleep(600)

        raw.crawl_month = crawl_month
    else:
        original = publish.publish_copy
        publish.publish_copy = lambda con, target: original(
            PausingConnection(con, "DETACH", args.ready), target)
    pipeline = Pipeline(args.data, args.replay, instance_dir=args.instance)
    pipeline.run(date.fromisoformat(args.first), date.fromisoformat(args.last))


if __name__ == "__main__":
    main()
