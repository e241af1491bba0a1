"""Benchmark identifier detection: audit.pii vs the per-row reference vs Presidio.

Usage: python bench/pii_bench.py [--n 1000000] [--presidio-n 20000] [--ref-n N]

Prints, from one run, messages/second on generated collection messages and
precision/recall per kind on tests/data/pii_corpus.jsonl for
  1. audit.pii (vectorised Polars),
  2. tests/pii_reference.py (plain per-row Python),
  3. Presidio pattern-only with its no-op NLP engine: (a) stock recognizers,
     (b) custom Chinese pattern recognizers with checksum validation.
Presidio is optional; it is skipped when not importable.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import time
import unicodedata
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import pii_reference as ref

from audit import pii

REF_DATE = dt.date(2026, 11, 27)
KINDS = pii.KINDS

# --------------------------------------------------------------------------- messages

_SMS = [
    "【{brand}】尊敬的{name}，您的借款已逾期{n}天，应还{amt}元，请于{date}前还款，详询{hotline}。",
    "【{brand}】您尾号{last4}的分期账单本期应还{amt}元，最后还款日{date}，请按时还款以免影响征信。",
    "【{brand}】{name}您好，您的账户已逾期，逾期金额{amt}元，请登录APP或回复1了解还款方式。退订回T",
    "{name}先生/女士，我司将于{date}安排专员上门核实，如已还款请忽略。客服{hotline}",
    "温馨提示：您的还款日为{date}，当前待还{amt}元（含罚息{fee}元），请保持还款卡余额充足。",
]
_NOTES = [
    "{date} {hh}:{mm} 致电借款人，{outcome}，承诺{date2}还款{amt}元。",
    "{date} {hh}:{mm} 联系紧急联系人{rel}，告知请借款人回电，未透露欠款信息。",
    "外呼记录：{outcome}，共{n}次，下次跟进{date2}。合同号HT{contract}",
    "客户称资金周转困难，申请分期，金额{amt}元，已提交审批，工单{ticket}。",
]
_EMAILS = [
    "Dear {name_en}, your instalment of CNY {amt} was due on {date}. Please pay via the app. Ref {ticket}.",
    "Call note {date} {hh}:{mm}: borrower {outcome_en}; follow up on {date2}.",
]
_WITH_ID = [
    "借款人身份证号{id}，手机{mobile}，请核实身份。",
    "客户提供还款卡{card_g}，已登记。",
    "请联系本人{mobile_f}处理。",
    "Borrower ID {id}, mobile {mobile_f}.",
    "身份证：{id_fw}（客户手机输入）",
]
_HARD_NEGATIVE = [
    "订单号{order}已生成，运单号SF{tracking}。",
    "已脱敏：{mask_mobile}，证件{mask_id}，卡号尾号{last4}。",
    "交易流水{flow}，交易金额{amt}元。",
    "固话0{area}-{landline}，转{ext}。",
]
_BRANDS = ["安信消费金融", "云汇分期", "小橙借款", "乐享花", "众诚金融"]
_NAMES = ["王先生", "李女士", "张伟", "刘洋", "陈静", "杨帆"]
_OUTCOMES = ["未接通", "已接通", "客户挂断", "关机", "无人接听"]


def _fill(rng: random.Random, template: str) -> str:
    def digits(k: int) -> str:
        return f"{rng.randrange(10 ** k):0{k}d}"

    mobile = ref.make_mobile(rng)
    values = {
        "brand": rng.choice(_BRANDS), "name": rng.choice(_NAMES), "name_en": "Mr. Wang",
        "n": rng.randint(1, 120), "amt": f"{rng.randint(100, 80000):,}.{rng.randint(0, 99):02d}",
        "fee": f"{rng.randint(1, 500)}.00", "date": f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "date2": f"{rng.randint(1, 12)}月{rng.randint(1, 28)}日", "hotline": "400-800-" + digits(4),
        "last4": digits(4), "hh": f"{rng.randint(8, 21):02d}", "mm": f"{rng.randint(0, 59):02d}",
        "outcome": rng.choice(_OUTCOMES), "outcome_en": "did not answer", "rel": rng.choice(["父亲", "配偶", "同事"]),
        "contract": digits(8), "ticket": digits(9), "order": "2" + digits(18), "tracking": digits(12),
        "mask_mobile": mobile[:3] + "****" + mobile[7:], "mask_id": "110101********" + digits(4),
        "flow": "1" + digits(19), "area": rng.choice(["10", "21", "755"]), "landline": digits(8), "ext": digits(3),
    }
    if "{id" in template or "{card" in template or "{mobile" in template:
        ident = ref.make_id(rng)
        card = ref.make_card(rng, rng.choice([16, 19]))
        values |= {
            "id": ident, "id_fw": ref.fullwidth(ident), "mobile": mobile, "card_g": ref.grouped(card),
            "mobile_f": rng.choice([mobile, ref.split_344(mobile), "+86 " + mobile, "0086-" + mobile]),
        }
    return template.format(**values)


def generate_messages(n: int, seed: int = 1) -> list[str]:
    """Collection SMS, call notes and e-mails; ~3% carry identifiers, ~4% look like they might."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.03:
            template = rng.choice(_WITH_ID)
        elif r < 0.07:
            template = rng.choice(_HARD_NEGATIVE)
        elif r < 0.55:
            template = rng.choice(_SMS)
        elif r < 0.92:
            template = rng.choice(_NOTES)
        else:
            template = rng.choice(_EMAILS)
        out.append(_fill(rng, template))
    return out


# --------------------------------------------------------------------------- detectors
# Each detector has a `prepare` step (untimed: the data as it arrives, a Polars
# column or Python strings) and a `detect` step (timed), which returns
# something `as_set` turns into {(text index, kind, value)}.


class Vectorised:
    name = "vectorised (audit.pii)"

    @staticmethod
    def prepare(texts: list[str]) -> pl.DataFrame:
        return pl.DataFrame({"i": range(len(texts)), "text": texts}).with_columns(ref=pl.lit(REF_DATE))

    @staticmethod
    def detect(frame: pl.DataFrame) -> pl.DataFrame:
        return pii.find_identifiers(frame, key="i", text="text", ref_date="ref")

    @staticmethod
    def as_set(found: pl.DataFrame) -> set[tuple]:
        return set(found.select("i", "kind", "value").iter_rows())


class Reference:
    name = "per-row reference (tests/pii_reference.py)"

    @staticmethod
    def prepare(texts: list[str]) -> list[str]:
        return texts

    @staticmethod
    def detect(texts: list[str]) -> list[list[tuple]]:
        return [ref.find_identifiers(t, REF_DATE) for t in texts]

    @staticmethod
    def as_set(found: list[list[tuple]]) -> set[tuple]:
        return {(i, kind, value) for i, fs in enumerate(found) for kind, _, _, value in fs}


def _presidio_value(kind: str, span: str) -> str:
    digits = "".join(c for c in span if c.isdigit() or c in "Xx").upper()
    if kind == "mobile" and len(digits) > 11 and digits.startswith(("86", "0086")):
        digits = digits[-11:]
    return digits


def presidio_detectors() -> list | str:
    """Both Presidio set-ups, or the reason they cannot run."""
    import logging

    try:
        from presidio_analyzer import (
            AnalyzerEngine,
            Pattern,
            PatternRecognizer,
            RecognizerRegistry,
        )
        from presidio_analyzer.nlp_engine import NoOpNlpEngine
    except ImportError as err:  # optional
        return f"presidio-analyzer not importable ({err})"
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)

    def engine(lang: str, recognizers=None) -> AnalyzerEngine:
        nlp = NoOpNlpEngine([{"lang_code": lang, "model_name": "none"}])
        nlp.load()
        registry = RecognizerRegistry(supported_languages=[lang])
        if recognizers is None:
            registry.load_predefined_recognizers(languages=[lang], nlp_engine=nlp)
        else:
            for recognizer in recognizers:
                registry.add_recognizer(recognizer)
        return AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=[lang])

    class ChineseId(PatternRecognizer):
        def validate_result(self, text: str) -> bool:
            value = text.upper()
            try:
                born = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
            except ValueError:
                return False
            return ref.id_check_char(value[:17]) == value[17] and dt.date(1900, 1, 1) <= born <= REF_DATE

    class ChineseCard(PatternRecognizer):
        def validate_result(self, text: str) -> bool:
            return ref.luhn_ok(text.replace(" ", "").replace("-", ""))

    custom = [
        ChineseId(supported_entity="CN_ID", supported_language="zh", patterns=[Pattern(
            "id", r"(?<![0-9\p{Latin}])[0-9]{17}[0-9Xx](?![0-9\p{Latin}])", 0.5)]),
        ChineseCard(supported_entity="CN_CARD", supported_language="zh", patterns=[Pattern(
            "card", r"(?<![0-9])[3-6](?:[0-9]{15,18}|[0-9]{3}(?:[ -][0-9]{4}){3}(?:[ -][0-9]{1,3})?)(?![0-9])", 0.5)]),
        PatternRecognizer(supported_entity="CN_MOBILE", supported_language="zh", patterns=[Pattern(
            "mobile", r"(?<![0-9])(?:(?:\+86|0086|86)[ -]?)?1[3-9][0-9](?:[0-9]{8}|[ -][0-9]{4}[ -][0-9]{4})(?![0-9])",
            0.5)]),
    ]
    stock = engine("en")
    chinese = engine("zh", custom)
    stock_kinds = {"CREDIT_CARD": "bank_card", "PHONE_NUMBER": "mobile"}
    chinese_kinds = {"CN_ID": "id_number", "CN_CARD": "bank_card", "CN_MOBILE": "mobile"}

    class Presidio:
        def __init__(self, name: str, analyzer: AnalyzerEngine, lang: str, kinds: dict[str, str]):
            self.name, self.analyzer, self.lang, self.kinds = name, analyzer, lang, kinds

        @staticmethod
        def prepare(texts: list[str]) -> list[str]:
            return texts

        def detect(self, texts: list[str]) -> list[list[tuple]]:
            out = []
            for text in texts:
                t = unicodedata.normalize("NFKC", text)  # SPEC: judge the NFKC text
                results = self.analyzer.analyze(t, language=self.lang, entities=list(self.kinds))
                out.append([(self.kinds[r.entity_type], t[r.start : r.end]) for r in results])
            return out

        @staticmethod
        def as_set(found: list[list[tuple]]) -> set[tuple]:
            return {(i, kind, _presidio_value(kind, span)) for i, fs in enumerate(found) for kind, span in fs}

    return [
        Presidio("presidio (a) stock recognizers", stock, "en", stock_kinds),
        Presidio("presidio (b) Chinese patterns + checksums", chinese, "zh", chinese_kinds),
    ]


# --------------------------------------------------------------------------- measuring


def corpus() -> tuple[list[str], set[tuple]]:
    rows = [json.loads(line) for line in ref.CORPUS.read_text(encoding="utf-8").splitlines()]
    assert all(r["ref_date"] == REF_DATE.isoformat() for r in rows)
    labels = {(i, e["kind"], e["value"]) for i, r in enumerate(rows) for e in r["expected"]}
    return [r["text"] for r in rows], labels


def quality(found: set[tuple], labels: set[tuple]) -> dict[str, tuple[float, float]]:
    out = {}
    for kind in KINDS:
        f = {x for x in found if x[1] == kind}
        g = {x for x in labels if x[1] == kind}
        tp = len(f & g)
        out[kind] = (tp / len(f) if f else float("nan"), tp / len(g) if g else float("nan"))
    return out


def best_time(detector, data, repeat: int) -> tuple[float, object]:
    times, found = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        found = detector.detect(data)
        times.append(time.perf_counter() - start)
    return min(times), found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="messages to scan")
    parser.add_argument("--ref-n", type=int, default=None, help="messages for the per-row reference (default: --n)")
    parser.add_argument("--presidio-n", type=int, default=20_000, help="messages for Presidio")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per detector; the best is kept")
    args = parser.parse_args()
    ref_n = min(args.ref_n or args.n, args.n)
    presidio_n = min(args.presidio_n, args.n)

    t0 = time.perf_counter()
    messages = generate_messages(args.n)
    texts, labels = corpus()
    print(f"generated {args.n:,} messages in {time.perf_counter() - t0:.1f}s; "
          f"polars {pl.__version__} on {pl.thread_pool_size()} threads; best of {args.repeat} runs")

    detectors = [(Vectorised, args.n), (Reference, ref_n)]
    presidio = presidio_detectors()
    if isinstance(presidio, str):
        print(f"presidio skipped: {presidio}")
    else:
        detectors += [(d, presidio_n) for d in presidio]

    Vectorised.detect(Vectorised.prepare(texts))  # warm-up: builds the cached NFKC character class
    rates: dict[str, float] = {}
    findings: dict[str, set[tuple]] = {}
    print(f"\n{'detector':44} {'messages':>10} {'seconds':>8} {'msg/s':>12}   "
          + "   ".join(f"{k} P/R" for k in KINDS))
    for detector, n in detectors:
        seconds, found = best_time(detector, detector.prepare(messages[:n]), args.repeat)
        findings[detector.name] = detector.as_set(found)
        rates[detector.name] = n / seconds
        q = quality(detector.as_set(detector.detect(detector.prepare(texts))), labels)
        scores = "   ".join(f"{q[k][0]:.3f}/{q[k][1]:.3f}".rjust(len(k) + 4) for k in KINDS)
        print(f"{detector.name:44} {n:>10,} {seconds:>8.2f} {rates[detector.name]:>12,.0f}   {scores}")

    column = pl.DataFrame({"t": messages})
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        column.select(pii.mask_text(pl.col("t")))
        times.append(time.perf_counter() - t0)
    seconds = min(times)
    print(f"{'mask_text (audit.pii)':44} {args.n:>10,} {seconds:>8.2f} {args.n / seconds:>12,.0f}")

    fast = rates[Vectorised.name]
    print()
    for name, rate in rates.items():
        if name != Vectorised.name:
            print(f"vectorised / {name}: {fast / rate:,.1f}x")
    with_ids = len({x[0] for x in findings[Vectorised.name]})
    shared = {x for x in findings[Vectorised.name] if x[0] < ref_n}
    print(f"\n{with_ids:,} of {args.n:,} messages ({with_ids / args.n:.1%}) hold an identifier; "
          f"on the first {ref_n:,} the vectorised detector and the reference report "
          f"{len(shared):,} and {len(findings[Reference.name]):,} findings, "
          f"{len(shared ^ findings[Reference.name])} differ")


if __name__ == "__main__":
    main()
