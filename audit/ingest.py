"""Read a dataset directory, validate every row, and account for each one.

Every input row ends as exactly one of: loaded, updated (snapshot tables),
duplicate (identical to a stored or earlier row), or rejected with all its
reasons. Files are read as text first, so a bad value is reported as it was
written, then parsed with Polars expressions and checked with pandera.
One load is one DuckDB transaction: any error leaves the store as it was.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandera.polars as pa
import polars as pl

from . import progress
from .errors import LoadError, UsageError
from .schemas import LOAD_ORDER, POLARS_TYPE, TABLES, Table, value_schema

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
            obj = json.loads(line)
            if not isinstance(obj, dict):
                raise ValueError
            rows.append({k: None if v is None else (v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))
                         for k, v in obj.items()})
        except ValueError:
            rows.append({UNPARSED: line[:200]})
    return pl.from_dicts(rows, infer_schema_length=None) if rows else pl.DataFrame()


def read_file(path: Path, encoding: str = "utf-8") -> pl.DataFrame:
    """One file as text columns (lower-cased names) plus its row numbers."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            df = _read_csv(path, encoding)
        elif suffix == ".jsonl":
            df = _read_jsonl(path, encoding)
        else:
            df = pl.read_parquet(path)
        lower = [c.lower().strip() for c in df.columns]
        if len(set(lower)) != len(lower):
            raise LoadError(f"{path.name}: two columns have the same name when case is ignored")
        # Columns the spec does not know are kept under their own prefix, so no
        # input name can collide with the loader's working columns.
        names = [c if c in KNOWN_COLUMNS or c == UNPARSED else f"extra:{c}" for c in lower]
        df = _native(df.rename(dict(zip(df.columns, names))))
    except (LoadError, UsageError):
        raise
    except Exception as e:  # polars/arrow raise many kinds; all mean "cannot parse this file"
        # The parser's own message can quote a field (message text, a phone number): name the kind only.
        hint = "a row has more fields than the header" if "more fields" in str(e) else type(e).__name__
        raise LoadError(f"{path.name}: cannot be read as {suffix[1:]} ({hint}); "
                        f"check the file's format and encoding") from None
    return df.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))


def read_table(table: Table, files: list[Path], root: Path, encoding: str) -> pl.DataFrame:
    frames = []
    for path in files:
        df = read_file(path, encoding)
        if df.height == 0:  # an empty file, or a header alone
            continue
        missing = [c.name for c in table.columns if c.required and c.name not in df.columns]
        if missing and UNPARSED not in df.columns:
            raise LoadError(f"{path.relative_to(root)}: required column {missing[0]} of {table.name} is missing")
        for c in table.names:
            if c not in df.columns:
                df = df.with_columns(pl.lit(None, pl.String).alias(c))
        frames.append(df.with_columns(pl.lit(str(path.relative_to(root))).alias(FILE)))
    if not frames:
        return pl.DataFrame(schema={**{c: pl.String for c in table.names}, ROW: pl.Int64, FILE: pl.String})
    # A column typed differently by two files is read as text in all of them.
    mixed = {c for c in table.names if len({f.schema[c] for f in frames if c in f.columns}) > 1}
    if mixed:
        frames = [f.with_columns(_as_text(f.select(sorted(mixed & set(f.columns))))) for f in frames]
    return pl.concat(frames, how="diagonal_relaxed")


# ---------------------------------------------------------------- parsing

def _blank_to_null(c: pl.Expr) -> pl.Expr:
    c = c.cast(pl.String)
    return pl.when(c.str.strip_chars() == "").then(None).otherwise(c)


def _text(df: pl.DataFrame, name: str) -> pl.Series:
    """A raw column as stripped text with blanks as null."""
    s = df.get_column(name)
    s = s.cast(pl.String) if s.dtype != pl.String else s
    return df.select(_blank_to_null(pl.lit(s)).str.strip_chars()).to_series()


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
    out = pl.Series("v", [None] * len(raw), pl.Datetime("us", "UTC"))
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
    naive_flag = pl.Series("n", [False] * len(raw), dtype=pl.Boolean)
    if naive_rows.any():
        wall = pl.Series("w", [None] * len(raw), pl.Datetime("us"))
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
            return v, pl.Series([None] * len(raw), dtype=pl.String)
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
        return raw, pl.Series([None] * len(raw), dtype=pl.String)
    if col.kind == "int" and dtype.is_integer():
        return raw.cast(pl.Int64), pl.Series([None] * len(raw), dtype=pl.String)
    t = _text(df, f"raw_{col.name}")
    if col.kind == "str":
        v = t if col.name != "content" else df.select(_blank_to_null(pl.col(f"raw_{col.name}").cast(pl.String))).to_series()
        return v, pl.Series([None] * len(raw), dtype=pl.String)
    if col.kind == "enum":
        return t.str.to_lowercase(), pl.Series([None] * len(raw), dtype=pl.String)
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


def parse(table: Table, raw: pl.DataFrame, zone: str | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Typed columns under the spec names, raw values under `raw_<name>`; and the parse reasons."""
    zones = sorted(known_zones()) if any(c.kind == "zone" for c in table.columns) else []
    df = raw.rename({c: f"raw_{c}" for c in table.names}).with_row_index(IDX).with_columns(pl.col(IDX).cast(pl.Int64))
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


def _value_reasons(table: Table, df: pl.DataFrame) -> pl.DataFrame:
    """Run the pandera value schema and turn its failure cases into (row index, reason)."""
    schema = value_schema(table)
    typed = df.select(table.names)
    try:
        schema.validate(typed, lazy=True)
        return pl.DataFrame(schema=NO_REASONS)
    except pa.errors.SchemaErrors as e:
        fc = e.failure_cases
    fc = fc.filter(pl.col("index").is_not_null()).with_columns(pl.col("index").cast(pl.Int64).alias(IDX))
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


def _reference_reasons(table: Table, df: pl.DataFrame, con: duckdb.DuckDBPyConnection,
                       has_borrowers: bool) -> list[pl.DataFrame]:
    out = []
    for column, target, target_col in table.references:
        if target == "borrowers" and not has_borrowers:
            continue
        keys = frame(con, f"SELECT DISTINCT {target_col} AS k FROM {target}")
        unknown = df.filter(pl.col(column).is_not_null()).join(keys, left_on=column, right_on="k", how="anti")
        out.append(unknown.select(
            IDX, (pl.lit(f"{column} ") + _quoted(pl.col(column)) + pl.lit(f" is not in {target}")).alias("reason")))
    return out


def _key_text(table: Table) -> pl.Expr:
    return pl.concat_str([pl.col(f"raw_{k}").cast(pl.String).fill_null("") for k in table.key], separator="|")


def validate(table: Table, raw: pl.DataFrame, con: duckdb.DuckDBPyConnection,
             zone: str | None, has_borrowers: bool) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The parsed frame, and every reason each row fails as (row index, reason)."""
    df, parse_reasons = parse(table, raw, zone)
    reasons = [parse_reasons, _value_reasons(table, df), *_cross_column_reasons(table, df),
               *_reference_reasons(table, df, con, has_borrowers)]
    if UNPARSED in df.columns:
        reasons.append(_reasons_where(df, pl.col(UNPARSED).is_not_null(), pl.lit("line is not a JSON object")))
    return df, pl.concat(reasons)


def _same_row(table: Table, suffix: str) -> pl.Expr:
    return pl.all_horizontal([pl.col(c).eq_missing(pl.col(c + suffix)) for c in table.names])


def merge(table: Table, df: pl.DataFrame, reasons: pl.DataFrame,
          con: duckdb.DuckDBPyConnection) -> tuple[TableCounts, pl.DataFrame]:
    """Decide each row's fate, write the accepted ones, and return the counts and rejected rows."""
    counts = TableCounts(read=df.height)
    key = list(table.key)
    key_name = " + ".join(key)
    # Conflicting copies of one key in this load: all rejected (we cannot know which is true).
    # Only keys that repeat are compared, on their parsed values (raw text for rows that did not parse).
    repeated = df.filter(pl.all_horizontal([pl.col(k).is_not_null() for k in key]) & pl.struct(key).is_duplicated())
    if repeated.height:
        invalid = reasons.get_column(IDX).unique().implode()
        signature = pl.when(pl.col(IDX).is_in(invalid)).then(
            pl.struct([pl.col(f"raw_{c}").cast(pl.String).alias(c) for c in table.names])
        ).otherwise(pl.struct([pl.col(c).cast(pl.String) for c in table.names]))
        conflicts = repeated.with_columns(
            signature.n_unique().over(key).alias("_variants"), pl.len().over(key).alias("_copies")
        ).filter(pl.col("_variants") > 1)
        reasons = pl.concat([reasons, conflicts.select(
            IDX, (pl.lit(f"{key_name} ") + _quoted(_key_text(table)) + pl.lit(" appears ")
                  + pl.col("_copies").cast(pl.String)
                  + pl.lit(" times in this load with different values (all rejected)")).alias("reason"))])
    valid_now = df.join(reasons.select(IDX).unique(), on=IDX, how="anti")
    # Identical copies in this load: the first is the candidate, the rest are duplicates.
    candidates = valid_now.unique(subset=key, keep="first", maintain_order=True)
    counts.duplicates += valid_now.height - candidates.height
    # Compare with what the store holds.
    con.register("_incoming_keys", candidates.select(key))
    stored = frame(con, f"SELECT s.* FROM {table.name} s SEMI JOIN _incoming_keys k USING ({', '.join(key)})")
    con.unregister("_incoming_keys")
    if stored.height:
        stored = stored.select(key + [pl.col(c).alias(c + "_s") for c in table.names if c not in key]).with_columns(
            [pl.col(k).alias(k + "_s") for k in key]
        )
        joined = candidates.join(stored, on=key, how="left").with_columns(
            pl.col(key[0] + "_s").is_not_null().alias("_stored"), _same_row(table, "_s").alias("_same")
        )
    else:
        joined = candidates.with_columns(pl.lit(False).alias("_stored"), pl.lit(False).alias("_same"))
    dup = joined.filter(pl.col("_stored") & pl.col("_same"))
    changed = joined.filter(pl.col("_stored") & ~pl.col("_same"))
    new = joined.filter(~pl.col("_stored"))
    counts.duplicates += dup.height
    if table.append_only:
        reasons = pl.concat([reasons, changed.select(
            IDX, (pl.lit(f"{key_name} ") + _quoted(_key_text(table))
                  + pl.lit(" is already stored with different values (an event never changes)")).alias("reason"))])
        write = new
    else:
        counts.updated = changed.height
        write = pl.concat([new, changed], how="diagonal_relaxed")
        if changed.height:
            con.register("_changed_keys", changed.select(key))
            con.execute(
                f"DELETE FROM {table.name} WHERE ({', '.join(key)}) IN (SELECT ({', '.join(key)}) FROM _changed_keys)"
            )
            con.unregister("_changed_keys")
    counts.loaded = new.height
    if write.height:
        con.register("_write", write.select(table.names))
        con.execute(f"INSERT INTO {table.name} ({', '.join(table.names)}) SELECT {', '.join(table.names)} FROM _write")
        con.unregister("_write")
    per_row = reasons.with_row_index("_order").group_by(IDX).agg(
        pl.col("reason").sort_by("_order").str.join("; ").alias("reasons"))
    rejected = df.join(per_row, on=IDX, how="inner").sort(IDX)
    counts.rejected = rejected.height
    values = [f"raw_{c}" for c in table.names] + [c for c in df.columns if c.startswith("extra:")] + (
        [UNPARSED] if UNPARSED in df.columns else [])
    shown = {UNPARSED: "unparsed_line"}
    rej = rejected.select(
        pl.lit(table.name).alias("table"),
        pl.col(FILE).alias("source_file"),
        pl.col(ROW).alias("row"),
        _key_text(table).alias("key"),
        pl.col("reasons"),
        pl.struct([pl.col(c).cast(pl.String).alias(shown.get(c, c.removeprefix("raw_").removeprefix("extra:")))
                   for c in values]).struct.json_encode().alias("values"),
    )
    assert counts.read == counts.loaded + counts.updated + counts.duplicates + counts.rejected, counts
    return counts, rej


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
    raw = {}
    for name, fs in files.items():
        progress.step(f"read {name}")
        raw[name] = read_table(TABLES[name], fs, root, encoding)
    started = datetime.now(timezone.utc)
    result = LoadResult()
    rejected = []
    con.execute("BEGIN TRANSACTION")
    try:
        has_borrowers = "borrowers" in raw or scalar(con, "SELECT count(*) > 0 FROM borrowers")
        for name in LOAD_ORDER:
            if name not in raw:
                continue
            table = TABLES[name]
            progress.step(f"validate and store {name}")
            parsed, reasons = validate(table, raw[name], con, timezone_name, has_borrowers)
            counts, rej = merge(table, parsed, reasons, con)
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
    return result
