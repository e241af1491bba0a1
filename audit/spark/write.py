"""Outputs written by the executors: every rejected row and every violation, as Parquet in the report.

Masked on the executors with the reports' own masking (pii.mask_frame), so
no file under --out carries a full identifier, whoever wrote it. The files
are private from their first byte: the session's Hadoop umask is 077.
"""

from __future__ import annotations

from pathlib import Path

from ..policy import Policy
from ..schemas import VIOLATION_COLUMNS
from .account import REJECTED_COLUMNS

VIOLATIONS_DIR = "violations"          # partitioned by local month: violations/month=2026-11/part-*.parquet
REJECTED_FILE = "rejected.parquet"     # a directory of parts, as Spark writes


def _masked(columns: list[str], transform=None):
    def mask(batches):
        import polars as pl
        import pyarrow as pa

        from audit import pii

        for batch in batches:
            df = pl.from_arrow(batch)
            if not isinstance(df, pl.DataFrame) or df.height == 0:
                continue
            if transform is not None:
                df = transform(df)
            df = pii.mask_frame(df).select(columns)
            yield from df.to_arrow().cast(pa.schema([(c, _arrow(df.schema[c])) for c in columns])).to_batches()
    return mask


def _arrow(dtype):
    import polars as pl
    import pyarrow as pa

    return pa.int64() if dtype == pl.Int64 else pa.string()


def write_rejected(rejected, out: Path) -> None:
    """Every rejected row as rejected.csv has it (masked), in its order: table, file, row."""
    schema = ", ".join(f"`{c}` {'bigint' if c == 'row' else 'string'}" for c in REJECTED_COLUMNS)
    rejected.select(*REJECTED_COLUMNS).mapInArrow(_masked(REJECTED_COLUMNS), schema) \
        .orderBy("table", "source_file", "row") \
        .write.mode("errorifexists").parquet(_uri(out / REJECTED_FILE))


def write_violations(located, policy: Policy, out: Path) -> None:
    """Every violation as report rows (engine.report_rows), masked, partitioned by the month of its local time."""
    from ..engine import report_rows

    cols = [*VIOLATION_COLUMNS, "month"]

    def rows(df):
        import polars as pl

        return report_rows(df, policy).with_columns(pl.col("local_time").str.slice(0, 7).alias("month"))

    schema = ", ".join(f"`{c}` string" for c in cols)
    located.mapInArrow(_masked(cols, rows), schema).repartition("month") \
        .sortWithinPartitions("ts", "event_id", "rule_id") \
        .write.mode("errorifexists").partitionBy("month").parquet(_uri(out / VIOLATIONS_DIR))


def _uri(path: Path) -> str:
    return path.resolve().as_uri()
