"""Synthetic history before today's API: the legacy JSP service (63 provinces) and the
province rows of the ranking spreadsheets staff exported by hand.

No capture of the legacy service exists (``../shared/docs/INDEX_766.md`` §3 names its
request and its columns, ``ID, TEN, ROW_STT, CKMB, TDGQ, CLGQ, TTTT, MDHL, MDSH,
TONG_SCORE``); the shape written here is that description: a bare JSON array of rows.
Everything is deterministic by seed and labelled synthetic by the files' location
(``CHISO_PORTAL_URL`` replay) and by the spreadsheets' title rows.

    python -m tools.synthetic_history --out data/portal-replay --months 2025-01:2025-06 \\
        --inbox data/inbox
"""

import argparse
import json
import random
from datetime import date
from pathlib import Path

from assets.domain.catalogue import GROUP_CODES, GROUPS
from assets.domain.provinces import Province, province_reference
from assets.months import FIRST_MONTH, Era, era_of, month_key, months_between, parse_month
from assets.months import month_range as months_from_to
from assets.sources.endpoints import LEGACY, legacy_payload, replay_relpath

DEFAULT_SEED = 766
GENERATOR = "tools.synthetic_history"
# Some provinces' names as the legacy service spelled them (variants on purpose).
LEGACY_SPELLING = {"old:ho-chi-minh": "TP. Hồ Chí Minh", "old:hue": "Thừa Thiên Huế",
                   "old:ba-ria-vung-tau": "Bà Rịa - Vũng Tàu"}
UNIT_KINDS = ("Sở Tư pháp", "Sở Tài chính", "Sở Xây dựng", "Sở Y tế", "Sở Công Thương",
              "Sở Giáo dục và Đào tạo", "Sở Nội vụ", "Sở Giao thông vận tải",
              "Sở Tài nguyên và Môi trường", "Sở Kế hoạch và Đầu tư")


def old_provinces() -> list[Province]:
    return sorted((p for p in province_reference() if p.era == Era.PRE_MERGER), key=lambda p: p.key)


def legacy_id(province: Province) -> int:
    """A stable numeric ID per old province (the real service's IDs are not known)."""
    return 100 + [p.key for p in old_provinces()].index(province.key)


def _months_from(start: date, month: date) -> int:
    return months_between(start, month)


def _quality(key: str, month: date, seed: int) -> float:
    """A province's level (0..1): its own base, a slow trend, monthly noise.
    Tuyên Quang starts weak in 2023 and climbs, which is the project's story."""
    base_rng = random.Random(f"{seed}:{key}")
    base = base_rng.uniform(0.55, 0.9)
    trend = base_rng.uniform(-0.002, 0.006)
    if key == "old:tuyen-quang":
        base, trend = 0.5, 0.008
    t = _months_from(FIRST_MONTH, month)
    noise = random.Random(f"{seed}:{key}:{month}").uniform(-0.03, 0.03)
    return max(0.2, min(0.98, base + trend * t + noise))


def group_scores(key: str, month: date, seed: int, spread: float = 0.12) -> dict[str, float]:
    q = _quality(key, month, seed)
    rng = random.Random(f"{seed}:{key}:{month}:groups")
    return {g: round(GROUPS[g].max_score * max(0.0, min(1.0, q + rng.uniform(-spread, spread))),
                     2) for g in GROUP_CODES}


def _row(rid: int | str, name: str, scores: dict[str, float]) -> dict:
    return {"ID": rid, "TEN": name, "ROW_STT": None, **scores,
            "TONG_SCORE": round(sum(scores.values()), 2)}


def _ranked(rows: list[dict]) -> list[dict]:
    rows.sort(key=lambda r: -r["TONG_SCORE"])
    for n, r in enumerate(rows, 1):
        r["ROW_STT"] = n
    return rows


def legacy_ranking(month: date, seed: int = DEFAULT_SEED) -> list[dict]:
    """The 63 provinces of one month, as p_tinh_id = 0 lists them."""
    return _ranked([_row(legacy_id(p), LEGACY_SPELLING.get(p.key, p.name),
                         group_scores(p.key, month, seed)) for p in old_provinces()])


def legacy_units(province: Province, month: date, seed: int = DEFAULT_SEED) -> list[dict]:
    """One old province's units (departments and districts) for one month."""
    pid = legacy_id(province)
    rng = random.Random(f"{seed}:{province.key}:units")
    names = list(UNIT_KINDS[:rng.randint(6, len(UNIT_KINDS))])
    names += [f"UBND huyện {n}" for n in ("Bắc", "Nam", "Đông", "Tây", "Trung", "Sơn", "Hà",
                                           "Lâm", "Yên", "Hòa")[:rng.randint(5, 10)]]
    q = _quality(province.key, month, seed)
    rows = []
    for j, name in enumerate(names, 1):
        unit_q = q + random.Random(f"{seed}:{province.key}:{name}").uniform(-0.15, 0.1)
        scores = group_scores(f"{province.key}/{j}", month, seed)
        scores = {g: round(min(GROUPS[g].max_score, s * unit_q / max(q, 0.01)), 2)
                  for g, s in scores.items()}
        rows.append(_row(f"{pid}{j:03d}", name, scores))
    return _ranked(rows)


def current_rows(month: date, seed: int = DEFAULT_SEED) -> list[dict]:
    """The 34 provinces of a month after the merger, for a ranking spreadsheet:
    province_name plus the six group scores — each the mean of its predecessors' levels,
    so a province's series does not jump at the merger."""
    out = []
    reference = province_reference()
    for p in sorted((p for p in reference if p.era == Era.MERGED), key=lambda p: p.key):
        parts = [group_scores(o.key, month, seed) for o in reference
                 if o.era == Era.PRE_MERGER and o.successor == p.key]
        scores = {g: round(sum(part[g] for part in parts) / len(parts), 2) for g in GROUP_CODES}
        out.append({"province_name": p.short, **{g.lower(): s for g, s in scores.items()}})
    return out


def old_rows(month: date, seed: int = DEFAULT_SEED, with_dossiers: bool = False) -> list[dict]:
    """The 63 provinces of a month before the merger, for a ranking spreadsheet."""
    out = []
    for p in old_provinces():
        row = {"province_name": LEGACY_SPELLING.get(p.key, p.short),
               **{g.lower(): s for g, s in group_scores(p.key, month, seed).items()}}
        if with_dossiers:
            row["dossiers_received"] = random.Random(f"{seed}:{p.key}:dossiers").randint(
                8_000, 160_000)
        out.append(row)
    return out


def write_legacy_replay(out: Path, months: list[date], seed: int = DEFAULT_SEED,
                        provinces: list[Province] | None = None) -> int:
    """Write the legacy service's answers for ``months`` into a replay directory."""
    index_path = out / "index.json"
    index = json.loads(index_path.read_text("utf-8")) if index_path.exists() else {}
    written = 0
    for month in months:
        files = {replay_relpath(LEGACY, legacy_payload(month)): legacy_ranking(month, seed)}
        for p in provinces or old_provinces():
            payload = legacy_payload(month, str(legacy_id(p)))
            files[replay_relpath(LEGACY, payload)] = legacy_units(p, month, seed)
        for rel, rows in files.items():
            path = out / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(json.dumps(rows, ensure_ascii=False).encode())
            index[rel] = {"synthetic": True, "generator": GENERATOR, "seed": seed}
            written += 1
    out.mkdir(parents=True, exist_ok=True)
    index_path.write_bytes(json.dumps(dict(sorted(index.items())), ensure_ascii=False,
                                      indent=1).encode())
    return written


# The demo's spreadsheets: two Augusts before the merger (six columns, one with dossier
# counts), and the first two months after it in the merged layout (Dịch vụ trực tuyến /22).
BUNDLED_SHEETS = (
    ("xep-hang-766-thang-08-2023.xlsx", date(2023, 8, 1), "six_groups", True),
    ("xep-hang-766-thang-08-2024.xlsx", date(2024, 8, 1), "six_groups", False),
    ("bang-xep-hang-2025-07.csv", date(2025, 7, 1), "online_merged", False),
    ("bang-xep-hang-2025-08.csv", date(2025, 8, 1), "online_merged", False),
)


def write_bundled_spreadsheets(inbox: Path, seed: int = DEFAULT_SEED) -> list[Path]:
    """Drop the demo's ranking spreadsheets into an inbox folder."""
    from tools.synthetic_sheets import write_ranking_csv, write_ranking_xlsx

    inbox.mkdir(parents=True, exist_ok=True)
    written = []
    for name, month, layout, dossiers in BUNDLED_SHEETS:
        rows = (old_rows(month, seed, with_dossiers=dossiers) if era_of(month) is Era.PRE_MERGER
                else current_rows(month, seed))
        writer = write_ranking_xlsx if name.endswith(".xlsx") else write_ranking_csv
        written.append(writer(inbox / name, month, rows, layout=layout, dossiers=dossiers))
    return written


def month_range(spec: str) -> list[date]:
    first, _, last = spec.partition(":")
    return months_from_to(parse_month(first), parse_month(last or first))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--months", required=True, help="yyyy-mm:yyyy-mm (before 2025-07)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--inbox", type=Path,
                        help="also drop the demo's ranking spreadsheets into this folder")
    args = parser.parse_args()
    months = month_range(args.months)
    late = [m for m in months if era_of(m) is Era.MERGED]
    if late:
        parser.error(f"the legacy service covers months before 2025-07, not "
                     f"{month_key(late[0])}")
    n = write_legacy_replay(args.out, months, args.seed)
    print(f"wrote {n} legacy responses for {len(months)} month(s) into {args.out}")
    if args.inbox:
        for path in write_bundled_spreadsheets(args.inbox, args.seed):
            print(f"dropped {path}")


if __name__ == "__main__":
    main()
