"""What the person on call sees: freshness warnings and the incident paragraph."""

import shutil
from datetime import UTC, datetime, timedelta

import duckdb
from conftest import AUGUST

from checks.freshness import closed_month_status, open_month_status
from pipelines.incidents import incident_paragraph

CAPTURED = datetime(2026, 8, 20, 10, 0, tzinfo=UTC)


def test_freshness_of_the_open_and_the_closed_month(pipeline, tmp_path):
    assert pipeline.run(AUGUST).success
    # A copy of the published file as if August had been captured on 20/08 at 10:00 UTC.
    published = tmp_path / "published.duckdb"
    shutil.copy(pipeline.settings.published_path, published)
    published.chmod(0o644)
    with duckdb.connect(str(published)) as con:
        con.execute("UPDATE marts.province_monthly SET captured_at = ?", [CAPTURED])
    assert open_month_status(published, CAPTURED + timedelta(hours=25))[0] is None
    stale, facts = open_month_status(published, CAPTURED + timedelta(hours=27))
    assert stale is not None and "2026-08" in stale and "27 h ago" in stale
    # the check's numbers, as metadata in the UI (not only in the text)
    assert (facts["month"], facts["age_hours"], facts["limit_hours"]) == ("2026-08", 27.0, 26.0)
    assert facts["last_captured"].value == CAPTURED.timestamp()
    # 3 September: August is not due yet; 6 September: due and present; 6 October:
    # September was never published
    assert closed_month_status(published, datetime(2026, 9, 3, tzinfo=UTC))[0] is None
    assert closed_month_status(published, datetime(2026, 9, 6, tzinfo=UTC))[0] is None
    missing, facts = closed_month_status(published, datetime(2026, 10, 6, tzinfo=UTC))
    assert missing is not None and "2026-09" in missing
    assert facts == {"month": "2026-09", "due_day": 5, "province_rows": 0}
    assert "not published" in open_month_status(published,
                                                datetime(2026, 10, 6, tzinfo=UTC))[0]


def test_the_incident_paragraph_says_what_where_since_when_and_how_to_rerun(tmp_path):
    text = incident_paragraph(
        step="staging_tables", error="Validation failed;\n nothing was loaded", run_id="abc12345ff",
        first="2026-10-01", last="2026-11-01", last_publish="2026-11-27 19:02 UTC",
        published_path=tmp_path / "published" / "chiso766.duckdb")
    assert text.count("\n") == 1  # one paragraph, one line in the log
    for fragment in ("failed at step staging_tables", "2026-10 to 2026-11",
                     "Validation failed; nothing was loaded", "Last good publish: 2026-11-27",
                     "Re-execute",
                     "python -m tools.launch --job refresh_months --partition-range "
                     "2026-10-01...2026-11-01"):
        assert fragment in text
