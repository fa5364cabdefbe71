"""The static report site: every province, every month, offline.

    <data>/reports/index.html                 the newest month: ranking chart, provinces
    <data>/reports/<yyyy-mm>/index.html       the same for each month
    <data>/reports/<yyyy-mm>/<CODE>.html      one page per province and month
    <data>/reports/site.json                  what each month's pages were built from

Charts are inline SVG (no script, no CDN, they scale with the screen); a page is a few
tens of KB. A month's pages are rebuilt only when its key changes: the digest of the
marts' rows of that month and of every month before it (a page's trend runs from the
first month to its own), its neighbours (the previous/next links) and this code.

    python -m assets.report.site [--db ...] [--out data/reports] [--focus H60] [--force]
"""

import argparse
import hashlib
import html
import json
import os
import time
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import jinja2

from assets.months import Era, era_of, month_key

from .data import load_scorecard
from .numbers import COMBINED, METHODS, UNIT_TYPES, vn, vn_time
from .priority import rank_actions
from .procedures import procedure_section

HERE = Path(__file__).parent
_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE), autoescape=True,
                          undefined=jinja2.StrictUndefined, trim_blocks=True,
                          lstrip_blocks=True)
SOURCES = {"portal_api": "Cổng Dịch vụ công quốc gia", "legacy_api": "hệ thống báo cáo cũ "
           "của Cổng (63 tỉnh)", "spreadsheet": "bảng xếp hạng (tệp Excel)"}


def _code_version() -> str:
    h = hashlib.sha256()
    for name in ("site.py", "site_page.html.j2", "site_index.html.j2", "site.css",
                 "priority.py", "numbers.py", "procedures.py"):
        h.update((HERE / name).read_bytes())
    return h.hexdigest()[:16]


def _rows(con, query: str, params: list | None = None) -> list[dict]:
    cur = con.execute(query, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def month_digests(con) -> dict[date, str]:
    """A digest of each month's rows in the marts the pages read."""
    parts: dict[date, list[str]] = defaultdict(list)
    for table in ("province_monthly", "group_monthly", "metric_monthly",
                  "recoverable_points", "score_change_explained", "procedure_monthly"):
        for month, digest in con.execute(
                f"SELECT month, md5(string_agg(t::VARCHAR, '|' ORDER BY t::VARCHAR)) "  # noqa: S608
                f"FROM marts.{table} t GROUP BY month").fetchall():
            parts[month].append(f"{table}:{digest}")
    for month, n, lost in con.execute("SELECT month, count(*), round(sum(points_lost), 6) "
                                      "FROM marts.unit_points_lost GROUP BY month").fetchall():
        parts[month].append(f"units:{n}:{lost}")
    return {m: hashlib.sha256("\n".join(sorted(v)).encode()).hexdigest()
            for m, v in parts.items()}


# ---------------------------------------------------------------- SVG charts


def _esc(text: str) -> str:
    return html.escape(text)


def ranking_svg(rows: list[dict], focus: str, names: dict[str, str], estimate: bool) -> str:
    """Horizontal bars, best on top; the focus province highlighted."""
    bar_h, left, width = 16, 150, 640
    height = bar_h * len(rows) + 30
    top = max((r["total_score"] for r in rows), default=100) or 100
    out = [f'<svg class="chart" viewBox="0 0 {width + left + 60} {height}" role="img" '
           f'aria-label="Xếp hạng các tỉnh">']
    codes = [r["province_code"] for r in rows]
    at = codes.index(focus) if focus in codes else -5
    for i, r in enumerate(rows):
        y = 10 + i * bar_h
        w = width * r["total_score"] / top
        is_focus = r["province_code"] == focus
        # the focus province, and its neighbours just above and below, stand out
        near = abs(i - at) == 1
        colour = "#c2410c" if is_focus else "#f4a261" if near else "#4e79a7"
        is_focus = is_focus or near
        name = names.get(r["province_code"], r["province_code"])
        weight = ' font-weight="bold"' if is_focus else ""
        out.append(f'<text x="{left - 6}" y="{y + 11}" text-anchor="end" font-size="11"'
                   f'{weight}>{r["rank"]}. {_esc(name)}</text>'
                   f'<rect x="{left}" y="{y + 2}" width="{w:.1f}" height="{bar_h - 4}" '
                   f'fill="{colour}"/><text x="{left + w + 4:.1f}" y="{y + 11}" '
                   f'font-size="10"{weight}>{vn(r["total_score"])}</text>')
    if estimate:
        out.append(f'<text x="{left}" y="{height - 4}" font-size="10" fill="#6b7280">'
                   'ước tính so sánh (34 tỉnh ghép từ các tỉnh cũ)</text>')
    out.append("</svg>")
    return "".join(out)


def trend_svg(history: list[dict]) -> str:
    """Total and national average over the months; estimates (before 07/2025) hollow."""
    if not history:
        return ""
    width, height, pad = 760, 220, 34
    lo = min(min(h["total_score"], h["national_avg_score"] or 100) for h in history)
    hi = max(max(h["total_score"], h["national_avg_score"] or 0) for h in history)
    lo, hi = max(0, lo - 5), min(100, hi + 5)
    n = len(history)

    def xy(i, v):
        x = pad + (width - 2 * pad) * (i / (n - 1) if n > 1 else 0.5)
        return x, height - pad - (height - 2 * pad) * (v - lo) / ((hi - lo) or 1)

    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="Tổng điểm theo tháng">']
    for v in (lo, (lo + hi) / 2, hi):
        _, y = xy(0, v)
        out.append(f'<line x1="{pad}" x2="{width - pad}" y1="{y:.1f}" y2="{y:.1f}" '
                   f'stroke="#e5e7eb"/><text x="2" y="{y + 4:.1f}" font-size="10" '
                   f'fill="#6b7280">{vn(v, 0)}</text>')
    avg = [xy(i, h["national_avg_score"]) for i, h in enumerate(history)
           if h["national_avg_score"] is not None]
    if avg:
        out.append('<polyline fill="none" stroke="#888" stroke-dasharray="4 3" points="'
                   + " ".join(f"{x:.1f},{y:.1f}" for x, y in avg) + '"/>')
    pts = [xy(i, h["total_score"]) for i, h in enumerate(history)]
    out.append('<polyline fill="none" stroke="#1f3b73" stroke-width="2" points="'
               + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>')
    step = max(1, n // 12)
    for i, (h, (x, y)) in enumerate(zip(history, pts, strict=True)):
        estimate = era_of(h["month"]) is Era.PRE_MERGER
        fill = "#fff" if estimate else "#1f3b73"
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{fill}" '
                   f'stroke="#1f3b73"><title>{h["month"]:%m/%Y}: {vn(h["total_score"])}'
                   f'{" (ước tính so sánh)" if estimate else ""}</title></circle>')
        if i % step == 0 or i == n - 1:
            out.append(f'<text x="{x:.1f}" y="{height - 12}" font-size="10" '
                       f'text-anchor="middle">{h["month"]:%m/%y}</text>')
    out.append("</svg>")
    return "".join(out)


# ---------------------------------------------------------------- data


class SiteData:
    """Everything the pages show, read in a few queries."""

    def __init__(self, con: duckdb.DuckDBPyConnection, focus: str):
        self.con, self.focus = con, focus
        self.names = dict(con.execute(
            "SELECT province_code, short_name FROM ref.provinces WHERE era = '34'").fetchall())
        rows = _rows(con, """
            SELECT * FROM marts.province_monthly WHERE province_code IS NOT NULL
            ORDER BY month, rank, province_code""")
        self.by_month: dict[date, list[dict]] = defaultdict(list)
        self.history: dict[str, list[dict]] = defaultdict(list)
        for r in rows:
            self.by_month[r["month"]].append(r)
            self.history[r["province_code"]].append(r)
        self.months = sorted(self.by_month)
        self.predecessors: dict[tuple, list[dict]] = defaultdict(list)
        for r in _rows(con, """
                SELECT month, successor_code, province_name, total_score, rank, ranked_of,
                       source
                FROM marts.province_monthly
                WHERE province_code IS NULL AND era = '63'
                ORDER BY month, successor_code, rank"""):
            self.predecessors[(r["month"], r["successor_code"])].append(r)
        self.groups: dict[tuple, list[dict]] = defaultdict(list)
        for r in _rows(con, """
                SELECT g.month, g.province_code, g.group_code, g.group_name, g.score,
                       g.max_score, g.points_lost, g.national_avg_score, g.best_score,
                       g.rank, g.ranked_of
                FROM marts.group_monthly g WHERE g.province_code IS NOT NULL
                ORDER BY g.points_lost DESC NULLS LAST, g.group_code"""):
            self.groups[(r["month"], r["province_code"])].append(r)
        self.whatif: dict[tuple, list[dict]] = defaultdict(list)
        for r in _rows(con, "SELECT * FROM marts.recoverable_points ORDER BY metric_code"):
            self.whatif[(r["month"], r["province_code"])].append(r)
        self.units: dict[tuple, list[dict]] = defaultdict(list)
        for r in _rows(con, """
                SELECT month, province_code, metric_code, unit_name,
                       lost / sum(lost) OVER (PARTITION BY month, province_code, metric_code)
                           AS share
                FROM (SELECT month, province_code, metric_code, unit_name,
                             sum(points_lost) AS lost
                      FROM marts.unit_points_lost
                      WHERE unit_id <> province_id AND points_lost > 0
                        AND method IN ('exact_pooled', 'pooled_with_remainder')
                      GROUP BY ALL)
                QUALIFY row_number() OVER (PARTITION BY month, province_code, metric_code
                                           ORDER BY lost DESC, unit_name) <= 2"""):
            self.units[(r["month"], r["province_code"], r["metric_code"])].append(r)

    def name(self, code: str) -> str:
        return self.names.get(code) or code

    def priority(self, month: date, code: str):
        p = rank_actions(self.whatif.get((month, code), []))
        for a in p.actions:
            a.units = self.units.get((month, code, a.metric_code), [])
        return p


# ---------------------------------------------------------------- pages


def _write(path: Path, text: str) -> int:
    data = text.encode("utf-8")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return len(data)


def _neighbours(rows: list[dict], focus: str) -> tuple[dict | None, dict | None]:
    codes = [r["province_code"] for r in rows]
    if focus not in codes:
        return None, None
    i = codes.index(focus)
    return (rows[i - 1] if i > 0 else None), (rows[i + 1] if i + 1 < len(rows) else None)


def render_index(data: SiteData, month: date, css: str, root: str, built: str) -> str:
    rows = data.by_month[month]
    estimate = era_of(month) is Era.PRE_MERGER
    above, below = _neighbours(rows, data.focus)
    focus_row = next((r for r in rows if r["province_code"] == data.focus), None)
    return _ENV.get_template("site_index.html.j2").render(
        month=month, rows=rows, months=sorted(data.months, reverse=True), css=css,
        root=root, chart=ranking_svg(rows, data.focus, data.names, estimate),
        estimate=estimate, focus=data.focus, focus_row=focus_row, above=above, below=below,
        name=data.name, vn=vn, built=built, synthetic=any(r["is_synthetic"] for r in rows))


def render_page(data: SiteData, month: date, code: str, css: str, built: str,
                card=None, links: dict | None = None, procedures=None) -> str:
    p = next(r for r in data.by_month[month] if r["province_code"] == code)
    history = [h for h in data.history[code] if h["month"] <= month]
    i = data.months.index(month)
    prev_m = data.months[i - 1] if i > 0 else None
    next_m = data.months[i + 1] if i + 1 < len(data.months) else None
    return _ENV.get_template("site_page.html.j2").render(
        p=p, code=code, month=month, name=data.name(code), css=css, vn=vn, built=built,
        pct=lambda x: "–" if x is None else vn(x) + " %",
        trend=trend_svg(history), history=history, prev_m=prev_m, next_m=next_m,
        groups=data.groups.get((month, code), []), priority=data.priority(month, code),
        has_detail=bool(data.whatif.get((month, code))),
        predecessors=data.predecessors.get((month, code), []),
        estimate=era_of(month) is Era.PRE_MERGER, combined=COMBINED, sources=SOURCES,
        focus=code == data.focus, card=card, methods=METHODS, unit_types=UNIT_TYPES,
        vn_time=vn_time, links=links or {}, procedures=procedures)


def build_site(published: Path, out: Path, focus: str, force: bool = False) -> dict:
    """(Re)build the site from the published copy; returns what was done."""
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "site.json"
    old = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    css = (HERE / "site.css").read_text("utf-8")
    built = vn_time(datetime.now(UTC))
    version = _code_version()
    pages, sizes, rebuilt = {}, [], []
    with duckdb.connect(str(published), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        data = SiteData(con, focus)
        digests = month_digests(con)
        keys, chain = {}, hashlib.sha256(f"{version}:{focus}".encode())
        for i, month in enumerate(data.months):
            chain.update(digests.get(month, "").encode())
            neighbours = (data.months[i - 1] if i else None,
                          data.months[i + 1] if i + 1 < len(data.months) else None)
            h = chain.copy()
            h.update(repr(neighbours).encode())
            keys[month_key(month)] = h.hexdigest()
        for month in data.months:
            folder = out / month_key(month)
            codes = [r["province_code"] for r in data.by_month[month]]
            pages[month] = {c: folder / f"{c}.html" for c in codes}
            key = keys[month_key(month)]
            if (not force and old.get("months", {}).get(month_key(month)) == key
                    and all(p.exists() for p in pages[month].values())):
                continue
            folder.mkdir(exist_ok=True)
            for code in codes:
                card, links, procedures = None, {}, None
                if code == focus:
                    card = load_scorecard(con, code, month)
                    procedures = procedure_section(con, code, month)
                    # the report asset prints the newest month's scorecard after the site
                    links = {"scorecard": (folder / f"{code}-scorecard.html").exists(),
                             "pdf": month == data.months[-1]
                             or (folder / f"{code}-scorecard.pdf").exists()}
                sizes.append(_write(pages[month][code],
                                    render_page(data, month, code, css, built, card, links,
                                                procedures)))
            sizes.append(_write(folder / "index.html",
                                render_index(data, month, css, "../", built)))
            rebuilt.append(month)
        newest = data.months[-1] if data.months else None
        index = out / "index.html"
        if newest:
            sizes.append(_write(index, render_index(data, newest, css, "", built)))
    _write(manifest_path, json.dumps({"version": version, "focus": focus, "months": keys},
                                     indent=1))
    return {"index": index, "newest": pages[newest].get(focus) if newest else None,
            "newest_month": newest, "months": len(data.months),
            "rebuilt_months": rebuilt, "pages_written": len(sizes),
            "largest_kb": round(max(sizes, default=0) / 1024, 1),
            "seconds": round(time.perf_counter() - started, 2)}


def main() -> None:
    from assets.settings import load_settings

    settings = load_settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=settings.published_path)
    parser.add_argument("--out", type=Path, default=settings.data_dir / "reports")
    parser.add_argument("--focus", default=settings.focus_province)
    parser.add_argument("--force", action="store_true", help="rebuild every month")
    args = parser.parse_args()
    done = build_site(args.db, args.out, args.focus.upper(), args.force)
    print(json.dumps({k: str(v) if isinstance(v, Path | date) else v
                      for k, v in done.items() if k != "rebuilt_months"}, ensure_ascii=False))


if __name__ == "__main__":
    main()
