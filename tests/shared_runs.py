"""One real pipeline run shared by the test modules that only read its results.

July and August 2026 for Phú Thọ (real captures in August) and Tuyên Quang, both
pulled, focus on Phú Thọ: the marts, the published copy and the scorecard pages.
Each module asks for it through its own module-scoped fixture; the first one pays.
"""

from datetime import date

from conftest import AUGUST, Pipeline

JULY = date(2026, 7, 1)
_runs: dict[str, tuple[Pipeline, object]] = {}


def two_months(tmp_path_factory, replay_dir) -> tuple[Pipeline, object]:
    """(pipeline, result) of the run over July–August 2026, H44 and H60 pulled."""
    if "two_months" not in _runs:
        p = Pipeline(tmp_path_factory.mktemp("two-months") / "data", str(replay_dir),
                     provinces="H44,H60")
        result = p.run(JULY, AUGUST)
        assert result.success
        _runs["two_months"] = (p, result)
    return _runs["two_months"]
