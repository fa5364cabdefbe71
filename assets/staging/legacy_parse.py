"""Province scores before today's API: the legacy service's rows and the ranking
spreadsheets, in one layout (``assets.tables.HISTORY``: ``staging.legacy_scores`` and
``staging.spreadsheet_scores``).

Pure functions (no Dagster): rows are matched to the province reference of their era
(any spelling, NFC or NFD, with or without diacritics); a name that matches no province
stops the parse with the file, period, row and field named.
"""

import json
import math
from datetime import date, datetime

import polars as pl

from assets.domain.catalogue import GROUP_CODES
from assets.domain.provinces import province_reference, resolve_province
from assets.months import era_of, expected_province_count, month_key
from assets.tables import GROUP_COLUMNS, HISTORY

from .parse import StagingError


def empty_history() -> pl.DataFrame:
    return pl.DataFrame(schema=HISTORY)


def _number(value, *, file: str, month: date, unit: str, field: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise StagingError(file, month_key(month), unit, field,
                           f"expected a number, got {type(value).__name__} {str(value)[:40]!r}")
    if not math.isfinite(value):
        raise StagingError(file, month_key(month), unit, field, "not a finite number")
    return float(value)


def province_fields(name: str, month: date, *, file: str, row_label: str) -> dict:
    """The reference columns of the province a written name means, or a StagingError."""
    found = resolve_province(name, month)
    if found is None:
        raise StagingError(file, month_key(month), row_label, "province name",
                           f"{name!r} matches no province of the {era_of(month)}-province "
                           "era (data/reference/)")
    return {"province_key": found.key, "province_code": found.code,
            "province_id": found.department_id, "province_name": found.name,
            "province_name_written": name, "successor_code": found.successor}


def parse_legacy_capture(capture: dict, body: bytes, month: date) -> list[dict]:
    """One kept answer of the legacy service → rows (the 63 provinces, or one province's
    units when the request named ``p_tinh_id``)."""
    file = capture["path"]
    rows = json.loads(body)
    if not isinstance(rows, list):
        raise StagingError(file, month_key(month), "-", "body", "not a JSON array of rows")
    tinh = int((capture.get("payload") or {}).get("p_tinh_id") or 0)
    base = {"month": month, "era": era_of(month).value, "source": "legacy_api",
            "layout": "six_groups",
            "captured_at": datetime.fromisoformat(capture["captured_at"]),
            "raw_sha256": capture["sha256"], "raw_path": file,
            "is_synthetic": bool((capture.get("origin") or {}).get("synthetic", False)),
            "online_combined": None, "dossiers_received": None}
    parent = None
    if tinh:
        parent = next((p for p in province_reference()
                       if p.key == "old:" + capture["province_code"]), None)
        if parent is None:
            raise StagingError(file, month_key(month), str(tinh), "province",
                               f"units of {capture['province_code']!r}: not an old province")
    out = []
    for n, row in enumerate(rows, 1):
        label = f"row {n} ({row.get('TEN')})" if isinstance(row, dict) else f"row {n}"
        if not isinstance(row, dict):
            raise StagingError(file, month_key(month), label, "row", "not an object")
        name = row.get("TEN")
        if not isinstance(name, str) or not name.strip():
            raise StagingError(file, month_key(month), label, "TEN", "no name")
        scores = {g.lower(): _number(row.get(g), file=file, month=month, unit=label, field=g)
                  for g in GROUP_CODES}
        total = _number(row.get("TONG_SCORE"), file=file, month=month, unit=label,
                        field="TONG_SCORE")
        stt = row.get("ROW_STT")
        if stt is not None and (isinstance(stt, bool) or not isinstance(stt, int)):
            raise StagingError(file, month_key(month), label, "ROW_STT",
                               f"expected an integer, got {stt!r}")
        rec = {**base, **scores, "total_score": total, "rank_reported": stt,
               "source_id": str(row.get("ID"))}
        if parent is None:
            rec.update(province_fields(name.strip(), month, file=file, row_label=label),
                       level="province", unit_id=None, unit_name=None)
        else:
            rec.update(province_key=parent.key, province_code=None, province_id=None,
                       province_name=parent.name, province_name_written=None,
                       successor_code=parent.successor, level="unit",
                       unit_id=str(row.get("ID")), unit_name=name.strip())
        out.append(rec)
    return out


def frame(rows: list[dict]) -> pl.DataFrame:
    if not rows:
        return empty_history()
    return pl.DataFrame(rows, schema=HISTORY)


def history_summaries(df: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Compact datasets the history suites validate: per row the total against the sum
    of its groups, per month and source the number of provinces against the era's."""
    six = pl.sum_horizontal(*[pl.col(g) for g in GROUP_COLUMNS])
    merged = (pl.col("ckmb") + pl.col("tdgq") + pl.col("online_combined") + pl.col("mdhl")
              + pl.col("mdsh"))
    totals = df.select(
        "raw_path", "month", "province_name_written", "unit_name", "level",
        pl.when(pl.col("layout") == "online_merged").then(merged).otherwise(six)
        .sub(pl.col("total_score")).round(4).alias("difference"))
    provinces = df.filter(pl.col("level") == "province")
    counts = (provinces.group_by("month", "source", "raw_sha256")
              .agg(pl.col("raw_path").first(), pl.len().cast(pl.Int64).alias("provinces"))
              .with_columns(pl.col("month").map_elements(expected_province_count,
                                                         return_dtype=pl.Int64)
                            .alias("expected")))
    return {"history_totals": totals, "history_counts": counts}
