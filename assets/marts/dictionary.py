"""The data dictionary, rendered from the COMMENTs in sql/comments.sql.

    python -m assets.marts.dictionary            # print it (markdown)
    python -m assets.marts.dictionary --write    # refresh it in docs/analysts.md

The comments are the one source: docs/analysts.md holds a copy between two markers,
and a test fails when the copy is stale.
"""

import argparse

import duckdb

from assets.marts_catalogue import MARTS
from assets.settings import PROJECT_ROOT
from assets.warehouse import ensure_schema

GUIDE = PROJECT_ROOT / "docs" / "analysts.md"
START, END = "<!-- dictionary:start -->", "<!-- dictionary:end -->"
# marts in build order, then the views they read, then the catalogue
OBJECTS = [*(("marts", name) for name in MARTS), ("marts", "unit_metric_counts"),
           ("marts", "procedure_metric_counts"),
           ("marts", "province_month_scores"), ("ref", "groups"), ("ref", "metrics"),
           ("ref", "bands"), ("ref", "provinces")]


def render(con: duckdb.DuckDBPyConnection) -> str:
    comments = dict(((r[0], r[1]), r[2]) for r in con.execute("""
        SELECT schema_name, table_name, comment FROM duckdb_tables()
        UNION ALL SELECT schema_name, view_name, comment FROM duckdb_views()""").fetchall())
    out = []
    for schema, table in OBJECTS:
        out += [f"### `{schema}.{table}`", "", comments[(schema, table)], "",
                "| column | type | meaning |", "|---|---|---|"]
        out += [f"| `{c}` | {t} | {(m or '').replace('|', '/')} |" for c, t, m in con.execute(
            "SELECT column_name, data_type, comment FROM duckdb_columns() "
            "WHERE schema_name = ? AND table_name = ? ORDER BY column_index",
            [schema, table]).fetchall()]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def current() -> str:
    """The dictionary of the schema this code creates (no warehouse needed)."""
    with duckdb.connect() as con:
        ensure_schema(con)
        return render(con)


def replace_section(text: str, section: str) -> str:
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{section}{END}{tail}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"refresh it in {GUIDE}")
    args = parser.parse_args()
    if args.write:
        GUIDE.write_text(replace_section(GUIDE.read_text("utf-8"), current()), "utf-8")
        print(f"updated {GUIDE}")
    else:
        print(current())


if __name__ == "__main__":
    main()
