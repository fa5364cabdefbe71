"""Every expectation of every suite, counted per capture in one polars pass.

Great Expectations costs ~10 ms per expectation and per batch before it reads a row,
and it converts each dataset to pandas: on a month of staged rows that was most of the
rebuild. Here each expectation is the polars expression of the rows GX would call
unexpected (same null handling, same ``ignore_row_if``), and each dataset is reduced to
one row per raw file (capture) and expectation: rows, unexpected rows. That compact
summary is what GX then validates in bulk (checks/gx_runner.py). Only a suite with an
unexpected row is run row by row in GX, so a failure names file, unit and field exactly
as before. tests/test_bulk_checks.py holds these expressions to GX's own counts.
"""

import polars as pl

from .suites import SUITES, Suite

SUMMARY_SCHEMA = {"suite": pl.String, "expectation": pl.Int32, "dataset": pl.String,
                  "raw_path": pl.String, "rows": pl.Int64, "unexpected": pl.Int64}


def _missing(col: str, frame: pl.DataFrame) -> pl.Expr:
    """Null as pandas sees it: a float NaN is missing too."""
    c = pl.col(col)
    return c.is_null() | c.is_nan() if frame.schema[col].is_float() else c.is_null()


def unexpected(cls_name: str, kw: dict, frame: pl.DataFrame) -> pl.Expr:
    """True on the rows GX reports as unexpected for this expectation."""
    if cls_name == "ExpectColumnValuesToNotBeNull":
        return _missing(kw["column"], frame)
    if cls_name == "ExpectColumnValuesToBeBetween":
        c, lo, hi = pl.col(kw["column"]), kw.get("min_value"), kw.get("max_value")
        out = pl.lit(False)
        if lo is not None:
            out = out | (c < lo if not kw.get("strict_min") else c <= lo)
        if hi is not None:
            out = out | (c > hi if not kw.get("strict_max") else c >= hi)
        return ~_missing(kw["column"], frame) & out.fill_null(False)
    if cls_name == "ExpectColumnValuesToBeInSet":
        c = pl.col(kw["column"])
        return ~_missing(kw["column"], frame) & ~c.is_in(list(kw["value_set"]))
    if cls_name in ("ExpectColumnPairValuesAToBeGreaterThanB", "ExpectColumnPairValuesToBeEqual"):
        a, b = kw["column_A"], kw["column_B"]
        ma, mb = _missing(a, frame), _missing(b, frame)
        ignore = kw.get("ignore_row_if", "both_values_are_missing")  # GX's default for both
        skip = {"both_values_are_missing": ma & mb, "either_value_is_missing": ma | mb,
                "neither": pl.lit(False)}[ignore]
        if cls_name == "ExpectColumnPairValuesToBeEqual":
            ok = pl.col(a) == pl.col(b)
        else:
            ok = pl.col(a) >= pl.col(b) if kw.get("or_equal") else pl.col(a) > pl.col(b)
        return ~skip & ~ok.fill_null(False)
    if cls_name == "ExpectCompoundColumnsToBeUnique":
        cols = kw["column_list"]
        ignore = kw.get("ignore_row_if", "all_values_are_missing")
        missing = [_missing(c, frame) for c in cols]
        skip = {"all_values_are_missing": pl.all_horizontal(missing),
                "any_value_is_missing": pl.any_horizontal(missing),
                "never": pl.lit(False)}[ignore]
        # rows skipped by GX cannot duplicate a kept row (they differ in being missing)
        return ~skip & pl.struct(cols).is_duplicated()
    raise NotImplementedError(f"no bulk form for {cls_name}: add one (and to the test)")


def summarise(suite: Suite, frame: pl.DataFrame) -> pl.DataFrame:
    """One row per capture (raw file) and expectation: rows, unexpected rows."""
    if frame.height == 0:
        return pl.DataFrame(schema=SUMMARY_SCHEMA)
    flags = [unexpected(cls, kw, frame).alias(f"e{i}")
             for i, (cls, kw) in enumerate(suite.expectations)]
    path = (pl.col("raw_path") if "raw_path" in frame.columns else pl.lit(None, pl.String))
    per_file = (frame.select(path.fill_null("").alias("raw_path"), *flags)
                .group_by("raw_path", maintain_order=True)
                .agg(pl.len().alias("rows"), *[pl.col(f"e{i}").sum()
                                               for i in range(len(suite.expectations))]))
    return (per_file.unpivot(index=["raw_path", "rows"], variable_name="e",
                             value_name="unexpected")
            .select(pl.lit(suite.name).alias("suite"),
                    pl.col("e").str.slice(1).cast(pl.Int32).alias("expectation"),
                    pl.lit(suite.dataset).alias("dataset"), "raw_path",
                    pl.col("rows").cast(pl.Int64), pl.col("unexpected").cast(pl.Int64)))


def summarise_all(datasets: dict[str, pl.DataFrame], suites=SUITES) -> pl.DataFrame:
    return pl.concat([summarise(s, datasets[s.dataset]) for s in suites], how="vertical")
