"""Decide every row's fate across the load on the executors: loaded, duplicate, or rejected with all its reasons.

The same decisions, in the same order of reasons, as the DuckDB load
(ingest/merge.py): a row's own reasons, then a reference that does not
resolve, then a key repeated with different values. The Spark engine keeps
no store of contact rows (docs/scale.md), so a load is judged on its own:
nothing is `updated` or a duplicate of a stored row.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ingest.read import UNPARSED
from ..schemas import LOAD_ORDER, Table
from .check import NAIVE, OWN, SPARK_TYPE, quoted
from .read import FILE, ORD, ROW

REASONS, FATE = "_reasons", "_fate"  # fate: loaded, duplicate, rejected
REJECTED_COLUMNS = ["table", "source_file", "row", "key", "reasons", "values"]


@dataclass
class Accounted:
    """One table after the accounting: its accepted rows (typed), its rejected rows, and what to count."""
    accepted: object       # DataFrame of the table's spec columns
    rejected: object       # DataFrame of REJECTED_COLUMNS plus ordering columns
    totals: object         # DataFrame of one row: read, duplicates, rejected, and wall-clock examples
    frame: object          # every row with its fate, which the three above read (persisted by the caller)


def _F():
    from pyspark.sql import functions as F

    return F


def key_text(table: Table):
    F = _F()
    return F.concat_ws("|", *[F.coalesce(F.col(f"raw_{k}"), F.lit("")) for k in table.key])


def _json(names: list[tuple[str, str]]):
    """A JSON object of text columns, nulls kept (as Polars' json_encode writes them)."""
    F = _F()
    return F.to_json(F.struct(*[F.col(f"`{c}`").cast("string").alias(shown) for c, shown in names]),
                     {"ignoreNullFields": "false"})


def empty_table(spark, table: Table):
    """A table the load does not have, with its schema (an optional table)."""
    schema = ", ".join(f"{c.name} {SPARK_TYPE[c.kind]}" for c in table.columns)
    return spark.createDataFrame([], schema)


def account(table: Table, d, accepted: dict, extras: list[str]) -> Accounted:
    """Reference, repeated-key and fate columns on a parsed table; `accepted` holds the tables it refers to."""
    F = _F()
    from pyspark.sql import Window

    why = [F.when(F.col(OWN) != "", F.col(OWN))]
    for column, target, target_col in table.references:
        if target not in accepted:
            continue  # no borrowers table: borrower references are not checked (SPEC §1)
        keys = accepted[target].select(F.col(target_col).alias("_ref")).distinct() \
            .withColumn(f"_hit_{column}", F.lit(True))
        d = d.join(keys, d[column] == keys["_ref"], "left").drop("_ref")
        why.append(F.when(F.col(column).isNotNull() & F.col(f"_hit_{column}").isNull(), F.concat(
            F.lit(f"{column} "), quoted(F.col(column)), F.lit(f" is not in {target}"))))
    d = d.withColumn("_invalid", F.concat_ws("; ", *why) != "")
    key = list(table.key)
    repeated = d.where(" AND ".join(f"{k} IS NOT NULL" for k in key)).groupBy(*key).agg(
        F.count(F.lit(1)).alias("_copies")).where("_copies > 1")
    # Only rows whose key repeats are compared; they are few, and carry their place to be joined back.
    rep = d.join(repeated, key, "inner")
    signature = F.when(F.col("_invalid"), _json([(f"raw_{c}", c) for c in table.names])) \
        .otherwise(_json([(c, c) for c in table.names]))
    w = Window.partitionBy(*key)
    rep = rep.withColumn("_sig", signature).select(
        ORD, ROW, "_copies", "_invalid",
        F.size(F.collect_set("_sig").over(w)).alias("_variants"),
        F.min(F.when(~F.col("_invalid"), F.struct(ORD, ROW))).over(w).alias("_first"))
    rep = rep.select(
        ORD, ROW, "_copies",
        (F.col("_variants") > 1).alias("_conflict"),
        ((F.col("_variants") == 1) & ~F.col("_invalid") & (F.struct(ORD, ROW) != F.col("_first"))).alias("_later"))
    d = d.join(rep, [ORD, ROW], "left")
    key_name = " + ".join(key)
    why.append(F.when(F.col("_conflict"), F.concat(
        F.lit(f"{key_name} "), quoted(key_text(table)), F.lit(" appears "), F.col("_copies").cast("string"),
        F.lit(" times in this load with different values (all rejected)"))))
    d = d.withColumn(REASONS, F.concat_ws("; ", *why)).withColumn(
        FATE, F.when(F.col(REASONS) != "", F.lit("rejected"))
        .when(F.coalesce(F.col("_later"), F.lit(False)), F.lit("duplicate")).otherwise(F.lit("loaded")))
    return account_views(table, d, extras)


def account_views(table: Table, d, extras: list[str]) -> Accounted:
    """The accepted rows, the rejected rows and the totals of a frame that carries each row's fate."""
    F = _F()
    shown = [(f"raw_{c}", c) for c in table.names] + [(c, c.removeprefix("extra:")) for c in extras if c != UNPARSED] \
        + ([(UNPARSED, "unparsed_line")] if UNPARSED in extras else [])
    rejected = d.where(F.col(FATE) == "rejected").select(
        F.lit(LOAD_ORDER.index(table.name)).alias("_table"), ORD, ROW,
        F.lit(table.name).alias("table"), F.col(FILE).alias("source_file"), F.col(ROW).alias("row"),
        key_text(table).alias("key"), F.col(REASONS).alias("reasons"), _json(shown).alias("values"))
    naive = [c for c in d.columns if c.startswith(NAIVE)]
    totals = d.agg(
        F.count(F.lit(1)).alias("read"),
        F.sum(F.when(F.col(FATE) == "duplicate", 1).otherwise(0)).alias("duplicates"),
        F.sum(F.when(F.col(FATE) == "rejected", 1).otherwise(0)).alias("rejected"),
        *[F.min_by(F.col(f"`{c}`"), F.when(F.col(f"`{c}`").isNotNull(), F.struct(ORD, ROW))).alias(c)
          for c in naive])
    return Accounted(d.where(F.col(FATE) == "loaded").select(*table.names), rejected, totals, d)
