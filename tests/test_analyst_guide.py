"""The analyst guide works: every example query runs on a published copy and answers,
and the data dictionary is the database's own comments."""

import re

import pytest
from shared_runs import two_months

from assets.marts.dictionary import END, GUIDE, START, current

SQL_BLOCK = re.compile(r"```sql\n(.*?)```", re.DOTALL)


@pytest.fixture(scope="module")
def published(tmp_path_factory, replay_dir):
    pipeline, _ = two_months(tmp_path_factory, replay_dir)
    with pipeline.published() as con:
        yield con


def test_every_example_query_runs_and_answers(published):
    queries = SQL_BLOCK.findall(GUIDE.read_text("utf-8"))
    assert len(queries) >= 10
    for n, query in enumerate(queries, 1):
        rows = published.execute(query).fetchall()
        assert rows, f"example query {n} returned nothing:\n{query}"


def test_every_mart_column_is_described_in_the_published_copy(published):
    missing = published.execute("""
        SELECT table_name || '.' || column_name FROM duckdb_columns()
        WHERE schema_name IN ('marts', 'ref') AND coalesce(comment, '') = ''
        UNION ALL
        SELECT table_name FROM duckdb_tables()
        WHERE schema_name IN ('marts', 'ref') AND coalesce(comment, '') = ''""").fetchall()
    assert missing == []


def test_the_guides_dictionary_is_the_databases_own():
    text = GUIDE.read_text("utf-8")
    section = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert section == current().strip(), (
        "docs/analysts.md is stale: run python -m assets.marts.dictionary --write")
