"""The scorecard's charts as PNG bytes, drawn with matplotlib.

Figures are built with ``matplotlib.figure.Figure`` (the Agg canvas, no pyplot and
no global state, so concurrent runs cannot draw into each other's figure). The font
is DejaVu Sans, which ships with matplotlib and has the Vietnamese glyphs.
"""

import io
import textwrap
from datetime import date

import matplotlib

matplotlib.use("Agg")  # no display on the servers that run this

from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from .numbers import vn  # noqa: E402

GROUP_COLOURS = {"CKMB": "#4e79a7", "TDGQ": "#f28e2b", "CLGQ": "#76b7b2",
                 "TTTT": "#59a14f", "MDHL": "#edc948", "MDSH": "#b07aa1"}
LOST = "#e15759"
GAIN = "#59a14f"
# text.parse_math off: names come from the data, and a "$" pair in one must be drawn as
# written, not parsed as TeX (a bad one raised and stopped the scorecard).
STYLE = {"font.family": "DejaVu Sans", "font.size": 9, "axes.spines.top": False,
         "axes.spines.right": False, "axes.titlesize": 11, "axes.titleweight": "bold",
         "text.parse_math": False}
DPI = 110


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", facecolor="white")
    return buf.getvalue()


def _label(text: str, width: int = 48) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def _month(m: date) -> str:
    return f"{m:%m/%Y}"


def _tick(value: float, _pos=None) -> str:
    """0.75 -> "0,75", 0.5 -> "0,5", 10.0 -> "10": a decimal comma, no trailing zeros."""
    text = vn(value, 2)
    return text.rstrip("0").rstrip(",") if "," in text else text


def _comma_ticks(axis) -> None:
    """Tick labels with a decimal comma, like the page around the chart."""
    axis.set_major_formatter(FuncFormatter(_tick))


ESTIMATE_NOTE = ("* Trước 07/2025 (63 tỉnh): ước tính so sánh, ghép từ các tỉnh cũ; "
                 "không có hạng chính thức trên 34 tỉnh.")


def history_labels(history: list[dict]) -> tuple[list[str], str]:
    """The label under each month's point, and the footnote they need. Before 2025-07 the
    34-province figure is a comparable estimate (63 provinces then): no "x/34" rank."""
    labels = [f"{vn(h['total_score'])}*" if h.get("series") == "comparable"
              else f"{vn(h['total_score'])}\nhạng {h['rank']}/{h['ranked_of']}"
              for h in history]
    return labels, ESTIMATE_NOTE if any(lab.endswith("*") for lab in labels) else ""


def history_chart(history: list[dict]) -> bytes:
    """Total over the months against the national average and the best, with the rank."""
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(9, 3.4))
        ax = fig.subplots()
        x = list(range(len(history)))
        totals = [h["total_score"] for h in history]
        ax.plot(x, [h["best_score"] for h in history], ":", color=GAIN, label="Cao nhất")
        ax.plot(x, [h["national_avg_score"] for h in history], "--", color="#888888",
                label="Trung bình cả nước")
        ax.plot(x, totals, "o-", color="#1f3b73", linewidth=2.2, label="Tổng điểm")
        labels, footnote = history_labels(history)
        for i, (h, label) in enumerate(zip(history, labels, strict=True)):
            ax.annotate(label, (i, h["total_score"]), textcoords="offset points",
                        xytext=(0, -26), ha="center", fontsize=8, color="#1f3b73")
        if footnote:
            fig.text(0.01, 0.01, footnote, fontsize=7.5, color="#555555")
        ax.set_xticks(x, [_month(h["month"]) for h in history])
        low = min(totals + [h["national_avg_score"] for h in history])
        high = max(h["best_score"] for h in history)
        ax.set_ylim(max(0, low - 8), min(100, high + 3))
        ax.set_xlim(-0.5, len(history) - 0.5)
        ax.set_ylabel("điểm / 100")
        _comma_ticks(ax.yaxis)
        ax.set_title("Tổng điểm và xếp hạng theo tháng", loc="left")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(loc="upper left", fontsize=8, frameon=False, ncols=3,
                  bbox_to_anchor=(0, -0.12))
        return _png(fig)


def groups_chart(groups: list[dict]) -> bytes:
    """Each group's score and points lost, the largest loss on top."""
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(8, 0.45 * len(groups) + 1.2))
        ax = fig.subplots()
        rows = list(reversed(groups))
        y = list(range(len(rows)))
        ax.barh(y, [g["score"] for g in rows], color=[GROUP_COLOURS[g["group_code"]]
                                                      for g in rows])
        ax.barh(y, [g["points_lost"] for g in rows], left=[g["score"] for g in rows],
                color=LOST, alpha=0.35)
        for i, g in enumerate(rows):
            ax.text(g["max_score"] + 0.3, i, f"−{vn(g['points_lost'])}  ({vn(g['score'])}/"
                    f"{vn(g['max_score'], 0)})", va="center", fontsize=8)
        ax.set_yticks(y, [f"{g['group_code']} · {g['group_name']}" for g in rows])
        ax.set_xlim(0, max(g["max_score"] for g in rows) * 1.35)
        ax.set_xlabel("điểm", loc="left")
        _comma_ticks(ax.xaxis)
        ax.set_title("Điểm đạt và điểm mất theo nhóm",
                     loc="left")
        # below the axis: inside it would cover the bars' labels
        ax.legend(handles=[Patch(color="#8c96a8", label="đạt, màu theo nhóm"),
                           Patch(color=LOST, alpha=0.35, label="mất")],
                  loc="upper right", bbox_to_anchor=(1, -0.12), fontsize=8, frameon=False,
                  ncols=2)
        return _png(fig)


def metrics_chart(metrics: list[dict], limit: int = 12) -> bytes:
    """Points lost per metric, the largest on top."""
    rows = [m for m in metrics if m["points_lost"] > 0.005][:limit]
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(8, 0.5 * max(len(rows), 1) + 1.2))
        ax = fig.subplots()
        rows = list(reversed(rows))
        y = list(range(len(rows)))
        ax.barh(y, [m["points_lost"] for m in rows],
                color=[GROUP_COLOURS[m["group_code"]] for m in rows])
        for i, m in enumerate(rows):
            ax.text(m["points_lost"] + 0.05, i, vn(m["points_lost"]), va="center",
                    fontsize=8)
        ax.set_yticks(y, [_label(f"{m['group_code']} · {m['metric_name']}") for m in rows],
                      fontsize=8)
        ax.set_xlim(0, max([m["points_lost"] for m in rows] + [1]) * 1.15)
        ax.set_xlabel("điểm mất")
        _comma_ticks(ax.xaxis)
        ax.set_title("Điểm mất theo chỉ tiêu", loc="left")
        return _png(fig)


def units_chart(units: list[dict]) -> bytes:
    """The units costing the most points, split by group."""
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(8, 0.45 * max(len(units), 1) + 1.4))
        ax = fig.subplots()
        rows = list(reversed(units))
        y = list(range(len(rows)))
        left_pos = [0.0] * len(rows)
        left_neg = [0.0] * len(rows)
        for code, colour in GROUP_COLOURS.items():
            values = [(u["by_group"] or {}).get(code, 0.0) for u in rows]
            if not any(values):
                continue
            lefts = [lp if v >= 0 else ln for v, lp, ln in zip(values, left_pos, left_neg,
                                                                strict=True)]
            ax.barh(y, values, left=lefts, color=colour, label=code)
            left_pos = [lp + max(v, 0) for v, lp in zip(values, left_pos, strict=True)]
            left_neg = [ln + min(v, 0) for v, ln in zip(values, left_neg, strict=True)]
        for i, u in enumerate(rows):
            ax.text(left_pos[i] + 0.03, i, vn(u["points_lost"]), va="center", fontsize=8)
        ax.set_yticks(y, [_label(u["unit_name"], 44) for u in rows], fontsize=8)
        ax.set_xlim(min(left_neg + [0]) * 1.1, max(left_pos + [0.5]) * 1.15)
        ax.axvline(0, color="#444444", linewidth=0.6)
        ax.set_xlabel("điểm tỉnh bị mất do đơn vị", loc="left")
        _comma_ticks(ax.xaxis)
        ax.set_title("Đơn vị làm mất nhiều điểm nhất", loc="left")
        ax.legend(loc="upper right", bbox_to_anchor=(1, -0.1), fontsize=8, frameon=False,
                  ncols=6)
        return _png(fig)


def change_chart(change: dict) -> bytes:
    """The change in each group and in the total since the previous month."""
    # a month whose source merged CLGQ and TTTT in one column has no change for them
    groups = [g for g in change["groups"] if g["change"] is not None]
    labels = [g["group_code"] for g in groups] + ["Tổng"]
    values = [g["change"] for g in groups] + [change["total"]["change"]]
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(8, 3))
        ax = fig.subplots()
        x = list(range(len(values)))
        ax.bar(x, values, color=[GAIN if v >= 0 else LOST for v in values],
               edgecolor=["none"] * (len(values) - 1) + ["#222222"])
        for i, v in enumerate(values):
            ax.annotate(vn(v, sign=True), (i, v), textcoords="offset points",
                        xytext=(0, 4 if v >= 0 else -12), ha="center", fontsize=8)
        ax.axhline(0, color="#444444", linewidth=0.8)
        ax.set_xticks(x, labels)
        span = max([abs(v) for v in values] + [0.1])
        ax.set_ylim(-span * 1.35, span * 1.35)
        ax.set_ylabel("điểm")
        _comma_ticks(ax.yaxis)
        ax.set_title(f"Thay đổi so với {_month(change['previous_month'])}",
                     loc="left")
        return _png(fig)
