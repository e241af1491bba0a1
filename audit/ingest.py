"""Read a dataset directory, validate every row, and account for each one.

Every input row ends as exactly one of: loaded, updated (snapshot tables),
duplicate (identical to a stored or earlier row), or rejected with all its
reasons. Files are read in chunks (Parquet by batches, other files whole and
then sliced), so memory stays flat however large the dataset: each chunk is
parsed with Polars expressions (keeping the types a file already gives),
checked with pandera where a cheap test says a value may fail, and staged in
DuckDB; keys are then compared across the whole load and with the store in
SQL. A bad value is reported as it was written.
One load is one DuckDB transaction: any error leaves the store as it was.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandera.polars as pa
import polars as pl
import pyarrow.parquet as pq

from . import progress
from .errors import LoadError, UsageError
from .schemas import LOAD_ORDER, POLARS_TYPE, SQL_TYPE, TABLES, Table, value_schema

KNOWN_COLUMNS = frozenset(c.name for t in TABLES.values() for c in t.columns)
# Instants whose local time is a date with a four-digit year in every zone.
TS_MIN, TS_MAX = datetime(1, 1, 1, tzinfo=timezone.utc), datetime(9999, 12, 30, tzinfo=timezone.utc)
UNPARSED = "\x00unparsed"  # the loader's column for a JSONL line that is not an object; no input can name it
from .store import frame, scalar
from .timezones import is_zone, known_zones

FORMATS = (".csv", ".parquet", ".jsonl")
ROW = "_row"
FILE = "_file"

_TS_OFFSET = r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)$"
_TS_SHAPE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-5][0-9](\.[0-9]{1,9})?)?"


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


REJECTED_SCHEMA = {
    "table": pl.String, "source_file": pl.String, "row": pl.Int64,
    "key": pl.String, "reasons": pl.String, "values": pl.String,
}


# ---------------------------------------------------------------- discovery

def discover(data_dir: Path) -> dict[str, list[Path]]:
    """Map each known table to its files: `<table>.<ext>` or `<table>/` with any such files."""
    if not data_dir.is_dir():
        raise LoadError(f"data directory {data_dir} does not exist or is not a directory")
    found: dict[str, list[Path]] = {}
    for entry in sorted(data_dir.iterdir()):
        name = entry.name.lower()
        if entry.is_dir() and name in TABLES:
            files = sorted(p for p in entry.rglob("*") if p.is_file() and p.suffix.lower() in FORMATS)
            found.setdefault(name, []).extend(files)
        elif entry.is_file() and entry.suffix.lower() in FORMATS and entry.stem.lower() in TABLES:
            found.setdefault(entry.stem.lower(), []).append(entry)
    return found


# ---------------------------------------------------------------- reading

def _as_text(df: pl.DataFrame) -> pl.DataFrame:
    """Every column as text, keeping what each value means (aware timestamps stay absolute)."""
    exprs = []
    for name, dtype in df.schema.items():
        c = pl.col(name)
        if isinstance(dtype, pl.Datetime):
            if dtype.time_zone:
                c = c.dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S%.f+00:00")
            else:
                c = c.dt.strftime("%Y-%m-%dT%H:%M:%S%.f")
        elif dtype == pl.Date:
            c = c.dt.strftime("%Y-%m-%d")
        elif isinstance(dtype, (pl.Struct, pl.List, pl.Array)):
            c = pl.when(c.is_null()).then(None).otherwise(
                pl.struct(c).struct.json_encode().str.replace(r'^\{"[^"]*":', "").str.replace(r"\}$", ""))
        elif dtype != pl.String:
            c = c.cast(pl.String)
        exprs.append(c.alias(name))
    return df.select(exprs)


_NATIVE = (pl.String, pl.Date, pl.Int64, pl.Int32, pl.Int16, pl.Int8, pl.UInt32, pl.UInt16, pl.UInt8)


def _native(df: pl.DataFrame) -> pl.DataFrame:
    """Keep the types a file already gives exactly (timestamps, dates, integers, text); the rest as text.

    Parquet timestamps then need no round trip through text, the main cost of
    loading a large Parquet export. Floats go through text so that cents are
    checked as written.
    """
    keep = {n for n, t in df.schema.items() if isinstance(t, pl.Datetime) or t in _NATIVE}
    text = [n for n in df.columns if n not in keep]
    return df.with_columns(_as_text(df.select(text))) if text else df


def _read_csv(path: Path, encoding: str) -> pl.DataFrame:
    raw = path.read_bytes()
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as e:
        raise LoadError(
            f"{path.name}: not valid {encoding} text at byte {e.start}; name the file's encoding with --encoding"
        ) from None
    except LookupError:
        raise UsageError(f"--encoding {encoding!r} is not an encoding Python knows (e.g. utf-8, gb18030)") from None
    text = text.removeprefix("\ufeff")
    if not text.strip():
        return pl.DataFrame()
    if "\x00" in text:
        text = text.replace("\x00", "")  # NUL is never meaningful in a CSV export; it breaks parsers
    if "\r" in text and "\n" not in text:
        text = text.replace("\r", "\n")  # old Mac line endings: every record would vanish into the header
    header = next(csv.reader(io.StringIO(text)), [])
    if len(set(header)) != len(header):
        raise LoadError(f"{path.name}: two columns have the same name in the header")
    return pl.read_csv(io.StringIO(text), infer_schema=False)


def _first_value_wins(pairs: list[tuple[str, object]]) -> dict:
    """A key written twice in one JSON object keeps its first value, as Polars' reader does."""
    obj: dict = {}
    for key, value in pairs:
        obj.setdefault(key, value)
    return obj


def _read_jsonl(path: Path, encoding: str) -> pl.DataFrame:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8" if encoding.lower().replace("-", "") == "utf8" else encoding)
    except UnicodeDecodeError as e:
        raise LoadError(f"{path.name}: not valid {encoding} text at byte {e.start}") from None
    text = text.removeprefix("\ufeff")
    try:
        return pl.read_ndjson(io.StringIO(text), infer_schema_length=None)
    except Exception:
        pass
    # Mixed value types or a broken line: parse line by line so that a bad
    # line becomes one rejected row instead of losing the whole file.
    rows: list[dict] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line, object_pairs_hook=_first_value_wins)
            if not isinstance(obj, dict):
                raise ValueError
            rows.append({k: None if v is None else (v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
                         for k, v in obj.items()})
        except ValueError:
            rows.append({UNPARSED: line[:200]})
    return pl.from_dicts(rows, infer_schema_length=None) if rows else pl.DataFrame()


CHUNK_ROWS = 250_000  # rows parsed and validated at a time


def _cannot_read(path: Path, e: Exception) -> LoadError:
    # The parser's own message can quote a field (message text, a phone number): name the kind only.
    hint = "a row has more fields than the header" if "more fields" in str(e) else type(e).__name__
    return LoadError(f"{path.name}: cannot be read as {path.suffix.lower()[1:]} ({hint}); "
                     f"check the file's format and encoding")


def _columns(df: pl.DataFrame, path: Path) -> pl.DataFrame:
    """Lower-cased column names; the types a file gives exactly are kept, the rest as text.

    Columns the spec does not know are kept under their own prefix, so no
    input name can collide with the loader's working columns.
    """
    lower = [c.lower().strip() for c in df.columns]
    if len(set(lower)) != len(lower):
        raise LoadError(f"{path.name}: two columns have the same name when case is ignored")
    names = [c if c in KNOWN_COLUMNS or c == UNPARSED else f"extra:{c}" for c in lower]
    return _native(df.rename(dict(zip(df.columns, names))))


def read_chunks(path: Path, encoding: str = "utf-8") -> Iterator[pl.DataFrame]:
    """A file's rows in chunks of at most CHUNK_ROWS, with their row numbers in the file (ROW)."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        try:
            rows = pq.ParquetFile(path).metadata.num_rows  # also: is it Parquet at all
            for offset in range(0, rows, CHUNK_ROWS):  # no rows (or a header alone): nothing to load
                df = pl.read_parquet(path) if rows <= CHUNK_ROWS else (
                    pl.scan_parquet(path).slice(offset, CHUNK_ROWS).collect())
                df = _columns(df, path)
                yield df.with_row_index(ROW, offset=offset + 1).with_columns(pl.col(ROW).cast(pl.Int64))
        except (LoadError, UsageError):
            raise
        except Exception as e:  # arrow and polars raise many kinds; all mean "cannot parse this file"
            raise _cannot_read(path, e) from None
        return
    try:
        df = _read_csv(path, encoding) if suffix == ".csv" else _read_jsonl(path, encoding)
    except (LoadError, UsageError):
        raise
    except Exception as e:  # polars raises many kinds; all mean "cannot parse this file"
        raise _cannot_read(path, e) from None
    df = _columns(df, path).with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
    for offset in range(0, df.height, CHUNK_ROWS):  # no rows (or a header alone): nothing to load
        yield df.slice(offset, CHUNK_ROWS)


def read_file(path: Path, encoding: str = "utf-8") -> pl.DataFrame:
    """One whole file as read_chunks gives it."""
    chunks = list(read_chunks(path, encoding))
    return pl.concat(chunks, how="diagonal_relaxed") if chunks else pl.DataFrame(schema={ROW: pl.Int64})


def _file_chunks(table: Table, path: Path, root: Path, encoding: str) -> Iterator[pl.DataFrame]:
    """A file's chunks with every column of the table (absent optional ones as empty) and the file name."""
    name = str(path.relative_to(root))
    checked = False
    for df in read_chunks(path, encoding):
        if not checked:
            missing = [c.name for c in table.columns if c.required and c.name not in df.columns]
            if missing and UNPARSED not in df.columns:
                raise LoadError(f"{path.relative_to(root)}: required column {missing[0]} of {table.name} is missing")
            checked = True
        absent = [c for c in table.names if c not in df.columns]
        yield df.with_columns(*[pl.lit(None, pl.String).alias(c) for c in absent], pl.lit(name).alias(FILE))


# ---------------------------------------------------------------- parsing

def _blank_to_null(c: pl.Expr) -> pl.Expr:
    c = c.cast(pl.String)
    return pl.when(c.str.contains(r"^\s*$")).then(None).otherwise(c)  # a test, not a stripped copy


def _text(df: pl.DataFrame, name: str) -> pl.Series:
    """A raw column as stripped text with blanks as null."""
    s = df.get_column(name)
    s = s.cast(pl.String) if s.dtype != pl.String else s
    # Usually nothing is padded or blank: then the column is used as it is, not copied.
    # (Regex \s and strip_chars() both take Unicode White_Space.)
    if not df.select(pl.lit(s).str.contains(r"^\s|\s$|^$").any()).item():
        return s
    stripped = pl.lit(s).str.strip_chars()
    return df.select(pl.when(stripped == "").then(None).otherwise(stripped)).to_series()


def _constant(value, n: int, dtype: pl.DataType) -> pl.Series:
    """n copies of a value, made natively (a Python list of n items costs more than parsing the column)."""
    return pl.Series("", [value], dtype=dtype).new_from_index(0, n)


def _parse_timestamp(raw: pl.Series, zone: str | None) -> tuple[pl.Series, pl.Series]:
    """(UTC instants, is-naive flags) from text; naive values are wall-clock time in `zone`.

    The common shape is tried first over the whole column; the other accepted
    shapes only where it failed, so a clean column costs one parse.
    """
    frame = pl.DataFrame({"s": raw}).with_columns(
        pl.col("s").str.replace(r"^([0-9]{4}-[0-9]{2}-[0-9]{2}) ", "${1}T").str.replace(r"Z$", "+00:00")
    ).with_columns(
        (pl.col("s").str.contains(_TS_SHAPE) & ~pl.col("s").str.contains(r"T[0-9]{2}:[0-9]{2}:[6-9][0-9]")).alias("shape"),
        pl.col("s").str.contains(_TS_OFFSET).alias("offset"),
    )
    fmts_aware = ["%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M%:z"]
    fmts_naive = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
    out = _constant(None, len(raw), pl.Datetime("us", "UTC"))
    todo = frame.select(pl.col("shape") & pl.col("offset")).to_series()
    for fmt in fmts_aware:
        if not todo.any():
            break
        parsed = frame.select(
            pl.when(todo).then(pl.col("s").str.to_datetime(fmt, time_zone="UTC", time_unit="us", strict=False))
        ).to_series()
        out = out.fill_null(parsed)
        todo = todo & parsed.is_null()
    naive_rows = frame.select(pl.col("shape") & ~pl.col("offset")).to_series()
    naive_flag = _constant(False, len(raw), pl.Boolean)
    if naive_rows.any():
        wall = _constant(None, len(raw), pl.Datetime("us"))
        todo = naive_rows
        for fmt in fmts_naive:
            if not todo.any():
                break
            parsed = frame.select(
                pl.when(todo).then(pl.col("s").str.to_datetime(fmt, time_unit="us", strict=False))
            ).to_series()
            wall = wall.fill_null(parsed)
            todo = todo & parsed.is_null()
        naive_flag = wall.is_not_null()
        if zone:
            out = out.fill_null(_wall_clock(wall, zone))
    return out, naive_flag


def _wall_clock(wall: pl.Series, zone: str) -> pl.Series:
    return wall.dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null").dt.convert_time_zone("UTC")


_KIND_WORD = {"int": "an integer", "decimal": "an amount with at most 2 decimals",
              "date": "a date (YYYY-MM-DD)", "timestamp": "a timestamp", "zone": "an IANA time zone"}


def _quoted(c: pl.Expr) -> pl.Expr:
    return pl.lit("'") + c.cast(pl.String).str.slice(0, 60) + pl.lit("'")


def _parse_column(df: pl.DataFrame, table: Table, col, zone: str | None, zones: list[str]) -> tuple[pl.Series, pl.Series]:
    """One column's typed values and parse problems (null where fine)."""
    raw = df.get_column(f"raw_{col.name}")
    dtype = raw.dtype
    if col.kind == "timestamp" and isinstance(dtype, pl.Datetime):
        if dtype.time_zone:  # absolute
            v = raw.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
            return v, _constant(None, len(raw), pl.String)
        if not zone and raw.is_not_null().any():
            example = raw.drop_nulls()[0]
            raise LoadError(f"{table.name}.{col.name} has timestamps without a UTC offset "
                            f"(e.g. {str(example)!r}); pass --timezone ZONE to say which zone they are in")
        wall = raw.dt.cast_time_unit("us")
        v = _wall_clock(wall, zone) if zone else wall.dt.replace_time_zone("UTC")
        problem = pl.select(pl.when(pl.lit(raw).is_not_null() & pl.lit(v).is_null()).then(
            pl.lit(f"{col.name} ") + _quoted(pl.lit(raw)) + pl.lit(f" does not exist in {zone} (clock change)"))).to_series()
        return v, problem
    if col.kind == "date" and dtype == pl.Date:
        return raw, _constant(None, len(raw), pl.String)
    if col.kind == "int" and dtype.is_integer():
        return raw.cast(pl.Int64), _constant(None, len(raw), pl.String)
    fine = _constant(None, len(raw), pl.String)
    if col.name == "content":  # message text is kept as written; only a blank one is empty
        return df.select(_blank_to_null(pl.col(f"raw_{col.name}"))).to_series(), fine
    if col.kind == "enum" and dtype == pl.String and raw.is_in(list(col.enum)).all():
        return raw, fine  # the usual case, already canonical: no copy
    t = _text(df, f"raw_{col.name}")
    if col.kind == "str":
        return t, fine
    if col.kind == "enum":
        return t.str.to_lowercase(), fine
    e = pl.lit(t)
    naive = None
    if col.kind == "int":
        v = pl.select(pl.when(e.str.contains(r"^[+-]?[0-9]{1,18}(\.0+)?$")).then(
            e.str.replace(r"\.0+$", "").cast(pl.Int64, strict=False))).to_series()
    elif col.kind == "decimal":
        v = pl.select(pl.when(e.str.contains(r"^[+-]?[0-9]{1,15}(\.[0-9]{1,2}0*)?$")).then(
            e.cast(pl.Decimal(18, 2), strict=False))).to_series()
    elif col.kind == "date":
        v = pl.select(pl.when(e.str.contains(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")).then(
            e.str.to_date("%Y-%m-%d", strict=False))).to_series()
    elif col.kind == "timestamp":
        v, naive = _parse_timestamp(t, zone)
        if naive.any() and not zone:
            example = t.filter(naive)[0]
            raise LoadError(f"{table.name}.{col.name} has timestamps without a UTC offset "
                            f"(e.g. {example!r}); pass --timezone ZONE to say which zone they are in")
    elif col.kind == "zone":
        v = pl.select(pl.when(e.is_in(zones)).then(e)).to_series()
    else:  # pragma: no cover - schema kinds are closed
        raise AssertionError(col.kind)
    msg = pl.lit(f"{col.name} ") + _quoted(e) + pl.lit(f" is not {_KIND_WORD[col.kind]}")
    if naive is not None and zone:
        msg = pl.when(pl.lit(naive)).then(
            pl.lit(f"{col.name} ") + _quoted(e) + pl.lit(f" does not exist in {zone} (clock change)")).otherwise(msg)
    problem = pl.select(pl.when(e.is_not_null() & pl.lit(v).is_null()).then(msg)).to_series()
    return v.cast(POLARS_TYPE[col.kind]), problem


IDX = "_idx"
NO_REASONS = {IDX: pl.Int64, "reason": pl.String}


def _reasons_where(df: pl.DataFrame, condition: pl.Expr, message: pl.Expr) -> pl.DataFrame:
    """Reasons are kept long, (row index, reason), so that clean rows cost nothing."""
    return df.filter(condition).select(pl.col(IDX), message.cast(pl.String).alias("reason"))


def parse(table: Table, raw: pl.DataFrame, zone: str | None,
          offset: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Typed columns under the spec names, raw values under `raw_<name>`; and the parse reasons.

    Rows are numbered (IDX) from `offset`, so that chunks of one table share one numbering.
    """
    zones = sorted(known_zones()) if any(c.kind == "zone" for c in table.columns) else []
    df = raw.rename({c: f"raw_{c}" for c in table.names}).with_row_index(IDX, offset=offset).with_columns(
        pl.col(IDX).cast(pl.Int64))
    typed, reasons = [], []
    for col in table.columns:
        v, problem = _parse_column(df, table, col, zone, zones)
        if col.kind == "timestamp":  # beyond years 1-9999 a local date cannot be formed
            out_of_range = v.is_not_null() & ((v < TS_MIN) | (v > TS_MAX))
            if out_of_range.any():
                problem = pl.select(pl.when(pl.lit(out_of_range)).then(
                    pl.lit(f"{col.name} ") + _quoted(pl.lit(df[f"raw_{col.name}"]))
                    + pl.lit(" is outside the years 0001-9999")).otherwise(pl.lit(problem))).to_series()
                v = pl.select(pl.when(pl.lit(out_of_range)).then(None).otherwise(pl.lit(v))).to_series()
        typed.append(v.cast(POLARS_TYPE[col.kind]).alias(col.name))
        if problem.null_count() < len(problem):
            reasons.append(pl.DataFrame({IDX: df[IDX], "reason": problem}).drop_nulls("reason"))
    return df.with_columns(typed), pl.concat(reasons) if reasons else pl.DataFrame(schema=NO_REASONS)


@lru_cache(maxsize=None)
def _schema(name: str) -> pa.DataFrameSchema:
    return value_schema(TABLES[name])


def _may_fail(table: Table) -> pl.Expr:
    """True where a check of the pandera value schema can fail: only those rows are handed to pandera.

    The same checks as `value_schema`, as one vectorised pass; pandera then
    judges (and words) the few rows it flags, not the whole table.
    """
    conds = []
    for c in table.columns:
        col = pl.col(c.name)
        if c.required:
            conds.append(col.is_null())
        if c.enum:
            conds.append(~col.is_in(list(c.enum)))
        if c.min is not None:
            conds.append(col < c.min)
        if c.gt is not None:
            conds.append(col <= c.gt)
    return pl.any_horizontal(conds).fill_null(False) if conds else pl.lit(False)


def _value_reasons(table: Table, df: pl.DataFrame) -> pl.DataFrame:
    """Run the pandera value schema on the rows that may fail; its failure cases as (row index, reason)."""
    suspects = df.filter(_may_fail(table))
    if suspects.is_empty():  # the usual chunk: pandera's fixed cost per call is more than the pre-test
        return pl.DataFrame(schema=NO_REASONS)
    try:
        _schema(table.name).validate(suspects.select(table.names), lazy=True)
        return pl.DataFrame(schema=NO_REASONS)
    except pa.errors.SchemaErrors as e:
        fc = e.failure_cases
    position = suspects.select(pl.col(IDX)).with_row_index("_pos").with_columns(pl.col("_pos").cast(pl.Int64))
    fc = fc.filter(pl.col("index").is_not_null()).with_columns(pl.col("index").cast(pl.Int64).alias("_pos")).join(
        position, on="_pos")
    msgs = []
    for col in table.columns:
        sub = fc.filter(pl.col("column") == col.name)
        if sub.is_empty():
            continue
        enum_msg = f" is not one of: {', '.join(col.enum)}"
        msg = (
            pl.when(pl.col("check") == "not_nullable").then(pl.lit(f"{col.name} is empty"))
            .when(pl.col("check").str.starts_with("isin")).then(
                pl.lit(f"{col.name} ") + _quoted(pl.col("failure_case")) + pl.lit(enum_msg))
            .when(pl.col("check").str.starts_with("greater_than_or_equal_to")).then(
                pl.lit(f"{col.name} ") + pl.col("failure_case") + pl.lit(f" is below {col.min}"))
            .when(pl.col("check").str.starts_with("greater_than")).then(
                pl.lit(f"{col.name} ") + pl.col("failure_case") + pl.lit(f" is not greater than {col.gt}"))
            .otherwise(pl.lit(f"{col.name} fails ") + pl.col("check"))
        )
        # A required value that failed to parse already has its reason: do not add "is empty".
        not_blank = sub.join(df.select(IDX, _blank_to_null(pl.col(f"raw_{col.name}")).is_not_null().alias("_given")),
                             on=IDX, how="left")
        sub = not_blank.filter(~((pl.col("check") == "not_nullable") & pl.col("_given")))
        msgs.append(sub.select(IDX, msg.alias("reason")))
    return pl.concat(msgs) if msgs else pl.DataFrame(schema=NO_REASONS)


def _cross_column_reasons(table: Table, df: pl.DataFrame) -> list[pl.DataFrame]:
    if table.name != "contacts":
        return []
    return [_reasons_where(
        df, pl.col("recipient_type").is_in(["emergency_contact", "third_party"]) & pl.col("recipient_id").is_null(),
        pl.lit("recipient_id is empty for a contact to a ") + pl.col("recipient_type"),
    )]


def _key_text(table: Table) -> pl.Expr:
    return pl.concat_str([pl.col(f"raw_{k}").cast(pl.String).fill_null("") for k in table.key], separator="|")


def validate(table: Table, raw: pl.DataFrame, zone: str | None,
             offset: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The parsed chunk, and every reason each row fails on its own as (row index, reason).

    Reasons that need other rows (references, repeated keys, the store) come later, in SQL.
    """
    df, parse_reasons = parse(table, raw, zone, offset)
    reasons = [parse_reasons, _value_reasons(table, df), *_cross_column_reasons(table, df)]
    if UNPARSED in df.columns:
        reasons.append(_reasons_where(df, pl.col(UNPARSED).is_not_null(), pl.lit("line is not a JSON object")))
    return df, pl.concat(reasons)


# ---------------------------------------------------------------- merging into the store

STAGE = "_incoming"  # staging tables are named _incoming_<table>


def _raw_values(table: Table, df: pl.DataFrame) -> pl.DataFrame:
    """The rows as written (text), for rejected.csv: row index, file, row number and every column read."""
    cols = [c for c in df.columns if c not in (IDX, FILE, ROW) and (c.startswith("raw_") or c not in table.names)]
    return df.select(IDX, FILE, ROW).with_columns(_as_text(df.select(cols)))


def _reread(table: Table, root: Path, encoding: str, rows: pl.DataFrame) -> pl.DataFrame:
    """Raw values of rows (IDX, FILE, ROW) judged valid on their own but rejected later.

    Valid rows are not kept as written (that would double the memory of a
    load); the few rejected later are read again from their files.
    """
    out = []
    for (name,), wanted in rows.group_by(FILE):
        for chunk in _file_chunks(table, root / name, root, encoding):
            hit = chunk.join(wanted.select(IDX, ROW), on=ROW)
            if hit.height:
                out.append(_raw_values(table, hit.rename({c: f"raw_{c}" for c in table.names})))
    return pl.concat(out, how="diagonal_relaxed")


def _sql_cols(cols: list[str], alias: str = "") -> str:
    return ", ".join(f"{alias}{c}" for c in cols)


DIGEST = "_digest"  # each row's input-fingerprint hash (reports/manifest.py)
STAGE_ROWS = 500_000  # rows appended to a staging table at once: one append per chunk is several times slower


def _stage(con: duckdb.DuckDBPyConnection, table: Table, name: str) -> None:
    cols = ", ".join(f"{c.name} {SQL_TYPE[c.kind]}" for c in table.columns)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} ({cols}, {IDX} BIGINT, _valid BOOLEAN, {DIGEST} UBIGINT)")


def _append(con: duckdb.DuckDBPyConnection, name: str, df: pl.DataFrame, select: str = "SELECT * FROM _chunk") -> None:
    con.register("_chunk", df)
    try:
        con.execute(f"INSERT INTO {name} {select}")
    finally:
        con.unregister("_chunk")


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
    copies = frame(con, f"""
        SELECT s.* FROM {stage} s
        SEMI JOIN (SELECT {k} FROM {stage} WHERE {' AND '.join(f'{c} IS NOT NULL' for c in key)}
                   GROUP BY {k} HAVING count(*) > 1) r USING ({k})""")
    none = pl.DataFrame(schema={IDX: pl.Int64})
    if copies.is_empty():
        return pl.DataFrame(schema={IDX: pl.Int64, "_copies": pl.UInt32}), none
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


def stage_table(con: duckdb.DuckDBPyConnection, table: Table, files: list[Path], root: Path, *,
                encoding: str, zone: str | None) -> Staged:
    """Read and check a table's files chunk by chunk into a temporary table.

    This runs before the load's transaction: rows appended inside one are
    held uncompressed, outside the memory limit, until the commit.
    """
    from .reports.manifest import row_hash_sql  # local: reports import the engine, which imports us

    staged = Staged(table, f"{STAGE}_{table.name}")
    cols = table.names
    _stage(con, table, staged.stage)
    batch: list[pl.DataFrame] = []
    # Each row's input-fingerprint hash is computed as it is staged, in the same pass.
    digest = f"SELECT *, {row_hash_sql(table.name)} FROM _chunk"

    def flush() -> None:
        _append(con, staged.stage, pl.concat(batch), digest)
        batch.clear()

    # Staging order does not matter (rows carry IDX): let the engine append in parallel.
    con.execute("SET preserve_insertion_order = false")
    try:
        for path in files:
            for chunk in _file_chunks(table, path, root, encoding):
                staged.extra.update(dict.fromkeys(c for c in chunk.columns if c.startswith("extra:") or c == UNPARSED))
                df, found = validate(table, chunk, zone, offset=staged.read)
                if df.height:
                    staged.chunks.append((str(path.relative_to(root)), staged.read, df.height, df[ROW][0]))
                staged.read += df.height
                bad = found.get_column(IDX).unique().implode()
                batch.append(df.select(*cols, IDX, (~pl.col(IDX).is_in(bad)).alias("_valid")))
                if sum(b.height for b in batch) >= STAGE_ROWS:
                    flush()
                if found.height:
                    staged.reasons.append(found.with_columns(pl.lit(0).alias("_rank")))
                    staged.raw.append(_raw_values(table, df.filter(pl.col(IDX).is_in(bad))))
        if batch:
            flush()
    finally:
        con.execute("RESET preserve_insertion_order")
    return staged


def merge_table(con: duckdb.DuckDBPyConnection, staged: Staged, root: Path, *, encoding: str,
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
        matched = frame(con, f"""
            SELECT c.{IDX}, {same or 'true'} AS _same
            FROM {stage} c JOIN {table.name} s USING ({k})
            WHERE c._valid {f'AND c.{IDX} NOT IN (SELECT {IDX} FROM _skip)' if skip.height else ''}""")
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
        raw_rows = pl.concat([raw_rows, _reread(table, root, encoding, where)], how="diagonal_relaxed")
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
    rej = rows.join(per_row, on=IDX).sort(IDX).select(
        pl.lit(table.name).alias("table"),
        pl.col(FILE).alias("source_file"),
        pl.col(ROW).alias("row"),
        key_text.alias("key"),
        pl.col("reasons"),
        pl.struct([pl.col(c).cast(pl.String).alias(shown.get(c, c.removeprefix("raw_").removeprefix("extra:")))
                   for c in values]).struct.json_encode().alias("values"),
    )
    assert counts.read == counts.loaded + counts.updated + counts.duplicates + counts.rejected, counts
    return counts, rej


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
    from .reports.manifest import digest_delta  # local: the reports package imports the engine, which imports us

    digest_delta(con, table.name, sign, **rows)


# ---------------------------------------------------------------- the load

def load_dataset(con: duckdb.DuckDBPyConnection, data_dir: str | Path, *, timezone_name: str | None = None,
                 encoding: str = "utf-8") -> LoadResult:
    """Load a dataset directory into the store in one transaction."""
    root = Path(data_dir)
    if timezone_name is not None and not is_zone(timezone_name):
        raise UsageError(f"--timezone {timezone_name!r} is not an IANA time zone name (e.g. Asia/Shanghai)")
    files = discover(root)
    for name, t in TABLES.items():
        if t.required_table and name not in files:
            has_rows = scalar(con, f"SELECT count(*) > 0 FROM {name}")
            if not has_rows:
                raise LoadError(f"{root}: required table {name} is missing (expected {name}.csv/.parquet/.jsonl or {name}/)")
    started = datetime.now(timezone.utc)
    result = LoadResult()
    rejected = []
    staged: dict[str, Staged] = {}
    try:
        for name in LOAD_ORDER:
            if name in files:
                progress.step(f"validate and store {name}")
                staged[name] = stage_table(con, TABLES[name], files[name], root, encoding=encoding,
                                           zone=timezone_name)
        progress.step("merge into the store")
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
            con.register("_rej", result.rejected)
            con.execute(
                'INSERT INTO rejected_rows SELECT ?, "table", source_file, "row", "key", reasons, "values" FROM _rej',
                [load_id],
            )
            con.unregister("_rej")
        con.execute("COMMIT")
        result.load_id = load_id
    except BaseException:
        con.execute("ROLLBACK")
        raise
