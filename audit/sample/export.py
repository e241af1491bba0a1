"""Lenders' export shapes (SPEC §8): the same events as a §1 dataset, as a call centre or a dialer writes them.

An export is made from what the loader stores for a §1 dataset, so it holds
exactly the events that dataset's audit judges; read back through its
mapping (`MAPPINGS`), it must give the same violations. Each shape is a
plain function from the stored tables to files: the values it writes and
the mapping that reads them are kept side by side, so they cannot drift.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import polars as pl

from .write import SAMPLE_MARK, _refuse_foreign, generate

EXPORTS = ("cn-callcenter", "us-dialer")
SHANGHAI = "Asia/Shanghai"

# -- cn-callcenter: a Chinese call centre, its SMS gateway and its CRM, in GB18030 with slash dates.
CN_OUTCOME = {"connected": "已接通", "no_answer": "未接通", "busy": "占线", "voicemail": "语音信箱",
              "refused": "拒接", "failed": "关机", "do_not_contact": "要求停止联系"}
CN_RESULT = {"delivered": "已送达", "read": "已读", "failed": "失败", "connected": "已接通"}
CN_CHANNEL = {"email": "邮件", "app_push": "APP推送", "im": "微信", "letter": "信函", "visit": "上门"}
SMS_STATUS = {"delivered": "DELIVRD", "failed": "UNDELIV"}
CN_SELF, CN_REGISTERED, CN_OTHER = "本人", "紧急联系人", "通讯录联系人"

# -- us-dialer: a US dialer's call detail records (disposition codes, 12-hour UTC times) and a messaging log.
US_DISPOSITION = {"connected": "A", "no_answer": "NA", "busy": "B", "voicemail": "AM", "refused": "HU",
                  "failed": "DC", "do_not_contact": "DNC"}
US_PARTY = {"borrower": "DEBTOR", "emergency_contact": "REFERENCE", "third_party": "THIRD PARTY"}
US_CHANNEL = {"sms": "TEXT", "email": "EMAIL", "app_push": "PUSH", "im": "CHAT", "letter": "LETTER",
              "visit": "FIELD VISIT"}
US_STATUS = {"delivered": "DELIVERED", "read": "READ", "failed": "FAILED", "connected": "CONTACT MADE"}


def _yaml_map(values: dict[str, str], indent: int) -> str:
    pad = " " * indent
    return "\n".join(f'{pad}"{k}": {v}' for k, v in values.items())


def _inverse(values: dict[str, str]) -> dict[str, str]:
    return {v: k for k, v in values.items()}


CN_RELATIONSHIPS = ("配偶", "父母", "朋友", "同事")
MAPPINGS = {
    "cn-callcenter": f"""# Reads sample_data/exports/cn-callcenter (made by `audit sample --export cn-callcenter`).
# Every table comes from the lender's own files: Chinese headers, GB18030, slash dates in Beijing time.
tables:
  borrowers:
    - files: "客户信息.csv"
      encoding: gb18030
      columns: {{borrower_id: 客户号, name: 姓名, id_number: 身份证号, phone: 手机号, bank_card: 银行卡号,
                address: 居住地址, timezone: 时区}}
  loans:
    - files: "借据信息.csv"
      encoding: gb18030
      columns: {{loan_id: 借据号, borrower_id: 客户号, principal: 借款本金}}
  installments:
    - files: "还款计划.csv"
      encoding: gb18030
      timezone: {SHANGHAI}
      columns: {{loan_id: 借据号, seq: 期次, due_date: 应还日期, amount_due: 应还金额, paid_at: 实还时间}}
      formats: {{due_date: "%Y/%m/%d", paid_at: "%Y/%m/%d %H:%M:%S"}}
  emergency_contacts:
    - files: "紧急联系人.csv"
      encoding: gb18030
      columns: {{borrower_id: 客户号, contact_id: 联系人编号, relationship: 联系人关系, phone: 联系人电话}}
  contacts:
    - files: "通话记录/*.csv"             # the call centre's dialer
      encoding: gb18030
      timezone: {SHANGHAI}
      columns: {{event_id: 记录编号, loan_id: 借据号, ts: 拨打时间, recipient_type: 联系人关系,
                recipient_id: 联系人编号, agent_id: 坐席工号, outcome: 通话结果, duration_s: 通话时长,
                content: 备注}}
      formats: {{ts: "%Y/%m/%d %H:%M:%S"}}
      values:
        outcome:
{_yaml_map(_inverse(CN_OUTCOME), 10)}
        recipient_type: {{{CN_SELF}: borrower, {', '.join(f'{r}: emergency_contact' for r in CN_RELATIONSHIPS)},
                         {CN_REGISTERED}: emergency_contact, "*": third_party}}
      constants: {{channel: call}}
    - files: "短信网关/*.jsonl"            # the SMS gateway's delivery log
      timezone: {SHANGHAI}
      columns: {{event_id: msg_id, loan_id: contract_no, ts: sent_at, recipient_type: to_role,
                recipient_id: contact_no, agent_id: operator, outcome: status, content: body}}
      values:
        outcome: {{DELIVRD: delivered, UNDELIV: failed}}
        recipient_type: {{SELF: borrower, CONTACT: emergency_contact, OTHER: third_party}}
      constants: {{channel: sms}}
    - files: "其他渠道/*.csv"             # the CRM's other channels: e-mail, push, WeChat, letters, visits
      encoding: gb18030
      timezone: {SHANGHAI}
      columns: {{event_id: 记录编号, loan_id: 借据号, ts: 联系时间, channel: 渠道, recipient_type: 联系人关系,
                recipient_id: 联系人编号, agent_id: 坐席工号, outcome: 结果, content: 内容}}
      formats: {{ts: "%Y/%m/%d %H:%M:%S"}}
      values:
        channel: {{{', '.join(f'{v}: {k}' for k, v in CN_CHANNEL.items())}}}
        outcome: {{{', '.join(f'{v}: {k}' for k, v in CN_RESULT.items())}}}
        recipient_type: {{{CN_SELF}: borrower, {', '.join(f'{r}: emergency_contact' for r in CN_RELATIONSHIPS)},
                         {CN_REGISTERED}: emergency_contact, "*": third_party}}
""",
    "us-dialer": f"""# Reads sample_data/exports/us-dialer (made by `audit sample --export us-dialer`).
# Loans, instalments, borrowers and emergency contacts are SPEC §1 files (read as they are);
# contacts come from the dialer's call detail records and the messaging platform's log.
tables:
  contacts:
    - files: "dialer/*.csv"
      timezone: UTC                      # the dialer logs UTC (a wall clock with DST repeats an hour)
      columns: {{event_id: AttemptID, loan_id: AccountNumber, ts: CallDateUTC, recipient_type: PartyType,
                recipient_id: PartyID, agent_id: AgentID, outcome: Disposition, duration_s: TalkTime,
                content: Notes}}
      formats: {{ts: "%m/%d/%Y %I:%M:%S %p"}}
      values:
        outcome: {{{', '.join(f'{v}: {k}' for k, v in US_DISPOSITION.items())}}}
        recipient_type: {{{', '.join(f'"{v}": {k}' for k, v in US_PARTY.items())}}}
      constants: {{channel: call}}
    - files: "messaging/*.jsonl"
      columns: {{event_id: id, loan_id: account, ts: sent_at, channel: channel, recipient_type: party,
                recipient_id: party_id, agent_id: agent, outcome: status, content: body}}
      values:
        channel: {{{', '.join(f'"{v}": {k}' for k, v in US_CHANNEL.items())}}}
        outcome: {{{', '.join(f'"{v}": {k}' for k, v in US_STATUS.items())}}}
        recipient_type: {{{', '.join(f'"{v}": {k}' for k, v in US_PARTY.items())}}}
""",
}


def _stored(data_dir: Path) -> dict[str, pl.DataFrame]:
    """The tables the loader stores for a §1 dataset: the events its audit judges, and nothing rejected."""
    from ..ingest import load_dataset
    from ..schemas import TABLES
    from ..store import connect, frame

    con = connect(None)
    try:
        load_dataset(con, data_dir)
        # in key order: the store keeps no row order (rows are staged in parallel), an export's bytes must
        return {t: frame(con, f"SELECT * FROM {t} ORDER BY {', '.join(TABLES[t].key)}") for t in
                ("borrowers", "loans", "installments", "emergency_contacts", "contacts")}
    finally:
        con.close()


def _gb(df: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(df.write_csv().encode("gb18030"))


def _jsonl(df: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in df.iter_rows(named=True)),
                    encoding="utf-8")


def _beijing(ts: pl.Expr) -> pl.Expr:
    return ts.dt.convert_time_zone(SHANGHAI)


def _slash(ts: pl.Expr) -> pl.Expr:
    """2026/6/16 18:27:06, Beijing wall-clock time, as Chinese call-centre systems write it."""
    return _beijing(ts).dt.strftime("%Y/%-m/%-d %H:%M:%S")


def _replace(col: str, values: dict[str, str]) -> pl.Expr:
    """Map §1 values to the export's words; a value the shape has no word for is a bug here, not a row to lose."""
    return pl.col(col).replace_strict(values, default=None, return_dtype=pl.String).alias(col)


def _check_words(df: pl.DataFrame, col: str, values: dict[str, str], where: str) -> None:
    missing = set(df.get_column(col).drop_nulls().unique()) - set(values)
    if missing:
        raise AssertionError(f"{where}: no export word for {col} {sorted(missing)}")


def _relationship(ct: pl.DataFrame, ecs: pl.DataFrame) -> pl.DataFrame:
    """联系人关系 as the call centre writes it: 本人, the registered relationship, 紧急联系人, or 通讯录联系人."""
    loans_rel = ct.join(ecs.select(pl.col("borrower_id").alias("_b"), pl.col("contact_id").alias("recipient_id"),
                                   pl.col("relationship").alias("_rel")),
                        left_on=["_borrower", "recipient_id"], right_on=["_b", "recipient_id"], how="left",
                        maintain_order="left")
    return loans_rel.with_columns(
        pl.when(pl.col("recipient_type") == "borrower").then(pl.lit(CN_SELF))
        .when(pl.col("recipient_type") == "emergency_contact").then(
            pl.when(pl.col("_rel").is_in(CN_RELATIONSHIPS)).then(pl.col("_rel")).otherwise(pl.lit(CN_REGISTERED)))
        .otherwise(pl.lit(CN_OTHER)).alias("联系人关系"))


def _cn_callcenter(t: dict[str, pl.DataFrame], out: Path) -> dict[str, int]:
    b, ln, inst, ecs, ct = (t[k] for k in ("borrowers", "loans", "installments", "emergency_contacts", "contacts"))
    _gb(b.select(pl.col("borrower_id").alias("客户号"), pl.col("name").alias("姓名"),
                 pl.col("id_number").alias("身份证号"), pl.col("phone").alias("手机号"),
                 pl.col("bank_card").alias("银行卡号"), pl.col("address").alias("居住地址"),
                 pl.col("timezone").alias("时区")), out / "客户信息.csv")
    _gb(ln.select(pl.col("loan_id").alias("借据号"), pl.col("borrower_id").alias("客户号"),
                  pl.col("principal").cast(pl.String).alias("借款本金")), out / "借据信息.csv")
    _gb(inst.sort("loan_id", "seq").select(
        pl.col("loan_id").alias("借据号"), pl.col("seq").alias("期次"),
        pl.col("due_date").dt.strftime("%Y/%-m/%-d").alias("应还日期"),
        pl.col("amount_due").cast(pl.String).alias("应还金额"), _slash(pl.col("paid_at")).alias("实还时间")),
        out / "还款计划.csv")
    _gb(ecs.select(pl.col("borrower_id").alias("客户号"), pl.col("contact_id").alias("联系人编号"),
                   pl.col("relationship").alias("联系人关系"), pl.col("phone").alias("联系人电话")),
        out / "紧急联系人.csv")
    ct = ct.join(ln.select("loan_id", pl.col("borrower_id").alias("_borrower")), on="loan_id", how="left",
                 maintain_order="left")
    ct = _relationship(ct.sort("ts", "event_id"), ecs).with_columns(
        _beijing(pl.col("ts")).dt.strftime("%Y-%m").alias("_month"))
    calls = ct.filter(pl.col("channel") == "call")
    _check_words(calls, "outcome", CN_OUTCOME, "cn-callcenter calls")
    for (month,), part in calls.partition_by("_month", as_dict=True, maintain_order=True).items():
        _gb(part.with_columns(_replace("outcome", CN_OUTCOME)).select(
            pl.col("event_id").alias("记录编号"), pl.col("loan_id").alias("借据号"), _slash(pl.col("ts")).alias("拨打时间"),
            "联系人关系", pl.col("recipient_id").alias("联系人编号"), pl.col("agent_id").alias("坐席工号"),
            pl.col("outcome").alias("通话结果"), pl.col("duration_s").alias("通话时长"), pl.col("content").alias("备注")),
            out / "通话记录" / f"{month}.csv")
    sms = ct.filter(pl.col("channel") == "sms")
    _check_words(sms, "outcome", SMS_STATUS, "cn-callcenter sms")
    role = {"borrower": "SELF", "emergency_contact": "CONTACT", "third_party": "OTHER"}
    for (month,), part in sms.partition_by("_month", as_dict=True, maintain_order=True).items():
        _jsonl(part.with_columns(_replace("outcome", SMS_STATUS), _replace("recipient_type", role)).select(
            msg_id="event_id", contract_no="loan_id", to_role="recipient_type", contact_no="recipient_id",
            operator="agent_id", sent_at=_beijing(pl.col("ts")).dt.strftime("%Y-%m-%d %H:%M:%S"),
            status="outcome", body="content"), out / "短信网关" / f"sms_{month}.jsonl")
    other = ct.filter(~pl.col("channel").is_in(["call", "sms"]))
    _check_words(other, "outcome", CN_RESULT, "cn-callcenter other channels")
    for (month,), part in other.partition_by("_month", as_dict=True, maintain_order=True).items():
        _gb(part.with_columns(_replace("outcome", CN_RESULT), _replace("channel", CN_CHANNEL)).select(
            pl.col("event_id").alias("记录编号"), pl.col("loan_id").alias("借据号"), _slash(pl.col("ts")).alias("联系时间"),
            pl.col("channel").alias("渠道"), "联系人关系", pl.col("recipient_id").alias("联系人编号"),
            pl.col("agent_id").alias("坐席工号"), pl.col("outcome").alias("结果"), pl.col("content").alias("内容")),
            out / "其他渠道" / f"{month}.csv")
    return {"calls": calls.height, "sms": sms.height, "other": other.height}


def _us_dialer(t: dict[str, pl.DataFrame], out: Path) -> dict[str, int]:
    for name in ("borrowers", "loans", "installments", "emergency_contacts"):
        df = t[name]
        df = df.with_columns([pl.col(c).dt.strftime("%Y-%m-%dT%H:%M:%SZ") for c, d in df.schema.items()
                              if isinstance(d, pl.Datetime)])
        df.write_csv(out / f"{name}.csv")
    ct = t["contacts"].sort("ts", "event_id").with_columns(pl.col("ts").dt.strftime("%Y%m").alias("_month"))
    calls = ct.filter(pl.col("channel") == "call")
    _check_words(calls, "outcome", US_DISPOSITION, "us-dialer calls")
    (out / "dialer").mkdir(exist_ok=True)
    for (month,), part in calls.partition_by("_month", as_dict=True, maintain_order=True).items():
        part.with_columns(_replace("outcome", US_DISPOSITION), _replace("recipient_type", US_PARTY)).select(
            AttemptID="event_id", AccountNumber="loan_id",
            CallDateUTC=pl.col("ts").dt.strftime("%m/%d/%Y %I:%M:%S %p"), PartyType="recipient_type",
            PartyID="recipient_id", AgentID="agent_id", Disposition="outcome", TalkTime="duration_s",
            Notes="content").write_csv(out / "dialer" / f"CallDetail_{month}.csv")
    other = ct.filter(pl.col("channel") != "call")
    _check_words(other, "outcome", US_STATUS, "us-dialer messages")
    _jsonl(other.with_columns(_replace("outcome", US_STATUS), _replace("channel", US_CHANNEL),
                              _replace("recipient_type", US_PARTY)).select(
        id="event_id", account="loan_id", channel="channel", party="recipient_type", party_id="recipient_id",
        agent="agent_id", sent_at=pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%SZ"), status="outcome", body="content"),
        out / "messaging" / "outbound.jsonl")
    return {"calls": calls.height, "messages": other.height}


SHAPES = {"cn-callcenter": _cn_callcenter, "us-dialer": _us_dialer}


def export(out_dir: str | Path, shape: str, *, loans: int = 300, seed: int = 7) -> dict[str, int]:
    """Write the export `shape` of the dataset `generate(loans=, seed=)` makes, with its mapping as mapping.yaml.

    `out_dir` must be new, empty, or an earlier output of `audit sample`.
    """
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {', '.join(SHAPES)}, not {shape!r}")
    out = Path(out_dir)
    _refuse_foreign(out)
    with tempfile.TemporaryDirectory(prefix="contact-audit-sample-") as tmp:
        generate(Path(tmp) / "data", loans=loans, seed=seed)
        tables = _stored(Path(tmp) / "data")
    if out.is_dir():
        _clear_export(out, shape)
    out.mkdir(parents=True, exist_ok=True)
    (out / SAMPLE_MARK).write_text("written by `audit sample`; a later `audit sample --out` may replace this dataset\n")
    counts = SHAPES[shape](tables, out)
    (out / "mapping.yaml").write_text(MAPPINGS[shape], encoding="utf-8")
    return counts


# The files each shape writes: only these are removed before an export is written again.
WRITES = {"cn-callcenter": ("客户信息.csv", "借据信息.csv", "还款计划.csv", "紧急联系人.csv", "通话记录/*.csv",
                            "短信网关/*.jsonl", "其他渠道/*.csv", "mapping.yaml"),
          "us-dialer": ("borrowers.csv", "loans.csv", "installments.csv", "emergency_contacts.csv", "dialer/*.csv",
                        "messaging/*.jsonl", "mapping.yaml")}


def _clear_export(out: Path, shape: str) -> None:
    """Remove an earlier export's files of this shape, so that no stale month survives; nothing else."""
    for pattern in WRITES[shape]:
        for p in out.glob(pattern):
            if p.is_file():
                p.unlink()
