"""Synthetic procedure data in a replay directory: the catalogue and filtered answers.

Adds to a replay directory written by ``tools.synthetic`` (it reads the provinces'
unfiltered answers there):

- ``formalities/page-<n>.json``: a catalogue of ``count`` procedures in pages of
  ``CATALOGUE_PAGE_SIZE``: the real items of the samples' first and last pages, the
  samples' procedure 2.000815, then synthetic ones (codes ``9.xxxxxx``, named so);
- for each selected province and month, the five filtered group answers (all but MDHL)
  of every procedure, at ``replay_relpath`` (with ``formalityId``/``formalityID``); only
  the procedures applied by one of the province's units have dossiers there, the others
  answer with zeros, as the portal does. The real answers of 2.000815 in Phú Thọ 08/2026 are
  copied byte for byte; every other answer is derived from the province's own answer:
  each unit's dossiers are shared out over the procedures (at most ``SHARE_TOTAL`` of
  them, after the real procedure's), the procedure's parent and overview are the sums of
  its units, and scores are recomputed from the counts (CLGQ, whose formula is unknown,
  keeps the province's scores). So a procedure's units sum to the procedure, and the
  procedures' received sum to no more than the province's.

Deterministic by seed; files are listed in ``index.json`` as this generator's.

    python -m tools.synthetic_procedures --replay data/portal-replay --provinces H44 \
        --months 2026-08:2026-08 --count 40
"""

import argparse
import json
import math
import random
import sys
import uuid
from datetime import date
from pathlib import Path

from assets.sources.endpoints import (
    CATALOGUE_PAGE_SIZE,
    FORMALITIES,
    GROUP_ENDPOINTS,
    PROCEDURE_GROUPS,
    catalogue_payload,
    month_payload,
    replay_relpath,
)
from tools.scoring_oracle import metric_score, tdgq_score, tttt_score
from tools.synthetic import (
    DEFAULT_SAMPLES_DIR,
    DEFAULT_SEED,
    _atomic_write,
    _sha256,
    dump,
    load_provinces,
    parse_months,
)

GENERATOR = "tools.synthetic_procedures"
SHARE_TOTAL = 0.9  # at most this share of a unit's dossiers goes to catalogued procedures
# Metrics counted on dossiers: a procedure's unit row carries its share of them.
DOSSIER_METRICS = frozenset({
    "DOSSIER_SYNC", "ORIGINAL_RESULT_AVAILABLE", "SO_HOA_GIAY_TO_GIAI_QUYET",
    "REUSED_DIGITIZED_DATA", "SYNCED_WITH_DVCQG_PERSONAL_STORAGE",
    "CITIZEN_DATA_CONNECTED_DOSSIER"})
# The filtered dossier-digitized answer has no such metric (max 20, not 22): samples.
NOT_PER_PROCEDURE = frozenset({"CITIZEN_DATA_CONNECTED_FORMALITY"})
CLGQ_CHANNELS = ("channelOnlineSum", "channelDirectSum", "channelPostalSum",
                 "onlineOnTimeSum", "onlineOverdueSum")


def _manifest(samples_dir: Path) -> dict:
    return json.loads((samples_dir / "manifest.json").read_text("utf-8"))


def real_procedure(samples_dir: Path = DEFAULT_SAMPLES_DIR) -> dict:
    """The samples' procedure (2.000815): its id, code and name."""
    return _manifest(samples_dir)["formality"]


def catalogue_items(count: int, units: list[str], seed: int,
                    samples_dir: Path = DEFAULT_SAMPLES_DIR) -> list[dict]:
    """``count`` catalogue items (at least the 12 real ones): real first, then synthetic,
    a third of them applied by the given units."""
    items = []
    for name in ("page-1.json", "page-last.json"):
        items += json.loads((samples_dir / "formalities" / name).read_bytes())["data"]["items"]
    real = real_procedure(samples_dir)
    items.append({"id": real["id"], "code": real["code"], "name": real["name"],
                  "state": "UPDATED", "departmentId": None, "publishingDepartmentIds": [],
                  "appliedDepartmentIds": sorted(units)})
    rng = random.Random(f"{seed}-catalogue")
    for i in range(len(items), count):
        here = i % 3 == 0 and units
        applied = sorted(rng.sample(units, min(len(units), rng.randint(1, 8)))) if here else [
            str(uuid.UUID(int=rng.getrandbits(128), version=4))]
        items.append({
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"chiso766-procedure-{seed}-{i}")),
            "code": f"9.{i:06d}", "name": f"Thủ tục tổng hợp số {i} (dữ liệu giả lập)",
            "state": rng.choice(("UPDATED", "ACTIVE", "ACTIVE", "INACTIVE")),
            "departmentId": None, "publishingDepartmentIds": [], "appliedDepartmentIds": applied})
    return items[:max(count, 12)]


def catalogue_pages(items: list[dict], page_size: int = CATALOGUE_PAGE_SIZE) -> list[bytes]:
    pages = max(1, math.ceil(len(items) / page_size))
    return [dump({"code": "OK", "data": {
        "items": items[(n - 1) * page_size:n * page_size],
        "pagination": {"total": len(items), "currentPage": n, "pageSize": page_size,
                       "totalPages": pages}}, "message": "OK"}) for n in range(1, pages + 1)]


# --- a filtered answer from the province's ---------------------------------------------

def _scaled(value, factor: float) -> int:
    return int(math.floor((value or 0) * factor))


def _rescore_metric(m: dict, num: int, den: int) -> None:
    m["numerator"], m["denominator"] = num, den
    m["ratio"] = round(100 * num / den, 2) if den else None
    score = metric_score(m["code"], num, den)
    m["score"] = None if score is None else round(score, 2)


def derive(endpoint_name: str, province_doc: dict, factors: dict[str, float],
           share: float) -> dict:
    """The answer filtered to one procedure holding ``factors[unit]`` of each unit's
    dossiers (``share`` of the province's, for figures with no unit split)."""
    doc = json.loads(json.dumps(province_doc))
    data = doc["data"]
    if "parent" in data:
        parent, children = data["parent"], data["children"]
        if endpoint_name == "dvc-progress-tree":
            for ch in children:
                f = factors.get(ch["departmentId"], 0.0)
                received = _scaled(ch.get("totalReceived"), f)
                on_time = min(received, _scaled(ch.get("totalOnTime"), f))
                ch.update(totalReceived=received, totalOnTime=on_time,
                          ratio=round(100 * on_time / received, 2) if received else 0,
                          score=round(tdgq_score(on_time, received), 2) if received else 0)
                if "totalOverdue" in ch:
                    ch["totalOverdue"] = received - on_time
            received = sum(ch["totalReceived"] for ch in children)
            on_time = sum(ch["totalOnTime"] for ch in children)
            parent.update(totalReceived=received, totalOnTime=on_time,
                          totalCompleted=min(received, _scaled(parent.get("totalCompleted"),
                                                               share)),
                          ratio=round(100 * on_time / received, 2) if received else 0,
                          totalScore=round(tdgq_score(on_time, received), 2) if received else 0)
        elif endpoint_name == "formality-online-payment-tree":
            for row in children:
                f = factors.get(row["departmentId"], 0.0)
                owed = _scaled(row.get("totalDossierFinancialObligation"), f)
                row["totalDossierFinancialObligation"] = owed
                row["totalDossierOnlinePaymentSuccess"] = min(
                    owed, _scaled(row.get("totalDossierOnlinePaymentSuccess"), f))
                row["totalScore"] = round(tttt_score(row), 2)
                row["ratio"] = round(10 * row["totalScore"], 2)
            for key in ("totalDossierFinancialObligation", "totalDossierOnlinePaymentSuccess"):
                parent[key] = sum(ch[key] for ch in children)
            parent["totalScore"] = round(tttt_score(parent), 2)
            parent["ratio"] = round(10 * parent["totalScore"], 2)
        else:  # provide-online-tree: the channel counts, shared; the scores as they were
            for key in CLGQ_CHANNELS:
                parent[key] = _scaled(parent.get(key), share)
            parent["channelTotalSum"] = sum(parent[k] for k in CLGQ_CHANNELS[:3])
            parent["onlineDossierCount"] = parent["onlineServiceTotal"] = 1
        return doc
    overview, rows = data["overview"], data["evaluation"]
    for row in [overview, *rows]:
        row["metrics"] = [m for m in row["metrics"] if m["code"] not in NOT_PER_PROCEDURE]
    for row in rows:
        f = factors.get(row["departmentId"], 0.0)
        for m in row["metrics"]:
            if m["code"] in DOSSIER_METRICS and m.get("denominator") is not None:
                den = _scaled(m["denominator"], f)
                _rescore_metric(m, min(den, _scaled(m["numerator"], f)), den)
    for i, m in enumerate(overview["metrics"]):
        if m["code"] in DOSSIER_METRICS and m.get("denominator") is not None:
            num = sum(r["metrics"][i]["numerator"] or 0 for r in rows)
            den = sum(r["metrics"][i]["denominator"] or 0 for r in rows)
            _rescore_metric(m, num, den)
    for row in [overview, *rows]:
        row["totalMaxScore"] = round(sum(m["maxScore"] for m in row["metrics"]), 2)
        row["totalScore"] = round(sum(m["score"] or 0 for m in row["metrics"]), 2)
        row["ratio"] = round(100 * row["totalScore"] / row["totalMaxScore"], 2)
    return doc


def _unit_received(doc: dict) -> dict[str, int]:
    return {ch["departmentId"]: ch.get("totalReceived") or 0 for ch in doc["data"]["children"]}


def unit_factors(procedures: list[dict], units: dict[str, int], rng: random.Random,
                 reserved: dict[str, float]) -> dict[str, dict[str, float]]:
    """procedure id -> unit -> its share of the unit's dossiers; per unit, the shares of
    all procedures sum to at most SHARE_TOTAL minus what ``reserved`` (the real
    procedure) takes."""
    weights = {p["id"]: 1.0 / (n + 1) ** 1.1 for n, p in enumerate(procedures)}
    out: dict[str, dict[str, float]] = {p["id"]: {} for p in procedures}
    for unit in units:
        draws = {pid: w * rng.uniform(0.3, 1.7) for pid, w in weights.items()}
        room = max(0.0, SHARE_TOTAL - reserved.get(unit, 0.0))
        total = sum(draws.values()) or 1.0
        for pid, d in draws.items():
            out[pid][unit] = room * d / total
    return out


def generate_procedures(replay_dir: Path, months: list[date], provinces: list[str], *,
                        count: int = 40, seed: int = DEFAULT_SEED,
                        samples_dir: Path = DEFAULT_SAMPLES_DIR,
                        per_province: int | None = None) -> dict:
    """Write the catalogue and the filtered answers; return {files, procedures, bytes}.
    ``per_province``: at most this many procedures get answers in each province-month
    (those applied there first; None: every procedure)."""
    replay_dir = Path(replay_dir)
    refs = {r["departmentCode"]: r for r in load_provinces()}
    manifest = _manifest(samples_dir)
    real = manifest["formality"]
    real_files = {(e["payload"]["rootDepartmentId"], e["url"].rsplit("/", 1)[1]): e
                  for e in manifest["captures"]
                  if e.get("scope") == "formality" and e.get("period") == "month"}
    tdgq = GROUP_ENDPOINTS["TDGQ"]
    province_docs: dict[tuple[str, date], dict[str, dict]] = {}
    all_units: set[str] = set()
    for code in provinces:
        pid = refs[code]["departmentId"]
        for month in months:
            docs = {}
            for group in PROCEDURE_GROUPS:
                ep = GROUP_ENDPOINTS[group]
                path = replay_dir / replay_relpath(ep, month_payload(ep, month, province_id=pid))
                if path.is_file():
                    docs[ep.name] = json.loads(path.read_bytes())
            if tdgq.name in docs and len(docs) == len(PROCEDURE_GROUPS):
                province_docs[(code, month)] = docs
                all_units |= set(_unit_received(docs[tdgq.name]))
    items = catalogue_items(count, sorted(all_units), seed, samples_dir)
    index_path = replay_dir / "index.json"
    index = json.loads(index_path.read_text("utf-8")) if index_path.exists() else {}
    index = {k: v for k, v in index.items() if v.get("generator") != GENERATOR}
    meta = {"synthetic": True, "generator": GENERATOR, "seed": seed}
    written = size = 0

    def write(rel: str, body: bytes, info: dict) -> None:
        nonlocal written, size
        _atomic_write(replay_dir / rel, body)
        index[rel] = info
        written += 1
        size += len(body)

    for n, body in enumerate(catalogue_pages(items), 1):
        write(replay_relpath(FORMALITIES, catalogue_payload(n)), body, meta)
    for (code, month), docs in sorted(province_docs.items()):
        pid = refs[code]["departmentId"]
        units = _unit_received(docs[tdgq.name])
        here = sorted(items, key=lambda it: (it["id"] != real["id"],
                                             not set(it["appliedDepartmentIds"]) & set(units),
                                             it["code"]))
        if per_province is not None:
            here = here[:per_province]
        is_real = all((pid, GROUP_ENDPOINTS[g].name) in real_files for g in PROCEDURE_GROUPS) \
            and month == date.fromisoformat(f"{manifest_month(real_files)}-01")
        reserved: dict[str, float] = {}
        if is_real:
            doc = json.loads((samples_dir / real_files[(pid, tdgq.name)]["file"]).read_bytes())
            reserved = {u: (r / units[u] if units.get(u) else 0.0)
                        for u, r in _unit_received(doc).items()}
        synthetic = [it for it in here if not (is_real and it["id"] == real["id"])
                     and set(it["appliedDepartmentIds"]) & set(units)]
        factors = unit_factors(synthetic, units, random.Random(f"{seed}-{code}-{month}"),
                               reserved)
        province_received = docs[tdgq.name]["data"]["parent"].get("totalReceived") or 0
        for it in here:
            for group in PROCEDURE_GROUPS:
                ep = GROUP_ENDPOINTS[group]
                rel = replay_relpath(ep, month_payload(ep, month, province_id=pid,
                                                      formality_id=it["id"]))
                if is_real and it["id"] == real["id"]:
                    entry = real_files[(pid, ep.name)]
                    raw = (samples_dir / entry["file"]).read_bytes()
                    if _sha256(raw) != entry["sha256"]:
                        raise ValueError(f"{entry['file']}: sha256 differs from the manifest")
                    write(rel, raw, {"synthetic": False, "recordedAt": entry["capturedAt"],
                                     "sourceUrl": entry["url"], "sha256": entry["sha256"]})
                    continue
                f = factors.get(it["id"], {})
                share = (sum(f.get(u, 0) * r for u, r in units.items()) / province_received
                         if province_received else 0.0)
                write(rel, dump(derive(ep.name, docs[ep.name], f, share)), meta)
    _atomic_write(index_path, dump({k: index[k] for k in sorted(index)}))
    return {"files": written, "procedures": len(items), "bytes": size,
            "province_months": len(province_docs)}


def manifest_month(real_files: dict) -> str:
    entry = next(iter(real_files.values()))["payload"]
    return f"{entry['year']:04d}-{entry['month']:02d}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.synthetic_procedures",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--replay", type=Path, required=True)
    parser.add_argument("--months", required=True, help="YYYY-MM:YYYY-MM or YYYY-MM,...")
    parser.add_argument("--provinces", required=True, help="e.g. H44,H60")
    parser.add_argument("--count", type=int, default=40, help="procedures in the catalogue")
    parser.add_argument("--per-province", type=int, default=None)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    stats = generate_procedures(args.replay, parse_months(args.months),
                                [c.strip().upper() for c in args.provinces.split(",")],
                                count=args.count, seed=args.seed,
                                per_province=args.per_province)
    print(json.dumps(stats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
