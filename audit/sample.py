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

import random
import re
import sys
from array import array
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
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

    def pick(self, pool: pl.Series, u: pl.Series, dtype: pl.DataType = pl.String, index: bool = False) -> pl.Series:
        idx = pl.Series(self.cum).search_sorted(pool.cast(pl.Float64) + u, side="right")
        return idx.cast(pl.Int64) if index else pl.Series(self.values, dtype=dtype).gather(idx)


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
    u = {k: rng.u(n) for k in ("sur", "giv", "mid", "two", "reg", "moved", "home", "birth", "seq", "bin", "card1",
                               "card2", "pre", "num", "street", "no", "flat", "bld", "unit", "room")}
    sur = _pick(u["sur"], [w for *_, w in SURNAMES])
    giv = _pick(u["giv"], [1] * len(GIVEN))
    reg = _pick(u["reg"], [1] * len(REGIONS))
    moved = _pick(u["moved"], [1] * len(REGIONS))
    bins = _pick(u["bin"], [1] * len(CARD_BINS))
    first_day = _date_days(date(1965, 1, 1))
    df = pl.DataFrame({
        "sur": pl.Series([s for s, *_ in SURNAMES]).gather(sur),
        "sur_en": pl.Series([e for _, e, _ in SURNAMES]).gather(sur),
        "giv": pl.Series([g for g, _ in GIVEN]).gather(giv),
        "giv_len": pl.Series([len(g) for g, _ in GIVEN]).gather(giv),
        "mid": pl.Series([m for m, _ in MIDDLE]).gather(_pick(u["mid"], [1] * len(MIDDLE))),
        "region": pl.Series([r for r, _ in REGIONS]).gather(reg),
        # Most people live where their ID was issued; the rest moved.
        "home": pl.Series([a for _, a in REGIONS]).gather(
            pl.select(pl.when(pl.lit(u["home"]) < 0.6).then(pl.lit(reg)).otherwise(pl.lit(moved))).to_series()),
        "bin": pl.Series([b for b, _ in CARD_BINS]).gather(bins),
        "blen": pl.Series([ln for _, ln in CARD_BINS]).gather(bins),
        "phone_pre": pl.Series(MOBILE_PREFIX).gather(_pick(u["pre"], [1] * len(MOBILE_PREFIX))),
        "street": pl.Series(STREETS).gather(_pick(u["street"], [1] * len(STREETS))),
        "birth": (first_day + (u["birth"] * (date(2005, 12, 31) - date(1965, 1, 1)).days).floor())
        .cast(pl.Int32).cast(pl.Date),
        **{k: u[k] for k in ("two", "seq", "card1", "card2", "num", "no", "flat", "bld", "unit", "room")},
    })
    ival = lambda c, k: (pl.col(c) * k).floor().cast(pl.Int64)  # noqa: E731
    df = df.with_columns(
        id_body=pl.concat_str([pl.col("region"), pl.col("birth").dt.strftime("%Y%m%d"), _digits(pl.col("seq"), 3)]),
        card_body=pl.concat_str([pl.col("bin"), _digits(pl.col("card1"), 6), _digits(pl.col("card2"), 6)])
        .str.slice(0, pl.col("blen") - 1),
    ).with_columns(
        id_number=pl.col("id_body") + _id_check_expr(pl.col("id_body")),
        bank_card=pl.col("card_body") + _luhn_expr(pl.col("card_body").str.zfill(18)),
        phone=pl.col("phone_pre") + _digits(pl.col("num"), 8),
        name=pl.when((pl.col("two") < 0.35) & (pl.col("giv_len") == 1))
        .then(pl.concat_str("sur", "mid", "giv")).otherwise(pl.concat_str("sur", "giv")),
        address=pl.concat_str([
            pl.col("home"), pl.col("street"), (ival("no", 398) + 1).cast(pl.String), pl.lit("号"),
            pl.when(pl.col("flat") < 0.7).then(pl.format(
                "{}栋{}单元{}室", ival("bld", 30) + 1, ival("unit", 4) + 1, (ival("room", 28) + 1) * 100 + ival("flat", 4) % 4 + 1,
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
TAG = f"【{BRAND}】"
TAG_EN = "[Hengxin Finance]"
TEMPLATES: dict[tuple[str, str], list[tuple[float, str]]] = {
    ("pre_sms", "zh"): [
        (5, TAG + "尊敬的{title}，您本期应还{amt}元，还款日为{due}，请确保尾号{card4}的银行卡余额充足。如已还款请忽略。"),
        (3, TAG + "{name}您好，您的借款（合同号{loan}）本期账单{amt}元将于{due}到期，可在App内一键还款。"),
        (2, TAG + "温馨提示：{title}，{due}是您的还款日，应还金额{amt_c}元，按时还款可提升信用额度。退订回T"),
    ],
    ("pre_sms", "en"): [
        (3, TAG_EN + " Dear {title_en}, your installment of CNY {amt} is due on {due_en}. Please keep enough funds in your card ending {card4}."),
        (2, TAG_EN + " Reminder: CNY {amt_c} is due on {due_en} for loan {loan}. Pay in the app. Reply STOP to opt out."),
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
        (3, TAG + "{title}，今天是您的还款日，应还{amt}元，请于今日22点前完成还款。"),
        (2, TAG + "{name}您好，您本期账单今日到期，应还{amt_c}元，尾号{card4}的银行卡将于今晚扣款。"),
    ],
    ("due_sms", "en"): [(1, TAG_EN + " Dear {title_en}, CNY {amt} is due today. Please pay before 10 pm.")],
    ("paid_sms", "zh"): [(1, TAG + "{title}，您已成功还款{amt}元，感谢您的支持。")],
    ("paid_sms", "en"): [(1, TAG_EN + " Payment of CNY {amt} received. Thank you, {title_en}.")],
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
        (5, TAG + "{title}，您的借款已逾期{dpd}天，应还{amt}元，请尽快还款，以免影响您的个人信用。"),
        (3, TAG + "{name}您好，您尾号{card4}的银行卡扣款失败，当前待还{amt_c}元，请登录App及时还款。"),
        (3, TAG + "{title}，您本期账单已逾期，将按日产生罚息，请于今日内还款{amt}元。客服" + HOTLINE),
        (2, TAG + "{title}，您的账户（手机{phone_m}）仍有{amt}元未还，请尽快处理。"),
        (0.05, TAG + "{name}您好，系统扣款失败，请向银行卡{card}存入{amt}元。"),  # bad: full card number
    ],
    ("col_sms", "en"): [
        (2, TAG_EN + " Dear {title_en}, your account is {dpd} days past due. Amount due: CNY {amt}. Please pay today in the app."),
        (1, TAG_EN + " The payment from your card ending {card4} failed. CNY {amt_c} is outstanding. Call " + HOTLINE + "."),
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
HOURS_AUTO = [0] * 7 + [0.1, 5, 30, 20, 8, 3, 3, 4, 4, 3, 3, 6, 6, 4, 1, 0.1, 0]
HOURS_MANUAL = [0] * 7 + [0.15, 3, 10, 11, 10, 5, 6, 10, 10, 10, 8, 5, 5, 4, 2.5, 0.15, 0.05]
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


_PLACEHOLDER = re.compile(r"\{([a-z_0-9]+)\}")


def _fill_templates(ct: pl.DataFrame, templates: list[str], fill: dict[str, pl.Expr]) -> pl.Series:
    """Each row's `content`: one pl.format per template over just its rows (far faster than
    replacing every placeholder in every row)."""
    used = sorted({n for tpl in templates for n in _PLACEHOLDER.findall(tpl)})
    narrow = ct.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("_row"), "tidx", *(fill[n].alias(n) for n in used))
    parts = []
    for (t,), rows in narrow.partition_by("tidx", as_dict=True, maintain_order=True).items():
        tpl = templates[t]
        names = _PLACEHOLDER.findall(tpl)
        text = (pl.format(_PLACEHOLDER.sub("{}", tpl), *(pl.col(n) for n in names)) if names
                else pl.lit(tpl if tpl else None, pl.String))
        parts.append(rows.select("_row", text.alias("content")))
    if not parts:
        return pl.Series("content", [], pl.String)
    return pl.concat(parts).sort("_row")["content"]


def _template_lookup(pools: _Pools) -> pl.DataFrame:
    """(category, english?, connected?) -> template pool id; English falls back to Chinese."""
    rows = []
    for cat, (*_, tkey) in enumerate(CATS):
        for en in (False, True):
            for conn in (False, True):
                key = tkey + ("_ok" if conn else "_na") if tkey in ("call", "ec_call", "tp_call", "visit") else tkey
                lang = "en" if en and (key, "en") in TEMPLATES else "zh"
                rows.append((cat, en, conn, pools.index[(key, lang)]))
    return pl.DataFrame(rows, schema={"cat": pl.Int64, "en": pl.Boolean, "conn": pl.Boolean, "tpool": pl.Int64},
                        orient="row")


def _day_to_date(e: pl.Expr) -> pl.Expr:
    return e.cast(pl.Int32).cast(pl.Date)


def _date_days(d: date) -> int:
    return d.toordinal() - EPOCH.toordinal()


def _to_utc(lt: pl.Expr, zone: pl.Expr) -> pl.Expr:
    """Naive local wall time in the borrower's zone (code into ZONES; empty means Shanghai) -> naive UTC."""
    def conv(z: str) -> pl.Expr:
        return (lt.dt.replace_time_zone(z, ambiguous="earliest", non_existent="null")
                .dt.convert_time_zone("UTC").dt.replace_time_zone(None))
    return (pl.when(zone == 2).then(conv(ZONES[2])).when(zone == 3).then(conv(ZONES[3]))
            .otherwise(lt - pl.duration(hours=8)))


def _render_ts(lt: pl.Expr, utc: pl.Expr, zone: pl.Expr, u_style: pl.Expr, u_sep: pl.Expr) -> pl.Expr:
    """ISO-8601 text as lenders' systems write it: mostly Beijing time (+08:00), some UTC (Z), some the
    borrower's own offset, a few with a space instead of T."""
    style = (pl.when(zone <= 1).then(pl.when(u_style < 0.9).then(0).otherwise(1))
             .otherwise(pl.when(u_style < 0.45).then(0).when(u_style < 0.65).then(1).otherwise(2)))
    wall = pl.when(style == 0).then(utc + pl.duration(hours=8)).when(style == 1).then(utc).otherwise(lt)
    off = (lt - utc).dt.total_minutes()
    local_off = pl.format("{}{}:{}", pl.when(off < 0).then(pl.lit("-")).otherwise(pl.lit("+")),
                          (off.abs() // 60).cast(pl.String).str.zfill(2), (off.abs() % 60).cast(pl.String).str.zfill(2))
    suffix = pl.when(style == 0).then(pl.lit("+08:00")).when(style == 1).then(pl.lit("Z")).otherwise(local_off)
    text = wall.dt.strftime("%Y-%m-%dT%H:%M:%S") + suffix
    return pl.when(u_sep < 0.06).then(text.str.replace("T", " ", literal=True)).otherwise(text)


# ---------------------------------------------------------------- the random part


def _chunk(seed: int, c: int, lo: int, hi: int, event_base: int, pools: _Pools, lookup: pl.DataFrame,
           outcomes: _Pools) -> dict[str, pl.DataFrame]:
    """Loans lo..hi-1 with their borrowers, instalments, emergency contacts and contacts."""
    rng = _Rng(seed, "chunk", c)
    n = hi - lo
    people = _people(rng, n)
    u = {k: rng.u(n) for k in ("zone", "lang", "prod", "p1", "p2", "orig", "risk", "agent", "nec", "def")}
    num = pl.int_range(lo + 1, hi + 1, eager=True).cast(pl.String).str.zfill(7)
    prod = _pick(u["prod"], [45, 40, 15])
    loans = pl.DataFrame({
        "loan": pl.int_range(0, n, eager=True).cast(pl.Int64),
        "loan_id": "L" + num, "borrower_id": "B" + num,
        "zone": _pick(u["zone"], [78, 12, 6, 4]), "u_lang": u["lang"], "prod": prod, "p1": u["p1"], "p2": u["p2"],
        "orig": u["orig"], "risk": _pick(u["risk"], [85, 10, 5]), "u_agent": u["agent"],
        "n_ec": _pick(u["nec"], [3, 30, 45, 22]), "u_def": u["def"],
    }).with_columns(people)
    ival = lambda c, k: (pl.col(c) * k).floor().cast(pl.Int64)  # noqa: E731
    loans = loans.with_columns(
        en=pl.col("zone").is_in([2, 3]) & (pl.col("u_lang") < 0.7),
        principal=pl.when(pl.col("prod") == 0).then((ival("p1", 41) + 10) * 100)
        .when(pl.col("prod") == 1).then((ival("p1", 51) + 10) * 500)
        .otherwise((ival("p1", 35) + 6) * 5000),
        n_inst=pl.when(pl.col("prod") == 0).then(pl.when(pl.col("p2") < 0.5).then(3).otherwise(6))
        .when(pl.col("prod") == 1).then(pl.when(pl.col("p2") < 0.5).then(6).otherwise(12))
        .otherwise(pl.when(pl.col("p2") < 0.6).then(12).otherwise(24)),
        agent=pl.format("A{}", (ival("u_agent", 20) + 1).cast(pl.String).str.zfill(2)),
        first_due=_day_to_date(_date_days(ORIG_FROM) + ival("orig", (ORIG_TO - ORIG_FROM).days + 1)).dt.offset_by("1mo"),
    ).with_columns(
        total=pl.col("principal") * 100 * (100 + pl.col("n_inst").replace_strict({3: 3, 6: 6, 12: 12, 24: 24})) // 100,
    )

    # Instalments: on time, late (cured), or unpaid from a default point on.
    inst = loans.select("loan", "n_inst", "first_due", "total", "risk", "u_def", "zone").filter(pl.col("n_inst") > 0)
    inst = inst.with_columns(seq=pl.int_ranges(1, pl.col("n_inst") + 1)).explode("seq")
    m = inst.height
    ui = {k: rng.u(m) for k in ("late", "days", "early", "ptime")}
    now = _date_days(NOW)
    inst = inst.with_columns(
        due=pl.col("first_due").dt.offset_by(pl.format("{}mo", pl.col("seq") - 1)),
        amt=pl.when(pl.col("seq") < pl.col("n_inst")).then(pl.col("total") // pl.col("n_inst"))
        .otherwise(pl.col("total") - (pl.col("n_inst") - 1) * (pl.col("total") // pl.col("n_inst"))),
        u_late=ui["late"], u_days=ui["days"], u_early=ui["early"], u_ptime=ui["ptime"],
    ).with_columns(due_day=pl.col("due").cast(pl.Int32).cast(pl.Int64))
    inst = inst.with_columns(m=(pl.col("due_day") < now).sum().over("loan"))
    mean_late = pl.col("risk").replace_strict({0: 3.0, 1: 7.0, 2: 7.0})
    p_late = pl.col("risk").replace_strict({0: 0.03, 1: 0.35, 2: 0.35})
    late = (1 + (-(1 - pl.col("u_days")).log() * mean_late).floor().cast(pl.Int64)).clip(1, 60)
    defaulted = (pl.col("risk") == 2) & (pl.col("m") > 0) & (
        pl.col("seq") >= 1 + (pl.col("u_def") * pl.col("m")).floor().cast(pl.Int64))
    paid_day = (pl.when(defaulted).then(None)
                .when(pl.col("u_late") < p_late).then(pl.col("due_day") + late)
                .otherwise(pl.col("due_day") - (pl.col("u_early") * 4).floor().cast(pl.Int64)))
    inst = inst.with_columns(paid_day=paid_day).with_columns(
        paid_day=pl.when(pl.col("paid_day") <= now).then(pl.col("paid_day")),
        paid_secs=7 * 3600 + (pl.col("u_ptime") * 17 * 3600).floor().cast(pl.Int64),
    ).with_columns(
        paid_lt=(_day_to_date(pl.col("paid_day")).cast(pl.Datetime("us")) + pl.duration(seconds=pl.col("paid_secs"))),
    ).with_columns(paid_utc=_to_utc(pl.col("paid_lt"), pl.col("zone")))

    # Delinquent loan-days: the union over instalments of (due, paid) days, with DPD and the amount overdue.
    spans = inst.select(
        "loan", "due_day", "amt",
        start=pl.col("due_day") + 1,
        end=pl.when(pl.col("paid_day").is_null()).then(now).otherwise(pl.col("paid_day") - 1),
    ).filter(pl.col("start") <= pl.col("end"))
    days = (spans.with_columns(day=pl.int_ranges(pl.col("start"), pl.col("end") + 1)).explode("day")
            .group_by("loan", "day").agg(due_day=pl.col("due_day").min(), amt=pl.col("amt").sum())
            .sort("loan", "day"))
    days = days.with_columns(dpd=pl.col("day") - pl.col("due_day"))
    k = days.height
    intensity = (pl.when(pl.col("dpd") <= 60).then(1.0).when(pl.col("dpd") <= 90).then(0.7)
                 .when(pl.col("dpd") <= 150).then(0.4).otherwise(0.15))
    days = days.with_columns(u_act=rng.u(k)).filter(pl.col("u_act") < intensity).drop("u_act")
    k = days.height
    dpd = pl.col("dpd")
    per_day = {
        "C_CALL": _pick(rng.u(k), [42, 42, 12.5, 3, 0.5]),
        "C_SMS": _pick(rng.u(k), [15, 45, 40]),
        "C_PUSH": _pick(rng.u(k), [15, 35, 35, 15]),
        "C_IM": _pick(rng.u(k), [75, 20, 5]),
    }
    bern = {
        "C_EMAIL": pl.when(dpd == 1).then(0.85).when(dpd == 3).then(0.3).when(dpd % 7 == 0).then(0.3).otherwise(0.04),
        "C_LETTER": pl.when(dpd.is_in([30, 60, 90])).then(0.6).otherwise(0.0),
        "C_VISIT": pl.when(dpd > 45).then(0.015).otherwise(0.0),
        "T_EC_CALL": pl.when(dpd >= 7).then(0.28).when(dpd >= 3).then(0.02).otherwise(0.0),
        "T_EC_CALL2": pl.when(dpd >= 7).then(0.04).otherwise(0.0),
        "T_EC_SMS": pl.when(dpd >= 7).then(0.14).when(dpd >= 3).then(0.015).otherwise(0.0),
        "T_TP_CALL": pl.when(dpd >= 15).then(0.04).otherwise(0.0),
    }
    days = days.with_columns(**{f"n_{c}": s for c, s in per_day.items()})
    days = days.with_columns(**{f"u_{c}": rng.u(k) for c in bern}).with_columns(
        **{f"n_{c}": (pl.col(f"u_{c}") < p).cast(pl.Int64) for c, p in bern.items()})
    days = days.with_columns(n_T_EC_CALL=pl.col("n_T_EC_CALL") + pl.col("n_T_EC_CALL2"))
    parts = []
    for name in [*per_day, *(c for c in bern if c != "T_EC_CALL2")]:
        d = days.filter(pl.col(f"n_{name}") > 0).select(
            "loan", "day", "dpd", "amt", "due_day", pl.col(f"n_{name}").alias("n"))
        d = d.with_columns(rep=pl.int_ranges(0, pl.col("n"))).explode("rep").drop("n", "rep")
        parts.append(d.with_columns(cat=pl.lit(CAT[name], pl.Int64), lt=pl.lit(None, pl.Datetime("us"))))

    # Reminders around each due date, and a receipt when a payment arrives.
    ur = {k: rng.u(m) for k in ("pre", "push", "email", "due", "paid", "paidsec", "defer")}
    inst = inst.with_columns(**{f"u_{k}": v for k, v in ur.items()})
    for name, offset, p in (("R_SMS_PRE", -3, 0.35), ("R_PUSH", -1, 0.3), ("R_EMAIL", -2, 0.1), ("R_SMS_DUE", 0, 0.2)):
        ucol = {"R_SMS_PRE": "u_pre", "R_PUSH": "u_push", "R_EMAIL": "u_email", "R_SMS_DUE": "u_due"}[name]
        day = pl.col("due_day") + offset
        d = inst.filter((pl.col(ucol) < p) & (day <= now)
                        & (pl.col("paid_day").is_null() | (pl.col("paid_day") >= day)))
        parts.append(d.select("loan", day.alias("day"), pl.lit(0, pl.Int64).alias("dpd"), "amt", "due_day",
                              cat=pl.lit(CAT[name], pl.Int64), lt=pl.lit(None, pl.Datetime("us"))))
    # Receipts for night-time payments wait for 08:00, except on a misconfigured gateway (10%).
    sent = pl.col("paid_lt") + pl.duration(seconds=60 + (pl.col("u_paidsec") * 840).floor().cast(pl.Int64))
    morning = sent.dt.truncate("1d") + pl.duration(hours=8, seconds=(pl.col("u_paidsec") * 1800).floor().cast(pl.Int64))
    receipt_lt = (pl.when(pl.col("u_defer") < 0.1).then(sent).when(sent.dt.hour() >= 22)
                  .then(morning + pl.duration(days=1)).when(sent.dt.hour() < 8).then(morning).otherwise(sent))
    d = inst.filter(pl.col("paid_day").is_not_null() & (pl.col("u_paid") < 0.3) & (receipt_lt.dt.date() <= NOW))
    parts.append(d.select("loan", pl.col("paid_day").alias("day"), pl.lit(0, pl.Int64).alias("dpd"), "amt", "due_day",
                          cat=pl.lit(CAT["R_PAID"], pl.Int64), lt=receipt_lt))
    ct = pl.concat(parts)

    # Per-contact attributes.
    nc = ct.height
    uc = {k: rng.u(nc) for k in ("hour", "ms", "out", "tpl", "ag", "ag2", "rec", "unreg", "style", "sep", "file", "dur", "keep")}
    auto = pl.Series([CATS[i][3] == "auto" for i in range(len(CATS))])
    hours = _Pools()
    hours.add("auto", list(zip(HOURS_AUTO, range(24))))
    hours.add("manual", list(zip(HOURS_MANUAL, range(24))))
    prof = auto.gather(ct["cat"]).not_().cast(pl.Int64)
    hour = hours.pick(prof, uc["hour"], pl.Int64)
    opool = pl.Series([outcomes.index[x[4]] for x in CATS]).gather(ct["cat"])
    ct = ct.with_columns(
        outcome=outcomes.pick(opool, uc["out"]),
        channel=pl.Series([x[1] for x in CATS]).gather(ct["cat"]),
        recipient_type=pl.Series([x[2] for x in CATS]).gather(ct["cat"]),
        lt=pl.coalesce(pl.col("lt"), _day_to_date(pl.col("day")).cast(pl.Datetime("us"))
                       + pl.duration(seconds=hour * 3600 + (uc["ms"] * 3600).floor().cast(pl.Int64))),
        **{f"u_{k}": v for k, v in uc.items() if k not in ("hour", "ms", "out")},
    )
    ct = ct.join(loans.select("loan", "loan_id", "borrower_id", "zone", "en", "agent", "n_ec", "name", "title",
                              "title_en", "phone", "bank_card", "id_number", "address"),
                 on="loan", how="left", maintain_order="left")
    cat = pl.col("cat")
    is_ec = cat.is_in([CAT["T_EC_CALL"], CAT["T_EC_SMS"]])
    ec_k = pl.when((pl.col("n_ec") == 0) | (pl.col("u_unreg") < 0.03)).then(pl.col("n_ec") + 1).otherwise(
        (pl.col("u_rec") * pl.col("n_ec")).floor().cast(pl.Int64) + 1)
    manual = cat.is_in([CAT[x] for x in ("C_CALL", "C_IM", "C_VISIT", "T_EC_CALL", "T_EC_SMS", "T_TP_CALL")])
    some_agent = pl.when(pl.col("u_ag") < 0.8).then(pl.col("agent")).otherwise(
        pl.format("A{}", ((pl.col("u_ag2") * 20).floor().cast(pl.Int64) + 1).cast(pl.String).str.zfill(2)))
    o = pl.col("outcome")
    is_call = pl.col("channel") == "call"
    ct = ct.with_columns(
        recipient_id=pl.when(is_ec).then(pl.format("C{}-{}", pl.col("borrower_id").str.slice(1), ec_k))
        .when(cat == CAT["T_TP_CALL"]).then(pl.format("T{}-{}", pl.col("borrower_id").str.slice(1),
                                                      (pl.col("u_rec") * 2).floor().cast(pl.Int64) + 1)),
        agent_id=pl.when(manual | ((cat == CAT["C_SMS"]) & (pl.col("u_ag") < 0.4))).then(some_agent),
        duration_s=pl.when(is_call & (o == "connected")).then(
            (15 + (-(1 - pl.col("u_dur")).log() * 110).floor()).clip(15, 1800).cast(pl.Int64))
        .when(is_call & (o == "voicemail")).then((8 + pl.col("u_dur") * 40).floor().cast(pl.Int64))
        .when(is_call & (o == "do_not_contact")).then((20 + pl.col("u_dur") * 60).floor().cast(pl.Int64))
        .when((cat == CAT["C_VISIT"]) & (o == "connected")).then((600 + pl.col("u_dur") * 1800).floor().cast(pl.Int64)),
        conn=(o == "connected").fill_null(False),
    )

    # After "do not contact", most agents comply: 95% of later contacts to that recipient never happen.
    rkey = pl.coalesce(pl.col("recipient_id"), pl.lit(""))
    stop = (ct.filter(pl.col("outcome") == "do_not_contact").group_by("loan", rkey.alias("rkey"))
            .agg(stop=pl.col("lt").min()))
    ct = (ct.with_columns(rkey=rkey).join(stop, on=["loan", "rkey"], how="left", maintain_order="left")
          .filter(pl.col("stop").is_null() | (pl.col("lt") <= pl.col("stop")) | (pl.col("u_keep") < 0.05))
          .drop("rkey", "stop"))

    # Registered emergency contacts: 0-3 per borrower.
    ecs = loans.filter(pl.col("n_ec") > 0).select("borrower_id", "n_ec")
    ecs = ecs.with_columns(k=pl.int_ranges(1, pl.col("n_ec") + 1)).explode("k")
    ue = {k: rng.u(ecs.height) for k in ("rel", "pre", "num", "none")}
    ecs = ecs.select(
        "borrower_id",
        contact_id=pl.format("C{}-{}", pl.col("borrower_id").str.slice(1), pl.col("k")),
        relationship=pl.Series([r for r, _ in RELATIONSHIPS]).gather(_pick(ue["rel"], [w for _, w in RELATIONSHIPS])),
        phone=pl.when(pl.lit(ue["none"]) >= 0.03).then(
            pl.Series(MOBILE_PREFIX).gather(_pick(ue["pre"], [1] * len(MOBILE_PREFIX))) + _digits(ue["num"], 8)),
    )
    ct = ct.join(ecs.select("borrower_id", pl.col("contact_id").alias("recipient_id"), "relationship"),
                 on=["borrower_id", "recipient_id"], how="left", maintain_order="left")
    rel = pl.coalesce(pl.col("relationship"), pl.when(cat == CAT["T_TP_CALL"]).then(
        pl.when(pl.col("recipient_id").str.ends_with("-1")).then(pl.lit("同事")).otherwise(pl.lit("通讯录联系人")))
        .otherwise(pl.lit("亲友")))
    rel_en = rel.replace({"配偶": "spouse", "父母": "parent", "朋友": "friend", "同事": "colleague",
                          "亲友": "relative", "通讯录联系人": "phone contact"})

    # Message text: a weighted template per row, filled from the row's own values.
    ct = ct.join(lookup, on=["cat", "en", "conn"], how="left", maintain_order="left")
    assert ct["tpool"].null_count() == 0
    ct = ct.with_columns(tidx=pools.pick(ct["tpool"], ct["u_tpl"], pl.Int64, index=True),
                         rel=pl.when(pl.col("en")).then(rel_en).otherwise(rel))
    due = _day_to_date(pl.col("due_day"))
    fill = {
        "name": pl.col("name"), "title": pl.col("title"), "title_en": pl.col("title_en"),
        "amt": _money(pl.col("amt")), "amt_c": _money_commas(pl.col("amt")),
        "due": pl.format("{}月{}日", due.dt.month(), due.dt.day()), "due_en": due.dt.strftime("%b %-d"),
        "dpd": pl.col("dpd").cast(pl.String), "card4": pl.col("bank_card").str.slice(-4),
        "card": pl.col("bank_card"), "phone": pl.col("phone"),
        "phone_m": pl.col("phone").str.slice(0, 3) + "****" + pl.col("phone").str.slice(7),
        "id_m": pl.col("id_number").str.slice(0, 6) + "********" + pl.col("id_number").str.slice(14),
        "loan": pl.col("loan_id"), "rel": pl.col("rel"), "addr": pl.col("address"),
    }
    ct = ct.with_columns(content=_fill_templates(ct, pools.values, fill))
    ct = ct.with_columns(utc=_to_utc(pl.col("lt"), pl.col("zone")))
    ct = ct.with_columns(ts=_render_ts(pl.col("lt"), pl.col("utc"), pl.col("zone"), pl.col("u_style"), pl.col("u_sep")))
    ct = ct.sort("utc", "loan", "cat", maintain_order=True)
    nc = ct.height
    ct = ct.with_columns(
        event_id="E" + pl.int_range(event_base + 1, event_base + nc + 1).cast(pl.String).str.zfill(9),
        file=_pick(ct["u_file"], [50, 30, 20]),
    )
    contacts = ct.select("event_id", "loan_id", "ts", "utc", "channel", "recipient_type", "recipient_id",
                         "agent_id", "outcome", "duration_s", "content", "file")

    ui = {k: rng.u(m) for k in ("style", "sep")}
    inst = inst.join(loans.select("loan", "loan_id"), on="loan", how="left", maintain_order="left").with_columns(
        u_style=ui["style"], u_sep=ui["sep"]).with_columns(
        paid_at=pl.when(pl.col("paid_day").is_not_null()).then(
            _render_ts(pl.col("paid_lt"), pl.col("paid_utc"), pl.col("zone"), pl.col("u_style"), pl.col("u_sep"))))
    installments = inst.select("loan_id", "seq", pl.col("due").alias("due_date"), pl.col("amt").alias("amount_due"),
                               "paid_at", "paid_utc")
    borrowers = loans.select("borrower_id", "name", "id_number", "phone", "bank_card", "address",
                             timezone=pl.col("zone").replace_strict(dict(enumerate(ZONES)), return_dtype=pl.String)
                             .replace("", None))
    return {
        "borrowers": borrowers,
        "loans": loans.select("loan_id", "borrower_id", pl.col("principal") * 100),
        "installments": installments,
        "emergency_contacts": ecs,
        "contacts": contacts,
    }


# ---------------------------------------------------------------- the fixed edge cases


def _iso(dt: datetime, style: str, sep: str = "T") -> str:
    """Render an aware datetime: 'cn' in +08:00, 'z' in UTC with Z, 'local' in its own offset."""
    if style == "cn":
        dt = dt.astimezone(CN)
    elif style == "z":
        return dt.astimezone(timezone.utc).strftime(f"%Y-%m-%d{sep}%H:%M:%SZ")
    off = dt.utcoffset() or timedelta(0)
    m = int(off.total_seconds()) // 60
    return dt.strftime(f"%Y-%m-%d{sep}%H:%M:%S") + f"{'-' if m < 0 else '+'}{abs(m) // 60:02d}:{abs(m) % 60:02d}"


class _EdgeBuilder:
    """Hand-placed loans and contacts; ids `LXnn` / `X-...`, support events `LXnn-kk` (must not be flagged)."""

    def __init__(self) -> None:
        self.people = _people(_Rng("edge-cases"), 40).to_dicts()
        self.ec_phones = _people(_Rng("edge-cases-ec"), 120)["phone"].to_list()
        self.borrowers: list[dict] = []
        self.loans: dict[str, dict] = {}
        self.inst: list[dict] = []
        self.ecs: list[dict] = []
        self.contacts: list[dict] = []
        self._seen_b: set[str] = set()
        self._k: dict[str, int] = {}

    def person(self, n: int) -> dict:
        return self.people[n]

    def loan(self, n: int, zone: str = "Asia/Shanghai", principal: str = "6000.00",
             inst: tuple = (("2026-09-01", "2060.00", None),), borrower: int | None = None) -> str:
        b = borrower or n
        bid, lid = f"BX{b:02d}", f"LX{n:02d}"
        if bid not in self._seen_b:
            self._seen_b.add(bid)
            p = self.people[b]
            self.borrowers.append({"borrower_id": bid, "name": p["name"], "id_number": p["id_number"],
                                   "phone": p["phone"], "bank_card": p["bank_card"], "address": p["address"],
                                   "timezone": zone or None})
            for k, rel in enumerate(("配偶", "父母", "朋友"), 1):
                self.ecs.append({"borrower_id": bid, "contact_id": f"CX{b:02d}-{k}", "relationship": rel,
                                 "phone": self.ec_phones[3 * b + k]})
        self.loans[lid] = {"loan_id": lid, "borrower_id": bid, "principal": principal, "zone": zone, "b": b}
        z = ZoneInfo(zone or "Asia/Shanghai")
        for seq, (due, amount, paid) in enumerate(inst, 1):
            paid_at = None if paid is None else _iso(datetime.fromisoformat(paid).replace(tzinfo=z), "local")
            self.inst.append({"loan_id": lid, "seq": str(seq), "due_date": due, "amount_due": amount,
                              "paid_at": paid_at})
        return lid

    def p(self, lid: str) -> dict:
        return self.people[self.loans[lid]["b"]]

    def c(self, eid: str | None, lid: str, local: str | None, channel: str, rtype: str = "borrower",
          rid: str | None = None, outcome: str | None = None, dur: int | None = None, content: str | None = None,
          ts: str | None = None, style: str = "cn", file: str | None = None, agent: str | None = "auto") -> str:
        if eid is None:
            self._k[lid] = self._k.get(lid, 0) + 1
            eid = f"{lid}-{self._k[lid]:02d}"
        if ts is None:
            z = ZoneInfo(self.loans[lid]["zone"] or "Asia/Shanghai")
            ts = _iso(datetime.fromisoformat(local).replace(tzinfo=z), style)
        if agent == "auto":
            manual = channel in ("call", "visit", "im") or rtype != "borrower"
            agent = f"A{int(lid[2:]) % 20 + 1:02d}" if manual else None
        if content is None:
            content = self.default_content(lid, channel, rtype, outcome)
        self.contacts.append({"event_id": eid, "loan_id": lid, "ts": ts, "channel": channel, "recipient_type": rtype,
                              "recipient_id": rid, "agent_id": agent, "outcome": outcome, "duration_s": dur,
                              "content": content, "file": file})
        return eid

    def default_content(self, lid: str, channel: str, rtype: str, outcome: str | None) -> str | None:
        p = self.p(lid)
        if rtype != "borrower":
            if channel == "call":
                return f"联系人表示会转告{p['name']}尽快回电。" if outcome == "connected" else "联系人无人接听"
            return f"您好，这里是{BRAND}客服，有重要事情需联系{p['name']}，麻烦您转告其尽快回电{HOTLINE}，谢谢。"
        if channel == "call":
            return {"connected": "客户本人接听，承诺尽快还款。", "no_answer": "无人接听", "busy": "用户忙",
                    "voicemail": "转语音信箱，未留言", "failed": "呼叫失败"}.get(outcome or "", None)
        if channel == "email":
            return (f"尊敬的{p['title']}：\n您在{BRAND}的借款已逾期，请您尽快通过App或银行转账完成还款。"
                    f"如有困难，可致电{HOTLINE}申请还款计划。\n{BRAND}贷后管理部")
        return f"{TAG}{p['title']}，请留意您的账单，可登录App查看还款计划。"

    def prelude(self, lid: str, e: str, compact: bool = False) -> None:
        """Reminders that satisfy the example policy's escalation (2 SMS, 1 e-mail, 3 unanswered calls)
        and TP-REACHABLE (the last 3 borrower calls after E, none connected)."""
        d1 = date.fromisoformat(e) + timedelta(days=1)
        d2 = d1 if compact else d1 + timedelta(days=1)
        self.c(None, lid, f"{d1} 10:00:00", "sms", outcome="delivered")
        self.c(None, lid, f"{d1} 10:30:00", "email", outcome="delivered")
        self.c(None, lid, f"{d1} 11:00:00", "call", outcome="no_answer")
        self.c(None, lid, f"{d1} 15:00:00", "call", outcome="busy")
        self.c(None, lid, f"{d2} {'16' if compact else '10'}:00:00", "sms", outcome="delivered")
        self.c(None, lid, f"{d2} {'17' if compact else '11'}:00:00", "call", outcome="voicemail", dur=20)


def _valid_id(body17: str) -> str:
    return body17 + id_check_char(body17)


def _valid_card(body: str) -> str:
    return body + luhn_check_digit(body)


def _edge_cases() -> tuple[_EdgeBuilder, list[dict], list[dict]]:
    """The deliberate cases. Returns the builder, bad contact rows and bad instalment rows."""
    x = _EdgeBuilder()
    EC, TP = "emergency_contact", "third_party"
    unpaid = (("2026-08-01", "2060.00", "2026-07-30 10:00:00"), ("2026-09-01", "2060.00", None),
              ("2026-10-01", "2060.00", None))

    # TP-DPD: third-party contacts before 7 days past due (the amount tier lowers it to 3 at >= 50000).
    lid = x.loan(1, inst=unpaid)
    x.prelude(lid, "2026-09-01")
    x.c("X-TPDPD-01", lid, "2026-09-04 10:00:00", "call", EC, "CX01-1", "connected", 45)          # DPD 3
    x.c("X-TPDPD-02", lid, "2026-09-07 10:00:00", "sms", EC, "CX01-2", "delivered")               # DPD 6
    x.c("X-OK-TPDPD-7", lid, "2026-09-08 10:00:00", "call", EC, "CX01-3", "connected", 60)        # DPD 7
    lid = x.loan(2, principal="300000.00", inst=(("2026-08-10", "50000.00", "2026-08-09 12:00:00"),
                                                  ("2026-09-10", "50000.00", None)))
    x.prelude(lid, "2026-09-10", compact=True)
    x.c("X-TPDPD-TIER-2", lid, "2026-09-12 10:00:00", "call", EC, "CX02-1", "connected", 50)      # DPD 2, 50000
    x.c("X-OK-TPDPD-TIER-3", lid, "2026-09-13 10:00:00", "call", EC, "CX02-2", "connected", 50)   # DPD 3, 50000
    lid = x.loan(3, principal="150000.00", inst=(("2026-08-10", "50000.00", "2026-08-09 12:00:00"),
                                                  ("2026-09-10", "49999.99", None)))
    x.prelude(lid, "2026-09-10", compact=True)
    x.c("X-TPDPD-TIER-BELOW", lid, "2026-09-13 10:00:00", "call", EC, "CX03-1", "connected", 50)  # DPD 3, 49999.99
    lid = x.loan(4, principal="9000.00", inst=(("2026-09-05", "3090.00", "2026-09-20 15:00:00"),
                                                ("2026-10-05", "3090.00", "2026-10-03 10:00:00"),
                                                ("2026-11-05", "3090.00", "2026-11-04 10:00:00")))
    x.prelude(lid, "2026-09-05")
    x.c("X-OK-TPDPD-BEFOREPAY", lid, "2026-09-20 10:00:00", "call", EC, "CX04-1", "connected", 40)  # DPD 15
    x.c("X-TPDPD-AFTERPAY", lid, "2026-09-20 16:00:00", "call", EC, "CX04-2", "connected", 40)      # paid 15:00: DPD 0
    x.c("X-TPDPD-DPD0", lid, "2026-10-20 10:00:00", "sms", EC, "CX04-3", "delivered")               # nothing overdue

    # TP-ESCALATION: not enough reminders to the borrower since the episode started.
    lid = x.loan(5, inst=unpaid)
    x.c(None, lid, "2026-09-02 10:00:00", "sms", outcome="delivered")
    for d, o in (("02", "no_answer"), ("03", "busy"), ("04", "no_answer")):
        x.c(None, lid, f"2026-09-{d} 11:00:00", "call", outcome=o)
    x.c("X-TPESC-01", lid, "2026-09-10 10:00:00", "call", EC, "CX05-1", "connected", 30)           # sms 1, email 0
    lid = x.loan(6, inst=unpaid)
    x.c(None, lid, "2026-09-02 10:00:00", "sms", outcome="delivered")
    x.c(None, lid, "2026-09-02 10:30:00", "email", outcome="delivered")
    x.c(None, lid, "2026-09-03 10:00:00", "sms", outcome="delivered")
    for d in ("02", "03", "04"):
        x.c(None, lid, f"2026-09-{d} 11:00:00", "call", outcome="failed")
    x.c("X-TPESC-FAILED", lid, "2026-09-11 10:00:00", "call", EC, "CX06-1", "connected", 30)       # failed calls
    lid = x.loan(7, inst=unpaid)
    x.c(None, lid, "2026-09-01 14:00:00", "sms", outcome="delivered")   # on E itself: does not count
    x.c(None, lid, "2026-09-02 10:00:00", "sms", outcome="delivered")
    x.c(None, lid, "2026-09-02 10:30:00", "email", outcome="delivered")
    for d in ("02", "03", "04"):
        x.c(None, lid, f"2026-09-{d} 11:00:00", "call", outcome="no_answer")
    x.c("X-TPESC-DAYE", lid, "2026-09-09 10:00:00", "call", EC, "CX07-1", "connected", 30)         # sms 1 (> E)
    x.c(None, lid, "2026-09-09 10:30:00", "sms", outcome="delivered")   # after the contact: does not count
    cured = (("2026-08-01", "2060.00", "2026-08-20 12:00:00"), ("2026-09-01", "2060.00", "2026-08-30 10:00:00"),
             ("2026-10-01", "2060.00", None))
    lid = x.loan(8, inst=cured)
    x.c(None, lid, "2026-08-02 10:00:00", "sms", outcome="delivered")
    x.c(None, lid, "2026-08-02 10:30:00", "email", outcome="delivered")
    x.c(None, lid, "2026-08-03 10:00:00", "sms", outcome="delivered")
    x.c(None, lid, "2026-08-04 10:00:00", "sms", outcome="delivered")
    for d in ("02", "03", "04"):
        x.c(None, lid, f"2026-08-{d} 11:00:00", "call", outcome="no_answer")
    x.c("X-OK-TPESC-EPISODE1", lid, "2026-08-12 10:00:00", "call", EC, "CX08-1", "connected", 30)  # DPD 11
    x.c(None, lid, "2026-10-02 10:30:00", "email", outcome="delivered")
    for d in ("02", "03", "04"):
        x.c(None, lid, f"2026-10-{d} 11:00:00", "call", outcome="no_answer")
    x.c("X-TPESC-CURED", lid, "2026-10-12 10:00:00", "call", EC, "CX08-2", "connected", 30)        # SMS were episode 1

    # TP-REACHABLE (unreachable_after_failed_calls: 3).
    lid = x.loan(9, inst=cured)
    for d in ("05", "06", "07"):
        x.c(None, lid, f"2026-08-{d} 11:00:00", "call", outcome="no_answer")
    x.c(None, lid, "2026-10-02 10:00:00", "sms", outcome="delivered")
    x.c(None, lid, "2026-10-02 10:30:00", "email", outcome="delivered")
    x.c(None, lid, "2026-10-02 15:00:00", "sms", outcome="delivered")
    x.c("X-TPREACH-OLD", lid, "2026-10-09 10:00:00", "call", EC, "CX09-1", "connected", 30)  # calls before E
    lid = x.loan(10, inst=unpaid)
    x.prelude(lid, "2026-09-01")
    x.c(None, lid, "2026-09-08 10:00:00", "call", outcome="connected", dur=180, content="客户承诺下周还款。")
    x.c("X-TPREACH-CONN", lid, "2026-09-09 11:00:00", "call", EC, "CX10-1", "connected", 30)  # last call connected
    lid = x.loan(11, inst=unpaid)
    x.c(None, lid, "2026-09-02 10:00:00", "sms", outcome="delivered")
    x.c(None, lid, "2026-09-02 10:30:00", "email", outcome="delivered")
    x.c(None, lid, "2026-09-02 15:00:00", "sms", outcome="delivered")
    x.c(None, lid, "2026-09-02 11:00:00", "call", outcome="no_answer")
    x.c(None, lid, "2026-09-03 11:00:00", "call", outcome="no_answer")
    x.c("X-TPREACH-FEW", lid, "2026-09-10 10:00:00", "call", EC, "CX11-1", "connected", 30)   # only 2 calls

    # TP-UNREGISTERED (registered_only: true).
    lid = x.loan(12, inst=unpaid)
    x.prelude(lid, "2026-09-01")
    name = x.p(lid)["name"]
    x.c("X-TPUNREG-TP", lid, "2026-09-09 10:00:00", "call", TP, "TX12-1", "connected", 60,
        f"同事称{name}上月已离职，不清楚去向。")
    x.c("X-TPUNREG-OTHER", lid, "2026-09-10 10:00:00", "call", EC, "CX01-1", "connected", 30)  # BX01's contact
    x.c("X-TPUNREG-UNKNOWN", lid, "2026-09-11 10:00:00", "sms", EC, "CX12-9", "delivered")
    x.c("X-OK-TPUNREG-REGISTERED", lid, "2026-09-12 10:00:00", "call", EC, "CX12-1", "connected", 30)

    # HOURS: 08:00:00 and 21:59:59 allowed, 07:59:59 and 22:00:00 not, in the borrower's zone.
    paid_ok = (("2026-10-01", "2060.00", "2026-09-30 12:00:00"), ("2026-11-01", "2060.00", "2026-10-30 12:00:00"))
    lid = x.loan(13, inst=paid_ok)
    x.c("X-HOURS-0759", lid, "2026-09-28 07:59:59", "sms", outcome="delivered")
    x.c("X-OK-HOURS-0800", lid, "2026-09-28 08:00:00", "app_push", outcome="delivered")
    x.c("X-OK-HOURS-2159", lid, "2026-09-28 21:59:59", "sms", outcome="delivered")   # us-reg-f: flagged (21:00)
    x.c("X-HOURS-2200", lid, "2026-09-28 22:00:00", "sms", outcome="delivered")
    x.c("X-HOURS-Z", lid, None, "sms", outcome="delivered", ts="2026-09-28T23:30:00Z")  # 07:30 in Shanghai
    lid = x.loan(14, zone="America/New_York", inst=(("2026-10-20", "2060.00", "2026-10-19 10:00:00"),
                                                     ("2026-11-20", "2060.00", "2026-11-19 10:00:00")))
    x.c("X-HOURS-NY-EDT", lid, None, "sms", outcome="delivered", ts="2026-10-16T19:59:59+08:00")   # 07:59:59 EDT
    x.c("X-OK-HOURS-NY-EDT", lid, None, "sms", outcome="delivered", ts="2026-10-16T12:00:00Z")      # 08:00:00 EDT
    x.c("X-HOURS-NY-FALLBACK", lid, None, "sms", outcome="delivered", ts="2026-11-01T06:30:00Z")    # 01:30 EST
    x.c("X-HOURS-NY-EST", lid, None, "sms", outcome="delivered", ts="2026-11-02T12:59:59Z")         # 07:59:59 EST
    x.c("X-OK-HOURS-NY-EST", lid, None, "sms", outcome="delivered", ts="2026-11-02T08:00:00-05:00")
    x.c("X-HOURS-NY-2200", lid, None, "app_push", outcome="delivered", ts="2026-11-06T11:00:00+08:00")  # 22:00 EST
    lid = x.loan(15, zone="Europe/London", inst=(("2026-10-28", "2060.00", "2026-10-27 10:00:00"),))
    x.c("X-HOURS-LON-BST", lid, None, "sms", outcome="delivered", ts="2026-10-24T06:59:59Z")        # 07:59:59 BST
    x.c("X-OK-HOURS-LON-BST", lid, None, "sms", outcome="delivered", ts="2026-10-24T07:30:00Z")     # 08:30 BST
    x.c("X-HOURS-LON-GMT", lid, None, "sms", outcome="delivered", ts="2026-10-26T07:59:59+00:00")
    x.c("X-HOURS-LON-2200", lid, None, "sms", outcome="delivered", ts="2026-10-26 22:00:00+00:00")
    lid = x.loan(16, zone="", inst=(("2026-10-15", "2060.00", "2026-10-14 10:00:00"),))
    x.c("X-HOURS-DEFAULTZONE", lid, None, "sms", outcome="delivered", ts="2026-10-10T07:30:00+08:00")  # NY: 19:30
    x.c("X-HOURS-USZONE", lid, None, "sms", outcome="delivered", ts="2026-10-10T10:00:00+08:00")       # NY: 22:00

    # Frequency: 4th call of a local day; ties broken by event_id; a local day that spans two Beijing dates.
    lid = x.loan(17, inst=unpaid)
    for i, (h, o) in enumerate((("09", "no_answer"), ("11", "busy"), ("14", "no_answer"), ("17", "no_answer")), 1):
        x.c(f"X-FREQDAY-{i}" if i == 4 else f"X-OK-FREQDAY-{i}", lid, f"2026-09-15 {h}:00:00", "call", outcome=o)
    lid = x.loan(18, inst=unpaid)
    for h in ("09", "10"):
        x.c(None, lid, f"2026-09-22 {h}:00:00", "call", outcome="no_answer")
    x.c("X-FREQDAY-TIE-A-OK", lid, "2026-09-22 12:00:00", "call", outcome="no_answer")  # same ts, sorts first: 3rd
    x.c("X-FREQDAY-TIE-B", lid, "2026-09-22 12:00:00", "call", outcome="busy")
    lid = x.loan(19, zone="America/New_York", inst=(("2026-10-01", "2060.00", None),))
    for h in ("09", "13", "20"):
        x.c(None, lid, f"2026-10-12 {h}:00:00", "call", outcome="no_answer")
    x.c("X-FREQDAY-NY-4", lid, "2026-10-12 20:30:00", "call", outcome="no_answer")   # Beijing: 10-13 08:30
    # 7 x 24 h: the 8th call within the window is flagged; the window's left end is open.
    lid = x.loan(20, inst=unpaid)
    x.c(None, lid, "2026-09-20 10:00:00", "call", outcome="no_answer")
    x.c(None, lid, "2026-09-20 15:00:00", "call", outcome="busy")
    for d in range(21, 26):
        x.c(None, lid, f"2026-09-{d} 10:00:00", "call", outcome="no_answer")
    x.c("X-FREQ7D-8", lid, "2026-09-26 09:00:00", "call", outcome="no_answer")
    x.c("X-FREQ7D-9", lid, "2026-09-26 11:00:00", "call", outcome="busy")
    for n, (eid, t) in ((21, ("X-OK-FREQ7D-EXACT", "10:00:00")), (22, ("X-FREQ7D-EDGE", "09:59:59"))):
        lid = x.loan(n, inst=unpaid)
        for d in range(20, 27):
            x.c(None, lid, f"2026-09-{d} 10:00:00", "call", outcome="no_answer")
        x.c(eid, lid, f"2026-09-27 {t}", "call", outcome="no_answer")
    # Third parties: one contact per recipient per local day, across the borrower's loans.
    lid = x.loan(23, inst=unpaid)
    lid2 = x.loan(24, inst=unpaid, borrower=23)
    x.prelude(lid, "2026-09-01")
    x.prelude(lid2, "2026-09-01")
    x.c("X-OK-FREQTP-1", lid, "2026-09-10 10:00:00", "call", EC, "CX23-1", "no_answer")
    x.c("X-FREQTP-2", lid, "2026-09-10 15:00:00", "sms", EC, "CX23-1", "delivered")
    x.c("X-OK-FREQTP-OTHER", lid, "2026-09-10 16:00:00", "call", EC, "CX23-2", "no_answer")
    x.c("X-OK-FREQTP-NEXTDAY", lid, "2026-09-11 10:00:00", "call", EC, "CX23-1", "no_answer")
    x.c("X-OK-FREQTP-XLOAN-1", lid, "2026-09-12 10:00:00", "call", EC, "CX23-3", "no_answer")
    x.c("X-FREQTP-XLOAN", lid2, "2026-09-12 14:00:00", "call", EC, "CX23-3", "no_answer")

    # PII-THIRD-PARTY: the borrower's identifiers in a message to an emergency contact.
    lid = x.loan(25, inst=unpaid)
    x.prelude(lid, "2026-09-01")
    p = x.p(lid)
    ph, card, addr = p["phone"], p["bank_card"], p["address"]
    spaced_addr = addr.replace("区", "区 ").replace("号", "号 ")
    fullwidth = "".join(chr(ord(ch) + 0xFEE0) for ch in ph)
    x.c("X-PIITP-ID", lid, "2026-09-09 10:00:00", "sms", EC, "CX25-1", "delivered",
        content=f"您好，{p['name']}（身份证号{p['id_number']}）预留了您的联系方式，请转告其尽快回电。")
    x.c("X-PIITP-PHONE", lid, "2026-09-10 10:00:00", "call", EC, "CX25-2", "connected", 60,
        f"已请联系人转告借款人，借款人手机{ph[:3]}-{ph[3:7]}-{ph[7:]}。")
    x.c("X-PIITP-CARD", lid, "2026-09-11 10:00:00", "im", EC, "CX25-3", "read",
        content=f"请转告{p['name']}，尽快向其银行卡{' '.join(card[i:i + 4] for i in range(0, len(card), 4))}存款。")
    x.c("X-PIITP-ADDR", lid, "2026-09-12 10:00:00", "call", EC, "CX25-1", "connected", 90,
        f"向联系人核实住址：{spaced_addr}，联系人称已搬走。")
    x.c("X-PIITP-FULLWIDTH", lid, "2026-09-13 10:00:00", "call", EC, "CX25-2", "connected", 60,
        f"请联系人转告借款人开机，号码{fullwidth}。")
    x.c("X-OK-PIITP-MASKED", lid, "2026-09-14 10:00:00", "sms", EC, "CX25-3", "delivered",
        content=f"您好，请转告{p['name']}（手机{ph[:3]}****{ph[7:]}，身份证{p['id_number'][:6]}********"
                f"{p['id_number'][14:]}）尽快回电，谢谢。")

    # PII-UNMASKED: full, valid identifiers of anyone in a message; masked or invalid ones are fine.
    lid = x.loan(26, inst=paid_ok)
    p = x.p(lid)
    other = x.person(30)
    id_x = next(v for v in (_valid_id(f"11010519491231{i:03d}") for i in range(100, 1000)) if v.endswith("X"))
    card19 = _valid_card("6217000101234567" + "89")
    card16 = _valid_card("622588012345678")
    bad_luhn = card16[:-1] + str((int(card16[-1]) + 5) % 10)
    # A wrong check digit that does not happen to make the 18 digits a Luhn-valid card number either.
    bad_check = next(p["id_number"][:17] + d for d in "0123456789"
                     if d != p["id_number"][17] and d != luhn_check_digit(p["id_number"][:17]))
    future = _valid_id("11010520300101123")
    mob = x.ec_phones[0]
    ec_ph = x.ec_phones[3 * 26 + 1]
    t = p["title"]
    x.c("X-PIIUM-ID", lid, "2026-10-05 10:00:00", "sms", outcome="delivered",
        content=f"{TAG}{p['name']}您好，您登记的身份证号为{p['id_number']}，如信息有误请联系客服。")
    x.c("X-PIIUM-IDX", lid, "2026-10-05 11:00:00", "sms", outcome="delivered",
        content=f"{TAG}请核对共同借款人身份证号{id_x[:-1]}x。")
    x.c("X-PIIUM-CARD", lid, "2026-10-05 12:00:00", "email", outcome="delivered",
        content=f"尊敬的{t}：您的还款账户{'-'.join(p['bank_card'][i:i + 4] for i in range(0, len(p['bank_card']), 4))}"
                f"本期扣款失败，请及时处理。")
    x.c("X-PIIUM-CARD19", lid, "2026-10-05 13:00:00", "sms", outcome="delivered",
        content=f"{TAG}{t}，请向还款账户{card19}转入本期应还金额。")
    x.c("X-PIIUM-MOBILE", lid, "2026-10-05 14:00:00", "sms", outcome="delivered",
        content=f"{TAG}如有疑问请联系您的专属客服经理+86 {mob[:3]}-{mob[3:7]}-{mob[7:]}。")
    x.c("X-PIIUM-MOBILE-EC", lid, "2026-10-05 15:00:00", "app_push", outcome="delivered",
        content=f"您的紧急联系人电话0086{ec_ph}已核实。")
    x.c("X-PIIUM-LETTER", lid, "2026-10-06 10:00:00", "letter", outcome="delivered",
        content=f"【还款通知函】{p['name']}（身份证号{p['id_number']}）：请于七日内处理您的账单。{BRAND}")
    x.c("X-OK-PIIUM-MASKED", lid, "2026-10-06 11:00:00", "sms", outcome="delivered",
        content=f"{TAG}{t}，您的身份证{p['id_number'][:6]}********{p['id_number'][14:]}、手机"
                f"{p['phone'][:3]}****{p['phone'][7:]}、尾号{p['bank_card'][-4:]}的银行卡均已验证。")
    x.c("X-OK-PIIUM-BADCHECK", lid, "2026-10-06 12:00:00", "sms", outcome="delivered",
        content=f"{TAG}系统记录的证件号{bad_check}与实名信息不符，请更新。")
    x.c("X-OK-PIIUM-BADLUHN", lid, "2026-10-06 13:00:00", "sms", outcome="delivered",
        content=f"{TAG}参考编号{bad_luhn}，请在App中查看。")
    x.c("X-OK-PIIUM-EMBEDDED", lid, "2026-10-06 14:00:00", "sms", outcome="delivered",
        content=f"{TAG}交易流水号8{p['id_number'][:17]}{p['id_number'][17] if p['id_number'][17] != 'X' else '0'}6"
                f"9{mob}3已受理。")
    x.c("X-OK-PIIUM-FUTUREBIRTH", lid, "2026-10-06 15:00:00", "sms", outcome="delivered",
        content=f"{TAG}测试证件号{future}不会被发送给客户。")
    x.c("X-OK-PIIUM-VISITNOTE", lid, "2026-10-07 10:00:00", "visit", outcome="failed",
        content=f"上门核实身份证{p['id_number']}，本人不在。")
    x.c("X-OK-PIIUM-LANDLINE", lid, "2026-10-07 11:00:00", "sms", outcome="delivered",
        content=f"{TAG}客服电话010-88886666，工作时间9:00-18:00。")

    # TP-DISCLOSURE: debt words, the overdue amount or the principal in a third-party message.
    lid = x.loan(27, principal="9000.00", inst=(("2026-09-01", "3000.00", None), ("2026-10-01", "3000.00", None),
                                                 ("2026-11-01", "3000.00", None)))
    x.prelude(lid, "2026-09-01")
    name = x.p(lid)["name"]
    x.c("X-TPDISC-TERM", lid, "2026-09-09 10:00:00", "sms", EC, "CX27-1", "delivered",
        content=f"您好，{name}的借款已逾期，请您转告其尽快处理。")
    x.c("X-TPDISC-AMOUNT", lid, "2026-09-10 10:00:00", "call", EC, "CX27-2", "connected", 80,
        "告知联系人借款人需还款3,000.00元，请其转告。")
    x.c("X-TPDISC-PRINCIPAL", lid, "2026-09-11 10:00:00", "sms", EC, "CX27-3", "delivered",
        content=f"您好，{name}在我司办理的9000元借款需要本人处理，请转告其回电。")
    x.c("X-TPDISC-EN", lid, "2026-09-12 10:00:00", "email", EC, "CX27-1", "delivered",
        content=f"Dear Sir or Madam, please ask {name} to contact Hengxin Finance about an outstanding debt.")
    x.c("X-TPDISC-CASE", lid, "2026-09-13 10:00:00", "sms", EC, "CX27-2", "delivered",
        content=f"This is the COLLECTION team of Hengxin Finance. Please ask {name} to call {HOTLINE}.")
    x.c("X-TPDISC-QIANKUAN", lid, "2026-09-14 10:00:00", "call", EC, "CX27-3", "connected", 70,
        f"告知联系人{name}有欠款未处理。")
    x.c("X-TPDISC-CUISHOU", lid, "2026-09-15 10:00:00", "sms", EC, "CX27-1", "delivered",
        content=f"您好，我们是{BRAND}催收部门，请转告{name}回电。")
    x.c("X-OK-TPDISC-NUMBERS", lid, "2026-09-16 10:00:00", "call", EC, "CX27-2", "connected", 40,
        "联系人称不清楚30000元或3000.5元的事情。")
    x.c("X-OK-TPDISC-BORROWER", lid, "2026-09-16 11:00:00", "sms", outcome="delivered",
        content=f"{TAG}您的借款已逾期15天，应还3000.00元，请尽快还款。")

    # SPEC 4b. DNC: contacts after the recipient asked not to be contacted.
    lid = x.loan(28, inst=unpaid)
    x.prelude(lid, "2026-09-01")
    x.c("X-OK-DNC-BEFORE", lid, "2026-09-04 10:00:00", "call", outcome="no_answer")
    x.c("X-OK-DNC-SRC", lid, "2026-09-05 10:00:00", "call", outcome="do_not_contact", dur=40,
        content="客户要求不要再打电话，称会自行还款。")
    x.c("X-DNC-CALL", lid, "2026-09-06 10:00:00", "call", outcome="no_answer")
    x.c("X-DNC-SMS", lid, "2026-09-06 12:00:00", "sms", outcome="delivered")
    x.c("X-OK-DNC-EC-SRC", lid, "2026-09-10 10:00:00", "call", EC, "CX28-1", "do_not_contact", 30,
        "联系人要求不要再联系他。")
    x.c("X-DNC-EC", lid, "2026-09-12 10:00:00", "sms", EC, "CX28-1", "delivered")
    x.c("X-OK-DNC-OTHER", lid, "2026-09-13 10:00:00", "call", EC, "CX28-2", "connected", 30)
    # QUIET-AFTER-CONVERSATION (days: 7): the conversation day is day 1.
    lid = x.loan(29, inst=unpaid)
    x.c("X-OK-QUIET-SRC", lid, "2026-09-10 10:00:00", "call", outcome="connected", dur=180,
        content="客户本人接听，承诺月底前还清。")
    x.c("X-QUIET-SAMEDAY", lid, "2026-09-10 16:00:00", "call", outcome="no_answer")
    x.c("X-OK-QUIET-SMS", lid, "2026-09-11 10:00:00", "sms", outcome="delivered")
    x.c("X-QUIET-DAY7", lid, "2026-09-16 10:00:00", "call", outcome="no_answer")
    x.c("X-OK-QUIET-DAY8", lid, "2026-09-17 10:00:00", "call", outcome="no_answer")
    # Frequency limits with an outcomes filter: connected calls per loan-day, unanswered attempts per recipient-day.
    lid = x.loan(30, inst=unpaid)
    for day, tag in (("15", ""), ("22", "B")):
        for i, h in enumerate(("09", "11", "14", "16"), 1):
            x.c(f"X-FREQCONN-{tag}{i}" if i == 4 else f"X-OK-FREQCONN-{tag}{i}", lid, f"2026-09-{day} {h}:00:00",
                "call", outcome="connected", dur=60 + 10 * i, content="客户本人接听，表示正在筹钱。")
    lid = x.loan(31, inst=unpaid)
    outs = ("no_answer", "busy", "voicemail", "no_answer", "failed", "no_answer", "busy")
    for day, tag in (("15", ""), ("22", "B")):
        for i, (h, o) in enumerate(zip(("08:30", "10:00", "11:30", "13:00", "14:30", "16:00", "17:30"), outs), 1):
            x.c(f"X-FREQUNANS-{tag}{i}" if i == 7 else f"X-OK-FREQUNANS-{tag}{i}", lid, f"2026-09-{day} {h}:00",
                "call", outcome=o, dur=20 if o == "voicemail" else None)

    # Rows the loader must reject (or count as duplicates).
    x.c("X-DUP-SAME", "LX13", "2026-09-29 10:00:00", "sms", outcome="delivered", file="a")
    x.c("X-CASE-ENUM", "LX13", "2026-09-29 11:00:00", "SMS", "Borrower", outcome="Delivered", file="b", agent=None,
        content=f"{TAG}{x.p('LX13')['title']}，您的还款计划已更新，请登录App查看。")
    dup = dict(x.contacts[-2])
    good = dict(dup, event_id=None, file=None)
    bad = [
        dict(good, event_id="BAD-CHANNEL", channel="fax", file="a"),
        dict(good, event_id="BAD-LOAN", loan_id="L9999999", file="b"),
        dict(good, event_id="", content="missing event id", file="a"),
        dict(good, event_id="BAD-TS", ts="2026-09-31T10:00:00+08:00", file="a"),
        dict(good, event_id="BAD-EC-NORID", recipient_type=EC, recipient_id=None, file="b"),
        dict(good, event_id="BAD-DURATION", channel="call", outcome="no_answer", duration_s=-30, content="无人接听",
             agent_id="A14", file="b"),
        dict(good, event_id="BAD-OUTCOME", outcome="hung_up", file="b"),
        dict(good, event_id="X-DUP-CONFLICT", file="b"),
        dict(good, event_id="X-DUP-CONFLICT", content=good["content"] + "（重发）", file="resend"),
        dict(dup, file="resend"),
    ]
    bad_inst = [
        {"loan_id": "LX01", "seq": "90", "due_date": "2026-12-01", "amount_due": "0.00", "paid_at": None},
        {"loan_id": "LX02", "seq": "91", "due_date": "2026-02-30", "amount_due": "100.00", "paid_at": None},
        {"loan_id": "L9999999", "seq": "1", "due_date": "2026-09-01", "amount_due": "100.00", "paid_at": None},
        {"loan_id": "LX03", "seq": "0", "due_date": "2026-09-01", "amount_due": "100.00", "paid_at": None},
    ]
    return x, bad, bad_inst


# ---------------------------------------------------------------- writing

CONTACT_COLS = ["event_id", "loan_id", "ts", "channel", "recipient_type", "recipient_id", "agent_id", "outcome",
                "duration_s", "content"]


def _write(df: pl.DataFrame, path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        df.write_csv(path)
    elif path.suffix == ".jsonl":
        df.write_ndjson(path)
    else:
        df.write_parquet(path, compression="zstd", statistics=True)
    return df.height


def _utc_typed(ts: pl.Expr) -> pl.Expr:
    """Text with an offset -> an absolute Parquet timestamp (what a typed export holds)."""
    s = ts.str.replace(r"^(\d{4}-\d{2}-\d{2}) ", "${1}T").str.replace(r"Z$", "+00:00")
    return s.str.to_datetime("%Y-%m-%dT%H:%M:%S%:z", time_zone="UTC", time_unit="us")


SAMPLE_MARK = ".contact-audit-sample"


def _refuse_foreign(out: Path) -> None:
    """The table files of `out` are replaced: only in a new or empty directory, or an earlier sample's."""
    from .errors import UsageError

    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give a new directory")
    if out.is_dir() and any(out.iterdir()) and not (out / SAMPLE_MARK).is_file():
        raise UsageError(f"--out {out} is a directory that holds files `audit sample` did not write; "
                         f"give a new or empty directory")


def _clear(out: Path) -> None:
    """Remove a previous dataset's table files, so a smaller run does not inherit stale partitions."""
    exts = (".csv", ".parquet", ".jsonl")
    for name in TABLE_NAMES:
        for ext in exts:
            (out / f"{name}{ext}").unlink(missing_ok=True)
        d = out / name
        if d.is_dir():
            for f in d.iterdir():
                if f.is_file() and f.suffix in exts:
                    f.unlink()


def _edge_frames(fmt: str, bad_rows: bool) -> tuple[list[tuple[str, pl.DataFrame]], dict[str, pl.DataFrame]]:
    """The edge cases: their own contact and instalment files (relative path, frame), and the rows they
    add to the single-file tables."""
    x, bad, bad_inst = _edge_cases()
    rows = x.contacts + (bad if bad_rows else [])
    if not bad_rows:
        rows = [r for r in rows if r["event_id"] not in ("X-DUP-SAME", "X-CASE-ENUM")]
    cycle = ["a", "b", "c"]
    for i, r in enumerate(rows):
        if r["file"] is None:
            r["file"] = cycle[i % 3] if r["ts"].endswith("+08:00") and "T" in r["ts"] else "a"
    schema = {c: pl.String for c in CONTACT_COLS} | {"duration_s": pl.Int64}
    df = pl.DataFrame([{c: r[c] for c in CONTACT_COLS} | {"file": r["file"]} for r in rows],
                      schema=schema | {"file": pl.String}, orient="row")
    ext = {"mixed": {"a": "csv", "b": "jsonl", "c": "parquet", "resend": "csv"},
           "parquet": dict.fromkeys(("a", "b", "c", "resend"), "parquet"),
           "csv": dict.fromkeys(("a", "b", "c", "resend"), "csv")}[fmt]
    files: list[tuple[str, pl.DataFrame]] = []
    for f in ("a", "b", "c", "resend"):
        part = df.filter(pl.col("file") == f).drop("file")
        if part.is_empty():
            continue
        if f == "c" and ext[f] == "parquet":
            part = part.with_columns(ts=_utc_typed(pl.col("ts")))
        if f == "resend":  # another export tool: upper-case headers
            part = part.rename({c: c.upper() for c in part.columns})
        name = "resend" if f == "resend" else f"manual-{f}"
        files.append((f"contacts/{name}.{ext[f]}", part))
    inst = pl.DataFrame(x.inst + (bad_inst if bad_rows else []),
                        schema={c: pl.String for c in ("loan_id", "seq", "due_date", "amount_due", "paid_at")})
    files.append((f"installments/part-edge.{'csv' if fmt == 'mixed' else fmt}", inst))
    rows = {
        "borrowers": pl.DataFrame(x.borrowers),
        "loans": pl.DataFrame([{k: ln[k] for k in ("loan_id", "borrower_id", "principal")} for ln in x.loans.values()]),
        "emergency_contacts": pl.DataFrame(x.ecs),
    }
    return files, rows


def generate(out_dir: str | Path, *, loans: int = 300, seed: int = 0, fmt: str = "mixed",
             bad_rows: bool = True) -> dict[str, int]:
    """Write a synthetic dataset to `out_dir`; returns rows written per table.

    `loans` random loans are generated, plus the fixed edge-case loans `LX01`..`LX31` (same for every seed).
    `fmt` "mixed" mixes CSV, JSONL and Parquet (contacts and instalments partitioned); "parquet" or "csv"
    use one format throughout (Parquet partitions that must hold unparseable text keep `ts` as text).
    The same arguments give the same bytes.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if loans < 0:
        raise ValueError("loans must be >= 0")
    out = Path(out_dir)
    _refuse_foreign(out)
    out.mkdir(parents=True, exist_ok=True)
    _clear(out)
    (out / SAMPLE_MARK).write_text("written by `audit sample`; a later `audit sample --out` may replace this dataset\n")
    pools, outcomes = _template_pools(), _outcome_pools()
    lookup = _template_lookup(pools)
    counts = dict.fromkeys(TABLE_NAMES, 0)
    small: dict[str, list[pl.DataFrame]] = {"borrowers": [], "loans": [], "emergency_contacts": []}
    part_ext = {"mixed": ("parquet", "csv", "jsonl"), "parquet": ("parquet",) * 3, "csv": ("csv",) * 3}[fmt]
    events = 0
    for c, lo in enumerate(range(0, loans, CHUNK_LOANS)):
        r = _chunk(seed, c, lo, min(lo + CHUNK_LOANS, loans), events, pools, lookup, outcomes)
        ct = r["contacts"]
        events += ct.height
        for k, ext in enumerate(part_ext):
            part = ct.filter(pl.col("file") == k)
            if ext == "parquet":
                part = part.with_columns(ts=pl.col("utc").dt.replace_time_zone("UTC"))
            if ext == "jsonl":  # the messaging platform's export carries an extra column, ignored on load
                part = part.select(*CONTACT_COLS, source=pl.col("channel").replace_strict(CHANNEL_SOURCE))
            else:
                part = part.select(CONTACT_COLS)
            counts["contacts"] += _write(part, out / "contacts" / f"part-{c:04d}-{k}.{ext}")
        inst = r["installments"]
        if fmt == "csv":
            inst = inst.select("loan_id", "seq", "due_date", _money(pl.col("amount_due")).alias("amount_due"), "paid_at")
        else:
            inst = inst.select("loan_id", "seq", "due_date",
                               _money(pl.col("amount_due")).cast(pl.Decimal(18, 2)).alias("amount_due"),
                               pl.col("paid_utc").dt.replace_time_zone("UTC").alias("paid_at"))
        counts["installments"] += _write(inst, out / "installments" / f"part-{c:04d}.{'csv' if fmt == 'csv' else 'parquet'}")
        for t in small:
            small[t].append(r[t])

    edge_files, edge_rows = _edge_frames(fmt, bad_rows)
    for rel, df in edge_files:
        counts[rel.split("/")[0]] += _write(df, out / rel)
    single_ext = {"mixed": {"borrowers": "csv", "loans": "jsonl", "emergency_contacts": "parquet"},
                  "parquet": dict.fromkeys(small, "parquet"), "csv": dict.fromkeys(small, "csv")}[fmt]
    for t, frames in small.items():
        if t == "loans":
            frames = [f.with_columns(principal=_money(pl.col("principal"))) for f in frames]
        df = pl.concat([*frames, edge_rows[t]], how="vertical_relaxed")
        ext = single_ext[t]
        if t == "loans" and ext != "csv":
            df = df.with_columns(pl.col("principal").cast(pl.Float64 if ext == "jsonl" else pl.Decimal(18, 2)))
        counts[t] += _write(df, out / f"{t}.{ext}")
    return counts
