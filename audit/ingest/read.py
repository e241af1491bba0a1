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
import pyarrow.parquet as pq

from ..errors import LoadError, UsageError
from ..schemas import TABLES, Table

KNOWN_COLUMNS = frozenset(c.name for t in TABLES.values() for c in t.columns)
UNPARSED = "\x00unparsed"  # the loader's column for a JSONL line that is not an object; no input can name it

FORMATS = (".csv", ".parquet", ".jsonl")
ROW = "_row"
FILE = "_file"


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
