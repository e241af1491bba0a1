"""The random collection process: who is contacted when, on which channel, with what outcome and text.

Each step draws its uniforms from the chunk's one generator in a fixed
order, so the same seed gives the same contacts byte for byte.
"""

from __future__ import annotations

import polars as pl

from .common import NOW, _date_days, _day_to_date, _money, _money_commas, _pick, _Pools, _render_ts, _Rng, _to_utc
from .messages import TEMPLATES, _fill_templates

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


def _outcome_pools() -> _Pools:
    pools = _Pools()
    for key, items in OUTCOMES.items():
        pools.add(key, [(w, v) for v, w in items])
    return pools


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


def _schedule(rng: _Rng, inst: pl.DataFrame) -> pl.DataFrame:
    """The contacts' days and categories: collection on delinquent days, reminders around due dates, receipts."""
    m = inst.height
    now = _date_days(NOW)
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
    return ct


def _attributes(rng: _Rng, ct: pl.DataFrame, loans: pl.DataFrame, outcomes: _Pools) -> pl.DataFrame:
    """Each contact's time, outcome, channel, recipient, agent and duration; contacts after a refusal mostly dropped."""
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

    return ct


def _messages(ct: pl.DataFrame, ecs: pl.DataFrame, pools: _Pools, lookup: pl.DataFrame,
              event_base: int) -> pl.DataFrame:
    """Each contact's text, timestamp as written and event id, in time order."""
    cat = pl.col("cat")
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
    return contacts
