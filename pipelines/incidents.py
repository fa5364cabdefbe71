"""When a step fails: one paragraph an operator woken at night can act on.

Appended to <data>/logs/incidents.log (and the latest one to incident-latest.txt):
what failed and why, which months, when analysts last got good data, and how to
rerun. Runs as a failure hook on the refresh job, so it works under
``python -m tools.launch``, the schedule and the UI alike.
"""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

from assets.months import month_key, parse_month
from assets.redact import redact

PUBLISH_KEY = dg.AssetKey(["publish", "analyst_copy"])


def _months(tags: dict) -> tuple[str, str]:
    if PARTITION_NAME_TAG in tags:
        return tags[PARTITION_NAME_TAG], tags[PARTITION_NAME_TAG]
    return (tags.get(ASSET_PARTITION_RANGE_START_TAG, "?"),
            tags.get(ASSET_PARTITION_RANGE_END_TAG, "?"))


def _last_good_publish(instance: dg.DagsterInstance, published: Path) -> str:
    """The file is the truth (an instance may be new); the run that wrote it, if known."""
    if not published.exists():
        return "never: analysts have no published copy yet"
    when = datetime.fromtimestamp(published.stat().st_mtime, UTC).strftime("%Y-%m-%d %H:%M UTC")
    event = instance.get_latest_materialization_event(PUBLISH_KEY)
    by = f" by run {event.run_id[:8]}" if event is not None else ""
    return f"{when}{by}; that copy is unchanged and still queryable"


def _month_label(partition: str) -> str:
    """``2026-08`` for the partition key ``2026-08-01``; a tag that is not a month as is."""
    try:
        return month_key(parse_month(partition))
    except ValueError:
        return partition


def incident_paragraph(*, step: str, error: str, run_id: str, first: str, last: str,
                       last_publish: str, published_path: Path) -> str:
    months = _month_label(first) if first == last else \
        f"{_month_label(first)} to {_month_label(last)}"
    rerun = (f"python -m tools.launch --job refresh_months --partition {first}"
             if first == last else
             f"python -m tools.launch --job refresh_months --partition-range {first}...{last}")
    reason = " ".join(error.strip().split())
    if len(reason) > 1500:
        reason = reason[:1500] + " …"
    return (
        f"[{datetime.now(UTC):%Y-%m-%d %H:%M UTC}] chiso766 run {run_id} failed at step "
        f"{step} for {months}. Reason: {reason} Last good publish: {last_publish} "
        f"({published_path}). To rerun after fixing the cause: open the UI (source "
        f"scripts/env.sh && dg dev --host 127.0.0.1), Runs, run {run_id[:8]}, Re-execute, "
        f"From failure; or: source scripts/env.sh && {rerun}\n"
    )


def write_incident(logs_dir: Path, paragraph: str) -> Path:
    paragraph = redact(paragraph)  # the portal token never reaches the incident files
    logs_dir.mkdir(parents=True, exist_ok=True)
    with open(logs_dir / "incidents.log", "a", encoding="utf-8") as fh:
        fh.write(paragraph)
    (logs_dir / "incident-latest.txt").write_text(paragraph, "utf-8")
    return logs_dir / "incidents.log"


@dg.failure_hook(required_resource_keys={"chiso"})
def incident_report(context: dg.HookContext) -> None:
    run = context.instance.get_run_by_id(context.run_id)
    first, last = _months(dict(run.tags) if run else {})
    exc = context.op_exception
    error = (getattr(exc, "description", None) or str(exc)) if exc else "unknown error"
    chiso = context.resources.chiso
    paragraph = incident_paragraph(
        step=context.step_key or "?", error=error, run_id=context.run_id, first=first,
        last=last, last_publish=_last_good_publish(context.instance, chiso.published_path),
        published_path=chiso.published_path)
    path = write_incident(chiso.logs_dir, paragraph)
    context.log.error(redact(f"Incident summary written to {path}:\n{paragraph}"))
