"""Benchmark: the raw -> staging -> marts rebuild against DuckDB's floor and a naive loader.

    python -m bench.run --days 3            # generates /tmp/chiso-bench-3 first if needed

Every measurement runs in its own fresh (spawned) process so its peak RSS is its own.
What is measured is what the pipeline does: ``stage_months`` parses only the latest
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

from assets.raw.store import SESSIONS, RawStore, latest_complete_session
from assets.sources.endpoints import ENDPOINTS
from bench.generate import DEFAULT_SEED, generate_days

# Dagster's beta notices on backfill_policy would bury the figures (printed once per process).
warnings.filterwarnings("ignore", message=".*currently in beta.*")

NUMERIC = "DOUBLE"
UNIT_TEXT = ("departmentId", "departmentName", "departmentCode", "departmentType",
             "departmentLevel", "agencyLevel", "level")
METRIC = ("STRUCT(code VARCHAR, name VARCHAR, numerator DOUBLE, denominator DOUBLE, "
          "ratio DOUBLE, score DOUBLE, maxScore DOUBLE, dataQualityStatus VARCHAR, "
          "dataQualityMessage VARCHAR)")
# The union of the unit fields of the three metric endpoints and of the three tree endpoints.
METRIC_UNIT_NUM = ("stt", "totalScore", "totalMaxScore", "ratio", "scoreDelta", "averageScore",
                   "classifiedPetitions", "totalDossiers", "totalPetitions")
TREE_UNIT_NUM = ("totalScore", "totalMaxScore", "score", "maxScore", "ratio", "scoreDelta",
                 "avgProcessingDays", "totalCompleted", "totalOnTime", "totalOverdue",
                 "totalReceived", "totalDossierFinancialObligation",
                 "totalDossierOnlineFormalityPaymentSuccess", "totalDossierOnlinePaymentSuccess",
                 "totalFeeDossierFormality", "totalFeeDossierFormalityDistinct",
                 "totalFeeFormality", "authorityCount", "channelDirectSum", "channelOnlineSum",
                 "channelPostalSum", "channelTotalSum", "fullCount", "onlineDossierCount",
                 "onlineOnTimeSum", "onlineOverdueSum", "onlineServiceTotal", "partialCount")
GROUPS = "STRUCT(" + ", ".join(f"{g} DOUBLE" for g in
                               ("CKMB", "TDGQ", "CLGQ", "TTTT", "MDHL", "MDSH")) + ")"


def _struct(text: tuple[str, ...], nums: tuple[str, ...], extra: str = "") -> str:
    fields = [f"{c} VARCHAR" for c in text] + [f"{c} {NUMERIC}" for c in nums]
    return "STRUCT(" + ", ".join(fields) + (", " + extra if extra else "") + ")"


METRIC_UNIT = _struct(UNIT_TEXT, METRIC_UNIT_NUM, f"metrics {METRIC}[]")
TREE_UNIT = _struct(UNIT_TEXT, TREE_UNIT_NUM)
NATIONAL_ROW = _struct(("departmentId", "departmentName", "departmentCode"),
                       ("stt", "totalScore", "ratio", "scoreDelta"), f"groupScores {GROUPS}")
# Explicit schemas: auto-detection is ~8x slower (shared PITFALLS.md).
FLOOR_SQL = {
    "metrics": f"""CREATE TABLE floor_metrics AS
        WITH units AS (
          SELECT filename, unnest(list_prepend(data.overview, data.evaluation)) AS u
          FROM read_json($files, filename = true,
                         columns = {{'data': 'STRUCT(overview {METRIC_UNIT},
                                                     evaluation {METRIC_UNIT}[])'}}))
        SELECT filename, u.departmentId AS unit_id, u.departmentName AS unit_name,
               u.totalScore, u.totalMaxScore, unnest(u.metrics, recursive := true)
        FROM units""",  # noqa: S608 (fixed type text, no input)
    "tree": f"""CREATE TABLE floor_tree AS
        SELECT filename, unnest(list_prepend(data.parent, data.children), recursive := true)
        FROM read_json($files, filename = true,
                       columns = {{'data': 'STRUCT(parent {TREE_UNIT},
                                                   children {TREE_UNIT}[])'}})""",  # noqa: S608
    "national": f"""CREATE TABLE floor_national AS
        SELECT filename, unnest(data.evaluation, recursive := true)
        FROM read_json($files, filename = true,
                       columns = {{'data': 'STRUCT(evaluation {NATIONAL_ROW}[])'}})""",  # noqa: S608
}


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def parsed_captures(store: RawStore, months: list[date]) -> list[dict]:
    """The captures stage_months reads: the latest complete session of each month."""
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

    from assets.marts.assets import MARTS, rebuild_months
    from assets.staging.assets import _audit_frame, stage_months, validation_datasets
    from assets.warehouse import append_rows, ensure_schema, refresh_reference, replace_months

    t = time.perf_counter()
    import great_expectations  # noqa: F401 (its ~4 s import is reported, not counted)

    from checks.gx_runner import outcome_rows, validate_in_bulk
    gx_import_s = time.perf_counter() - t

    store = RawStore(Path(raw_root))
    t0 = time.perf_counter()
    frames, _sessions = stage_months(store, months)
    t1 = time.perf_counter()
    report = validate_in_bulk(validation_datasets(frames, months))
    t2 = time.perf_counter()
    con = duckdb.connect(db_path)
    ensure_schema(con)
    append_rows(con, "audit.validation_results",
                _audit_frame(outcome_rows(report), "bench", months))
    staged = replace_months(con, {f"staging.{t}": f for t, f in frames.items()}, months)
    t3 = time.perf_counter()
    refresh_reference(con)
    marts = {name: rebuild_months(con, name, months) for name in MARTS}
    con.close()
    t4 = time.perf_counter()
    return {"wall_s": t4 - t0, "parse_s": t1 - t0, "gx_s": t2 - t1, "load_s": t3 - t2,
            "marts_s": t4 - t3, "gx_import_s": gx_import_s,
            "staged_rows": sum(staged.values()), "staged": staged, "marts": marts,
            "blocking_failures": len(report.blocking_failures),
            "peak_rss_mb": _peak_rss_mb()}


def measure_floor(files_by_shape: dict[str, list[str]], db_path: str) -> dict:
    import duckdb

    con = duckdb.connect(db_path)
    t0 = time.perf_counter()
    rows = 0
    for shape, sql in FLOOR_SQL.items():
        if files_by_shape.get(shape):
            con.execute(sql, {"files": files_by_shape[shape]})
            rows += con.execute(f"SELECT count(*) FROM floor_{shape}").fetchone()[0]  # noqa: S608 (fixed names)
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
        naive_budget_s: float = 20.0) -> dict:
    gen = generate_days(out, days, seed, provinces)
    store = RawStore(out / "raw")
    months = [date(int(k[:4]), int(k[5:]), 1) for k in gen["months"]]
    captures = parsed_captures(store, months)
    parsed_bytes = sum(c["bytes"] for c in captures)
    kept_files, kept = kept_bytes(store)
    by_shape: dict[str, list[str]] = {}
    for c in captures:
        by_shape.setdefault(ENDPOINTS[c["endpoint"]].shape, []).append(str(store.abspath(c)))
    # an even sample across the sorted list keeps the mix of endpoints representative
    ordered = sorted((str(store.abspath(c)), ENDPOINTS[c["endpoint"]].shape) for c in captures)
    step = max(1, len(ordered) // 60)
    sample = ordered[::step] + [p for i, p in enumerate(ordered) if i % step]

    with tempfile.TemporaryDirectory(prefix="chiso-bench-db-") as tmp:
        pipe = in_child(measure_pipeline, str(store.root), months, f"{tmp}/pipeline.duckdb")
        floor = in_child(measure_floor, by_shape, f"{tmp}/floor.duckdb")
        naive = in_child(measure_naive, sample, f"{tmp}/naive.duckdb", naive_budget_s)
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
    }
    return result


def render(r: dict) -> str:
    naive_note = (f"extrapolated by bytes from {r['naive_files']} of {r['captures_parsed']} files "
                  f"({r['naive_mb']:.1f} MB in {r['naive_s_sample']:.1f} s)"
                  if r["naive_extrapolated"] else "all files")
    lines = [
        f"chiso766 benchmark: {r['days']} day(s), months {', '.join(r['months'])}, "
        f"provinces {r['provinces']}, seed {r['seed']}",
        "measured: the pipeline's rebuild of every month from its LATEST complete capture "
        "session (what stage_months reads), not a replay of every kept capture",
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
        "(b) floor: DuckDB read_json, explicit columns + unnest, same files (one CREATE TABLE "
        "per response shape)",
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
    args = parser.parse_args(argv)
    provinces = [c.strip().upper() for c in args.provinces.split(",")] if args.provinces else None
    out = args.out or Path(tempfile.gettempdir()) / f"chiso-bench-{args.days}"
    result = run(args.days, out, args.seed, provinces, args.naive_budget_s)
    print(render(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
