"""The §1 checks of `audit/schemas.py` rendered as DuckDB SQL, for the one-pass load.

For each column, given the type a file's reader gives it, this renders the
typed value (as parse.py would make it) and a boolean that is true only
where the value is certainly valid: every check pandera's value schema
makes (required, enum, min, gt), the form parse.py accepts (integers,
amounts to the cent, dates, ISO timestamps with an offset, IANA zones) and
the cross-column rule. A row where it is false is handed to parse.py and
pandera, which word the reasons; so the SQL never needs to say *why*, and
never may pass a value they would reject (tests/test_sql_checks.py feeds
both every boundary value). Enum lists, bounds and zones are bound as
parameters, never pasted into the SQL text.

Values the SQL leaves to parse.py although they may be valid ("deferred"):
timestamps without an offset (wall-clock time needs the zone rules of
parse.py), fractions of a second beyond microseconds, and raw types other
than text, integers, decimals, dates and absolute timestamps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from ..schemas import SQL_TYPE, Col, Table
from .parse import DATE_MAX, DATE_MIN, TS_MAX, TS_MIN

# Unicode White_Space: what Polars' strip_chars() and regex \s take (parse.py trims with them).
WHITESPACE = ("\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
              "\u200a\u2028\u2029\u202f\u205f\u3000")
_WS_CLASS = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in WHITESPACE) + "]"

INTEGER_TYPES = frozenset({"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER"})
TEXT = "VARCHAR"
# The shapes parse.py accepts, anchored whole (regexp_full_match); see parse.py for the Polars side.
INT_SHAPE = r"[+-]?[0-9]{1,18}(\.0+)?"
DECIMAL_SHAPE = r"[+-]?[0-9]{1,15}(\.[0-9]{1,2}0*)?"
DATE_SHAPE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
# An instant with an offset: hours 00-23, minutes and seconds 00-59, at most microseconds.
TS_SHAPE = (r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
            r"(Z|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])")
AMOUNT_LIMIT = 10**15  # DECIMAL_SHAPE allows at most 15 digits before the point


@dataclass
class Params:
    """Named parameters of one rendered query ($name), so that no value is pasted into SQL."""
    values: dict[str, object] = field(default_factory=dict)

    def add(self, hint: str, value: object) -> str:
        name = f"p{len(self.values)}_{hint}"
        self.values[name] = value
        return f"${name}"


@dataclass(frozen=True)
class Rendered:
    typed: str  # the typed value, as parse.py makes it
    ok: str     # true only where the value is certainly valid


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _trimmed(raw: str, p: Params) -> str:
    """parse.py's stripped text with blanks as null (Unicode White_Space at both ends).

    trim() with a set of characters costs ten times a copy; a test of both
    ends first leaves the usual, unpadded value as it is.
    """
    edge = p.add("edge", f"^{_WS_CLASS}|{_WS_CLASS}$")
    return (f"CASE WHEN regexp_matches({raw}, {edge}) OR {raw} = '' "
            f"THEN nullif(trim({raw}, {p.add('ws', WHITESPACE)}), '') ELSE {raw} END")


def _value(col: Col, raw: str, raw_type: str, p: Params, zones: list[str]) -> tuple[str, str | None]:
    """(typed value, its form is fine) for one raw type; the form is None where this type is deferred."""
    kind = col.kind
    if raw_type == TEXT:
        if col.name == "content":  # message text is kept as written; only a blank one is empty
            return f"CASE WHEN regexp_full_match({raw}, '{_WS_CLASS}*') THEN NULL ELSE {raw} END", "true"
        if kind == "enum":  # the usual value is canonical already; ASCII only, as DuckDB and Polars
            enum = p.add("enum", list(col.enum))  # lower-case some other letters differently
            t = _trimmed(raw, p)
            return (f"CASE WHEN list_contains({enum}, {raw}) THEN {raw} ELSE lower({t}) END",
                    f"CASE WHEN list_contains({enum}, {raw}) THEN true ELSE regexp_full_match({t}, '[A-Za-z_]+') "
                    f"AND list_contains({enum}, lower({t})) END")
        t = _trimmed(raw, p)
        if kind == "str":
            return t, "true"
        if kind == "zone":
            return t, f"list_contains({p.add('zones', zones)}, {t})"
        if kind == "int":
            return (f"CASE WHEN regexp_full_match({t}, '[+-]?[0-9]+') THEN TRY_CAST({t} AS BIGINT) "
                    f"ELSE TRY_CAST(regexp_replace({t}, '\\.0+$', '') AS BIGINT) END",
                    f"regexp_full_match({t}, {p.add('int', INT_SHAPE)})")
        if kind == "decimal":
            return f"TRY_CAST({t} AS DECIMAL(18,2))", f"regexp_full_match({t}, {p.add('dec', DECIMAL_SHAPE)})"
        if kind == "date":
            return (f"TRY_CAST({t} AS DATE)", f"regexp_full_match({t}, {p.add('date', DATE_SHAPE)})")
        if kind == "timestamp":  # the shape is parse.py's; the cast is strict on the calendar
            return f"TRY_CAST({t} AS TIMESTAMPTZ)", f"regexp_full_match({t}, {p.add('ts', TS_SHAPE)})"
        return "NULL", None
    if raw_type in INTEGER_TYPES:
        if kind in ("str", "int"):
            return f"CAST({raw} AS {SQL_TYPE[kind]})", "true"
        if kind == "decimal":
            return f"CAST({raw} AS DECIMAL(18,2))", f"abs({raw}) < {p.add('amount', AMOUNT_LIMIT)}"
        return "NULL", None
    if raw_type.startswith("DECIMAL(") and kind == "decimal":
        return (f"CAST({raw} AS DECIMAL(18,2))",
                f"abs({raw}) < {p.add('amount', AMOUNT_LIMIT)} AND {raw} = round({raw}, 2)")
    if raw_type == "DATE" and kind == "date":
        return raw, "true"
    if raw_type == "TIMESTAMP WITH TIME ZONE" and kind == "timestamp":
        return raw, "true"
    return "NULL", None


def render_column(col: Col, raw: str | None, raw_type: str | None, p: Params, zones: list[str]) -> Rendered:
    """The typed value and certainly-valid test of one column (`raw` None: the file has no such column)."""
    target = SQL_TYPE[col.kind]
    if raw is None:
        return Rendered(f"CAST(NULL AS {target})", "false" if col.required else "true")
    typed, form = _value(col, raw, raw_type or "", p, zones)
    typed = f"CAST({typed} AS {target})"
    if form is None:  # deferred to parse.py: only an empty optional value is certainly fine
        return Rendered(typed, "false" if col.required else f"{raw} IS NULL")
    # An enum's form test is its whole check (and implies a value); the others need the typed value.
    valid = [form] if col.kind == "enum" else [form, f"{typed} IS NOT NULL"]
    if col.kind == "date":
        valid.append(f"{typed} BETWEEN {p.add('dmin', DATE_MIN)} AND {p.add('dmax', DATE_MAX)}")
    if col.kind == "timestamp":
        valid.append(f"{typed} BETWEEN {p.add('tmin', _utc(TS_MIN))} AND {p.add('tmax', _utc(TS_MAX))}")
    if col.min is not None:
        valid.append(f"{typed} >= {p.add('min', col.min)}")
    if col.gt is not None:
        valid.append(f"{typed} > {p.add('gt', col.gt)}")
    ok = " AND ".join(f"({v})" for v in valid)
    if col.required:
        return Rendered(typed, ok)
    if col.kind == "str" or col.name == "content":  # any text is fine, and blank is empty
        return Rendered(typed, "true")
    blank = f" OR {_trimmed(raw, p)} IS NULL" if raw_type == TEXT else ""  # tested last: it costs most
    return Rendered(typed, f"({raw} IS NULL OR ({ok}){blank})")


def _utc(t: datetime) -> datetime:
    return t.astimezone(timezone.utc)


def render_table(table: Table, raw: dict[str, tuple[str, str]], zones: list[str]) -> tuple[dict[str, str], str, Params]:
    """Every column's typed SQL and the row's certainly-valid test (with the cross-column rules).

    `raw` maps each §1 column the file has to (SQL expression, DuckDB type).
    """
    p = Params()
    typed: dict[str, str] = {}
    oks: list[str] = []
    for col in table.columns:
        r = render_column(col, *raw.get(col.name, (None, None)), p, zones)
        typed[col.name] = r.typed
        if r.ok != "true":
            oks.append(f"coalesce({r.ok}, false)")
    for column, other, values in table.required_when:
        oks.append(f"NOT coalesce(list_contains({p.add('when', list(values))}, {typed[other]}) "
                   f"AND {typed[column]} IS NULL, false)")
    return typed, " AND ".join(oks) or "true", p
