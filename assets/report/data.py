"""What the scorecard shows, read from the published copy: plain rows, no Dagster.

Every number comes from a mart; nothing is computed here but choosing and grouping.
"""

from dataclasses import dataclass, field
from datetime import date

import duckdb

from assets.marts_catalogue import RECOMPUTATION_TOLERANCE

from .numbers import vn, vn_time

TOP_UNITS = 10
TOP_MOVES = 5


@dataclass
class Scorecard:
    code: str
    month: date
    province: dict
    history: list[dict]
    groups: list[dict]
    metrics: list[dict] = field(default_factory=list)
    units: list[dict] = field(default_factory=list)
    whatif: list[dict] = field(default_factory=list)
    change: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # before the 07/2025 merger: the official figures of the former provinces (rank of 63)
    predecessors: list[dict] = field(default_factory=list)

    @property
    def pulled(self) -> bool:
        """Only provinces whose group endpoints were pulled have metric and unit detail."""
        return bool(self.metrics)

    @property
    def pulled_provinces(self) -> int:
        """How many provinces the what-if's "best" was chosen from (CLGQ aside: all)."""
        return max((w["compared_provinces"] or 0 for w in self.whatif
                    if w["rule"] != "unknown"), default=0)


def _rows(con: duckdb.DuckDBPyConnection, query: str, params: list) -> list[dict]:
    cur = con.execute(query, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def load_scorecard(con: duckdb.DuckDBPyConnection, code: str, month: date) -> Scorecard | None:
    province = _rows(con, "SELECT * FROM marts.province_monthly "
                          "WHERE province_code = ? AND month = ?", [code, month])
    if not province:
        return None
    card = Scorecard(
        code=code, month=month, province=province[0],
        history=_rows(con, """
            SELECT month, total_score, national_avg_score, best_score, rank, ranked_of, series
            FROM marts.province_monthly WHERE province_code = ? AND month <= ?
            ORDER BY month""", [code, month]),
        groups=_rows(con, """
            SELECT g.group_code, g.group_name, r.group_name_en, g.score, g.max_score,
                   g.points_lost, g.national_avg_score, g.best_score, g.rank, g.ranked_of
            FROM marts.group_monthly g JOIN ref.groups r USING (group_code)
            WHERE g.province_code = ? AND g.month = ?
            ORDER BY g.points_lost DESC, g.group_code""", [code, month]),
    )
    card.metrics = _rows(con, """
        SELECT m.group_code, m.metric_code, m.metric_name, m.numerator, m.denominator,
               m.ratio, m.score, m.max_score, m.points_lost, m.rule, m.threshold,
               m.score_source, m.data_quality_status, m.data_quality_message,
               m.is_synthetic, a.method, a.note
        FROM marts.metric_monthly m
        LEFT JOIN (SELECT month, province_id, metric_code, any_value(method) AS method,
                          any_value(note) FILTER (WHERE note IS NOT NULL) AS note
                   FROM marts.unit_points_lost GROUP BY ALL) a
               USING (month, province_id, metric_code)
        WHERE m.province_code = ? AND m.month = ? AND m.max_score > 0
        ORDER BY m.points_lost DESC, m.metric_code""", [code, month])
    card.units = _top_units(con, code, month)
    card.whatif = _rows(con, """
        SELECT * FROM marts.recoverable_points
        WHERE province_code = ? AND month = ? AND points_lost > 0.005
        ORDER BY points_lost DESC, metric_code""", [code, month])
    card.change = _change(con, code, month)
    if province[0].get("series") == "comparable":
        card.predecessors = _rows(con, """
            SELECT province_name, total_score, rank, ranked_of FROM marts.province_monthly
            WHERE month = ? AND successor_code = ? AND province_code IS NULL AND era = '63'
            ORDER BY rank""", [month, code])
    card.warnings = _warnings(con, card)
    return card


def _top_units(con, code: str, month: date) -> list[dict]:
    """The units (not the province's own rows) whose attributed shares cost the most."""
    units = _rows(con, """
        SELECT unit_id, any_value(unit_name) AS unit_name, any_value(unit_type) AS unit_type,
               sum(lost) AS points_lost,
               map_from_entries(list((group_code, lost))) AS by_group
        FROM (SELECT unit_id, unit_name, unit_type, group_code, sum(points_lost) AS lost
              FROM marts.unit_points_lost
              WHERE province_code = ? AND month = ? AND unit_id <> province_id
                AND method IN ('exact_pooled', 'pooled_with_remainder')
              GROUP BY ALL)
        GROUP BY unit_id
        ORDER BY points_lost DESC, unit_name
        LIMIT ?""", [code, month, TOP_UNITS])
    if not units:
        return []
    # each unit's costliest metric, with the counts behind it
    worst = {r["unit_id"]: r for r in _rows(con, """
        SELECT u.unit_id, arg_max(u.metric_code, (u.points_lost, u.metric_code)) AS metric_code,
               arg_max(m.metric_name, (u.points_lost, u.metric_code)) AS metric_name,
               max(u.points_lost) AS metric_points_lost,
               arg_max(u.numerator, (u.points_lost, u.metric_code)) AS numerator,
               arg_max(u.denominator, (u.points_lost, u.metric_code)) AS denominator,
               arg_max(u.missing_count, (u.points_lost, u.metric_code)) AS missing_count
        FROM marts.unit_points_lost u JOIN ref.metrics m USING (metric_code)
        WHERE u.province_code = ? AND u.month = ? AND list_contains(?, u.unit_id)
        GROUP BY u.unit_id""", [code, month, [u["unit_id"] for u in units]])}
    return [{**u, **{k: v for k, v in worst[u["unit_id"]].items() if k != "unit_id"}}
            for u in units]


def _change(con, code: str, month: date) -> dict:
    rows = _rows(con, """
        SELECT level, group_code, metric_code, unit_name, unit_type, score, previous_score,
               change, points_lost, previous_points_lost, move_rank, previous_month
        FROM marts.score_change_explained
        WHERE province_code = ? AND month = ?
        ORDER BY level, move_rank""", [code, month])
    if not rows or rows[0]["previous_month"] is None:  # no month before it to compare with
        return {}
    by_level = {level: [r for r in rows if r["level"] == level]
                for level in ("total", "group", "metric", "unit")}
    names = dict(con.execute("SELECT metric_code, metric_name FROM ref.metrics").fetchall())
    return {
        "previous_month": rows[0]["previous_month"],
        "total": by_level["total"][0] if by_level["total"] else None,
        "groups": sorted(by_level["group"], key=lambda r: r["group_code"]),
        "metrics": [{**r, "metric_name": names.get(r["metric_code"])}
                    for r in by_level["metric"][:TOP_MOVES] if abs(r["change"]) >= 0.005],
        "units_better": sorted((r for r in by_level["unit"] if r["change"] >= 0.005),
                               key=lambda r: -r["change"])[:TOP_MOVES],
        "units_worse": sorted((r for r in by_level["unit"] if r["change"] <= -0.005),
                              key=lambda r: r["change"])[:TOP_MOVES],
    }


def _warnings(con, card: Scorecard) -> list[str]:
    p = card.province
    out = []
    detail_synthetic = any(m["is_synthetic"] for m in card.metrics)
    if p["is_synthetic"] and (detail_synthetic or not card.pulled):
        out.append("Dữ liệu mô phỏng: các số liệu của tháng này "
                   "do công cụ sinh ra, không phải của Cổng DVCQG.")
    elif p["is_synthetic"]:
        out.append("Điểm tổng và xếp hạng lấy từ bảng tổng hợp toàn quốc mô phỏng (dữ liệu "
                   "mô phỏng); chỉ tiêu và đơn vị là số liệu thật lấy từ Cổng.")
    elif detail_synthetic:
        out.append("Chỉ tiêu và đơn vị là dữ liệu mô phỏng.")
    if not p["is_final"]:
        out.append(f"Tháng {card.month:%m/%Y} chưa chốt: điểm "
                   f"còn thay đổi; số liệu lấy lúc {vn_time(p['captured_at'])}.")
    out.append("Xếp loại là tạm tính: chưa có bảng xếp loại chính thức.")
    if not card.pulled:
        out.append("Chưa thu thập số liệu chi tiết theo nhóm chỉ số của tỉnh này: chỉ có "
                   "điểm tổng hợp toàn quốc, chưa có số liệu theo chỉ tiêu và đơn vị.")
    for m in card.metrics:
        if m["data_quality_status"]:
            # the portal's own words first; its code stays, small, at the end
            said = (m["data_quality_message"] or "").strip().rstrip(".")
            out.append(f"Chỉ tiêu «{m['metric_name']}»: Cổng ghi chú về chất lượng dữ liệu"
                       f"{' — ' + said if said else ''} (mã {m['data_quality_status']}).")
    unattributed = sum(m["points_lost"] for m in card.metrics
                       if m["method"] == "not_attributable")
    if unattributed > 0.005:
        out.append(f"{vn(unattributed)} điểm bị mất không phân bổ được cho đơn vị "
                   "(nhóm Dịch vụ công trực tuyến chưa có công thức công bố, hoặc số liệu "
                   "các đơn vị không cộng lại thành số của tỉnh).")
    n, largest = con.execute("""
        SELECT count(*), max(abs(difference)) FROM marts.score_recomputation
        WHERE province_code = ? AND month = ? AND abs(difference) > ?""",
                             [card.code, card.month, RECOMPUTATION_TOLERANCE]).fetchone()
    if n:
        out.append(f"{n} điểm số tính lại từ số liệu gốc lệch với Cổng quá "
                   f"{vn(RECOMPUTATION_TOLERANCE)} (lớn nhất {vn(largest)}): Cổng có thể đã đổi "
                   "cách tính.")
    return out
