"""Deterministic synthetic portal responses, laid out as a replay directory.

The pipeline's replay client serves whatever sits at ``replay_relpath(endpoint,
payload)``; this module fills such a directory for any set of months and
provinces, in exactly the shapes of the real captures in ``data/samples/portal``:

- the six group endpoints for each selected province and month;
- the national summary (``service-results``) for each month, always listing all
  34 provinces (every province is computed, written or not, so the summary does
  not depend on the selection);
- ``index.json``: relpath -> provenance (synthetic, or the real capture's
  manifest record).

Real captures win: a province-month that has all six real month captures (Phú
Thọ, 08/2026) is copied byte for byte, and its group scores in the summary are
read from those files. The same captures supply everything the generator cannot
invent: metric names and order, ``source`` strings, data-quality messages, Phú
Thọ's unit list and its performance profile (so its synthetic months sit close
to the real one).

Every province-month draws from its own ``random.Random`` seeded with (seed,
province code, month), so its output does not depend on which other provinces
or months are generated; the same arguments give the same bytes.

    python -m tools.synthetic --out data/portal-replay --months 2026-06:2026-11 \
        --provinces H44,H60 --seed 766
"""

import argparse
import hashlib
import json
import math
import os
import random
import statistics
import sys
import time
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlparse

from assets.domain.catalogue import GROUP_CODES, GROUPS, METRICS, TOTAL_MAX
from assets.months import first_day, month_key, month_range, months_between, parse_month
from assets.sources.endpoints import (
    DEFAULT_PAGE_SIZE,
    GROUP_ENDPOINTS,
    NATIONAL,
    Endpoint,
    endpoint_for_path,
    month_payload,
    payload_month,
    replay_relpath,
)
from tools.scoring_oracle import clgq_score, metric_score, tdgq_score, tttt_score

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SAMPLES_DIR = PROJECT_ROOT / "data" / "samples" / "portal"
DEFAULT_OUT_DIR = PROJECT_ROOT / "data" / "portal-replay"
PROVINCES_FILE = PROJECT_ROOT / "data" / "reference" / "provinces.json"

DEFAULT_MONTHS: list[date] = [date(2026, m, 1) for m in range(6, 12)]
# The last month generated is still open (unless told otherwise): the portal has only
# ~28 of its 30 days. The demo generates up to the current calendar month, so its open
# month is today's; the output depends on the arguments only, never on the clock.
OPEN_MONTH = DEFAULT_MONTHS[-1]
OPEN_MONTH_FRACTION = 28 / 30
# Month drift is measured from the month of the real captures, so Phú Thọ's
# synthetic months stay close to its real one; it stops growing a year away from it,
# so a range far from 2026 stays as plausible as one around it.
ANCHOR_MONTH = date(2026, 8, 1)
MAX_DRIFT_MONTHS = 12

GENERATOR = "tools.synthetic"
DEFAULT_SEED = 766
PAGE_SIZE = DEFAULT_PAGE_SIZE  # one page per request: every province has < 200 units

# Tuyên Quang is the province the project serves; its published record is weak,
# so its synthetic quality is drawn from the low end (it should rank in the lower half).
QUALITY_RANGE: dict[str, tuple[float, float]] = {"H60": (0.12, 0.27)}
DEFAULT_QUALITY_RANGE = (0.08, 0.88)

SCORED_FIELD = {  # where each group endpoint carries the province's group score
    "CKMB": ("overview", "totalScore"),
    "TDGQ": ("parent", "totalScore"),
    "CLGQ": ("parent", "totalScore"),
    "TTTT": ("parent", "totalScore"),
    "MDHL": ("overview", "totalScore"),
    "MDSH": ("overview", "totalScore"),
}

# Provincial departments: (name, share of the province's dossiers in %). The
# shares mimic Phú Thọ 08/2026 (land and environment dominate; the office of the
# people's committee and the inspectorate receive none). The first 13 always exist.
DEPARTMENTS: tuple[tuple[str, float], ...] = (
    ("Văn phòng UBND {Kind}", 0.0),
    ("Ban quản lý các khu công nghiệp", 0.3),
    ("Sở Công Thương", 0.26),
    ("Sở Giáo dục và Đào tạo", 0.18),
    ("Sở Tư pháp", 0.02),
    ("Sở Văn hóa, Thể thao và Du lịch", 0.05),
    ("Sở Y tế", 0.9),
    ("Thanh tra {kind}", 0.0),
    ("Sở Khoa học và Công nghệ", 0.1),
    ("Sở Nội vụ", 1.5),
    ("Sở Tài chính", 0.09),
    ("Sở Xây dựng", 0.9),
    ("Sở Nông nghiệp và Môi trường", 15.0),
    # optional
    ("Sở Dân tộc và Tôn giáo", 0.003),
    ("Sở Ngoại vụ", 0.001),
    ("Ban Quản lý Khu kinh tế", 0.2),
    ("Sở Du lịch", 0.03),
)
REQUIRED_DEPARTMENTS = 13

# Syllables of Vietnamese commune names, combined in pairs.
SYLLABLES = (
    "An", "Bình", "Hòa", "Phú", "Tân", "Long", "Hưng", "Đức", "Xuân", "Thanh", "Minh",
    "Quang", "Vĩnh", "Phước", "Thịnh", "Hiệp", "Lợi", "Mỹ", "Nghĩa", "Sơn", "Hà", "Lâm",
    "Trung", "Đông", "Tây", "Nam", "Bắc", "Kim", "Ngọc", "Hồng", "Thái", "Cát", "Lạc",
    "Yên", "Phong", "Thuận", "Thành", "Hải", "Tiến", "Hợp", "Tường", "Khánh", "Định",
    "Lộc", "Phúc", "Vinh", "Quý", "Tài", "Hoàng", "Văn", "Đồng", "Cẩm", "Lương",
    "Trường", "Châu", "Bảo", "Thọ", "Hậu", "Nhân", "Đạo",
)

DOSSIER_SYNC_TEMP = "TEMP_NATIONAL_REPORT_DENOMINATOR"
DOSSIER_SYNC_NONE = "NO_NATIONAL_REPORT_DATA"


# --------------------------------------------------------------------------- models


@dataclass(frozen=True)
class Unit:
    id: str
    name: str
    code: str
    type: str  # departmentType
    level: str  # departmentLevel, also the tree endpoints' `level`
    agency_level: str
    weight: float  # share of the province's dossiers (0: receives none)
    offset: float  # stable z-score: how much better or worse than its province it does
    formalities: int  # procedures it handles (MDSH formality denominator)
    fee_formalities: int  # procedures with a fee (TTTT)
    fee_share: float  # share of its dossiers that carry a fee


@dataclass(frozen=True)
class Profile:
    """How a province performs: rates drift a little by month, the rest is stable."""

    rates: dict[str, float]
    dossiers: float  # dossiers received in a full month
    days: float  # mean processing days
    completed_extra: float  # share of overdue dossiers completed in the month (TDGQ)
    sync_share: float  # dossiers in the sync check / dossiers received
    sync_flagged: bool  # DOSSIER_SYNC uses a temporary national denominator
    publish_den: int  # procedures to publish (0: metric null, as for Phú Thọ)
    update_den: int
    content_den: int
    clgq_unit_factor: float  # unit CLGQ scores sit below the province's (0.70 observed)
    authority_count: int
    full_share: float
    partial_share: float
    online_services: int
    channel_share: float  # dossiers in the channel split / dossiers received
    channel_postal: float
    fee_formalities: int  # distinct fee-bearing procedures in the province
    petitions_own: int  # petitions addressed to the province itself, not to a unit
    petition_unit_share: float  # share of units with a petition in a month
    formalities: int  # distinct procedures in the province (MDSH)
    ecc: bool  # electronic certified copies offered
    trend: float  # rate drift per month, in logit units


@dataclass(frozen=True)
class Province:
    id: str
    name: str
    code: str
    units: tuple[Unit, ...]
    profile: Profile


@dataclass(frozen=True)
class Capture:
    group: str
    endpoint: Endpoint
    month: date
    province_id: str
    raw: bytes
    data: dict
    entry: dict  # the sample manifest's record


@dataclass(frozen=True)
class Templates:
    """What only the real captures know: metric names/order, sources, messages."""

    metric_names: dict[str, list[tuple[str, str]]]
    sources: dict[str, str]
    quality_messages: dict[str, str]


# --------------------------------------------------------------------------- helpers


def _clamp(x: float, lo: float = 0.0, hi: float = 1.0) -> float:
    return lo if x < lo else hi if x > hi else x


def _lerp(lo: float, hi: float, t: float) -> float:
    return lo + (hi - lo) * _clamp(t)


def _frac(num: float | None, den: float | None, default: float = 0.0) -> float:
    return (num or 0) / den if den else default


def _pct(num: float, den: float) -> float:
    return round(100 * num / den, 2) if den else 0


def _draw(rng: random.Random, n: int, p: float) -> int:
    """How many of n succeed at rate p: exact Bernoulli draws for small n (so small
    units show realistic 0/1/2 patterns), the expectation for large n (speed)."""
    if n <= 0 or p <= 0:
        return 0
    if p >= 1:
        return n
    if n < 40:
        return sum(rng.random() < p for _ in range(n))
    return min(n, max(0, round(n * p + rng.gauss(0, 0.5))))


def _unit_rate(rng: random.Random, base: float, unit: Unit, width: float = 0.12) -> float:
    # The spread shrinks towards 0 % and 100 % so a province at 100 % stays there.
    spread = width * 2 * math.sqrt(max(base * (1 - base), 0.0))
    return _clamp(base + spread * (0.7 * unit.offset + 0.5 * rng.gauss(0, 1)))


def _drift(rate: float, shift: float) -> float:
    """Move a rate in logit space: small near 0 % and 100 %, and 0 or 1 stay put
    (Phú Thọ's zero personal-storage rate is a system gap, not noise)."""
    if rate <= 0 or rate >= 1:
        return rate
    return 1 / (1 + math.exp(-(math.log(rate / (1 - rate)) + shift)))


def _nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value)


def _js(obj):
    """JSON as the portal (JavaScript) writes it: 100.0 -> 100; strings NFC."""
    if isinstance(obj, float):
        return int(obj) if obj.is_integer() else obj
    if isinstance(obj, dict):
        return {k: _js(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_js(v) for v in obj]
    if isinstance(obj, str):
        return _nfc(obj)
    return obj


def dump(obj) -> bytes:
    return json.dumps(_js(obj), ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False).encode("utf-8")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _months_since_anchor(month: date) -> int:
    steps = months_between(ANCHOR_MONTH, month)
    return max(-MAX_DRIFT_MONTHS, min(MAX_DRIFT_MONTHS, steps))


def group_score(group: str, data: dict) -> float:
    """A group endpoint's province total (the number the national summary shows)."""
    part, key = SCORED_FIELD[group]
    return data[part][key]


# --------------------------------------------------------------------------- samples


def load_provinces() -> list[dict]:
    provinces = json.loads(PROVINCES_FILE.read_text("utf-8"))["provinces"]
    return [{k: _nfc(p[k]) for k in ("departmentId", "departmentName", "departmentCode")}
            for p in provinces]


def load_captures(samples_dir: Path) -> dict[tuple[str, date], dict[str, Capture]]:
    """Real month captures of whole provinces, by (province id, month) and group."""
    manifest = json.loads((samples_dir / "manifest.json").read_text("utf-8"))
    found: dict[tuple[str, date], dict[str, Capture]] = {}
    for entry in manifest["captures"]:
        if entry.get("period") != "month" or entry.get("scope") != "all":
            continue
        endpoint = endpoint_for_path(urlparse(entry["url"]).path)
        if endpoint is None or endpoint.group_code is None:
            continue
        raw = (samples_dir / entry["file"]).read_bytes()
        if _sha256(raw) != entry["sha256"]:
            # A replay built on an altered "real" file would lie about its provenance.
            raise ValueError(f"{entry['file']}: sha256 differs from the sample manifest")
        payload = entry["payload"]
        month = payload_month(payload)
        capture = Capture(endpoint.group_code, endpoint, month, payload["rootDepartmentId"],
                          raw, json.loads(raw)["data"], entry)
        found.setdefault((capture.province_id, month), {})[endpoint.group_code] = capture
    return {key: groups for key, groups in found.items() if set(groups) == set(GROUP_CODES)}


def templates_from(captures: dict[str, Capture]) -> Templates:
    names: dict[str, list[tuple[str, str]]] = {}
    sources: dict[str, str] = {}
    messages: dict[str, str] = {}
    for group, cap in captures.items():
        data = cap.data
        if "source" in data:
            sources[group] = data["source"]
        if "overview" in data:
            names[group] = [(m["code"], m["name"]) for m in data["overview"]["metrics"]]
            for row in [data["overview"], *data["evaluation"]]:
                for m in row["metrics"]:
                    if "dataQualityStatus" in m:
                        messages[m["dataQualityStatus"]] = m["dataQualityMessage"]
    return Templates(names, sources, messages)


# --------------------------------------------------------------------------- provinces


def _place(province_name: str) -> tuple[str, str]:
    """('Tỉnh'|'Thành phố', 'Phú Thọ') from 'UBND tỉnh Phú Thọ'."""
    rest = province_name.removeprefix("UBND ").strip()
    for prefix, kind in (("tỉnh ", "Tỉnh"), ("thành phố ", "Thành phố")):
        if rest.lower().startswith(prefix):
            return kind, rest[len(prefix):]
    return "Tỉnh", rest


def _profile_from_capture(caps: dict[str, Capture]) -> Profile:
    """The province's real month as a profile, so its synthetic months resemble it."""
    ck, td, cl, tt, hl, sh = (caps[g].data for g in GROUP_CODES)
    tp, cp, pp = td["parent"], cl["parent"], tt["parent"]
    received = tp["totalReceived"]
    ckm = {m["code"]: m for m in ck["overview"]["metrics"]}
    hlm = {m["code"]: m for m in hl["overview"]["metrics"]}
    shm = {m["code"]: m for m in sh["overview"]["metrics"]}

    def rate(m: dict, default: float = 0.0) -> float:
        return _frac(m["numerator"], m["denominator"], default)

    unit_petitions = sum(r["totalPetitions"] for r in hl["evaluation"])
    units = len(hl["evaluation"])
    online = cp["channelOnlineSum"]
    rates = {
        "on_time": _frac(tp["totalOnTime"], received),
        "sync": rate(ckm["DOSSIER_SYNC"], 1.0),
        "publish": rate(ckm["PUBLISH_ON_TIME"], 0.9),
        "update": rate(ckm["PUBLIC_UPDATE_ON_TIME"], 0.9),
        "content": rate(ckm["PUBLIC_CONTENT_FULL"], 0.95),
        "online_dossier": _frac(cp["onlineDossierCount"], cp["onlineServiceTotal"]),
        "channel_online": _frac(online, cp["channelTotalSum"]),
        "online_on_time": _frac(cp["onlineOnTimeSum"], online),
        "paid": _frac(pp["totalDossierOnlinePaymentSuccess"],
                      pp["totalDossierFinancialObligation"]),
        "formality_paid": _frac(pp["totalDossierOnlineFormalityPaymentSuccess"],
                                pp["totalFeeFormality"]),
        "formality_integrated": _frac(pp["totalFeeDossierFormality"], pp["totalFeeFormality"]),
        "satisfaction": rate(hlm["DOSSIER_RECEIVING_SATISFACTION"]),
        "petition_on_time": rate(hlm["PETITION_PROCESSING_ON_TIME"], 0.8),
        "petition_satisfied": rate(hlm["PETITION_HANDLING_SATISFACTION"], 0.7),
        "petition_tthc": rate(hlm["PETITION_CLASSIFICATION_TTHC"], 0.7),
        "original": rate(shm["ORIGINAL_RESULT_AVAILABLE"]),
        "digitized": rate(shm["SO_HOA_GIAY_TO_GIAI_QUYET"]),
        "reused": rate(shm["REUSED_DIGITIZED_DATA"]),
        "personal_storage": rate(shm["SYNCED_WITH_DVCQG_PERSONAL_STORAGE"]),
        "citizen_dossier": rate(shm["CITIZEN_DATA_CONNECTED_DOSSIER"]),
        "citizen_formality": rate(shm["CITIZEN_DATA_CONNECTED_FORMALITY"]),
    }
    overdue = received - tp["totalOnTime"]
    authority = cp["authorityCount"] or 1
    return Profile(
        rates=rates,
        dossiers=received,
        days=tp["avgProcessingDays"],
        completed_extra=_frac(tp["totalCompleted"] - tp["totalOnTime"], overdue),
        sync_share=_frac(ckm["DOSSIER_SYNC"]["denominator"], received),
        sync_flagged=ckm["DOSSIER_SYNC"].get("dataQualityStatus") == DOSSIER_SYNC_TEMP,
        publish_den=ckm["PUBLISH_ON_TIME"]["denominator"] or 0,
        update_den=ckm["PUBLIC_UPDATE_ON_TIME"]["denominator"] or 0,
        content_den=ckm["PUBLIC_CONTENT_FULL"]["denominator"] or 0,
        clgq_unit_factor=_frac(statistics.mean(c["totalScore"] for c in cl["children"]),
                               cp["totalScore"], 0.7),
        authority_count=cp["authorityCount"],
        full_share=cp["fullCount"] / authority,
        partial_share=cp["partialCount"] / authority,
        online_services=cp["onlineServiceTotal"],
        channel_share=_frac(cp["channelTotalSum"], received),
        channel_postal=_frac(cp["channelPostalSum"], cp["channelTotalSum"]),
        fee_formalities=pp["totalFeeFormality"],
        petitions_own=max(0, hl["overview"]["totalPetitions"] - unit_petitions),
        petition_unit_share=_frac(sum(r["totalPetitions"] > 0 for r in hl["evaluation"]),
                                  units),
        formalities=shm["CITIZEN_DATA_CONNECTED_FORMALITY"]["denominator"] or 0,
        ecc=shm["ELECTRONIC_CERTIFIED_COPY"]["score"] == 2,
        trend=0.005,
    )


def _units_from_capture(caps: dict[str, Capture], rng: random.Random) -> tuple[Unit, ...]:
    """The real unit list; only the offsets (not observable per month) are drawn."""
    tree = caps["TDGQ"].data["children"]
    total = sum(c["totalReceived"] for c in tree) or 1
    kinds = {r["departmentId"]: r for r in caps["CKMB"].data["evaluation"]}
    formalities = {r["departmentId"]: next(m["denominator"] for m in r["metrics"]
                                           if m["code"] == "CITIZEN_DATA_CONNECTED_FORMALITY")
                   for r in caps["MDSH"].data["evaluation"]}
    fees = {c["departmentId"]: c for c in caps["TTTT"].data["children"]}
    units = []
    for child in tree:
        uid = child["departmentId"]
        row, fee = kinds[uid], fees[uid]
        units.append(Unit(
            id=uid, name=child["departmentName"], code=child["departmentCode"],
            type=row["departmentType"], level=row["departmentLevel"],
            agency_level=row["agencyLevel"], weight=child["totalReceived"] / total,
            offset=rng.gauss(0, 1), formalities=formalities[uid] or 0,
            fee_formalities=fee["totalFeeFormality"],
            fee_share=_frac(fee["totalDossierFinancialObligation"], child["totalReceived"]),
        ))
    return tuple(units)


def _clgq_unit_factor(rng: random.Random) -> float:
    """Unit CLGQ scores sit at 0.66-0.76 of the province's. The draw before it was the
    province's CLGQ level when the generator invented it (it is now scored from its
    parameters, see _online); it is still drawn so that every draw after it, and so every
    other synthetic figure, stays where it was."""
    rng.gauss(0, 0.3)
    return rng.uniform(0.66, 0.76)


def _synthetic_profile(rng: random.Random, code: str) -> Profile:
    lo, hi = QUALITY_RANGE.get(code, DEFAULT_QUALITY_RANGE)
    q = _lerp(lo, hi, rng.random())

    def rate(low: float, high: float, jitter: float = 0.1) -> float:
        # Each rate follows the province's quality with its own province-level jitter,
        # so a good province is not uniformly good at everything.
        return _lerp(low, high, q + rng.gauss(0, jitter))

    rates = {
        "on_time": rate(0.72, 0.985),
        "sync": rate(0.88, 1.0),
        "publish": rate(0.55, 1.0),
        "update": rate(0.55, 1.0),
        "content": rate(0.85, 1.0),
        "online_dossier": rate(0.12, 0.5),
        "channel_online": rate(0.93, 0.998),
        "paid": rate(0.7, 0.98),
        "formality_paid": rate(0.2, 0.85),
        "formality_integrated": rate(0.1, 0.85),
        "satisfaction": rate(0.72, 0.97),
        "petition_on_time": rate(0.6, 0.98),
        "petition_satisfied": rate(0.45, 0.95),
        "petition_tthc": rng.uniform(0.6, 0.8),
        "original": rate(0.6, 0.97),
        "digitized": rate(0.08, 0.9),
        "reused": rate(0.01, 0.85),
        "personal_storage": rate(0.0, 0.8),
        "citizen_dossier": rate(0.4, 0.95),
        "citizen_formality": rate(0.18, 0.9),
    }
    rates["online_on_time"] = min(0.99, rates["on_time"] + rng.uniform(0.03, 0.12))
    full_share = _lerp(0.25, 0.6, q + rng.gauss(0, 0.1))
    return Profile(
        rates=rates,
        dossiers=_clamp(185_000 * math.exp(rng.gauss(0, 0.25)), 100_000, 320_000),
        days=max(2.5, 9 - 4 * q + rng.gauss(0, 0.8)),
        completed_extra=rng.uniform(0.05, 0.15),
        sync_share=rng.uniform(0.7, 0.85),
        sync_flagged=rng.random() < 0.7,
        # Without procedures to publish these metrics are null and cost up to 10 points:
        # stable per province, otherwise totals would jump month to month.
        publish_den=rng.randint(15, 60) if rng.random() < 0.25 + 0.7 * q else 0,
        update_den=rng.randint(30, 120) if rng.random() < 0.25 + 0.7 * q else 0,
        content_den=rng.randint(50, 130),
        clgq_unit_factor=_clgq_unit_factor(rng),
        authority_count=rng.randint(40, 80),
        full_share=full_share,
        partial_share=min(0.98 - full_share, rng.uniform(0.3, 0.5)),
        online_services=rng.randint(1500, 2300),
        channel_share=rng.uniform(0.78, 0.9),
        channel_postal=rng.uniform(0, 0.004),
        fee_formalities=rng.randint(230, 420),
        petitions_own=rng.randint(80, 450),
        petition_unit_share=rng.uniform(0.06, 0.18),
        formalities=rng.randint(1000, 1600),
        ecc=rng.random() < 0.45 + 0.5 * q,
        trend=rng.gauss(0.01, 0.015),
    )


def _synthetic_units(rng: random.Random, seed: int, code: str, kind: str,
                     place: str) -> tuple[Unit, ...]:
    suffix = f"{kind} {place}"
    n_departments = rng.randint(REQUIRED_DEPARTMENTS, len(DEPARTMENTS))
    optional = set(rng.sample(DEPARTMENTS[REQUIRED_DEPARTMENTS:],
                              n_departments - REQUIRED_DEPARTMENTS))
    departments = [d for i, d in enumerate(DEPARTMENTS)
                   if i < REQUIRED_DEPARTMENTS or d in optional]
    n_communes = rng.randint(90, 150)
    ward_share = rng.uniform(0.08, 0.3)
    commune_formalities = rng.randint(320, 420)
    commune_fees = rng.randint(28, 40)
    commune_percent = 100 - sum(share for _, share in departments)

    def unit_id(index: int) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"chiso766-synthetic:{seed}:{code}:{index}"))

    units: list[Unit] = []
    for i, (template, percent) in enumerate(departments):
        name = template.format(Kind=kind, kind=kind.lower())
        units.append(Unit(
            id=unit_id(i), name=_nfc(f"{name} - {suffix}"), code=f"{code}.{i + 1:02d}",
            type="PROVINCIAL_DEPARTMENT", level="PROVINCE", agency_level="level_2",
            weight=percent * rng.uniform(0.6, 1.4) / 100, offset=rng.gauss(0, 1),
            formalities=round(math.exp(rng.uniform(math.log(2), math.log(260)))),
            fee_formalities=rng.randint(1, 60), fee_share=rng.uniform(0.0, 0.6),
        ))
    names: set[str] = set()
    raw_weights = [math.exp(rng.gauss(0, 0.55)) for _ in range(n_communes)]
    scale = commune_percent / 100 / sum(raw_weights)
    for j in range(n_communes):
        while True:
            first, second = rng.sample(SYLLABLES, 2)
            if f"{first} {second}" not in names:
                break
        names.add(f"{first} {second}")
        if rng.random() < ward_share:
            prefix = rng.choice(("UBND phường", "UBND Phường"))  # the portal mixes both
        else:
            prefix = "UBND xã"
        name = f"{prefix} {first} {second}"
        if rng.random() < 0.03:  # the portal disambiguates some names with the province
            name += f" - {suffix}"
        units.append(Unit(
            id=unit_id(len(departments) + j), name=_nfc(name), code=f"{code}.{100 + j}",
            type="COMMUNE_PEOPLE_COMMITTEE", level="COMMUNE", agency_level="level_2",
            weight=raw_weights[j] * scale, offset=rng.gauss(0, 1),
            formalities=commune_formalities,
            fee_formalities=max(1, commune_fees + rng.randint(-4, 2)),
            fee_share=_clamp(rng.gauss(0.65, 0.12), 0.3, 0.9),
        ))
    # The portal lists units by code as text (H44.100 before H44.13).
    return tuple(sorted(units, key=lambda u: u.code))


def build_province(ref: dict, seed: int,
                   real: dict[str, Capture] | None) -> Province:
    """A province's stable model: units and profile, from its own seeded generator."""
    rng = random.Random(f"{seed}:{ref['departmentCode']}")
    if real is not None:
        units = _units_from_capture(real, rng)
        profile = _profile_from_capture(real)
    else:
        kind, place = _place(ref["departmentName"])
        profile = _synthetic_profile(rng, ref["departmentCode"])
        units = _synthetic_units(rng, seed, ref["departmentCode"], kind, place)
    return Province(ref["departmentId"], ref["departmentName"], ref["departmentCode"],
                    units, profile)


# --------------------------------------------------------------------------- one month


@dataclass
class _Month:
    province: Province
    month: date
    rng: random.Random
    rates: dict[str, float]
    scale: float  # open-month fraction and the month's volume noise
    received: list[int]
    dossiers: list[int]  # the satisfaction/digitisation base: a few fewer than received
    templates: Templates

    @property
    def units(self) -> tuple[Unit, ...]:
        return self.province.units

    @property
    def profile(self) -> Profile:
        return self.province.profile


def _month_context(province: Province, month: date, seed: int,
                   templates: Templates, open_month: date | None = OPEN_MONTH) -> _Month:
    rng = random.Random(f"{seed}:{province.code}:{month_key(month)}")
    p = province.profile
    steps = _months_since_anchor(month)
    rates = {key: _drift(base, p.trend * steps + rng.gauss(0, 0.05))
             for key, base in p.rates.items()}
    scale = (OPEN_MONTH_FRACTION if month == open_month else 1.0) * math.exp(rng.gauss(0, 0.02))
    noisy = [u.weight * math.exp(rng.gauss(0, 0.08)) for u in province.units]
    total = sum(noisy) or 1.0
    received = [round(p.dossiers * scale * w / total) for w in noisy]
    dossiers = [max(0, n - rng.randint(1, 5)) if n and rng.random() < 0.03 else n
                for n in received]
    return _Month(province, month, rng, rates, scale, received, dossiers, templates)


def _metric(code: str, name: str, num: int | None, den: int | None,
            empty_ratio: float | None) -> dict:
    m = METRICS[code]
    # "as_reported" metrics have no count formula; their caller fills in the score.
    score = None if m.rule == "as_reported" else metric_score(m, num, den)
    return {
        "code": code,
        "name": name,
        "numerator": num,
        "denominator": den,
        "ratio": round(100 * num / den, 2) if den else empty_ratio,
        "score": None if score is None else round(score, 2),
        "maxScore": m.max_score,
    }


def _metrics(ctx: _Month, group: str, counts: dict[str, tuple[int, int]],
             empty_ratio: float | None) -> list[dict]:
    return [_metric(code, name, *counts[code], empty_ratio)
            for code, name in ctx.templates.metric_names[group]]


def _totals(group: str, metrics: list[dict]) -> tuple[float, float, float]:
    total = round(sum(m["score"] or 0 for m in metrics), 2)
    maximum = GROUPS[group].max_score
    return total, maximum, round(100 * total / maximum, 2)


def _pagination(rows: list) -> dict:
    return {"total": len(rows), "currentPage": 1, "pageSize": PAGE_SIZE, "totalPages": 1}


def _envelope(data: dict) -> dict:
    return {"code": "OK", "data": data, "message": "OK"}


def _transparency(ctx: _Month) -> dict:
    """CKMB: three procedure metrics computed for the province and repeated on every
    unit row (never summed), and DOSSIER_SYNC counted per unit and pooled."""
    rng, p, r = ctx.rng, ctx.profile, ctx.rates
    province_level: dict[str, tuple[int, int]] = {}
    for code, den_base, rate in (("PUBLISH_ON_TIME", p.publish_den, r["publish"]),
                                 ("PUBLIC_UPDATE_ON_TIME", p.update_den, r["update"]),
                                 ("PUBLIC_CONTENT_FULL", p.content_den, r["content"])):
        # Expected counts, not draws: a handful of procedures drawn at random would swing
        # the province's total by points from month to month.
        den = max(1, round(den_base * math.exp(rng.gauss(0, 0.05)))) if den_base else 0
        province_level[code] = (round(den * rate), den)

    def sync_flag(metrics: list[dict]) -> list[dict]:
        # Flags follow the real file: no dossiers -> no national data; otherwise the
        # province may be on a temporary national denominator.
        metric = next(m for m in metrics if m["code"] == "DOSSIER_SYNC")
        status = (DOSSIER_SYNC_NONE if not metric["denominator"]
                  else DOSSIER_SYNC_TEMP if p.sync_flagged else None)
        if status:
            metric["dataQualityStatus"] = status
            metric["dataQualityMessage"] = ctx.templates.quality_messages[status]
        return metrics

    rows, sync_num, sync_den = [], 0, 0
    for stt, (unit, received) in enumerate(zip(ctx.units, ctx.received, strict=True), 1):
        den = round(received * p.sync_share)
        num = _draw(rng, den, _unit_rate(rng, r["sync"], unit, 0.05))
        sync_num, sync_den = sync_num + num, sync_den + den
        metrics = sync_flag(_metrics(ctx, "CKMB", {**province_level, "DOSSIER_SYNC": (num, den)},
                                     None))
        total, maximum, ratio = _totals("CKMB", metrics)
        rows.append({
            "stt": stt, "departmentId": unit.id, "departmentName": unit.name,
            "departmentType": unit.type, "departmentLevel": unit.level,
            "agencyLevel": unit.agency_level, "totalScore": total, "totalMaxScore": maximum,
            "ratio": ratio, "scoreDelta": None, "metrics": metrics,
        })
    metrics = sync_flag(_metrics(ctx, "CKMB",
                                 {**province_level, "DOSSIER_SYNC": (sync_num, sync_den)}, None))
    total, maximum, ratio = _totals("CKMB", metrics)
    overview = {
        "stt": 1, "departmentId": ctx.province.id, "departmentName": ctx.province.name,
        "departmentType": "PROVINCE", "departmentLevel": "PROVINCE", "agencyLevel": "level_1",
        "totalScore": total, "totalMaxScore": maximum, "ratio": ratio, "scoreDelta": None,
        "metrics": metrics,
        "averageScore": round(statistics.mean(row["totalScore"] for row in rows), 2),
    }
    return _envelope({"overview": overview, "monthlyChart": [], "evaluation": rows,
                      "pagination": _pagination(rows), "source": ctx.templates.sources["CKMB"]})


def _month_chart(month: date, key: str, fields: dict[str, float]) -> list[dict]:
    # A monthly request fills only its own month; the other eleven are zeros.
    zeros = dict.fromkeys(fields, 0)
    return [{key: f"{m:02d}", **(fields if m == month.month else zeros)} for m in range(1, 13)]


def _progress(ctx: _Month) -> dict:
    """TDGQ: raw counts per unit; score = 20 × on time / received."""
    rng, p, r = ctx.rng, ctx.profile, ctx.rates
    children, days_weighted = [], 0.0
    for unit, received in zip(ctx.units, ctx.received, strict=True):
        on_time = _draw(rng, received, _unit_rate(rng, r["on_time"], unit))
        factor = 1.5 if unit.type == "PROVINCIAL_DEPARTMENT" else 0.75
        days = round(p.days * factor * math.exp(rng.gauss(0, 0.3) - 0.1 * unit.offset), 2)
        days = days if received else 0
        days_weighted += days * received
        children.append({
            "departmentId": unit.id, "departmentName": unit.name, "departmentCode": unit.code,
            "level": unit.level, "totalReceived": received, "totalOnTime": on_time,
            "totalOverdue": received - on_time, "avgProcessingDays": days,
            "ratio": _pct(on_time, received), "score": round(tdgq_score(on_time, received), 2),
            "maxScore": GROUPS["TDGQ"].max_score, "scoreDelta": None,
        })
    received = sum(c["totalReceived"] for c in children)
    on_time = sum(c["totalOnTime"] for c in children)
    overdue = received - on_time
    completed = on_time + round(overdue * _clamp(p.completed_extra + rng.gauss(0, 0.01)))
    parent = {
        "departmentId": ctx.province.id, "departmentName": ctx.province.name,
        "departmentCode": ctx.province.code, "totalReceived": received,
        "totalOnTime": on_time, "totalCompleted": completed,
        "avgProcessingDays": round(days_weighted / received, 2) if received else 0,
        "ratio": _pct(on_time, received), "totalScore": round(tdgq_score(on_time, received), 2),
        "totalMaxScore": GROUPS["TDGQ"].max_score,
    }
    chart = _month_chart(ctx.month, "month", {"onTimePct": _pct(on_time, received),
                                              "overduePct": _pct(overdue, received)})
    return _envelope({"parent": parent, "children": children, "monthlyChart": chart})


def _online(ctx: _Month) -> dict:
    """CLGQ: the parameters are drawn and the province's score is the formula fitted on
    the real captures (tools/scoring_oracle.py::clgq_score, the pipeline's
    marts.clgq_score), so the demo's recomputation agrees with it. The units carry scores
    only, as in the real answers: synthesized below the province's, as observed."""
    rng, p, r = ctx.rng, ctx.profile, ctx.rates
    maximum = GROUPS["CLGQ"].max_score
    # the month's jitter, on the share of services with an online dossier (4 points per
    # unit of that share in the formula: ±0.12 points); drawn in the order the earlier
    # generator drew, so the other groups' figures do not move
    jitter = rng.gauss(0, 0.12) / 4
    unit_jitter = [rng.gauss(0, 0.06) for _ in ctx.units]
    received = sum(ctx.received)
    services = round(p.online_services * math.exp(rng.gauss(0, 0.02)))
    online_dossiers = _draw(rng, services, r["online_dossier"] + jitter)
    channel_total = round(received * p.channel_share)
    channel_online = _draw(rng, channel_total, r["channel_online"])
    channel_postal = min(channel_total - channel_online, round(channel_total * p.channel_postal))
    online_on_time = _draw(rng, channel_online, r["online_on_time"])
    full = round(p.authority_count * p.full_share)
    counts = {
        "authorityCount": p.authority_count,
        "partialCount": min(p.authority_count - full, round(p.authority_count * p.partial_share)),
        "fullCount": full, "onlineDossierCount": online_dossiers, "onlineServiceTotal": services,
    }
    score = round(clgq_score(counts), 2)  # at most 12: A <= 1 and the P term <= 2
    children = []
    for unit, unit_received, noise in zip(ctx.units, ctx.received, unit_jitter, strict=True):
        unit_score = _clamp(score * p.clgq_unit_factor + 0.12 * unit.offset + noise,
                            0, maximum)
        unit_score = round(unit_score, 2) if unit_received else 0
        children.append({
            "departmentId": unit.id, "departmentName": unit.name, "departmentCode": unit.code,
            "level": unit.level, "totalScore": unit_score, "totalMaxScore": maximum,
            "ratio": _pct(unit_score, maximum), "scoreDelta": None,
        })
    parent = {
        "departmentId": ctx.province.id, "departmentName": ctx.province.name,
        "departmentCode": ctx.province.code, "totalScore": score, "totalMaxScore": maximum,
        "ratio": _pct(score, maximum), **counts,
        "channelOnlineSum": channel_online,
        "channelDirectSum": channel_total - channel_online - channel_postal,
        "channelPostalSum": channel_postal, "channelTotalSum": channel_total,
        "onlineOnTimeSum": online_on_time, "onlineOverdueSum": channel_online - online_on_time,
    }
    chart = _month_chart(ctx.month, "label",
                         {"onlineDossierPct": _pct(online_dossiers, services)})
    return _envelope({"parent": parent, "children": children, "monthlyChart": chart})


def _payment(ctx: _Month) -> dict:
    """TTTT: dossier counts add up over units; procedure counts are distinct
    procedures, so the province's are far below the units' sum (as in the real file)."""
    rng, p, r = ctx.rng, ctx.profile, ctx.rates
    maximum = GROUPS["TTTT"].max_score
    children = []
    for unit, received in zip(ctx.units, ctx.received, strict=True):
        obligation = round(received * unit.fee_share)
        fees = unit.fee_formalities
        params = {
            "totalDossierOnlinePaymentSuccess": _draw(rng, obligation,
                                                      _unit_rate(rng, r["paid"], unit)),
            "totalDossierFinancialObligation": obligation,
            "totalDossierOnlineFormalityPaymentSuccess": _draw(
                rng, fees, _unit_rate(rng, r["formality_paid"], unit)),
            "totalFeeDossierFormalityDistinct": fees,
            "totalFeeDossierFormality": _draw(
                rng, fees, _unit_rate(rng, r["formality_integrated"], unit)),
            "totalFeeFormality": fees,
        }
        score = round(tttt_score(params), 2)
        children.append({
            "departmentId": unit.id, "departmentName": unit.name, "departmentCode": unit.code,
            "level": unit.level, "totalMaxScore": maximum, "ratio": _pct(score, maximum),
            "totalScore": score, **params, "scoreDelta": None,
        })
    fees = max(1, round(p.fee_formalities * math.exp(rng.gauss(0, 0.02))))
    params = {
        "totalDossierOnlinePaymentSuccess": sum(c["totalDossierOnlinePaymentSuccess"]
                                                for c in children),
        "totalDossierFinancialObligation": sum(c["totalDossierFinancialObligation"]
                                               for c in children),
        "totalDossierOnlineFormalityPaymentSuccess": _draw(rng, fees, r["formality_paid"]),
        "totalFeeDossierFormalityDistinct": fees,
        "totalFeeDossierFormality": _draw(rng, fees, r["formality_integrated"]),
        "totalFeeFormality": fees,
    }
    score = round(tttt_score(params), 2)
    parent = {
        "departmentId": ctx.province.id, "departmentName": ctx.province.name,
        "departmentCode": ctx.province.code, "totalMaxScore": maximum, "totalScore": score,
        **params, "ratio": _pct(score, maximum),
    }
    return _envelope({"parent": parent, "children": children})


def _satisfaction(ctx: _Month) -> dict:
    """MDHL: dossier satisfaction pooled over units; petitions also reach the province
    itself, so the province's petition counts exceed the units' sum (as observed)."""
    rng, p, r = ctx.rng, ctx.profile, ctx.rates

    def petition_counts(unit: Unit | None, n: int) -> dict[str, int]:
        def rate(key: str) -> float:
            return r[key] if unit is None else _unit_rate(rng, r[key], unit)
        tthc = _draw(rng, n, r["petition_tthc"])
        return {"n": n, "on_time": _draw(rng, n, rate("petition_on_time")),
                "satisfied": _draw(rng, n, rate("petition_satisfied")), "tthc": tthc,
                # a few petitions to the province stay unclassified by subject
                "staff": n - tthc - (_draw(rng, n, 0.02) if unit is None else 0)}

    def counts_of(pet: dict[str, int], satisfied: int, dossiers: int) -> dict:
        n = pet["n"]
        return {"PETITION_CLASSIFICATION_TTHC": (pet["tthc"], n),
                "DOSSIER_RECEIVING_SATISFACTION": (satisfied, dossiers),
                "PETITION_PROCESSING_ON_TIME": (pet["on_time"], n),
                "PETITION_HANDLING_SATISFACTION": (pet["satisfied"], n),
                "PETITION_CLASSIFICATION_STAFF": (pet["staff"], n)}

    rows = []
    sums = dict.fromkeys(("n", "on_time", "satisfied", "tthc", "staff"), 0)
    satisfied_sum = 0
    for stt, (unit, dossiers) in enumerate(zip(ctx.units, ctx.dossiers, strict=True), 1):
        satisfied = _draw(rng, dossiers, _unit_rate(rng, r["satisfaction"], unit))
        n = (min(8, 1 + int(rng.expovariate(0.7)))
             if rng.random() < p.petition_unit_share else 0)
        pet = petition_counts(unit, n)
        sums = {k: sums[k] + pet[k] for k in sums}
        satisfied_sum += satisfied
        metrics = _metrics(ctx, "MDHL", counts_of(pet, satisfied, dossiers), 0)
        total, maximum, ratio = _totals("MDHL", metrics)
        rows.append({
            "stt": stt, "departmentId": unit.id, "departmentName": unit.name,
            "departmentType": unit.type, "departmentLevel": unit.level,
            "agencyLevel": unit.agency_level, "totalScore": total, "totalMaxScore": maximum,
            "ratio": ratio, "scoreDelta": None, "metrics": metrics, "totalPetitions": n,
            "classifiedPetitions": n, "totalDossiers": dossiers, "averageScore": None,
        })
    own = petition_counts(None, round(p.petitions_own * ctx.scale
                                      * math.exp(rng.gauss(0, 0.15))))
    province = {k: sums[k] + own[k] for k in sums}
    dossiers = sum(ctx.dossiers)
    metrics = _metrics(ctx, "MDHL", counts_of(province, satisfied_sum, dossiers), 0)
    total, maximum, ratio = _totals("MDHL", metrics)
    overview = {
        "stt": 1, "departmentId": ctx.province.id, "departmentName": ctx.province.name,
        "departmentType": "PROVINCE", "departmentLevel": "PROVINCE", "agencyLevel": "level_1",
        "totalScore": total, "totalMaxScore": maximum, "ratio": ratio, "scoreDelta": None,
        "metrics": metrics, "totalPetitions": province["n"],
        "classifiedPetitions": province["n"], "totalDossiers": dossiers, "averageScore": None,
    }
    return _envelope({"overview": overview, "evaluation": rows, "pagination": _pagination(rows),
                      "source": ctx.templates.sources["MDHL"]})


DIGITISATION_RATES = {  # dossier-based MDSH metrics and the profile rate behind each
    "ORIGINAL_RESULT_AVAILABLE": "original",
    "SO_HOA_GIAY_TO_GIAI_QUYET": "digitized",
    "REUSED_DIGITIZED_DATA": "reused",
    "SYNCED_WITH_DVCQG_PERSONAL_STORAGE": "personal_storage",
    "CITIZEN_DATA_CONNECTED_DOSSIER": "citizen_dossier",
}


def _digitized(ctx: _Month) -> dict:
    """MDSH: dossier metrics pooled over units; the procedure metric is counted on the
    province's distinct procedures; certified copies are reported without counts."""
    rng, p, r = ctx.rng, ctx.profile, ctx.rates
    ecc_ratio, ecc_score = (100, 2) if p.ecc else (0, 0)

    def with_ecc(metrics: list[dict]) -> list[dict]:
        for m in metrics:
            if m["code"] == "ELECTRONIC_CERTIFIED_COPY":
                m.update(numerator=None, denominator=None, ratio=ecc_ratio, score=ecc_score)
        return metrics

    def metrics_of(counts: dict[str, tuple[int, int]]) -> list[dict]:
        counts = {**counts, "ELECTRONIC_CERTIFIED_COPY": (0, 0)}  # replaced by with_ecc
        return with_ecc(_metrics(ctx, "MDSH", counts, None))

    rows = []
    pooled = {code: (0, 0) for code in DIGITISATION_RATES}
    for stt, (unit, dossiers) in enumerate(zip(ctx.units, ctx.dossiers, strict=True), 1):
        counts = {code: (_draw(rng, dossiers, _unit_rate(rng, r[key], unit)), dossiers)
                  for code, key in DIGITISATION_RATES.items()}
        counts["CITIZEN_DATA_CONNECTED_FORMALITY"] = (
            _draw(rng, unit.formalities, _unit_rate(rng, r["citizen_formality"], unit)),
            unit.formalities)
        pooled = {code: (pooled[code][0] + counts[code][0], pooled[code][1] + dossiers)
                  for code in pooled}
        metrics = metrics_of(counts)
        total, maximum, ratio = _totals("MDSH", metrics)
        rows.append({
            "stt": stt, "departmentId": unit.id, "departmentName": unit.name,
            "departmentCode": unit.code, "departmentType": unit.type,
            "departmentLevel": unit.level, "agencyLevel": unit.agency_level,
            "totalScore": total, "totalMaxScore": maximum, "ratio": ratio, "metrics": metrics,
            "scoreDelta": None,
        })
    formalities = max(1, round(p.formalities * math.exp(rng.gauss(0, 0.01))))
    pooled["CITIZEN_DATA_CONNECTED_FORMALITY"] = (
        _draw(rng, formalities, r["citizen_formality"]), formalities)
    metrics = metrics_of(pooled)
    total, maximum, ratio = _totals("MDSH", metrics)
    overview = {
        "stt": 1, "departmentId": ctx.province.id, "departmentName": ctx.province.name,
        "departmentCode": ctx.province.code, "departmentType": "PROVINCE",
        "departmentLevel": "PROVINCE", "agencyLevel": "level_1", "totalScore": total,
        "totalMaxScore": maximum, "ratio": ratio, "metrics": metrics, "scoreDelta": None,
    }
    return _envelope({"overview": overview, "evaluation": rows, "pagination": _pagination(rows),
                      "source": ctx.templates.sources["MDSH"]})


BUILDERS = {  # in GROUP_CODES order: the month's generator is consumed in this order
    "CKMB": _transparency,
    "TDGQ": _progress,
    "CLGQ": _online,
    "TTTT": _payment,
    "MDHL": _satisfaction,
    "MDSH": _digitized,
}


def province_month(province: Province, month: date, seed: int, templates: Templates,
                   open_month: date | None = OPEN_MONTH) -> dict[str, dict]:
    """The six group responses of one province-month, by group code (``open_month``: the
    month the portal has only part of; None when every month is closed)."""
    ctx = _month_context(province, month, seed, templates, open_month)
    return {group: BUILDERS[group](ctx) for group in GROUP_CODES}


NATIONAL_SHAPES = ("full", "minimal")


def national_summary(provinces: list[dict], scores: dict[str, dict[str, float]],
                     previous: dict[str, float] | None, shape: str = "full") -> dict:
    """service-results: one row per province ranked by total, and the national mean.

    ``shape="minimal"``: only what a crawler of the real portal relies on: the overview's
    label and total; per province its id, name, total and six group scores. No
    pagination, departmentCode, stt, ratio, scoreDelta or overview group averages.
    """
    if shape not in NATIONAL_SHAPES:
        raise ValueError(f"unknown national summary shape {shape!r}: {NATIONAL_SHAPES}")
    rows = []
    for ref in provinces:
        code = ref["departmentCode"]
        groups = {g: scores[code][g] for g in GROUP_CODES}
        total = round(sum(groups.values()), 2)
        delta = None if previous is None else round(total - previous[code], 2)
        rows.append({
            "stt": 0, "departmentId": ref["departmentId"], "departmentName": ref["departmentName"],
            "departmentCode": code, "totalScore": total,
            "ratio": round(100 * total / TOTAL_MAX, 2), "scoreDelta": delta,
            "groupScores": groups,
        })
    rows.sort(key=lambda row: (-row["totalScore"], row["departmentCode"]))
    for rank, row in enumerate(rows, 1):
        row["stt"] = rank
    mean_total = round(statistics.mean(row["totalScore"] for row in rows), 2)
    if shape == "minimal":
        minimal = ("departmentId", "departmentName", "totalScore", "groupScores")
        return _envelope({"overview": {"departmentName": "Cả nước", "totalScore": mean_total},
                          "evaluation": [{k: row[k] for k in minimal} for row in rows]})
    overview = {
        "departmentName": "Cả nước", "totalScore": mean_total,
        "ratio": round(100 * mean_total / TOTAL_MAX, 2),
        "groupScores": {g: round(statistics.mean(row["groupScores"][g] for row in rows), 2)
                        for g in GROUP_CODES},
    }
    return _envelope({"overview": overview, "evaluation": rows, "pagination": _pagination(rows)})


# --------------------------------------------------------------------------- writing


class _ReplayWriter:
    """Writes files through a temporary name; forgets files of its previous run."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self.index: dict[str, dict] = {}
        self.bytes = 0
        index_path = out_dir / "index.json"
        self.previous = json.loads(index_path.read_text("utf-8")) if index_path.exists() else {}

    def write(self, relpath: str, body: bytes, meta: dict) -> None:
        _atomic_write(self.out_dir / relpath, body)
        self.index[relpath] = meta
        self.bytes += len(body)

    def finish(self) -> None:
        for relpath, meta in self.previous.items():
            if relpath in self.index:
                continue
            if self._ours(relpath, meta):
                (self.out_dir / relpath).unlink(missing_ok=True)
                self._prune(relpath)
            elif meta.get("generator") not in (None, GENERATOR) \
                    and (self.out_dir / relpath).is_file():
                self.index[relpath] = meta  # another generator's file (legacy history)
        ordered = {k: self.index[k] for k in sorted(self.index)}
        _atomic_write(self.out_dir / "index.json", dump(ordered))

    def _ours(self, relpath: str, meta: dict) -> bool:
        # Delete only what a previous run of this generator wrote, never outside out_dir.
        path = (self.out_dir / relpath).resolve()
        if not path.is_relative_to(self.out_dir.resolve()) or not path.is_file():
            return False
        if meta.get("synthetic") is True:
            return meta.get("generator") == GENERATOR
        return meta.get("synthetic") is False and _sha256(path.read_bytes()) == meta.get("sha256")

    def _prune(self, relpath: str) -> None:
        parent = (self.out_dir / relpath).parent
        root = self.out_dir.resolve()
        while parent.resolve() != root and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent


def _atomic_write(path: Path, body: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(body)
    os.replace(tmp, path)


# --------------------------------------------------------------------------- entry points


def generate(out_dir: Path, months: list[date], provinces: list[str] | None = None,
             seed: int = DEFAULT_SEED, samples_dir: Path = DEFAULT_SAMPLES_DIR,
             national_shape: str = "full", open_month: date | None = OPEN_MONTH) -> dict:
    """Write a replay directory; return {files, bytes, provinces, months, real}.

    ``national_shape``: "full" or "minimal" (see national_summary).
    ``open_month``: the month still open (a partial month of dossiers), None for none.
    The default, 2026-11, is the original sample's, which the tests' figures were pinned
    on; the command line's default is the last month generated."""
    out_dir, samples_dir = Path(out_dir), Path(samples_dir)
    if out_dir.resolve().is_relative_to(samples_dir.resolve()):
        raise ValueError(f"refusing to write into the samples directory {samples_dir}")
    months = sorted({first_day(m) for m in months})
    if not months:
        raise ValueError("no months to generate")
    open_month = open_month and first_day(open_month)
    refs = load_provinces()
    codes = [ref["departmentCode"] for ref in refs]
    selected = set(codes) if provinces is None else set(provinces)
    unknown = selected - set(codes)
    if unknown:
        raise ValueError(f"unknown province codes: {', '.join(sorted(unknown))}")

    captures = load_captures(samples_dir)
    if not captures:
        raise ValueError(f"no complete set of real month captures in {samples_dir}")
    templates = templates_from(next(iter(captures.values())))
    # A province with real captures keeps its real units and profile in every month.
    real_by_province: dict[str, dict[str, Capture]] = {}
    for (province_id, _month), caps in sorted(captures.items(), key=lambda kv: kv[0][1]):
        real_by_province.setdefault(province_id, caps)
    models = {ref["departmentCode"]: build_province(ref, seed,
                                                    real_by_province.get(ref["departmentId"]))
              for ref in refs}

    writer = _ReplayWriter(out_dir)
    synthetic_meta = {"synthetic": True, "generator": GENERATOR, "seed": seed}
    real_files = 0
    previous_totals: dict[str, float] | None = None
    for month in months:
        scores: dict[str, dict[str, float]] = {}
        for code in codes:  # every province: the summary must not depend on the selection
            province = models[code]
            real = captures.get((province.id, month))
            responses = None if real else province_month(province, month, seed, templates,
                                                          open_month)
            scores[code] = {g: group_score(g, real[g].data if real else responses[g]["data"])
                            for g in GROUP_CODES}
            if code not in selected:
                continue
            for group, endpoint in GROUP_ENDPOINTS.items():
                relpath = replay_relpath(endpoint, month_payload(endpoint, month,
                                                                 province_id=province.id))
                if real:
                    cap = real[group]
                    writer.write(relpath, cap.raw, {
                        "synthetic": False, "recordedAt": cap.entry["capturedAt"],
                        "sourceUrl": cap.entry["url"], "sha256": cap.entry["sha256"]})
                    real_files += 1
                else:
                    writer.write(relpath, dump(responses[group]), synthetic_meta)
        summary = national_summary(refs, scores, previous_totals, national_shape)
        writer.write(replay_relpath(NATIONAL, month_payload(NATIONAL, month)), dump(summary),
                     synthetic_meta)
        previous_totals = {code: round(sum(scores[code].values()), 2) for code in codes}
    writer.finish()
    return {"files": len(writer.index), "bytes": writer.bytes, "provinces": len(selected),
            "months": len(months), "real": real_files}


def parse_months(text: str) -> list[date]:
    """'2026-06:2026-11' (inclusive range) or '2026-06,2026-08'."""
    def one(value: str) -> date:
        return parse_month(value)

    if ":" in text:
        start, end = (one(v) for v in text.split(":", 1))
        if end < start:
            raise ValueError(f"empty month range {text}")
        return month_range(start, end)
    return [one(v) for v in text.split(",") if v.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.synthetic", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT_DIR)
    parser.add_argument("--months", default=f"{month_key(DEFAULT_MONTHS[0])}:"
                                            f"{month_key(DEFAULT_MONTHS[-1])}",
                        help="YYYY-MM:YYYY-MM (inclusive) or YYYY-MM,YYYY-MM,...")
    parser.add_argument("--provinces", default=None,
                        help="province codes, e.g. H44,H60 (default: all 34)")
    parser.add_argument("--open-month", default=None,
                        help="YYYY-MM: the month still open (default: the last one generated)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES_DIR)
    parser.add_argument("--national-shape", choices=NATIONAL_SHAPES, default="full",
                        help="service-results as the generator knows it (full), or only the "
                             "fields a real crawler relies on (minimal: no pagination, "
                             "departmentCode, stt, ratio, scoreDelta, overview group averages)")
    args = parser.parse_args(argv)
    provinces = ([c.strip().upper() for c in args.provinces.split(",") if c.strip()]
                 if args.provinces else None)
    started = time.perf_counter()
    try:
        months = parse_months(args.months)
        open_month = parse_months(args.open_month)[0] if args.open_month else months[-1]
        stats = generate(args.out, months, provinces, args.seed, args.samples,
                         args.national_shape, open_month)
    except ValueError as exc:
        parser.error(str(exc))
    stats["seconds"] = round(time.perf_counter() - started, 2)
    print(json.dumps({"out": str(args.out), **stats}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
