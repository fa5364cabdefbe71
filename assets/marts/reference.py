"""ref/reference_tables: ref.groups, ref.metrics, ref.bands and ref.provinces, one asset.

They come from the catalogue (assets/domain/catalogue.py) and the province reference
(data/reference/). Its code version is the content hash of those rows, so Dagster shows
it changed exactly when they do; each job that builds marts runs it once, and it
rewrites the tables only when the warehouse holds another version
(meta.reference_version), not once per mart.
"""

import dagster as dg

from assets.marts_catalogue import REFERENCE_KEY
from assets.resources import WarehouseResource
from assets.warehouse import REFERENCE_TABLES, ensure_schema, reference_version, refresh_reference

VERSION = reference_version()


@dg.asset(key=REFERENCE_KEY, group_name="reference", code_version=VERSION,
          pool="duckdb_warehouse", kinds={"duckdb"},
          description="The catalogue in the warehouse: ref.groups, ref.metrics, ref.bands "
                      "and ref.provinces, from assets/domain/catalogue.py and "
                      "data/reference/. Rewritten only when their content changes (its "
                      "hash is the code version); every mart reads them.")
def reference_tables(context: dg.AssetExecutionContext,
                     warehouse: WarehouseResource) -> dg.MaterializeResult:
    version = reference_version()
    with warehouse.get_connection() as con:
        ensure_schema(con)
        written = refresh_reference(con)
        rows = {t: con.execute("SELECT count(*) FROM " + t).fetchall()[0][0]  # noqa: S608 (fixed list)
                for t in REFERENCE_TABLES}
    context.log.info(("wrote" if written else "already up to date:") + " "
                     + ", ".join(f"{t} ({n})" for t, n in rows.items()))
    return dg.MaterializeResult(
        data_version=dg.DataVersion(version),
        metadata={"rewritten": written, "content_sha256": version,
                  **{f"rows_{t.removeprefix('ref.')}": n for t, n in rows.items()}})
