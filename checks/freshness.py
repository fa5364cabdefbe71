"""Is what analysts see up to date? Checks on the published copy, not the warehouse.

- the open month was refreshed within the last 26 hours (a missed nightly run);
- from the 5th of a month on, the month before it is present (a closed month missing).

They warn (they do not block): stale data is still the best data there is.
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb

from assets.months import VIETNAM, current_month, month_key, previous_month
from assets.resources import ChisoSettings

PUBLISH_KEY = dg.AssetKey(["publish", "analyst_copy"])
OPEN_MONTH_MAX_AGE = timedelta(hours=26)
CLOSED_MONTH_DUE_DAY = 5


def open_month_status(published: Path, now: datetime) -> tuple[str | None, dict]:
    """(the problem or None, the numbers behind it) for the open month."""
    month = current_month(now)
    facts = {"month": month_key(month), "limit_hours": OPEN_MONTH_MAX_AGE.total_seconds() / 3600}
    if not published.exists():
        return f"no published copy at {published}", facts
    with duckdb.connect(str(published), read_only=True) as con:
        latest = con.execute("SELECT max(captured_at) FROM marts.province_monthly "
                             "WHERE month = ?", [month]).fetchone()[0]
    if latest is None:
        return f"the open month {month_key(month)} is not published at all", facts
    age = now - latest
    facts |= {"last_captured": dg.MetadataValue.timestamp(latest),
              "age_hours": round(age.total_seconds() / 3600, 1)}
    if age > OPEN_MONTH_MAX_AGE:
        return (f"the open month {month_key(month)} was last captured {latest:%Y-%m-%d %H:%M} UTC, "
                f"{age.total_seconds() / 3600:.0f} h ago (limit 26 h)"), facts
    return None, facts


def closed_month_status(published: Path, now: datetime) -> tuple[str | None, dict]:
    """(the problem or None, the numbers behind it) for the month before the open one."""
    today = now.astimezone(VIETNAM).date()
    previous = previous_month(current_month(now))
    facts = {"month": month_key(previous), "due_day": CLOSED_MONTH_DUE_DAY}
    if today.day < CLOSED_MONTH_DUE_DAY:
        return None, facts
    if not published.exists():
        return f"no published copy at {published}", facts
    with duckdb.connect(str(published), read_only=True) as con:
        rows = con.execute("SELECT count(*) FROM marts.province_monthly WHERE month = ?",
                           [previous]).fetchone()[0]
    facts["province_rows"] = rows
    if rows == 0:
        return (f"the closed month {month_key(previous)} is still missing on the "
                f"{today:%d/%m}"), facts
    return None, facts


def _result(status: tuple[str | None, dict], published: Path) -> dg.AssetCheckResult:
    problem, facts = status
    return dg.AssetCheckResult(passed=problem is None, severity=dg.AssetCheckSeverity.WARN,
                               metadata={"problem": problem or "none", **facts,
                                         "published": dg.MetadataValue.path(str(published))})


@dg.asset_check(asset=PUBLISH_KEY, description="The open month was refreshed within 26 hours.")
def open_month_is_fresh(chiso: ChisoSettings) -> dg.AssetCheckResult:
    now = datetime.now(UTC)
    return _result(open_month_status(chiso.published_path, now), chiso.published_path)


@dg.asset_check(asset=PUBLISH_KEY,
                description="From the 5th on, last month is published.")
def closed_month_is_present(chiso: ChisoSettings) -> dg.AssetCheckResult:
    now = datetime.now(UTC)
    return _result(closed_month_status(chiso.published_path, now), chiso.published_path)


freshness_checks = [open_month_is_fresh, closed_month_is_present]
