"""Synthetic datasets in the SPEC §1 format, for demos, tests and benchmarks.

Two parts:

* a random part, fully vectorised (Polars over uniforms drawn from Python's
  Mersenne Twister, whose stream for a given seed is fixed across Python,
  Polars and platform versions, unlike numpy's or Arrow's generators): loans,
  instalments with on-time, late and defaulted payments, and a collection
  process of reminders, calls and third-party contacts. It yields a few
  percent of violations on its own, as real logs do;
* a fixed set of hand-written edge cases (loan ids `LX..`, event ids
  `X-..`), the same for every seed and size, each placed on a rule boundary;
  `sample_data/README.md` lists them with the rule each one must (or must
  not) trip, plus deliberately bad rows that the loader must reject.

Generation runs in chunks of loans, so memory stays flat as the size grows.
"""

from __future__ import annotations

import math
import random
import shutil
import sys
from array import array
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pyarrow as pa

__all__ = ["generate", "FORMATS", "id_check_char", "luhn_check_digit"]

FORMATS = ("mixed", "parquet", "csv")
TABLE_NAMES = ("borrowers", "loans", "installments", "emergency_contacts", "contacts")

NOW = date(2026, 11, 27)                 # the last day of the log
ORIG_FROM, ORIG_TO = date(2026, 4, 20), date(2026, 10, 20)
CHUNK_LOANS = 20_000                     # fixed: output bytes must not depend on the machine
ZONES = ("Asia/Shanghai", "", "America/New_York", "Europe/London")
CN = ZoneInfo("Asia/Shanghai")
EPOCH = date(1970, 1, 1)
BRAND = "恒信金融"
HOTLINE = "400-820-6688"

# ---------------------------------------------------------------- identifiers

_ID_W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_check_char(body17: str) -> str:
    """GB 11643-1999 check character of the first 17 digits of a resident ID."""
    return _ID_CHECK[sum(int(d) * w for d, w in zip(body17, _ID_W)) % 11]


def luhn_check_digit(body: str) -> str:
    """The digit that makes `body + digit` pass the Luhn check."""
    s = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        s += d
    return str((10 - s % 10) % 10)


def _id_check_expr(body: pl.Expr) -> pl.Expr:
    s = pl.sum_horizontal([body.str.slice(i, 1).cast(pl.Int32) * w for i, w in enumerate(_ID_W)]) % 11
    return s.replace_strict(dict(enumerate(_ID_CHECK)), return_dtype=pl.String)


def _luhn_expr(body18: pl.Expr) -> pl.Expr:
    """Check digit of a card body left-padded with zeros to 18 digits (padding does not change Luhn)."""
    terms = []
    for j in range(18):
        d = body18.str.slice(j, 1).cast(pl.Int32)
        if (17 - j) % 2 == 0:
            d = pl.when(d > 4).then(d * 2 - 9).otherwise(d * 2)
        terms.append(d)
    return ((10 - pl.sum_horizontal(terms) % 10) % 10).cast(pl.String)


# ---------------------------------------------------------------- randomness


class _Rng:
    """Uniforms in [0, 1) as Polars Series, 32 bits each, from a string-seeded Mersenne Twister."""

    def __init__(self, *key: object) -> None:
        self._r = random.Random(":".join(map(str, key)))

    def u(self, n: int) -> pl.Series:
        if n == 0:
            return pl.Series([], dtype=pl.Float64)
        b = self._r.randbytes(4 * n)
        if sys.byteorder == "big":  # keep the stream identical on every platform
            a = array("I", b)
            a.byteswap()
            b = a.tobytes()
        arr = pa.Array.from_buffers(pa.uint32(), n, [None, pa.py_buffer(b)])
        return pl.from_arrow(arr).cast(pl.Float64) / 4294967296.0


def _cum(weights: list[float]) -> list[float]:
    tot = float(sum(weights))
    out, acc = [], 0.0
    for w in weights:
        acc += w / tot
        out.append(acc)
    out[-1] = 1.0
    return out


def _pick(u: pl.Series, weights: list[float]) -> pl.Series:
    """Index of the weighted choice for each uniform."""
    return pl.Series(_cum(weights)).search_sorted(u, side="right").cast(pl.Int64)


@dataclass
class _Pools:
    """Several weighted lists flattened into one, so one binary search picks for every row at once."""

    values: list = field(default_factory=list)
    cum: list[float] = field(default_factory=list)
    index: dict = field(default_factory=dict)

    def add(self, key: object, items: list[tuple[float, object]]) -> None:
        p = len(self.index)
        self.index[key] = p
        self.values.extend(v for _, v in items)
        self.cum.extend(p + c for c in _cum([w for w, _ in items]))

    def pick(self, pool: pl.Series, u: pl.Series) -> pl.Series:
        idx = pl.Series(self.cum).search_sorted(pool.cast(pl.Float64) + u, side="right")
        return pl.Series(self.values, dtype=pl.String).gather(idx)


def _digits(u: pl.Series | pl.Expr, k: int) -> pl.Expr:
    e = u if isinstance(u, pl.Expr) else pl.lit(u)
    return (e * 10**k).floor().cast(pl.Int64).cast(pl.String).str.zfill(k)


def _money(cents: pl.Expr) -> pl.Expr:
    return pl.format("{}.{}", cents // 100, (cents % 100).cast(pl.String).str.zfill(2))


def _money_commas(cents: pl.Expr) -> pl.Expr:
    ip = cents // 100
    z3 = lambda e: e.cast(pl.String).str.zfill(3)  # noqa: E731
    head = (pl.when(ip >= 1_000_000).then(pl.format("{},{},{}", ip // 1_000_000, z3(ip // 1000 % 1000), z3(ip % 1000)))
            .when(ip >= 1000).then(pl.format("{},{}", ip // 1000, z3(ip % 1000)))
            .otherwise(ip.cast(pl.String)))
    return pl.format("{}.{}", head, (cents % 100).cast(pl.String).str.zfill(2))


# ---------------------------------------------------------------- people

SURNAMES = [("王", "Wang", 9), ("李", "Li", 9), ("张", "Zhang", 8), ("刘", "Liu", 7), ("陈", "Chen", 6),
            ("杨", "Yang", 4), ("黄", "Huang", 3), ("赵", "Zhao", 3), ("吴", "Wu", 3), ("周", "Zhou", 3),
            ("徐", "Xu", 2), ("孙", "Sun", 2), ("马", "Ma", 2), ("朱", "Zhu", 2), ("胡", "Hu", 2),
            ("郭", "Guo", 2), ("何", "He", 2), ("高", "Gao", 2), ("林", "Lin", 2), ("罗", "Luo", 2),
            ("郑", "Zheng", 1), ("梁", "Liang", 1), ("谢", "Xie", 1), ("宋", "Song", 1), ("唐", "Tang", 1),
            ("韩", "Han", 1), ("冯", "Feng", 1), ("邓", "Deng", 1), ("曹", "Cao", 1), ("彭", "Peng", 1)]
GIVEN = [("伟", "Wei"), ("芳", "Fang"), ("娜", "Na"), ("敏", "Min"), ("静", "Jing"), ("丽", "Li"),
         ("强", "Qiang"), ("磊", "Lei"), ("军", "Jun"), ("洋", "Yang"), ("勇", "Yong"), ("艳", "Yan"),
         ("杰", "Jie"), ("娟", "Juan"), ("涛", "Tao"), ("明", "Ming"), ("超", "Chao"), ("秀英", "Xiuying"),
         ("霞", "Xia"), ("平", "Ping"), ("刚", "Gang"), ("桂英", "Guiying"), ("建华", "Jianhua"),
         ("文", "Wen"), ("华", "Hua"), ("鑫", "Xin"), ("宇", "Yu"), ("浩", "Hao"), ("婷", "Ting"),
         ("雪", "Xue"), ("子涵", "Zihan"), ("欣怡", "Xinyi"), ("俊", "Jun"), ("佳", "Jia"), ("晨", "Chen")]
MIDDLE = [("志", "Zhi"), ("海", "Hai"), ("国", "Guo"), ("春", "Chun"), ("晓", "Xiao"), ("建", "Jian"),
          ("玉", "Yu"), ("红", "Hong"), ("永", "Yong"), ("德", "De")]
REGIONS = [("110105", "北京市朝阳区"), ("110108", "北京市海淀区"), ("310115", "上海市浦东新区"),
           ("310104", "上海市徐汇区"), ("440106", "广东省广州市天河区"), ("440305", "广东省深圳市南山区"),
           ("330106", "浙江省杭州市西湖区"), ("510107", "四川省成都市武侯区"), ("420106", "湖北省武汉市武昌区"),
           ("320102", "江苏省南京市玄武区"), ("500103", "重庆市渝中区"), ("610113", "陕西省西安市雁塔区"),
           ("370102", "山东省济南市历下区"), ("430104", "湖南省长沙市岳麓区"), ("350203", "福建省厦门市思明区"),
           ("410105", "河南省郑州市金水区")]
STREETS = ["人民路", "解放路", "中山路", "建设路", "和平街", "幸福路", "胜利路", "长江路", "文化路",
           "青年路", "光明街", "朝阳路", "新华路", "东风路", "学府路", "滨江大道"]
MOBILE_PREFIX = ["130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152",
                 "155", "156", "157", "158", "159", "166", "177", "180", "181", "182", "183", "185",
                 "186", "187", "188", "189", "191", "198", "199"]
CARD_BINS = [("622202", 19), ("622848", 19), ("621700", 19), ("622588", 16), ("622262", 19),
             ("621483", 16), ("625965", 16), ("436742", 16), ("518710", 16), ("622700", 19)]
RELATIONSHIPS = [("配偶", 30), ("父母", 35), ("朋友", 20), ("同事", 15)]


def _people(rng: _Rng, n: int) -> pl.DataFrame:
    """Names, resident IDs, mobiles, cards and addresses for n people (vectorised)."""
    u = [rng.u(n) for _ in range(16)]
    sur = _pick(u[0], [w for *_, w in SURNAMES])
    giv = _pick(u[1], [1] * len(GIVEN))
    reg = _pick(u[4], [1] * len(REGIONS))
    moved = _pick(u[5], [1] * len(REGIONS))
    bins = _pick(u[8], [1] * len(CARD_BINS))
    first_day = date(1965, 1, 1).toordinal() - EPOCH.toordinal()
    df = pl.DataFrame({
        "sur": pl.Series([s for s, *_ in SURNAMES]).gather(sur),
        "sur_en": pl.Series([e for _, e, _ in SURNAMES]).gather(sur),
        "giv": pl.Series([g for g, _ in GIVEN]).gather(giv),
        "giv_len": pl.Series([len(g) for g, _ in GIVEN]).gather(giv),
        "mid": pl.Series([m for m, _ in MIDDLE]).gather(_pick(u[2], [1] * len(MIDDLE))),
        "region": pl.Series([r for r, _ in REGIONS]).gather(reg),
        "home": pl.Series([a for _, a in REGIONS]).gather(
            pl.select(pl.when(pl.lit(u[3]) < 0.6).then(pl.lit(reg)).otherwise(pl.lit(moved))).to_series()),
        "bin": pl.Series([b for b, _ in CARD_BINS]).gather(bins),
        "blen": pl.Series([ln for _, ln in CARD_BINS]).gather(bins),
        "phone_pre": pl.Series(MOBILE_PREFIX).gather(_pick(u[7], [1] * len(MOBILE_PREFIX))),
        "street": pl.Series(STREETS).gather(_pick(u[12], [1] * len(STREETS))),
        **{f"u{i}": u[i] for i in (3, 6, 9, 10, 11, 13, 14, 15)},
        "birth": (first_day + (u[6] * (date(2005, 12, 31) - date(1965, 1, 1)).days).floor()).cast(pl.Int32).cast(pl.Date),
        "seq3": u[11],
    })
    ival = lambda c, k: (pl.col(c) * k).floor().cast(pl.Int64)  # noqa: E731
    df = df.with_columns(
        id_body=pl.concat_str([pl.col("region"), pl.col("birth").dt.strftime("%Y%m%d"), _digits(pl.col("u14"), 3)]),
        card_body=pl.concat_str([pl.col("bin"), _digits(pl.col("u9"), 6), _digits(pl.col("u10"), 6)]).str.slice(
            0, pl.col("blen") - 1),
    ).with_columns(
        id_number=pl.col("id_body") + _id_check_expr(pl.col("id_body")),
        bank_card=pl.col("card_body") + _luhn_expr(pl.col("card_body").str.zfill(18)),
        phone=pl.col("phone_pre") + _digits(pl.col("u11"), 8),
        name=pl.when((pl.col("u3") * 7 % 1 < 0.35) & (pl.col("giv_len") == 1))
        .then(pl.concat_str("sur", "mid", "giv")).otherwise(pl.concat_str("sur", "giv")),
        address=pl.concat_str([
            pl.col("home"), pl.col("street"), (ival("u13", 398) + 1).cast(pl.String), pl.lit("号"),
            pl.when(pl.col("u15") < 0.7).then(pl.format(
                "{}栋{}单元{}室", ival("u15", 1000) % 30 + 1, ival("u13", 1000) % 4 + 1,
                (ival("u14", 1000) % 28 + 1) * 100 + ival("u9", 1000) % 4 + 1,
            )).otherwise(pl.lit("")),
        ]),
    )
    male = pl.col("id_number").str.slice(16, 1).cast(pl.Int32) % 2 == 1
    return df.select(
        "name", "id_number", "phone", "bank_card", "address",
        (pl.col("sur") + pl.when(male).then(pl.lit("先生")).otherwise(pl.lit("女士"))).alias("title"),
        (pl.when(male).then(pl.lit("Mr. ")).otherwise(pl.lit("Ms. ")) + pl.col("sur_en")).alias("title_en"),
    )


# ---------------------------------------------------------------- message templates
# Placeholders: {name} {title} {title_en} {amt} {amt_c} {due} {due_en} {dpd} {card4} {card} {phone}
# {phone_m} {id_m} {loan} {rel} {addr}. A few templates are deliberately non-compliant (marked "bad"),
# at low weight, so the random process breaks the text rules now and then as real agents do.
B = f"【{BRAND}】"
BE = "[Hengxin Finance]"
TEMPLATES: dict[tuple[str, str], list[tuple[float, str]]] = {
    ("pre_sms", "zh"): [
        (5, B + "尊敬的{title}，您本期应还{amt}元，还款日为{due}，请确保尾号{card4}的银行卡余额充足。如已还款请忽略。"),
        (3, B + "{name}您好，您的借款（合同号{loan}）本期账单{amt}元将于{due}到期，可在App内一键还款。"),
        (2, B + "温馨提示：{title}，{due}是您的还款日，应还金额{amt_c}元，按时还款可提升信用额度。退订回T"),
    ],
    ("pre_sms", "en"): [
        (3, BE + " Dear {title_en}, your installment of CNY {amt} is due on {due_en}. Please keep enough funds in your card ending {card4}."),
        (2, BE + " Reminder: CNY {amt_c} is due on {due_en} for loan {loan}. Pay in the app. Reply STOP to opt out."),
    ],
    ("pre_push", "zh"): [
        (3, "您本期账单{amt}元将于{due}到期，点击立即还款。"),
        (2, "还款提醒：请于{due}前还款{amt}元，保持良好信用记录。"),
    ],
    ("pre_push", "en"): [(1, "Your bill of CNY {amt} is due on {due_en}. Tap to pay now.")],
    ("pre_email", "zh"): [
        (1, "尊敬的{title}：\n您好！您在" + BRAND + "的借款（合同号{loan}）本期应还金额为{amt}元，还款日为{due}。"
            "系统将于还款日从您尾号{card4}的银行卡自动扣款，请确保余额充足。如您已还款，请忽略本邮件。\n"
            + BRAND + "客户服务中心"),
    ],
    ("pre_email", "en"): [
        (1, "Dear {title_en},\nThis is a reminder that the installment of CNY {amt} on loan {loan} is due on {due_en}. "
            "The amount will be debited from your card ending {card4}. If you have already paid, please disregard "
            "this message.\nHengxin Finance Customer Service"),
    ],
    ("due_sms", "zh"): [
        (3, B + "{title}，今天是您的还款日，应还{amt}元，请于今日22点前完成还款。"),
        (2, B + "{name}您好，您本期账单今日到期，应还{amt_c}元，尾号{card4}的银行卡将于今晚扣款。"),
    ],
    ("due_sms", "en"): [(1, BE + " Dear {title_en}, CNY {amt} is due today. Please pay before 10 pm.")],
    ("paid_sms", "zh"): [(1, B + "{title}，您已成功还款{amt}元，感谢您的支持。")],
    ("paid_sms", "en"): [(1, BE + " Payment of CNY {amt} received. Thank you, {title_en}.")],
    ("call_ok", "zh"): [
        (4, "客户本人接听，承诺本周五前还款{amt}元。"),
        (3, "客户称近期资金周转困难，申请延期还款，已告知可申请分期方案。"),
        (3, "客户表示知晓账单已逾期{dpd}天，今晚通过App还款。"),
        (2, "客户称已还款，核实系统未到账，已请其提供转账凭证。"),
        (2, "客户称尾号{card4}的银行卡余额不足导致扣款失败，承诺明日存入。"),
        (1, "客户情绪激动，要求减免罚息，已记录并提交主管。"),
    ],
    ("call_ok", "en"): [
        (2, "Spoke with {title_en}; promised to pay CNY {amt} by Friday."),
        (1, "Customer disputes the balance and asked for a statement by email."),
    ],
    ("call_na", "zh"): [(6, "无人接听"), (2, "用户忙"), (2, "关机"), (1, "响铃后被挂断"), (1, "转语音信箱，未留言"),
                        (3, "")],
    ("call_na", "en"): [(2, "No answer"), (1, "Line busy"), (1, "")],
    ("col_sms", "zh"): [
        (5, B + "{title}，您的借款已逾期{dpd}天，应还{amt}元，请尽快还款，以免影响您的个人信用。"),
        (3, B + "{name}您好，您尾号{card4}的银行卡扣款失败，当前待还{amt_c}元，请登录App及时还款。"),
        (3, B + "{title}，您本期账单已逾期，将按日产生罚息，请于今日内还款{amt}元。客服" + HOTLINE),
        (2, B + "{title}，您的账户（手机{phone_m}）仍有{amt}元未还，请尽快处理。"),
        (0.05, B + "{name}您好，系统扣款失败，请向银行卡{card}存入{amt}元。"),  # bad: full card number
    ],
    ("col_sms", "en"): [
        (2, BE + " Dear {title_en}, your account is {dpd} days past due. Amount due: CNY {amt}. Please pay today in the app."),
        (1, BE + " The payment from your card ending {card4} failed. CNY {amt_c} is outstanding. Call " + HOTLINE + "."),
    ],
    ("col_push", "zh"): [
        (3, "您的账单已逾期{dpd}天，待还{amt}元，立即还款避免产生更多罚息。"),
        (2, "逾期提醒：待还金额{amt_c}元，点击查看还款方式。"),
        (1, "{title}，您有一笔{amt}元的账单待处理，点击查看。"),
    ],
    ("col_push", "en"): [(1, "Your payment is {dpd} days overdue. Tap to pay CNY {amt}.")],
    ("col_email", "zh"): [
        (1, "尊敬的{title}：\n您在" + BRAND + "的借款（合同号{loan}）已逾期{dpd}天，截至今日待还金额{amt}元。"
            "请您尽快通过App或银行转账完成还款。如有困难，可致电" + HOTLINE + "申请还款计划。\n" + BRAND + "贷后管理部"),
    ],
    ("col_email", "en"): [
        (1, "Dear {title_en},\nYour loan {loan} is {dpd} days past due with CNY {amt} outstanding. Please pay as soon "
            "as possible or call " + HOTLINE + " to discuss a payment plan.\nHengxin Finance Collections"),
    ],
    ("im", "zh"): [
        (3, "{title}您好，我是" + BRAND + "的客服专员，您的账单待还{amt}元，方便的话请回复一下还款时间。"),
        (2, "您好，看到消息请回电，关于尾号{card4}银行卡的扣款事宜。"),
    ],
    ("im", "en"): [(1, "Hi {title_en}, this is Hengxin Finance. Could you let us know when you can pay CNY {amt}?")],
    ("letter", "zh"): [
        (1, "【还款通知函】{name}（身份证号{id_m}）：您于我司的借款（合同号{loan}）已逾期{dpd}天，尚欠{amt}元。"
            "请于收到本函之日起七日内还款，如有异议请致电" + HOTLINE + "。" + BRAND),
    ],
    ("visit_ok", "zh"): [(1, "外访：{addr}，见到客户本人，客户承诺一周内还款。")],
    ("visit_na", "zh"): [(2, "外访：{addr}，客户不在，已留下联系卡。"), (1, "外访：{addr}，地址无人居住。")],
    ("ec_call_ok", "zh"): [
        (8, "联系人（{rel}）表示会转告{name}尽快回电。"),
        (3, "联系人称与{name}已很久没有联系，不清楚其近况。"),
        (2, "联系人表示{name}在外地打工，已提供其新的联系方式。"),
        (2, "联系人拒绝沟通并挂断。"),
        (0.5, "告知联系人{name}欠款{amt}元未还，请其督促还款。"),  # bad: disclosure
    ],
    ("ec_call_ok", "en"): [
        (3, "Contact ({rel}) agreed to pass the message on to {title_en}."),
        (0.2, "Told the contact that {title_en} has an overdue debt."),  # bad: disclosure
    ],
    ("ec_call_na", "zh"): [(3, "联系人无人接听"), (1, "联系人电话关机"), (1, "联系人号码忙线"), (1, "")],
    ("ec_call_na", "en"): [(1, "Contact did not answer"), (1, "")],
    ("ec_sms", "zh"): [
        (8, "您好，这里是" + BRAND + "客服，有重要事情需联系{name}，麻烦您转告其尽快回电" + HOTLINE + "，谢谢。"),
        (4, "{rel}您好，我们暂时联系不上{name}，如方便请转告其与我们联系，打扰了。"),
        (0.4, "您好，{name}在我司的借款已逾期{dpd}天，请您转告其尽快还款。"),  # bad: disclosure
        (0.15, "您好，请转告{name}回电，或告知其手机号{phone}是否仍在使用，谢谢。"),  # bad: PII to a third party
    ],
    ("ec_sms", "en"): [
        (1, "Hello, this is Hengxin Finance. Please ask {title_en} to call us back at " + HOTLINE + ". Thank you."),
    ],
    ("tp_call_ok", "zh"): [
        (3, "同事称{name}已离职，不清楚去向。"), (3, "通讯录联系人表示不认识{name}。"),
        (2, "对方称会转告{name}回电。"), (0.4, "已告知对方{name}欠款未还的情况。"),  # bad: disclosure
    ],
    ("tp_call_na", "zh"): [(1, "对方无人接听"), (1, "")],
}

# category: (name, channel, recipient_type, hour profile, outcome pool, template key)
CATS = [
    ("R_SMS_PRE", "sms", "borrower", "auto", "sms", "pre_sms"),
    ("R_PUSH", "app_push", "borrower", "auto", "push", "pre_push"),
    ("R_EMAIL", "email", "borrower", "auto", "email", "pre_email"),
    ("R_SMS_DUE", "sms", "borrower", "auto", "sms", "due_sms"),
    ("R_PAID", "sms", "borrower", "auto", "sms", "paid_sms"),
    ("C_CALL", "call", "borrower", "manual", "call_b", "call"),
    ("C_SMS", "sms", "borrower", "manual", "sms", "col_sms"),
    ("C_PUSH", "app_push", "borrower", "auto", "push", "col_push"),
    ("C_EMAIL", "email", "borrower", "auto", "email", "col_email"),
    ("C_IM", "im", "borrower", "manual", "im", "im"),
    ("C_LETTER", "letter", "borrower", "auto", "letter", "letter"),
    ("C_VISIT", "visit", "borrower", "manual", "visit", "visit"),
    ("T_EC_CALL", "call", "emergency_contact", "manual", "call_tp", "ec_call"),
    ("T_EC_SMS", "sms", "emergency_contact", "manual", "sms", "ec_sms"),
    ("T_TP_CALL", "call", "third_party", "manual", "call_tp", "tp_call"),
]
CAT = {c[0]: i for i, c in enumerate(CATS)}
OUTCOMES = {
    "sms": [("delivered", 80), ("failed", 5), (None, 15)],
    "push": [("delivered", 50), ("read", 35), ("failed", 10), (None, 5)],
    "email": [("delivered", 70), ("read", 20), ("failed", 5), (None, 5)],
    "im": [("delivered", 40), ("read", 55), ("failed", 5)],
    "letter": [("delivered", 90), (None, 10)],
    "visit": [("connected", 30), ("failed", 50), (None, 20)],
    "call_b": [("connected", 22), ("no_answer", 38), ("busy", 10), ("voicemail", 8), ("refused", 7),
               ("failed", 14.7), ("do_not_contact", 0.3)],
    "call_tp": [("connected", 35), ("no_answer", 30), ("busy", 8), ("voicemail", 5), ("refused", 10),
                ("failed", 10), ("do_not_contact", 2)],
}
# Local hour of day: automated batches cluster in the morning and early evening; agents work 9-21.
# A small share falls outside 08:00-22:00 (dialler misconfiguration), as in real logs.
HOURS_AUTO = [0] * 7 + [0.3, 5, 30, 20, 8, 3, 3, 4, 4, 3, 3, 6, 6, 4, 1, 0.3, 0]
HOURS_MANUAL = [0] * 7 + [0.4, 3, 10, 11, 10, 5, 6, 10, 10, 10, 8, 5, 5, 4, 2.5, 0.3, 0.1]
CHANNEL_SOURCE = {"call": "dialer", "sms": "sms-gateway", "app_push": "push", "email": "mail", "im": "im",
                  "letter": "post", "visit": "field"}


def _template_pools() -> _Pools:
    pools = _Pools()
    for (key, lang), items in TEMPLATES.items():
        pools.add((key, lang), items)
    return pools


def _outcome_pools() -> _Pools:
    pools = _Pools()
    for key, items in OUTCOMES.items():
        pools.add(key, [(w, v) for v, w in items])
    return pools
