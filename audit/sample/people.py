"""Borrowers and the people they register: names, resident IDs, mobiles, bank cards, addresses."""

from __future__ import annotations

from datetime import date

import polars as pl

from .common import _date_days, _digits, _id_check_expr, _luhn_expr, _pick, _Rng

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



def _emergency_contacts(rng: _Rng, loans: pl.DataFrame) -> pl.DataFrame:
    """Registered emergency contacts: 0-3 per borrower, with a relationship and (mostly) a phone."""
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
    return ecs
