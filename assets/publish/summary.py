"""What the focus province lost, as text: for the demo, the UI and the command line.

    python -m assets.publish.summary [--province H60] [--db data/published/chiso766.duckdb]
    python -m assets.publish.summary --history [--province H60]   # every month, 2022 on
"""

import argparse
from pathlib import Path

import duckdb

from assets.months import month_key
from assets.settings import load_settings


def _latest_month(con, code: str):
    row = con.execute("SELECT max(month) FROM marts.province_monthly WHERE province_code = ?",
                      [code]).fetchone()
    return row[0] if row else None


def focus_summary(con: duckdb.DuckDBPyConnection, code: str, month=None) -> str:
    month = month or _latest_month(con, code)
    if month is None:
        return f"No data for province {code} in marts.province_monthly."
    p = con.execute("""
        SELECT province_name, total_score, rank, ranked_of, band, national_avg_score,
               best_score, score_change, is_final, is_synthetic
        FROM marts.province_monthly WHERE province_code = ? AND month = ?""",
                    [code, month]).fetchone()
    if p is None:
        return f"No data for province {code} in {month_key(month)}."
    name, total, rank, of, band, avg, best, change, final, synthetic = p
    out = [f"## {name} ({code}) — {month:%m/%Y}"
           + (" — SYNTHETIC SAMPLE DATA" if synthetic else "")
           + ("" if final else " — open month, scores still moving"),
           "",
           f"Total **{total:.2f}**/100, rank **{rank}/{of}**, band {band} (provisional), "
           f"national average {avg:.2f}, best {best:.2f}"
           + (f", change {change:+.2f} since last month" if change is not None else ""),
           "", "| group | score | max | lost | rank |", "|---|---:|---:|---:|---:|"]
    for g in con.execute("""
        SELECT group_code, group_name, score, max_score, points_lost, rank, ranked_of
        FROM marts.group_monthly WHERE province_code = ? AND month = ?
        ORDER BY points_lost DESC""", [code, month]).fetchall():
        if g[2] is None:  # merged online column in the source
            out.append(f"| {g[0]} {g[1]} | – | {g[3]:.0f} | – | – |")
            continue
        out.append(f"| {g[0]} {g[1]} | {g[2]:.2f} | {g[3]:.0f} | {g[4]:.2f} | {g[5]}/{g[6]} |")
    metrics = con.execute("""
        SELECT group_code, metric_code, metric_name, ratio, score, max_score, points_lost
        FROM marts.metric_monthly WHERE province_code = ? AND month = ? AND points_lost > 0
        ORDER BY points_lost DESC LIMIT 5""", [code, month]).fetchall()
    if metrics:
        out += ["", "Largest losses by metric:", ""]
        for m in metrics:
            ratio = "–" if m[3] is None else f"{m[3]:.2f} %"
            out.append(f"- {m[0]} {m[1]} ({m[2]}): ratio {ratio}, "
                       f"{m[4] or 0:.2f}/{m[5]:.0f}, **{m[6]:.2f} points lost**")
    units = con.execute("""
        SELECT unit_name, sum(points_lost) AS lost, string_agg(DISTINCT group_code, ', ')
        FROM marts.unit_points_lost
        WHERE province_code = ? AND month = ? AND method = 'exact_pooled'
        GROUP BY unit_name ORDER BY lost DESC LIMIT 5""", [code, month]).fetchall()
    if units:
        out += ["", "Units costing the most points (exact shares):", ""]
        out += [f"- {u[0]}: {u[1]:.2f} points ({u[2]})" for u in units]
    elif not metrics:
        out += ["", f"(Group endpoints were not pulled for {code}: only the national summary.)"]
    return "\n".join(out)


def history_summary(con: duckdb.DuckDBPyConnection, code: str) -> str:
    """The province's whole series, month by month, across the 2025 merger."""
    rows = con.execute("""
        SELECT month, era, series, source, layout, total_score, rank, ranked_of, score_change,
               combine_method, predecessor_ranks, is_synthetic
        FROM marts.province_monthly WHERE province_code = ? ORDER BY month""",
                       [code]).fetchall()
    if not rows:
        return f"No history for province {code} in marts.province_monthly."
    out = [f"## {code}: every month available"
           + (" — SYNTHETIC SAMPLE DATA" if any(r[11] for r in rows) else ""), "",
           "| month | era | series | source | total | rank | change | how |",
           "|---|---|---|---|---:|---:|---:|---|"]
    for (month, era, series, source, layout, total, rank, of, change, method, ranks,
         _) in rows:
        how = f"{method}: {ranks}" if method else ""
        if layout == "online_merged":
            how = (how + "; " if how else "") + "CLGQ+TTTT merged (/22)"
        change_text = "" if change is None else f"{change:+.2f}"
        out.append(f"| {month_key(month)} | {era} | {series} | {source} | {total:.2f} | "
                   f"{rank}/{of} | {change_text} | {how} |")
    return "\n".join(out)


def main() -> None:
    settings = load_settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--province", default=settings.focus_province)
    parser.add_argument("--db", type=Path, default=settings.published_path)
    parser.add_argument("--history", action="store_true",
                        help="print the province's whole series across the 2025 merger")
    args = parser.parse_args()
    with duckdb.connect(str(args.db), read_only=True) as con:
        if args.history:
            print(history_summary(con, args.province.upper()))
        else:
            print(focus_summary(con, args.province.upper()))


if __name__ == "__main__":
    main()
