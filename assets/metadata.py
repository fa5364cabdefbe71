"""The standard metadata Dagster shows for a table asset, read from DuckDB itself.

- ``dagster/column_schema``: the table's columns and types, each described by its
  ``COMMENT ON COLUMN`` (assets/marts/sql/comments.sql, the data dictionary's source; a
  column without a comment gets an empty description);
- ``dagster/row_count``: the table's rows in one month (one partition's share);
- a markdown preview of the focus province's rows, for the tables that have one.

Per month: a run over a range of months gives each partition its own row count and
preview (``context.add_asset_metadata(..., partition_key=...)``).
"""

from datetime import date

import dagster as dg
import duckdb

from assets.months import month_key

PREVIEW_ROWS = 12
PREVIEW_MAX_COLUMNS = 10


def table_schema(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> dg.TableSchema:
    rows = con.execute(
        "SELECT column_name, data_type, comment FROM duckdb_columns() "
        "WHERE schema_name = ? AND table_name = ? ORDER BY column_index",
        [schema, table]).fetchall()
    if not rows:
        raise ValueError(f"no table {schema}.{table} in the warehouse")
    return dg.TableSchema(columns=[
        dg.TableColumn(name=name, type=data_type, description=comment or "")
        for name, data_type, comment in rows])


def _columns(schema: dg.TableSchema) -> list[str]:
    return [c.name for c in schema.columns]


def month_row_counts(con: duckdb.DuckDBPyConnection, schema: str, table: str,
                     months: list[date]) -> dict[date, int]:
    """Rows of each month (0 for a month without any)."""
    counts = dict(con.execute(
        "SELECT month, count(*) FROM " + f"{schema}.{table}"  # noqa: S608 (names from our own schema, checked by table_schema)
        + " WHERE list_contains($months, month) GROUP BY month", {"months": months}).fetchall())
    return {m: counts.get(m, 0) for m in months}


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value).replace("|", "/").replace("\n", " ")


def focus_preview(con: duckdb.DuckDBPyConnection, schema: str, table: str, month: date,
                  province_code: str, columns: list[str]) -> str | None:
    """A markdown table of the focus province's rows in the month, or None when the table
    has no province column or no such rows."""
    if "province_code" not in columns or "month" not in columns:
        return None
    shown = [c for c in columns if c not in ("month", "province_id", "captured_at",
                                             "raw_sha256", "raw_path")][:PREVIEW_MAX_COLUMNS]
    quoted = ", ".join(f'"{c}"' for c in shown)
    total, = con.execute(
        "SELECT count(*) FROM " + f"{schema}.{table}"  # noqa: S608 (see month_row_counts)
        + " WHERE month = ? AND province_code = ?", [month, province_code]).fetchone()
    if not total:
        return None
    rows = con.execute(
        "SELECT " + quoted + " FROM " + f"{schema}.{table}"  # noqa: S608 (see month_row_counts)
        + " WHERE month = ? AND province_code = ? ORDER BY ALL LIMIT ?",
        [month, province_code, PREVIEW_ROWS]).fetchall()
    lines = [f"{province_code}, {month_key(month)}: {len(rows)} of {total} rows", "",
             "| " + " | ".join(shown) + " |", "|" + "---|" * len(shown)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def table_metadata(con: duckdb.DuckDBPyConnection, schema: str, table: str,
                   months: list[date], province_code: str | None = None
                   ) -> tuple[dict, dict[date, dict]]:
    """(metadata for the whole materialization, metadata of each month).

    The whole: the column schema and the rows of all the months. Each month: its row count
    and, where the table has the focus province, a preview of its rows."""
    columns = table_schema(con, schema, table)
    counts = month_row_counts(con, schema, table, months)
    whole = {"dagster/column_schema": columns,
             "dagster/table_name": f"{schema}.{table}",
             "dagster/row_count": sum(counts.values())}
    per_month = {}
    for month, rows in counts.items():
        meta: dict = {"dagster/row_count": rows}
        if province_code:
            preview = focus_preview(con, schema, table, month, province_code, _columns(columns))
            if preview:
                meta["preview"] = dg.MetadataValue.md(preview)
        per_month[month] = meta
    return whole, per_month


def add_partition_metadata(context: dg.AssetExecutionContext, per_month: dict[date, dict],
                           asset_key: dg.AssetKey | None = None) -> None:
    """Give each partition of the run its own numbers."""
    for month, meta in per_month.items():
        context.add_asset_metadata(meta, asset_key=asset_key, partition_key=month.isoformat())


def whole_table_metadata(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict:
    """For an asset that is not partitioned: the column schema and every row of the table."""
    columns = table_schema(con, schema, table)
    rows, = con.execute("SELECT count(*) FROM " + f"{schema}.{table}").fetchone()  # noqa: S608 (see month_row_counts)
    return {"dagster/column_schema": columns, "dagster/table_name": f"{schema}.{table}",
            "dagster/row_count": rows}
