"""Benchmark: the raw -> staging -> marts rebuild against DuckDB's floor and a naive loader.

    python -m bench.run --days 3            # generates /tmp/chiso-bench-3 first if needed

Every measurement runs in its own fresh (spawned) process so its peak RSS is its own.
What is measured is what the pipeline does: the staging engine parses only the latest
complete session of each month, so "bytes parsed" (those sessions) is printed next to
"bytes kept" (every distinct raw file of every session).
"""

import argparse
import json
import multiprocessing as mp
import resource
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

from assets.months import parse_month
from assets.raw.store import SESSIONS, RawStore, latest_complete_session
from assets.sources.endpoints import ENDPOINTS
from bench.generate import DEFAULT_SEED, generate_days
from bench.nightly import STEPS_AFTER_STAGING, measure_nightly
from bench.plot import PLOT, RESULTS, plot

# Dagster's beta notices on backfill_policy would bury the figures (printed once per process).
warnings.filterwarnings("ignore", message=".*currently in beta.*")

METRIC = ("STRUCT(code VARCHAR, name VARCHAR, numerator DOUBLE, denominator DOUBLE, "
          "ratio DOUBLE, score DOUBLE, maxScore DOUBLE, dataQualityStatus VARCHAR, "
          "dataQualityMessage VARCHAR)")
GROUPS = "STRUCT(" + ", ".join(f"{g} DOUBLE" for g in
                               ("CKMB", "TDGQ", "CLGQ", "TTTT", "MDHL", "MDSH")) + ")"
# Each endpoint's raw counts (the tree rows' parameters), as the portal sends them.
TREE_PARAMS = {
    "dvc-progress-tree": ("totalReceived", "totalOnTime", "totalCompleted", "totalOverdue",
                          "avgProcessingDays"),
    "provide-online-tree": ("authorityCount", "partialCount", "fullCount", "onlineDossierCount",
                            "onlineServiceTotal", "channelOnlineSum", "channelDirectSum",
                            "channelPostalSum", "channelTotalSum", "onlineOnTimeSum",
                            "onlineOverdueSum"),
    "formality-online-payment-tree": (
        "totalDossierOnlinePaymentSuccess", "totalDossierFinancialObligation",
        "totalDossierOnlineFormalityPaymentSuccess", "totalFeeDossierFormalityDistinct",
        "totalFeeDossierFormality", "totalFeeFormality"),
}


def _struct(text: tuple[str, ...], nums: tuple[str, ...], extra: str = "") -> str:
    fields = [f"{c} VARCHAR" for c in text] + [f"{c} DOUBLE" for c in nums]
    return "STRUCT(" + ", ".join(fields) + (", " + extra if extra else "") + ")"


# Explicit schemas (auto-detection is ~8x slower, shared PITFALLS.md), and narrow ones:
# per endpoint, exactly the fields the pipeline stages. The first floor used one union of
# every endpoint's fields per shape (~30 nullable fields): ~15-20 % slower here.
METRIC_UNIT = _struct(("departmentId", "departmentName", "departmentCode", "departmentType",
                       "departmentLevel"), ("totalScore", "totalMaxScore", "ratio", "scoreDelta"),
                      f"metrics {METRIC}[]")
NATIONAL_ROW = _struct(("departmentId", "departmentName", "departmentCode"),
                       ("stt", "totalScore", "ratio", "scoreDelta"), f"groupScores {GROUPS}")


def _tree_unit(endpoint: str) -> str:
    return _struct(("departmentId", "departmentName", "departmentCode", "level"),
                   ("totalScore", "totalMaxScore", "score", "maxScore", "ratio", "scoreDelta",
                    *TREE_PARAMS[endpoint]))


# (table, the endpoints whose files it reads, the statement)
FLOOR_SQL = [
    ("floor_metrics", ("transparency", "handling-satisfaction", "dossier-digitized"), f"""
        CREATE TABLE floor_metrics AS
        WITH units AS (
          SELECT filename, unnest(list_prepend(data.overview, data.evaluation)) AS u
          FROM read_json($files, filename = true,
                         columns = {{'data': 'STRUCT(overview {METRIC_UNIT},
                                                     evaluation {METRIC_UNIT}[])'}}))
        SELECT filename, u.departmentId AS unit_id, u.departmentName AS unit_name,
               u.totalScore, u.totalMaxScore, unnest(u.metrics, recursive := true)
        FROM units"""),  # noqa: S608 (fixed type text, no input)
    *[(f"floor_tree_{i}", (endpoint,), f"""
        CREATE TABLE floor_tree_{i} AS
        SELECT filename, unnest(list_prepend(data.parent, data.children), recursive := true)
        FROM read_json($files, filename = true,
                       columns = {{'data': 'STRUCT(parent {_tree_unit(endpoint)},
                                                   children {_tree_unit(endpoint)}[])'}})""")  # noqa: S608
      for i, endpoint in enumerate(TREE_PARAMS)],
    ("floor_national", ("service-results",), f"""
        CREATE TABLE floor_national AS
        SELECT filename, unnest(data.evaluation, recursive := true)
        FROM read_json($files, filename = true,
                       columns = {{'data': 'STRUCT(evaluation {NATIONAL_ROW}[])'}})"""),  # noqa: S608
]


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def parsed_captures(store: RawStore, months: list[date]) -> list[dict]:
    """The captures the staging engine reads: the latest complete session of each month."""
    out = []
    for month in months:
        _path, manifest = latest_complete_session(store, month)
        out += [c for c in manifest["captures"] if c["http_status"] in (200, 201)]
    return out


def kept_bytes(store: RawStore) -> tuple[int, int]:
    """(files, bytes) of every distinct raw file any session points at."""
    seen: dict[str, int] = {}
    for manifest_path in (store.root / SESSIONS).glob("*/*.json"):
        for c in json.loads(manifest_path.read_text("utf-8"))["captures"]:
            seen[c["path"]] = c["bytes"]
    return len(seen), sum(seen.values())


# --------------------------------------------------------------------------- measurements
# Each runs in a spawned child: the parent's memory does not count in its peak RSS.


def measure_pipeline(raw_root: str, months: list[date], db_path: str) -> dict:
    import duckdb

    from assets.marts.build import MARTS, rebuild_months
    from assets.staging.engine import stage
    from assets.staging.nightly import NIGHTLY_PATH
    from assets.staging.step import PORTAL_PATH
    from assets.warehouse import ensure_schema, refresh_reference

    t = time.perf_counter()
    import great_expectations  # noqa: F401 (its ~4 s import is reported, not counted)

    gx_import_s = time.perf_counter() - t

    store = RawStore(Path(raw_root))
    t0 = time.perf_counter()
    con = duckdb.connect(db_path)
    ensure_schema(con)
    t1 = time.perf_counter()
    # what the staging asset does (the staging engine): month by month, parse -> validate ->
    # audit, then one transaction; then every crawl's national summary (marts.province_daily)
    run = stage(PORTAL_PATH, con, store, months, run_id="bench")
    report = run.report
    daily = stage(NIGHTLY_PATH, con, store, months, run_id="bench")
    run.counts.update(daily.counts)
    for part in ("parse", "validate", "load"):
        run.seconds[part] += daily.seconds[part]
    t3 = time.perf_counter()
    refresh_reference(con)
    marts = {name: rebuild_months(con, name, months) for name in MARTS}
    con.close()
    t4 = time.perf_counter()
    parse_s, gx_s = run.seconds["parse"], run.seconds["validate"]
    return {"wall_s": t4 - t0, "parse_s": parse_s, "gx_s": gx_s,
            "load_s": (t1 - t0) + run.seconds["load"],
            "marts_s": t4 - t3, "gx_import_s": gx_import_s,
            "staged_rows": sum(run.counts.values()), "staged": run.counts, "marts": marts,
            "blocking_failures": len(report.blocking_failures),
            "peak_rss_mb": _peak_rss_mb()}


def measure_floor(files_by_endpoint: dict[str, list[str]], db_path: str) -> dict:
    import duckdb

    con = duckdb.connect(db_path)
    t0 = time.perf_counter()
    rows = 0
    for table, endpoints, sql in FLOOR_SQL:
        files = [f for e in endpoints for f in files_by_endpoint.get(e, [])]
        if files:
            con.execute(sql, {"files": files})
            rows += con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 (fixed names)
    con.close()
    return {"wall_s": time.perf_counter() - t0, "rows": rows, "peak_rss_mb": _peak_rss_mb()}


def _naive_rows(shape: str, data: dict):
    """The rows a hand-written loader would insert: one per metric, parameter or province."""
    if shape == "metrics":
        for unit in [data["overview"], *data["evaluation"]]:
            for m in unit["metrics"]:
                yield ("m", unit["departmentId"], m["code"], m.get("numerator"),
                       m.get("denominator"), m.get("score"))
    elif shape == "tree":
        for unit in [data["parent"], *data["children"]]:
            for key, value in unit.items():
                if isinstance(value, int | float) and not isinstance(value, bool):
                    yield ("t", unit["departmentId"], key, value, None, None)
    else:
        for row in data["evaluation"]:
            yield ("n", row["departmentId"], "totalScore", row["totalScore"], None, None)


def measure_naive(sample: list[tuple[str, str]], db_path: str, budget_s: float) -> dict:
    import duckdb

    con = duckdb.connect(db_path)
    con.execute("CREATE TABLE naive (kind VARCHAR, unit_id VARCHAR, item VARCHAR, "
                "a DOUBLE, b DOUBLE, c DOUBLE)")
    t0 = time.perf_counter()
    files = nbytes = rows = 0
    for path, shape in sample:
        with open(path, "rb") as fh:
            body = fh.read()
        for row in _naive_rows(shape, json.loads(body)["data"]):
            # autocommit, bound parameters: one statement per row
            con.execute("INSERT INTO naive VALUES (?, ?, ?, ?, ?, ?)", row)
            rows += 1
        files, nbytes = files + 1, nbytes + len(body)
        if time.perf_counter() - t0 > budget_s:
            break
    con.close()
    return {"wall_s": time.perf_counter() - t0, "files": files, "bytes": nbytes, "rows": rows,
            "peak_rss_mb": _peak_rss_mb()}


def in_child(fn, *args) -> dict:
    # a fresh interpreter per measurement; exceptions come back to the parent
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


# --------------------------------------------------------------------------- report


def run(days: int, out: Path, seed: int = DEFAULT_SEED, provinces: list[str] | None = None,
        naive_budget_s: float = 20.0, with_nightly: bool = True) -> dict:
    gen = generate_days(out, days, seed, provinces)
    store = RawStore(out / "raw")
    months = [parse_month(k) for k in gen["months"]]
    captures = parsed_captures(store, months)
    parsed_bytes = sum(c["bytes"] for c in captures)
    kept_files, kept = kept_bytes(store)
    by_endpoint: dict[str, list[str]] = {}
    for c in captures:
        by_endpoint.setdefault(c["endpoint"], []).append(str(store.abspath(c)))
    # an even sample across the sorted list keeps the mix of endpoints representative
    ordered = sorted((str(store.abspath(c)), ENDPOINTS[c["endpoint"]].shape) for c in captures)
    step = max(1, len(ordered) // 60)
    sample = ordered[::step] + [p for i, p in enumerate(ordered) if i % step]

    with tempfile.TemporaryDirectory(prefix="chiso-bench-db-") as tmp:
        pipe = in_child(measure_pipeline, str(store.root), months, f"{tmp}/pipeline.duckdb")
        floor = in_child(measure_floor, by_endpoint, f"{tmp}/floor.duckdb")
        naive = in_child(measure_naive, sample, f"{tmp}/naive.duckdb", naive_budget_s)
        nightly = (in_child(measure_nightly, f"{tmp}/nightly", f"{tmp}/pipeline.duckdb",
                            provinces, seed) if with_nightly else None)
    naive_full_s = naive["wall_s"] * parsed_bytes / naive["bytes"]
    mb = parsed_bytes / 1e6
    result = {
        "days": days, "months": gen["months"], "seed": seed,
        "provinces": provinces or "all 34",
        "captures_parsed": len(captures), "mb_parsed": mb,
        "raw_files_kept": kept_files, "mb_kept": kept / 1e6,
        "pipeline_s": pipe["wall_s"], "pipeline_mb_s": mb / pipe["wall_s"],
        "pipeline_rows": pipe["staged_rows"],
        "pipeline_rows_s": pipe["staged_rows"] / pipe["wall_s"],
        "pipeline_peak_rss_mb": pipe["peak_rss_mb"],
        "parse_s": pipe["parse_s"], "gx_s": pipe["gx_s"], "load_s": pipe["load_s"],
        "marts_s": pipe["marts_s"], "gx_import_s": pipe["gx_import_s"],
        "gx_share": pipe["gx_s"] / pipe["wall_s"],
        "blocking_failures": pipe["blocking_failures"],
        "marts_rows": pipe["marts"], "staged_rows": pipe["staged"],
        "floor_s": floor["wall_s"], "floor_mb_s": mb / floor["wall_s"], "floor_rows": floor["rows"],
        "floor_peak_rss_mb": floor["peak_rss_mb"],
        "naive_files": naive["files"], "naive_mb": naive["bytes"] / 1e6,
        "naive_s_sample": naive["wall_s"], "naive_rows_sample": naive["rows"],
        "naive_s_est": naive_full_s, "naive_mb_s": naive["bytes"] / 1e6 / naive["wall_s"],
        "naive_extrapolated": naive["files"] < len(captures),
        "ratio_pipeline_floor": pipe["wall_s"] / floor["wall_s"],
        "ratio_naive_pipeline": naive_full_s / pipe["wall_s"],
        "nightly": nightly,
    }
    return result


def _night_line(label: str, night: dict, startup_s: float) -> str:
    later = [s for s in night["skipped"] if s.startswith(STEPS_AFTER_STAGING)]
    ran = [s for s in night["ran"] if s.startswith(STEPS_AFTER_STAGING)]
    what = (f"marts, publish, scorecard skipped ({len(later)} steps)" if later and not ran
            else f"{len(ran)} steps after staging ran")
    crawl, stage = night["step_s"].get("raw__portal_captures"), night["step_s"].get(
        "staging_tables")
    return (f"  {label:<19} {night['wall_s']:.2f} s wall, {night['wall_s'] - startup_s:.2f} s "
            f"beyond start-up; crawl {crawl} s, staging {stage} s; {what}")


def render(r: dict) -> str:
    naive_note = (f"extrapolated by bytes from {r['naive_files']} of {r['captures_parsed']} files "
                  f"({r['naive_mb']:.1f} MB in {r['naive_s_sample']:.1f} s)"
                  if r["naive_extrapolated"] else "all files")
    lines = [
        f"chiso766 benchmark: {r['days']} day(s), months {', '.join(r['months'])}, "
        f"provinces {r['provinces']}, seed {r['seed']}",
        "measured: the pipeline's rebuild of every month from its LATEST complete capture "
        "session (what the staging engine reads), not a replay of every kept capture",
        f"  bytes parsed        {r['mb_parsed']:.1f} MB in {r['captures_parsed']} responses",
        f"  bytes kept          {r['mb_kept']:.1f} MB in {r['raw_files_kept']} raw files "
        "(all sessions)",
        "(a) pipeline raw -> staging -> GX -> warehouse -> marts",
        f"  wall time           {r['pipeline_s']:.2f} s",
        f"  throughput          {r['pipeline_mb_s']:.1f} MB/s, {r['pipeline_rows_s']:,.0f} rows/s "
        f"({r['pipeline_rows']:,} staged rows)",
        f"  peak RSS            {r['pipeline_peak_rss_mb']:.0f} MB",
        f"  stages              parse {r['parse_s']:.2f} s, GX {r['gx_s']:.2f} s, "
        f"load {r['load_s']:.2f} s, marts {r['marts_s']:.2f} s "
        f"(GX import {r['gx_import_s']:.1f} s, once per process, not counted)",
        f"  marts rows          {json.dumps(r['marts_rows'])}",
        f"  blocking failures   {r['blocking_failures']}",
        "(b) floor: DuckDB read_json, explicit narrow columns + unnest, same files (one CREATE "
        "TABLE per endpoint schema)",
        f"  wall time           {r['floor_s']:.2f} s, {r['floor_mb_s']:.1f} MB/s, "
        f"{r['floor_rows']:,} rows, peak RSS {r['floor_peak_rss_mb']:.0f} MB",
        "(c) naive: per-file json.load + row-by-row INSERT (bound parameters, autocommit)",
        f"  wall time           {r['naive_s_est']:.2f} s ({naive_note}), "
        f"{r['naive_mb_s']:.2f} MB/s",
        "(d) GX validation",
        f"  share of rebuild    {100 * r['gx_share']:.1f} %",
        "ratios",
        f"  pipeline/floor      {r['ratio_pipeline_floor']:.2f}x",
        f"  naive/pipeline      {r['ratio_naive_pipeline']:.2f}x",
    ]
    n = r.get("nightly")
    if n:
        lines += [
            f"(e) nightly through Dagster: refresh_months over {' and '.join(n['months'])} "
            "(previous + open month), SQLite instance, replayed portal without pause, "
            f"warehouse {n['warehouse_mb']:.0f} MB",
            f"  Dagster start-up    run of a one-op job {n['startup_run_s']:.2f} s "
            f"(per process also: import dagster {n['import_s']:.1f} s, load the code "
            f"location {n['load_defs_s']:.1f} s)",
            _night_line("first night", n["first"], n["startup_run_s"]),
            _night_line("nothing new", n["nothing_new"], n["startup_run_s"]),
            _night_line("one new day", n["new_day"], n["startup_run_s"]),
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None,
                        help="bench data directory (default /tmp/chiso-bench-<days>)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--provinces", default=None, help="e.g. H44,H60 (default: all 34)")
    parser.add_argument("--naive-budget-s", type=float, default=20.0,
                        help="stop the naive loader after this long and extrapolate")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--no-nightly", action="store_true",
                        help="skip (e), the nightly runs through Dagster")
    parser.add_argument("--record", action="store_true",
                        help=f"keep the figures in {RESULTS}/ and redraw {PLOT}")
    args = parser.parse_args(argv)
    provinces = [c.strip().upper() for c in args.provinces.split(",")] if args.provinces else None
    out = args.out or Path(tempfile.gettempdir()) / f"chiso-bench-{args.days}"
    result = run(args.days, out, args.seed, provinces, args.naive_budget_s,
                 with_nightly=not args.no_nightly)
    print(render(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1), "utf-8")
    if args.record:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"days-{args.days}.json").write_text(json.dumps(result, indent=1), "utf-8")
        print(f"recorded {RESULTS / f'days-{args.days}.json'}; plot {plot(RESULTS, PLOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
