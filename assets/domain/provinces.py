"""Provinces across the 2025 merger: the 34 of today and the 63 they were made of.

Data: data/reference/provinces.json (the portal's 34, with codes) and
data/reference/province_lineage.json (which old provinces each one absorbed on
2025-07-01). Names are compared in a short, normalised form, because the same
province is written "UBND thành phố Hồ Chí Minh", "TP. Hồ Chí Minh", "Thành phố Hồ
Chí Minh", with NFC or NFD diacritics.
"""

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from assets.months import FIRST_MONTH, MERGER_MONTH, Era, era_of, last_day, previous_month

REFERENCE = Path(__file__).resolve().parents[2] / "data" / "reference"
PROVINCES_FILE = "data/reference/provinces.json"  # as named in messages
_PREFIXES = re.compile(r"^(ubnd|ủy ban nhân dân|uy ban nhan dan)\s+", re.IGNORECASE)
_KINDS = re.compile(r"^(tỉnh|thành phố|tp\.?)\s*", re.IGNORECASE)


def short_name(name: str) -> str:
    """'UBND thành phố Hồ Chí Minh', 'TP. Hồ Chí Minh' → 'hồ chí minh' (NFC, lower case)."""
    text = unicodedata.normalize("NFC", name).strip()
    text = _KINDS.sub("", _PREFIXES.sub("", text)).strip()
    text = text.replace("–", "-").replace("—", "-")
    return re.sub(r"\s+", " ", text).lower()


@dataclass(frozen=True)
class Lineage:
    code: str  # the portal's code of the merged province, e.g. H60
    name: str  # the portal's name, e.g. "UBND tỉnh Tuyên Quang"
    predecessors: tuple[str, ...]  # short names of the provinces it absorbed
    since: date


@cache
def lineages() -> tuple[Lineage, ...]:
    current = json.loads((REFERENCE / "provinces.json").read_text("utf-8"))["provinces"]
    names = {p["departmentCode"]: p["departmentName"] for p in current}
    doc = json.loads((REFERENCE / "province_lineage.json").read_text("utf-8"))
    since = date.fromisoformat(doc["mergerDate"])
    return tuple(Lineage(p["code"], names[p["code"]], tuple(p["predecessors"]), since)
                 for p in doc["provinces"])


def successor_of(old_name: str) -> Lineage | None:
    """The merged province an old (pre-2025-07) province became part of."""
    wanted = short_name(old_name)
    for lineage in lineages():
        if wanted in {short_name(p) for p in lineage.predecessors}:
            return lineage
    return None


# ---------------------------------------------------------------------------------------
# The versioned province reference: 63 provinces until 2025-06-30, 34 from 2025-07-01.

FIRST_DAY_63 = FIRST_MONTH  # the index went live on the portal on 01/08/2022
LAST_DAY_63 = last_day(previous_month(MERGER_MONTH))
# Centrally-run cities before the merger (Huế became one on 2025-01-01).
_CITIES_63 = {"hà nội", "hồ chí minh", "hải phòng", "đà nẵng", "cần thơ"}
_OLD_NAMES = {"hồ chí minh": "Hồ Chí Minh", "huế": "Thừa Thiên Huế"}
# Spellings seen in exports besides "<kind> <name>" (compared without case or diacritics).
_EXTRA_VARIANTS = {"hồ chí minh": ("TP.HCM", "TPHCM", "TP HCM", "HCM"),
                   "huế": ("Thừa Thiên Huế", "Thành phố Huế", "Huế"),
                   "thừa thiên huế": ("Thành phố Huế", "Huế"),
                   "bà rịa - vũng tàu": ("Bà Rịa Vũng Tàu", "BR-VT")}


def ascii_key(name: str) -> str:
    """short_name without diacritics: 'Tuyên Quang', 'Tuyen Quang', NFD → 'tuyen quang'."""
    text = unicodedata.normalize("NFD", short_name(name)).replace("đ", "d").replace("Đ", "d")
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = re.sub(r"[^a-z0-9]+", " ", text.lower())
    return text.strip()


@dataclass(frozen=True)
class Province:
    """One province in one era. ``key`` is unique across eras."""

    key: str  # 'H60' for the 34; 'old:tuyen-quang' for the 63 (no portal code captured)
    era: str  # '63' or '34'
    code: str | None  # the portal's code (the 34 only)
    department_id: str | None  # the portal's departmentId (the 34 only)
    name: str  # official name: "Tỉnh Tuyên Quang", "UBND tỉnh Tuyên Quang"
    short: str  # "Tuyên Quang"
    valid_from: date
    valid_to: date | None
    successor: str  # key of the 34-era province it is (or became part of)
    variants: tuple[str, ...]


def _variants(short: str, official: str) -> tuple[str, ...]:
    city = short_name(official) != short_name(short) or official.lower().startswith(
        ("thành phố", "ubnd thành phố"))
    kinds = ("Thành phố", "TP.", "TP") if city else ("Tỉnh",)
    names = [short, official, *(f"{k} {short}" for k in kinds), f"UBND {official}"]
    names += _EXTRA_VARIANTS.get(short_name(short), ())
    names += _EXTRA_VARIANTS.get(short_name(official), ())
    seen: dict[str, None] = {}
    for n in names:
        seen.setdefault(n, None)
    return tuple(seen)


@cache
def province_reference() -> tuple[Province, ...]:
    """Every province of both eras, with validity dates and the old → new mapping."""
    current = {p["departmentCode"]: p for p in
               json.loads((REFERENCE / "provinces.json").read_text("utf-8"))["provinces"]}
    out: list[Province] = []
    for lineage in lineages():
        portal = current[lineage.code]
        short = re.sub(r"^(ubnd)\s+", "", portal["departmentName"], flags=re.IGNORECASE)
        short = _KINDS.sub("", short).strip()
        official = re.sub(r"^UBND\s+", "", portal["departmentName"])
        official = official[0].upper() + official[1:]
        out.append(Province(
            key=lineage.code, era=Era.MERGED.value, code=lineage.code,
            department_id=portal["departmentId"], name=portal["departmentName"],
            short=short, valid_from=lineage.since, valid_to=None, successor=lineage.code,
            variants=_variants(short, official)))
        for old in lineage.predecessors:
            old_short = _OLD_NAMES.get(short_name(old), old)
            kind = "Thành phố" if short_name(old) in _CITIES_63 else "Tỉnh"
            out.append(Province(
                key="old:" + ascii_key(old).replace(" ", "-"), era=Era.PRE_MERGER.value, code=None,
                department_id=None, name=f"{kind} {old_short}", short=old_short,
                valid_from=FIRST_DAY_63, valid_to=LAST_DAY_63, successor=lineage.code,
                variants=_variants(old_short, f"{kind} {old_short}")))
    return tuple(out)


def code_of_department(department_id: str) -> str | None:
    """The portal code (``H60``) of one of today's 34 provinces from its departmentId, as
    ref.provinces has it; None for an id we do not know."""
    return _codes_by_department().get(department_id)


@cache
def _codes_by_department() -> dict[str, str]:
    return {p.department_id: p.code for p in province_reference()
            if p.era == Era.MERGED and p.department_id}


def resolve_province(name: str, month: date) -> Province | None:
    """The province of ``month``'s era a written name means (any spelling, with or
    without diacritics); None when it matches none."""
    era = era_of(month)
    candidates = [p for p in province_reference() if p.era == era]
    wanted = short_name(name)
    exact = [p for p in candidates if wanted in {short_name(v) for v in p.variants}]
    if len(exact) == 1:
        return exact[0]
    loose = ascii_key(name)
    found = [p for p in candidates if loose in {ascii_key(v) for v in p.variants}]
    return found[0] if len(found) == 1 else None
