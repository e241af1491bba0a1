"""Decide every staged row's fate across the load and the store, merge, and run the load (load_dataset).

One load is one DuckDB transaction: any error leaves the store as it was.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import polars as pl

from .. import pii, progress
from ..errors import LoadError, UsageError
from ..schemas import LOAD_ORDER, TABLES, Table
from ..store import frame, scalar
from ..timezones import is_zone
from ..mapping import Mapping
from .check import _key_text
from .map import SRC, Input, chunks, plan
from .parse import IDX, NO_REASONS, _quoted
from .read import FILE, ROW, UNPARSED, _file_chunks, discover, file_form
from .stage import DIGEST, Staged, _raw_values, stage_table


@dataclass
class TableCounts:
    read: int = 0
    loaded: int = 0
    updated: int = 0
    duplicates: int = 0
    rejected: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(read=self.read, loaded=self.loaded, updated=self.updated,
                    duplicates=self.duplicates, rejected=self.rejected)


@dataclass
class LoadResult:
    counts: dict[str, TableCounts] = field(default_factory=dict)
    rejected: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=REJECTED_SCHEMA))
    load_id: int | None = None
    notes: list[str] = field(default_factory=list)  # what the reader chose to skip, for summary.json


REJECTED_SCHEMA = {
    "table": pl.String, "source_file": pl.String, "row": pl.Int64,
    "key": pl.String, "reasons": pl.String, "values": pl.String,
}


# ---------------------------------------------------------------- merging into the store

def _reread(table: Table, root: Path, inputs: dict[str, Input], rows: pl.DataFrame) -> pl.DataFrame:
    """Raw values of rows (IDX, FILE, ROW) judged valid on their own but rejected later.

    Valid rows are not kept as written (that would double the memory of a
    load); the few rejected later are read again from their files (through
    the mapping, when they came through one; from a Parquet file, those rows
    alone).
    """
    out = []
    for (name,), wanted in rows.group_by(FILE):
        inp = inputs[name]
        if inp.source is None and file_form(inp.path) == ("parquet", None):  # those rows alone
            found = _file_chunks(table, inp.path, root, inp.encoding, sorted(wanted[ROW].to_list()))
        else:
            found = (chunk for chunk, _ in chunks(table, inp, root))
        for chunk in found:
            hit = chunk.join(wanted.select(IDX, ROW), on=ROW)
            if hit.height:
                out.append(_raw_values(table, hit.rename({c: f"raw_{c}" for c in table.names})))
    return pl.concat(out, how="diagonal_relaxed")


def _sql_cols(cols: list[str], alias: str = "") -> str:
    return ", ".join(f"{alias}{c}" for c in cols)


def _reference_reasons(con: duckdb.DuckDBPyConnection, table: Table, stage: str,
                       has_borrowers: bool) -> pl.DataFrame:
    """Staged rows whose reference resolves neither in the store nor in this load (its table is merged first)."""
    out = [pl.DataFrame(schema=NO_REASONS)]
    for column, target, target_col in table.references:
        if target == "borrowers" and not has_borrowers:
            continue
        unknown = frame(con, f"""
            SELECT i.{IDX}, i.{column} AS v FROM {stage} i
            WHERE i.{column} IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM {target} t WHERE t.{target_col} = i.{column})""")
        out.append(unknown.select(
            IDX, (pl.lit(f"{column} ") + _quoted(pl.col("v")) + pl.lit(f" is not in {target}")).alias("reason")))
    return pl.concat(out)


def _repeated_in_load(con: duckdb.DuckDBPyConnection, table: Table, stage: str, rejected: pl.Series,
                      raw: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Keys that repeat in this load: (conflicting rows, all rejected) and the later identical copies.

    Copies are compared on their parsed values, or the text as written for
    rows that did not parse; only the keys that repeat are fetched.
    """
    key = list(table.key)
    k = ", ".join(key)
    none = pl.DataFrame(schema={IDX: pl.Int64})
    # The keys first (one grouping of the load; usually none repeat), then their rows.
    repeated = frame(con, f"""SELECT {k} FROM {stage} WHERE {' AND '.join(f'{c} IS NOT NULL' for c in key)}
                              GROUP BY {k} HAVING count(*) > 1""")
    if repeated.is_empty():
        return pl.DataFrame(schema={IDX: pl.Int64, "_copies": pl.UInt32}), none
    con.register("_repeated", repeated)
    try:
        copies = frame(con, f"SELECT s.* FROM {stage} s SEMI JOIN _repeated r USING ({k})")
    finally:
        con.unregister("_repeated")
    copies = copies.join(raw.select(IDX, *[f"raw_{c}" for c in table.names]), on=IDX, how="left")
    invalid = pl.col(IDX).is_in(rejected.implode())
    signature = pl.when(invalid).then(
        pl.struct([pl.col(f"raw_{c}").cast(pl.String).alias(c) for c in table.names])
    ).otherwise(pl.struct([pl.col(c).cast(pl.String) for c in table.names]))
    judged = copies.with_columns(signature.n_unique().over(key).alias("_variants"), pl.len().over(key).alias("_copies"))
    conflicts = judged.filter(pl.col("_variants") > 1).select(IDX, "_copies")
    later = judged.filter((pl.col("_variants") == 1) & ~invalid).filter(
        pl.col(IDX) != pl.col(IDX).min().over(key)).select(IDX)
    return conflicts, later


def merge_table(con: duckdb.DuckDBPyConnection, staged: Staged, root: Path, *, encoding: str = "utf-8",
                has_borrowers: bool) -> tuple[TableCounts, pl.DataFrame]:
    """Decide each staged row's fate, write the accepted ones, and return the counts and rejected rows."""
    table, stage, read = staged.table, staged.stage, staged.read
    key, cols = list(table.key), table.names
    k = ", ".join(key)
    reasons, raw, chunks, extra = staged.reasons, staged.raw, staged.chunks, staged.extra
    counts = TableCounts(read=read)
    key_name = " + ".join(key)
    raw_rows = pl.concat(raw, how="diagonal_relaxed") if raw else pl.DataFrame(
        schema={IDX: pl.Int64, FILE: pl.String, ROW: pl.Int64})
    raw_rows = raw_rows.with_columns(
        *[pl.lit(None, pl.String).alias(f"raw_{c}") for c in cols if f"raw_{c}" not in raw_rows.columns])
    refs = _reference_reasons(con, table, stage, has_borrowers)
    reasons.append(refs.with_columns(pl.lit(1).alias("_rank")))
    rejected = pl.concat([r.get_column(IDX) for r in reasons]).unique()
    conflicts, later = _repeated_in_load(con, table, stage, rejected, raw_rows)
    # Candidates: rows valid so far and not a later copy; compared with what the store holds.
    # (Rows with a reason of their own are not _valid already; the rest are usually none.)
    skip = pl.concat([refs.get_column(IDX), conflicts.get_column(IDX), later.get_column(IDX)]).unique().to_frame(IDX)
    con.register("_skip", skip)
    try:
        same = " AND ".join(f"c.{col} IS NOT DISTINCT FROM s.{col}" for col in cols if col not in key)
        # The keys first (a store of ten million contacts is read for one column), then the
        # stored rows they match (usually none) for every column.
        matched = frame(con, f"""
            WITH m AS (
                SELECT c.{IDX}, s._rowid
                FROM {stage} c JOIN (SELECT {k}, rowid AS _rowid FROM {table.name}) s USING ({k})
                WHERE c._valid {f'AND c.{IDX} NOT IN (SELECT {IDX} FROM _skip)' if skip.height else ''})
            SELECT m.{IDX}, {same or 'true'} AS _same
            FROM m JOIN {stage} c USING ({IDX}) JOIN {table.name} s ON s.rowid = m._rowid""")
    finally:
        con.unregister("_skip")
    changed = matched.filter(~pl.col("_same")).select(IDX)
    counts.duplicates = later.height + matched.height - changed.height
    late = [conflicts.select(IDX, pl.lit("conflict").alias("reason"), pl.lit(2).alias("_rank"))]
    if table.append_only:
        late.append(changed.select(IDX, pl.lit("changed").alias("reason"), pl.lit(3).alias("_rank")))
        counts.updated = 0
    else:
        counts.updated = changed.height
    not_written = pl.concat([skip.get_column(IDX), matched.filter(pl.col("_same") | table.append_only)[IDX]])
    con.register("_not_written", not_written.unique().to_frame(IDX))
    con.register("_changed", changed)
    try:
        if changed.height and not table.append_only:
            _digest(con, table, -1, rows=f"SELECT s.* FROM {table.name} s SEMI JOIN "
                                         f"(SELECT {k} FROM {stage} SEMI JOIN _changed USING ({IDX})) USING ({k})")
            con.execute(f"DELETE FROM {table.name} WHERE ({k}) IN "
                        f"(SELECT ({k}) FROM {stage} SEMI JOIN _changed USING ({IDX}))")
        written = f"FROM {stage} WHERE _valid" + (
            f" AND {IDX} NOT IN (SELECT {IDX} FROM _not_written)" if not_written.len() else "")
        _digest(con, table, +1, words=f"SELECT count(*), sum({DIGEST}::HUGEINT) % {2**64} {written}")
        if staged.direct and scalar(con, f"SELECT NOT EXISTS (SELECT 1 FROM {table.name})"):
            _become_table(con, table, stage, not_written.len() > 0)
        else:
            con.execute(f"INSERT INTO {table.name} ({_sql_cols(cols)}) SELECT {_sql_cols(cols)} {written}")
    finally:
        con.unregister("_not_written")
        con.unregister("_changed")
    # Rejected rows: their reasons in order, with the values as written.
    all_reasons = pl.concat([r.with_columns(pl.col("_rank").cast(pl.Int32)) for r in reasons + late]).with_row_index("_order")
    rejected_idx = all_reasons.get_column(IDX).unique()
    counts.rejected = rejected_idx.len()
    counts.loaded = read - counts.duplicates - counts.updated - counts.rejected
    missing = rejected_idx.to_frame().join(raw_rows.select(IDX), on=IDX, how="anti")
    if missing.height:
        where = _locate(missing, chunks)
        raw_rows = pl.concat([raw_rows, _reread(table, root, staged.inputs, where)], how="diagonal_relaxed")
    rows = raw_rows.filter(pl.col(IDX).is_in(rejected_idx.implode())).unique(IDX).sort(IDX)
    key_text = _key_text(table)
    copies = conflicts.select(IDX, pl.col("_copies").cast(pl.String))
    words = all_reasons.join(rows.select(IDX, key_text.alias("_key")), on=IDX, how="left").join(
        copies, on=IDX, how="left").with_columns(
        pl.when(pl.col("reason") == "conflict").then(
            pl.lit(f"{key_name} ") + _quoted(pl.col("_key")) + pl.lit(" appears ") + pl.col("_copies")
            + pl.lit(" times in this load with different values (all rejected)"))
        .when(pl.col("reason") == "changed").then(
            pl.lit(f"{key_name} ") + _quoted(pl.col("_key"))
            + pl.lit(" is already stored with different values (an event never changes)"))
        .otherwise(pl.col("reason")).alias("reason"))
    per_row = words.sort("_rank", "_order").group_by(IDX, maintain_order=True).agg(
        pl.col("reason").str.join("; ").alias("reasons"))
    values = [f"raw_{c}" for c in cols] + [c for c in extra if c != UNPARSED] + (
        [UNPARSED] if UNPARSED in extra else [])
    shown = {UNPARSED: "unparsed_line"}
    rows = rows.with_columns(*[pl.lit(None, pl.String).alias(c) for c in values if c not in rows.columns])
    rows = _source_values(rows, staged.sources)
    rej = rows.join(per_row, on=IDX).sort(IDX).select(
        pl.lit(table.name).alias("table"),
        pl.col(FILE).alias("source_file"),
        pl.col(ROW).alias("row"),
        key_text.alias("key"),
        pl.col("reasons"),
        pl.coalesce(pl.col("_source_values"), pl.struct(
            [pl.col(c).cast(pl.String).alias(shown.get(c, c.removeprefix("raw_").removeprefix("extra:")))
             for c in values]).struct.json_encode()).alias("values"),
    )
    assert counts.read == counts.loaded + counts.updated + counts.duplicates + counts.rejected, counts
    return counts, rej


def _become_table(con: duckdb.DuckDBPyConnection, table: Table, stage: str, skips: bool) -> None:
    """The staging table, less the rows not written and its working columns, becomes the (empty) store table.

    Inside the load's transaction: a failed load leaves the empty table as
    it was. The columns are the table's, in its order (stage._stage).
    """
    con.execute(f"DELETE FROM {stage} WHERE NOT _valid" + (
        f" OR {IDX} IN (SELECT {IDX} FROM _not_written)" if skips else ""))
    for working in (IDX, "_valid", DIGEST):
        con.execute(f"ALTER TABLE {stage} DROP COLUMN {working}")
    con.execute(f"DROP TABLE {table.name}")
    con.execute(f"ALTER TABLE {stage} RENAME TO {table.name}")


def _source_values(rows: pl.DataFrame, sources: dict[str, list[str]]) -> pl.DataFrame:
    """Rejected rows of mapped files shown with the source's own column names and values (SPEC §8).

    One pass per mapped file (there are few), not per row.
    """
    out = pl.lit(None, pl.String)
    for name, cols in sources.items():
        missing = [SRC + c for c in cols if SRC + c not in rows.columns]
        rows = rows.with_columns(*[pl.lit(None, pl.String).alias(c) for c in missing])
        shown = pl.struct([pl.col(SRC + c).cast(pl.String).alias(c) for c in cols]).struct.json_encode()
        out = pl.when(pl.col(FILE) == name).then(shown).otherwise(out)
    return rows.with_columns(out.alias("_source_values"))


def _locate(rows: pl.DataFrame, chunks: list[tuple[str, int, int, int]]) -> pl.DataFrame:
    """File and row number of rows (IDX) from the chunk ranges they were read in."""
    ranges = pl.DataFrame(chunks, schema={FILE: pl.String, "_first": pl.Int64, "_n": pl.Int64, "_row0": pl.Int64},
                          orient="row").sort("_first")
    return rows.sort(IDX).join_asof(ranges, left_on=IDX, right_on="_first").select(
        IDX, FILE, (pl.col("_row0") + pl.col(IDX) - pl.col("_first")).alias(ROW))


def _digest(con: duckdb.DuckDBPyConnection, table: Table, sign: int, **rows: str) -> None:
    """Add (or take away) the fingerprint digests of some rows to the table's running total.

    The input fingerprint (reports/manifest.py) is a sum of row digests, so the
    store keeps it up to date as rows come and go instead of rereading every row.
    """
    from ..reports.manifest import digest_delta  # local: the reports package imports the engine, which imports us

    digest_delta(con, table.name, sign, **rows)


# ---------------------------------------------------------------- the load

def load_dataset(con: duckdb.DuckDBPyConnection, data_dir: str | Path, *, timezone_name: str | None = None,
                 encoding: str = "utf-8", mapping: Mapping | None = None, one_pass: bool = True) -> LoadResult:
    """Load a dataset directory into the store in one transaction (through `mapping`, SPEC §8, if given).

    `one_pass=False` reads every file through Polars, as before the one-pass
    load (sql_stage.py); kept so that tests can compare the two.
    """
    root = Path(data_dir)
    if timezone_name is not None and not is_zone(timezone_name):
        raise UsageError(f"--timezone {timezone_name!r} is not an IANA time zone name (e.g. Asia/Shanghai)")
    notes: list[str] = []
    files = plan(root, discover(root, notes), mapping, encoding=encoding, zone=timezone_name)
    for name, t in TABLES.items():
        if t.required_table and name not in files:
            has_rows = scalar(con, f"SELECT count(*) > 0 FROM {name}")
            if not has_rows:
                raise LoadError(f"{root}: required table {name} is missing (expected {name}.csv/.parquet/.jsonl, "
                                f"{name}.csv.gz or another compressed form, or {name}/)")
    started = datetime.now(timezone.utc)
    result = LoadResult(notes=notes)
    rejected = []
    staged: dict[str, Staged] = {}
    try:
        for name in LOAD_ORDER:
            if name in files:
                progress.step(f"validate and store {name}")
                staged[name] = stage_table(con, TABLES[name], files[name], root, encoding=encoding,
                                           zone=timezone_name, one_pass=one_pass)
        progress.step("merge into the store")
        progress.checkpoint("load-staged")
        _merge_all(con, staged, root, encoding, result, rejected, started)
    finally:
        for s in staged.values():
            con.execute(f"DROP TABLE IF EXISTS {s.stage}")
    return result


def _merge_all(con: duckdb.DuckDBPyConnection, staged: dict[str, Staged], root: Path, encoding: str,
               result: LoadResult, rejected: list, started: datetime) -> None:
    """The load's one transaction: every table merged, the load logged, or nothing at all."""
    con.execute("BEGIN TRANSACTION")
    try:
        has_borrowers = "borrowers" in staged or scalar(con, "SELECT count(*) > 0 FROM borrowers")
        for name, s in staged.items():
            counts, rej = merge_table(con, s, root, encoding=encoding, has_borrowers=has_borrowers)
            result.counts[name] = counts
            rejected.append(rej)
        result.rejected = pl.concat(rejected) if rejected else result.rejected
        load_id = scalar(con, "SELECT coalesce(max(load_id), 0) + 1 FROM loads")
        con.execute(
            "INSERT INTO loads VALUES (?, ?, ?, now(), ?)",
            [load_id, str(root), started, json.dumps({k: v.as_dict() for k, v in result.counts.items()})],
        )
        if result.rejected.height:
            # kept masked, as in reports: the store's rejected rows feed nightly reports, and a
            # rejected row's values are not the record of anything else
            con.register("_rej", pii.mask_frame(result.rejected))
            con.execute(
                'INSERT INTO rejected_rows SELECT ?, "table", source_file, "row", "key", reasons, "values" FROM _rej',
                [load_id],
            )
            con.unregister("_rej")
        progress.checkpoint("load-in-transaction")  # all merged, nothing committed yet
        with progress.uninterrupted():  # an interrupt's message must know whether the commit happened
            con.execute("COMMIT")
            progress.mark("load-committed")
        progress.checkpoint("load-committed")
        result.load_id = load_id
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:
            pass  # the transaction is already gone (a failed commit); the first error is the one to report
        raise
