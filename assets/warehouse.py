"""The DuckDB warehouse: schemas, reference tables and month-replacing writes.

Schema = asset key prefix, table = asset name (``staging/unit_metrics`` is
``staging.unit_metrics``). Every write replaces whole months inside one
transaction, so reruns and re-executions never duplicate or lose rows.
"""

import hashlib
import json
from collections.abc import Callable
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


# Schema changes are numbered migrations (sql/migrations/NNNN_what.sql), applied once
# each, in order, one transaction each, and recorded in meta.schema_migrations. The views
# and macros are code, not data: recreated on every ensure_schema from sql/views/ and
# sql/macros/. docs/operations.md, "Changing the warehouse schema", says how to add one.
MIGRATIONS_DIR = SQL_DIR / "migrations"
MACROS = ("rule_score", "clgq_score")
VIEWS = ("unit_metric_counts", "province_month_scores",  # created in this order
         "procedure_metric_counts")


class MigrationError(RuntimeError):
    """The migrations on disk disagree with the ones a warehouse recorded."""


def migrations() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of every migration on disk, in order."""
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        number = path.name.split("_", 1)[0]
        if not (number.isdigit() and len(number) == 4 and "_" in path.name):
            raise MigrationError(f"{path}: a migration is named NNNN_what.sql")
        found.append((int(number), path.name, path.read_text("utf-8")))
    versions = [v for v, _, _ in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"{MIGRATIONS_DIR}: migrations must be numbered 0001, 0002, … "
                             f"without gaps or repeats; found {versions}")
    return found


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def apply_migrations(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply the pending migrations in order, each in one transaction with its record in
    meta.schema_migrations; return the file names applied. A migration that fails is
    rolled back and stops here (the ones before it stay applied)."""
    con.execute("CREATE TABLE IF NOT EXISTS meta.schema_migrations (version INTEGER PRIMARY KEY,"
                " name VARCHAR, sha256 VARCHAR, applied_at TIMESTAMPTZ)")
    done = {v: (n, h) for v, n, h in con.execute(
        "SELECT version, name, sha256 FROM meta.schema_migrations").fetchall()}
    applied = []
    for version, name, sql in migrations():
        if version in done:
            if done[version] != (name, _sha256(sql)):
                raise MigrationError(
                    f"{MIGRATIONS_DIR / name}: differs from migration {version} "
                    f"({done[version][0]}) as this warehouse applied it; applied migrations "
                    "never change: put the change in a new numbered file")
            continue
        con.execute("BEGIN")
        try:
            con.execute(sql)
            con.execute("INSERT INTO meta.schema_migrations VALUES (?, ?, ?, now())",
                        [version, name, _sha256(sql)])
            con.execute("COMMIT")
        except BaseException as exc:
            con.execute("ROLLBACK")
            if isinstance(exc, duckdb.Error):
                raise MigrationError(f"{MIGRATIONS_DIR / name}: {exc}") from exc
            raise
        applied.append(name)
    return applied


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The last migration this warehouse applied (0: none)."""
    return con.execute("SELECT coalesce(max(version), 0) FROM meta.schema_migrations"
                       ).fetchall()[0][0]


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Bring a warehouse (new, or built by any earlier version) to this code's schema."""
    con.execute("SET TimeZone = 'UTC'")
    for schema in ("ref", "staging", "marts", "audit", "meta"):
        con.execute("CREATE SCHEMA IF NOT EXISTS " + schema)
    for table, schema in STAGING_SCHEMAS.items():
        cols = ", ".join(f"{c} {_duck_type(t)}" for c, t in schema.items())
        con.execute("CREATE TABLE IF NOT EXISTS " + _table(table) + f" ({cols})")
    apply_migrations(con)
    # the macros, views and comments: recreated only when their SQL or the migrations
    # changed (recorded in meta.code_objects), as they are code, not data
    code = [read_sql(f"macros/{n}") for n in MACROS] + [read_sql(f"views/{n}")
                                                         for n in VIEWS]
    comments = read_sql("comments")
    version = _sha256("\n".join([*code, comments, *(sql for _, _, sql in migrations())]))
    held = con.execute("SELECT content_sha256 FROM meta.code_objects").fetchall()
    if held == [(version,)]:
        return
    con.execute("BEGIN")
    try:
        for sql in code:
            con.execute(sql)
        con.execute(comments)
        con.execute("DELETE FROM meta.code_objects")
        con.execute("INSERT INTO meta.code_objects VALUES (?, now())", [version])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _reference_rows() -> dict[str, list[tuple]]:
    """The rows of ref.* from the catalogue and the province reference (data/reference/):
    one source of truth."""
    provinces = province_reference()
    names = {p.key: p.name for p in provinces}
    return {
        "ref.groups": [(g.code, g.name_vi, g.name_en, g.max_score, g.endpoint)
                       for g in GROUPS.values()],
        "ref.metrics": [(m.code, m.group_code, m.name_vi, m.max_score, m.rule, m.threshold,
                         m.score_if_empty, m.numerator_param, m.denominator_param)
                        for m in METRICS.values()],
        "ref.bands": [(floor, band, True) for floor, band in BANDS],
        "ref.provinces": [(p.key, p.era, p.code, p.department_id, p.name, p.short,
                           p.valid_from, p.valid_to, p.successor, names[p.successor],
                           list(p.variants)) for p in provinces],
    }


REFERENCE_TABLES = ("ref.groups", "ref.metrics", "ref.bands", "ref.provinces")


def reference_version(rows: dict[str, list[tuple]] | None = None) -> str:
    """sha256 of the reference rows: changes exactly when what ref.* should hold does."""
    rows = _reference_rows() if rows is None else rows
    return _sha256(json.dumps(rows, default=str, ensure_ascii=False))


def reference_written(con: duckdb.DuckDBPyConnection) -> bool:
    """The reference tables hold some version of the catalogue (ref/reference_tables ran)."""
    return con.execute("SELECT count(*) FROM meta.reference_version").fetchall()[0][0] > 0


def refresh_reference(con: duckdb.DuckDBPyConnection) -> bool:
    """Write ref.groups, ref.metrics, ref.bands and ref.provinces in one transaction,
    unless the warehouse already holds this version of them (meta.reference_version);
    True when it wrote them."""
    rows = _reference_rows()
    version = reference_version(rows)
    held = con.execute("SELECT any_value(content_sha256) FROM meta.reference_version"
                       ).fetchall()[0][0]
    if held == version and con.execute("SELECT count(*) FROM ref.groups").fetchall()[0][0]:
        return False
    con.execute("BEGIN")
    try:
        for table in REFERENCE_TABLES:
            values = rows[table]
            con.execute("DELETE FROM " + table)  # noqa: S608 (fixed table list)
            # one statement for all the rows (executemany costs ~0.5 ms a row here)
            row = "(" + ", ".join("?" * len(values[0])) + ")"
            con.execute("INSERT INTO " + table + " VALUES " + ", ".join([row] * len(values)),  # noqa: S608 (fixed table list)
                        [v for r in values for v in r])
        con.execute("DELETE FROM meta.reference_version")
        con.execute("INSERT INTO meta.reference_version VALUES (?, now())", [version])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return True


def _replace(con: duckdb.DuckDBPyConnection, months: list[date],
             inserts: dict[str, Callable[[str], int]]) -> dict[str, int]:
    """For each table: delete the months, then ``insert(qualified name)`` (its row count);
    all in one transaction, rolled back whole on any error."""
    counts = {}
    con.execute("BEGIN")
    try:
        for table, insert in inserts.items():
            name = _table(table)
            con.execute("DELETE FROM " + name + " WHERE list_contains($months, month)",  # noqa: S608 (fixed table list)
                        {"months": months})
            counts[table] = insert(name)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return counts


def replace_months(con: duckdb.DuckDBPyConnection, frames: dict[str, pl.DataFrame],
                   months: list[date]) -> dict[str, int]:
    """Replace the given months of several staging tables in one transaction."""
    def insert_frame(frame: pl.DataFrame) -> Callable[[str], int]:
        def insert(name: str) -> int:
            con.register("incoming", frame.to_arrow())
            try:
                con.execute("INSERT INTO " + name + " BY NAME SELECT * FROM incoming")  # noqa: S608 (fixed table list)
            finally:
                con.unregister("incoming")
            return frame.height
        return insert

    return _replace(con, months, {t: insert_frame(f) for t, f in frames.items()})


# DuckDB keeps a transaction's appended rows and the pages it wrote in memory up to its
# memory_limit (80 % of RAM by default): loading a year in one transaction grew the
# process by ~150 MB a month. Bounded here, for the one big load of replace_from_parquet.
LOAD_MEMORY_LIMIT = "768MB"


def replace_from_parquet(con: duckdb.DuckDBPyConnection, files: dict[str, list[str]],
                         months: list[date]) -> dict[str, int]:
    """Replace the months of several tables from Parquet files, in one transaction."""
    def insert_files(paths: list[str]) -> Callable[[str], int]:
        def insert(name: str) -> int:
            if not paths:
                return 0
            return con.execute(
                "INSERT INTO " + name + " BY NAME SELECT * FROM read_parquet($paths)",  # noqa: S608 (fixed table list)
                {"paths": paths}).fetchone()[0]
        return insert

    limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    con.execute(f"SET memory_limit = '{LOAD_MEMORY_LIMIT}'")
    try:
        return _replace(con, months, {t: insert_files(p) for t, p in files.items()})
    finally:
        con.execute("SET memory_limit = '" + limit.replace("'", "") + "'")


def append_rows(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    con.register("incoming", frame.to_arrow())
    try:
        con.execute("INSERT INTO " + _table(table) + " BY NAME SELECT * FROM incoming")  # noqa: S608 (fixed table list)
    finally:
        con.unregister("incoming")


def months_scored(con: duckdb.DuckDBPyConnection, months: list[date]) -> list[date]:
    """Those of ``months`` the marts have scores for (marts.province_month_scores), sorted."""
    have = con.execute(
        "SELECT DISTINCT month FROM marts.province_month_scores WHERE list_contains($m, month)",
        {"m": list(months)}).fetchall()
    return sorted(r[0] for r in have)

