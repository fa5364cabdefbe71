"""A hand-made month small enough to check by hand, staged into a real DuckDB file and
built by the marts' own SQL in their build order (the mart tests share it).

August 2026: four provinces in the national summary (A–D); A and B were pulled, each
with two communes, TDGQ counts (on time / received) and dossier satisfaction (full marks
at 90 %).
"""

from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import polars as pl

from assets.marts.build import MARTS, rebuild_months
from assets.staging.parse import SCHEMAS
from assets.warehouse import ensure_schema, refresh_reference, replace_months

MONTH = date(2026, 8, 1)
CAPTURED = datetime(2026, 9, 10, tzinfo=UTC)
# Four provinces in the national summary; A and B were pulled.
TOTALS = {"A": 70.00, "B": 80.00, "C": 71.50, "D": 74.00}
# TDGQ (on-time / received) and dossier satisfaction (satisfied / dossiers, full marks
# at 90 %) for each pulled province's two units.
ON_TIME = {"A": [(90, 100), (50, 100)], "B": [(95, 100), (95, 100)]}
SATISFIED = {"A": [(95, 100), (55, 100)], "B": [(95, 100), (95, 100)]}


def _where(code: str, unit: int | None = None) -> dict:
    pid = f"prov-{code}"
    uid = pid if unit is None else f"{pid}-u{unit}"
    return {"month": MONTH, "province_id": pid, "province_code": f"H0{'ABCD'.index(code) + 1}",
            "captured_at": CAPTURED, "raw_sha256": "0" * 64, "raw_path": "hand-made",
            "is_synthetic": True, "unit_id": uid,
            "unit_name": f"Tỉnh {code}" if unit is None else f"Xã {code}{unit}",
            "unit_code": None, "unit_level": None, "is_province": unit is None,
            "unit_type": "PROVINCE" if unit is None else "COMMUNE_PEOPLE_COMMITTEE"}


def _staging() -> dict[str, pl.DataFrame]:
    national, groups, params, metrics = [], [], [], []
    for code, total in TOTALS.items():
        where = _where(code)
        # the other groups make up the total; only TDGQ and MDHL are used below
        tdgq = 20 * sum(n for n, _ in ON_TIME.get(code, [(15, 20)])) / sum(
            d for _, d in ON_TIME.get(code, [(15, 20)]))
        national.append({k: where[k] for k in SCHEMAS["national_summary"] if k in where}
                        | {"province_name": where["unit_name"], "rank_reported": None,
                           "total_score": total, "ratio": total, "score_delta": None,
                           "ckmb": 10.0, "tdgq": tdgq, "clgq": 8.0, "tttt": 6.0, "mdhl": 15.0,
                           "mdsh": total - 39.0 - tdgq})
    for code in ON_TIME:
        units = [None, 1, 2]
        for unit in units:
            where = _where(code, unit)
            on_time = ON_TIME[code] if unit is None else [ON_TIME[code][unit - 1]]
            satisfied = SATISFIED[code] if unit is None else [SATISFIED[code][unit - 1]]
            num, den = sum(n for n, _ in on_time), sum(d for _, d in on_time)
            groups.append(where | {"group_code": "TDGQ", "score": round(20 * num / den, 2),
                                   "max_score": 20.0, "ratio": 100 * num / den,
                                   "score_delta": None})
            params += [where | {"group_code": "TDGQ", "parameter": p, "value": float(v)}
                       for p, v in (("totalOnTime", num), ("totalReceived", den))]
            s_num, s_den = sum(n for n, _ in satisfied), sum(d for _, d in satisfied)
            metrics.append(where | {
                "group_code": "MDHL", "metric_code": "DOSSIER_RECEIVING_SATISFACTION",
                "metric_name": "Tỷ lệ hài lòng", "numerator": float(s_num),
                "denominator": float(s_den), "ratio": 100 * s_num / s_den,
                "score": round(min(6, 6 * (s_num / s_den) / 0.9), 2), "max_score": 6.0,
                "data_quality_status": None, "data_quality_message": None})
    frames = {"national_summary": national, "unit_group_scores": groups,
              "unit_parameters": params, "unit_metrics": metrics}
    return {f"staging.{t}": pl.DataFrame([{c: r.get(c) for c in SCHEMAS[t]} for r in rows],
                                         schema=SCHEMAS[t], orient="row")
            for t, rows in frames.items()}


def build(path: Path) -> Path:
    """The hand-made month in a warehouse at ``path``, every mart built."""
    with duckdb.connect(str(path)) as con:
        ensure_schema(con)
        refresh_reference(con)
        replace_months(con, _staging(), [MONTH])
        for name in MARTS:  # the assets' own build, in their order
            rebuild_months(con, name, [MONTH])
    return path


def rows(con: duckdb.DuckDBPyConnection, query: str, params=()) -> list[dict]:
    cur = con.execute(query, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def tampered_copy(path: Path, folder: Path, *statements: str) -> duckdb.DuckDBPyConnection:
    """A copy of the hand-made warehouse with ``statements`` applied: a defect for a
    check to find."""
    copy = folder / "tampered.duckdb"
    copy.write_bytes(path.read_bytes())
    con = duckdb.connect(str(copy))
    for sql in statements:
        con.execute(sql)
    return con
