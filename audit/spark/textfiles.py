"""CSV and JSONL files judged whole on the executors, as the DuckDB load judges them.

Spark's CSV and JSON readers are lenient where the load refuses a file in
one line (exit 3): bytes that are not text in the --encoding (Spark puts
U+FFFD in their place), a row with more fields than the header (Spark drops
the surplus, even an empty one, so no column can show it), a header naming a
column twice. So each text file's bytes are read once on an executor and
given to the load's own reader (ingest.read.text_file_error); the driver
receives one message per refused file and raises the one the load would
have met first. CSV text also loses its NUL characters, as the load's does.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import LoadError, UsageError
from .read import FILE, ORD, ROW, Part


def refuse_bad_text_files(spark, parts: list[Part], encoding: str) -> None:
    from ..spark_engine import blocking

    texts = [p for p in parts if p.fmt in ("csv", "jsonl")]
    if not texts:
        return
    sc = spark.sparkContext

    def judged(part: Part):
        def judge(item):
            from audit.ingest.read import text_file_error

            got = text_file_error(item[1], Path(part.name), encoding)
            return [] if got is None else [(part.ord, *got)]
        return judge

    found = blocking(spark, "checking the CSV and JSONL files whole",
                     sc.union([sc.binaryFiles(p.uri, minPartitions=1).flatMap(judged(p)) for p in texts]).collect)
    if found:
        _, kind, message = min(found)  # the file the load reads first
        raise (UsageError if kind == "usage" else LoadError)(message)


def without_nul(df):
    """CSV values without NUL characters (the load removes them from the text before parsing it)."""
    from pyspark.sql import functions as F

    return df.select(*[F.translate(F.col(f"`{c}`"), "\x00", "").alias(c) if t == "string" and c not in (FILE, ORD, ROW)
                       else F.col(f"`{c}`") for c, t in df.dtypes])
