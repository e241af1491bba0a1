"""audit.pii against the labelled corpus, the per-row oracle, and the masking contract."""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import sys
import unicodedata
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit import pii

sys.path.insert(0, str(Path(__file__).parent))
import pii_reference as ref

CORPUS = [json.loads(line) for line in ref.CORPUS.read_text(encoding="utf-8").splitlines()]


def _frame(texts: list[str | None], ref_date: str | None = "2026-11-27") -> pl.DataFrame:
    return pl.DataFrame(
        {"i": list(range(len(texts))), "text": texts, "ref": [ref_date] * len(texts)},
        schema={"i": pl.Int64, "text": pl.String, "ref": pl.String},
    )


def _vectorised(texts: list[str | None], ref_date: str = "2026-11-27") -> set[tuple]:
    found = pii.find_identifiers(_frame(texts, ref_date), key="i", text="text", ref_date="ref")
    return set(found.select("i", "kind", "start", "end", "value").iter_rows())


def _reference(texts: list[str | None], ref_date: str = "2026-11-27") -> set[tuple]:
    day = dt.date.fromisoformat(ref_date)
    return {(i, *f) for i, t in enumerate(texts) for f in ref.find_identifiers(t, day)}


def _mismatches(expected: set[tuple], got: set[tuple], texts: list[str]) -> str:
    lines = [f"missed {m} in {texts[m[0]]!r}" for m in sorted(expected - got)]
    lines += [f"spurious {m} in {texts[m[0]]!r}" for m in sorted(got - expected)]
    return "\n".join(lines)


# --------------------------------------------------------------------------- corpus


def test_corpus_is_big_and_has_every_kind_and_hard_negatives():
    kinds = [e["kind"] for row in CORPUS for e in row["expected"]]
    assert len(CORPUS) >= 300
    assert all(kinds.count(k) >= 40 for k in pii.KINDS)
    assert sum(not row["expected"] for row in CORPUS) >= 100


@pytest.mark.parametrize("kind", pii.KINDS)
def test_vectorised_precision_and_recall_are_one_on_corpus(kind):
    texts = [row["text"] for row in CORPUS]
    expected = {(i, e["kind"], e["value"]) for i, row in enumerate(CORPUS) for e in row["expected"]}
    expected = {x for x in expected if x[1] == kind}
    frame = pl.DataFrame({"i": range(len(CORPUS)), "text": texts, "ref": [r["ref_date"] for r in CORPUS]})
    found = pii.find_identifiers(frame, key="i", text="text", ref_date="ref", kinds=[kind])
    got = set(found.select("i", "kind", "value").iter_rows())
    assert got == expected, _mismatches(expected, got, texts)


def test_reference_oracle_agrees_with_corpus_labels():
    texts = [row["text"] for row in CORPUS]
    expected = {(i, e["kind"], e["value"]) for i, row in enumerate(CORPUS) for e in row["expected"]}
    got = {(i, kind, value) for i, kind, _, _, value in _reference(texts)}
    assert got == expected, _mismatches(expected, got, texts)


def test_vectorised_spans_equal_reference_spans_on_corpus():
    texts = [row["text"] for row in CORPUS]
    expected, got = _reference(texts), _vectorised(texts)
    assert got == expected, _mismatches(expected, got, texts)


def test_spans_index_the_normalised_text():
    texts = [row["text"] for row in CORPUS]
    for i, kind, start, end, value in _vectorised(texts):
        piece = unicodedata.normalize("NFKC", texts[i])[start:end]
        digits = piece.replace(" ", "").replace("-", "").replace("+", "").upper()
        assert digits.endswith(value), (kind, piece, value)


# --------------------------------------------------------------------------- random texts

_TEXT_PIECES = st.sampled_from(
    ["手机", "身份证", "，", "。", "号", " ", "  ", "-", "--", "+", "+86", "86", "0086", "*", "a", "ID",
     "x", "X", "é", "Ｘ", "　", "－", "１", "９", "\n", "尾号", "0", "1", "5", "13", "6222"]
)


@st.composite
def _identifier_piece(draw) -> str:
    rng = random.Random(draw(st.integers(0, 2**32)))
    kind = draw(st.sampled_from(["mobile", "id", "card", "id_bad", "card_bad", "digits"]))
    if kind == "mobile":
        m = ref.make_mobile(rng)
        sep = draw(st.sampled_from([" ", "-"]))
        return draw(st.sampled_from([m, ref.split_344(m, sep), ref.fullwidth(m)]))
    if kind in ("id", "id_bad"):
        value = ref.make_id(rng, valid=kind == "id")
        return draw(st.sampled_from([value, value.lower(), ref.fullwidth(value)]))
    if kind in ("card", "card_bad"):
        value = ref.make_card(rng, draw(st.integers(15, 20)), valid=kind == "card")
        return draw(st.sampled_from([value, ref.grouped(value), ref.grouped(value, "-")]))
    return ref.random_digits(rng, draw(st.integers(1, 20)))


_RANDOM_TEXT = st.lists(st.one_of(_TEXT_PIECES, _identifier_piece()), max_size=8).map("".join)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_RANDOM_TEXT, min_size=1, max_size=12), st.sampled_from(["2026-11-27", "1990-06-15"]))
def test_vectorised_detector_equals_reference_on_random_texts(texts, ref_date):
    expected, got = _reference(texts, ref_date), _vectorised(texts, ref_date)
    assert got == expected, _mismatches(expected, got, texts)


@settings(max_examples=60, deadline=None)
@given(st.lists(_RANDOM_TEXT, min_size=1, max_size=12))
def test_masked_random_texts_hold_no_identifier_keep_length_and_stay_put_when_remasked(texts):
    masked = _frame(texts).select(pii.mask_text(pl.col("text"))).to_series().to_list()
    for original, out in zip(texts, masked, strict=True):
        assert ref.find_identifiers(out, dt.date(2100, 1, 1)) == [], (original, out)
        assert len(out) == len(unicodedata.normalize("NFKC", original))
    assert _mask(masked) == masked  # reports mask evidence that is masked already


# --------------------------------------------------------------------------- checksums


def test_gb11643_check_char_matches_plain_weight_loop():
    rng = random.Random(7)
    bodies = ["0" * 17, "9" * 17, "11010519491231002"] + [ref.random_digits(rng, 17) for _ in range(5000)]
    got = pl.select(pii.gb11643_check_char(pl.lit(pl.Series(bodies)))).to_series().to_list()
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    want = ["10X98765432"[sum(int(d) * w for d, w in zip(b, weights, strict=True)) % 11] for b in bodies]
    assert got == want
    assert got[2] == "X"  # 11010519491231002X, the standard's own example


def test_luhn_expression_matches_plain_loop():
    rng = random.Random(8)
    numbers = ["4111111111111111", "79927398713", "0", "18"] + [
        ref.random_digits(rng, rng.randint(1, 20)) for _ in range(5000)
    ]
    got = pl.select(pii.luhn_valid(pl.lit(pl.Series(numbers)))).to_series().to_list()
    assert got == [ref.luhn_ok(n) for n in numbers]
    assert got[:2] == [True, True]


# --------------------------------------------------------------------------- boundaries


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("手机13812345678，", {("mobile", 2, 13, "13812345678")}),
        ("+86 138 1234 5678", {("mobile", 0, 17, "13812345678")}),
        ("1+8613812345678", {("mobile", 2, 15, "13812345678")}),
        ("0086-138-1234-5678", {("mobile", 0, 18, "13812345678")}),
        ("013812345678", set()),
        ("20位62220212345678901234", set()),
        ("11010519491231002X", {("id_number", 0, 18, "11010519491231002X")}),
        ("证11010519491231002x号", {("id_number", 1, 19, "11010519491231002X")}),
        ("A11010519491231002X", set()),
        ("é11010519491231002X", set()),
        ("11010519491231002Xb", set()),
        ("110105********002X", set()),
    ],
)
def test_boundaries_prefixes_and_masked_forms(text, found):
    assert {f[1:] for f in _vectorised([text])} == found


def test_birth_date_is_judged_against_each_rows_reference_date():
    born_ref_day = ref.make_id(random.Random(1), dt.date(2026, 11, 27), region="110101")
    frame = pl.DataFrame(
        {"k": ["a", "b", "c"], "t": [born_ref_day] * 3,
         "d": [dt.date(2026, 11, 27), dt.date(2026, 11, 26), None]}
    )
    found = pii.find_identifiers(frame, key="k", text="t", ref_date="d")
    assert found["k"].to_list() == ["a", "c"]  # null reference date counts as today


@pytest.mark.parametrize("dtype", [pl.Date, pl.Datetime("us"), pl.String])
def test_reference_date_column_may_be_date_datetime_or_iso_string(dtype):
    value = ref.make_id(random.Random(2), dt.date(2020, 1, 1), region="110101")
    day = pl.Series("d", [dt.date(2019, 12, 31), dt.date(2020, 1, 1)]).cast(dtype)
    frame = pl.DataFrame({"k": [1, 2], "t": [value, value]}).with_columns(day)
    found = pii.find_identifiers(frame.lazy(), key="k", text="t", ref_date="d")
    assert found["k"].to_list() == [2]


def test_result_keeps_key_name_and_dtypes_even_when_empty():
    frame = pl.DataFrame({"event_id": ["e1", "e2"], "content": ["no numbers", None]})
    found = pii.find_identifiers(frame, key="event_id", text="content")
    assert found.schema == pl.Schema(
        {"event_id": pl.String, "kind": pl.String, "start": pl.Int64, "end": pl.Int64, "value": pl.String}
    )
    assert found.height == 0


def test_kinds_limits_the_search_and_unknown_kind_is_refused():
    text = "卡4111111111111111 手机13812345678"
    frame = pl.DataFrame({"k": [1], "t": [text]})
    assert pii.find_identifiers(frame, key="k", text="t", kinds=["mobile"])["kind"].to_list() == ["mobile"]
    assert pii.find_identifiers(frame, key="k", text="t", kinds="bank_card")["kind"].to_list() == ["bank_card"]
    with pytest.raises(ValueError, match="phone"):
        pii.find_identifiers(frame, key="k", text="t", kinds=["phone"])
    with pytest.raises(ValueError, match="clash"):
        pii.find_identifiers(frame.rename({"k": "value"}), key="value", text="t")


def test_prefilter_assumptions_hold_for_every_code_point():
    """Rows without `_ELEVEN` nor an NFKC digit source skip NFKC; that is sound only if
    no character normalises to nothing and no mark merges into a digit, space or hyphen."""
    cps = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    chars = pl.Series(list(map(chr, cps)))
    assert (chars.str.normalize("NFKC").str.len_chars() == 0).sum() == 0
    marks = chars.filter(chars.str.contains(r"^\p{M}$"))
    for base in "0 -":
        assert (base + marks).str.normalize("NFKC").str.starts_with(base).all()


# --------------------------------------------------------------------------- masking


def _mask(texts: list[str | None]) -> list[str | None]:
    return pl.DataFrame({"t": texts}, schema={"t": pl.String}).select(pii.mask_text(pl.col("t")))["t"].to_list()


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("身份证11010519491231002X号", "身份证110105********002X号"),
        ("手机13812345678，", "手机138****5678,"),
        ("电话 138-1234-5678", "电话 138-****-5678"),
        ("+86 138 1234 5678", "+86 138 **** 5678"),
        ("8613812345678", "86138****5678"),
        ("卡号6222 0212 3456 7890", "卡号6222 **** **** 7890"),
        ("卡号6222021234567890", "卡号6222********7890"),
        ("6222-0212-3456-7890-123", "6222-****-****-***0-123"),
        ("１３８１２３４５６７８", "138****5678"),
        ("订单2026112700001234567", "订单2026***********4567"),
        ("4008001234 与 2026-11-27 与 5,000.00", "4008001234 与 2026-11-27 与 5,000.00"),
        ("138****5678", "138****5678"),
        (None, None),
    ],
)
def test_mask_text_shapes(text, masked):
    assert _mask([text]) == [masked]


def test_no_full_identifier_survives_mask_text_on_corpus():
    texts = [row["text"] for row in CORPUS]
    masked = _mask(texts)
    survivors = [(t, m) for t, m in zip(texts, masked, strict=True) if ref.find_identifiers(m, dt.date(2100, 1, 1))]
    assert survivors == []
    assert [len(m) for m in masked] == [len(unicodedata.normalize("NFKC", t)) for t in texts]


def test_mask_value_masks_as_mask_text_does():
    assert pii.mask_value("mobile", "13812345678") == "138****5678"
    assert pii.mask_value("id_number", "11010519491231002X") == "110105********002X"
    assert pii.mask_value("bank_card", "6222021234567890") == "6222********7890"
    with pytest.raises(ValueError):
        pii.mask_value("email", "x@example.com")


def test_excerpt_shows_masked_context_and_never_a_cut_number():
    text = "前文" * 20 + "请联系13812345678或查看身份证11010519491231002X" + "后文" * 20
    frame = pl.DataFrame({"k": [1], "t": [text]})
    found = pii.find_identifiers(frame, key="k", text="t")
    evidence = frame.join(found, on="k").select(pii.excerpt(pl.col("t"), pl.col("start"), pl.col("end"), width=6))
    assert evidence.to_series().to_list() == [
        "文前文请联系138****5678或查看身份证",
        "或查看身份证110105********002X后文后文后文",
    ]
    # a window that starts inside the ID shows only masked digits
    cut = pl.select(pii.excerpt(pl.lit("身份证11010519491231002X"), 14, 16, width=2)).item()
    assert cut == "*****0"


# --------------------------------------------------------------------------- masking is wider than detection

# A separator, written without the code under test: any Unicode space or dash, format characters
# (zero-width space, soft hyphen), the minus sign, tab, and `. _ ( ) /`.
_INDEPENDENT_SEPARATORS = set("\t._()/\u2212")


def _unmasked_runs(text: str) -> list[str]:
    """Runs of 11+ ASCII digits in the NFKC text once every separator is removed."""
    text = unicodedata.normalize("NFKC", text)
    kept = "".join(c for c in text
                   if not (c in _INDEPENDENT_SEPARATORS or unicodedata.category(c) in ("Zs", "Pd", "Cf")))
    return re.findall(r"[0-9]{11,}", kept)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("138.1234.5678", "138.****.5678"),
        ("138–1234–5678", "138–****–5678"),                # en dash
        ("138—1234—5678", "138—****—5678"),                # em dash
        ("138‒1234―5678", "138‒****―5678"),                # figure dash, horizontal bar
        ("138−1234−5678", "138−****−5678"),                # minus sign (Sm, not a dash)
        ("138﹣1234－5678", "138-****-5678"),              # small and full-width hyphen-minus (NFKC)
        ("(138)1234-5678", "(138)****-5678"),
        ("（138）1234-5678", "(138)****-5678"),            # full-width parentheses (NFKC)
        ("138_1234_5678", "138_****_5678"),
        ("138/1234/5678", "138/****/5678"),
        ("138\u00a01234\u00a05678", "138 **** 5678"),     # no-break space (NFKC: space)
        ("138\u30001234\u30005678", "138 **** 5678"),     # ideographic space (NFKC: space)
        ("138\u20091234\u20095678", "138 **** 5678"),     # thin space
        ("138\t1234\t5678", "138\t****\t5678"),
        ("138\u200b1234\u200b5678", "138\u200b****\u200b5678"),  # zero-width space: shows as one number
        ("138 - 1234 - 5678", "138 - **** - 5678"),       # a run of separators counts as one
        ("138 .. 1234 // 5678", "138 .. **** // 5678"),
        ("+86 (138) 1234 5678", "+86 (138) **** 5678"),
        ("0086-138.1234.5678", "0086-138.****.5678"),
        ("电话:138.1234.5678。", "电话:138.****.5678。"),
        ("6222.0212.3456.7894", "6222.****.****.7894"),
        ("6222/0212/3456/7894", "6222/****/****/7894"),
        ("110105.19491231.002X", "1101**.********.002X"),
        ("11010519491231002X", "110105********002X"),     # shapes already handled stay as they were
        ("138-1234-5678", "138-****-5678"),
        ("6222 0212 3456 7890", "6222 **** **** 7890"),
    ],
)
def test_mask_text_masks_long_runs_whatever_separates_their_groups(text, masked):
    assert _mask([text]) == [masked]
    assert len(masked) == len(unicodedata.normalize("NFKC", text))  # offsets into the text stay right
    assert _unmasked_runs(masked) == []


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-30", "2026/11/30", "2026.11.30", "2026-11-30 09:15", "2026-11-30T09:15:00+08:00",
        "5,000.00", "1,234,567.89", "5000.00元", "09:15:00", "22:00-08:00", "12345", "4008001234",
        "(010) 1234", "8:00 – 22:00", "第1.2.3条", "12 CFR 1006.6(b)(1)(i)", "GB/T 45251-2025, 5.3",
        "E000000088", "L0000109", "138****5678", "6222 **** **** 7890", "1380013800", "138-1234-567",
    ],
)
def test_mask_text_leaves_dates_amounts_times_and_short_numbers_alone(text):
    assert _unmasked_runs(text) == []  # the independent check agrees there is nothing to mask
    assert _mask([text]) == [unicodedata.normalize("NFKC", text)]


def test_detection_still_follows_the_spec_not_the_wider_masking():
    texts = ["138.1234.5678", "138–1234–5678", "(138)1234-5678", "138 - 1234 - 5678", "138-1234-5678"]
    found = pii.find_identifiers(_frame(texts), key="i", text="text")
    assert found.select("i", "kind").rows() == [(4, "mobile")]


_SEPARATOR_RUNS = st.text(st.sampled_from(
    [" ", "-", ".", "_", "(", ")", "/", "\t", "\u00a0", "\u3000", "\u2009", "\u2013", "\u2014", "\u2012",
     "\u2015", "\u2212", "\ufe63", "\uff0d", "\u200b", "\u00ad", "\uff08", "\uff09", "\uff0e", "\uff0f"]),
    min_size=1, max_size=3)
_DIGIT_GROUPS = st.lists(st.text(st.sampled_from("0123456789０１２３"), min_size=1, max_size=6), min_size=1,
                         max_size=6)


@st.composite
def _separated_numbers(draw) -> str:
    groups = draw(_DIGIT_GROUPS)
    out = groups[0]
    for g in groups[1:]:
        out += draw(_SEPARATOR_RUNS) + g
    prefix = draw(st.sampled_from(["", "+", "+86 ", "号码", "a", "X"]))
    suffix = draw(st.sampled_from(["", "X", "。", " ok", "5"]))
    return prefix + out + suffix


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_separated_numbers(), min_size=1, max_size=3).map("，".join), min_size=1, max_size=10))
def test_no_run_of_eleven_digits_survives_any_separators_and_length_is_kept(texts):
    masked = _mask(texts)
    for original, out in zip(texts, masked, strict=True):
        assert _unmasked_runs(out) == [], (original, out)
        assert len(out) == len(unicodedata.normalize("NFKC", original))
    assert _mask(masked) == masked


def test_mask_prefilter_assumption_holds_for_every_code_point():
    """`mask_frame` skips columns with no value of 11 bytes: that is sound only if no
    character's NFKC form holds more ASCII digits than the character has UTF-8 bytes."""
    chars, norm = pii._nfkc_table()
    assert (norm.str.count_matches("[0-9]") <= chars.str.len_bytes()).all()


def test_mask_frame_masks_every_text_column_and_keeps_other_values_as_written():
    frame = pl.DataFrame({
        "event_id": ["6222021234567894", "E000000088", "Ｅ１"],
        "loan_id": ["138.1234.5678", "L0000109", None],
        "source_file": ["contacts/13912345678.csv", "contacts/part-0.csv", "ｃｏｎｔａｃｔｓ/１.csv"],
        "row": [1, 2, 13812345678],
    })
    out = pii.mask_frame(frame)
    assert out.to_dict(as_series=False) == {
        "event_id": ["6222********7894", "E000000088", "Ｅ１"],  # nothing to mask: not even NFKC
        "loan_id": ["138.****.5678", "L0000109", None],
        "source_file": ["contacts/139****5678.csv", "contacts/part-0.csv", "ｃｏｎｔａｃｔｓ/１.csv"],
        "row": [1, 2, 13812345678],  # numbers are not text; reports hold none that are identifiers
    }
    plain = pl.DataFrame({"a": ["E000000088", "L0000109"], "b": ["HOURS", None]})
    assert pii.mask_frame(plain).equals(plain)
    assert pii.mask_frame(plain.clear()).equals(plain.clear())


def test_mask_str_masks_one_value_and_passes_none():
    assert pii.mask_str("contacts/13912345678.csv") == "contacts/139****5678.csv"
    assert pii.mask_str("HOURS") == "HOURS"
    assert pii.mask_str(None) is None
    assert pii.mask_str(13812345678) == "138****5678"
