"""Turn raw text (or a file's own types) into the spec's types, with a reason for each value that fails.

Kept apart from reading and from pandera's value checks: here a value's
*form* is judged (is it a timestamp, an amount, a date); check.py then judges
what a well-formed value may be.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import polars as pl

from ..errors import LoadError
from ..schemas import POLARS_TYPE, Table
from ..timezones import known_zones
from .read import BEYOND

# The instants accepted: a day inside the years 0001-9999 at both ends, so that
# an instant's local date is in those years in every zone (UTC offsets stay
# within a day: -12 to +14 hours today, -15:56 to +15:14 for year 1's local
# mean times), whichever path parsed it: text, Parquet, wall-clock time.
TS_MIN, TS_MAX = datetime(1, 1, 2, tzinfo=timezone.utc), datetime(9999, 12, 30, tzinfo=timezone.utc)
DATE_MIN, DATE_MAX = date(1, 1, 1), date(9999, 12, 31)

_TS_OFFSET = r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)$"
_TS_SHAPE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-5][0-9](\.[0-9]{1,9})?)?"


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


_OUTSIDE = " is outside the years 0001-9999"
_OUTSIDE_TS = _OUTSIDE + (" (instants from 0001-01-02 to 9999-12-30 UTC are accepted, "
                          "so that the local date is in those years in every zone)")
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
    msg = pl.when(e.str.contains(BEYOND)).then(pl.lit(f"{col.name} ") + _quoted(e) + pl.lit(_OUTSIDE)).otherwise(
        pl.lit(f"{col.name} ") + _quoted(e) + pl.lit(f" is not {_KIND_WORD[col.kind]}"))
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
        if col.kind in ("timestamp", "date"):  # beyond years 1-9999 a (local) date cannot be formed
            lo, hi, words = ((TS_MIN, TS_MAX, _OUTSIDE_TS) if col.kind == "timestamp"
                             else (DATE_MIN, DATE_MAX, _OUTSIDE))
            out_of_range = v.is_not_null() & ((v < lo) | (v > hi))
            if out_of_range.any():
                problem = pl.select(pl.when(pl.lit(out_of_range)).then(
                    pl.lit(f"{col.name} ") + _quoted(pl.lit(df[f"raw_{col.name}"])) + pl.lit(words)
                ).otherwise(pl.lit(problem))).to_series()
                v = pl.select(pl.when(pl.lit(out_of_range)).then(None).otherwise(pl.lit(v))).to_series()
        typed.append(v.cast(POLARS_TYPE[col.kind]).alias(col.name))
        if problem.null_count() < len(problem):
            reasons.append(pl.DataFrame({IDX: df[IDX], "reason": problem}).drop_nulls("reason"))
    return df.with_columns(typed), pl.concat(reasons) if reasons else pl.DataFrame(schema=NO_REASONS)
