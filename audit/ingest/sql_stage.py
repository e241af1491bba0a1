"""The one-pass load of Parquet files: DuckDB reads, types, checks and stages each row in one statement.

The files (those with the same columns together) are read by DuckDB's own
reader (their types as given), each column typed and checked by the SQL of
sql_checks.py, and the rows inserted into the table's staging table with
their row index, validity and fingerprint hash: no row crosses into Python.
The rows the SQL does not pass (usually none) are then found by row number
(`not_passed`), to be judged again by parse.py and pandera, which word the
reasons and keep the text as written.

Files this path does not take, read as before (read.py → parse.py →
check.py): CSV and JSONL (their readers' handling of blank lines, quotes,
encodings, repeated JSON keys and lines that are not objects is what
rejected.csv's row numbers and values rest on), compressed files, files
read through a mapping (SPEC §8), files whose header the loader would
refuse (repeated or missing columns: the old path words the error), and
files DuckDB cannot read through (see stage_files).

hive_partitioning is off: a folder named `channel=sms/` inside a table's
directory is where a lake put the file, not a value (DuckDB would otherwise
put the folder's value in place of the file's own column).
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ..schemas import Table
from ..timezones import known_zones
from .read import KNOWN_COLUMNS, file_form
from .sql_checks import WORKING, quote, render_table

ROW_NUMBER = "file_row_number"  # DuckDB's 0-based row number in the file


@dataclass
class SqlFile:
    """A Parquet file the one-pass load can take, and how its columns map to the table's."""
    path: Path
    rows: int
    raw: dict[str, tuple[str, str]]                           # §1 column -> (quoted column, DuckDB type)
    extra: list[str] = field(default_factory=list)            # other columns, as `extra:<name>`
    signature: tuple = ()                                     # its columns and types: files alike share a statement


def plan_file(con: duckdb.DuckDBPyConnection, table: Table, path: Path, mapped: bool) -> SqlFile | None:
    """The file's plan for the one-pass load, or None where the old path must read it (see the module doc)."""
    if mapped or file_form(path) != ("parquet", None) or any(c in str(path) for c in "*?[{"):
        return None  # (DuckDB's reader would take those characters as a glob pattern)
    try:
        described = con.execute("DESCRIBE SELECT * FROM read_parquet(?, hive_partitioning = false)", [str(path)]).fetchall()
        rows = con.execute("SELECT sum(num_rows) FROM parquet_file_metadata(?)", [str(path)]).fetchone()[0]
    except duckdb.Error:
        return None  # not Parquet, or broken: the old path says so in its words
    names = [(name, name.lower().strip(), typ) for name, typ, *_ in described]
    lower = [n for _, n, _ in names]
    if len(set(lower)) != len(lower) or ROW_NUMBER in lower or "filename" in lower or any(
            n.startswith(WORKING) for n in lower):
        return None
    if any(c.required and c.name not in lower for c in table.columns):
        return None
    raw = {n: (quote(name), typ) for name, n, typ in names if n in table.names}
    extra = [f"extra:{n}" for _, n, _ in names if n not in KNOWN_COLUMNS]
    return SqlFile(path, int(rows or 0), raw, extra, tuple((name, typ) for name, _, typ in names))


def stage_files(con: duckdb.DuckDBPyConnection, table: Table, stage: str, files: list[tuple[SqlFile, int]],
                digest_sql: str) -> bool:
    """Insert the rows of files with the same columns into `stage` in one statement; False if nothing could be.

    Each file's rows are indexed from its first row index on, in file
    order. Rows not passed are staged too (so the count is exact) but as not
    valid (`not_passed` finds them); the caller replaces them with the rows
    parse.py and pandera judge. False: DuckDB could not read a file through
    (text that is not UTF-8, a broken page); nothing was staged. One
    statement for many files: a statement per file cost twice the CPU.
    """
    zones = sorted(known_zones()) if any(c.kind == "zone" for c in table.columns) else []
    query, params = render_table(table, files[0][0].raw, zones,
                                 "read_parquet($paths, filename = true, file_row_number = true, hive_partitioning = false)",
                                 f", $firsts[list_position($paths, filename)] + {ROW_NUMBER} AS _idx")
    params.values["paths"] = [str(plan.path) for plan, _ in files]
    params.values["firsts"] = [first for _, first in files]
    try:
        con.execute(f"""
            INSERT INTO {stage}
            SELECT {', '.join(quote(n) for n in table.names)}, _idx, _valid, {digest_sql} FROM ({query})""",
                    params.values)
    except duckdb.InterruptException:
        raise
    except duckdb.Error:
        return False  # one statement: nothing of it was staged
    return True


def not_passed(con: duckdb.DuckDBPyConnection, stage: str, files: list[tuple[int, int]]) -> list[list[int]]:
    """For each (first row index, rows) of a file staged here, the row numbers its SQL checks did not pass.

    One scan of the staging table for all of a table's files; the rows not
    valid are few (rows the old path staged are not valid where rejected,
    and are told apart by their index).
    """
    bad = sorted(r[0] for r in con.execute(f"SELECT _idx FROM {stage} WHERE NOT _valid").fetchall())
    out = []
    for first, rows in files:
        lo, hi = bisect_left(bad, first), bisect_left(bad, first + rows)
        out.append([i - first + 1 for i in bad[lo:hi]])
    return out


def _insert(con: duckdb.DuckDBPyConnection, table: Table, stage: str, typed: dict[str, str], ok: str,
            params: dict[str, object], digest_sql: str) -> None:
    select = ", ".join(f"{expr} AS {quote(name)}" for name, expr in typed.items())
    con.execute(f"""
        INSERT INTO {stage}
        SELECT {', '.join(quote(n) for n in table.names)}, _idx, _valid, {digest_sql}
        FROM (SELECT {select}, $offset + {ROW_NUMBER} AS _idx, {ok} AS _valid
              FROM read_parquet($path, file_row_number = true, hive_partitioning = false))""", params)
