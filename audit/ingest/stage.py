"""Stage each table's rows in a temporary DuckDB table, each judged on its own, before the merge.

Parquet files go in one DuckDB pass (sql_stage.py) and only the rows it does
not pass come back to Polars; other files are read, parsed and checked in
chunks (read.py, map.py, parse.py, check.py). Every row gets its row index
(its place in the load), whether it is valid on its own, and its
fingerprint hash; the reasons and the text as written are kept for the rows
with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from ..errors import LoadError
from ..schemas import SQL_TYPE, Table
from .check import validate
from .map import SRC, Input, chunks, settle
from .parse import IDX
from .read import FILE, ROW, UNPARSED, _as_text, _file_chunks
from .sql_stage import SqlFile, not_passed, plan_file, stage_files

STAGE = "_incoming"  # staging tables are named _incoming_<table>


def _raw_values(table: Table, df: pl.DataFrame) -> pl.DataFrame:
    """The rows as written (text), for rejected.csv: row index, file, row number and every column read."""
    cols = [c for c in df.columns if c not in (IDX, FILE, ROW) and (c.startswith("raw_") or c not in table.names)]
    return df.select(IDX, FILE, ROW).with_columns(_as_text(df.select(cols)))


DIGEST = "_digest"  # each row's input-fingerprint hash (reports/manifest.py)
STAGE_ROWS = 500_000  # rows appended to a staging table at once: one append per chunk is several times slower


def _stage(con: duckdb.DuckDBPyConnection, table: Table, name: str, direct: bool) -> None:
    cols = ", ".join(f"{c.name} {SQL_TYPE[c.kind]}" for c in table.columns)
    temp = "" if direct else "TEMP "
    con.execute(f"CREATE OR REPLACE {temp}TABLE {name} ({cols}, {IDX} BIGINT, _valid BOOLEAN, {DIGEST} UBIGINT)")


def becomes_table(con: duckdb.DuckDBPyConnection, table: Table) -> bool:
    """Whether the staging table can become the store's table at the merge, instead of being copied into it.

    Only in an in-memory store whose table is empty: there the merge keeps
    the staged rows it accepts and renames the staging table (merge.py), so
    ten million contacts are not written twice. In a store file the staged
    rows would be written to the file before the load's transaction, and
    the dropped working columns would leave their blocks behind in it.
    """
    from ..facts_store import is_kept  # local: facts_store imports the rules, which import the engine

    return not is_kept(con) and con.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {table.name})").fetchone()[0]


def _append(con: duckdb.DuckDBPyConnection, name: str, df: pl.DataFrame, select: str = "SELECT * FROM _chunk") -> None:
    con.register("_chunk", df)
    try:
        con.execute(f"INSERT INTO {name} {select}")
    finally:
        con.unregister("_chunk")


@dataclass
class Staged:
    """One table's rows of this load, parsed and staged in DuckDB (`stage`), waiting to be merged."""
    table: Table
    stage: str
    read: int = 0
    reasons: list[pl.DataFrame] = field(default_factory=list)  # (IDX, reason, _rank): the rank orders reasons
    raw: list[pl.DataFrame] = field(default_factory=list)      # the rows as written, of those with a reason
    chunks: list[tuple[str, int, int, int]] = field(default_factory=list)  # (file, first IDX, rows, first row)
    extra: dict[str, None] = field(default_factory=dict)       # columns beyond the table's, in order of appearance
    inputs: dict[str, Input] = field(default_factory=dict)     # file (relative) -> how it was read
    sources: dict[str, list[str]] = field(default_factory=dict)  # mapped file -> its own columns, as written
    direct: bool = False  # staged in the store's schema, to become its (empty) table: becomes_table()


def stage_table(con: duckdb.DuckDBPyConnection, table: Table, files: list[Path | Input], root: Path, *,
                encoding: str, zone: str | None, one_pass: bool = True) -> Staged:
    """Read and check a table's files chunk by chunk into a temporary table.

    `files` are paths read as §1 says, or Inputs (map.py) that may come
    through a mapping, each with its own encoding and zone. Parquet files
    are read in one DuckDB pass (sql_stage.py) unless `one_pass` is false,
    which keeps the Polars path for every file (tests compare the two).

    This runs before the load's transaction: rows appended inside one are
    held uncompressed, outside the memory limit, until the commit.
    """
    from ..reports.manifest import row_hash_sql  # local: reports import the engine, which imports us

    staged = Staged(table, f"{STAGE}_{table.name}", direct=becomes_table(con, table))
    _stage(con, table, staged.stage, staged.direct)
    batch: list[pl.DataFrame] = []
    in_sql: list[tuple[Input, SqlFile, int]] = []  # files for the one pass: (input, plan, first row index)
    # Each row's input-fingerprint hash is computed as it is staged, in the same pass.
    digest = f"SELECT *, {row_hash_sql(table.name)} FROM _chunk"

    def flush() -> None:
        _append(con, staged.stage, pl.concat(batch), digest)
        batch.clear()

    # Staging order does not matter (rows carry IDX): let the engine append in parallel.
    con.execute("SET preserve_insertion_order = false")
    try:
        for inp in files:
            inp = inp if isinstance(inp, Input) else Input(inp, encoding, zone)
            name = str(inp.path.relative_to(root))
            staged.inputs[name] = inp
            plan = plan_file(con, table, inp.path, mapped=inp.source is not None) if one_pass else None
            if plan is None:
                staged.read += _stage_polars(staged, inp, root, staged.read, batch, flush)
                continue
            # Its place is known from the file's metadata; it is staged with the others like it, below.
            staged.extra.update(dict.fromkeys(plan.extra))
            if plan.rows:
                staged.chunks.append((name, staged.read, plan.rows, 1))
            in_sql.append((inp, plan, staged.read))
            staged.read += plan.rows
        if in_sql:
            _stage_sql(con, staged, in_sql, root, row_hash_sql(table.name), batch, flush)
        if batch:
            flush()
    finally:
        con.execute("RESET preserve_insertion_order")
    return staged


def _stage_sql(con: duckdb.DuckDBPyConnection, staged: Staged, in_sql: list[tuple[Input, SqlFile, int]],
               root: Path, digest_sql: str, batch: list[pl.DataFrame], flush) -> None:
    """The one pass: files with the same columns in one statement; then the rows it did not pass, again.

    A file DuckDB cannot read through is read by the old path instead, under
    the same row indexes.
    """
    groups: dict[tuple, list[tuple[Input, SqlFile, int]]] = {}
    for item in in_sql:
        groups.setdefault(item[1].signature, []).append(item)
    staged_here = []
    for group in groups.values():
        if stage_files(con, staged.table, staged.stage, [(plan, first) for _, plan, first in group], digest_sql):
            staged_here += group
            continue
        for inp, plan, first in group:  # one by one: only the file that cannot be read goes the old way
            if stage_files(con, staged.table, staged.stage, [(plan, first)], digest_sql):
                staged_here.append((inp, plan, first))
            else:
                _stage_polars(staged, inp, root, first, batch, flush)
    staged_here.sort(key=lambda item: item[2])
    passed = not_passed(con, staged.stage, [(first, plan.rows) for _, plan, first in staged_here])
    for (inp, _, first), rows in zip(staged_here, passed):
        if rows:
            _recheck(con, staged, inp, root, rows, first, batch, flush)


def _stage_polars(staged: Staged, inp: Input, root: Path, first: int, batch: list[pl.DataFrame], flush) -> int:
    """Read, parse and check a file chunk by chunk in Polars (rows indexed from `first`); its row count."""
    table, path = staged.table, inp.path
    read = 0
    for chunk, unmapped in chunks(table, inp, root):
        staged.extra.update(dict.fromkeys(c for c in chunk.columns if c.startswith("extra:") or c == UNPARSED))
        if inp.source is not None:
            staged.sources.setdefault(str(path.relative_to(root)), [
                c.removeprefix(SRC) for c in chunk.columns if c.startswith(SRC)])
        try:
            df, found = validate(table, chunk, inp.zone, offset=first + read)
        except LoadError as e:  # naive times: the source's own zone is the mapping's answer
            if inp.source is None or "without a UTC offset" not in str(e):
                raise
            raise LoadError(f"{path.relative_to(root)}: {e} (or set {inp.source.where}.timezone "
                            f"in the mapping)") from None
        found = settle(found, unmapped, first + read)
        if df.height:
            staged.chunks.append((str(path.relative_to(root)), first + read, df.height, df[ROW][0]))
        read += df.height
        _keep(staged, df, found, batch, flush)
    return read


def _keep(staged: Staged, df: pl.DataFrame, found: pl.DataFrame, batch: list[pl.DataFrame], flush) -> None:
    """Queue a judged chunk for staging; keep its reasons and, for rows with one, the text as written."""
    table = staged.table
    bad = found.get_column(IDX).unique().implode()
    batch.append(df.select(*table.names, IDX, (~pl.col(IDX).is_in(bad)).alias("_valid")))
    if sum(b.height for b in batch) >= STAGE_ROWS:
        flush()
    if found.height:
        staged.reasons.append(found.with_columns(pl.lit(0).alias("_rank")))
        staged.raw.append(_raw_values(table, df.filter(pl.col(IDX).is_in(bad))))


def _recheck(con: duckdb.DuckDBPyConnection, staged: Staged, inp: Input, root: Path, rows: list[int],
             first: int, batch: list[pl.DataFrame], flush) -> None:
    """Judge again, as the old path does, the rows of a file the SQL checks did not pass.

    Their staged copies are dropped; those rows alone are read again from
    the file (read_rows) and parsed and checked, each under its own row
    index, so their reasons and text as written are what a full parse gives.
    """
    con.execute(f"DELETE FROM {staged.stage} WHERE NOT _valid AND {IDX} >= ? AND {IDX} < ?",
                [first, first + rows[-1]])
    for sub in _file_chunks(staged.table, inp.path, root, inp.encoding, rows):
        if sub.is_empty():
            continue
        df, found = validate(staged.table, sub, inp.zone, offset=0)
        place = df.select(IDX, (pl.col(ROW) + (first - 1)).alias("_at"))
        df = df.with_columns(place["_at"].alias(IDX))
        found = found.join(place, on=IDX).select(pl.col("_at").alias(IDX), "reason")
        _keep(staged, df, found, batch, flush)
