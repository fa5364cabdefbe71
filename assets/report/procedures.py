"""The focus province's procedures that cost the most points ("Thủ tục làm mất điểm nhiều
nhất"), read from marts.procedure_monthly and marts.unit_procedure_points_lost.

A procedure's points lost is what bringing it to the bar on every dossier-counted metric
would win (the same pooled arithmetic as the units'); each unit's share likewise.
Nothing is returned when the month has no per-procedure data: the page then leaves the
section out.
"""

from dataclasses import dataclass, field
from datetime import date

import duckdb

# the noun of a metric's missing count, for "thiếu N …"
NOUNS = {"DOSSIER_ON_TIME": "hồ sơ đúng hạn",
         "PAYMENT_DOSSIER_ONLINE": "hồ sơ thanh toán trực tuyến",
         "ORIGINAL_RESULT_AVAILABLE": "hồ sơ có kết quả điện tử",
         "SO_HOA_GIAY_TO_GIAI_QUYET": "hồ sơ được số hóa",
         "REUSED_DIGITIZED_DATA": "hồ sơ dùng lại dữ liệu số hóa",
         "SYNCED_WITH_DVCQG_PERSONAL_STORAGE": "hồ sơ kết nối kho dữ liệu cá nhân",
         "CITIZEN_DATA_CONNECTED_DOSSIER": "hồ sơ dùng dữ liệu dân cư"}
DEFAULT_NOUN = "hồ sơ đạt chỉ tiêu"


@dataclass
class UnitShortfall:
    unit_name: str
    points_lost: float
    metric_code: str
    missing: float
    noun: str


@dataclass
class ProcedureLoss:
    code: str
    name: str
    points_lost: float
    dossiers: float | None
    coverage: float | None
    groups: list[tuple[str, float]]
    units: list[UnitShortfall] = field(default_factory=list)


@dataclass
class ProcedureSection:
    procedures: list[ProcedureLoss]
    remainder: float | None
    month_coverage: float | None
    crawled: int


def procedure_section(con: duckdb.DuckDBPyConnection, code: str, month: date,
                      top: int = 5, units: int = 3) -> ProcedureSection | None:
    present = con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'marts' "
                          "AND table_name = 'procedure_monthly'").fetchone()[0]
    if not present:
        return None
    rows = con.execute("""
        SELECT procedure_id, any_value(coalesce(procedure_code, procedure_id)),
               any_value(procedure_name), sum(points_lost), any_value(dossiers),
               any_value(coverage),
               list(struct_pack(g := group_code, p := points_lost) ORDER BY points_lost DESC)
        FROM marts.procedure_monthly
        WHERE province_code = ? AND month = ? AND level = 'group' AND method = 'pooled'
        GROUP BY procedure_id
        HAVING sum(points_lost) > 0.005
        ORDER BY 4 DESC, 2
        LIMIT ?""", [code, month, top]).fetchall()
    if not rows:
        return None
    remainder, month_coverage, crawled = con.execute("""
        SELECT sum(points_lost) FILTER (WHERE method = 'remainder'), max(month_coverage),
               max(procedures_crawled)
        FROM marts.procedure_monthly
        WHERE province_code = ? AND month = ? AND level = 'group'""", [code, month]).fetchone()
    out = []
    for pid, pcode, name, lost, dossiers, coverage, groups in rows:
        p = ProcedureLoss(pcode, name or "", lost, dossiers, coverage,
                          [(g["g"], g["p"]) for g in groups if g["p"] is not None])
        for unit_name, ulost, metric, missing in con.execute("""
                SELECT unit_name, sum(points_lost),
                       arg_max(metric_code, points_lost), arg_max(missing_count, points_lost)
                FROM marts.unit_procedure_points_lost
                WHERE province_code = ? AND month = ? AND procedure_id = ?
                  AND unit_name IS NOT NULL
                GROUP BY unit_id, unit_name
                HAVING sum(points_lost) > 0.0005
                ORDER BY 2 DESC, 1
                LIMIT ?""", [code, month, pid, units]).fetchall():
            p.units.append(UnitShortfall(unit_name, ulost, metric, missing,
                                         NOUNS.get(metric, DEFAULT_NOUN)))
        out.append(p)
    return ProcedureSection(out, remainder, month_coverage, crawled or 0)
