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
    text: str | None  # the trimmed text, where the raw value is text (the column `_t:<name>`)
    typed: str        # the typed value, as parse.py makes it (the column `_v:<name>`)
    ok: str           # true only where the value is certainly valid (over the two columns above)


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _trimmed(raw: str, p: Params) -> str:
    """parse.py's stripped text with blanks as null (Unicode White_Space at both ends).

    trim() with a set of characters costs ten times a copy: the first and
    last code points are tested first (ord; a string's [-1] is its last code
    point), and only a value that may be padded or blank is trimmed. The test
    may let through more than it must (any control character), never less.
    """
    first, last = f"ord({raw})", f"ord({raw}[-1])"  # -1 for ''
    return (f"CASE WHEN {first} < 33 OR {last} < 33 OR {_wide_space(first, p)} OR {_wide_space(last, p)} "
            f"THEN nullif(trim({raw}, {p.add('wschars', WHITESPACE)}), '') ELSE {raw} END")


def _wide_space(code: str, p: Params) -> str:
    """Whether a code point is white space above ASCII's; the list is searched only for a code point
    beyond the first such (most text is ASCII: the list search cost a third of the contacts' staging)."""
    wide = [ord(c) for c in WHITESPACE if ord(c) > 32]
    return f"({code} >= {p.add('wsmin', min(wide))} AND list_contains({p.add('ws', wide)}, {code}))"


def _value(col: Col, raw: str, t: str, raw_type: str, p: Params, zones: list[str]) -> tuple[str, str | None]:
    """(typed value, its form is fine) for one raw type; the form is None where this type is deferred.

    `t` names the column of the trimmed text (`_trimmed`), made once in an inner query.
    """
    kind = col.kind
    if raw_type == TEXT:
        if col.name == "content":  # message text is kept as written; only a blank one is empty
            # (a blank text is empty or starts with white space: the first code point is tested first)
            first = f"ord({raw})"
            return (f"CASE WHEN ({first} < 33 OR {_wide_space(first, p)}) "
                    f"AND regexp_full_match({raw}, '{_WS_CLASS}*') THEN NULL ELSE {raw} END", "true")
        if kind == "enum":  # the usual value is canonical already; ASCII only, as DuckDB and Polars
            enum = p.add("enum", list(col.enum))  # lower-case some other letters differently
            return (f"CASE WHEN list_contains({enum}, {raw}) THEN {raw} ELSE lower({t}) END",
                    f"CASE WHEN list_contains({enum}, {raw}) THEN true ELSE regexp_full_match({t}, '[A-Za-z_]+') "
                    f"AND list_contains({enum}, lower({t})) END")
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
    """One column's trimmed text, typed value and certainly-valid test (`raw` None: the file has no such column).

    Three layers, so that each is computed once per row: the text over the
    raw column, the typed value over the text, the test over both.
    """
    target = SQL_TYPE[col.kind]
    if raw is None:
        return Rendered(None, f"CAST(NULL AS {target})", "false" if col.required else "true")
    text = _trimmed(raw, p) if raw_type == TEXT and col.name != "content" else None
    t, v = quote(f"_t:{col.name}"), quote(f"_v:{col.name}")
    typed, form = _value(col, raw, t, raw_type or "", p, zones)
    typed = f"CAST({typed} AS {target})"
    if form is None:  # deferred to parse.py: only an empty optional value is certainly fine
        return Rendered(text, typed, "false" if col.required else f"{raw} IS NULL")
    # An enum's form test is its whole check (and implies a value); the others need the typed value.
    valid = [form] if col.kind == "enum" else [form, f"{v} IS NOT NULL"]
    if col.kind == "date":
        valid.append(f"{v} BETWEEN {p.add('dmin', DATE_MIN)} AND {p.add('dmax', DATE_MAX)}")
    if col.kind == "timestamp":
        valid.append(f"{v} BETWEEN {p.add('tmin', _utc(TS_MIN))} AND {p.add('tmax', _utc(TS_MAX))}")
    if col.min is not None:
        valid.append(f"{v} >= {p.add('min', col.min)}")
    if col.gt is not None:
        valid.append(f"{v} > {p.add('gt', col.gt)}")
    ok = " AND ".join(f"({c})" for c in valid)
    if col.required:
        return Rendered(text, typed, ok)
    if col.kind == "str" or col.name == "content":  # any text is fine, and blank is empty
        return Rendered(text, typed, "true")
    blank = f" OR {t} IS NULL" if text else ""
    return Rendered(text, typed, f"({raw} IS NULL OR ({ok}){blank})")


def _utc(t: datetime) -> datetime:
    return t.astimezone(timezone.utc)


WORKING = ("_t:", "_v:", "_idx")  # names of the query's own columns; a file with such a column is not taken


def render_table(table: Table, raw: dict[str, tuple[str, str]], zones: list[str], source: str,
                 extra: str = "") -> tuple[str, Params]:
    """A query over `source` (a reader call) giving the table's typed columns and `_valid`, and its parameters.

    `raw` maps each §1 column the file has to (quoted column, DuckDB type);
    `extra` adds columns of the source's own (a row number) to the result.
    """
    p = Params()
    cols = {c.name: render_column(c, *raw.get(c.name, (None, None)), p, zones) for c in table.columns}
    oks = [f"coalesce({r.ok}, false)" for r in cols.values() if r.ok != "true"]
    for column, other, values in table.required_when:
        oks.append(f"NOT coalesce(list_contains({p.add('when', list(values))}, {quote('_v:' + other)}) "
                   f"AND {quote('_v:' + column)} IS NULL, false)")
    texts = "".join(f", {r.text} AS {quote('_t:' + n)}" for n, r in cols.items() if r.text)
    typed = ", ".join(f"{r.typed} AS {quote('_v:' + n)}" for n, r in cols.items())
    vs = ", ".join(quote("_v:" + n) for n in cols)
    names = ", ".join(f"{quote('_v:' + n)} AS {quote(n)}" for n in cols)
    # The outer layer holds only the working columns, so a §1 name there means the typed value.
    sql = (f"SELECT {names}, * EXCLUDE ({vs}) FROM ("
           f"SELECT {vs}{extra}, {' AND '.join(oks) or 'true'} AS _valid "
           f"FROM (SELECT *, {typed} FROM (SELECT *{texts} FROM {source})))")
    return sql, p
