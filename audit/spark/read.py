"""Find a dataset's files through Hadoop's file systems and read each table as Spark DataFrames.

A dataset is a local directory or any URI Spark reads (`file:`, `s3a:`,
`hdfs:`, `abfss:`): the same layout as SPEC §1, partitioned directories
included. Every row keeps where it came from: the file (relative to the
dataset, as rejected.csv names it), the file's place in load order, and its
row number in the file, computed on the executors from Spark's file metadata.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from ..errors import LoadError
from ..ingest.read import READ_FORMS, UNPARSED
from ..schemas import TABLES

FILE, ORD, ROW = "_file", "_ord", "_row"
# Forms Spark reads itself; zstd text needs Hadoop's native codec, which clusters rarely have.
SPARK_FORMS = tuple(f for f in READ_FORMS if not f.endswith(".zst"))
CORRUPT = "_corrupt_record"
NO_NULL_TEXT = "\x00contact-audit: no text stands for null\x00"


@dataclass(frozen=True)
class Part:
    """One file of a table: its URI, its name relative to the dataset, its place in load order, its format."""
    uri: str
    name: str
    ord: int
    fmt: str  # csv, jsonl, parquet


def _form(name: str) -> str | None:
    name = name.lower()
    return next((f for f in READ_FORMS if name.endswith(f) and len(name) > len(f)), None)


def _skipped(part: str) -> bool:
    return part.startswith((".", "_"))


def _fs(spark, uri: str):
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), path


def as_uri(data: str) -> str:
    """A local path as a file: URI; a URI as given."""
    from pathlib import Path

    if "://" in data or data.startswith("file:"):
        return data.rstrip("/")
    return Path(data).resolve().as_uri()


def discover(spark, data: str, notes: list[str]) -> tuple[str, dict[str, list[Part]]]:
    """The dataset's root as Spark names it, and each table's files in load order (as ingest.read.discover)."""
    uri = as_uri(data)
    try:
        fs, root = _fs(spark, uri)
        if not fs.exists(root) or not fs.getFileStatus(root).isDirectory():
            raise LoadError(f"data directory {data} does not exist or is not a directory")
        root = fs.makeQualified(root)
        entries = sorted(fs.listStatus(root), key=lambda s: s.getPath().getName())
    except LoadError:
        raise
    except Exception as e:  # py4j wraps Hadoop's IOExceptions: name the kind only
        raise LoadError(f"data {data} cannot be listed ({_java_kind(e)}); check the URI and credentials") from None
    prefix = root.toString().rstrip("/") + "/"
    found: dict[str, list[tuple[str, str]]] = {}
    for st in entries:
        name = st.getPath().getName()
        low = name.lower()
        if st.isDirectory() and low in TABLES:
            files, skipped = [], []
            it = fs.listFiles(st.getPath(), True)
            while it.hasNext():
                full = it.next().getPath().toString()
                rel = full[len(prefix):]
                inside = rel.split("/")[1:]
                if any(_skipped(p) for p in inside):
                    skipped.append("/".join(inside))
                elif _form(inside[-1]) is None:
                    raise _refused(rel)
                else:
                    files.append((full, rel))
            found.setdefault(low, []).extend(sorted(files, key=lambda f: f[1].split("/")))  # as Path sorts
            if skipped:
                shown = ", ".join(sorted(skipped)[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
                notes.append(f"{name}/: skipped {len(skipped)} marker or hidden file(s): {shown}")
        elif st.isFile() and not _skipped(low) and low.split(".")[0] in TABLES:
            form = _form(low)
            if form is None or low[: -len(form)] not in TABLES:
                raise _refused(name)
            found.setdefault(low[: -len(form)], []).append((st.getPath().toString(), name))
    out: dict[str, list[Part]] = {}
    for table, files in found.items():
        parts = []
        for i, (full, rel) in enumerate(files):
            form = _form(rel.rsplit("/", 1)[-1])
            if form not in SPARK_FORMS:
                raise LoadError(f"{rel}: the Spark engine reads {', '.join(SPARK_FORMS)}; "
                                f"recompress zstd text as gzip or write Parquet")
            parts.append(Part(full, rel, i, form[1:].split(".")[0]))
        out[table] = parts
    return prefix, out


def _refused(rel: str) -> LoadError:
    return LoadError(f"{rel}: not a file the audit reads; a table's files end in "
                     f"{', '.join(READ_FORMS)} (hidden files and _marker files are skipped)")


def _java_kind(e: Exception) -> str:
    text = str(e)
    for line in text.splitlines():
        if "Exception" in line:
            return line.split(":")[0].strip().rsplit(".", 1)[-1]
    return type(e).__name__


def _with_place(spark, df, parts: list[Part], *, row_index: bool, cached: list):
    """FILE, ORD and ROW (1-based row in its file) on every row, computed on the executors.

    Parquet gives each row's index in its file. Text files are split into
    blocks; a block is read in order by one task, so a row's number is the
    rows of the file's earlier blocks plus its place in its block
    (monotonically_increasing_id counts up within a task). The per-block
    counts are one small aggregate, joined back by broadcast.
    """
    from pyspark.sql import functions as F, Window

    names = spark.createDataFrame([(p.uri, p.name, p.ord) for p in parts], f"_uri string, {FILE} string, {ORD} int")
    # The metadata path is URL-encoded where the listing is not: compare both decoded.
    df = df.withColumn("_uri", F.url_decode(F.col("_metadata.file_path")))
    names = names.withColumn("_uri", F.url_decode("_uri"))
    if row_index:
        df = df.withColumn(ROW, F.col("_metadata.row_index") + 1)
    else:
        df = df.withColumn("_block", F.col("_metadata.file_block_start")).withColumn(
            "_mid", F.monotonically_increasing_id())
        # Materialised once: the ids must be the ones the block counts saw, and later plans start here.
        df = df.localCheckpoint(eager=True)
        blocks = df.groupBy("_uri", "_block").agg(F.count(F.lit(1)).alias("_n"), F.min("_mid").alias("_first"))
        before = Window.partitionBy("_uri").orderBy("_block").rowsBetween(Window.unboundedPreceding, -1)
        blocks = blocks.withColumn("_before", F.coalesce(F.sum("_n").over(before), F.lit(0)))
        df = df.join(F.broadcast(blocks.select("_uri", "_block", "_first", "_before")), ["_uri", "_block"]) \
            .withColumn(ROW, F.col("_before") + F.col("_mid") - F.col("_first") + 1) \
            .drop("_block", "_mid", "_first", "_before")
    return df.join(F.broadcast(names), "_uri").drop("_uri")


def _lower(df, where: str):
    """Column names lower-cased (SPEC §1 matches them case-insensitively); others kept as `extra:` columns."""
    known = {c.name for t in TABLES.values() for c in t.columns}
    names = [c.lstrip("\ufeff").lower().strip() for c in df.columns]
    if len(set(names)) != len(names):
        raise LoadError(f"{where}: two columns have the same name when case is ignored")
    out = [n if n in known or n == UNPARSED else f"extra:{n}" for n in names]
    return df.toDF(*out)


def _headers(spark, parts: list[Part]) -> dict[str, list[Part]]:
    """CSV files grouped by header line: Spark applies one header to all files of a read.

    The driver receives one line per file (its header), never a data row.
    """
    from pyspark.sql import functions as F

    from ..spark_engine import blocking

    lines = spark.read.text([p.uri for p in parts]).select(
        F.url_decode(F.col("_metadata.file_path")).alias("_uri"),
        F.col("_metadata.file_block_start").alias("_block"), F.monotonically_increasing_id().alias("_mid"),
        "value").where("_block = 0").groupBy("_uri").agg(F.min_by("value", "_mid").alias("header"))
    got = {r["_uri"]: r["header"] for r in blocking(spark, "reading the CSV headers", lines.collect)}
    groups: dict[str, list[Part]] = {}
    for p in parts:
        header = got.get(_decode(p.uri))
        if header is None:
            continue  # an empty file: no rows
        groups.setdefault(header.lstrip("\ufeff"), []).append(p)
    return groups


def _parquet_groups(spark, parts: list[Part]) -> list[list[Part]]:
    """Parquet files in groups Spark can read as one: all of them, unless their column types differ.

    Files of one table may disagree (a partition that keeps `ts` as text
    beside ones with timestamps); each is then parsed by its own types, as
    the DuckDB load does. Only the files' footers are read for that.
    """
    try:
        spark.read.option("mergeSchema", "true").parquet(*[p.uri for p in parts]).schema
        return [parts]
    except Exception as e:  # noqa: BLE001 - CANNOT_MERGE_SCHEMAS or a conflicting type
        if "MERGE" not in str(e).upper() and "conflict" not in str(e).lower():
            raise
    groups: dict[str, list[Part]] = {}
    for p in parts:
        groups.setdefault(spark.read.parquet(p.uri).schema.simpleString(), []).append(p)
    return list(groups.values())


def _decode(uri: str) -> str:
    from urllib.parse import unquote

    return unquote(uri)


def read_table(spark, table: str, parts: list[Part], *, encoding: str, cached: list) -> list[tuple[object, list[Part]]]:
    """The table's rows as DataFrames (one per format and header) with the files each reads.

    Each frame has the raw columns plus FILE, ORD and ROW.
    """
    by_fmt: dict[str, list[Part]] = {}
    for p in parts:
        by_fmt.setdefault(p.fmt, []).append(p)
    frames = []
    if "parquet" in by_fmt:
        for ps in _parquet_groups(spark, by_fmt["parquet"]):
            df = spark.read.option("mergeSchema", "true").parquet(*[p.uri for p in ps])
            frames.append((_with_place(spark, _lower(df, ps[0].name), ps, row_index=True, cached=cached), ps))
    if "jsonl" in by_fmt:
        ps = by_fmt["jsonl"]
        reader = (spark.read.option("primitivesAsString", "true").option("mode", "PERMISSIVE")
                  .option("columnNameOfCorruptRecord", CORRUPT))
        if encoding.lower().replace("-", "") != "utf8":  # Spark needs the line separator named then
            reader = reader.option("encoding", encoding).option("lineSep", "\n")
        df = reader.json([p.uri for p in ps])
        if CORRUPT in df.columns:
            df = df.withColumnRenamed(CORRUPT, UNPARSED)
        frames.append((_with_place(spark, _lower(df, ps[0].name), ps, row_index=False, cached=cached), ps))
    if "csv" in by_fmt:
        for header, ps in _headers(spark, by_fmt["csv"]).items():
            names = next(csv.reader(io.StringIO(header)), [])
            if len(set(n.strip() for n in names)) != len(names):
                raise LoadError(f"{ps[0].name}: two columns have the same name in the header")
            # An unquoted empty field is null and a quoted "" is empty text, as Polars reads them.
            df = (spark.read.option("header", "true").option("multiLine", "true").option("escape", '"')
                  .option("nullValue", NO_NULL_TEXT)
                  .option("encoding", encoding).option("mode", "PERMISSIVE").csv([p.uri for p in ps]))
            from .textfiles import without_nul

            frames.append((without_nul(_with_place(spark, _lower(df, ps[0].name), ps, row_index=False,
                                                   cached=cached)), ps))
    return frames
