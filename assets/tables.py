"""Every staged table: its schema, its qualified name and its Dagster asset key, in one place.

Ground floor: imports polars, dagster and the domain catalogue only, never a layer above.
The warehouse creates the tables from these schemas (``assets/warehouse.py``), the parsers
build their frames with them (``assets/staging/``), the staging engine writes them.

A table is named by its short name (``unit_metrics``); ``qualified`` gives the DuckDB name
(``staging.unit_metrics``), ``asset_key`` the Dagster key (``staging/unit_metrics``): the
schema is the asset key's prefix, the table its name, so the two cannot disagree.

Adding a staged table: add its schema to ``STAGED`` (or to a group below and then to
``STAGED``); ``ensure_schema`` creates it, and a staging spec may write it.
"""

import dagster as dg
import polars as pl

from assets.domain.catalogue import GROUP_CODES

SCHEMA = "staging"

# Columns shared by every row staged from a portal answer: where it came from.
PROVENANCE: dict[str, pl.DataType] = {
    "month": pl.Date, "province_id": pl.String, "province_code": pl.String,
    "captured_at": pl.Datetime("us", "UTC"), "raw_sha256": pl.String, "raw_path": pl.String,
    "is_synthetic": pl.Boolean,
}
UNIT: dict[str, pl.DataType] = {
    "unit_id": pl.String, "unit_name": pl.String, "unit_code": pl.String,
    "unit_type": pl.String, "unit_level": pl.String, "is_province": pl.Boolean}
GROUP_COLUMNS = tuple(g.lower() for g in GROUP_CODES)
_GROUP_SCORES = {g: pl.Float64 for g in GROUP_COLUMNS}

# The current API's tables (assets/staging/parse.py fills them from one month's crawl).
PORTAL: dict[str, dict[str, pl.DataType]] = {
    "captures": {**PROVENANCE, "endpoint": pl.String, "group_code": pl.String,
                 "page": pl.Int32, "http_status": pl.Int32, "bytes": pl.Int64,
                 "declared_total": pl.Int64, "rows_in_page": pl.Int64},
    "national_summary": {**PROVENANCE, "province_name": pl.String, "rank_reported": pl.Int32,
                         "total_score": pl.Float64, "ratio": pl.Float64,
                         "score_delta": pl.Float64, **_GROUP_SCORES},
    "national_average": {"month": pl.Date, "captured_at": pl.Datetime("us", "UTC"),
                         "raw_sha256": pl.String, "raw_path": pl.String,
                         "is_synthetic": pl.Boolean, "label": pl.String,
                         "total_score": pl.Float64, **_GROUP_SCORES},
    "unit_group_scores": {**PROVENANCE, **UNIT, "group_code": pl.String, "score": pl.Float64,
                          "max_score": pl.Float64, "ratio": pl.Float64,
                          "score_delta": pl.Float64},
    "unit_metrics": {**PROVENANCE, **UNIT, "group_code": pl.String, "metric_code": pl.String,
                     "metric_name": pl.String, "numerator": pl.Float64,
                     "denominator": pl.Float64, "ratio": pl.Float64, "score": pl.Float64,
                     "max_score": pl.Float64, "data_quality_status": pl.String,
                     "data_quality_message": pl.String},
    "unit_parameters": {**PROVENANCE, **UNIT, "group_code": pl.String, "parameter": pl.String,
                        "value": pl.Float64},
}

# Province scores from before today's API (the legacy service) and from the ranking
# spreadsheets: one layout for both.
HISTORY: dict[str, pl.DataType] = {
    "month": pl.Date, "era": pl.String, "source": pl.String, "level": pl.String,
    "province_key": pl.String, "province_code": pl.String, "province_id": pl.String,
    "province_name": pl.String, "province_name_written": pl.String,
    "successor_code": pl.String, "source_id": pl.String, "unit_id": pl.String,
    "unit_name": pl.String, "rank_reported": pl.Int32, **_GROUP_SCORES,
    "online_combined": pl.Float64, "total_score": pl.Float64,
    "dossiers_received": pl.Float64, "layout": pl.String,
    "captured_at": pl.Datetime("us", "UTC"), "raw_sha256": pl.String, "raw_path": pl.String,
    "is_synthetic": pl.Boolean,
    # spreadsheets: why rank_reported is empty (the STT column was a row number)
    "rank_note": pl.String,
}
# The national summary of every complete crawl of a month (staging/nightly.py).
DAILY: dict[str, pl.DataType] = {**PORTAL["national_summary"], "session": pl.String}

# The portal's answers filtered to one procedure (issue 15; assets/staging/procedures.py):
# the unit tables again, keyed by procedure as well.
PROCEDURE: dict[str, pl.DataType] = {
    "procedure_id": pl.String, "procedure_code": pl.String, "procedure_name": pl.String}
PROCEDURES: dict[str, dict[str, pl.DataType]] = {
    "procedure_group_scores": {**PROVENANCE, **PROCEDURE, **UNIT, "group_code": pl.String,
                               "score": pl.Float64, "max_score": pl.Float64,
                               "ratio": pl.Float64, "score_delta": pl.Float64},
    "procedure_unit_metrics": {**PROVENANCE, **PROCEDURE, **UNIT, "group_code": pl.String,
                               "metric_code": pl.String, "metric_name": pl.String,
                               "numerator": pl.Float64, "denominator": pl.Float64,
                               "ratio": pl.Float64, "score": pl.Float64,
                               "max_score": pl.Float64, "data_quality_status": pl.String,
                               "data_quality_message": pl.String},
    "procedure_unit_parameters": {**PROVENANCE, **PROCEDURE, **UNIT, "group_code": pl.String,
                                  "parameter": pl.String, "value": pl.Float64},
}

STAGED: dict[str, dict[str, pl.DataType]] = {
    **PORTAL,
    **PROCEDURES,
    "legacy_scores": HISTORY,
    "spreadsheet_scores": HISTORY,
    "national_summary_history": DAILY,
}


def qualified(table: str) -> str:
    """``unit_metrics`` → ``staging.unit_metrics`` (a declared table only)."""
    if table not in STAGED:
        raise KeyError(f"not a staged table: {table!r} (declare it in assets/tables.py)")
    return f"{SCHEMA}.{table}"


def asset_key(table: str) -> dg.AssetKey:
    """``unit_metrics`` → ``AssetKey(["staging", "unit_metrics"])`` (a declared table only)."""
    return dg.AssetKey(qualified(table).split("."))


def schema_of(table: str) -> dict[str, pl.DataType]:
    qualified(table)
    return STAGED[table]


def empty(table: str) -> pl.DataFrame:
    return pl.DataFrame(schema=schema_of(table))
