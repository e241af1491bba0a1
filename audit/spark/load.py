"""The Spark engine's load: read, check and account for every row on the executors.

The driver receives one row of counts per table and the first rejected rows
(REJECTED_ROWS_SHOWN, for rejected.csv and the HTML report); every rejected
row is written by the executors to `rejected.parquet` (write.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from .. import progress
from ..errors import LoadError, UsageError
from ..ingest import REJECTED_SCHEMA, LoadResult, TableCounts
from ..ingest.read import UNPARSED
from ..schemas import LOAD_ORDER, TABLES
from ..timezones import is_zone
from .account import REJECTED_COLUMNS, account, account_views, empty_table
from .check import NAIVE, parse, wall_clock_without_zone
from .read import ORD, ROW, discover, read_table
from .textfiles import refuse_bad_text_files

REJECTED_ROWS_SHOWN = 100_000  # rejected rows the driver takes for rejected.csv; all are in rejected.parquet


@dataclass
class SparkLoad:
    """A load on Spark: the result the reports read, the accepted tables, and every rejected row (a DataFrame)."""
    result: LoadResult
    tables: dict = field(default_factory=dict)   # table -> DataFrame of accepted rows (all five, some empty)
    rejected: object = None                      # DataFrame of every rejected row, in load order
    cached: list = field(default_factory=list)   # frames to unpersist when the run is done

    def release(self) -> None:
        for df in self.cached:
            try:
                df.unpersist()
            except Exception:  # noqa: BLE001 - the session may be gone already
                pass


def load_on_spark(spark, data: str | Path, *, zone: str | None, encoding: str) -> SparkLoad:
    """Every row of the dataset loaded, a duplicate, or rejected with its reasons; no row reaches the driver."""
    from ..spark_engine import blocking

    if zone is not None and not is_zone(zone):
        raise UsageError(f"--timezone {zone!r} is not an IANA time zone name (e.g. Asia/Shanghai)")
    notes: list[str] = []
    progress.step("list the dataset")
    _, files = discover(spark, str(data), notes)
    for name, t in TABLES.items():
        if t.required_table and name not in files:
            raise LoadError(f"{data}: required table {name} is missing (expected {name}.csv/.parquet/.jsonl, "
                            f"{name}.csv.gz or another compressed form, or {name}/)")
    load = SparkLoad(LoadResult(notes=notes))
    rejected = []
    for name in LOAD_ORDER:
        table = TABLES[name]
        if name not in files:
            load.tables[name] = empty_table(spark, table)
            continue
        progress.step(f"read and check {name} on Spark")
        refuse_bad_text_files(spark, files[name], encoding)
        frames, extras = [], {}
        for df, parts in read_table(spark, name, files[name], encoding=encoding, cached=load.cached):
            missing = [c.name for c in table.columns if c.required and c.name not in df.columns]
            if missing and UNPARSED not in df.columns:
                raise LoadError(f"{parts[0].name}: required column {missing[0]} of {name} is missing")
            extras.update(dict.fromkeys(c for c in df.columns if c.startswith("extra:") or c == UNPARSED))
            frames.append(parse(table, df, zone))
        if not frames:
            load.tables[name] = empty_table(spark, table)
            load.result.counts[name] = TableCounts()
            continue
        d = frames[0]
        for f in frames[1:]:
            d = d.unionByName(f, allowMissingColumns=True)
        for c in extras:
            if c not in d.columns:
                from pyspark.sql import functions as F

                d = d.withColumn(c, F.lit(None).cast("string"))
        done = account(table, d, {k: v for k, v in load.tables.items() if k in files}, list(extras))
        # Every row with its fate, materialised on the executors: the counts, the accepted and the rejected
        # rows read it, and the next tables' plans start from it instead of repeating this table's.
        frame = blocking(spark, f"checking {name}", lambda: done.frame.localCheckpoint(eager=True))
        done = account_views(table, frame, list(extras))
        totals = blocking(spark, f"counting {name}", done.totals.collect)[0].asDict()
        if zone is None:
            wall_clock_without_zone(table, {k[len(NAIVE):]: v for k, v in totals.items() if k.startswith(NAIVE)})
        counts = TableCounts(read=int(totals["read"]), duplicates=int(totals["duplicates"] or 0),
                             rejected=int(totals["rejected"] or 0))
        counts.loaded = counts.read - counts.duplicates - counts.rejected
        load.result.counts[name] = counts
        load.tables[name] = done.accepted
        rejected.append(done.rejected)
    if rejected:
        every = rejected[0]
        for r in rejected[1:]:
            every = every.unionByName(r)
        load.rejected = every.orderBy("_table", ORD, ROW)
        n = sum(c.rejected for c in load.result.counts.values())
        if n:
            shown = load.rejected.limit(REJECTED_ROWS_SHOWN).select(*REJECTED_COLUMNS)
            got = pl.from_arrow(blocking(spark, "reading the rejected rows", shown.toArrow))
            load.result.rejected = got.cast(REJECTED_SCHEMA).select(list(REJECTED_SCHEMA))
            if n > REJECTED_ROWS_SHOWN:
                load.result.notes.append(
                    f"{n} rows were rejected: rejected.csv holds the first {REJECTED_ROWS_SHOWN} in load order, "
                    f"rejected.parquet holds all of them")
    return load
