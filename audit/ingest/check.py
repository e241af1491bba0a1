"""Every reason a row fails on its own: its parse reasons, the pandera value schema, and cross-column rules.

Reasons that need other rows (references, repeated keys, the store) are found
later, in SQL, by merge.py.
"""

from __future__ import annotations

from functools import lru_cache

import pandera.polars as pa
import polars as pl

from ..schemas import TABLES, Table, value_schema
from .parse import IDX, NO_REASONS, _blank_to_null, _quoted, _reasons_where, parse
from .read import UNPARSED


@lru_cache(maxsize=None)
def _schema(name: str) -> pa.DataFrameSchema:
    return value_schema(TABLES[name])


def _may_fail(table: Table) -> pl.Expr:
    """True where a check of the pandera value schema can fail: only those rows are handed to pandera.

    The same checks as `value_schema`, as one vectorised pass; pandera then
    judges (and words) the few rows it flags, not the whole table.
    """
    conds = []
    for c in table.columns:
        col = pl.col(c.name)
        if c.required:
            conds.append(col.is_null())
        if c.enum:
            conds.append(~col.is_in(list(c.enum)))
        if c.min is not None:
            conds.append(col < c.min)
        if c.gt is not None:
            conds.append(col <= c.gt)
    return pl.any_horizontal(conds).fill_null(False) if conds else pl.lit(False)


def _value_reasons(table: Table, df: pl.DataFrame) -> pl.DataFrame:
    """Run the pandera value schema on the rows that may fail; its failure cases as (row index, reason)."""
    suspects = df.filter(_may_fail(table))
    if suspects.is_empty():  # the usual chunk: pandera's fixed cost per call is more than the pre-test
        return pl.DataFrame(schema=NO_REASONS)
    try:
        _schema(table.name).validate(suspects.select(table.names), lazy=True)
        return pl.DataFrame(schema=NO_REASONS)
    except pa.errors.SchemaErrors as e:
        fc = e.failure_cases
    position = suspects.select(pl.col(IDX)).with_row_index("_pos").with_columns(pl.col("_pos").cast(pl.Int64))
    fc = fc.filter(pl.col("index").is_not_null()).with_columns(pl.col("index").cast(pl.Int64).alias("_pos")).join(
        position, on="_pos")
    msgs = []
    for col in table.columns:
        sub = fc.filter(pl.col("column") == col.name)
        if sub.is_empty():
            continue
        enum_msg = f" is not one of: {', '.join(col.enum)}"
        msg = (
            pl.when(pl.col("check") == "not_nullable").then(pl.lit(f"{col.name} is empty"))
            .when(pl.col("check").str.starts_with("isin")).then(
                pl.lit(f"{col.name} ") + _quoted(pl.col("failure_case")) + pl.lit(enum_msg))
            .when(pl.col("check").str.starts_with("greater_than_or_equal_to")).then(
                pl.lit(f"{col.name} ") + pl.col("failure_case") + pl.lit(f" is below {col.min}"))
            .when(pl.col("check").str.starts_with("greater_than")).then(
                pl.lit(f"{col.name} ") + pl.col("failure_case") + pl.lit(f" is not greater than {col.gt}"))
            .otherwise(pl.lit(f"{col.name} fails ") + pl.col("check"))
        )
        # A required value that failed to parse already has its reason: do not add "is empty".
        not_blank = sub.join(df.select(IDX, _blank_to_null(pl.col(f"raw_{col.name}")).is_not_null().alias("_given")),
                             on=IDX, how="left")
        sub = not_blank.filter(~((pl.col("check") == "not_nullable") & pl.col("_given")))
        msgs.append(sub.select(IDX, msg.alias("reason")))
    return pl.concat(msgs) if msgs else pl.DataFrame(schema=NO_REASONS)


def _cross_column_reasons(table: Table, df: pl.DataFrame) -> list[pl.DataFrame]:
    return [_reasons_where(
        df, pl.col(other).is_in(list(values)) & pl.col(column).is_null(),
        pl.lit(f"{column} is empty for a contact to a ") + pl.col(other),
    ) for column, other, values in table.required_when]


def _key_text(table: Table) -> pl.Expr:
    return pl.concat_str([pl.col(f"raw_{k}").cast(pl.String).fill_null("") for k in table.key], separator="|")


def validate(table: Table, raw: pl.DataFrame, zone: str | None,
             offset: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The parsed chunk, and every reason each row fails on its own as (row index, reason).

    Reasons that need other rows (references, repeated keys, the store) come later, in SQL.
    """
    df, parse_reasons = parse(table, raw, zone, offset)
    reasons = [parse_reasons, _value_reasons(table, df), *_cross_column_reasons(table, df)]
    if UNPARSED in df.columns:
        reasons.append(_reasons_where(df, pl.col(UNPARSED).is_not_null(), pl.lit("line is not a JSON object")))
    return df, pl.concat(reasons)
