"""Loans and their instalments: products, amounts, schedules, and on-time, late or defaulted payments."""

from __future__ import annotations

import polars as pl

from .common import NOW, ORIG_FROM, ORIG_TO, _date_days, _day_to_date, _pick, _render_ts, _Rng, _to_utc
from .people import _people


def _loans(rng: _Rng, lo: int, hi: int) -> pl.DataFrame:
    """Loans lo..hi-1 with their borrowers (one each) and the draws later steps use."""
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
    return loans


def _installments(rng: _Rng, loans: pl.DataFrame) -> pl.DataFrame:
    """Instalments: on time, late (cured), or unpaid from a default point on."""
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

    return inst


def _installment_rows(rng: _Rng, inst: pl.DataFrame, loans: pl.DataFrame) -> pl.DataFrame:
    """Instalments as written: paid_at rendered as lenders' systems write timestamps."""
    m = inst.height
    ui = {k: rng.u(m) for k in ("style", "sep")}
    inst = inst.join(loans.select("loan", "loan_id"), on="loan", how="left", maintain_order="left").with_columns(
        u_style=ui["style"], u_sep=ui["sep"]).with_columns(
        paid_at=pl.when(pl.col("paid_day").is_not_null()).then(
            _render_ts(pl.col("paid_lt"), pl.col("paid_utc"), pl.col("zone"), pl.col("u_style"), pl.col("u_sep"))))
    installments = inst.select("loan_id", "seq", pl.col("due").alias("due_date"), pl.col("amt").alias("amount_due"),
                               "paid_at", "paid_utc")
    return installments
