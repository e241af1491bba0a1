"""Outputs written by the executors: every rejected row and every violation, as Parquet in the report.

Masked on the executors with the reports' own masking (pii.mask_frame), so
no file under --out carries a full identifier, whoever wrote it. The files
are private from their first byte: the session's Hadoop umask is 077.
"""

from __future__ import annotations

from pathlib import Path

from ..ledger import REPORT_COLUMNS
from .account import REJECTED_COLUMNS

VIOLATIONS_DIR = "violations"          # partitioned by local month: violations/month=2026-11/part-*.parquet
REJECTED_FILE = "rejected.parquet"     # a directory of parts, as Spark writes
PART_ROWS = 20_000                     # rows per sorted part: what the driver holds while copying one
SORTED_PARTS = ".violations-in-order"  # the executors' sorted parts, merged into violations.csv/.parquet


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


def write_violations(marked, out: Path) -> None:
    """Every violation as its report row (status and waiver included), masked, partitioned by the month of
    its local time."""
    cols = [*REPORT_COLUMNS, "month"]

    def rows(df):
        import polars as pl

        return df.with_columns(pl.col("local_time").str.slice(0, 7).alias("month"))

    schema = ", ".join(f"`{c}` string" for c in cols)
    marked.mapInArrow(_masked(cols, rows), schema).repartition("month") \
        .sortWithinPartitions("ts", "event_id", "rule_id") \
        .write.mode("errorifexists").partitionBy("month").parquet(_uri(out / VIOLATIONS_DIR))


def write_report_files(marked, out: Path) -> None:
    """violations.csv and violations.parquet, as the DuckDB engine writes them (reports/tables.py).

    The executors sort and mask the rows into Parquet parts of at most PART_ROWS rows, in SPEC §5's
    order (a range partitioning: part files in name order are in row order). The driver then copies
    the parts into the two files one part at a time, so what it holds is one part, whatever the
    number of violations."""
    import shutil

    import polars as pl

    from ..reports.tables import excel_safe
    from .readback import ORDER

    parts = out / SORTED_PARTS
    schema = ", ".join(f"`{c}` string" for c in REPORT_COLUMNS)
    marked.orderBy(*ORDER).mapInArrow(_masked(REPORT_COLUMNS), schema) \
        .write.mode("errorifexists").option("maxRecordsPerFile", PART_ROWS).parquet(_uri(parts))
    files = sorted(parts.glob("part-*.parquet"))
    try:
        empty = pl.DataFrame(schema=dict.fromkeys(REPORT_COLUMNS, pl.String))
        with (out / "violations.csv").open("wb") as csv:
            empty.write_csv(csv)  # the header line, as write_csv writes it
            for f in files:
                excel_safe(pl.read_parquet(f)).write_csv(csv, include_header=False)
        (pl.scan_parquet(files) if files else empty.lazy()).sink_parquet(
            out / "violations.parquet", compression="zstd", statistics=False, row_group_size=PART_ROWS)
    finally:
        shutil.rmtree(parts)  # written just now, inside this run's private report directory


def _uri(path: Path) -> str:
    return path.resolve().as_uri()
