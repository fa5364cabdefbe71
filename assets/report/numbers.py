"""Numbers and labels the way a Vietnamese reader expects them: 15,68 and 184.513."""

UNIT_TYPES = {"PROVINCE": "Cấp tỉnh", "PROVINCIAL_DEPARTMENT": "Sở, ngành",
              "COMMUNE_PEOPLE_COMMITTEE": "Xã, phường"}
METHODS = {"exact_pooled": "chia đúng cho đơn vị (exact)",
           "pooled_with_remainder": "chia cho đơn vị + phần cấp tỉnh (pooled + remainder)",
           "province_level": "tính cho cả tỉnh (province level)",
           "not_attributable": "không phân bổ được (not attributable)"}


def vn(value: float | None, digits: int = 2, sign: bool = False) -> str:
    """15.68 -> "15,68", 184513 -> "184.513" (decimal comma, dot for thousands)."""
    if value is None:
        return "–"
    text = f"{value:{'+' if sign else ''},.{digits}f}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")
