"""The 63 → 34 merger map: every old province goes to exactly one of the portal's 34."""

import unicodedata
from collections import Counter

from assets.domain.provinces import lineages, short_name, successor_of
from assets.months import expected_province_count


def test_the_map_covers_the_portals_34_and_the_63_before_them():
    maps = lineages()
    assert len({m.code for m in maps}) == 34 == expected_province_count(maps[0].since)
    old = Counter(short_name(p) for m in maps for p in m.predecessors)
    assert len(old) == 63 and max(old.values()) == 1  # each old province in one place


def test_tuyen_quang_absorbed_ha_giang_and_names_match_in_any_spelling():
    assert successor_of("Hà Giang").code == "H60"
    assert successor_of("UBND tỉnh Tuyên Quang").code == "H60"
    assert successor_of(unicodedata.normalize("NFD", "UBND thành phố Hồ Chí Minh")).code == "H29"
    assert successor_of("TP. Hồ Chí Minh").code == "H29"
    assert successor_of("Bình Dương").name == "UBND Thành phố Hồ Chí Minh"
    assert successor_of("Atlantis") is None
