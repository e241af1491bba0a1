"""A plain per-row oracle for `audit.pii`, and the generator of the labelled corpus.

The oracle is written straight from SPEC §4's words with `re` (which has
look-around) and loops, sharing no code with the vectorised detector, so the
two can check each other. The benchmark times it as the per-row baseline.

`python tests/pii_reference.py` rewrites tests/data/pii_corpus.jsonl; its
labels come from how each text was built, never from either detector.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import unicodedata
from pathlib import Path

# --------------------------------------------------------------------------- checksums

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"  # indexed by (weighted sum mod 11)


def id_check_char(first17: str) -> str:
    total = 0
    for digit, weight in zip(first17, ID_WEIGHTS, strict=True):
        total += int(digit) * weight
    return ID_CHECK_CHARS[total % 11]


def luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        d = int(char)
        if position % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# --------------------------------------------------------------------------- oracle

DIGITS = "0123456789"


def is_digit(char: str) -> bool:
    return char in DIGITS


def is_latin_letter(char: str) -> bool:
    return unicodedata.category(char).startswith("L") and "LATIN" in unicodedata.name(char, "")


def _clear(text: str, start: int, end: int, blocked) -> bool:
    """No blocked character right before `start` or right at `end`."""
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    return not (before and blocked(before)) and not (after and blocked(after))


def _digit_or_latin(char: str) -> bool:
    return is_digit(char) or is_latin_letter(char)


# every identifier has at least 11 digits: a cheap, obviously safe early exit
_ELEVEN_DIGITS = re.compile(r"(?:[0-9][^0-9]*){11}")
# `(?=(...))` finds candidates starting at every position, overlapping ones too
_ID = re.compile(r"(?=([0-9]{17}[0-9Xx]))")
_CARDS = (
    re.compile(r"(?=([3-6][0-9]{15,18}))"),
    re.compile(r"(?=([3-6][0-9]{3}(?:[ -][0-9]{4}){3}))"),
    re.compile(r"(?=([3-6][0-9]{3}(?:[ -][0-9]{4}){3}[ -][0-9]{1,3}))"),
)
_MOBILE = re.compile(r"(?=((?:\+86|0086|86)[ -]?)?(1[3-9][0-9](?:[0-9]{8}|[ -][0-9]{4}[ -][0-9]{4})))")


def find_identifiers(text: str | None, ref_date: dt.date | None = None) -> list[tuple[str, int, int, str]]:
    """(kind, start, end, value) of every full valid identifier, offsets in the NFKC text."""
    if text is None:
        return []
    ref_date = ref_date or dt.date.today()
    t = unicodedata.normalize("NFKC", text)
    if not _ELEVEN_DIGITS.search(t):
        return []
    found: set[tuple[str, int, int, str]] = set()

    for m in _ID.finditer(t):
        start, end = m.span(1)
        value = m.group(1).upper()
        if not _clear(t, start, end, _digit_or_latin) or id_check_char(value[:17]) != value[17]:
            continue
        try:
            born = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
        except ValueError:
            continue
        if dt.date(1900, 1, 1) <= born <= ref_date:
            found.add(("id_number", start, end, value))

    for pattern in _CARDS:
        for m in pattern.finditer(t):
            start, end = m.span(1)
            value = m.group(1).replace(" ", "").replace("-", "")
            if _clear(t, start, end, is_digit) and 16 <= len(value) <= 19 and luhn_ok(value):
                found.add(("bank_card", start, end, value))

    # a mobile's prefix belongs to it: of the spans ending at one place keep the longest
    mobiles: dict[int, tuple[int, str]] = {}
    for m in _MOBILE.finditer(t):
        start = m.start(1) if m.group(1) is not None else m.start(2)
        end = m.end(2)
        if _clear(t, start, end, is_digit) and (end not in mobiles or start < mobiles[end][0]):
            mobiles[end] = (start, m.group(2).replace(" ", "").replace("-", ""))
    for end, (start, value) in mobiles.items():
        found.add(("mobile", start, end, value))

    return sorted(found, key=lambda f: (f[1], f[2], f[0]))


# --------------------------------------------------------------------------- generators

REGIONS = ["110101", "110105", "120101", "130102", "210102", "310104", "320102", "330106",
           "370202", "420106", "440305", "500103", "510107", "610113", "650102"]
CARD_PREFIXES = ["6222", "6228", "6217", "6214", "6212", "4367", "4563", "5187", "5264", "3568", "6259"]
MOBILE_HEADS = ["130", "135", "138", "139", "147", "150", "158", "166", "177", "186", "188", "191", "199"]


def make_id(rng: random.Random, born: dt.date | None = None, *, region: str | None = None,
            check: str | None = None, valid: bool = True) -> str:
    """An 18-character ID; `check` forces the last character, `valid=False` breaks it."""
    born = born or dt.date(rng.randint(1950, 2005), rng.randint(1, 12), rng.randint(1, 28))
    region = region or rng.choice(REGIONS)
    while True:
        first17 = f"{region}{born:%Y%m%d}{rng.randint(0, 999):03d}"
        right = id_check_char(first17)
        if check is None or right == check:
            break
    if valid:
        return first17 + right
    return first17 + rng.choice([c for c in "0123456789X" if c != right])


def make_id_with_date(rng: random.Random, yyyymmdd: str, *, region: str | None = None) -> str:
    """An ID with a right check character over any 8 birth characters (even impossible dates)."""
    first17 = f"{region or rng.choice(REGIONS)}{yyyymmdd}{rng.randint(0, 999):03d}"
    return first17 + id_check_char(first17)


def luhn_digit(partial: str) -> str:
    for d in DIGITS:
        if luhn_ok(partial + d):
            return d
    raise AssertionError("unreachable")


def make_card(rng: random.Random, length: int = 16, *, prefix: str | None = None, valid: bool = True) -> str:
    prefix = prefix or rng.choice(CARD_PREFIXES)
    body = prefix + "".join(rng.choice(DIGITS) for _ in range(length - len(prefix) - 1))
    right = luhn_digit(body)
    if valid:
        return body + right
    return body + rng.choice([d for d in DIGITS if d != right])


def make_mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_HEADS) + "".join(rng.choice(DIGITS) for _ in range(8))


def grouped(digits: str, sep: str = " ", size: int = 4) -> str:
    return sep.join(digits[i : i + size] for i in range(0, len(digits), size))


def split_344(mobile: str, sep: str = " ", sep2: str | None = None) -> str:
    return f"{mobile[:3]}{sep}{mobile[3:7]}{sep if sep2 is None else sep2}{mobile[7:]}"


def fullwidth(text: str) -> str:
    """ASCII to full-width forms (what a Chinese IME types); NFKC maps them back."""
    return "".join(
        "\u3000" if c == " " else chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text
    )


def random_digits(rng: random.Random, n: int, first: str = DIGITS) -> str:
    return rng.choice(first) + "".join(rng.choice(DIGITS) for _ in range(n - 1))


# --------------------------------------------------------------------------- corpus

REF_DATE = dt.date(2026, 11, 27)
CORPUS = Path(__file__).parent / "data" / "pii_corpus.jsonl"

_FILLERS_ZH = [
    "【安信消费金融】尊敬的客户，您的借款已逾期{n}天，请尽快还款。",
    "您好，您在我司的分期账单本期应还{amt}元，最后还款日{date}。",
    "催收员备注：{date} 14:30 电话联系借款人，承诺三日内还款。",
    "温馨提示：为避免影响您的信用记录，请于{date}前登录APP完成还款。",
    "通话记录：客户称资金周转困难，申请延期至{date}，金额{amt}元。",
    "【云汇分期】您尾号{last4}的账户本期账单已出，应还{amt}元。",
]
_FILLERS_EN = [
    "Dear customer, your instalment of CNY {amt} was due on {date}.",
    "Call note {date}: borrower promised to pay CNY {amt} by Friday.",
    "Reminder: your account ending {last4} is {n} days past due.",
]


def _filler(rng: random.Random, english: bool = False) -> str:
    template = rng.choice(_FILLERS_EN if english else _FILLERS_ZH)
    return template.format(
        n=rng.randint(1, 90),
        amt=f"{rng.randint(100, 99999):,}.{rng.randint(0, 99):02d}",
        date=f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        last4=random_digits(rng, 4),
    )


def _cases(rng: random.Random) -> list[tuple[str, list[tuple[str, str]]]]:
    """(text, [(kind, value), ...]) built so the labels are known."""
    MOB, ID, CARD = "mobile", "id_number", "bank_card"
    cases: list[tuple[str, list[tuple[str, str]]]] = []

    def add(text: str, *labels: tuple[str, str]) -> None:
        cases.append((text, list(labels)))

    def id_labels(value: str) -> list[tuple[str, str]]:
        # an 18-digit ID starting 3-6 that passes Luhn is a card number too
        if value[0] in "3456" and value[17] != "X" and luhn_ok(value):
            return [(ID, value), (CARD, value)]
        return [(ID, value)]

    def grouped_card_labels(value: str) -> list[tuple[str, str]]:
        # written in groups, a 17-19 digit card's first four groups are a
        # 16-digit candidate of their own (followed by a separator, not a digit)
        if len(value) > 16 and luhn_ok(value[:16]):
            return [(CARD, value), (CARD, value[:16])]
        return [(CARD, value)]

    for _ in range(4):
        # ---- mobiles: every written form, and what sits next to them
        m = make_mobile(rng)
        add(f"手机{m}，请回电。", (MOB, m))
        add(f"请联系专员{split_344(m)}处理", (MOB, m))
        add(f"客服电话：{split_344(m, '-')}。", (MOB, m))
        add(f"Call me on {split_344(m, '-', ' ')} after 6pm.", (MOB, m))
        add(f"联系方式 +86 {split_344(m)}", (MOB, m))
        add(f"联系方式+86-{m}，谢谢", (MOB, m))
        add(f"phone:+86{m}", (MOB, m))
        add(f"国际格式 0086 {m} 或 0086-{split_344(m, '-')}", (MOB, m))
        add(f"号码86{m}已停机", (MOB, m))
        add(f"86 {split_344(m)} 已核实", (MOB, m))
        add(f"全角号码{fullwidth(m)}。", (MOB, m))
        add(f"全角分段{fullwidth(split_344(m))}，全角前缀{fullwidth('+86 ' + m)}", (MOB, m))
        add(f"Tel{m}ext", (MOB, m))  # only digits block a mobile
        add(f"({m})", (MOB, m))
        m2 = make_mobile(rng)
        add(f"主叫{m}，被叫{m2}", (MOB, m), (MOB, m2))
        add(f"{m} {m2}", (MOB, m), (MOB, m2))
        add(f"1+86{m} 前面挨着数字的加号不算前缀", (MOB, m))
        add(f"+86  {m}（两个空格，号码本身仍然完整）", (MOB, m))
        add(_filler(rng) + f"如有疑问请致电{m}。", (MOB, m))

        # ---- mobile negatives
        add(f"号码0{m}多了一位", )
        add(f"号码{m}{rng.randint(0, 9)}多了一位")
        add(f"分段不对 {m[:3]}  {m[3:7]} {m[7:]}")  # double space
        add(f"分段不对 {m[:4]} {m[4:8]} {m[8:]}")  # 4-4-3
        add(f"12{random_digits(rng, 9)} 不是手机号（12开头）")
        add(f"已脱敏：{m[:3]}****{m[7:]}，{m[:3]}-****-{m[7:]}")
        add(f"全角脱敏{fullwidth(m[:3] + '****' + m[7:])}")
        add(f"固话010-{random_digits(rng, 8, '2345678')}，0755-{random_digits(rng, 8, '2345678')}")
        add(f"landline +86 21 {random_digits(rng, 4, '56')} {random_digits(rng, 4)}")
        add(f"(0571){random_digits(rng, 8, '8')} 或 021 {random_digits(rng, 4, '6')} {random_digits(rng, 4)}")
        add(f"客服热线400-800-{random_digits(rng, 4)}，银行95588，移动10086")
        add(f"香港 +852 9{random_digits(rng, 3)} {random_digits(rng, 4)}")

        # ---- ID numbers
        i = make_id(rng, region=rng.choice(REGIONS[:5]))  # starts 1-2: never a card
        add(f"身份证号{i}，请核对。", (ID, i))
        add(f"ID number: {i}.", (ID, i))
        j = make_id(rng)
        add(f"借款人身份证：{j}", *id_labels(j))
        ix = make_id(rng, check="X")
        add(f"证件号码：{ix}", (ID, ix))
        add(f"证件号码：{ix[:17]}x（小写x）", (ID, ix))
        add(f"全角证件号{fullwidth(ix)}", (ID, ix))
        newborn = make_id(rng, REF_DATE)
        add(f"出生于参考日当天 {newborn}", *id_labels(newborn))
        oldest = make_id(rng, dt.date(1900, 1, 1))
        add(f"最早出生日期{oldest}", *id_labels(oldest))
        leap = make_id(rng, dt.date(2000, 2, 29))
        add(f"闰日出生{leap}", *id_labels(leap))
        add(f"借款人{i}与紧急联系人{ix}", (ID, i), (ID, ix))
        add(_filler(rng, english=True) + f" Borrower ID {i}; note {_filler(rng, english=True)}", (ID, i))

        # ---- ID negatives
        bad = make_id(rng, valid=False, region=rng.choice(REGIONS[:5]))
        add(f"校验位错误{bad}")
        add(f"不存在的日期{make_id_with_date(rng, '19990230', region='110101')}")
        add(f"月份13{make_id_with_date(rng, '19991301', region='120101')}")
        add(f"未来出生{make_id_with_date(rng, '20270101', region='110105')}")
        add(f"参考日次日{make_id_with_date(rng, '20261128', region='130102')}")
        add(f"太早{make_id_with_date(rng, '18991231', region='210102')}")
        add(f"字母粘连ID{make_id(rng, region='110101')}")
        add(f"尾部粘连{make_id(rng, region='120101')}b号")
        add(f"带重音字母粘连é{make_id(rng, region='130102')}")
        add(f"数字粘连9{make_id(rng, region='110105')}")
        add(f"数字粘连{make_id(rng, region='210102')}7")
        add(f"已脱敏身份证{i[:6]}********{i[14:]}，{ix[:3]}***********{ix[14:]}")
        add(f"17位{i[:17]}，19位{i}{rng.randint(0, 9)}")

        # ---- bank cards
        for length in (16, 17, 18, 19):
            c = make_card(rng, length)
            add(f"还款卡号{c}", (CARD, c))
            add(f"银行卡 {grouped(c)} 已绑定", *grouped_card_labels(c))
            add(f"card {grouped(c, '-')} on file", *grouped_card_labels(c))
        c = make_card(rng, 16, prefix=rng.choice(["3568", "4367", "5187", "6222"]))
        add(f"混合分隔{c[:4]} {c[4:8]}-{c[8:12]} {c[12:]}", (CARD, c))
        add(f"全角卡号{fullwidth(grouped(c))}", (CARD, c))
        add(f"No.{c}，已受理", (CARD, c))  # letters do not block a card
        add(f"卡号{c}，手机{m}", (CARD, c), (MOB, m))
        c19 = make_card(rng, 19)
        add(f"Your card {grouped(c19)} was charged CNY {rng.randint(100, 5000)}.00", *grouped_card_labels(c19))
        # five groups of four: the first four groups form a card, the text goes on
        head = make_card(rng, 16, prefix="6222")
        while True:
            tail4 = random_digits(rng, 4)
            if not luhn_ok(head[4:] + tail4):
                break
        add(f"五组四位 {grouped(head + tail4)}", (CARD, head))

        # ---- bank card negatives
        add(f"Luhn错误{make_card(rng, 16, valid=False)}")
        add(f"Luhn错误分组{grouped(make_card(rng, 19, valid=False))}")
        add(f"首位不对{make_card(rng, 16, prefix='9558')}，{make_card(rng, 18, prefix='1234')}")
        add(f"20位流水号1{make_card(rng, 16)}234")
        add(f"流水号{random_digits(rng, 20, '3456')}")
        add(f"15位{make_card(rng, 15)}")
        add(f"分组不对{c[:3]} {c[3:7]} {c[7:11]} {c[11:]}")
        add(f"末组过长{grouped(make_card(rng, 16, valid=False))}{random_digits(rng, 1)}")
        add(f"已脱敏卡号{c[:4]} **** **** {c[12:]}，尾号{c[-4:]}")
        add(f"粘连数字0{c}")

        # ---- both: an ID whose 18 digits also pass Luhn and start 3-6
        while True:
            both = make_id(rng, region=rng.choice(["310104", "440305", "510107", "330106"]))
            if both[17] != "X" and luhn_ok(both):
                break
        add(f"证件{both}", (ID, both), (CARD, both))

        # ---- order and tracking numbers, amounts, dates: nothing to find
        add(f"订单号{random_digits(rng, 19, '12')}已发货，运单号SF{random_digits(rng, 12)}")
        add(f"快递单号YT{random_digits(rng, 13, '79')}，订单20261127{random_digits(rng, 6)}")
        add(f"Order #{random_digits(rng, 10)}-{random_digits(rng, 6)} shipped 2026-11-27 09:15:00")
        add(f"合同编号HT-2026-{random_digits(rng, 6)}，金额{rng.randint(1000, 99999):,}.00元")
        add(_filler(rng))
        add(_filler(rng, english=True))

    # inputs rare enough to write once
    add("")
    add("尾号1234")
    add("１３８＊＊＊＊５６７８")
    add("110101********1234")
    add("6222 **** **** 1234")
    return cases


def build_corpus(seed: int = 20261127) -> list[dict]:
    rng = random.Random(seed)
    return [
        {"text": text, "ref_date": REF_DATE.isoformat(),
         "expected": [{"kind": kind, "value": value} for kind, value in labels]}
        for text, labels in _cases(rng)
    ]


if __name__ == "__main__":
    rows = build_corpus()
    CORPUS.parent.mkdir(parents=True, exist_ok=True)
    with CORPUS.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} texts to {CORPUS}")
