"""Every expectation of every suite, counted per capture in one polars pass.

Great Expectations costs ~10 ms per expectation and per batch before it reads a row,
and it converts each dataset to pandas: on a month of staged rows that was most of the
rebuild. The rules are written once, in checks/suites.py; here each GX expectation
*kind* is translated once (RULE_KINDS) into the polars expression of the rows GX would
call unexpected (same null handling, the suite's own ``ignore_row_if``), and each
dataset is reduced to one row per raw file (capture) and expectation: rows, unexpected
rows. That compact
summary is what GX then validates in bulk (checks/gx_runner.py). Only a suite with an
unexpected row is run row by row in GX, so a failure names file, unit and field exactly
as before. tests/test_bulk_checks.py holds these expressions to GX's own counts.
"""

from collections.abc import Callable

import polars as pl

from .suites import SUITES, Suite

SUMMARY_SCHEMA = {"suite": pl.String, "expectation": pl.Int32, "dataset": pl.String,
                  "raw_path": pl.String, "rows": pl.Int64, "unexpected": pl.Int64}


def _missing(col: str, frame: pl.DataFrame) -> pl.Expr:
    """Null as pandas sees it: a float NaN is missing too."""
    c = pl.col(col)
    return c.is_null() | c.is_nan() if frame.schema[col].is_float() else c.is_null()


# Each GX expectation kind the suites use, translated once: the rows GX calls unexpected,
# as a polars expression of the suite's own arguments. A rule is never restated here: the
# column, bounds, set and which rows to skip are read from checks/suites.py, and an
# argument a translation does not know (``mostly``, say) is refused, not ignored. The
# suites spell ``ignore_row_if`` out, so no GX default is restated either.


def _not_null(kw: dict, frame: pl.DataFrame) -> pl.Expr:
    return _missing(kw["column"], frame)


def _between(kw: dict, frame: pl.DataFrame) -> pl.Expr:
    c, lo, hi = pl.col(kw["column"]), kw.get("min_value"), kw.get("max_value")
    out = pl.lit(False)
    if lo is not None:
        out = out | (c <= lo if kw.get("strict_min") else c < lo)
    if hi is not None:
        out = out | (c >= hi if kw.get("strict_max") else c > hi)
    return ~_missing(kw["column"], frame) & out.fill_null(False)


def _in_set(kw: dict, frame: pl.DataFrame) -> pl.Expr:
    return ~_missing(kw["column"], frame) & ~pl.col(kw["column"]).is_in(list(kw["value_set"]))


def _pair(ok: Callable) -> Callable:
    def unexpected(kw: dict, frame: pl.DataFrame) -> pl.Expr:
        a, b = kw["column_A"], kw["column_B"]
        ma, mb = _missing(a, frame), _missing(b, frame)
        skip = {"both_values_are_missing": ma & mb, "either_value_is_missing": ma | mb,
                "neither": pl.lit(False)}[kw["ignore_row_if"]]
        return ~skip & ~ok(pl.col(a), pl.col(b), kw).fill_null(False)
    return unexpected


def _unique(kw: dict, frame: pl.DataFrame) -> pl.Expr:
    cols = kw["column_list"]
    missing = [_missing(c, frame) for c in cols]
    skip = {"all_values_are_missing": pl.all_horizontal(missing),
            "any_value_is_missing": pl.any_horizontal(missing),
            "never": pl.lit(False)}[kw["ignore_row_if"]]
    # rows skipped by GX cannot duplicate a kept row (they differ in being missing)
    return ~skip & pl.struct(cols).is_duplicated()


# kind: (the arguments it reads, the arguments it requires, its translation)
RULE_KINDS = {
    "ExpectColumnValuesToNotBeNull": ({"column"}, {"column"}, _not_null),
    "ExpectColumnValuesToBeBetween": (
        {"column", "min_value", "max_value", "strict_min", "strict_max"}, {"column"}, _between),
    "ExpectColumnValuesToBeInSet": ({"column", "value_set"}, {"column", "value_set"}, _in_set),
    "ExpectColumnPairValuesToBeEqual": (
        {"column_A", "column_B", "ignore_row_if"}, {"column_A", "column_B", "ignore_row_if"},
        _pair(lambda a, b, kw: a == b)),
    "ExpectColumnPairValuesAToBeGreaterThanB": (
        {"column_A", "column_B", "or_equal", "ignore_row_if"},
        {"column_A", "column_B", "ignore_row_if"},
        _pair(lambda a, b, kw: a >= b if kw.get("or_equal") else a > b)),
    "ExpectCompoundColumnsToBeUnique": (
        {"column_list", "ignore_row_if"}, {"column_list", "ignore_row_if"}, _unique),
}


class BulkFormMissing(ValueError):
    """A suite's expectation the bulk form cannot read as written (a kind or an argument
    it has no translation for): refused, so the bulk path never guesses GX's meaning."""


def unexpected(cls_name: str, kw: dict, frame: pl.DataFrame) -> pl.Expr:
    """True on the rows GX reports as unexpected for this expectation."""
    if cls_name not in RULE_KINDS:
        raise BulkFormMissing(f"no bulk form for {cls_name}: add one to RULE_KINDS")
    reads, needs, translate = RULE_KINDS[cls_name]
    if set(kw) - reads or needs - set(kw):
        raise BulkFormMissing(f"{cls_name}: the bulk form reads {sorted(reads)} and needs "
                              f"{sorted(needs)}; the suite gives {sorted(kw)}")
    return translate(kw, frame)


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
