"""Every reason a row fails on its own, as Spark column expressions rendered from `audit.schemas.TABLES`.

The same table of columns (kind, required, enum, min, gt) the DuckDB load
validates with, and the same words: a reason here reads exactly as in
rejected.csv from the DuckDB engine. Reasons that need other rows
(references, repeated keys) are found by account.py.
"""

from __future__ import annotations

from ..errors import LoadError
from ..ingest.parse import _KIND_WORD, _OUTSIDE, _OUTSIDE_TS, _TS_OFFSET, _TS_SHAPE, TS_MAX, TS_MIN
from ..ingest.read import UNPARSED
from ..schemas import Table
from ..timezones import known_zones
from .read import FILE, ORD, ROW

SPARK_TYPE = {"str": "string", "enum": "string", "zone": "string", "int": "bigint",
              "decimal": "decimal(18,2)", "date": "date", "timestamp": "timestamp"}
OWN = "_own"      # the reasons a row fails on its own, "; "-joined ('' for none)
NAIVE = "_naive:"  # per timestamp column: the text of a wall-clock value, where there is one


def _F():
    from pyspark.sql import functions as F

    return F


def blank_to_null(c):
    F = _F()
    return F.when(c.rlike(r"(?U)^\s*$"), F.lit(None)).otherwise(c)


def stripped(c):
    """Trimmed of Unicode white space, blanks as null (Polars' strip_chars, as the DuckDB load)."""
    F = _F()
    s = F.regexp_replace(c, r"(?U)^\s+|\s+$", "")
    return F.when(s == "", F.lit(None)).otherwise(s)


def quoted(c):
    F = _F()
    return F.concat(F.lit("'"), F.substring(c, 1, 60), F.lit("'"))


def as_text(c, dtype: str):
    """A value as the DuckDB load writes it in rejected.csv: aware instants in UTC with +00:00."""
    F = _F()
    if dtype in ("timestamp", "timestamp_ntz"):
        micros = F.unix_micros(c.cast("timestamp")) if dtype == "timestamp" else F.unix_micros(
            F.to_utc_timestamp(c.cast("timestamp"), "UTC"))
        frac = F.pmod(micros, F.lit(1_000_000))
        fraction = F.when(frac == 0, F.lit("")).otherwise(F.concat(F.lit("."), F.lpad(frac.cast("string"), 6, "0")))
        text = F.concat(F.date_format(c, "yyyy-MM-dd'T'HH:mm:ss"), fraction,
                        F.lit("+00:00" if dtype == "timestamp" else ""))
        return F.when(c.isNotNull(), text)
    if dtype == "date":
        return F.date_format(c, "yyyy-MM-dd")
    if dtype.startswith(("struct", "array", "map")):
        return F.to_json(c)
    return c.cast("string")


def _integral(dtype: str) -> bool:
    return dtype in ("bigint", "int", "smallint", "tinyint")


def _timestamp(name: str, t, zone: str | None, stage: list):
    """(UTC instant, wall-clock flag, problem) for timestamp text: the shapes the DuckDB load accepts.

    The normalised text and its two parses become columns of their own
    (`stage`), so that the expressions that read them stay small.
    """
    F = _F()
    s = F.regexp_replace(F.regexp_replace(t, r"^([0-9]{4}-[0-9]{2}-[0-9]{2}) ", "$1T"), "Z$", "+00:00")
    stage.append(s.alias(f"_s:{name}"))
    s = F.col(f"`_s:{name}`")
    shape = s.rlike(_TS_SHAPE) & ~s.rlike(r"T[0-9]{2}:[0-9]{2}:[6-9][0-9]")
    has_offset = s.rlike(_TS_OFFSET)
    colon = F.regexp_replace(s, r"([+-][0-9]{2})([0-9]{2})$", "$1:$2")  # %:z reads +0800 as +08:00
    aware = F.coalesce(F.try_to_timestamp(colon, F.lit("yyyy-MM-dd'T'HH:mm:ss[.SSSSSSSSS]XXX")),
                       F.try_to_timestamp(colon, F.lit("yyyy-MM-dd'T'HH:mmXXX")))
    wall = F.coalesce(F.try_to_timestamp(s, F.lit("yyyy-MM-dd'T'HH:mm:ss[.SSSSSSSSS]")),
                      F.try_to_timestamp(s, F.lit("yyyy-MM-dd'T'HH:mm")))
    return [F.when(shape & has_offset, aware).alias(f"_aware:{name}"),
            F.when(shape & ~has_offset, wall).alias(f"_wall:{name}")]


def _instant(name: str, t, zone: str | None):
    """From the staged parses: the instant, the wall-clock flag and the clock-change problem."""
    F = _F()
    aware, wall = F.col(f"`_aware:{name}`"), F.col(f"`_wall:{name}`")
    naive = wall.isNotNull()
    if zone:
        utc = F.to_utc_timestamp(wall, zone)
        exists = F.from_utc_timestamp(utc, zone) == wall
        v = F.coalesce(aware, F.when(exists, utc))
        gap = naive & ~exists
    else:
        v, gap = aware, F.lit(False)
    words = F.when(gap, F.concat(F.lit(f"{name} "), quoted(t), F.lit(f" does not exist in {zone} (clock change)")))
    return v, naive, words


def parse(table: Table, df, zone: str | None):
    """The frame with typed columns under the spec names, `raw_<name>` as text, and OWN reasons.

    `df` holds the columns as read (text, or the types a Parquet file gives);
    absent columns are empty. Built in a few projections (text, parses,
    values, reasons), each reading the columns of the one before.
    """
    F = _F()
    types = dict(df.dtypes)
    zones = sorted(known_zones()) if any(c.kind == "zone" for c in table.columns) else []
    extras = [F.col(f"`{c}`").cast("string").alias(c) if not types[c].startswith(("struct", "array", "map"))
              else F.to_json(F.col(f"`{c}`")).alias(c)
              for c in df.columns if c.startswith("extra:") or c == UNPARSED]
    place = [F.col(FILE), F.col(ORD), F.col(ROW)]
    # 1. Each column as text (raw_<name>), the natively typed ones also as read (_n:<name>), and stripped (_t:).
    first, native = [], {}
    for col in table.columns:
        dtype = types.get(col.name)
        raw = F.col(f"`{col.name}`") if dtype else F.lit(None).cast("string")
        dtype = dtype or "string"
        first.append(as_text(raw, dtype).alias(f"raw_{col.name}"))
        if dtype != "string":
            first.append(raw.alias(f"_n:{col.name}"))
            native[col.name] = dtype
    d = df.select(*first, *extras, *place)
    text = [F.col(f"`{c}`") for c in d.columns]
    stage = []
    for col in table.columns:
        stage.append(stripped(F.col(f"raw_{col.name}")).alias(f"_t:{col.name}"))
    d = d.select(*text, *stage)
    # 2. Timestamp text parsed (its normal form, then the aware and wall-clock readings).
    stage, parses = [], []
    for col in table.columns:
        if col.kind == "timestamp" and col.name not in native:
            parses += _timestamp(col.name, F.col(f"`_t:{col.name}`"), zone, stage)
    if stage:
        d = d.select("*", *stage).select("*", *parses)
    # 3. Typed values and each column's parse problem.
    typed, problems, naive_cols = [], [], []
    for col in table.columns:
        name, kind = col.name, col.kind
        dtype = native.get(name, "string")
        raw_text, t = F.col(f"raw_{name}"), F.col(f"`_t:{name}`")
        nat = F.col(f"`_n:{name}`") if name in native else None
        problem = None
        if kind == "timestamp" and dtype == "timestamp":
            v = nat
        elif kind == "timestamp" and dtype == "timestamp_ntz":
            if zone:
                utc = F.to_utc_timestamp(nat.cast("timestamp"), zone)
                ok = F.from_utc_timestamp(utc, zone) == nat.cast("timestamp")
                v = F.when(ok, utc)
                problem = F.when(nat.isNotNull() & ~ok, F.concat(
                    F.lit(f"{name} "), quoted(raw_text), F.lit(f" does not exist in {zone} (clock change)")))
            else:
                v = nat.cast("timestamp")
            naive_cols.append(F.when(nat.isNotNull(), raw_text).alias(NAIVE + name))
        elif kind == "date" and dtype == "date":
            v = nat
        elif kind == "int" and _integral(dtype):
            v = nat.cast("bigint")
        elif name == "content":
            v = blank_to_null(raw_text)
        elif kind == "str":
            v = t
        elif kind == "enum":
            v = F.lower(t)
        else:
            gap = None
            if kind == "int":
                v = F.when(t.rlike(r"^[+-]?[0-9]{1,18}(\.0+)?$"),
                           F.regexp_replace(t, r"\.0+$", "").try_cast("bigint"))
            elif kind == "decimal":
                v = F.when(t.rlike(r"^[+-]?[0-9]{1,15}(\.[0-9]{1,2}0*)?$"), t.try_cast("decimal(18,2)"))
            elif kind == "date":
                v = F.when(t.rlike(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"), F.try_to_date(t, "yyyy-MM-dd"))
            elif kind == "timestamp":
                v, naive, gap = _instant(name, t, zone)
                naive_cols.append(F.when(naive, t).alias(NAIVE + name))
            elif kind == "zone":
                v = F.when(t.isin(zones), t)
            else:  # pragma: no cover - schema kinds are closed
                raise AssertionError(kind)
            words = F.concat(F.lit(f"{name} "), quoted(t), F.lit(f" is not {_KIND_WORD[kind]}"))
            if kind in ("date", "timestamp"):  # year 0 parses in the DuckDB load, then is out of range
                outside = _OUTSIDE_TS if kind == "timestamp" else _OUTSIDE
                words = F.when(t.rlike("^0000-"), F.concat(F.lit(f"{name} "), quoted(raw_text), F.lit(outside))) \
                    .otherwise(words)
            if gap is not None:
                words = F.coalesce(gap, words)
            problem = F.when(t.isNotNull() & v.isNull(), words)
        typed.append(v.cast(SPARK_TYPE[kind]).alias(f"_v:{name}"))
        problems.append((problem if problem is not None else F.lit(None).cast("string")).alias(f"_p:{name}"))
    d = d.select(*[F.col(f"raw_{c}") for c in table.names], *[F.col(f"`{c}`") for c in d.columns
                                                               if c.startswith("extra:") or c == UNPARSED],
                 *place, *[F.col(f"`_t:{c}`") for c in table.names], *typed, *problems, *naive_cols)
    # 4. Out-of-range instants, then every reason in the DuckDB load's order: parse, value, cross-column.
    final, parse_why, value_why = [], [], []
    for col in table.columns:
        name = col.name
        v, problem, raw_text = F.col(f"`_v:{name}`"), F.col(f"`_p:{name}`"), F.col(f"raw_{name}")
        if col.kind == "timestamp":
            out = v.isNotNull() & ((v < F.lit(TS_MIN)) | (v > F.lit(TS_MAX)))
            problem = F.when(out, F.concat(F.lit(f"{name} "), quoted(raw_text), F.lit(_OUTSIDE_TS))).otherwise(problem)
            v = F.when(~out | v.isNull(), v)
        final.append(v.alias(name))
        parse_why.append(problem)
        value_why.extend(_value_reasons(col, v, raw_text))
    keep = [F.col(f"`{c}`") for c in d.columns if c.startswith(("raw_", "extra:", NAIVE)) or c in (UNPARSED, FILE, ORD, ROW)]
    d = d.select(*final, *keep, F.concat_ws("; ", *parse_why, *value_why).alias("_own1"))
    cross = []
    if table.name == "contacts":
        rt = F.col("recipient_type")
        cross.append(F.when(rt.isin("emergency_contact", "third_party") & F.col("recipient_id").isNull(),
                            F.concat(F.lit("recipient_id is empty for a contact to a "), rt)))
    if UNPARSED in types:
        cross.append(F.when(F.col(f"`{UNPARSED}`").isNotNull(), F.lit("line is not a JSON object")))
    return d.select("*", F.concat_ws("; ", F.when(F.col("_own1") != "", F.col("_own1")), *cross)
                    .alias(OWN)).drop("_own1")


def _value_reasons(col, v, raw_text) -> list:
    """The pandera value schema's checks (schemas.value_schema), worded as check.py words its failures."""
    F = _F()
    out = []
    if col.required:  # a value given but not parsed has its reason already
        out.append(F.when(v.isNull() & blank_to_null(raw_text).isNull(), F.lit(f"{col.name} is empty")))
    if col.enum:
        out.append(F.when(v.isNotNull() & ~v.isin(list(col.enum)), F.concat(
            F.lit(f"{col.name} "), quoted(v), F.lit(f" is not one of: {', '.join(col.enum)}"))))
    if col.min is not None:
        out.append(F.when(v < F.lit(col.min), F.concat(
            F.lit(f"{col.name} "), v.cast("string"), F.lit(f" is below {col.min}"))))
    if col.gt is not None:
        out.append(F.when(v <= F.lit(col.gt), F.concat(
            F.lit(f"{col.name} "), v.cast("string"), F.lit(f" is not greater than {col.gt}"))))
    return out


def wall_clock_without_zone(table: Table, examples: dict[str, str | None]) -> None:
    """Naive timestamps without --timezone stop the load, as SPEC §1 says (never guess a zone)."""
    for name, example in examples.items():
        if example is not None:
            raise LoadError(f"{table.name}.{name} has timestamps without a UTC offset "
                            f"(e.g. {example!r}); pass --timezone ZONE to say which zone they are in")
