"""The run tags that say which months a run covers, by their documented values.

Dagster 1.13 has no public constant for these: its own are in a private module. The
values are the ones Dagster's backfill documentation gives for launching one run over a
range of partitions (the UI's "single run" backfill sets the same two tags), and
tests/test_definitions.py checks them against Dagster's own.
"""

from datetime import date

from assets.months import partition_key

PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def range_tags(first: date, last: date) -> dict[str, str]:
    """The tags of one run over the months ``first`` to ``last`` (both included)."""
    return {RANGE_START_TAG: partition_key(first), RANGE_END_TAG: partition_key(last)}


def months_of_run(tags: dict[str, str]) -> tuple[str, str]:
    """The first and last partition keys a run's tags name ("?" when they name none)."""
    if PARTITION_TAG in tags:
        return tags[PARTITION_TAG], tags[PARTITION_TAG]
    return tags.get(RANGE_START_TAG, "?"), tags.get(RANGE_END_TAG, "?")
