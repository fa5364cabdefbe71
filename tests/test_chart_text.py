"""Chart text is text: a name from the data is drawn as written, never parsed as math.

A unit named with a ``$`` pair once stopped the scorecard every night (matplotlib's
mathtext raised ParseFatalException, naming no unit). Every chart function of
assets/report/charts.py is called here directly (no Dagster) with hostile names in
every text it draws from data.
"""

from datetime import date

import pytest

from assets.report import charts

PNG = b"\x89PNG\r\n\x1a\n"
LONG_NAME = ("Ủy ban nhân dân xã Đồng Tâm thuộc huyện Mỹ Đức trước sắp xếp, nay là "
             "Trung tâm Phục vụ hành chính công ") * 3
HOSTILE = {
    "an unclosed fraction": r"UBND xã $\frac{$ Hà Nam",
    "a dangling superscript": "Phường $x^$ Thanh Miếu",
    "two dollar pairs": "$a$ Sở $\\alpha$ Tài chính $",
    "an underscore": "Sở_Nội_vụ _{",
    "a percent": "Xã 100% hài lòng %d %s",
    "HTML": "<b>Sở Y tế</b><script>alert(1)</script>",
    "a 200-character Vietnamese name": LONG_NAME[:200],
}


def _history(name: str) -> list[dict]:
    # history rows carry no free text today; the chart is still drawn under the same style
    return [{"month": date(2026, m, 1), "total_score": 60.0 + m, "best_score": 80.0,
             "national_avg_score": 65.0, "rank": 12, "ranked_of": 34, "label": name}
            for m in (7, 8)]


def _groups(name: str) -> list[dict]:
    return [{"group_code": code, "group_name": name, "score": 5.0, "points_lost": 2.0,
             "max_score": 7.0} for code in ("CKMB", "TDGQ")]


def _metrics(name: str) -> list[dict]:
    return [{"group_code": "CKMB", "metric_name": name, "points_lost": 1.25},
            {"group_code": "MDSH", "metric_name": name + " (2)", "points_lost": 0.5}]


def _units(name: str) -> list[dict]:
    return [{"unit_name": name, "points_lost": 0.8, "by_group": {"TDGQ": 0.5, "CKMB": 0.3}},
            {"unit_name": "Xã " + name, "points_lost": 0.2, "by_group": {"MDHL": -0.1,
                                                                         "TTTT": 0.3}}]


def _change(name: str) -> dict:
    # the change chart labels its bars with group codes: a hostile code is drawn as well
    return {"groups": [{"group_code": name, "change": 0.75},
                       {"group_code": "TDGQ", "change": -1.5}],
            "total": {"change": -0.75}, "previous_month": date(2026, 7, 1)}


CHARTS = {"history_chart": _history, "groups_chart": _groups, "metrics_chart": _metrics,
          "units_chart": _units, "change_chart": _change}


def test_every_chart_function_is_covered():
    drawn = {n for n in dir(charts) if n.endswith("_chart") and callable(getattr(charts, n))}
    assert drawn == set(CHARTS), "a new chart function needs hostile-name cases here"


# the history chart draws no text from data: one case shows it is drawn under the style
CASES = [pytest.param(chart, name, id=f"{chart}-{label}") for chart in CHARTS
         for label, name in HOSTILE.items() if chart != "history_chart" or label == "HTML"]


@pytest.mark.parametrize(("chart", "name"), CASES)
def test_a_hostile_name_is_drawn_as_text(chart, name):
    png = getattr(charts, chart)(CHARTS[chart](name))
    assert png.startswith(PNG) and len(png) > 1000


def test_the_style_turns_math_parsing_off_only_inside_the_charts():
    import matplotlib

    assert charts.STYLE["text.parse_math"] is False
    # the setting is scoped to the chart's style context, not left on the process
    assert matplotlib.rcParams["text.parse_math"] is True


def test_months_before_the_merger_show_no_rank_out_of_34_in_the_history_chart():
    history = [
        {"month": date(2025, 6, 1), "total_score": 67.35, "rank": 32, "ranked_of": 34,
         "series": "comparable", "national_avg_score": 70.0, "best_score": 85.0},
        {"month": date(2025, 7, 1), "total_score": 65.54, "rank": 33, "ranked_of": 34,
         "series": "reported", "national_avg_score": 70.0, "best_score": 85.0},
    ]
    labels, footnote = charts.history_labels(history)
    assert "/34" not in labels[0] and labels[0] == "67,35*"
    assert labels[1].endswith("hạng 33/34")
    assert "ước tính so sánh" in footnote
    assert charts.history_chart(history).startswith(b"\x89PNG")
    assert charts.history_labels(history[1:])[1] == ""


def test_a_group_without_a_change_is_left_out_of_the_change_chart():
    # 07/2025 from a merged-layout spreadsheet: CLGQ and TTTT have no score, so no change
    change = {"groups": [{"group_code": "CLGQ", "change": None},
                         {"group_code": "TDGQ", "change": -1.5}],
              "total": {"change": -1.81}, "previous_month": date(2025, 6, 1)}
    assert charts.change_chart(change).startswith(b"\x89PNG")
