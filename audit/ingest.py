"""Read a dataset directory, validate every row, and account for each one.

Every input row ends as exactly one of: loaded, updated (snapshot tables),
duplicate (identical to a stored or earlier row), or rejected with all its
reasons. Files are read as text first, so a bad value is reported as it was
written, then parsed with Polars expressions and checked with pandera.
One load is one DuckDB transaction: any error leaves the store as it was.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandera.polars as pa
import polars as pl

from .errors import LoadError
from .schemas import LOAD_ORDER, POLARS_TYPE, TABLES, Table, value_schema
from .store import frame, scalar
from .timezones import is_zone, known_zones

FORMATS = (".csv", ".parquet", ".jsonl")
ROW = "_row"
FILE = "_file"
REASONS = "_reasons"

_TS_OFFSET = r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)$"
_TS_SHAPE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"


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
            c = pl.struct(c).struct.json_encode().str.replace(r'^\{"[^"]*":', "").str.replace(r"\}$", "")
        elif dtype != pl.String:
            c = c.cast(pl.String)
        exprs.append(c.alias(name))
    return df.select(exprs)


def _read_csv(path: Path, encoding: str) -> pl.DataFrame:
    raw = path.read_bytes()
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as e:
        raise LoadError(
            f"{path.name}: not valid {encoding} text at byte {e.start}; name the file's encoding with --encoding"
        ) from None
    except LookupError:
        raise LoadError(f"unknown encoding {encoding!r}") from None
    text = text.removeprefix("\ufeff")
    if not text.strip():
        return pl.DataFrame()
    if "\x00" in text:
        text = text.replace("\x00", "")  # NUL is never meaningful in a CSV export; it breaks parsers
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
            rows.append({"_unparsed": line[:200]})
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
    except LoadError:
        raise
    except Exception as e:  # polars/arrow raise many kinds; all mean "cannot parse this file"
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise LoadError(f"{path.name}: cannot be read as {suffix[1:]}: {msg[:200]}") from None
    lower = [c.lower().strip() for c in df.columns]
    if len(set(lower)) != len(lower):
        raise LoadError(f"{path.name}: two columns have the same name when case is ignored")
    df = _as_text(df.rename(dict(zip(df.columns, lower))))
    return df.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))


def read_table(table: Table, files: list[Path], root: Path, encoding: str) -> pl.DataFrame:
    frames = []
    for path in files:
        df = read_file(path, encoding)
        if df.width == 1:  # only the row index: an empty file
            continue
        missing = [c.name for c in table.columns if c.required and c.name not in df.columns]
        if missing and "_unparsed" not in df.columns:
            raise LoadError(f"{path.relative_to(root)}: required column {missing[0]} of {table.name} is missing")
        for c in table.names:
            if c not in df.columns:
                df = df.with_columns(pl.lit(None, pl.String).alias(c))
        frames.append(df.with_columns(pl.lit(str(path.relative_to(root))).alias(FILE)))
    if not frames:
        return pl.DataFrame(schema={**{c: pl.String for c in table.names}, ROW: pl.Int64, FILE: pl.String})
    return pl.concat(frames, how="diagonal_relaxed")


# ---------------------------------------------------------------- parsing

def _blank_to_null(c: pl.Expr) -> pl.Expr:
    return pl.when(c.str.strip_chars() == "").then(None).otherwise(c)


def _parse_timestamp(raw: pl.Expr, zone: str | None) -> tuple[pl.Expr, pl.Expr]:
    """(parsed UTC instant, is-naive flag). Naive values are wall-clock time in `zone`."""
    s = raw.str.strip_chars().str.replace(r"^([0-9]{4}-[0-9]{2}-[0-9]{2}) ", "${1}T").str.replace(r"Z$", "+00:00")
    has_offset = s.str.contains(_TS_OFFSET)
    aware = pl.coalesce(
        s.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", time_zone="UTC", time_unit="us", strict=False),
        s.str.to_datetime("%Y-%m-%dT%H:%M%:z", time_zone="UTC", time_unit="us", strict=False),
    )
    naive = pl.coalesce(
        s.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", time_unit="us", strict=False),
        s.str.to_datetime("%Y-%m-%dT%H:%M", time_unit="us", strict=False),
    )
    if zone:
        naive_utc = naive.dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null").dt.convert_time_zone("UTC")
    else:
        naive_utc = pl.lit(None, pl.Datetime("us", "UTC"))
    ok_shape = s.str.contains(_TS_SHAPE)
    parsed = pl.when(ok_shape & has_offset).then(aware).when(ok_shape).then(naive_utc)
    return parsed, ok_shape & ~has_offset & naive.is_not_null()


_KIND_WORD = {"int": "an integer", "decimal": "an amount with at most 2 decimals",
              "date": "a date (YYYY-MM-DD)", "timestamp": "a timestamp", "zone": "an IANA time zone"}


def _quoted(c: pl.Expr) -> pl.Expr:
    return pl.lit("'") + c.str.slice(0, 60) + pl.lit("'")


def parse(table: Table, raw: pl.DataFrame, zone: str | None) -> pl.DataFrame:
    """Typed columns under the spec names, raw text under `raw_<name>`, and the parse reasons."""
    zones = sorted(known_zones()) if any(c.kind == "zone" for c in table.columns) else []
    typed, problems = [], []
    naive_flags = {}
    for col in table.columns:
        r = _blank_to_null(pl.col(f"raw_{col.name}"))
        if col.kind == "str":
            v = r if col.name == "content" else r.str.strip_chars()
        elif col.kind == "enum":
            v = r.str.strip_chars().str.to_lowercase()
        elif col.kind == "int":
            t = r.str.strip_chars()
            v = pl.when(t.str.contains(r"^[+-]?[0-9]{1,18}(\.0+)?$")).then(
                t.str.replace(r"\.0+$", "").cast(pl.Int64, strict=False))
        elif col.kind == "decimal":
            t = r.str.strip_chars()
            v = pl.when(t.str.contains(r"^[+-]?[0-9]{1,15}(\.[0-9]{1,2}0*)?$")).then(
                t.cast(pl.Decimal(18, 2), strict=False))
        elif col.kind == "date":
            t = r.str.strip_chars()
            v = pl.when(t.str.contains(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")).then(t.str.to_date("%Y-%m-%d", strict=False))
        elif col.kind == "timestamp":
            v, naive = _parse_timestamp(r, zone)
            naive_flags[col.name] = naive
        elif col.kind == "zone":
            t = r.str.strip_chars()
            v = pl.when(t.is_in(zones)).then(t)
        else:  # pragma: no cover - schema kinds are closed
            raise AssertionError(col.kind)
        typed.append(v.cast(POLARS_TYPE[col.kind]).alias(col.name))
        if col.kind not in ("str", "enum"):
            bad = r.is_not_null() & v.is_null()
            msg = pl.lit(f"{col.name} ") + _quoted(r) + pl.lit(f" is not {_KIND_WORD[col.kind]}")
            if col.kind == "timestamp" and zone:
                msg = pl.when(naive_flags[col.name]).then(
                    pl.lit(f"{col.name} ") + _quoted(r) + pl.lit(f" does not exist in {zone} (clock change)")
                ).otherwise(msg)
            problems.append(pl.when(bad).then(msg))
    out = raw.with_columns(
        [pl.col(c).alias(f"raw_{c}") for c in table.names]
    ).with_columns(*typed, pl.concat_list(problems or [pl.lit(None, pl.String)]).alias(REASONS))
    if naive_flags and not zone:
        for name, flag in naive_flags.items():
            example = out.filter(flag).select(f"raw_{name}").head(1)
            if example.height:
                raise LoadError(
                    f"{table.name}.{name} has timestamps without a UTC offset (e.g. {example.item()!r}); "
                    f"pass --timezone ZONE to say which zone they are in"
                )
    return out


def _value_reasons(table: Table, df: pl.DataFrame) -> pl.DataFrame:
    """Run the pandera value schema and turn its failure cases into (index, reason)."""
    schema = value_schema(table)
    typed = df.select(table.names)
    try:
        schema.validate(typed, lazy=True)
        return pl.DataFrame(schema={"index": pl.Int64, "reason": pl.String})
    except pa.errors.SchemaErrors as e:
        fc = e.failure_cases
    fc = fc.filter(pl.col("index").is_not_null()).with_columns(pl.col("index").cast(pl.Int64))
    parse_failed = df.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("index"), *[
        (_blank_to_null(pl.col(f"raw_{c.name}")).is_not_null() & pl.col(c.name).is_null()).alias(c.name)
        for c in table.columns
    ])
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
        sub = sub.join(parse_failed.select("index", pl.col(col.name).alias("_pf")), on="index", how="left")
        sub = sub.filter(~((pl.col("check") == "not_nullable") & pl.col("_pf")))
        msgs.append(sub.select("index", msg.alias("reason")))
    return pl.concat(msgs) if msgs else pl.DataFrame(schema={"index": pl.Int64, "reason": pl.String})


def _cross_column_reasons(table: Table) -> list[pl.Expr]:
    if table.name != "contacts":
        return []
    return [
        pl.when(pl.col("recipient_type").is_in(["emergency_contact", "third_party"]) & pl.col("recipient_id").is_null())
        .then(pl.lit("recipient_id is empty for a contact to a ") + pl.col("recipient_type"))
    ]


def _reference_reasons(table: Table, con: duckdb.DuckDBPyConnection, has_borrowers: bool) -> list[pl.Expr]:
    exprs = []
    for column, target, target_col in table.references:
        if target == "borrowers" and not has_borrowers:
            continue
        keys = frame(con, f"SELECT DISTINCT {target_col} FROM {target}").to_series()
        exprs.append(
            pl.when(pl.col(column).is_not_null() & ~pl.col(column).is_in(keys.implode()))
            .then(pl.lit(f"{column} ") + _quoted(pl.col(column)) + pl.lit(f" is not in {target}"))
        )
    return exprs


# ---------------------------------------------------------------- merging

def _key_text(table: Table) -> pl.Expr:
    return pl.concat_str([pl.col(f"raw_{k}").fill_null("") for k in table.key], separator="|")


def validate(table: Table, raw: pl.DataFrame, con: duckdb.DuckDBPyConnection,
             zone: str | None, has_borrowers: bool) -> pl.DataFrame:
    """The parsed frame with `_reasons` holding every reason each row fails (empty = valid)."""
    df = parse(table, raw, zone)
    vr = _value_reasons(table, df)
    extra = _cross_column_reasons(table) + _reference_reasons(table, con, has_borrowers)
    if "_unparsed" in df.columns:
        extra.append(pl.when(pl.col("_unparsed").is_not_null()).then(pl.lit("line is not a JSON object")))
    df = df.with_row_index("_idx").with_columns(pl.col("_idx").cast(pl.Int64))
    if extra:
        df = df.with_columns(pl.concat_list([pl.col(REASONS), *extra]).alias(REASONS))
    if vr.height:
        per_row = vr.group_by("index").agg(pl.col("reason").alias("_vr"))
        df = df.join(per_row, left_on="_idx", right_on="index", how="left").with_columns(
            pl.concat_list([pl.col(REASONS), pl.col("_vr").fill_null([])]).alias(REASONS)
        ).drop("_vr")
    return df.with_columns(pl.col(REASONS).list.drop_nulls()).sort("_idx")


def _same_row(table: Table, suffix: str) -> pl.Expr:
    return pl.all_horizontal([pl.col(c).eq_missing(pl.col(c + suffix)) for c in table.names])


def merge(table: Table, df: pl.DataFrame, con: duckdb.DuckDBPyConnection) -> tuple[TableCounts, pl.DataFrame]:
    """Decide each row's fate, write the accepted ones, and return the counts and rejected rows."""
    counts = TableCounts(read=df.height)
    key = list(table.key)
    valid = pl.col(REASONS).list.len() == 0
    # Conflicting copies of one key in this load: all rejected (we cannot know which is true).
    signature = pl.when(valid).then(pl.struct(table.names)).otherwise(pl.struct([f"raw_{c}" for c in table.names]).struct.rename_fields(table.names))
    keyed = pl.all_horizontal([pl.col(k).is_not_null() for k in key])
    df = df.with_columns(
        pl.when(keyed).then(signature.n_unique().over(key)).otherwise(1).alias("_variants"),
        pl.when(keyed).then(pl.len().over(key)).otherwise(1).alias("_copies"),
    )
    key_name = " + ".join(key)
    df = df.with_columns(
        pl.when(pl.col("_variants") > 1).then(
            pl.col(REASONS).list.concat(pl.concat_list(
                pl.lit(f"{key_name} ") + _quoted(_key_text(table))
                + pl.lit(" appears ") + pl.col("_copies").cast(pl.String)
                + pl.lit(" times in this load with different values (all rejected)")
            ))
        ).otherwise(pl.col(REASONS)).alias(REASONS)
    )
    valid_now = df.filter(pl.col(REASONS).list.len() == 0)
    # Identical copies in this load: the first is the candidate, the rest are duplicates.
    candidates = valid_now.unique(subset=key, keep="first", maintain_order=True)
    counts.duplicates += valid_now.height - candidates.height
    # Compare with what the store holds.
    con.register("_incoming_keys", candidates.select(key))
    stored = frame(con, f"SELECT s.* FROM {table.name} s SEMI JOIN _incoming_keys k USING ({', '.join(key)})")
    con.unregister("_incoming_keys")
    typed_cols = table.names
    if stored.height:
        stored = stored.select(key + [pl.col(c).alias(c + "_s") for c in typed_cols if c not in key]).with_columns(
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
        conflict_ids = changed.select("_idx")
        df = df.with_columns(
            pl.when(pl.col("_idx").is_in(conflict_ids.to_series().implode())).then(
                pl.col(REASONS).list.concat(pl.concat_list(
                    pl.lit(f"{key_name} ") + _quoted(_key_text(table))
                    + pl.lit(" is already stored with different values (an event never changes)")))
            ).otherwise(pl.col(REASONS)).alias(REASONS)
        )
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
    rejected = df.filter(pl.col(REASONS).list.len() > 0)
    counts.rejected = rejected.height
    values = [f"raw_{c}" for c in table.names] + [
        c for c in df.columns if not c.startswith(("raw_", "_")) and c not in table.names
    ] + (["_unparsed"] if "_unparsed" in df.columns else [])
    rej = rejected.select(
        pl.lit(table.name).alias("table"),
        pl.col(FILE).alias("source_file"),
        pl.col(ROW).alias("row"),
        _key_text(table).alias("key"),
        pl.col(REASONS).list.join("; ").alias("reasons"),
        pl.struct([pl.col(c).alias(c.removeprefix("raw_")) for c in values]).struct.json_encode().alias("values"),
    )
    assert counts.read == counts.loaded + counts.updated + counts.duplicates + counts.rejected, counts
    return counts, rej


# ---------------------------------------------------------------- the load

def load_dataset(con: duckdb.DuckDBPyConnection, data_dir: str | Path, *, timezone_name: str | None = None,
                 encoding: str = "utf-8") -> LoadResult:
    """Load a dataset directory into the store in one transaction."""
    root = Path(data_dir)
    if timezone_name is not None and not is_zone(timezone_name):
        raise LoadError(f"--timezone {timezone_name!r} is not an IANA time zone name (e.g. Asia/Shanghai)")
    files = discover(root)
    for name, t in TABLES.items():
        if t.required_table and name not in files:
            has_rows = scalar(con, f"SELECT count(*) > 0 FROM {name}")
            if not has_rows:
                raise LoadError(f"{root}: required table {name} is missing (expected {name}.csv/.parquet/.jsonl or {name}/)")
    raw = {name: read_table(TABLES[name], fs, root, encoding) for name, fs in files.items()}
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
            checked = validate(table, raw[name], con, timezone_name, has_borrowers)
            counts, rej = merge(table, checked, con)
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
