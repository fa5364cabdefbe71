"""The scorecard page: charts as PNG files beside a self-contained HTML page.

<data>/reports/<yyyy-mm>/<code>-scorecard.html embeds every chart as a data URI
(it can be mailed or opened anywhere on its own); the PNGs are written next to it
for slides and chat messages.
"""

import base64
import io
import os
from datetime import UTC, datetime
from pathlib import Path

import jinja2

from assets.months import month_key

from . import charts
from .data import Scorecard
from .numbers import COMBINED, METHODS, UNIT_TYPES, vn, vn_time

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent),
    autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
SOURCE_TABLES = ("marts.province_monthly, group_monthly, metric_monthly, unit_points_lost, "
                 "recoverable_points, score_change_explained")


def _palette(png: bytes) -> bytes:
    """The chart as a 256-colour PNG: the same picture (flat colours, anti-aliased text)
    at a third of the size, so the page stays well under 400 KB as the months add up."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        out = io.BytesIO()
        im.convert("RGB").quantize(colors=256).save(out, format="PNG", optimize=True)
    return out.getvalue() if out.tell() < len(png) else png


def draw_charts(card: Scorecard) -> dict[str, bytes]:
    out = {"history": charts.history_chart(card.history),
           # a month whose source merged two groups in one column has no score for them
           "groups": charts.groups_chart([g for g in card.groups if g["score"] is not None])}
    if card.pulled:
        out["metrics"] = charts.metrics_chart(card.metrics)
    if card.units:
        out["units"] = charts.units_chart(card.units)
    if card.change:
        out["change"] = charts.change_chart(card.change)
    return {name: _palette(png) for name, png in out.items()}


def render_html(card: Scorecard, pngs: dict[str, bytes], published: Path) -> str:
    uris = {name: "data:image/png;base64," + base64.b64encode(png).decode("ascii")
            for name, png in pngs.items()}
    return _TEMPLATES.get_template("scorecard.html.j2").render(
        card=card, p=card.province, charts=uris, vn=vn,
        pct=lambda x: "–" if x is None else vn(x) + " %",
        methods=METHODS, unit_types=UNIT_TYPES, tables=SOURCE_TABLES, published=published,
        combined=COMBINED, vn_time=vn_time, generated_at=vn_time(datetime.now(UTC)))


def _write(path: Path, data: bytes) -> None:
    """Write beside, then rename: a reader never sees half a page."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_scorecard(card: Scorecard, reports_dir: Path, published: Path) -> Path:
    """Write the month's page and charts; returns the HTML file."""
    out = reports_dir / month_key(card.month)
    out.mkdir(parents=True, exist_ok=True)
    pngs = draw_charts(card)
    for name, png in pngs.items():
        _write(out / f"{card.code}-{name}.png", png)
    page = out / f"{card.code}-scorecard.html"
    _write(page, render_html(card, pngs, published).encode("utf-8"))
    return page
