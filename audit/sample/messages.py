"""Message and note templates, filled per row from the row's own values (one format per template)."""

from __future__ import annotations

import re

import polars as pl

from .common import BRAND, HOTLINE, _Pools

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


def _template_pools() -> _Pools:
    pools = _Pools()
    for (key, lang), items in TEMPLATES.items():
        pools.add((key, lang), items)
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
