"""`audit mapping check` and `audit mapping draft`: write and test a mapping before any load.

`check` reads every file a mapping names and reports what a load would
refuse (missing columns, values with no mapping), so the user fixes the
mapping in one round; nothing is loaded. `draft` guesses a starting mapping
from the headers (by name and a synonym table in Chinese and English) and
lists each enum column's values for the user to map.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import yaml

from .errors import LoadError, UsageError
from .ingest.map import source_files
from .ingest.read import ROW, UNPARSED, _form, _skipped, read_chunks
from .mapping import STAR, Mapping
from .schemas import TABLES

# ---------------------------------------------------------------- check


@dataclass
class SourceCheck:
    where: str
    table: str
    files: list[str] = field(default_factory=list)
    rows: int = 0
    missing: list[tuple[str, str]] = field(default_factory=list)       # (file, column)
    unmapped: dict[tuple[str, str], int] = field(default_factory=dict)  # (§1 column, value) -> rows
    unformatted: dict[str, int] = field(default_factory=dict)           # §1 column -> rows not matching formats
    error: str = ""

    @property
    def clean(self) -> bool:
        return not (self.missing or self.unmapped or self.unformatted or self.error)


def check_mapping(data_dir: str | Path, mapping: Mapping, encoding: str = "utf-8") -> list[SourceCheck]:
    """Per source: files matched, rows, columns missing from a header, values with no mapping (with counts)."""
    root = Path(data_dir)
    if not root.is_dir():
        raise UsageError(f"data directory {root} does not exist or is not a directory")
    out = []
    for table, sources in mapping.tables.items():
        for s in sources:
            c = SourceCheck(s.where, table)
            out.append(c)
            try:
                paths = source_files(root, s)
            except LoadError as e:
                c.error = str(e)
                continue
            for p in paths:
                name = str(p.relative_to(root))
                c.files.append(name)
                for chunk in read_chunks(p, s.encoding or encoding, as_written=True):
                    c.rows += chunk.height
                    _check_chunk(c, s, chunk, name)
    return out


def _check_chunk(c: SourceCheck, s, chunk: pl.DataFrame, name: str) -> None:
    folded = {n.casefold(): n for n in chunk.columns if n not in (ROW, UNPARSED)}
    for col, wanted in s.columns.items():
        src = wanted if wanted in chunk.columns else folded.get(wanted.casefold())
        if src is None:
            if (name, wanted) not in c.missing:
                c.missing.append((name, wanted))
            continue
        text = chunk.get_column(src).cast(pl.String).str.strip_chars()
        text = text.filter(text.is_not_null() & (text != ""))
        vmap = s.values.get(col)
        if vmap is not None and STAR not in vmap:
            counts = text.filter(~text.is_in(list(vmap))).value_counts()
            for value, n in counts.iter_rows():
                c.unmapped[(col, value)] = c.unmapped.get((col, value), 0) + n
        fmt = s.formats.get(col)
        if fmt is not None and chunk.schema[src] == pl.String:
            kind = pl.Datetime("us") if TABLES[c.table].col(col).kind == "timestamp" else pl.Date
            bad = text.str.strptime(kind, fmt, strict=False).is_null().sum()
            if bad:
                c.unformatted[col] = c.unformatted.get(col, 0) + bad


def render_check(checks: list[SourceCheck]) -> str:
    lines = []
    for c in checks:
        lines.append(f"{c.where} ({c.table}): {len(c.files)} file(s), {c.rows} row(s)")
        if c.error:
            lines.append(f"  error: {c.error}")
        for f, col in c.missing:
            lines.append(f"  missing column: {col!r} in {f}")
        for (col, value), n in sorted(c.unmapped.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0][1])):
            lines.append(f"  unmapped {col} value: {value!r} in {n} row(s)")
        for col, n in c.unformatted.items():
            lines.append(f"  {col}: {n} row(s) do not match the format")
        if c.clean:
            lines.append("  ok")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- draft

# Header names each §1 column goes by in lenders' exports, compared case- and punctuation-insensitively.
SYNONYMS: dict[str, dict[str, list[str]]] = {
    "contacts": {
        "event_id": ["event_id", "记录编号", "记录id", "流水号", "callid", "call_id", "msg_id", "messageid",
                     "message_id", "attemptid", "attempt_id", "record_id", "id"],
        "loan_id": ["loan_id", "借据号", "合同号", "贷款编号", "account", "accountnumber", "account_number",
                    "contract_no", "contractno", "loan_no", "loannumber"],
        "ts": ["ts", "拨打时间", "发送时间", "联系时间", "呼叫时间", "call_time", "calldate", "call_date",
               "sent_at", "senttime", "send_time", "calldateutc", "call_date_utc", "timestamp", "attempt_time", "datetime", "start_time"],
        "channel": ["channel", "渠道", "联系方式", "催收方式", "contact_method", "method", "medium"],
        "recipient_type": ["recipient_type", "联系人关系", "关系", "联系对象", "party", "party_type", "relationship",
                           "contact_type", "recipient", "to_role", "receiver_role"],
        "recipient_id": ["recipient_id", "联系人编号", "联系人id", "contact_id", "contact_no", "party_id", "partyid"],
        "agent_id": ["agent_id", "坐席工号", "催收员", "工号", "坐席", "agent", "agentid", "collector", "operator",
                     "user_id"],
        "outcome": ["outcome", "通话结果", "结果", "状态", "发送状态", "disposition", "dispositioncode",
                    "disposition_code", "result", "status", "dlr_status"],
        "duration_s": ["duration_s", "通话时长", "时长", "通话时长秒", "duration", "talk_time", "talktime",
                       "talk_seconds", "seconds"],
        "content": ["content", "内容", "短信内容", "备注", "body", "text", "message", "notes", "note"],
    },
    "loans": {
        "loan_id": ["loan_id", "借据号", "合同号", "贷款编号", "account", "account_number", "contract_no"],
        "borrower_id": ["borrower_id", "客户号", "客户编号", "借款人编号", "customer_id", "customerid", "debtor_id"],
        "principal": ["principal", "本金", "借款本金", "借款金额", "贷款金额", "loan_amount", "amount", "original_balance"],
    },
    "installments": {
        "loan_id": ["loan_id", "借据号", "合同号", "account", "account_number", "contract_no"],
        "seq": ["seq", "期数", "期次", "期号", "installment_no", "term", "period"],
        "due_date": ["due_date", "应还日期", "到期日", "还款日", "duedate"],
        "amount_due": ["amount_due", "应还金额", "应还款额", "amountdue", "payment_due", "due_amount"],
        "paid_at": ["paid_at", "实还时间", "还款时间", "paid_date", "paiddate", "payment_date"],
    },
    "borrowers": {
        "borrower_id": ["borrower_id", "客户号", "客户编号", "customer_id", "debtor_id"],
        "name": ["name", "姓名", "客户姓名", "full_name"], "id_number": ["id_number", "身份证号", "证件号码"],
        "phone": ["phone", "手机号", "电话", "mobile"], "bank_card": ["bank_card", "银行卡号", "卡号"],
        "address": ["address", "地址", "住址", "居住地址"], "timezone": ["timezone", "时区", "tz", "time_zone"],
    },
    "emergency_contacts": {
        "borrower_id": ["borrower_id", "客户号", "customer_id"],
        "contact_id": ["contact_id", "联系人编号", "联系人id"],
        "relationship": ["relationship", "关系", "联系人关系"], "phone": ["phone", "联系人电话", "手机号", "电话"],
    },
}
# Values an export commonly writes for an enum, for a first guess the user confirms.
VALUE_GUESSES: dict[str, dict[str, str]] = {
    "outcome": {"已接通": "connected", "接通": "connected", "未接通": "no_answer", "无人接听": "no_answer",
                "占线": "busy", "关机": "failed", "空号": "failed", "停机": "failed", "拒接": "refused",
                "语音信箱": "voicemail", "成功": "delivered", "已送达": "delivered", "失败": "failed",
                "已读": "read", "勿扰": "do_not_contact", "要求停止联系": "do_not_contact", "DELIVRD": "delivered", "UNDELIV": "failed",
                "EXPIRED": "failed", "REJECTD": "failed", "A": "connected", "NA": "no_answer", "B": "busy",
                "AM": "voicemail", "AL": "voicemail", "DC": "failed", "DNC": "do_not_contact", "REF": "refused"},
    "recipient_type": {"本人": "borrower", "借款人": "borrower", "配偶": "emergency_contact",
                       "父母": "emergency_contact", "紧急联系人": "emergency_contact", "SELF": "borrower",
                       "DEBTOR": "borrower", "BORROWER": "borrower", "EMERGENCY": "emergency_contact",
                       "THIRD_PARTY": "third_party", "OTHER": "third_party"},
    "channel": {"电话": "call", "外呼": "call", "短信": "sms", "邮件": "email", "推送": "app_push",
                "APP推送": "app_push", "微信": "im", "信函": "letter", "上门": "visit", "CALL": "call",
                "SMS": "sms", "TEXT": "sms", "EMAIL": "email", "PUSH": "app_push", "LETTER": "letter", "CHAT": "im",
                "VISIT": "visit", "FIELD VISIT": "visit"},
}
CHANNEL_WORDS = {"call": ("call", "dial", "通话", "电话", "外呼"), "sms": ("sms", "text", "短信"),
                 "email": ("mail",), "app_push": ("push",), "letter": ("letter",), "visit": ("visit",)}
TS_FORMATS = ["%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p",
              "%m/%d/%Y %H:%M:%S", "%d/%m/%Y %H:%M:%S", "%Y%m%d%H%M%S", "%Y年%m月%d日 %H:%M:%S", "%d.%m.%Y %H:%M:%S"]
DATE_FORMATS = ["%Y/%m/%d", "%m/%d/%Y", "%Y%m%d", "%Y年%m月%d日", "%d.%m.%Y"]
MAX_VALUES = 50  # distinct values listed per enum column; beyond that the column is likely no enum


def _norm(name: str) -> str:
    return "".join(ch for ch in name.casefold() if ch.isalnum())


def _sources(root: Path) -> dict[str, list[Path]]:
    """Each top-level file, and each top-level directory (its files together), is one source."""
    out: dict[str, list[Path]] = {}
    for entry in sorted(root.iterdir()):
        if _skipped(entry.name):
            continue
        if entry.is_dir():
            files = [p for p in sorted(entry.rglob("*")) if p.is_file() and _form(p.name)
                     and not any(_skipped(x) for x in p.relative_to(root).parts)]
            if files:
                forms = sorted({_form(p.name) for p in files})
                out[f"{entry.name}/**/*{forms[0]}" if len(forms) == 1 else f"{entry.name}/**/*"] = files
        elif entry.is_file() and _form(entry.name):
            out[entry.name] = [entry]
    return out


def _sample(files: list[Path], encoding: str) -> tuple[pl.DataFrame, str]:
    """The source's rows (all of them: enum values must be complete) and the encoding that read them."""
    for enc in dict.fromkeys([encoding, "utf-8", "gb18030"]):
        try:
            frames = [c.drop(ROW) for p in files for c in read_chunks(p, enc, as_written=True)]
            return (pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()), enc
        except LoadError:
            continue
    raise LoadError(f"{files[0].name}: cannot be read as {encoding}, utf-8 or gb18030; name it with --encoding")


def _guess_table(columns: list[str]) -> tuple[str | None, dict[str, str]]:
    best: tuple[int, str | None, dict[str, str]] = (0, None, {})
    normed = {_norm(c): c for c in columns}
    for table, synonyms in SYNONYMS.items():
        found: dict[str, str] = {}
        for col, names in synonyms.items():
            hit = next((normed[_norm(n)] for n in names if _norm(n) in normed and normed[_norm(n)] not in
                        found.values()), None)
            if hit is not None:
                found[col] = hit
        required = [c.name for c in TABLES[table].columns if c.required]
        score = sum(c in found for c in required) * 10 + len(found)
        if score > best[0]:
            best = (score, table, found)
    return best[1], best[2]


def _format_of(values: pl.Series, formats: list[str], kind) -> str | None:
    values = values.drop_nulls().cast(pl.String).str.strip_chars()
    values = values.filter(values != "").head(1000)
    if values.is_empty() or values.str.contains(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ]|$)").all():
        return None  # §1's own form needs no format
    # the format most values match, when nearly all do (a few bad rows are what `check` is for)
    share = {fmt: values.str.strptime(kind, fmt, strict=False).is_not_null().mean() for fmt in formats}
    best = max(share, key=lambda f: share[f])
    return best if share[best] >= 0.9 else None


def draft_mapping(data_dir: str | Path, encoding: str = "utf-8") -> str:
    """A starting mapping for DATA_DIR as YAML text, with comments where the user must decide."""
    root = Path(data_dir)
    if not root.is_dir():
        raise UsageError(f"data directory {root} does not exist or is not a directory")
    tables: dict[str, list[str]] = {}
    skipped = []
    for glob, files in _sources(root).items():
        df, enc = _sample(files, encoding)
        table, found = _guess_table(list(df.columns))
        if table is None:
            skipped.append(f"# not mapped (no table recognised): {glob}")
            continue
        if glob.split(".")[0].split("/")[0].lower() == table and all(
                c.lower() == s.lower() for c, s in found.items()):
            skipped.append(f"# read as in SPEC §1 (not named here): {glob}")
            continue
        tables.setdefault(table, []).append(_draft_source(table, glob, files, df, enc, found))
    head = ["# A starting mapping (SPEC §8) drafted from the headers. Check every line; fill in each",
            "# value marked with a comment (\"\" is refused), then run: audit mapping check DATA_DIR --mapping FILE"]
    head += skipped
    body = ["tables:"]
    for table, sources in tables.items():
        body.append(f"  {table}:")
        body += sources
    return "\n".join(head + body) + "\n"


def _q(value: object) -> str:
    return yaml.safe_dump(value, allow_unicode=True, default_flow_style=True, width=10_000).strip().removesuffix(
        "\n...").removesuffix("...").strip()


def _draft_source(table: str, glob: str, files: list[Path], df: pl.DataFrame, enc: str,
                  found: dict[str, str]) -> str:
    t = TABLES[table]
    lines = [f"    - files: {_q(glob)}"]
    if enc.replace("-", "").lower() != "utf8":
        lines.append(f"      encoding: {enc}")
    formats, naive = {}, False
    for col, src in found.items():
        kind = t.col(col).kind
        if kind in ("timestamp", "date") and df.schema[src] == pl.String:
            fmt = _format_of(df[src], TS_FORMATS if kind == "timestamp" else DATE_FORMATS,
                             pl.Datetime("us") if kind == "timestamp" else pl.Date)
            if fmt:
                formats[col] = fmt
                naive = naive or (kind == "timestamp" and "%z" not in fmt)
            elif kind == "timestamp":  # §1's own form: naive when no offset follows the time
                text = df[src].drop_nulls().cast(pl.String).str.strip_chars().head(1000)
                naive = naive or bool(text.str.contains(r"[0-9]$").any())
    if naive:
        zone = "UTC" if any("utc" in src.casefold() for src in found.values()) else "Asia/Shanghai"
        lines.append(f"      timezone: {zone}   # the zone of its times without an offset: check it")
    lines.append("      columns:")
    lines += [f"        {col}: {_q(src)}" for col, src in found.items()]
    unmatched = [c for c in df.columns if c not in found.values() and c != UNPARSED]
    if unmatched:
        lines.append(f"        # not matched to a §1 column: {', '.join(unmatched)}")
    if formats:
        lines.append("      formats:")
        lines += [f"        {col}: {_q(fmt)}" for col, fmt in formats.items()]
    value_lines = []
    for col in [c.name for c in t.columns if c.enum and c.name in found]:
        values = df[found[col]].drop_nulls().cast(pl.String).str.strip_chars()
        distinct = sorted(set(values.filter(values != "").unique().to_list()))
        if not distinct or len(distinct) > MAX_VALUES:
            continue
        already = set(t.col(col).enum)
        if all(v.lower() in already for v in distinct):
            continue  # already §1's values (matched case-insensitively)
        value_lines.append(f"        {col}:   # one of: {', '.join(t.col(col).enum)}")
        for v in distinct:
            known = VALUE_GUESSES.get(col, {})
            as_enum = v.lower().replace(" ", "_")
            guess = known.get(v) or known.get(v.upper()) or (as_enum if as_enum in already else "")
            value_lines.append(f"          {_q(v)}: {_q(guess)}" + ("" if guess else "   # fill in"))
    if value_lines:
        lines.append("      values:")
        lines += value_lines
    constants = {}
    if table == "contacts" and "channel" not in found:
        name = glob.lower()
        guess = next((ch for ch, words in CHANNEL_WORDS.items() if any(w in name for w in words)), "")
        constants["channel"] = guess
    missing = [c.name for c in t.columns if c.required and c.name not in found and c.name not in constants]
    if constants or missing:
        lines.append("      constants:")
        lines += [f"        {col}: {_q(v)}" + ("   # guessed from the file name: check it" if v else "   # fill in")
                  for col, v in constants.items()]
        lines += [f"        {col}: \"\"   # required; no column found: fill in or map a column" for col in missing]
    return "\n".join(lines)


def write_new_file(path: str | Path, text: str) -> None:
    """Write a file that must not exist yet (never overwrite a file the tool did not write), private."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise UsageError(f"{path} already exists; the draft is written only to a new file "
                         f"(or to stdout without --out)") from None
    except OSError as e:
        raise UsageError(f"cannot create {path}: {e.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


__all__ = ["SourceCheck", "check_mapping", "draft_mapping", "render_check", "write_new_file"]
