"""The index's groups and metrics: codes as the portal spells them, maxima and rules.

Bộ chỉ số 766 (Decision 766/QĐ-TTg) scores every unit out of 100 in six groups.
Rules (see docs/index.md for the evidence):

- ``linear``: score = max × ratio / 100 (ratio pooled over counts). Metrics of the
  tree endpoints (TDGQ, TTTT) name the raw parameters they are counted from.
- ``threshold``: full marks at ``threshold`` %, otherwise max × ratio / threshold.
- A zero denominator gives ``score_if_empty``: null for most metrics (it counts as
  0 in the group), full marks for petitions, 0 for dossier satisfaction (observed).
- ``tracking``: maximum 0, shown for information only.
- ``unknown``: formula not published; the portal's score is the only truth (CLGQ).
- ``as_reported``: scored by the portal from data the API does not expose.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Group:
    code: str
    name_vi: str
    name_en: str
    max_score: float
    endpoint: str


@dataclass(frozen=True)
class Metric:
    code: str
    group_code: str
    name_vi: str
    max_score: float
    rule: str
    threshold: float | None = None
    score_if_empty: float | None = None
    # parameters (raw counts) the metric is computed from, for tree endpoints
    numerator_param: str | None = None
    denominator_param: str | None = None


GROUPS: dict[str, Group] = {
    g.code: g
    for g in (
        Group("CKMB", "Công khai, minh bạch", "Publicity & transparency", 18, "transparency"),
        Group("TDGQ", "Tiến độ giải quyết", "On-time handling", 20, "dvc-progress-tree"),
        Group("CLGQ", "Dịch vụ công trực tuyến", "Online public services", 12,
              "provide-online-tree"),
        Group("TTTT", "Thanh toán trực tuyến", "Online payment", 10,
              "formality-online-payment-tree"),
        Group("MDHL", "Mức độ hài lòng", "Satisfaction", 18, "handling-satisfaction"),
        Group("MDSH", "Số hóa hồ sơ", "Digitisation of dossiers", 22, "dossier-digitized"),
    )
}
GROUP_CODES: tuple[str, ...] = tuple(GROUPS)
TOTAL_MAX = sum(g.max_score for g in GROUPS.values())

METRICS: dict[str, Metric] = {
    m.code: m
    for m in (
        # CKMB: zero denominators come back as ratio/score null, counted as 0 in the group.
        Metric("PUBLISH_ON_TIME", "CKMB", "Tỷ lệ TTHC công bố đúng hạn", 6, "linear"),
        Metric("PUBLIC_UPDATE_ON_TIME", "CKMB", "Tỷ lệ TTHC cập nhật, công khai đúng hạn", 4,
               "linear"),
        Metric("PUBLIC_CONTENT_FULL", "CKMB", "Tỷ lệ TTHC công khai đầy đủ nội dung", 2,
               "linear"),
        Metric("DOSSIER_SYNC", "CKMB", "Tỷ lệ hồ sơ đồng bộ lên Cổng DVCQG", 6, "linear"),
        # TDGQ: the tree endpoint returns raw counts only.
        Metric("DOSSIER_ON_TIME", "TDGQ", "Tỷ lệ hồ sơ xử lý đúng hạn", 20, "linear",
               score_if_empty=0, numerator_param="totalOnTime",
               denominator_param="totalReceived"),
        # CLGQ: formula not reproduced; the group score is authoritative.
        Metric("ONLINE_SERVICE", "CLGQ", "Dịch vụ công trực tuyến (điểm nhóm)", 12, "unknown"),
        # TTTT = 6·A + min(2, 2.5·B) + min(2, 2.5·C), a public fit that reproduces every
        # captured unit within 0.01; min(2, 2.5·x) is a threshold of 80 %. The C term's cap
        # is our assumption (no capture reaches it); it keeps the group within 10.
        Metric("PAYMENT_DOSSIER_ONLINE", "TTTT", "Tỷ lệ hồ sơ thanh toán trực tuyến", 6,
               "linear", score_if_empty=0, numerator_param="totalDossierOnlinePaymentSuccess",
               denominator_param="totalDossierFinancialObligation"),
        Metric("PAYMENT_FORMALITY_ONLINE", "TTTT",
               "Tỷ lệ TTHC có phát sinh thanh toán trực tuyến", 2, "threshold", threshold=80,
               score_if_empty=0, numerator_param="totalDossierOnlineFormalityPaymentSuccess",
               denominator_param="totalFeeFormality"),
        Metric("PAYMENT_FORMALITY_INTEGRATED", "TTTT",
               "Tỷ lệ TTHC có phí, lệ phí đã tích hợp thanh toán trực tuyến", 2, "threshold",
               threshold=80, score_if_empty=0, numerator_param="totalFeeDossierFormality",
               denominator_param="totalFeeFormality"),
        # MDHL
        Metric("DOSSIER_RECEIVING_SATISFACTION", "MDHL",
               "Tỷ lệ hài lòng trong tiếp nhận, giải quyết TTHC", 6, "threshold", threshold=90,
               score_if_empty=0),
        Metric("PETITION_PROCESSING_ON_TIME", "MDHL", "Tỷ lệ PAKN xử lý đúng hạn", 6,
               "linear", score_if_empty=6),
        Metric("PETITION_HANDLING_SATISFACTION", "MDHL", "Tỷ lệ hài lòng trong xử lý PAKN", 6,
               "linear", score_if_empty=6),
        Metric("PETITION_CLASSIFICATION_TTHC", "MDHL",
               "Tỷ lệ PAKN về quy định, thủ tục hành chính", 0, "tracking"),
        Metric("PETITION_CLASSIFICATION_STAFF", "MDHL",
               "Tỷ lệ PAKN về hành vi cán bộ, công chức, viên chức", 0, "tracking"),
        # MDSH
        Metric("ORIGINAL_RESULT_AVAILABLE", "MDSH",
               "Tỷ lệ hồ sơ TTHC có cấp kết quả giải quyết TTHC điện tử", 6, "linear"),
        Metric("SO_HOA_GIAY_TO_GIAI_QUYET", "MDSH",
               "Tỷ lệ hồ sơ TTHC thực hiện số hóa hồ sơ", 4, "linear"),
        Metric("REUSED_DIGITIZED_DATA", "MDSH",
               "Tỷ lệ hồ sơ khai thác, sử dụng lại thông tin, dữ liệu số hóa", 2, "threshold",
               threshold=80),
        Metric("SYNCED_WITH_DVCQG_PERSONAL_STORAGE", "MDSH",
               "Tỷ lệ hồ sơ TTHC được số hóa có kết nối, chia sẻ dữ liệu phục vụ tái sử dụng", 4,
               "linear"),
        Metric("CITIZEN_DATA_CONNECTED_DOSSIER", "MDSH",
               "Tỷ lệ hồ sơ TTHC có sử dụng thông tin, dữ liệu dân cư", 2, "linear"),
        Metric("CITIZEN_DATA_CONNECTED_FORMALITY", "MDSH",
               "Tỷ lệ TTHC triển khai kết nối, chia sẻ dữ liệu dân cư phục vụ GQ TTHC", 2,
               "linear"),
        Metric("ELECTRONIC_CERTIFIED_COPY", "MDSH",
               "Tỷ lệ cung cấp dịch vụ chứng thực bản sao điện tử từ bản chính", 2, "as_reported"),
    )
}

# Rating bands: no official table was found; every published classification fits these.
# They reach the marts as ref.bands (assets/warehouse.py::refresh_reference), and a total's
# band is looked up there, in SQL only (assets/marts/sql/province_monthly.sql).
BANDS: tuple[tuple[float, str], ...] = (
    (90, "Xuất sắc"),
    (80, "Tốt"),
    (70, "Khá"),
    (50, "Trung bình"),
    (0, "Yếu"),
)
BANDS_ARE_PROVISIONAL = True

# Provinces per era: assets/months.py (Era, expected_province_count).


def metrics_of(group_code: str) -> list[Metric]:
    return [m for m in METRICS.values() if m.group_code == group_code]
