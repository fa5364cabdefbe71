"""The month's one home (assets/months.py): key forms, neighbours, era and finality,
as plain functions; and a guard that no other module does month arithmetic again."""

import re
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from assets.months import (
    FINAL_AFTER_DAYS,
    FINAL_GAP_H,
    FIRST_MONTH,
    MERGER_MONTH,
    TIMEZONE,
    VIETNAM,
    Era,
    current_month,
    era_of,
    expected_province_count,
    final_from,
    final_rule_params,
    last_day,
    month_close,
    month_key,
    month_range,
    months_following,
    next_month,
    parse_month,
    partition_key,
    previous_month,
)
from assets.partitions import monthly_partitions, months_in_window
from assets.warehouse import ensure_schema, months_scored

ROOT = Path(__file__).resolve().parents[1]


def test_key_forms_go_both_ways():
    aug = date(2026, 8, 1)
    assert month_key(aug) == "2026-08" and partition_key(aug) == "2026-08-01"
    assert partition_key(date(2026, 8, 17)) == "2026-08-01"  # any day names its month
    for text in ("2026-08", "2026-08-01", "08/2026", " 2026-08 "):
        assert parse_month(text) == aug
    assert parse_month(datetime(2026, 8, 31, 23, 59)) == aug
    for month in month_range(date(2024, 11, 1), date(2025, 2, 1)):
        assert parse_month(month_key(month)) == month == parse_month(partition_key(month))


@pytest.mark.parametrize("bad", ["2026-13", "2026/08", "26-08", "August 2026", "", "2026-08-32"])
def test_a_month_that_is_not_one_is_refused_naming_the_value(bad):
    with pytest.raises(ValueError, match=re.escape(repr(bad))):
        parse_month(bad)


def test_neighbours_and_ranges_cross_the_year_boundary():
    assert next_month(date(2025, 12, 1)) == date(2026, 1, 1)
    assert next_month(date(2025, 12, 31)) == date(2026, 1, 1)
    assert previous_month(date(2026, 1, 1)) == date(2025, 12, 1)
    assert previous_month(date(2026, 3, 15)) == date(2026, 2, 1)
    assert last_day(date(2024, 2, 1)) == date(2024, 2, 29)
    assert last_day(date(2025, 12, 5)) == date(2025, 12, 31)
    assert month_range(date(2025, 11, 1), date(2026, 2, 1)) == [
        date(2025, 11, 1), date(2025, 12, 1), date(2026, 1, 1), date(2026, 2, 1)]
    assert month_range(date(2026, 2, 1), date(2026, 1, 1)) == []


def test_months_following_gives_only_the_months_after_not_the_given_ones():
    assert months_following([date(2025, 12, 1)]) == [date(2026, 1, 1)]
    # a block of months: only the month after the block, not months inside it
    assert months_following([date(2025, 8, 1), date(2025, 7, 1)]) == [date(2025, 9, 1)]
    assert months_following([date(2025, 7, 1), date(2025, 9, 1)]) == [
        date(2025, 8, 1), date(2025, 10, 1)]
    assert months_following([]) == []


def test_months_scored_names_only_the_months_the_marts_hold():
    # the marts' rebuild takes the run's months plus the following ones that are scored
    with duckdb.connect() as con:
        ensure_schema(con)
        con.execute("""INSERT INTO staging.national_summary BY NAME
                       SELECT DATE '2025-09-01' AS month, 'H44' AS province_code""")
        run = [date(2025, 7, 1), date(2025, 8, 1)]
        assert months_scored(con, months_following(run)) == [date(2025, 9, 1)]
        assert months_scored(con, months_following([date(2025, 9, 1)])) == []


def test_a_run_covers_the_months_of_its_partition_time_window():
    seen = []

    @dg.asset(partitions_def=monthly_partitions, backfill_policy=dg.BackfillPolicy.single_run())
    def window(context: dg.AssetExecutionContext) -> None:
        seen.append(months_in_window(context))

    dg.materialize([window], tags={ASSET_PARTITION_RANGE_START_TAG: "2025-11-01",
                                   ASSET_PARTITION_RANGE_END_TAG: "2026-02-01"})
    dg.materialize([window], partition_key="2025-12-01")
    assert seen == [month_range(date(2025, 11, 1), date(2026, 2, 1)), [date(2025, 12, 1)]]


def test_the_era_changes_between_june_and_july_2025():
    assert era_of(date(2025, 6, 1)) is Era.PRE_MERGER and era_of(date(2025, 6, 30)) == "63"
    assert era_of(date(2025, 7, 1)) is Era.MERGED and era_of(MERGER_MONTH) == "34"
    assert era_of(FIRST_MONTH) is Era.PRE_MERGER
    assert expected_province_count(date(2025, 6, 1)) == 63
    assert expected_province_count(date(2025, 7, 1)) == 34
    assert Era("63") is Era.PRE_MERGER and f"{Era.MERGED}" == "34"  # the stored values


def test_a_month_closes_and_becomes_final_in_vietnam_time():
    jul = date(2026, 7, 1)
    assert month_close(jul) == datetime(2026, 8, 1, tzinfo=VIETNAM)
    assert month_close(jul).astimezone(UTC) == datetime(2026, 7, 31, 17, tzinfo=UTC)
    assert month_close(date(2025, 12, 1)) == datetime(2026, 1, 1, tzinfo=VIETNAM)
    assert final_from(jul) == datetime(2026, 8, 1 + FINAL_AFTER_DAYS, tzinfo=VIETNAM)
    assert final_from(jul).astimezone(UTC) == datetime(2026, 8, 5, 17, tzinfo=UTC)
    # 23:30 UTC on 31 July is already August in Vietnam: July is closed, August open
    late = datetime(2026, 7, 31, 23, 30, tzinfo=UTC)
    assert late >= month_close(jul) and current_month(late) == date(2026, 8, 1)
    assert current_month(datetime(2026, 7, 31, 16, 59, tzinfo=UTC)) == jul


def test_sql_gets_the_rules_constants_as_parameters():
    params = final_rule_params(12, today=date(2026, 8, 3))
    assert params == {"final_tz": TIMEZONE, "final_after_days": FINAL_AFTER_DAYS,
                      "final_gap_h": 12.0, "final_by_period": ["legacy_api", "spreadsheet"],
                      "today": date(2026, 8, 3)}
    assert final_rule_params()["final_gap_h"] == FINAL_GAP_H


# --- the guard: month arithmetic, key slicing and era literals live in months.py only ---

# Files of other helpers not yet switched (listed in the months report): to be emptied.
NOT_YET_SWITCHED = {
    "assets/staging/har_import.py", "assets/staging/legacy.py", "assets/staging/legacy_parse.py",
    "assets/staging/nightly.py", "assets/staging/parse.py", "assets/staging/step.py",
}
FORBIDDEN = {
    "next/previous month by hand": re.compile(
        r"\.month\s*%\s*12|\.month\s*//\s*12|\.month\s*[-+]\s*[12]\b|"
        r"month\s*==\s*(1|12)\b\s*else|replace\(day=1\)|monthrange"),
    "a month key sliced from a date": re.compile(r"isoformat\(\)\[:7\]|\bfirst\[:7\]"),
    "an era decided from a literal": re.compile(
        r"""[=!]=\s*["'](63|34)["']|MERGER_DATE\b(?!\s*=)|^[A-Z_]+\s*=\s*date\(2025,\s*7,\s*1\)"""),
    "the finality constants": re.compile(r"timedelta\(days=[56]\)|timedelta\(hours=7\)"),
}


def _sources():
    for folder in ("assets", "checks", "pipelines", "tools", "bench"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel != "assets/months.py" and rel not in NOT_YET_SWITCHED:
                yield rel, path.read_text("utf-8")


def test_no_module_but_months_does_month_arithmetic():
    found = [f"{rel}:{n}: {what}: {line.strip()}"
             for rel, text in _sources()
             for n, line in enumerate(text.splitlines(), 1)
             if not line.lstrip().startswith("#")
             for what, pattern in FORBIDDEN.items() if pattern.search(line)]
    assert not found, "use assets/months.py:\n" + "\n".join(found)
