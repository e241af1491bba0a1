"""The rule book in other SQL dialects: queries/*.sql (DuckDB) to Spark SQL with sqlglot.

Parameters are bound by replacing each `$name` in the parsed tree with a
literal node built by sqlglot, which quotes and escapes it; a value never
passes through string formatting. The few DuckDB functions Spark lacks are
rewritten here, in one place.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlglot
from sqlglot import exp

# Parameters whose NULL means "all": Spark needs the NULL typed as an array.
LIST_PARAMS = frozenset({"recipient_types", "channels", "outcomes", "exclude_outcomes"})


def _literal(name: str, value) -> exp.Expression:
    if value is None:
        if name in LIST_PARAMS:
            return exp.cast(exp.null(), exp.DataType.build("ARRAY<STRING>", dialect="spark"))
        return exp.null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float, Decimal)):
        return exp.Literal.number(value)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.build("DATE"))
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, (list, tuple)):
        return exp.Array(expressions=[_literal(name, v) for v in value])
    raise TypeError(f"cannot bind {type(value).__name__} to ${name}")


def _spark_functions(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Anonymous) and node.name.upper() == "EPOCH_US":
        return exp.Anonymous(this="UNIX_MICROS", expressions=node.expressions)
    if isinstance(node, exp.CTE) and node.args.get("materialized") is not None:
        # `AS [NOT] MATERIALIZED` tells DuckDB's planner how to run a CTE; Spark has no such
        # syntax (sqlglot writes it through) and plans the CTE itself
        node = node.copy()
        node.set("materialized", None)
    return node


def to_spark(sql: str, params: dict | None = None) -> str:
    """Spark SQL for a DuckDB query, with `params` bound as literals."""
    params = params or {}
    tree = sqlglot.parse_one(sql, read="duckdb")
    missing = {p.name for p in tree.find_all(exp.Placeholder)} - set(params)
    if missing:
        raise KeyError(f"no value for parameter(s) {sorted(missing)}")
    tree = tree.transform(_spark_functions).transform(
        lambda n: _literal(n.name, params[n.name]) if isinstance(n, exp.Placeholder) else n
    )
    return tree.sql(dialect="spark")
