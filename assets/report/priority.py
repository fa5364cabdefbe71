"""'Ưu tiên — what to fix first': the fixes that win the most points for the least work.

Built on marts.recoverable_points (the what-if of every metric: the points won and the
count of items it takes to reach the best province, the bar, or the median unit). The
rule (docs/index.md, "What to fix first"):

1. An action is a metric scenario with a count to add: rule linear or threshold, items
   needed > 0, points won >= MIN_GAIN. CLGQ (formula not published), metrics scored from
   data the API does not expose, and months with nothing counted are never actions: they
   are listed apart, with the reason.
2. Each metric keeps its scenario with the most points per item needed (ties: more
   points); metrics are ranked by that figure, then by points, then by code.
3. The box shows the first TOP actions, with the units that hold most of the metric's
   shortfall (marts.unit_points_lost).
"""

from dataclasses import dataclass, field

MIN_GAIN = 0.05
TOP = 3
SCENARIOS = (("full", "đạt mức tối đa"), ("best", "bằng tỉnh tốt nhất"),
             ("median", "các đơn vị yếu đạt mức đơn vị trung vị"))
NOT_ACTIONABLE = {
    "unknown": "Cổng chưa công bố công thức tính: không quy được ra số hồ sơ cần thêm",
    "as_reported": "chấm từ dữ liệu Cổng không công khai qua API: không quy được ra số lượng",
    "empty": "tháng này không có gì được đếm (mẫu số bằng 0): không có số lượng để thêm",
}


def item_noun(metric_code: str) -> str:
    """What the portal counts for the metric, in its own words."""
    code = metric_code.upper()
    if code.startswith("PETITION"):
        return "phản ánh, kiến nghị"
    if code.startswith(("PUBLISH", "PUBLIC_", "PAYMENT_FORMALITY", "CITIZEN_DATA_CONNECTED_F")):
        return "thủ tục hành chính"
    return "hồ sơ TTHC"


@dataclass
class Action:
    metric_code: str
    group_code: str
    metric_name: str
    scenario: str
    scenario_label: str
    gain: float
    needed: int
    rank_if: int | None
    ranked_of: int | None
    noun: str
    units: list[dict] = field(default_factory=list)

    @property
    def per_item(self) -> float:
        return self.gain / self.needed


@dataclass
class Priority:
    actions: list[Action]
    set_aside: list[dict]  # {"group_code", "metric_name", "points_lost", "why"}
    considered: int


def rank_actions(rows: list[dict], top: int = TOP) -> Priority:
    """rows: marts.recoverable_points of one province and month."""
    actions, aside = [], []
    for r in rows:
        lost = r.get("points_lost") or 0
        if lost < 0.005:
            continue
        if r["rule"] in ("unknown", "as_reported") or not r.get("denominator"):
            why = NOT_ACTIONABLE.get(r["rule"], NOT_ACTIONABLE["empty"])
            aside.append({"group_code": r["group_code"], "metric_code": r["metric_code"],
                          "metric_name": r["metric_name"], "points_lost": lost, "why": why})
            continue
        best = None
        for key, label in SCENARIOS:
            gain, needed = r.get(f"gain_to_{key}"), r.get(f"needed_to_{key}")
            if gain is None or needed is None or needed <= 0 or gain < MIN_GAIN:
                continue
            option = Action(r["metric_code"], r["group_code"], r["metric_name"], key, label,
                            float(gain), int(needed), r.get(f"rank_if_{key}"),
                            r.get("ranked_of"), item_noun(r["metric_code"]))
            if best is None or (option.per_item, option.gain) > (best.per_item, best.gain):
                best = option
        if best is not None:
            actions.append(best)
    actions.sort(key=lambda a: (-a.per_item, -a.gain, a.metric_code))
    aside.sort(key=lambda a: -a["points_lost"])
    return Priority(actions[:top], aside, len(actions))
