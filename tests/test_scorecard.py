"""The scorecard a leader opens: a real page, opened in a real (headless) browser."""

import re
from pathlib import Path

import dagster as dg
import pytest
from conftest import AUGUST
from PIL import Image
from shared_runs import JULY, two_months

from assets.report.browser import BrowserMissing, body_marks, dump_dom, find_chromium, screenshot


@pytest.fixture(scope="module")
def run(tmp_path_factory, replay_dir):
    return two_months(tmp_path_factory, replay_dir)


@pytest.fixture(scope="module")
def chromium():
    try:
        return find_chromium()
    except BrowserMissing as exc:  # the README's test command must not pass without it
        pytest.fail(f"{exc}. The scorecard test needs a real browser.", pytrace=False)


def page(run, month) -> Path:
    return run[0].data_dir / "reports" / f"{month:%Y-%m}" / "H44-scorecard.html"


def test_the_ui_links_to_the_latest_page_of_the_run(run):
    events = [e for e in run[1].get_asset_materialization_events()
              if e.asset_key == dg.AssetKey(["report", "scorecard"])]
    assert {e.partition for e in events} == {"2026-07-01", "2026-08-01"}
    metadata = events[-1].materialization.metadata
    assert metadata["scorecard"].value == str(page(run, AUGUST))
    assert metadata["run_months"].value == "07/2026, 08/2026"
    assert metadata["focus_province"].value == "H44"
    # no file:// link (the http UI cannot open one): the totals and top losses inline
    assert not any("file://" in str(v.value) for v in metadata.values())
    assert "Total **" in metadata["preview"].value and "Largest losses" in metadata[
        "preview"].value
    assert metadata["site_index"].value == str(run[0].data_dir / "reports" / "index.html")
    assert metadata["site_newest_page"].value.endswith("2026-08/H44.html")
    assert metadata["pdf"].value == str(page(run, AUGUST).with_suffix(".pdf"))
    assert page(run, AUGUST).with_suffix(".pdf").read_bytes().startswith(b"%PDF")
    # the charts are written next to the page too
    assert sorted(p.name for p in page(run, AUGUST).parent.glob("*.png")) == [
        f"H44-{c}.png" for c in ("change", "groups", "history", "metrics", "units")]


def test_a_run_of_older_months_leaves_the_newest_month_latest(run):
    """The legacy months run after today's: the UI must still point at the newest."""
    pipeline = run[0]
    job = pipeline.defs.resolve_implicit_global_asset_job_def()
    key = dg.AssetKey(["report", "scorecard"])
    done = job.execute_in_process(partition_key=JULY.isoformat(), asset_selection=[key],
                                  instance=pipeline.instance)
    assert done.success
    latest = pipeline.instance.get_latest_materialization_event(key)
    assert latest.dagster_event.partition == AUGUST.isoformat()
    assert latest.asset_materialization.metadata["newest_month"].value == "08/2026"
    assert latest.asset_materialization.metadata["run_months"].value == "07/2026"


def test_every_chart_renders_in_a_browser(run, chromium):
    marks = body_marks(dump_dom(page(run, AUGUST)))
    # the page's own script counts the <img> that loaded with a real width
    assert marks["images-total"] == "5" and marks["images-loaded"] == "5"
    # the first month has no previous month: no change chart, the rest renders
    marks = body_marks(dump_dom(page(run, JULY)))
    assert marks["images-total"] == "4" and marks["images-loaded"] == "4"


def test_a_screenshot_of_the_page_is_not_blank(run, chromium, tmp_path):
    png = screenshot(page(run, AUGUST), tmp_path / "scorecard.png")
    image = Image.open(png).convert("RGB")
    width, height = image.size
    assert width == 1100 and height > 3000  # the whole page, not the first screen
    small = image.resize((width // 4, height // 4))
    colours = small.getcolors(maxcolors=1_000_000)
    assert len(colours) > 200  # charts, text and tables, not a blank or an error page
    white = sum(n for n, c in colours if min(c) > 245)
    assert white / (small.width * small.height) < 0.9


def test_the_page_says_what_the_data_is(run):
    html = page(run, AUGUST).read_text("utf-8")
    assert "Bảng điểm Bộ chỉ số 766" in html and "tháng 08/2026" in html
    # the national summary is synthetic, the Phú Thọ detail of 08/2026 is real: both said
    assert "bảng tổng hợp toàn quốc mô phỏng" in html and "số liệu thật lấy từ Cổng" in html
    assert "Xếp loại là tạm tính" in html and "TEMP_NATIONAL_REPORT_DENOMINATOR" in html
    # Vietnamese that reads right: the gap said from the province's side, Vietnam time,
    # no "summary data" wording, no space before a colon
    assert re.search(r"Tỉnh: [-+−]\d+,\d\d so với TB cả nước", html)
    assert "(giờ Việt Nam)" in html and " UTC" not in html
    assert "MẪU TỔNG HỢP" not in html
    text = re.sub(r"<style>.*?</style>|<script>.*?</script>|<[^>]+>", " ", html, flags=re.S)
    assert not re.search(r"\w :", text)
    # the ten costliest units, the what-if and the change since July
    assert html.count("<tr><td>10</td>") == 1 and "Sở Nông Nghiệp" in html
    assert "(a) bằng tỉnh tốt nhất" in html and "5. Thay đổi so với tháng trước" in html
    assert "Đơn vị làm mất thêm điểm" in html
    # self-contained: every chart is a data URI, nothing is fetched
    assert html.count('src="data:image/png;base64,') == 5 and "http" not in html.split(
        "<footer>")[0].replace("http-equiv", "")
