"""Numbers and labels the way a Vietnamese reader expects them: 15,68 and 184.513."""

UNIT_TYPES = {"PROVINCE": "Cấp tỉnh", "PROVINCIAL_DEPARTMENT": "Sở, ngành",
              "COMMUNE_PEOPLE_COMMITTEE": "Xã, phường"}
METHODS = {"exact_pooled": "phân bổ chính xác cho đơn vị",
           "pooled_with_remainder": "phân bổ cho đơn vị, phần còn lại tính cho cấp tỉnh",
           "province_level": "tính cho cả tỉnh",
           "not_attributable": "không phân bổ được cho đơn vị"}

# how a pre-merger province's comparable estimate was made (combine_method)
COMBINED = {
    "single_predecessor": "một tỉnh cũ: giữ nguyên điểm của tỉnh đó",
    "dossier_weighted": "bình quân gia quyền điểm của các tỉnh cũ, theo số hồ sơ TTHC "
                        "tiếp nhận",
    "plain_mean": "trung bình cộng điểm của các tỉnh cũ (nguồn không có số hồ sơ TTHC "
                  "tiếp nhận để gia quyền)",
}


def vn(value: float | None, digits: int = 2, sign: bool = False) -> str:
    """15.68 -> "15,68", 184513 -> "184.513" (decimal comma, dot for thousands)."""
    if value is None:
        return "–"
    text = f"{value:{'+' if sign else ''},.{digits}f}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def vn_time(ts) -> str:
    """A timestamp as Vietnam time (UTC+7): 05/08/2026 10:00 (giờ Việt Nam)."""
    from assets.months import VIETNAM

    if ts is None:
        return "–"
    return f"{ts.astimezone(VIETNAM):%d/%m/%Y %H:%M} (giờ Việt Nam)"
