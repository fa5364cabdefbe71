"""publish/analyst_copy: a read-only copy of the warehouse for analysts.

Analysts never open the warehouse the pipeline writes (one writer *or* many
readers). The copy is built beside the published file and swapped in with
os.replace: a reader of the old copy keeps its file, the next one sees the new.
"""

import os
from pathlib import Path

import dagster as dg
import duckdb

from assets.marts_catalogue import MARTS, mart_order
from assets.partitions import monthly_partitions
from assets.resources import ChisoSettings, WarehouseResource

from .exports import write_exports
from .summary import focus_summary


def publish_copy(con: duckdb.DuckDBPyConnection, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    # A publisher killed mid-copy leaves its temp file; publishers never overlap (one
    # pool slot), so any temp file here is stale. The published file itself was never touched.
    for stale in target.parent.glob(f".{target.name}.*.tmp*"):
        stale.unlink(missing_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    source = con.execute("SELECT current_database()").fetchone()[0]
    # ATTACH takes no bound parameters: the path is ours, quoted as a SQL literal.
    literal = "'" + str(tmp).replace("'", "''") + "'"
    con.execute("ATTACH " + literal + " AS publish_target")
    try:
        con.execute('COPY FROM DATABASE "' + source.replace('"', '""') + '" TO publish_target')
    finally:
        con.execute("DETACH publish_target")
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o444)
    os.replace(tmp, target)


@dg.asset(
    key=["publish", "analyst_copy"],
    deps=[dg.AssetKey(["marts", name]) for name in MARTS],
    group_name="publish",
    partitions_def=monthly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool="duckdb_warehouse",
    kinds={"duckdb"},
    description="Read-only copy of the warehouse at <data>/published/chiso766.duckdb, "
                "replaced atomically after the marts; then its exports, swapped in as one "
                "set: Parquet and CSV of every marts.* and ref.* table under "
                "<data>/published/exports/, and <data>/published/chiso766.xlsx.",
)
def analyst_copy(context: dg.AssetExecutionContext, chiso: ChisoSettings,
                 warehouse: WarehouseResource) -> dg.MaterializeResult:
    target = chiso.published_path
    with warehouse.get_connection() as con:
        publish_copy(con, target)
    with duckdb.connect(str(target), read_only=True) as pub:
        # the marts the copy holds, from its own catalogue
        marts = sorted((r[0] for r in pub.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts' "
            "AND table_type = 'BASE TABLE'").fetchall()), key=mart_order)
        counts = {t: pub.execute("SELECT count(*) FROM marts." + t).fetchone()[0]  # noqa: S608
                  for t in marts}
        summary = focus_summary(pub, chiso.focus_province.upper())
    context.log.info(f"published {target} ({target.stat().st_size / 1e6:.1f} MB)")
    exports = write_exports(target, context.run.run_id)
    context.log.info(f"exports: {target.parent / 'exports'} -> {exports['dir']} "
                     f"({len(exports['rows'])} tables, xlsx in {exports['seconds_xlsx']} s)")
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(target)),
        "megabytes": round(target.stat().st_size / 1e6, 2),
        **{f"rows_{t}": n for t, n in counts.items()},
        "focus_province": dg.MetadataValue.md(summary),
        "exports": dg.MetadataValue.path(exports["dir"]),
        "xlsx": dg.MetadataValue.path(str(target.parent / "chiso766.xlsx")),
    })
