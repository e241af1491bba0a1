"""Find a dataset's files and read each into chunks of raw columns with their row numbers.

Reading is kept apart from judging: this module only turns bytes into columns
(text, or the types a Parquet file already gives) and says where each row came
from, so that every later step can name a row by its file and row number.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pyarrow
import pyarrow.parquet as pq

from ..errors import LoadError, UsageError
from ..schemas import TABLES, Table

KNOWN_COLUMNS = frozenset(c.name for t in TABLES.values() for c in t.columns)
UNPARSED = "\x00unparsed"  # the loader's column for a JSONL line that is not an object; no input can name it

FORMATS = (".csv", ".parquet", ".jsonl")
# CSV and JSONL may come compressed as a whole (Parquet compresses inside the file).
COMPRESSIONS = {"gz": "gzip", "zst": "zstd"}
READ_FORMS = (".csv", ".jsonl", ".parquet", ".csv.gz", ".jsonl.gz", ".csv.zst", ".jsonl.zst")
ROW = "_row"
FILE = "_file"
_SHOWN = 5  # skipped files named in a note; the rest counted


# ---------------------------------------------------------------- discovery

def _form(name: str) -> str | None:
    """The ending (one of READ_FORMS) by which a file of this name is read, or None."""
    name = name.lower()
    return next((f for f in READ_FORMS if name.endswith(f) and len(name) > len(f)), None)


def file_form(path: Path) -> tuple[str, str | None]:
    """(format, compression) of a file the audit reads: ("csv", "gzip"), ("parquet", None), ..."""
    form = _form(path.name)
    if form is None:
        raise LoadError(f"{path.name}: not a file the audit reads; it reads {', '.join(READ_FORMS)}")
    fmt, _, comp = form[1:].partition(".")
    return fmt, COMPRESSIONS[comp] if comp else None


def _skipped(part: str) -> bool:
    """Hidden files and the markers writers leave (_SUCCESS, _committed_*, _metadata, _temporary/)."""
    return part.startswith((".", "_"))


def discover(data_dir: Path, notes: list[str] | None = None) -> dict[str, list[Path]]:
    """Map each known table to its files: `<table>.<ext>` or `<table>/` with any such files.

    In a table directory, hidden and marker files (and directories) are
    skipped, with a note added to `notes`; any other file the audit does not
    read stops the load, so that no partition is silently left out. At the
    top level only files named after a table are judged; other files there
    are not the dataset's.
    """
    if not data_dir.is_dir():
        raise LoadError(f"data directory {data_dir} does not exist or is not a directory")
    found: dict[str, list[Path]] = {}
    for entry in sorted(data_dir.iterdir()):
        name = entry.name.lower()
        if entry.is_dir() and name in TABLES:
            files, skipped = [], []
            for p in sorted(p for p in entry.rglob("*") if p.is_file()):
                inside = p.relative_to(entry)
                if any(_skipped(part) for part in inside.parts):
                    skipped.append(inside.as_posix())
                elif _form(p.name) is None:
                    raise _refused(p.relative_to(data_dir))
                else:
                    files.append(p)
            found.setdefault(name, []).extend(files)
            if skipped and notes is not None:
                more = len(skipped) - _SHOWN
                shown = ", ".join(skipped[:_SHOWN]) + (f" and {more} more" if more > 0 else "")
                notes.append(f"{entry.name}/: skipped {len(skipped)} marker or hidden file(s): {shown}")
        elif entry.is_file() and not _skipped(name) and name.split(".")[0] in TABLES:
            form = _form(name)
            if form is None or name[: -len(form)] not in TABLES:
                raise _refused(entry.relative_to(data_dir))
            found.setdefault(name[: -len(form)], []).append(entry)
    return found


def _refused(path: Path) -> LoadError:
    return LoadError(f"{path.as_posix()}: not a file the audit reads; a table's files end in "
                     f"{', '.join(READ_FORMS)} (hidden files and _marker files are skipped)")


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
    df = _beyond_calendar(df)
    keep = {n for n, t in df.schema.items() if isinstance(t, pl.Datetime) or t in _NATIVE}
    text = [n for n in df.columns if n not in keep]
    return df.with_columns(_as_text(df.select(text))) if text else df


# Years 0001-9999, as each physical unit counts from 1970-01-01 (upper end exclusive).
_SECONDS = (-62_135_596_800, 253_402_300_800)
_PER_SECOND = {"ms": 10**3, "us": 10**6}
_DAYS = (-719_162, 2_932_897)
BEYOND = r"^-?[0-9]+ (ms|us|days) from 1970-01-01$"  # how such a value is written; parse.py words its reason


def _beyond_calendar(df: pl.DataFrame) -> pl.DataFrame:
    """A Parquet timestamp or date column with a value outside the years 0001-9999, as text.

    Polars panics when it formats or converts such a value (a PanicException,
    which `except Exception` does not catch), so it must never reach a date
    function: the value is written as its count from 1970 and rejected with a
    reason, and the rest of the column keeps its meaning as text.
    """
    fixes = []
    for name, dtype in df.schema.items():
        if isinstance(dtype, pl.Datetime) and dtype.time_unit in _PER_SECOND:
            unit, (lo, hi) = dtype.time_unit, (b * _PER_SECOND[dtype.time_unit] for b in _SECONDS)
        elif dtype == pl.Date:
            unit, (lo, hi) = "days", _DAYS
        else:
            continue  # nanoseconds span 1677-2262 only
        physical = pl.col(name).to_physical()
        outside = physical.is_not_null() & ((physical < lo) | (physical >= hi))
        if not df.select(outside.any()).item():
            continue
        inside = df.select(pl.when(~outside).then(pl.col(name)).alias(name))
        written = pl.when(outside).then(physical.cast(pl.String) + f" {unit} from 1970-01-01")
        fixes.append(pl.coalesce(pl.lit(_as_text(inside).to_series()), written).alias(name))
    return df.with_columns(fixes) if fixes else df


def _bytes(path: Path, compression: str | None, raw: bytes | None = None) -> bytes:
    """A file's bytes (read here, or given as `raw`), decompressed (pyarrow's codecs: gzip, zstd)."""
    if compression is None:
        return path.read_bytes() if raw is None else raw
    try:
        source = str(path) if raw is None else pyarrow.BufferReader(raw)
        with pyarrow.input_stream(source, compression=compression) as f:
            return f.read()
    except Exception as e:  # arrow raises OSError and others for a truncated or mislabelled file
        raise LoadError(f"{path.name}: cannot be decompressed as {compression} ({type(e).__name__}); "
                        f"check that the file is complete and really {compression}-compressed") from None


def _read_csv(raw: bytes, path: Path, encoding: str) -> pl.DataFrame:
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


def _read_jsonl(raw: bytes, path: Path, encoding: str) -> pl.DataFrame:
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


def _cannot_read(path: Path, fmt: str, e: Exception) -> LoadError:
    # The parser's own message can quote a field (message text, a phone number): name the kind only.
    hint = "a row has more fields than the header" if "more fields" in str(e) else type(e).__name__
    return LoadError(f"{path.name}: cannot be read as {fmt} ({hint}); "
                     f"check the file's format and encoding")


def _spec_columns(df: pl.DataFrame, path: Path) -> pl.DataFrame:
    """Lower-cased column names; the types a file gives exactly are kept, the rest as text.

    Columns the spec does not know are kept under their own prefix, so no
    input name can collide with the loader's working columns.
    """
    lower = [c.lower().strip() for c in df.columns]
    if len(set(lower)) != len(lower):
        raise LoadError(f"{path.name}: two columns have the same name when case is ignored")
    names = [c if c in KNOWN_COLUMNS or c == UNPARSED else f"extra:{c}" for c in lower]
    return _native(df.rename(dict(zip(df.columns, names))))


def _as_written(df: pl.DataFrame, path: Path) -> pl.DataFrame:
    """Column names as the header writes them (trimmed), for a mapping (SPEC §8) to name them."""
    names = [c.strip() for c in df.columns]
    if len(set(names)) != len(names):
        raise LoadError(f"{path.name}: two columns have the same name in the header")
    if ROW in names or FILE in names:
        raise LoadError(f"{path.name}: a column is named {ROW} or {FILE}, which the loader uses for the row's "
                        f"place; rename it")
    return _native(df.rename(dict(zip(df.columns, names))))


def read_chunks(path: Path, encoding: str = "utf-8", as_written: bool = False) -> Iterator[pl.DataFrame]:
    """A file's rows in chunks of at most CHUNK_ROWS, with their row numbers in the file (ROW).

    Column names are lower-cased §1 names (others prefixed `extra:`), or with
    `as_written` the header's own names, for the mapping step.
    """
    fmt, compression = file_form(path)
    _columns = _as_written if as_written else _spec_columns
    if fmt == "parquet":
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
            raise _cannot_read(path, fmt, e) from None
        return
    try:
        raw = _bytes(path, compression)
        df = _read_csv(raw, path, encoding) if fmt == "csv" else _read_jsonl(raw, path, encoding)
    except (LoadError, UsageError):
        raise
    except Exception as e:  # polars raises many kinds; all mean "cannot parse this file"
        raise _cannot_read(path, fmt, e) from None
    df = _columns(df, path).with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
    for offset in range(0, df.height, CHUNK_ROWS):  # no rows (or a header alone): nothing to load
        yield df.slice(offset, CHUNK_ROWS)


def text_file_error(raw: bytes, path: Path, encoding: str) -> tuple[str, str] | None:
    """(kind, message) of the error the load gives a CSV or JSONL file with these bytes (as stored, so
    compressed as its name says), or None. kind is "usage" or "load". The Spark engine runs this on its
    executors, so both engines refuse the same files, in the same words."""
    fmt, compression = file_form(path)
    try:
        text = _bytes(path, compression, raw)
        _spec_columns(_read_csv(text, path, encoding) if fmt == "csv" else _read_jsonl(text, path, encoding), path)
    except UsageError as e:
        return "usage", str(e)
    except LoadError as e:
        return "load", str(e)
    except Exception as e:  # polars raises many kinds; all mean "cannot parse this file"
        return "load", str(_cannot_read(path, fmt, e))
    return None


def read_rows(path: Path, rows: list[int]) -> Iterator[pl.DataFrame]:
    """Some rows of a Parquet file (row numbers, ascending), as read_chunks gives them: few, read cheaply.

    Rows close together are read as one slice (Polars reads only the row
    groups a slice needs), then only the wanted rows are turned into columns.
    """
    scan = pl.scan_parquet(path)
    start = 0
    try:
        while start < len(rows):
            end = start
            while end + 1 < len(rows) and rows[end + 1] - rows[start] < CHUNK_ROWS:
                end += 1
            lo, wanted = rows[start], pl.Series(rows[start:end + 1], dtype=pl.Int64).implode()
            df = scan.slice(lo - 1, rows[end] - lo + 1).collect().with_row_index(ROW, offset=lo).with_columns(
                pl.col(ROW).cast(pl.Int64)).filter(pl.col(ROW).is_in(wanted))
            yield pl.concat([df.select(ROW), _spec_columns(df.drop(ROW), path)], how="horizontal")
            start = end + 1
    except (LoadError, UsageError):
        raise
    except Exception as e:  # arrow and polars raise many kinds; all mean "cannot parse this file"
        raise _cannot_read(path, "parquet", e) from None


def read_file(path: Path, encoding: str = "utf-8") -> pl.DataFrame:
    """One whole file as read_chunks gives it."""
    chunks = list(read_chunks(path, encoding))
    return pl.concat(chunks, how="diagonal_relaxed") if chunks else pl.DataFrame(schema={ROW: pl.Int64})


def _file_chunks(table: Table, path: Path, root: Path, encoding: str,
                 rows: list[int] | None = None) -> Iterator[pl.DataFrame]:
    """A file's chunks with every column of the table (absent optional ones as empty) and the file name.

    With `rows` (a Parquet file), only those rows (read_rows).
    """
    name = str(path.relative_to(root))
    checked = False
    for df in read_chunks(path, encoding) if rows is None else read_rows(path, rows):
        if not checked:
            missing = [c.name for c in table.columns if c.required and c.name not in df.columns]
            if missing and UNPARSED not in df.columns:
                raise LoadError(f"{path.relative_to(root)}: required column {missing[0]} of {table.name} is missing")
            checked = True
        absent = [c for c in table.names if c not in df.columns]
        yield df.with_columns(*[pl.lit(None, pl.String).alias(c) for c in absent], pl.lit(name).alias(FILE))
