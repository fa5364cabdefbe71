"""Scale generator: N nightly captures of 34 provinces x 6 endpoints (+ the national summary).

Each simulated day writes a replay directory with ``tools.synthetic.generate`` (seeded
by the day, so every day's bytes differ and nothing is deduplicated by sha256), then
runs the real crawl (``assets.raw.crawl.crawl_month`` with ``ReplayPortalClient``) into
a ``RawStore``: the raw files and session manifests are exactly what the pipeline keeps.

Day ``d`` captures the month it falls in (one open month per night, starting 2026-06-01);
the replay directory of each month is overwritten by each of its days, so after a run it
holds the month's last day, the capture the pipeline stages.

    python -m bench.generate --days 30 --out /tmp/chiso-bench
"""

import argparse
import json
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from assets.months import first_day, month_key
from assets.raw.crawl import crawl_month
from assets.raw.store import RawStore
from assets.sources.portal import ReplayPortalClient
from tools.synthetic import generate

FIRST_DAY = date(2026, 6, 1)
DEFAULT_SEED = 766
PARAMS_FILE = "bench-params.json"


def day_months(days: int) -> list[date]:
    """The month each simulated night captures."""
    return [first_day(FIRST_DAY + timedelta(days=d)) for d in range(days)]


def generate_days(out: Path, days: int, seed: int = DEFAULT_SEED,
                  provinces: list[str] | None = None, log=print) -> dict:
    """Write ``out/raw`` (the raw layer) and ``out/replay/<yyyy-mm>``; return totals."""
    out = Path(out)
    params = {"days": days, "seed": seed, "provinces": provinces}
    marker = out / PARAMS_FILE
    if marker.exists():
        done = json.loads(marker.read_text("utf-8"))
        if done.get("params") == params:
            return done  # same data already there: generating again would only add sessions
        raise ValueError(f"{out} holds bench data made with {done.get('params')}; "
                         "use another --out or delete it")
    store = RawStore(out / "raw")
    started = time.perf_counter()
    responses = new_files = kept_bytes = 0
    for day, month in enumerate(day_months(days)):
        replay = out / "replay" / month_key(month)
        # seed differs per day: distinct bytes, as real nightly captures of an open month
        generate(replay, [month], provinces=provinces, seed=seed * 1000 + day)
        result = crawl_month(ReplayPortalClient(replay), store, month,
                             tuple(provinces) if provinces else None)
        responses += result.responses
        new_files += result.new_files
        kept_bytes += result.bytes
        if log and (day + 1) % 10 == 0:
            log(f"day {day + 1}/{days}: {responses} responses, {kept_bytes / 1e6:.0f} MB")
    summary = {"params": params, "responses": responses, "new_files": new_files,
               "bytes": kept_bytes, "months": sorted({month_key(m) for m in day_months(days)}),
               "seconds": round(time.perf_counter() - started, 1)}
    marker.write_text(json.dumps(summary, indent=1), "utf-8")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.generate")
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--provinces", default=None, help="e.g. H44,H60 (default: all 34)")
    args = parser.parse_args(argv)
    provinces = [c.strip().upper() for c in args.provinces.split(",")] if args.provinces else None
    print(json.dumps(generate_days(args.out, args.days, args.seed, provinces)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
