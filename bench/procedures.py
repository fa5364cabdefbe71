"""Procedure scale (issue 15 §6): the procedure rebuild against DuckDB's floor.

1. ``tools.synthetic_procedures`` writes a catalogue of N procedures and every
   procedure's five filtered answers for Phú Thọ 08/2026 (163 units) into a replay
   directory (the real group answers and 2.000815's real filtered ones among them);
2. the real crawl code (``crawl_catalogue``, ``crawl_month``, ``crawl_procedures``) takes
   them over HTTP from ``tools.portal_server`` with no pause, with a budget covering all N
   (kept in ``<out>/raw-all``; generation and this crawl are reused by later runs);
3. the nightly run: the same crawl on a fresh raw store with the default budget
   (``DEFAULT_PROCEDURE_BUDGET``); its wall time is what a night adds beyond the crawl's
   own pauses (the client pauses 0 s here);
4. sets of kept answers, each a store sharing raw-all's files under its own manifests:
   the month at N, the month at the curve's smaller N (the procedures the crawl ranked
   first, as a smaller budget takes them) and a "year": the first ``--year-procedures``
   procedures' answers under ``--months`` month manifests (the same bytes each month:
   generating and crawling 12 distinct months does not fit the bench's 10 minutes);
5. each set is rebuilt twice, each in a fresh process (its peak RSS its own):
   (a) the pipeline: the group answers staged and ``metric_monthly`` built first
   (prerequisites, timed apart), then the procedure rebuild: the pipeline's own
   staging path (``procedure_load.stage_procedures``: the engine parses, validates (GX)
   and spills a month ``--chunk`` captures at a time, a procedure's answers in one chunk,
   then replaces the months in one transaction) and the marts ``procedure_monthly`` and
   ``unit_procedure_points_lost`` with their blocking checks;
   (b) the floor: DuckDB's ``read_json`` (explicit types) of the same files into the same
   three tables' rows (units × group, units × metric, units × tree parameter).
   A blocking mart check that fails is timed up to its rollback and printed, not raised.

    python -m bench.procedures --procedures 1000 --months 12 --year-procedures 100
    python -m bench.procedures --out /tmp/pb-1000   # reuses its replay and crawl
"""

import argparse
import json
import multiprocessing as mp
import os
import resource
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

from assets.months import month_key, month_range, previous_month
from assets.raw.crawl import crawl_month
from assets.raw.procedure_crawl import crawl_catalogue, crawl_procedures, procedure_sessions
from assets.raw.store import PROCEDURE_SESSIONS, SESSIONS, RawStore, latest_complete_session
from assets.settings import DEFAULT_PROCEDURE_BUDGET
from assets.sources.portal import LivePortalClient
from assets.staging.procedure_load import CHUNK_CAPTURES
from bench.run import TREE_PARAMS, _tree_unit
from tools.portal_server import serve
from tools.synthetic import generate
from tools.synthetic_procedures import generate_procedures

MONTH = date(2026, 8, 1)
PROVINCE = "H44"
RESULTS = Path(__file__).parent / "results"
PROCEDURE_MARTS = ("procedure_monthly", "unit_procedure_points_lost")
TARGET_RATIO, TARGET_RSS_MB, TARGET_NIGHT_S = 1.0, 2048, 60


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------- preparation

def prepare(out: Path, procedures: int) -> dict:
    """The replay directory (generated once per N)."""
    replay = out / "replay"
    marker = out / "bench-procedures.json"
    if marker.exists() and json.loads(marker.read_text())["procedures"] == procedures:
        return {**json.loads(marker.read_text()), "reused": True}
    shutil.rmtree(replay, ignore_errors=True)
    started = time.perf_counter()
    generate(replay, [MONTH], provinces=[PROVINCE])
    stats = generate_procedures(replay, [MONTH], [PROVINCE], count=procedures)
    info = {"procedures": procedures, "files": stats["files"], "bytes": stats["bytes"],
            "generate_s": round(time.perf_counter() - started, 1)}
    marker.write_text(json.dumps(info))
    return {**info, "reused": False}


def crawl(out: Path, raw: str, budget: int) -> dict:
    """The group crawl, the catalogue, then the procedures, over local HTTP, no pause;
    the seconds are the procedure crawl's."""
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
    cov = run.coverage[month_key(MONTH)][PROVINCE]
    return {"budget": budget, "requests": run.requests, "procedures": len(run.crawled),
            "seconds": round(seconds, 2), "coverage": cov.share,
            "bytes": sum(c["bytes"] for _p, m in procedure_sessions(store, MONTH)
                         for c in m["captures"])}


def crawl_all(out: Path, procedures: int) -> dict:
    """raw-all: every procedure of the month, crawled once per replay directory."""
    marker = out / "raw-all.json"
    if marker.exists() and (out / "raw-all").exists():
        return {**json.loads(marker.read_text()), "reused": True}
    shutil.rmtree(out / "raw-all", ignore_errors=True)
    figures = crawl(out, "raw-all", procedures * 5 + 50)
    marker.write_text(json.dumps(figures))
    return {**figures, "reused": False}


def derive(src: Path, dst: Path, months: list[date], procedures: int | None) -> dict:
    """A store at ``dst`` sharing ``src``'s kept files (symlinks), with ``src``'s month
    under each of ``months``: its group session, and the per-procedure answers of the
    first ``procedures`` procedures in the crawl's order (None: all). The files each
    month reads, per endpoint, and the figures of the set."""
    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir(parents=True)
    for entry in src.iterdir():
        if entry.name not in (SESSIONS, PROCEDURE_SESSIONS):
            os.symlink(entry.resolve(), dst / entry.name)
    store = RawStore(src)
    group_path, group = latest_complete_session(store, MONTH)
    [(proc_path, proc)] = procedure_sessions(store, MONTH)
    order = [p["procedure_id"] for p in proc["procedures"]]
    chosen = set(order[:procedures] if procedures is not None else order)
    kept = [c for c in proc["captures"] if c["formality_id"] in chosen]
    files: dict[str, list[str]] = {}
    for month in months:
        key = month_key(month)
        for folder, name, manifest, captures, extra in (
                (SESSIONS, group_path.name, group, group["captures"], {}),
                (PROCEDURE_SESSIONS, proc_path.name, proc, kept, {"procedures": [
                    p for p in proc["procedures"] if p["procedure_id"] in chosen]})):
            body = {**manifest, **extra, "month": key,
                    "captures": [{**c, "month": key} for c in captures]}
            (dst / folder / key).mkdir(parents=True, exist_ok=True)
            (dst / folder / key / name).write_text(json.dumps(body, ensure_ascii=False))
        for c in kept:
            files.setdefault(c["endpoint"], []).append(str(src / c["path"]))
    return {"months": len(months), "procedures": len(chosen), "captures": len(kept) * len(months),
            "bytes": sum(c["bytes"] for c in kept) * len(months), "files": files}


# --------------------------------------------------------------------------- measurements
# Each runs in a spawned child: the parent's memory does not count in its peak RSS.

def measure_pipeline(raw_root: str, months: list[date], db_path: str,
                     chunk: int = CHUNK_CAPTURES) -> dict:
    """(a) the pipeline's procedure rebuild, after its prerequisites: the engine's
    procedure path (``stage_procedures``: a month parsed, validated and spilled ``chunk``
    captures at a time, then replaced in one transaction), then the procedure marts."""
    import duckdb

    from assets.marts.build import MartCheckFailed, rebuild_months
    from assets.staging.parse import Rows, parse_capture
    from assets.staging.procedure_load import _select, chunk_by_procedure, stage_procedures
    from assets.warehouse import ensure_schema, refresh_reference, replace_months

    store = RawStore(Path(raw_root))
    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    con = duckdb.connect(db_path)
    ensure_schema(con)
    refresh_reference(con)
    # prerequisites: the province's answers for all units, staged; metric_monthly
    rows = Rows()
    for month in months:
        _path, session = latest_complete_session(store, month)
        for capture in session["captures"]:
            if capture.get("http_status") in (200, 201):
                parse_capture(capture, store.read_verified(capture), rows, month)
    replace_months(con, {f"staging.{t}": f for t, f in rows.frames().items()}, months)
    del rows
    metric_rows = rebuild_months(con, "metric_monthly", months)
    # a fixed cost of every staging run: ensure_schema on a current warehouse
    te = time.perf_counter()
    ensure_schema(con)
    ensure_schema_s = time.perf_counter() - te
    chunks = sum(len(chunk_by_procedure(chunk)(_select(store, m))) for m in months)
    rss_before = _peak_rss_mb()
    t1 = time.perf_counter()
    run = stage_procedures(con, store, months, run_id="bench", chunk=chunk,
                           spill_root=Path(db_path).parent / "spill")
    staged = run.counts
    t2 = time.perf_counter()
    marts, mart_s, failed = {}, {}, {}
    for name in PROCEDURE_MARTS:
        started = time.perf_counter()
        try:
            marts[name] = rebuild_months(con, name, months)
        except MartCheckFailed as err:
            # the whole rebuild ran (insert, checks, rollback): timed, and reported
            failed[name] = {"check": err.check, "rows": len(err.bad),
                            "examples": err.described.splitlines()[:3]}
        mart_s[name] = round(time.perf_counter() - started, 2)
    t3 = time.perf_counter()
    con.close()
    seconds = {k: round(v, 2) for k, v in run.seconds.items()}
    return {"loader": "stage_procedures", "chunk": chunk, "chunks": chunks,
            "prerequisites_s": round(t1 - t0, 2), "metric_monthly_rows": metric_rows,
            "ensure_schema_s": round(ensure_schema_s, 2),
            "parse_load_s": round(t2 - t1, 2),
            "parse_s": seconds["parse"], "validate_s": seconds["validate"],
            "load_s": seconds["load"],
            "peak_rss_before_mb": round(rss_before),
            "marts_s": round(t3 - t2, 2), "mart_s": mart_s,
            "rebuild_s": round(t3 - t1, 2), "staged": staged,
            "staged_rows": sum(staged.values()), "marts": marts,
            "blocking_failures": failed, "peak_rss_mb": round(_peak_rss_mb())}


_METRIC = ("STRUCT(code VARCHAR, name VARCHAR, numerator DOUBLE, denominator DOUBLE, "
           "ratio DOUBLE, score DOUBLE, maxScore DOUBLE, dataQualityStatus VARCHAR, "
           "dataQualityMessage VARCHAR)")
_METRIC_UNIT = ("STRUCT(departmentId VARCHAR, departmentName VARCHAR, departmentCode VARCHAR, "
                "departmentType VARCHAR, departmentLevel VARCHAR, totalScore DOUBLE, "
                f"totalMaxScore DOUBLE, ratio DOUBLE, scoreDelta DOUBLE, metrics {_METRIC}[])")
METRIC_ENDPOINTS = ("transparency", "handling-satisfaction", "dossier-digitized")


def floor_sql(endpoint: str) -> list[str]:
    """DuckDB's statements for one endpoint's files ($files): its rows of the three
    procedure tables (unit × group; unit × metric or unit × tree parameter)."""
    name = endpoint.replace("-", "_")
    if endpoint in METRIC_ENDPOINTS:
        return [f"""
            CREATE TABLE units_{name} AS
            SELECT filename, unnest(list_prepend(data.overview, data.evaluation)) AS u
            FROM read_json($files, filename = true, format = 'auto',
                           columns = {{'data': 'STRUCT(overview {_METRIC_UNIT},
                                                       evaluation {_METRIC_UNIT}[])'}})""",  # noqa: S608 (names and types from fixed lists)
                f"""
            CREATE TABLE metrics_{name} AS
            SELECT filename, u.departmentId AS unit_id, unnest(u.metrics, recursive := true)
            FROM units_{name}"""]  # noqa: S608 (names and types from fixed lists)
    params = ", ".join(TREE_PARAMS[endpoint])
    return [f"""
            CREATE TABLE units_{name} AS
            SELECT filename, unnest(list_prepend(data.parent, data.children), recursive := true)
            FROM read_json($files, filename = true, format = 'auto',
                           columns = {{'data': 'STRUCT(parent {_tree_unit(endpoint)},
                                                       children {_tree_unit(endpoint)}[])'}})""",  # noqa: S608 (names and types from fixed lists)
            f"""
            CREATE TABLE params_{name} AS
            SELECT filename, departmentId, parameter, value FROM units_{name}
            UNPIVOT (value FOR parameter IN ({params}))"""]  # noqa: S608 (names and types from fixed lists)


def measure_floor(files_by_endpoint: dict[str, list[str]], db_path: str) -> dict:
    """(b) the floor: the same files into the same rows, by DuckDB alone."""
    import duckdb

    con = duckdb.connect(db_path)
    t0 = time.perf_counter()
    for endpoint, files in files_by_endpoint.items():
        read, derived = floor_sql(endpoint)
        con.execute(read, {"files": files})
        con.execute(derived)
    wall = time.perf_counter() - t0
    tables = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
    counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}  # noqa: S608 (its own tables)
    con.close()
    return {"wall_s": round(wall, 2), "rows": sum(counts.values()), "tables": counts,
            "peak_rss_mb": round(_peak_rss_mb())}


def in_child(fn, *args) -> dict:
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def measure_set(out: Path, label: str, months: list[date], procedures: int | None,
                chunk: int = CHUNK_CAPTURES) -> dict:
    """One set of kept answers: (a), (b) and their ratios."""
    root = out / "sets" / label
    shutil.rmtree(root, ignore_errors=True)
    info = derive(out / "raw-all", root / "raw", months, procedures)
    files = info.pop("files")
    pipeline = in_child(measure_pipeline, str(root / "raw"), months, str(root / "pipe.duckdb"),
                        chunk)
    floor = in_child(measure_floor, files, str(root / "floor.duckdb"))
    fw = floor["wall_s"] or None
    shutil.rmtree(root)
    return {**info, "pipeline": pipeline, "floor": floor,
            "ratio_rebuild": round(pipeline["rebuild_s"] / fw, 2) if fw else None,
            "ratio_parse_load": round(pipeline["parse_load_s"] / fw, 2) if fw else None,
            "mb_per_s": round(info["bytes"] / 1e6 / pipeline["rebuild_s"], 1)
            if pipeline["rebuild_s"] else None}


# --------------------------------------------------------------------------- the report

def run(procedures: int, out: Path, months: int = 12, year_procedures: int = 100,
        curve: tuple[int, ...] = (100, 300), night_budget: int = DEFAULT_PROCEDURE_BUDGET,
        chunk: int = CHUNK_CAPTURES) -> dict:
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    figures: dict = {"procedures": procedures, "chunk": chunk, "generate": prepare(out, procedures),
                     "crawl_all": crawl_all(out, procedures)}
    shutil.rmtree(out / "raw-night", ignore_errors=True)
    figures["night"] = crawl(out, "raw-night", night_budget)
    shutil.rmtree(out / "raw-night", ignore_errors=True)
    crawled = figures["crawl_all"]["procedures"]
    sets: dict[str, dict] = {}
    for n in sorted({*(c for c in curve if c < crawled), crawled}):
        sets[f"month-{n}"] = measure_set(out, f"month-{n}", [MONTH], n, chunk)
    if months > 1:
        first = MONTH
        for _ in range(months - 1):
            first = previous_month(first)
        year = month_range(first, MONTH)
        n = min(year_procedures, crawled)
        sets[f"year-{n}x{len(year)}"] = measure_set(out, f"year-{n}x{len(year)}", year, n, chunk)
    figures["sets"] = sets
    figures["bench_s"] = round(time.perf_counter() - started, 1)
    return figures


def report(figures: dict) -> str:
    g, night = figures["generate"], figures["night"]
    lines = [f"procedure scale: {figures['procedures']} procedures in the catalogue, "
             f"Phú Thọ {month_key(MONTH)}",
             f"  generate: {g['files']} files, {g['bytes'] / 1e6:.0f} MB in {g['generate_s']} s"
             + (" (reused)" if g.get("reused") else ""),
             f"  crawl (all): {figures['crawl_all']['requests']} requests, "
             f"{figures['crawl_all']['procedures']} procedures, "
             f"{figures['crawl_all']['seconds']} s" + (" (reused)" if figures['crawl_all'].get(
                 "reused") else ""),
             "  set            captures     MB | (a) rebuild = parse+load + marts   (s) | "
             "(b) floor (s) | (a)/(b) parse+load/(b) | rows a / b | RSS a / b (MB)"]
    for label, s in figures["sets"].items():
        p, f = s["pipeline"], s["floor"]
        lines.append(
            f"  {label:<14} {s['captures']:>8} {s['bytes'] / 1e6:>6.0f} | "
            f"{p['rebuild_s']:>7} = {p['parse_load_s']:>6} + {p['marts_s']:>6}"
            f" (parse {p['parse_s']}, GX {p['validate_s']}) | {f['wall_s']:>13} | "
            f"{s['ratio_rebuild']:>7}x "
            f"{s['ratio_parse_load']:>7}x | {p['staged_rows']} / {f['rows']} | "
            f"{p['peak_rss_mb']} / {f['peak_rss_mb']}")
    for label, s in figures["sets"].items():
        p = s["pipeline"]
        lines.append(f"  {label}: {p['chunks']} chunks of <= {p['chunk']} captures; parse "
                     f"{p['parse_s']} s, validate {p['validate_s']} s, spill+load "
                     f"{p['load_s']} s; peak RSS {p['peak_rss_before_mb']} MB before the "
                     f"procedure staging, {p['peak_rss_mb']} MB at the end; ensure_schema "
                     f"{p['ensure_schema_s']} s a call")
        for mart, fail in s["pipeline"]["blocking_failures"].items():
            lines.append(f"  {label}: marts.{mart} rolled back by its blocking check "
                         f"{fail['check']} ({fail['rows']} rows, e.g. {fail['examples'][0]})")
    worst_ratio = max(s["ratio_rebuild"] or 0 for s in figures["sets"].values())
    worst_rss = max(s["pipeline"]["peak_rss_mb"] for s in figures["sets"].values())
    lines += [
        f"  (a)/(b) worst {worst_ratio}x (target <= {TARGET_RATIO}x: "
        f"{'met' if worst_ratio <= TARGET_RATIO else 'NOT met'})",
        f"  (c) peak RSS worst {worst_rss} MB (target <= {TARGET_RSS_MB} MB: "
        f"{'met' if worst_rss <= TARGET_RSS_MB else 'NOT met'})",
        f"  (d) nightly procedure crawl, budget {night['budget']}: {night['requests']} requests, "
        f"{night['procedures']} procedures, coverage {night['coverage']}, "
        f"{night['seconds']} s beyond the pauses (target <= {TARGET_NIGHT_S} s: "
        f"{'met' if night['seconds'] <= TARGET_NIGHT_S else 'NOT met'})",
        f"  bench wall time: {figures['bench_s']} s"]
    return "\n".join(lines)


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.procedures")
    parser.add_argument("--procedures", type=int, default=1000,
                        help="procedures in the catalogue (the month crawled)")
    parser.add_argument("--months", type=int, default=12,
                        help="months of the year set (1: no year set)")
    parser.add_argument("--year-procedures", type=int, default=100,
                        help="procedures in each month of the year set")
    parser.add_argument("--curve", type=_ints, default=(100, 300),
                        help="smaller N measured on one month, comma-separated")
    parser.add_argument("--chunk", type=int, default=CHUNK_CAPTURES,
                        help="captures a chunk of the procedure staging")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None,
                        help="write the figures here (default bench/results/"
                             "procedures-<N>.json)")
    args = parser.parse_args(argv)
    out = args.out or Path(f"/tmp/chiso-proc-{args.procedures}")
    figures = run(args.procedures, out, args.months, args.year_procedures, args.curve,
                  chunk=args.chunk)
    print(report(figures))
    target = args.json or RESULTS / f"procedures-{args.procedures}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(figures, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
