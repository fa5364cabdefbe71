"""The report site and its "Ưu tiên" box, on a hand-made published copy.

Three provinces, one month before the merger (03/2025: Tuyên Quang = Hà Giang + Tuyên
Quang) and two after. The box's fixture is built so that the cheapest fix is known.
The pages are opened in one headless Chromium start (a harness page frames them at
1280 px and 400 px and reports what it measured).
"""

import json
import re
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from assets.months import era_of
from assets.report.browser import BrowserMissing, dump_dom, find_chromium
from assets.report.priority import rank_actions
from assets.report.site import build_site
from assets.warehouse import ensure_schema, refresh_reference

PRE, JULY, AUG = date(2025, 3, 1), date(2025, 7, 1), date(2025, 8, 1)
CODES = {"H60": 61.5, "H44": 72.25, "H26": 80.0}


def what_if(metric, group, rule, lost, gain, needed, denominator=100, **extra):
    row = {"metric_code": metric, "group_code": group, "metric_name": f"Chỉ tiêu {metric}",
           "rule": rule, "points_lost": lost, "denominator": denominator, "ranked_of": 34,
           "gain_to_full": lost, "needed_to_full": needed, "rank_if_full": 5,
           "gain_to_best": gain, "needed_to_best": needed and max(1, needed // 2),
           "rank_if_best": 9, "gain_to_median": None, "needed_to_median": None,
           "rank_if_median": None}
    return row | extra


# publishing 14 procedures wins ~2 points; 20,650 dossiers win 2.53; CLGQ loses most
FIXTURE = [
    what_if("ONLINE_SERVICE", "CLGQ", "unknown", 4.18, 3.18, None, denominator=None),
    what_if("DOSSIER_ON_TIME", "TDGQ", "linear", 3.25, 2.53, 26_520,
            gain_to_best=2.53, needed_to_best=20_650),
    what_if("PUBLISH_ON_TIME", "CKMB", "linear", 2.20, 2.03, 15,
            gain_to_best=2.03, needed_to_best=14),
    what_if("PETITION_PROCESSING_ON_TIME", "MDHL", "linear", 2.08, 1.98, 148,
            needed_to_best=142, gain_to_median=0.10, needed_to_median=9),
    what_if("ELECTRONIC_CERTIFIED_COPY", "MDSH", "as_reported", 0.9, 0.0, None),
    what_if("DOSSIER_SYNC", "CKMB", "linear", 0.02, 0.02, 3),  # too small to be an action
]


def test_the_cheapest_fix_tops_the_box():
    box = rank_actions(FIXTURE)
    first = box.actions[0]
    assert (first.metric_code, first.scenario, first.needed) == ("PUBLISH_ON_TIME", "full", 15)
    assert first.noun == "thủ tục hành chính"
    assert [a.metric_code for a in box.actions] == [
        "PUBLISH_ON_TIME", "PETITION_PROCESSING_ON_TIME", "DOSSIER_ON_TIME"]
    # each metric keeps its scenario with the most points per item: the petitions 2.08
    # for 148 (over 1.98 for 142 and 0.10 for 9), the dossiers 3.25 for 26,520
    assert (box.actions[1].scenario, box.actions[1].needed) == ("full", 148)
    assert (box.actions[2].scenario, box.actions[2].needed) == ("full", 26_520)
    # CLGQ loses the most but is never an action: set aside, with why
    assert "CLGQ" not in {a.group_code for a in box.actions}
    assert [s["metric_code"] for s in box.set_aside] == ["ONLINE_SERVICE",
                                                         "ELECTRONIC_CERTIFIED_COPY"]
    assert "công thức" in box.set_aside[0]["why"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    db = root / "published.duckdb"
    with duckdb.connect(str(db)) as con:
        ensure_schema(con)
        refresh_reference(con)
        stamp = datetime(2025, 9, 1, 1, 0)
        for month in (PRE, JULY, AUG):
            era = era_of(month).value
            series = "comparable" if month == PRE else "reported"
            ranked = sorted(CODES, key=lambda c: -CODES[c])
            for code, score in CODES.items():
                con.execute("""INSERT INTO marts.province_monthly (month, province_id,
                    province_code, province_name, total_score, rank, ranked_of,
                    national_avg_score, best_score, gap_to_best, band, is_final, captured_at,
                    is_synthetic, era, series, source, province_key, successor_code,
                    combine_method, predecessors)
                    VALUES (?, ?, ?, ?, ?, ?, 34, 71.25, 80, ?, 'Khá', true, ?, false, ?, ?,
                            'spreadsheet', ?, ?, ?, ?)""",
                            [month, f"id-{code}", code, f"UBND {code}", score + month.month,
                             ranked.index(code) + 1, 80 - score, stamp, era, series, code, code,
                             "plain_mean" if month == PRE else None,
                             "Hà Giang + Tuyên Quang" if month == PRE and code == "H60"
                             else None])
        for key, name, rank, score in (("old:tuyen-quang", "Tỉnh Tuyên Quang", 33, 70.1),
                                       ("old:ha-giang", "Tỉnh Hà Giang", 59, 60.2)):
            con.execute("""INSERT INTO marts.province_monthly (month, province_key,
                province_name, total_score, rank, ranked_of, successor_code, era, series,
                source, is_synthetic, captured_at)
                VALUES (?, ?, ?, ?, ?, 63, 'H60', '63', 'reported', 'spreadsheet', false, ?)""",
                        [PRE, key, name, score, rank, stamp])
        cols = sorted(FIXTURE[0])
        for row in FIXTURE:
            con.execute(f"INSERT INTO marts.recoverable_points (month, province_id, "
                        f"province_code, {', '.join(cols)}) VALUES (?, 'id-H60', 'H60', "
                        f"{', '.join('?' for _ in cols)})", [AUG, *[row[c] for c in cols]])
        con.execute("""INSERT INTO marts.unit_points_lost (month, province_id, province_code,
            unit_id, unit_name, group_code, metric_code, points_lost, method)
            VALUES (?, 'id-H60', 'H60', 'u1', 'Sở Tư pháp', 'CKMB', 'PUBLISH_ON_TIME', 1.5,
                    'exact_pooled'),
                   (?, 'id-H60', 'H60', 'u2', 'UBND xã Minh Xuân', 'CKMB', 'PUBLISH_ON_TIME', 0.5,
                    'exact_pooled')""", [AUG, AUG])
    out = root / "reports"
    first = build_site(db, out, "H60")
    again = build_site(db, out, "H60")
    return out, first, again


def test_every_province_and_month_has_a_page_and_every_link_resolves(site):
    out, first, again = site
    assert first["months"] == 3 and len(first["rebuilt_months"]) == 3
    assert again["rebuilt_months"] == []  # nothing changed: nothing rebuilt
    pages = sorted(out.glob("*/*.html"))
    assert len(pages) == 3 * (len(CODES) + 1)  # the provinces and a month index
    for page in [out / "index.html", *pages]:
        html = page.read_text("utf-8")
        assert len(html.encode()) < 400 * 1024
        assert "http://" not in html and "https://" not in html  # offline
        for link in re.findall(r'href="([^"#]+)"', html):
            assert (page.parent / link).resolve().exists(), (page, link)


def test_names_not_codes(site):
    out, *_ = site
    html = (out / "index.html").read_text("utf-8")
    assert "Tuyên Quang" in html and "Phú Thọ" in html and "Hà Nội" in html
    for page in (out / "index.html", out / "2025-08" / "H44.html"):
        # codes only small, beside a name: none left once those spans are removed
        text = re.sub(r'<span class="code">[^<]*</span>', "", page.read_text("utf-8"))
        text = re.sub(r'href="[^"]*"|<title>.*?</title>', "", text)
        assert not re.findall(r"\bH\d\d\b", text), page


def test_a_pre_merger_page_leads_with_the_official_ranks(site):
    out, *_ = site
    html = (out / "2025-03" / "H60.html").read_text("utf-8")
    official = html.index('id="official"')
    assert official < html.index('id="uu-tien"') < html.index("Ước tính so sánh")
    assert "33/63" in html and "59/63" in html
    text = re.sub(r"<[^>]+>", " ", html)
    assert not re.search(r"\d+\s*/\s*34\b", text)  # no bare x/34 before 07/2025
    assert "ước tính so sánh" in text and "trung bình cộng" in text


def test_the_priority_box_on_the_page(site):
    out, *_ = site
    html = (out / "2025-08" / "H60.html").read_text("utf-8")
    box = html[html.index('id="uu-tien"'):html.index("</section>", html.index('id="uu-tien"'))]
    items = re.findall(r"<li>(.*?)</li>", box, re.S)
    assert "Thêm 15 thủ tục hành chính" in items[0] and "+2,20 điểm" in items[0]
    assert "Sở Tư pháp (75 %)" in items[0]
    assert "26.520 hồ sơ TTHC" in items[2]
    assert "CLGQ" not in "".join(items) and "Cổng chưa công bố công thức" in box


HARNESS = """<!DOCTYPE html><html><body><script>
const targets = %s;
const out = [];
let left = targets.length;
for (const t of targets) {
  const f = document.createElement("iframe");
  f.style.width = t.width + "px"; f.style.height = "900px"; f.style.border = "0";
  f.onload = () => {
    const d = f.contentDocument;
    const w = d.documentElement.clientWidth;
    const wide = Array.from(d.querySelectorAll("main *")).filter(
      e => !e.closest(".scroll") && e.getBoundingClientRect().right > w + 1);
    out.push({name: t.name, width: w, overflow: wide.length,
              scroll: d.documentElement.scrollWidth, title: d.title,
              text: d.body.innerText.slice(0, 20000),
              svg: d.querySelectorAll("svg.chart").length});
    if (--left === 0) { document.body.dataset.result = JSON.stringify(out); }
  };
  f.src = t.src;
  document.body.appendChild(f);
}
</script></body></html>"""


@pytest.fixture(scope="module")
def browser(site, tmp_path_factory):
    try:
        find_chromium()
    except BrowserMissing as exc:
        pytest.fail(f"{exc}. The site test needs a real browser.", pytrace=False)
    out, *_ = site
    targets = [{"name": "index", "src": (out / "index.html").as_uri(), "width": 1280},
               {"name": "page-1280", "src": (out / "2025-08" / "H60.html").as_uri(),
                "width": 1280},
               {"name": "page-400", "src": (out / "2025-08" / "H60.html").as_uri(),
                "width": 400},
               {"name": "pre-merger", "src": (out / "2025-03" / "H60.html").as_uri(),
                "width": 400}]
    harness = Path(tmp_path_factory.mktemp("harness")) / "harness.html"
    harness.write_text(HARNESS % json.dumps(targets), "utf-8")
    dom = dump_dom(harness, width=1400, extra=("--allow-file-access-from-files",))
    result = re.search(r'data-result="([^"]*)"', dom)
    assert result, dom[:2000]
    import html as html_lib
    return {r["name"]: r for r in json.loads(html_lib.unescape(result.group(1)))}


def test_the_index_in_a_browser(browser):
    index = browser["index"]
    assert index["svg"] == 1 and "Xếp hạng các tỉnh" in index["text"]
    assert "Ngay trên: Phú Thọ" in index["text"]  # the focus province's neighbour, named


def test_a_province_page_fits_a_phone_and_a_desk(browser):
    for name in ("page-1280", "page-400"):
        page = browser[name]
        assert page["overflow"] == 0, page  # nothing wider than the screen but tables
        assert page["scroll"] <= page["width"], page
        assert "Ưu tiên" in page["text"] and page["svg"] == 1
    assert browser["page-400"]["width"] == 400


def test_a_pre_merger_page_in_a_browser(browser):
    page = browser["pre-merger"]
    assert page["overflow"] == 0
    assert "33/63" in page["text"] and not re.search(r"\d+\s*/\s*34\b", page["text"])


def test_a_month_with_merged_groups_still_draws(tmp_path):
    """Spreadsheets of 07-08/2025 merge CLGQ and TTTT in one column: no group score."""
    from assets.report.data import Scorecard
    from assets.report.page import draw_charts

    history = [{"month": JULY, "total_score": 70.0, "national_avg_score": 72.0,
                "best_score": 90.0, "rank": 20, "ranked_of": 34}]
    groups = [{"group_code": "CKMB", "group_name": "Công khai, minh bạch", "score": 14.0,
               "max_score": 18.0, "points_lost": 4.0},
              {"group_code": "CLGQ", "group_name": "Dịch vụ công trực tuyến", "score": None,
               "max_score": 12.0, "points_lost": None}]
    card = Scorecard(code="H60", month=JULY, province={}, history=history, groups=groups)
    charts = draw_charts(card)
    assert set(charts) == {"history", "groups"}
    assert all(png.startswith(b"\x89PNG") for png in charts.values())


def test_the_pre_merger_scorecard_leads_with_the_official_ranks(site):
    from assets.report.data import load_scorecard
    from assets.report.page import render_html

    out, *_ = site
    with duckdb.connect(str(out.parent / "published.duckdb"), read_only=True) as con:
        card = load_scorecard(con, "H60", PRE)
    html = render_html(card, {"history": b"", "groups": b""}, out)
    text = re.sub(r"<style>.*?</style>|<script>.*?</script>|<[^>]+>", " ", html, flags=re.S)
    assert "33/63" in text and "59/63" in text and "ước tính so sánh" in text
    assert text.index("33/63") < text.index("Tổng điểm")
    assert not re.search(r"\d+\s*/\s*34\b", text)


def test_only_changed_months_are_rebuilt(site, tmp_path):
    import shutil

    out, *_ = site
    db = tmp_path / "published.duckdb"
    shutil.copy(out.parent / "published.duckdb", db)
    shutil.copytree(out, tmp_path / "reports")
    with duckdb.connect(str(db)) as con:
        con.execute("UPDATE marts.province_monthly SET total_score = total_score + 1 "
                    "WHERE month = ? AND province_code = 'H44'", [JULY])
    done = build_site(db, tmp_path / "reports", "H60")
    # July changed; August's trend runs through July; March is untouched
    assert done["rebuilt_months"] == [JULY, AUG]
