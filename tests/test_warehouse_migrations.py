"""The warehouse schema changes through numbered migrations: a warehouse built before
them upgrades in place with its rows kept, each migration runs once, in one transaction,
and an applied migration that was edited afterwards is refused."""

from datetime import date
from pathlib import Path

import duckdb
import pytest

import assets.warehouse as warehouse
from assets.warehouse import (
    STAGING_SCHEMAS,
    MigrationError,
    _duck_type,
    ensure_schema,
    migrations,
    refresh_reference,
    schema_version,
)

BEFORE = Path(__file__).parent / "fixtures" / "schema_before_migrations.sql"


def build_like_main(path: Path) -> None:
    """A warehouse as main's ensure_schema built it before numbered migrations, with rows."""
    with duckdb.connect(str(path)) as con:
        con.execute("SET TimeZone = 'UTC'")
        for schema in ("ref", "staging", "marts", "audit"):
            con.execute(f"CREATE SCHEMA {schema}")
        for table, schema in STAGING_SCHEMAS.items():
            # main's staging tables, as today's staging code declares them
            cols = ", ".join(f"{c} {_duck_type(t)}" for c, t in schema.items()
                             if c != "rank_note")
            con.execute(f"CREATE TABLE {table} ({cols})")
        con.execute(BEFORE.read_text("utf-8"))
        con.execute("INSERT INTO ref.groups VALUES ('CKMB', 'Công khai', 'Publicity', 18, 'x')")
        con.execute("INSERT INTO marts.province_monthly (month, province_code, total_score, "
                    "rank_note) VALUES ('2026-07-01', 'H44', 81.5, 'kept')")
        con.execute("INSERT INTO audit.validation_results (run_id, success) VALUES ('r1', true)")


def test_a_warehouse_built_before_migrations_upgrades_in_place_with_its_rows(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    build_like_main(path)
    with duckdb.connect(str(path)) as con:
        ensure_schema(con)
        assert con.execute("SELECT month, province_code, total_score, rank_note "
                           "FROM marts.province_monthly").fetchall() == [
            (date(2026, 7, 1), "H44", 81.5, "kept")]
        assert con.execute("SELECT run_id FROM audit.validation_results").fetchall() == [("r1",)]
        assert con.execute("SELECT group_code FROM ref.groups").fetchall() == [("CKMB",)]
        recorded = con.execute("SELECT version, name FROM meta.schema_migrations "
                               "ORDER BY version").fetchall()
        assert recorded == [(v, n) for v, n, _ in migrations()]
        assert schema_version(con) == len(migrations()) >= 3
        # the views came from their own files, on top of the upgraded tables
        views = {r[0] for r in con.execute(
            "SELECT view_name FROM duckdb_views() WHERE schema_name = 'marts'").fetchall()}
        assert views == set(warehouse.VIEWS)
        # the reference is rewritten once (its version was unknown), then left alone
        assert refresh_reference(con) is True
        assert refresh_reference(con) is False
        assert con.execute("SELECT count(*) FROM ref.groups").fetchall() == [(6,)]
    with duckdb.connect(str(path)) as con:  # a second start applies nothing again
        before = con.execute("SELECT * FROM meta.schema_migrations").fetchall()
        ensure_schema(con)
        assert con.execute("SELECT * FROM meta.schema_migrations").fetchall() == before


def _copy_migrations(tmp_path: Path) -> Path:
    folder = tmp_path / "migrations"
    folder.mkdir()
    for _, name, sql in migrations():
        (folder / name).write_text(sql, "utf-8")
    return folder


def test_a_failing_migration_is_rolled_back_and_not_recorded(tmp_path, monkeypatch):
    folder = _copy_migrations(tmp_path)
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        ensure_schema(con)
        con.execute("INSERT INTO marts.province_monthly (month, province_code) "
                    "VALUES ('2026-07-01', 'H44')")
    n = len(migrations())
    (folder / f"{n + 1:04d}_half_done.sql").write_text(
        "ALTER TABLE marts.province_monthly ADD COLUMN half VARCHAR;\n"
        "DELETE FROM marts.province_monthly;\n"
        "ALTER TABLE marts.no_such_table ADD COLUMN x VARCHAR;\n", "utf-8")
    monkeypatch.setattr(warehouse, "MIGRATIONS_DIR", folder)
    with duckdb.connect(str(path)) as con:
        with pytest.raises(MigrationError, match=rf"{n + 1:04d}_half_done.sql.*no_such_table"):
            ensure_schema(con)
        assert schema_version(con) == n
        assert con.execute("SELECT count(*) FROM marts.province_monthly").fetchall() == [(1,)]
        columns = {r[0] for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = 'province_monthly'"
        ).fetchall()}
        assert "half" not in columns


def test_an_applied_migration_edited_afterwards_is_refused(tmp_path, monkeypatch):
    folder = _copy_migrations(tmp_path)
    monkeypatch.setattr(warehouse, "MIGRATIONS_DIR", folder)
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        ensure_schema(con)
        first = sorted(folder.iterdir())[0]
        first.write_text(first.read_text("utf-8") + "\n-- edited\n", "utf-8")
        with pytest.raises(MigrationError, match="0001_base.sql: differs.*new numbered file"):
            ensure_schema(con)


def test_migrations_are_numbered_without_gaps(tmp_path, monkeypatch):
    folder = _copy_migrations(tmp_path)
    (folder / "0009_skipped.sql").write_text("SELECT 1;", "utf-8")
    monkeypatch.setattr(warehouse, "MIGRATIONS_DIR", folder)
    with pytest.raises(MigrationError, match="without gaps"):
        migrations()
