"""Issue 15 §6: a month's per-procedure answers staged in chunks (a procedure's answers
never split) stage the same rows, audit rows and check results as the month at once; the
month, not the chunk, decides "unchanged". Three procedures from the real samples' five
filtered answers (the bytes re-indented per procedure: distinct files, same content)."""

import hashlib
import json

import duckdb
import pytest
from conftest import AUGUST
from procedure_samples import keep_samples

from assets.staging.engine import StageFailure, check_results
from assets.staging.procedure_load import _select, chunk_by_procedure, stage_procedures
from assets.tables import PROCEDURES, qualified
from assets.warehouse import ensure_schema

PROCEDURES_IN_MONTH = 3


def _add_procedures(store, ids: list[str], change=None) -> None:
    """Copies of the sample procedure's five answers under each of ``ids`` (``change``:
    edits an answer's data in place, given its endpoint)."""
    manifest_path = next((store.root / "_sessions").rglob("*.json"))
    session = json.loads(manifest_path.read_text())
    answers = [c for c in session["captures"] if c.get("formality_id")]
    known = len({c["formality_id"] for c in answers})  # distinct bytes from theirs
    answers = [c for c in answers if c["formality_id"] == answers[0]["formality_id"]]
    for n, procedure in enumerate(ids, known):
        for c in answers:
            answer = json.loads(store.read_verified(c))
            if change:
                change(c["endpoint"], answer["data"])
            body = json.dumps(answer, indent=n).encode()
            path = store.root / c["endpoint"] / f"{procedure}.json"
            path.write_bytes(body)
            session["captures"].append(
                {**c, "formality_id": procedure, "formality_code": procedure,
                 "path": str(path.relative_to(store.root)),
                 "sha256": hashlib.sha256(body).hexdigest(), "bytes": len(body)})
    manifest_path.write_text(json.dumps(session, ensure_ascii=False))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    kept = keep_samples(tmp_path_factory.mktemp("chunks") / "raw")
    _add_procedures(kept, [f"p{i}" for i in range(2, PROCEDURES_IN_MONTH + 1)])
    return kept


def _staged(store, tmp_path, name: str, chunk: int):
    con = duckdb.connect(str(tmp_path / f"{name}.duckdb"))
    ensure_schema(con)
    run = stage_procedures(con, store, [AUGUST], run_id=name, chunk=chunk)
    return con, run


def _rows(con) -> dict[str, list[tuple]]:
    return {t: con.execute(f"SELECT * FROM {qualified(t)} ORDER BY ALL").fetchall()
            for t in PROCEDURES}


def _audit(con, run_id: str) -> list[tuple]:
    return con.execute("""
        SELECT suite, dataset, expectation, columns, success, element_count, unexpected_count
        FROM audit.validation_results WHERE run_id = ? ORDER BY ALL""", [run_id]).fetchall()


def _results(run) -> list[tuple]:
    return sorted((r.check_name, r.passed, r.metadata["expectations"].value,
                   r.metadata["failed"].value) for r in check_results([run]))


def test_a_procedures_answers_stay_in_one_chunk(store):
    batch = _select(store, AUGUST)
    chunks = chunk_by_procedure(7)(batch)  # 5 answers a procedure: 5 + 5 > 7
    ids = [{c["formality_id"] for _, cs in b.sessions for c in cs} for b in chunks]
    assert [len(i) for i in ids] == [1] * PROCEDURES_IN_MONTH
    assert set().union(*ids) == {c["formality_id"] for _, cs in batch.sessions for c in cs}
    assert sum(len(cs) for b in chunks for _, cs in b.sessions) == \
        sum(len(cs) for _, cs in batch.sessions)
    # a large chunk takes whole procedures: 2 of them in 10 captures, the third alone
    assert [len({c["formality_id"] for _, cs in b.sessions for c in cs})
            for b in chunk_by_procedure(10)(batch)] == [2, 1]


def test_a_month_in_chunks_stages_the_rows_audit_and_results_of_the_month_at_once(
        store, tmp_path):
    whole, whole_run = _staged(store, tmp_path, "whole", chunk=10_000)
    split, split_run = _staged(store, tmp_path, "split", chunk=5)  # one procedure a chunk
    with whole, split:
        rows = _rows(whole)
        assert all(rows.values())
        assert len({r[7] for r in rows["procedure_group_scores"]}) == PROCEDURES_IN_MONTH
        assert _rows(split) == rows
        assert split_run.counts == whole_run.counts
        assert split_run.validated == whole_run.validated == [AUGUST]
        # one audit row per expectation, counts summed over the chunks
        assert _audit(split, "split") == _audit(whole, "whole") != []
    # one result per suite, its expectations counted once
    assert _results(split_run) == _results(whole_run)
    assert len(_results(split_run)) == len(split_run.path.suites)


def test_an_unchanged_month_is_not_restaged_and_a_changed_one_is_replaced_whole(tmp_path):
    store = keep_samples(tmp_path / "raw")  # its own: a procedure is added below
    _add_procedures(store, [f"p{i}" for i in range(2, PROCEDURES_IN_MONTH + 1)])
    con, _run = _staged(store, tmp_path, "again", chunk=5)
    with con:
        before = _rows(con)
        again = stage_procedures(con, store, [AUGUST], run_id="again-2", chunk=5,
                                 force=False)
        assert again.validated == [] and "2026-08" in again.unchanged
        assert check_results([again]) == [] and _audit(con, "again-2") == []
        # one more procedure: the whole month is staged again (every chunk), not only
        # the new procedure's
        _add_procedures(store, ["p-new"])
        changed = stage_procedures(con, store, [AUGUST], run_id="again-3", chunk=5,
                                   force=False)
        after = _rows(con)
    assert changed.validated == [AUGUST] and changed.unchanged == {}
    procedures = {r[7] for r in after["procedure_group_scores"]}
    assert procedures == {r[7] for r in before["procedure_group_scores"]} | {"p-new"}
    assert len(after["procedure_group_scores"]) == \
        len(before["procedure_group_scores"]) * (PROCEDURES_IN_MONTH + 1) // PROCEDURES_IN_MONTH


def test_a_blocking_failure_in_one_chunk_stops_the_month_and_keeps_the_rows(tmp_path):
    """The last chunk's procedure holds more dossiers in its units than in its province
    row: the month is refused (no chunk of it written), the audit and the suite's one
    result name that procedure's file."""
    store = keep_samples(tmp_path / "raw")
    _add_procedures(store, ["p2"])
    con, _run = _staged(store, tmp_path, "kept", chunk=5)

    def overfull(endpoint, data):
        if endpoint == "dvc-progress-tree":
            data["parent"]["totalReceived"] = 0

    _add_procedures(store, ["p-bad"], overfull)
    with con:
        before = _rows(con)
        with pytest.raises(StageFailure) as raised:
            stage_procedures(con, store, [AUGUST], run_id="bad", chunk=5, force=False)
        assert _rows(con) == before
        failed = con.execute("""
            SELECT suite, examples FROM audit.validation_results
            WHERE run_id = 'bad' AND NOT success""").fetchall()
    run = raised.value.staged
    assert run.validated == [AUGUST]
    assert [suite for suite, _ in failed] == ["procedure_units_within_the_procedure"]
    assert "p-bad" in failed[0][1]
    results = {r.check_name: r.passed for r in check_results([run])}
    assert results == {s.name: s.name != "procedure_units_within_the_procedure"
                       for s in run.path.suites}
