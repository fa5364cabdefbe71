"""The DuckDB warehouse: schemas, reference tables and month-replacing writes.

Schema = asset key prefix, table = asset name (``staging/unit_metrics`` is
``staging.unit_metrics``). Every write replaces whole months inside one
transaction, so reruns and re-executions never duplicate or lose rows.
"""

from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from assets.domain.catalogue import BANDS, GROUPS, METRICS
from assets.domain.provinces import province_reference
from assets.tables import STAGED, qualified

SQL_DIR = Path(__file__).parent / "marts" / "sql"

_DUCK_TYPES = {pl.Date: "DATE", pl.String: "VARCHAR", pl.Boolean: "BOOLEAN",
               pl.Float64: "DOUBLE", pl.Int32: "INTEGER", pl.Int64: "BIGINT"}

STAGING_SCHEMAS = {qualified(t): schema for t, schema in STAGED.items()}
STAGING_TABLES = tuple(STAGING_SCHEMAS)
AUDIT_TABLES = ("audit.validation_results",)
# Marts are written by assets/marts/build.py::rebuild_months, from its own fixed list.
_WRITABLE = frozenset(STAGING_TABLES + AUDIT_TABLES)


def _duck_type(dtype) -> str:
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMPTZ"
    return _DUCK_TYPES[dtype]


def _table(name: str) -> str:
    """Identifiers go into SQL text only from the fixed list above."""
    if name not in _WRITABLE:
        raise ValueError(f"not a warehouse table: {name}")
    return name


def read_sql(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text("utf-8")


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("SET TimeZone = 'UTC'")
    for schema in ("ref", "staging", "marts", "audit"):
        con.execute("CREATE SCHEMA IF NOT EXISTS " + schema)
    for table, schema in STAGING_SCHEMAS.items():
        cols = ", ".join(f"{c} {_duck_type(t)}" for c, t in schema.items())
        con.execute("CREATE TABLE IF NOT EXISTS " + _table(table) + f" ({cols})")
    con.execute(read_sql("schema"))
    con.execute(read_sql("comments"))


def refresh_reference(con: duckdb.DuckDBPyConnection) -> None:
    """ref.groups, ref.metrics, ref.bands and ref.provinces from the catalogue and the
    province reference (data/reference/): one source of truth."""
    con.execute("BEGIN")
    con.execute("DELETE FROM ref.groups")
    con.executemany("INSERT INTO ref.groups VALUES (?, ?, ?, ?, ?)",
                    [(g.code, g.name_vi, g.name_en, g.max_score, g.endpoint)
                     for g in GROUPS.values()])
    con.execute("DELETE FROM ref.metrics")
    con.executemany("INSERT INTO ref.metrics VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(m.code, m.group_code, m.name_vi, m.max_score, m.rule, m.threshold,
                      m.score_if_empty, m.numerator_param, m.denominator_param)
                     for m in METRICS.values()])
    con.execute("DELETE FROM ref.bands")
    con.executemany("INSERT INTO ref.bands VALUES (?, ?, true)", list(BANDS))
    con.execute("DELETE FROM ref.provinces")
    provinces = province_reference()
    names = {p.key: p.name for p in provinces}
    con.executemany("INSERT INTO ref.provinces VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(p.key, p.era, p.code, p.department_id, p.name, p.short, p.valid_from,
                      p.valid_to, p.successor, names[p.successor], list(p.variants))
                     for p in provinces])
    con.execute("COMMIT")


def replace_months(con: duckdb.DuckDBPyConnection, frames: dict[str, pl.DataFrame],
                   months: list[date]) -> dict[str, int]:
    """Replace the given months of several staging tables in one transaction."""
    counts = {}
    con.execute("BEGIN")
    try:
        for table, frame in frames.items():
            name = _table(table)
            con.execute("DELETE FROM " + name + " WHERE list_contains($months, month)",  # noqa: S608 (fixed table list)
                        {"months": months})
            con.register("incoming", frame.to_arrow())
            con.execute("INSERT INTO " + name + " BY NAME SELECT * FROM incoming")  # noqa: S608 (fixed table list)
            con.unregister("incoming")
            counts[table] = frame.height
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return counts


# DuckDB keeps a transaction's appended rows and the pages it wrote in memory up to its
# memory_limit (80 % of RAM by default): loading a year in one transaction grew the
# process by ~150 MB a month. Bounded here, for the one big load of replace_from_parquet.
LOAD_MEMORY_LIMIT = "768MB"


def replace_from_parquet(con: duckdb.DuckDBPyConnection, files: dict[str, list[str]],
                         months: list[date]) -> dict[str, int]:
    """Replace the months of several tables from Parquet files, in one transaction."""
    counts = {}
    limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    con.execute(f"SET memory_limit = '{LOAD_MEMORY_LIMIT}'")
    con.execute("BEGIN")
    try:
        for table, paths in files.items():
            name = _table(table)
            con.execute("DELETE FROM " + name + " WHERE list_contains($months, month)",  # noqa: S608 (fixed table list)
                        {"months": months})
            counts[table] = con.execute(
                "INSERT INTO " + name + " BY NAME SELECT * FROM read_parquet($paths)",  # noqa: S608 (fixed table list)
                {"paths": paths}).fetchone()[0] if paths else 0
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.execute("SET memory_limit = '" + limit.replace("'", "") + "'")
    return counts


def append_rows(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    con.register("incoming", frame.to_arrow())
    try:
        con.execute("INSERT INTO " + _table(table) + " BY NAME SELECT * FROM incoming")  # noqa: S608 (fixed table list)
    finally:
        con.unregister("incoming")


def months_after(con: duckdb.DuckDBPyConnection, months: list[date]) -> list[date]:
    """The months a change to ``months`` also touches (their month-over-month change)."""
    nxt = sorted({date(m.year + m.month // 12, m.month % 12 + 1, 1) for m in months})
    have = con.execute(
        "SELECT DISTINCT month FROM marts.province_month_scores WHERE list_contains($m, month)",
        {"m": nxt}).fetchall()
    return sorted(set(months) | {r[0] for r in have})
