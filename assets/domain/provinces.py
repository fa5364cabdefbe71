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

REFERENCE = Path(__file__).resolve().parents[2] / "data" / "reference"
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
