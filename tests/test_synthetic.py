"""The synthetic replay generator: deterministic, shaped like the portal, scored by
the project's own rules, and faithful to the real Phú Thọ 08/2026 captures."""

import hashlib
import json
from datetime import date
from pathlib import Path

import pytest

from assets.domain.catalogue import GROUP_CODES, METRICS
from assets.sources.endpoints import GROUP_ENDPOINTS, NATIONAL, month_payload, replay_relpath
from tools.scoring_oracle import clgq_score, metric_score, tdgq_score, tttt_score
from tools.synthetic import (
    DEFAULT_MONTHS,
    DEFAULT_SAMPLES_DIR,
    OPEN_MONTH,
    generate,
    load_provinces,
    parse_months,
)

JULY, AUGUST = date(2026, 7, 1), date(2026, 8, 1)
MONTHS = [JULY, AUGUST]
PROVINCES = ["H44", "H60"]
PHU_THO = "019d2be3-6a88-732b-8b17-b68020c8553a"
TUYEN_QUANG = "019d2be3-6a89-70fe-8e60-6458eb08bfe1"
MANIFEST = json.loads((DEFAULT_SAMPLES_DIR / "manifest.json").read_text("utf-8"))
METRIC_ENDPOINTS = ("CKMB", "MDHL", "MDSH")
QUALITY_KEYS = {"dataQualityStatus", "dataQualityMessage"}


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _load(root: Path, relpath: str) -> dict:
    return json.loads((root / relpath).read_text("utf-8"))


def _group_relpath(group: str, month: date, province_id: str) -> str:
    endpoint = GROUP_ENDPOINTS[group]
    return replay_relpath(endpoint, month_payload(endpoint, month, province_id=province_id))


def _summary_relpath(month: date) -> str:
    return replay_relpath(NATIONAL, month_payload(NATIONAL, month))


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("replay")
    dirs = {name: base / name for name in ("a", "b", "subset")}
    generate(dirs["a"], MONTHS, PROVINCES, seed=766)
    generate(dirs["b"], MONTHS, PROVINCES, seed=766)
    generate(dirs["subset"], MONTHS, ["H60"], seed=766)
    return dirs


@pytest.fixture(scope="module")
def replay(runs) -> Path:
    return runs["a"]


@pytest.fixture(scope="module")
def index(replay) -> dict:
    return _load(replay, "index.json")


def _synthetic_group_files(replay: Path, index: dict):
    for relpath, meta in index.items():
        if meta["synthetic"] and not relpath.startswith(NATIONAL.name + "/"):
            group = next(g for g, e in GROUP_ENDPOINTS.items()
                         if relpath.startswith(e.name + "/"))
            yield relpath, group, _load(replay, relpath)


def test_same_arguments_give_identical_bytes(runs):
    first, second = _hashes(runs["a"]), _hashes(runs["b"])
    assert first == second
    # 6 group files x 2 provinces x 2 months + 2 summaries + index.json
    assert len(first) == 6 * 2 * 2 + 2 + 1


def test_rerun_overwrites_and_forgets_files_it_no_longer_makes(runs, tmp_path):
    target = tmp_path / "rerun"
    generate(target, MONTHS, PROVINCES, seed=766)
    before = _hashes(target)
    generate(target, [AUGUST], PROVINCES, seed=766)
    after = _hashes(target)
    assert not any("/2026-07/" in path for path in after)
    august = {p: h for p, h in before.items() if "/2026-07/" not in p and p != "index.json"}
    # August files do not depend on July being generated, except the summary's deltas.
    summary = _summary_relpath(AUGUST)
    assert {p: h for p, h in after.items() if p not in ("index.json", summary)} == {
        p: h for p, h in august.items() if p != summary}


def test_province_output_does_not_depend_on_the_selection(runs):
    subset, full = _hashes(runs["subset"]), _hashes(runs["a"])
    for relpath, digest in subset.items():
        if relpath != "index.json":
            assert full[relpath] == digest, relpath
    for month in MONTHS:  # the national summary is identical whichever provinces are written
        assert subset[_summary_relpath(month)] == full[_summary_relpath(month)]


def test_index_describes_every_file(replay, index):
    files = {p for p in _hashes(replay) if p != "index.json"}
    assert set(index) == files
    for meta in index.values():
        if meta["synthetic"]:
            assert meta == {"synthetic": True, "generator": "tools.synthetic", "seed": 766}


def test_real_captures_are_copied_byte_for_byte(replay, index):
    copied = {relpath: meta for relpath, meta in index.items() if not meta["synthetic"]}
    assert len(copied) == 6
    month_all = {c["sha256"]: c for c in MANIFEST["captures"]
                 if c["period"] == "month" and c["scope"] == "all"}
    for group in GROUP_CODES:
        relpath = _group_relpath(group, AUGUST, PHU_THO)
        meta = copied[relpath]
        capture = month_all[meta["sha256"]]
        assert hashlib.sha256((replay / relpath).read_bytes()).hexdigest() == capture["sha256"]
        real = (DEFAULT_SAMPLES_DIR / capture["file"]).read_bytes()
        assert (replay / relpath).read_bytes() == real
        assert meta["recordedAt"] == capture["capturedAt"]
        assert meta["sourceUrl"] == capture["url"]


def test_summary_lists_all_34_provinces(replay):
    codes = {p["departmentCode"] for p in load_provinces()}
    for month in MONTHS:
        data = _load(replay, _summary_relpath(month))["data"]
        rows = data["evaluation"]
        assert len(rows) == 34
        assert {r["departmentCode"] for r in rows} == codes
        assert len({r["departmentId"] for r in rows}) == 34
        assert [r["stt"] for r in rows] == list(range(1, 35))
        assert [r["totalScore"] for r in rows] == sorted((r["totalScore"] for r in rows),
                                                         reverse=True)
        assert data["pagination"]["total"] == len(rows)
        for row in rows:
            assert list(row["groupScores"]) == list(GROUP_CODES)
            assert abs(row["totalScore"] - sum(row["groupScores"].values())) <= 0.05
            assert 50 <= row["totalScore"] <= 95
        mean = sum(r["totalScore"] for r in rows) / 34
        assert abs(data["overview"]["totalScore"] - mean) <= 0.01
        assert data["overview"]["departmentName"] == "Cả nước"


def test_score_delta_is_the_change_since_the_previous_generated_month(replay):
    july = {r["departmentCode"]: r for r in
            _load(replay, _summary_relpath(JULY))["data"]["evaluation"]}
    august = _load(replay, _summary_relpath(AUGUST))["data"]["evaluation"]
    assert all(r["scoreDelta"] is None for r in july.values())
    for row in august:
        expected = row["totalScore"] - july[row["departmentCode"]]["totalScore"]
        assert abs(row["scoreDelta"] - expected) <= 0.011


def test_phu_tho_august_summary_comes_from_the_real_files(replay):
    row = next(r for r in _load(replay, _summary_relpath(AUGUST))["data"]["evaluation"]
               if r["departmentId"] == PHU_THO)
    real = {c["file"].split("/")[0]: json.loads((DEFAULT_SAMPLES_DIR / c["file"]).read_bytes())
            for c in MANIFEST["captures"] if c["period"] == "month" and c["scope"] == "all"}
    expected = {
        "CKMB": real["transparency"]["data"]["overview"]["totalScore"],
        "TDGQ": real["dvc-progress-tree"]["data"]["parent"]["totalScore"],
        "CLGQ": real["provide-online-tree"]["data"]["parent"]["totalScore"],
        "TTTT": real["formality-online-payment-tree"]["data"]["parent"]["totalScore"],
        "MDHL": real["handling-satisfaction"]["data"]["overview"]["totalScore"],
        "MDSH": real["dossier-digitized"]["data"]["overview"]["totalScore"],
    }
    assert row["groupScores"] == expected
    assert row["totalScore"] == 59.92


def test_tuyen_quang_sits_in_the_lower_half(replay):
    for month in MONTHS:
        rows = _load(replay, _summary_relpath(month))["data"]["evaluation"]
        assert next(r["stt"] for r in rows if r["departmentCode"] == "H60") > 17


def _check_metric(group: str, metric: dict) -> None:
    rule = METRICS[metric["code"]]
    num, den = metric["numerator"], metric["denominator"]
    assert metric["maxScore"] == rule.max_score
    if rule.rule == "as_reported":
        assert num is None and den is None
        assert (metric["ratio"], metric["score"]) in ((100, 2), (0, 0))
        return
    expected = metric_score(rule, num, den)
    assert metric["score"] == (None if expected is None else round(expected, 2))
    if den:
        assert 0 <= num <= den
        assert metric["ratio"] == round(100 * num / den, 2)
    else:  # the satisfaction endpoint reports 0, the others null (as the real files do)
        assert metric["ratio"] == (0 if group == "MDHL" else None)


def _check_total(row: dict, parts: list) -> None:
    assert abs(row["totalScore"] - sum(p or 0 for p in parts)) <= 0.02
    assert row["ratio"] == round(100 * row["totalScore"] / row["totalMaxScore"], 2)


def test_synthetic_scores_follow_the_scoring_rules(replay, index):
    checked = clgq_parents = 0
    for _relpath, group, body in _synthetic_group_files(replay, index):
        data = body["data"]
        assert body["code"] == "OK"
        if group in METRIC_ENDPOINTS:
            for row in [data["overview"], *data["evaluation"]]:
                for metric in row["metrics"]:
                    _check_metric(group, metric)
                    checked += 1
                _check_total(row, [m["score"] for m in row["metrics"]])
        elif group == "TDGQ":
            for child in data["children"]:
                assert child["totalOnTime"] + child["totalOverdue"] == child["totalReceived"]
                assert child["score"] == round(tdgq_score(child["totalOnTime"],
                                                          child["totalReceived"]), 2)
            parent = data["parent"]
            assert parent["totalReceived"] == sum(c["totalReceived"] for c in data["children"])
            assert parent["totalOnTime"] == sum(c["totalOnTime"] for c in data["children"])
            assert parent["totalScore"] == round(tdgq_score(parent["totalOnTime"],
                                                            parent["totalReceived"]), 2)
        elif group == "TTTT":
            for node in [data["parent"], *data["children"]]:
                assert node["totalScore"] == round(tttt_score(node), 2)
                assert 0 <= node["totalScore"] <= 10
        elif group == "CLGQ":
            for node in [data["parent"], *data["children"]]:
                assert 0 <= node["totalScore"] <= 12
                assert node["ratio"] == round(100 * node["totalScore"] / 12, 2)
            # the province's score is the fitted formula on its parameters (the units
            # carry scores only, as in the real answers)
            parent = data["parent"]
            assert parent["totalScore"] == round(clgq_score(parent), 2)
            clgq_parents += 1
    assert checked > 1000
    assert clgq_parents == 3  # H44 in July, H60 in July and August (H44 08/2026 is real)


def test_pooled_province_counts_add_up_over_units(replay):
    for province_id in (PHU_THO, TUYEN_QUANG):
        mdsh = _load(replay, _group_relpath("MDSH", JULY, province_id))["data"]
        overview = {m["code"]: m for m in mdsh["overview"]["metrics"]}
        total = sum(next(m["numerator"] for m in r["metrics"]
                         if m["code"] == "ORIGINAL_RESULT_AVAILABLE") for r in mdsh["evaluation"])
        assert overview["ORIGINAL_RESULT_AVAILABLE"]["numerator"] == total
        ckmb = _load(replay, _group_relpath("CKMB", JULY, province_id))["data"]
        # Province-level procedure metrics are repeated identically on every unit row.
        for code in ("PUBLISH_ON_TIME", "PUBLIC_UPDATE_ON_TIME", "PUBLIC_CONTENT_FULL"):
            province = next(m for m in ckmb["overview"]["metrics"] if m["code"] == code)
            for row in ckmb["evaluation"]:
                assert next(m for m in row["metrics"] if m["code"] == code) == province


def test_pagination_matches_rows_and_units_agree_across_endpoints(replay, index):
    for province_id in (PHU_THO, TUYEN_QUANG):
        for month in MONTHS:
            unit_lists = []
            for group in GROUP_CODES:
                data = _load(replay, _group_relpath(group, month, province_id))["data"]
                rows = data.get("evaluation") or data.get("children")
                if "pagination" in data:
                    assert data["pagination"]["total"] == len(rows)
                    assert data["pagination"]["totalPages"] == 1
                ids = [r["departmentId"] for r in rows]
                assert len(set(ids)) == len(ids)
                unit_lists.append(ids)
            assert all(ids == unit_lists[0] for ids in unit_lists)
            if province_id == TUYEN_QUANG:
                assert 13 + 90 <= len(unit_lists[0]) <= 16 + 150


def _skeleton(obj, path: str = "", out: dict | None = None) -> dict:
    """Every object's key order by JSON path (data-quality flags are optional)."""
    out = {} if out is None else out
    if isinstance(obj, dict):
        out.setdefault(path, set()).add(tuple(k for k in obj if k not in QUALITY_KEYS))
        for key, value in obj.items():
            _skeleton(value, f"{path}.{key}", out)
    elif isinstance(obj, list):
        for value in obj:
            _skeleton(value, f"{path}[]", out)
    return out


@pytest.mark.parametrize("group", GROUP_CODES)
def test_synthetic_responses_have_the_real_shape(replay, group):
    real = json.loads((replay / _group_relpath(group, AUGUST, PHU_THO)).read_bytes())
    for province_id in (PHU_THO, TUYEN_QUANG):
        synthetic = _load(replay, _group_relpath(group, JULY, province_id))
        assert _skeleton(synthetic) == _skeleton(real)


def test_months_parse_and_default():
    assert parse_months("2026-06:2026-11") == DEFAULT_MONTHS
    assert parse_months("2026-11:2027-01") == [date(2026, 11, 1), date(2026, 12, 1),
                                               date(2027, 1, 1)]
    assert parse_months("2026-06,2026-08") == [date(2026, 6, 1), AUGUST]
    assert OPEN_MONTH == date(2026, 11, 1)


def test_unknown_province_is_refused(tmp_path):
    with pytest.raises(ValueError, match="H99"):
        generate(tmp_path / "x", [JULY], ["H99"])


def test_open_month_is_a_partial_month():
    from tools.synthetic import build_province, load_captures, province_month, templates_from

    templates = templates_from(next(iter(load_captures(DEFAULT_SAMPLES_DIR).values())))
    ratios = []
    for ref in load_provinces()[:8]:
        province = build_province(ref, 766, None)
        received = [province_month(province, month, 766, templates)["TDGQ"]["data"]["parent"]
                    ["totalReceived"] for month in (date(2026, 10, 1), OPEN_MONTH)]
        ratios.append(received[1] / received[0])
    assert 0.88 <= sum(ratios) / len(ratios) <= 0.98
