"""The three text rules (PII-THIRD-PARTY, PII-UNMASKED, TP-DISCLOSURE).

They scan message text, which SQL engines do poorly without look-around, so
they run in Polars over the judged contacts that have content, using the one
identifier detector in `pii`. Policy terms stay Polars values, never SQL text.
"""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from . import pii
from .policy import Policy
from .rules import query_text

OUT = ["rule_id", "event_id", "detail", "evidence"]

# A number as SPEC §4 defines it: digits, optional ',' thousands groups and a
# decimal part, not followed by a digit. The trailing non-digit (or end) is
# consumed in place of a look-ahead; a match never needs a look-behind because
# scanning resumes after a non-digit, so every match starts a digit run.
_NUMBER = r"[0-9]+(?:,[0-9]{3})*(?:\.[0-9]+)?(?:[^0-9]|$)"


def _canonical_number(expr: pl.Expr) -> pl.Expr:
    """'05,000.50' -> '5000.5': equal numbers get equal text, with no rounding."""
    s = expr.str.replace_all(",", "", literal=True)
    s = s.str.replace(r"^0+([0-9])", "${1}")
    s = pl.when(s.str.contains(".", literal=True)).then(s.str.replace(r"\.?0*$", "")).otherwise(s)
    return s


def _squash(expr: pl.Expr, chars: str) -> pl.Expr:
    return pii.nfkc(expr).str.replace_all(chars, "").str.to_uppercase()


_ATTR_MASK = {
    "id_number": lambda c: pii.mask_text(c),
    "bank_card": lambda c: pii.mask_text(c),
    "phone": lambda c: pii.mask_text(c),
    "address": lambda c: c.str.slice(0, 3) + pl.lit("***"),
}


def _borrower_needles(tp: pl.DataFrame, protected: list[str]) -> pl.DataFrame:
    """Each borrower's protected attributes as they are looked for in a message, and as the
    evidence shows them: prepared once per borrower, not once per message."""
    people = tp.select("borrower_id", *protected).unique("borrower_id")
    out = [pl.col("borrower_id")]
    for attr in protected:
        if attr == "address":
            needle = pii.nfkc(pl.col(attr)).str.replace_all(r"\s", "")
        else:
            needle = _squash(pl.col(attr), r"[\s\-]")
        out.append(pl.when(needle.is_not_null() & (needle.str.len_chars() > 0)).then(needle).alias(f"_needle_{attr}"))
        out.append(_ATTR_MASK[attr](pii.nfkc(pl.col(attr))).alias(f"_mask_{attr}"))
    return people.select(out)


def pii_third_party(texts: pl.DataFrame, protected: list[str]) -> pl.DataFrame:
    tp = texts.filter(pl.col("is_third_party"))
    if not protected or tp.is_empty():
        return pl.DataFrame(schema={c: pl.String for c in OUT})
    # `text` is NFKC already; each squashed form of it is made once, the attributes once per borrower.
    tp = tp.select("event_id", "borrower_id", "text").join(
        _borrower_needles(tp, protected), on="borrower_id", how="left")
    tp = tp.with_columns(
        pl.col("text").str.replace_all(r"[\s\-]", "").str.to_uppercase().alias("_hay"),
        pl.col("text").str.replace_all(r"\s", "").alias("_hay_ws") if "address" in protected else pl.lit(None),
    )
    found = []
    for attr in protected:
        hay = pl.col("_hay_ws") if attr == "address" else pl.col("_hay")
        needle = pl.col(f"_needle_{attr}")
        found.append((needle.is_not_null() & hay.str.contains(needle, literal=True)).alias(f"_in_{attr}"))
    # Only the few messages that hold an attribute go on.
    hit = tp.with_columns(found).filter(pl.any_horizontal(f"_in_{a}" for a in protected))
    found = hit.with_columns(pl.concat_list(
        pl.when(pl.col(f"_in_{a}")).then(pl.lit(f"{a} ") + pl.col(f"_mask_{a}")) for a in protected
    ).list.drop_nulls().alias("found"))
    return found.select(
        pl.lit("PII-THIRD-PARTY").alias("rule_id"),
        "event_id",
        (pl.lit("message to a third party contains the borrower's ")
         + pl.col("found").list.eval(pl.element().str.split(" ").list.first()).list.join(", ")).alias("detail"),
        pl.col("found").list.join("; ").alias("evidence"),
    )


def pii_unmasked(texts: pl.DataFrame, kinds: list[str], channels: list[str] | None) -> pl.DataFrame:
    scope = texts if channels is None else texts.filter(pl.col("channel").is_in(channels))
    if not kinds or scope.is_empty():
        return pl.DataFrame(schema={c: pl.String for c in OUT})
    found = pii.find_identifiers(scope.select("event_id", "content", "local_date"), key="event_id",
                                 text="content", ref_date="local_date", kinds=tuple(kinds))
    first = found.sort("event_id", "start", "kind").group_by("event_id", maintain_order=True).agg(
        pl.col("kind").unique(maintain_order=True), pl.col("start").first(), pl.col("end").first()
    )
    first = first.join(scope.select("event_id", "content"), on="event_id").with_columns(
        pii.nfkc(pl.col("content")).alias("text"))
    return first.select(
        pl.lit("PII-UNMASKED").alias("rule_id"),
        "event_id",
        (pl.lit("unmasked ") + pl.col("kind").list.join(", ") + pl.lit(" in the message")).alias("detail"),
        pii.excerpt(pl.col("text"), pl.col("start"), pl.col("end")).alias("evidence"),
    )


def tp_disclosure(texts: pl.DataFrame, terms: list[str], amounts: bool) -> pl.DataFrame:
    tp = texts.filter(pl.col("is_third_party"))
    parts = []
    if terms:
        norm_terms = pl.Series([t for t in terms]).str.normalize("NFKC").str.to_lowercase().unique().to_list()
        lowered = pl.col("text").str.to_lowercase()
        term_hits = tp.with_columns(
            lowered.str.extract_many(norm_terms, overlapping=False).list.unique(maintain_order=True).alias("terms")
        ).filter(pl.col("terms").list.len() > 0)
        parts.append(term_hits.select(
            "event_id",
            (pl.lit("disclosure term ") + pl.col("terms").list.join(", ")).alias("why"),
            pl.col("terms").list.first().alias("needle"),
        ))
    if amounts:
        numbers = tp.select(
            "event_id", "overdue_amount", "principal",
            pl.col("text").str.extract_all(_NUMBER).alias("number"),
        ).explode("number").filter(pl.col("number").is_not_null()).with_columns(
            pl.col("number").str.replace(r"[^0-9]$", "")
        ).with_columns(_canonical_number(pl.col("number")).alias("value"))
        overdue = _canonical_number(pl.col("overdue_amount").cast(pl.String))
        principal = _canonical_number(pl.col("principal").cast(pl.String))
        hit = numbers.filter(
            ((pl.col("overdue_amount") > 0) & (pl.col("value") == overdue))
            | ((pl.col("principal") > 0) & (pl.col("value") == principal))
        ).with_columns(
            pl.when((pl.col("overdue_amount") > 0) & (pl.col("value") == overdue))
            .then(pl.lit("the overdue amount ")).otherwise(pl.lit("the principal ")).alias("which")
        ).group_by("event_id", maintain_order=True).agg(pl.col("which").first(), pl.col("number").first())
        parts.append(hit.select(
            "event_id", (pl.col("which") + pl.col("number")).alias("why"), pl.col("number").alias("needle")
        ))
    if not parts:
        return pl.DataFrame(schema={c: pl.String for c in OUT})
    allhits = pl.concat(parts).group_by("event_id", maintain_order=True).agg(
        pl.col("why"), pl.col("needle").first()
    ).join(tp.select("event_id", "text"), on="event_id")
    start = pl.col("text").str.find(pl.col("needle"), literal=True)
    return allhits.select(
        pl.lit("TP-DISCLOSURE").alias("rule_id"),
        "event_id",
        (pl.lit("message to a third party names ") + pl.col("why").list.join("; ")).alias("detail"),
        pii.excerpt(pl.col("text"), start.fill_null(0),
                    start.fill_null(0) + pl.col("needle").str.len_chars()).alias("evidence"),
    )


def uses_text(policy: Policy) -> bool:
    return policy.rules.pii is not None or policy.rules.disclosure is not None


TEXT_BATCH_ROWS = 500_000  # messages judged at a time: memory stays flat however many there are


def texts_params(policy: Policy, since: date | None, until: date | None) -> dict:
    return {"default_timezone": policy.default_timezone, "since": since, "until": until}


def text_violations(con: duckdb.DuckDBPyConnection, policy: Policy, since: date | None = None,
                    until: date | None = None, *, kept: bool = False) -> list[pl.DataFrame]:
    """The text rules over the judged messages, streamed from DuckDB in batches and read once.

    Each rule judges one message at a time, so batches give the same result
    as one frame; a single frame of every message would not fit in memory at
    scale (and Arrow strings cap at 2 GB a column, duckdb issue 15486).
    With `kept` facts (a store file), the messages are read by row id.
    """
    if not uses_text(policy):
        return []
    if kept:
        expected, first, last = con.execute(
            "SELECT count(*), min(contact_rowid), max(contact_rowid) FROM facts WHERE judged AND has_content"
        ).fetchall()[0]
        if not expected:
            return []
        parts, read = _judge_batches(con, query_text("texts_kept"), {"first_rowid": first, "last_rowid": last},
                                     policy)
        if read == expected:
            return parts
    parts, _ = _judge_batches(con, query_text("texts"), texts_params(policy, since, until), policy)
    return parts


def _judge_batches(con: duckdb.DuckDBPyConnection, sql: str, params: dict,
                   policy: Policy) -> tuple[list[pl.DataFrame], int]:
    reader = con.sql(sql, params=params).to_arrow_reader(TEXT_BATCH_ROWS)
    parts: list[pl.DataFrame] = []
    read = 0
    for batch in reader:
        texts = pl.from_arrow(batch)
        read += texts.height
        if texts.height:
            parts.extend(judge_texts(texts, policy))
    return ([pl.concat(parts)] if parts else []), read


def judge_texts(texts: pl.DataFrame, policy: Policy) -> list[pl.DataFrame]:
    """The text rules over the rows of queries/texts.sql, whichever engine produced them.

    NFKC is costly and only the third-party rules read the whole normalised
    text; the identifier detector normalises what it needs itself.
    """
    r = policy.rules
    tp = texts.filter(pl.col("is_third_party")).with_columns(pii.nfkc(pl.col("content")).alias("text"))
    out = []
    if r.pii is not None:
        out.append(pii_third_party(tp, list(r.pii.third_party_protected)))
        out.append(pii_unmasked(texts, list(r.pii.unmasked_forbidden),
                                None if r.pii.unmasked_channels is None else list(r.pii.unmasked_channels)))
    if r.disclosure is not None:
        out.append(tp_disclosure(tp, list(r.disclosure.terms), r.disclosure.amounts))
    return [o.select(OUT) for o in out]
