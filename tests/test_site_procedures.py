"""The focus province's page names the procedures that cost the most points, the units
holding the shortfall and what reaching the bar would win; without procedure data the
section is left out."""

import html
import re

import duckdb
import pytest
from conftest import AUGUST, PHU_THO
from procedure_samples import build, keep_samples

from assets.marts.build import rebuild_months
from assets.report.procedures import procedure_section
from assets.report.site import build_site


def _text(page) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page.read_text("utf-8")))


def test_the_focus_page_shows_the_procedures_that_cost_the_most(tmp_path):
    db = tmp_path / "w.duckdb"
    with duckdb.connect(str(db)) as con:
        build(con, keep_samples(tmp_path / "raw"))
        # the national summary has no real capture: one hand-made row, the real total
        con.execute("""
            INSERT INTO staging.national_summary BY NAME
            SELECT DATE '2026-08-01' AS month, ? AS province_id, 'H44' AS province_code,
                   TIMESTAMPTZ '2026-09-26 11:00:00+00' AS captured_at, 'x' AS raw_sha256,
                   'x' AS raw_path, false AS is_synthetic, 'Phú Thọ' AS province_name,
                   59.92 AS total_score, 7.96 AS ckmb, 15.68 AS tdgq, 8.83 AS clgq,
                   6.25 AS tttt, 12.96 AS mdhl, 8.24 AS mdsh""", [PHU_THO])
        for mart in ("province_monthly", "group_monthly", "unit_points_lost",
                     "recoverable_points"):
            rebuild_months(con, mart, [AUGUST])
        section = procedure_section(con, "H44", AUGUST)
    (top,) = section.procedures
    tdgq = 20 * (44583 - 42318) / 184513
    assert top.code == "2.000815" and dict(top.groups)["TDGQ"] == pytest.approx(tdgq)
    assert top.points_lost == pytest.approx(sum(p for _, p in top.groups))
    assert len(top.units) == 3 and top.units[0].points_lost >= top.units[-1].points_lost

    done = build_site(db, tmp_path / "site", "H44", force=True)
    text = _text(done["newest"])
    assert "Thủ tục làm mất điểm nhiều nhất" in text and "2.000815" in text
    assert f"đạt chuẩn: +{top.points_lost:.2f}".replace(".", ",") in text
    assert top.units[0].unit_name in text and "44.583 (24,2 %)" in text

    with duckdb.connect(str(db)) as con:
        con.execute("DELETE FROM marts.procedure_monthly")
        assert procedure_section(con, "H44", AUGUST) is None
    done = build_site(db, tmp_path / "site", "H44", force=True)
    assert "Thủ tục làm mất điểm" not in _text(done["newest"])
