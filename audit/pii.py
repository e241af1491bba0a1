"""Identifier detection and masking: the one place that knows SPEC §4 PII-UNMASKED and §5.

Everything here is a Polars expression over whole columns, because a nightly
audit scans millions of messages and per-row Python would dominate it.

Polars' regex engine has no look-around, so the boundary rules ("not preceded
or followed by a digit") come from extracting maximal runs (of digits and
single separators; of digits and Latin letters for ID numbers): a candidate
made of whole digit groups of a run has no digit next to it. Each candidate's
shape is then checked with anchored patterns, its checksum with arithmetic.
Offsets are characters of the NFKC-normalised text; `mask_text` keeps that
text's length, so the same offsets index the masked text too.

Masking is wider than detection: the rules judge what SPEC §4 defines, but
a report masks every run of 11+ digits whatever separates its groups, in
every text column it writes (`mask_frame`), ids and file names included.

A cheap test on the raw text (`_nfkc_digit_sources`) lets the ~95% of
messages that cannot hold an identifier skip NFKC and everything after it.

Reading of the spec where it is silent (also in tests/data/pii_corpus.jsonl):
- "digit" is ASCII 0-9 after NFKC (other scripts' digits are not digits here);
  "Latin letter" is a letter of Unicode script Latin (`é` counts, `中` not).
- Separators inside a 3-4-4 mobile or a grouped card may mix space and hyphen.
- Every span that satisfies a definition is a finding, so `6222 0212 3456 7890
  1234` holds two 16-digit candidates; a mobile's span takes the longest prefix
  (`+86 138 1234 5678` is one finding, not three).
- A null reference date counts as today (judge rather than skip).
"""

from __future__ import annotations

import datetime as _dt
import functools
from collections.abc import Iterable

import polars as pl

KINDS = ("id_number", "bank_card", "mobile")

# Letters of Unicode script Latin: the ID number's boundary class besides digits.
_LATIN_LETTER = r"\p{Latin}&&\p{L}"
_ID_WORD = rf"[0-9[{_LATIN_LETTER}]]+"
_ID_GAP = rf"[^0-9[{_LATIN_LETTER}]]"
_ID_SHAPE = r"[0-9]{17}[0-9Xx]"

# Every mobile, card and ID contains 11 digits shaped like this, so a text
# without it holds no identifier: the cheap test that spares most rows.
_ELEVEN = r"[0-9]{3}[ -]?[0-9]{4}[ -]?[0-9]{4}"
_RUN = r"[0-9]+(?:[ -][0-9]+)*"

_MOBILE_GROUP = r"^(?:86|0086)?1[3-9][0-9]{9}$"
_MOBILE_HEAD_GROUP = r"^(?:86|0086)?1[3-9][0-9]$"

# Masking is wider than detection (SEP): a run of 11+ digits is masked whatever
# separates its groups: runs of spaces (any Unicode space, tab), dashes (any
# Unicode dash, the minus sign), `. _ ( ) /`, and invisible format characters
# (a zero-width space between digits still shows a whole number). With an
# optional `+` before and an `X` after it is one token; the other two
# alternatives tile the rest.
_SEP_CHARS = r"\p{Zs}\t\p{Pd}\x{2212}\p{Cf}._()/"
_SEP = f"[{_SEP_CHARS}]"
_MIN_DIGITS = 11  # the shortest identifier (a mobile); every run this long is masked
_LONG_RUN = rf"[0-9](?:{_SEP}*[0-9]){{{_MIN_DIGITS - 1}}}"  # in NFKC text: a token that will be masked
_MASK_TOKENS = rf"\+?[0-9]+(?:{_SEP}+[0-9]+)*[Xx]?|[^0-9+]+|\+"
_FIXED_MASKS = (  # (pattern, replacement); at most one matches a given token
    (r"^([0-9]{6})[0-9]{8}([0-9]{3}[0-9Xx])$", "${1}********${2}"),  # ID-like: first 6, last 4
    (rf"^(\+?[0-9]{{3}}{_SEP}*)[0-9]{{4}}({_SEP}*[0-9]{{4}})$", "${1}****${2}"),  # 11 digits: first 3, last 4
    (rf"^((?:\+86|0086|86){_SEP}*1[3-9][0-9]{_SEP}*)[0-9]{{4}}({_SEP}*[0-9]{{4}})$", "${1}****${2}"),  # prefix kept
)
_GENERIC_MASK = (rf"^(?<head>\+?[0-9](?:{_SEP}*[0-9]){{3}})(?<middle>.*)"
                 rf"(?<tail>[0-9](?:{_SEP}*[0-9]){{2}}{_SEP}*[0-9Xx])$")

_LUHN_WIDTH = 20
_MIN_BIRTH = _dt.date(1900, 1, 1)


def nfkc(expr: pl.Expr) -> pl.Expr:
    """Full-width digits, letters, spaces and hyphens count as ASCII (SPEC §4).

    ASCII text is its own NFKC form, and Polars normalises every row (both
    branches of a when/then are computed), so ASCII rows are handed to the
    normaliser as empty strings: on report columns, mostly ASCII, this is
    ten times cheaper.
    """
    text = expr.cast(pl.String)
    wide = text.str.contains(r"[^\x00-\x7F]")
    return pl.when(wide).then(pl.when(wide).then(text).otherwise(pl.lit("")).str.normalize("NFKC")).otherwise(text)


# --------------------------------------------------------------------------- checksums


def gb11643_check_char(first17: pl.Expr) -> pl.Expr:
    """GB 11643-1999 check character of 17 digits.

    The weights are 2^k mod 11 and 13 = 2 (mod 11), so the weighted sum is
    2·N (mod 11) with N the digits read in base 13 (< 13^17, fits in Int64).
    """
    n = first17.str.to_integer(base=13, strict=False)
    check = (1 - 2 * (n % 11)) % 11
    return pl.when(check == 10).then(pl.lit("X")).otherwise(check.cast(pl.String))


def luhn_valid(digits: pl.Expr) -> pl.Expr:
    """Luhn check of a string of up to 20 ASCII digits, by integer arithmetic.

    The padded number is read as two 10-digit integers and each digit taken
    out with `//` and `%`: far cheaper than slicing strings 20 times.
    """
    padded = digits.str.zfill(_LUHN_WIDTH)
    halves = (padded.str.slice(10, 10).str.to_integer(strict=False),  # positions 0-9 from the right
              padded.str.slice(0, 10).str.to_integer(strict=False))   # positions 10-19
    total = pl.lit(0, dtype=pl.Int64)
    for position in range(_LUHN_WIDTH):
        d = halves[position // 10] // 10 ** (position % 10) % 10
        if position % 2 == 1:  # every second digit from the right is doubled
            d = d * 2 - (d >= 5).cast(pl.Int64) * 9
        total = total + d
    return (total % 10 == 0) & (digits.str.len_chars() <= _LUHN_WIDTH)


def _id_valid(value: pl.Expr, ref: pl.Expr) -> pl.Expr:
    birth = value.str.slice(6, 8).str.to_date("%Y%m%d", strict=False)
    return (
        (gb11643_check_char(value.str.slice(0, 17)) == value.str.slice(17, 1))
        & birth.is_not_null()
        & (birth >= _MIN_BIRTH)
        & (birth <= ref)
    )


# --------------------------------------------------------------------------- prefilter


@functools.cache
def _nfkc_table() -> tuple[pl.Series, pl.Series]:
    """Every non-ASCII code point and its NFKC form, by Polars' own normaliser (once per process)."""
    cps = [c for c in range(0x80, 0x110000) if not 0xD800 <= c <= 0xDFFF]
    chars = pl.Series(list(map(chr, cps)), dtype=pl.String)
    return chars, chars.str.normalize("NFKC")


@functools.cache
def _nfkc_digit_sources() -> str:
    """Regex class of non-ASCII characters whose NFKC form holds a digit, space or hyphen.

    A pattern made only of ASCII digits, spaces and hyphens (`_ELEVEN`) can
    match the NFKC text only if it matches the raw text or the raw text holds
    one of these: ASCII digits, space and hyphen never compose with what
    follows, and no character normalises to nothing (both pinned by a test).
    Built once per process with Polars' own normaliser, so it follows Polars'
    Unicode version.
    """
    chars, norm = _nfkc_table()
    hits = chars.filter(norm.str.contains(r"[0-9 \-]"))
    return "[" + "".join(f"\\x{{{ord(c):X}}}" for c in hits) + "]"


@functools.cache
def _mask_prefilter() -> str:
    """Regex on the raw text that every text holding a run to mask matches (the same idea for SEP).

    Each digit or separator of a run in the NFKC text comes from a raw
    character whose NFKC form holds it. So the raw text either holds such a
    run itself, with separators widened to the characters whose NFKC form is
    made of separators only (`（` `．` `／`), or a character whose NFKC form
    holds a digit, or a separator among other things (`⑴`, `¨`): rare, and
    those rows take the slow path.
    """
    chars, norm = _nfkc_table()
    all_sep = norm.str.contains(f"^{_SEP}+$")
    wide_sep = chars.filter(all_sep & ~chars.str.contains(f"^{_SEP}$"))
    sources = chars.filter(norm.str.contains("[0-9]") | (norm.str.contains(_SEP) & ~all_sep))

    def escaped(series: pl.Series) -> str:
        return "".join(f"\\x{{{ord(c):X}}}" for c in series)

    long_run = f"[0-9](?:[{_SEP_CHARS}{escaped(wide_sep)}]*[0-9]){{{_MIN_DIGITS - 1}}}"
    return f"{long_run}|[{escaped(sources)}]"


# --------------------------------------------------------------------------- detection


def _runs(lf: pl.LazyFrame, run: str, gap: str) -> pl.LazyFrame:
    """One row per maximal `run` (its text, span, and the `gap` text before it).

    Each match of `gap*run` ends where a run ends, so the running sum of the
    match lengths gives every run's offset without a position-aware regex.
    """
    return (
        lf.with_columns(__m=pl.col("__t").str.extract_all(f"{gap}*{run}"))
        .with_columns(__tend=pl.col("__m").list.eval(pl.element().str.len_chars().cum_sum()))
        .explode(["__m", "__tend"])
        .drop_nulls("__m")
        .with_columns(__tok=pl.col("__m").str.extract(f"({run})$", 1))
        .with_columns(
            __tend=pl.col("__tend").cast(pl.Int64),
            __tstart=(pl.col("__tend") - pl.col("__tok").str.len_chars()).cast(pl.Int64),
            __gap=pl.col("__m").str.head(pl.col("__m").str.len_chars() - pl.col("__tok").str.len_chars()),
            __first=pl.col("__tend") == pl.col("__m").str.len_chars(),
        )
    )


def _finding(kind: str, start: pl.Expr, end: pl.Expr, value: pl.Expr) -> list[pl.Expr]:
    return [
        pl.col("__row"),
        pl.col("__key"),
        pl.lit(kind).alias("kind"),
        start.cast(pl.Int64).alias("start"),
        end.cast(pl.Int64).alias("end"),
        value.alias("value"),
    ]


def _find_ids(lf: pl.LazyFrame) -> pl.LazyFrame:
    """An ID number is a whole run of digits and Latin letters, so both boundaries hold."""
    value = pl.col("__tok").str.to_uppercase()
    return (
        _runs(lf.filter(pl.col("__t").str.contains(_ID_SHAPE)), _ID_WORD, _ID_GAP)
        .filter(pl.col("__tok").str.contains(f"^{_ID_SHAPE}$"))
        .filter(_id_valid(value, pl.col("__ref")))
        .select(_finding("id_number", pl.col("__tstart"), pl.col("__tend"), value))
    )


def _find_cards_and_mobiles(lf: pl.LazyFrame, kinds: set[str]) -> list[pl.LazyFrame]:
    """Candidates are consecutive digit groups of one maximal run.

    Groups are maximal digit sequences, so a candidate made of whole groups is
    never preceded or followed by a digit; only `+86` needs the character
    before the run.
    """
    runs = (
        _runs(lf, _RUN, "[^0-9]")
        .filter(pl.col("__tok").str.contains(_ELEVEN))
        .with_columns(
            # `+` right before the run, itself not after a digit: a one-character
            # gap follows the previous run, unless the run opens the text
            __plus=pl.col("__gap").str.ends_with("+")
            & ((pl.col("__gap").str.len_chars() >= 2) | pl.col("__first")),
            __g=pl.col("__tok").str.extract_all("[0-9]+"),
        )
        .with_row_index("__run")
        .explode("__g")
        # end of each group inside the run: groups are joined by one separator
        .with_columns(__ge=(pl.col("__g").str.len_chars() + 1).cum_sum().over("__run") - 1)
    )

    def neighbour(name: str, k: int) -> pl.Expr:
        """The column `k` groups further on (back, if negative) in the same run, else null."""
        same_run = pl.col("__run").shift(-k) == pl.col("__run")
        return pl.when(same_run).then(pl.col(name).shift(-k))

    neighbours = {f"__g{k}": neighbour("__g", k) for k in (1, 2, 3, 4)}
    neighbours |= {f"__ge{k}": neighbour("__ge", k) for k in (2, 3, 4)}
    neighbours |= {"__gp": neighbour("__g", -1), "__gpp": neighbour("__g", -2), "__gpe": neighbour("__ge", -1)}
    # materialised once: the mobile and the three card shapes all read it
    groups = runs.with_columns(**neighbours).collect().lazy()

    def length(name: str) -> pl.Expr:
        return pl.col(name).str.len_chars()

    def at(name: str) -> pl.Expr:  # offset in the text of a run-relative offset
        return pl.col("__tstart") + pl.col(name).cast(pl.Int64)

    g, g1, g2, g3, g4 = (pl.col(c) for c in ("__g", "__g1", "__g2", "__g3", "__g4"))
    g_start = at("__ge") - length("__g")
    out: list[pl.LazyFrame] = []

    if "mobile" in kinds:
        whole = g.str.contains(_MOBILE_GROUP)
        split = g.str.contains(_MOBILE_HEAD_GROUP) & (length("__g1") == 4) & (length("__g2") == 4)
        glued = length("__g") - pl.when(whole).then(11).otherwise(3)  # 0, 2 or 4 prefix digits
        gp = pl.col("__gp")
        plus_before_run = pl.col("__plus").cast(pl.Int64)
        start = (
            pl.when(glued > 0)
            .then(g_start - ((glued == 2) & pl.col("__gp").is_null()).cast(pl.Int64) * plus_before_run)
            .when(gp.is_in(["86", "0086"]))
            .then(
                at("__gpe")
                - length("__gp")
                - ((gp == "86") & pl.col("__gpp").is_null()).cast(pl.Int64) * plus_before_run
            )
            .otherwise(g_start)
        )
        out.append(
            groups.filter(whole | split).select(
                _finding(
                    "mobile",
                    start,
                    pl.when(whole).then(at("__ge")).otherwise(at("__ge2")),
                    pl.when(whole).then(g.str.tail(11)).otherwise(g.str.tail(3) + g1 + g2),
                )
            )
        )

    if "bank_card" in kinds:
        leading = g.str.contains("^[3-6]")
        four = leading & (length("__g") == 4) & (length("__g1") == 4) & (length("__g2") == 4) & (length("__g3") == 4)
        cards = pl.concat(
            [
                groups.filter(leading & length("__g").is_between(16, 19)).select(
                    _finding("bank_card", g_start, at("__ge"), g)
                ),
                groups.filter(four).select(_finding("bank_card", g_start, at("__ge3"), g + g1 + g2 + g3)),
                groups.filter(four & length("__g4").is_between(1, 3)).select(
                    _finding("bank_card", g_start, at("__ge4"), g + g1 + g2 + g3 + g4)
                ),
            ]
        )
        out.append(cards.filter(luhn_valid(pl.col("value"))))
    return out


def _ref_date_expr(schema: pl.Schema, ref_date: str | None) -> pl.Expr:
    today = pl.lit(_dt.date.today())
    if ref_date is None:
        return today
    col, dtype = pl.col(ref_date), schema[ref_date]
    if dtype == pl.String:
        col = col.str.to_date("%Y-%m-%d")
    elif isinstance(dtype, pl.Datetime):
        col = col.dt.date()  # the calendar date in the column's own time zone
    elif dtype != pl.Date:
        col = col.cast(pl.Date)
    return col.fill_null(today)


def find_identifiers(
    frame: pl.DataFrame | pl.LazyFrame,
    *,
    key: str,
    text: str,
    ref_date: str | None = None,
    kinds: Iterable[str] = KINDS,
) -> pl.DataFrame:
    """Every full, valid identifier in `text` (SPEC §4 PII-UNMASKED), one row per (kind, span).

    Returns columns `key` (named as given), `kind`, `start`, `end` (end
    exclusive, characters of the NFKC text) and `value` (digits, upper-case X;
    a mobile's 11 digits without prefix), in input order then by position.
    """
    wanted = {kinds} if isinstance(kinds, str) else set(kinds)
    if unknown := wanted - set(KINDS):
        raise ValueError(f"unknown identifier kind(s) {sorted(unknown)}; expected some of {KINDS}")
    if key in ("kind", "start", "end", "value"):
        raise ValueError(f"key column {key!r} would clash with an output column; rename it first")
    lf = frame.lazy()
    schema = lf.collect_schema()
    base = (
        lf.select(
            __key=pl.col(key),
            __raw=pl.col(text).cast(pl.String),
            __ref=_ref_date_expr(schema, ref_date),
        )
        .with_row_index("__row")
        .filter(pl.col("__raw").str.contains(f"{_ELEVEN}|{_nfkc_digit_sources()}"))
        .with_columns(__t=nfkc(pl.col("__raw")))
        .filter(pl.col("__t").str.contains(_ELEVEN))
        .drop("__raw")
        .collect()
        .lazy()
    )
    parts: list[pl.LazyFrame] = []
    if "id_number" in wanted:
        parts.append(_find_ids(base))
    if wanted & {"bank_card", "mobile"}:
        parts.extend(_find_cards_and_mobiles(base, wanted))
    empty = pl.DataFrame(
        schema={"__row": pl.UInt32, "__key": schema[key], "kind": pl.String,
                "start": pl.Int64, "end": pl.Int64, "value": pl.String}
    ).lazy()
    return (
        pl.concat([empty, *parts], how="vertical_relaxed")
        .sort("__row", "start", "end", "kind")
        .drop("__row")
        .rename({"__key": key})
        .collect()
    )


# --------------------------------------------------------------------------- masking


def _mask_token(tok: pl.Expr) -> pl.Expr:
    """Mask one token if it is a run of 11+ digits; its length and separators are kept.

    Runs inside `list.eval` get no common-subexpression elimination, so each
    shape is one regex replacement that leaves every other token alone.
    """
    fixed = tok
    for pattern, replacement in _FIXED_MASKS:
        fixed = fixed.str.replace(pattern, replacement)
    parts = tok.str.extract_groups(_GENERIC_MASK)
    generic = (
        parts.struct.field("head")
        + parts.struct.field("middle").str.replace_all("[0-9]", "*")
        + parts.struct.field("tail")
    )
    short = tok.str.count_matches("[0-9]") < _MIN_DIGITS  # gap tokens hold no digit at all
    return pl.when(short).then(tok).when(fixed != tok).then(fixed).otherwise(generic)


def _masked_or_null(text: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(NFKC text, the same with its long runs masked), both null where the prefilter says no run.

    Only rows that may hold a long run pay for NFKC and tokenising.
    `list.eval` switches off common-subexpression elimination, so the test
    reads the raw text, and NFKC runs only on the rows it lets through.
    """
    maybe_long = nfkc(pl.when(text.str.contains(_mask_prefilter())).then(text))
    masked = maybe_long.str.extract_all(_MASK_TOKENS).list.eval(_mask_token(pl.element())).list.join("")
    return maybe_long, masked


def mask_text(expr: pl.Expr) -> pl.Expr:
    """NFKC text with every identifier-shaped number masked, valid or not (SPEC §5).

    Conservative on purpose, and wider than detection: reports must never
    carry a full ID, card or phone. Every run of 11+ digits, whatever
    separates its groups (SEP above), keeps a short prefix and the last four
    digits: 18-char ID-like `110101********123X`, 11-digit `138****5678` (a
    `+86`, `0086` or `86` prefix is kept), others `6222 **** **** 1234`.
    Each digit becomes one `*`, so the text keeps its length and finding offsets.
    """
    _, masked = _masked_or_null(expr.cast(pl.String))
    return pl.coalesce(masked, nfkc(expr))


def mask_kept(expr: pl.Expr) -> pl.Expr:
    """As `mask_text`, but a value with nothing to mask is returned as written (not NFKC).

    For values shown as they are (ids, file names): `Ｌ１` stays `Ｌ１`, while
    `１３８１２３４５６７８` becomes `138****5678`.
    """
    text = expr.cast(pl.String)
    normal, masked = _masked_or_null(text)
    # a long run is always masked, so this says whether masking changes the value;
    # `masked` is referenced once only, since a second reference would tokenise again
    return pl.when(normal.str.contains(_LONG_RUN)).then(masked).otherwise(text)


def mask_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Every String column through `mask_kept`: what a report writes, whatever its columns.

    One call for the whole frame, so a column added later is masked too.
    A column in which no value may hold a long run (one cheap scan) is
    shared, not copied: report frames can have millions of rows.
    """
    text = [c for c, t in frame.schema.items() if t == pl.String]
    if not text or frame.is_empty():
        return frame
    # 11 digits need 11 bytes (no character's NFKC form holds more digits than
    # its UTF-8 bytes, pinned by a test): short-id columns skip even the regex
    wide = frame.select(pl.col(c).str.len_bytes().max() >= _MIN_DIGITS for c in text).row(0)
    text = [c for c, w in zip(text, wide, strict=True) if w]
    hits = frame.select(pl.col(c).str.contains(_mask_prefilter()).any() for c in text).row(0) if text else ()
    return frame.with_columns(mask_kept(pl.col(c)).alias(c) for c, hit in zip(text, hits, strict=True) if hit)


def mask_strings(values: Iterable[str | None]) -> list[str | None]:
    """`mask_kept` over Python strings (notes, file names, labels shown in a report)."""
    series = pl.Series("v", list(values), dtype=pl.String)
    return series.to_frame().select(mask_kept(pl.col("v"))).to_series().to_list()


@functools.lru_cache(maxsize=4096)
def _mask_str(value: str) -> str:
    return value if len(value.encode("utf-8")) < _MIN_DIGITS else mask_strings([value])[0]


def mask_str(value: object) -> str | None:
    """`mask_kept` of one value shown in a report (a note, a path, a rule id), as text; None stays None.

    Not for hashes: a SHA-256 in hex often holds 11 digits in a row.
    """
    return None if value is None else _mask_str(str(value))


def mask_value(kind: str, value: str) -> str:
    """Mask one identifier exactly as `mask_text` would mask it in a message."""
    if kind not in KINDS:
        raise ValueError(f"unknown identifier kind {kind!r}; expected one of {KINDS}")
    return pl.select(mask_text(pl.lit(value, dtype=pl.String))).item()


def excerpt(
    text_expr: pl.Expr,
    start_expr: pl.Expr | int,
    end_expr: pl.Expr | int,
    width: int = 20,
) -> pl.Expr:
    """Masked evidence: `width` characters either side of a span of the NFKC text.

    The whole text is masked before the window is cut, so a window that cuts
    through a number cannot show an unmasked piece of it.
    """
    start = start_expr if isinstance(start_expr, pl.Expr) else pl.lit(start_expr)
    end = end_expr if isinstance(end_expr, pl.Expr) else pl.lit(end_expr)
    lo = pl.max_horizontal(start.cast(pl.Int64) - width, pl.lit(0, dtype=pl.Int64))
    return mask_text(text_expr).str.slice(lo, end.cast(pl.Int64) + width - lo)
