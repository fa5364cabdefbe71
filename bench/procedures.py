"""Procedure scale (issue 15 §6): N procedures of one province-month through the real code.

1. ``tools.synthetic_procedures`` writes a catalogue of N procedures and every
   procedure's five filtered answers for Phú Thọ 08/2026 (163 units) into a replay
   directory (the real group answers and 2.000815's real filtered ones among them);
2. the real crawl code (``crawl_catalogue``, ``crawl_month``, ``crawl_procedures``) takes
   them over HTTP from ``tools.portal_server`` with no pause: once with a budget covering
   all N (the whole month), once with the default nightly budget (300) on a fresh raw
   store — its wall time is what a night adds beyond the crawl's own pauses;
3. the kept answers are read twice, each in a fresh process (peak RSS its own): DuckDB's
   ``read_json`` with explicit types and ``unnest`` (the floor) and a typed msgspec decode
   into the same rows, per unit and parameter/metric.

    python -m bench.procedures --procedures 200 --out /tmp/chiso-proc-200
"""

import argparse
import json
import multiprocessing as mp
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

from assets.raw.crawl import crawl_month
from assets.raw.procedure_crawl import crawl_catalogue, crawl_procedures, procedure_sessions
from assets.raw.store import RawStore
from assets.sources.portal import LivePortalClient
from tools.portal_server import serve
from tools.synthetic import generate
from tools.synthetic_procedures import generate_procedures

MONTH = date(2026, 8, 1)
PROVINCE = "H44"
NIGHT_BUDGET = 300


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prepare(out: Path, procedures: int) -> dict:
    replay = out / "replay"
    marker = out / "bench-procedures.json"
    if marker.exists() and json.loads(marker.read_text())["procedures"] == procedures:
        return json.loads(marker.read_text())
    started = time.perf_counter()
    generate(replay, [MONTH], provinces=[PROVINCE])
    stats = generate_procedures(replay, [MONTH], [PROVINCE], count=procedures)
    info = {"procedures": procedures, "files": stats["files"], "bytes": stats["bytes"],
            "generate_s": round(time.perf_counter() - started, 1)}
    marker.write_text(json.dumps(info))
    return info


def crawl(out: Path, raw: str, budget: int) -> dict:
    """The group crawl, the catalogue, then the procedures, over local HTTP, no pause."""
    store = RawStore(out / raw)
    with serve(out / "replay") as server:
        client = LivePortalClient(server.url, pause_s=0, max_attempts=2, backoff_s=0.01)
        try:
            crawl_catalogue(client, store, datetime.now(UTC))
            crawl_month(client, store, MONTH, (PROVINCE,))
            started = time.perf_counter()
            run = crawl_procedures(client, store, [PROVINCE], [MONTH], budget=budget)
            seconds = time.perf_counter() - started
        finally:
            client.close()
    cov = run.coverage["2026-08"][PROVINCE]
    return {"budget": budget, "requests": run.requests, "procedures": len(run.crawled),
            "seconds": round(seconds, 2), "coverage": cov.share,
            "bytes": sum(c["bytes"] for _p, m in procedure_sessions(store, MONTH)
                         for c in m["captures"])}


def _files(raw_root: str) -> dict[str, list[str]]:
    store = RawStore(Path(raw_root))
    out: dict[str, list[str]] = {}
    for _path, manifest in procedure_sessions(store, MONTH):
        for c in manifest["captures"]:
            out.setdefault(c["endpoint"], []).append(str(store.abspath(c)))
    return out


TREE_NUMS = {
    "dvc-progress-tree": ("totalReceived", "totalOnTime", "totalOverdue"),
    "formality-online-payment-tree": ("totalDossierOnlinePaymentSuccess",
                                      "totalDossierFinancialObligation"),
    "provide-online-tree": (),
}
METRIC = ("STRUCT(code VARCHAR, numerator DOUBLE, denominator DOUBLE, ratio DOUBLE, "
          "score DOUBLE, maxScore DOUBLE)")


def read_floor(raw_root: str) -> dict:
    """DuckDB: unit × parameter rows (trees) and unit × metric rows (metrics endpoints)."""
    import duckdb

    files = _files(raw_root)
    started = time.perf_counter()
    con = duckdb.connect()
    rows = 0
    for endpoint, paths in files.items():
        if endpoint in TREE_NUMS:
            fields = ", ".join(["departmentId VARCHAR", "totalScore DOUBLE", "score DOUBLE"]
                               + [f"{n} DOUBLE" for n in TREE_NUMS[endpoint]])
            columns = {"data": f"STRUCT(children STRUCT({fields})[])"}
            select = "SELECT unnest(data.children, recursive := true) FROM read_json($p, "
        else:
            columns = {"data": "STRUCT(evaluation STRUCT(departmentId VARCHAR, "
                               f"metrics {METRIC}[])[])"}
            select = ("SELECT e.departmentId, unnest(e.metrics, recursive := true) FROM "
                      "(SELECT unnest(data.evaluation) AS e FROM read_json($p, ")
        close = ")" if endpoint in TREE_NUMS else "))"
        sql = f"SELECT count(*) FROM ({select}columns = $c, format = 'auto'){close}"  # noqa: S608
        rows += con.execute(sql, {"p": paths, "c": columns}).fetchone()[0]
    return {"rows": rows, "seconds": round(time.perf_counter() - started, 2),
            "peak_rss_mb": round(_peak_rss_mb())}


def read_typed(raw_root: str) -> dict:
    """msgspec with typed structs: the same rows, as Python tuples."""
    import msgspec

    class Child(msgspec.Struct):
        departmentId: str
        totalReceived: int | None = None
        totalOnTime: int | None = None
        totalScore: float | None = None
        score: float | None = None

    class Metric(msgspec.Struct):
        code: str
        numerator: float | None = None
        denominator: float | None = None
        score: float | None = None

    class Unit(msgspec.Struct):
        departmentId: str
        metrics: list[Metric]

    class Data(msgspec.Struct):
        children: list[Child] = []
        evaluation: list[Unit] = []

    class Answer(msgspec.Struct):
        data: Data

    decode = msgspec.json.Decoder(Answer).decode
    files = _files(raw_root)
    started = time.perf_counter()
    rows = 0
    for paths in files.values():
        for path in paths:
            data = decode(Path(path).read_bytes()).data
            out = [(c.departmentId, c.totalReceived, c.totalOnTime, c.score)
                   for c in data.children]
            out += [(u.departmentId, m.code, m.numerator, m.denominator, m.score)
                    for u in data.evaluation for m in u.metrics]
            rows += len(out)
    return {"rows": rows, "seconds": round(time.perf_counter() - started, 2),
            "peak_rss_mb": round(_peak_rss_mb())}


def in_child(fn, *args) -> dict:
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def run(procedures: int, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    figures = {"generate": prepare(out, procedures)}
    for raw in ("raw-all", "raw-night"):
        if (out / raw).exists():
            import shutil
            shutil.rmtree(out / raw)
    figures["month"] = crawl(out, "raw-all", procedures * 5 + 50)
    figures["night"] = crawl(out, "raw-night", NIGHT_BUDGET)
    raw_all = str(out / "raw-all")
    mb = figures["month"]["bytes"] / 1e6
    for name, fn in (("duckdb_floor", read_floor), ("msgspec_typed", read_typed)):
        r = in_child(fn, raw_all)
        r["mb_per_s"] = round(mb / r["seconds"], 1) if r["seconds"] else None
        figures[name] = r
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.procedures")
    parser.add_argument("--procedures", type=int, default=200)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    out = args.out or Path(f"/tmp/chiso-proc-{args.procedures}")
    print(json.dumps(run(args.procedures, out), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
