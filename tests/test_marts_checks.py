"""Every mart's checks run in the step that writes it, and each mart has a blocking one;
the reference tables are one asset that every mart depends on, written only when their
content changes."""

import dagster as dg
import duckdb
import pytest

from assets.marts.build import mart_assets
from assets.marts.reference import VERSION, reference_tables
from assets.marts_catalogue import MARTS, REFERENCE_KEY
from assets.resources import ChisoSettings, WarehouseResource
from assets.warehouse import reference_version
from checks.marts import MART_CHECKS


def test_every_mart_has_a_blocking_check_in_the_step_that_writes_it():
    from pipelines.definitions import defs
    graph = defs.resolve_asset_graph()
    for name in MARTS:
        key = dg.AssetKey(["marts", name])
        specs = {s.name: s.blocking for s in defs.resolve_assets_def(key).check_specs}
        assert specs == {c.name: c.blocking for c in MART_CHECKS[name]}, name
        assert any(specs.values()), f"{name} has no blocking check"
        # declared in the mart's own asset (check_specs), not as separate check steps
        assert {k.name for k in graph.get(key).check_keys} == set(specs)
        assert REFERENCE_KEY in graph.get(key).parent_keys


@pytest.mark.parametrize("job", ["refresh_months", "refresh_legacy", "rebuild_history"])
def test_each_job_that_builds_marts_writes_the_reference_once_before_them(job):
    from pipelines.definitions import defs
    selected = defs.resolve_job_def(job).asset_layer.executable_asset_keys
    assert REFERENCE_KEY in selected and any(k.path[0] == "marts" for k in selected)


def test_the_reference_is_written_once_then_only_when_its_content_changes(tmp_path):
    warehouse = WarehouseResource(database=str(tmp_path / "warehouse.duckdb"))
    instance = dg.DagsterInstance.ephemeral()
    runs = [dg.materialize([reference_tables], instance=instance,
                           resources={"warehouse": warehouse}) for _ in range(2)]
    events = [r.asset_materializations_for_node("ref__reference_tables")[0] for r in runs]
    assert [e.metadata["rewritten"].value for e in events] == [True, False]
    assert events[0].metadata["rows_provinces"].value > 63
    assert {e.tags["dagster/data_version"] for e in events} == {VERSION}
    assert VERSION == reference_version()  # the code version is the content hash
    with duckdb.connect(str(warehouse.database), read_only=True) as con:
        assert con.execute("SELECT content_sha256 FROM meta.reference_version").fetchall() == [
            (VERSION,)]


def test_a_mart_alone_on_a_warehouse_without_the_reference_says_what_to_run(tmp_path):
    (mart,) = [a for a in mart_assets if a.key == dg.AssetKey(["marts", "province_monthly"])]
    result = dg.materialize(
        [mart], partition_key="2026-08-01", raise_on_error=False,
        instance=dg.DagsterInstance.ephemeral(),
        resources={"warehouse": WarehouseResource(database=str(tmp_path / "w.duckdb")),
                   "chiso": ChisoSettings(data_dir=str(tmp_path))})
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "materialize ref/reference_tables first" in str(
        failure.step_failure_data.user_failure_data.description)
