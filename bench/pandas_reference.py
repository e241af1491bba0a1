"""The reference point: the same rules written the way a team without this tool would, in pandas.

Straightforward pandas: read every file, drop rows that do not parse, merge
the tables, derive DPD with a merge and a group-by, and judge each rule
with merges, group-bys, rolling windows and row-wise `apply` for the text
rules. No validation report, no accounting, no HTML: it only has to find the
violations, so that `bench/run.py` can time it against `audit run` on the
same data. Benchmark-only (the `bench` extra); never imported by the tool.

    python bench/pandas_reference.py DATA_DIR POLICY.yaml OUT.csv
"""

from __future__ import annotations

import re
import sys
import unicodedata
from datetime import date
from pathlib import Path

import pandas as pd
import yaml

THIRD = ("emergency_contact", "third_party")
CHANNELS = {"call", "sms", "email", "app_push", "im", "letter", "visit"}
TYPES = {"borrower", "emergency_contact", "third_party"}


def read_table(root: Path, name: str) -> pd.DataFrame:
    paths = sorted((root / name).glob("*")) if (root / name).is_dir() else sorted(root.glob(f"{name}.*"))
    frames = []
    for p in paths:
        if p.suffix == ".parquet":
            df = pd.read_parquet(p)
        elif p.suffix == ".csv":
            df = pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""])
        elif p.suffix == ".jsonl":
            df = pd.read_json(p, lines=True, dtype=False)
        else:
            continue
        df.columns = [c.lower() for c in df.columns]
        frames.append(df.astype({c: "object" for c in df.columns}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def to_utc(s: pd.Series) -> pd.Series:
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[us, UTC]")
    is_ts = s.map(lambda v: isinstance(v, pd.Timestamp))
    if is_ts.any():
        out[is_ts] = pd.to_datetime(s[is_ts], utc=True)
    text = s[~is_ts & s.notna()].astype(str)
    out[text.index] = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    return out


def load(root: Path):
    loans = read_table(root, "loans").drop_duplicates("loan_id")
    borrowers = read_table(root, "borrowers").drop_duplicates("borrower_id")
    ec = read_table(root, "emergency_contacts")
    inst = read_table(root, "installments")
    inst["due_date"] = pd.to_datetime(inst["due_date"], errors="coerce")
    inst["amount_due"] = pd.to_numeric(inst["amount_due"], errors="coerce")
    inst["paid_at"] = to_utc(inst["paid_at"])
    inst = inst.dropna(subset=["due_date", "amount_due"])
    inst = inst[inst["amount_due"] > 0]
    loans["principal"] = pd.to_numeric(loans["principal"], errors="coerce")
    c = read_table(root, "contacts")
    for col in ("channel", "recipient_type", "outcome"):
        c[col] = c[col].str.lower()
    c["ts"] = to_utc(c["ts"])
    c = c.dropna(subset=["event_id", "ts"])
    c = c[c["channel"].isin(CHANNELS) & c["recipient_type"].isin(TYPES)]
    c = c[c["loan_id"].isin(loans["loan_id"])]
    c = c[~(c["recipient_type"].isin(THIRD) & c["recipient_id"].isna())]
    c = c[pd.to_numeric(c["duration_s"], errors="coerce").fillna(0) >= 0]
    c = c[c["outcome"].isna() | c["outcome"].isin(
        {"connected", "no_answer", "busy", "voicemail", "refused", "failed", "delivered", "read", "do_not_contact"})]
    c = c[~c.duplicated("event_id", keep=False) | ~c.duplicated(["event_id", "ts", "content"], keep=False)]
    c = c.drop_duplicates("event_id")
    return c.reset_index(drop=True), loans, borrowers, ec, inst


def facts(c, loans, borrowers, inst, default_zone: str) -> pd.DataFrame:
    c = c.merge(loans[["loan_id", "borrower_id", "principal"]], on="loan_id")
    c = c.merge(borrowers[["borrower_id", "timezone", "id_number", "bank_card", "phone", "address"]],
                on="borrower_id", how="left")
    c["zone"] = c["timezone"].fillna(default_zone)
    c["local"] = pd.NaT
    parts = []
    for zone, g in c.groupby("zone"):
        parts.append(g["ts"].dt.tz_convert(zone).dt.tz_localize(None))
    c["local"] = pd.concat(parts)
    c["local_date"] = c["local"].dt.normalize()
    m = c[["event_id", "loan_id", "ts", "local_date"]].merge(inst[["loan_id", "due_date", "amount_due", "paid_at"]],
                                                             on="loan_id")
    m = m[(m["due_date"] < m["local_date"]) & (m["paid_at"].isna() | (m["paid_at"] > m["ts"]))]
    over = m.groupby("event_id").agg(oldest=("due_date", "min"), overdue=("amount_due", "sum")).reset_index()
    c = c.merge(over, on="event_id", how="left")
    c["dpd"] = (c["local_date"] - c["oldest"]).dt.days.fillna(0).astype(int)
    c["overdue"] = c["overdue"].fillna(0.0)
    c["third"] = c["recipient_type"].isin(THIRD)
    c["recipient"] = c["borrower_id"].where(c["recipient_type"] == "borrower", c["recipient_id"])
    return c.sort_values(["ts", "event_id"]).reset_index(drop=True)


def flag(out: list, rule: str, ids) -> None:
    out.extend((rule, e) for e in ids)


def third_party_rules(c: pd.DataFrame, ec: pd.DataFrame, tp: dict, out: list) -> None:
    third = c[c["third"]]
    required = pd.Series(tp.get("min_days_past_due", 0), index=third.index)
    for tier in sorted(tp.get("amount_tiers") or [], key=lambda t: t["overdue_amount_at_least"]):
        required[third["overdue"] >= tier["overdue_amount_at_least"]] = tier["min_days_past_due"]
    flag(out, "TP-DPD", third.loc[third["dpd"] < required, "event_id"])
    episode = third[third["dpd"] >= 1]
    borrower = c[c["recipient_type"] == "borrower"]
    if tp.get("escalation"):
        short = set()
        for step in tp["escalation"]:
            r = borrower[borrower["channel"] == step["channel"]]
            r = r[r["outcome"].isin(step["outcomes"])] if step.get("outcomes") else r[r["outcome"] != "failed"]
            m = episode[["event_id", "loan_id", "ts", "oldest"]].merge(
                r[["loan_id", "ts", "local_date"]], on="loan_id", how="left", suffixes=("", "_r"))
            m["ok"] = (m["ts_r"] < m["ts"]) & (m["local_date"] > m["oldest"])
            n = m.groupby("event_id")["ok"].sum()
            short |= set(n[n < step["at_least"]].index)
        flag(out, "TP-ESCALATION", short)
    if tp.get("registered_only"):
        known = set(zip(ec["borrower_id"], ec["contact_id"]))
        unreg = third[(third["recipient_type"] == "third_party") | (
            (len(known) > 0) & ~pd.Series(list(zip(third["borrower_id"], third["recipient_id"])),
                                          index=third.index).isin(known))]
        flag(out, "TP-UNREGISTERED", unreg["event_id"])
    n = tp.get("unreachable_after_failed_calls")
    if n:
        calls = borrower[borrower["channel"] == "call"]
        m = episode[["event_id", "loan_id", "ts", "oldest"]].merge(
            calls[["loan_id", "ts", "event_id", "local_date", "outcome"]], on="loan_id", suffixes=("", "_c"))
        m = m[m["ts_c"] < m["ts"]].sort_values(["ts_c", "event_id_c"], ascending=False)
        last = m.groupby("event_id").head(n)
        ok = last.groupby("event_id").apply(
            lambda g: len(g) == n and (g["local_date"] > g["oldest"]).all() and (g["outcome"] != "connected").all(),
            include_groups=False)
        reachable = set(episode["event_id"]) - set(ok[ok].index)
        flag(out, "TP-REACHABLE", reachable)


def seconds(t: str) -> int:
    h, m, *s = (int(x) for x in t.split(":"))
    return h * 3600 + m * 60 + (s[0] if s else 0)


def frequency(c: pd.DataFrame, f: dict, out: list) -> None:
    m = c
    if f.get("recipient_types"):
        m = m[m["recipient_type"].isin(f["recipient_types"])]
    if f.get("channels"):
        m = m[m["channel"].isin(f["channels"])]
    if f.get("outcomes"):
        m = m[m["outcome"].isin(f["outcomes"])]
    if f.get("exclude_outcomes"):
        m = m[~m["outcome"].isin(f["exclude_outcomes"])]  # an empty outcome (NaN) is not in the list: counted
    m = m.assign(grp=m["loan_id"] if f["per"] == "loan" else m["recipient"]).dropna(subset=["grp"])
    if f["window"] == "day":
        n = m.groupby(["grp", "local_date"]).cumcount() + 1
    elif f["window"] == "all":
        n = m.groupby("grp").cumcount() + 1
    elif f["window"] == "7d":
        n = m.groupby("grp", group_keys=False).apply(
            lambda g: g.rolling("168h", on="ts")["dpd"].count(), include_groups=False)
    else:  # 7_days: local dates d-6..d, contacts sorting at or before this one
        pos = m.groupby("grp").cumcount()
        pairs = m.assign(pos=pos)[["grp", "event_id", "local_date", "pos"]]
        j = pairs.merge(pairs, on="grp", suffixes=("", "_o"))
        j = j[(j["pos_o"] <= j["pos"]) & (j["local_date_o"] <= j["local_date"])
              & (j["local_date_o"] >= j["local_date"] - pd.Timedelta(days=6))]
        n = m["event_id"].map(j.groupby("event_id").size())
    flag(out, f["id"], m.loc[n > f["max"], "event_id"])


def text_rules(c: pd.DataFrame, pii: dict | None, disclosure: dict | None, out: list) -> None:
    texts = c[c["content"].notna()].copy()
    texts["text"] = texts["content"].map(lambda s: unicodedata.normalize("NFKC", s))
    if pii is not None:
        third = texts[texts["third"]]
        hits = set()
        for attr in pii.get("third_party_protected", ["id_number", "bank_card", "phone", "address"]):
            pattern = r"\s" if attr == "address" else r"[\s-]"

            def squash(s, pattern=pattern):
                return re.sub(pattern, "", unicodedata.normalize("NFKC", s)).upper() if isinstance(s, str) else ""
            found = third.apply(lambda r: bool(squash(r[attr])) and squash(r[attr]) in squash(r["text"]), axis=1)
            hits |= set(third.loc[found, "event_id"])
        flag(out, "PII-THIRD-PARTY", hits)
        channels = pii.get("unmasked_channels")
        scope = texts if not channels else texts[texts["channel"].isin(channels)]
        kinds = set(pii.get("unmasked_forbidden", ["id_number", "bank_card", "mobile"]))
        found = scope.apply(lambda r: has_identifier(r["text"], r["local_date"].date(), kinds), axis=1)
        flag(out, "PII-UNMASKED", scope.loc[found, "event_id"])
    if disclosure is not None:
        third = texts[texts["third"]]
        terms = [unicodedata.normalize("NFKC", t).lower() for t in disclosure.get("terms", [])]
        named = third["text"].str.lower().map(lambda s: any(t in s for t in terms))
        if disclosure.get("amounts"):
            def names_amount(r):
                for m in NUMBER.finditer(r["text"]):
                    v = float(m.group().replace(",", ""))
                    if (r["overdue"] > 0 and abs(v - r["overdue"]) < 0.005) or (
                            r["principal"] > 0 and abs(v - r["principal"]) < 0.005):
                        return True
                return False
            named = named | third.apply(names_amount, axis=1)
        flag(out, "TP-DISCLOSURE", third.loc[named, "event_id"])


NUMBER = re.compile(r"(?<![0-9])[0-9]+(?:,[0-9]{3})*(?:\.[0-9]+)?(?![0-9])")
ID = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
CARD = re.compile(r"(?<![0-9])[3-6](?:[0-9]{15,18}|[0-9]{3}(?:[ -][0-9]{4}){2,3}(?:[ -][0-9]{1,4})?)(?![0-9])")
MOBILE = re.compile(r"(?<![0-9])(?:(?:\+86|0086|86)[ -]?)?1[3-9][0-9](?:[0-9]{8}|[ -][0-9]{4}[ -][0-9]{4})(?![0-9])")
W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def has_identifier(text: str, today: date, kinds: set) -> bool:
    if "id_number" in kinds:
        for m in ID.finditer(text):
            s = m.group().upper()
            try:
                born = date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
            except ValueError:
                continue
            if date(1900, 1, 1) <= born <= today and "10X98765432"[sum(int(a) * w for a, w in zip(s, W)) % 11] == s[17]:
                return True
    if "bank_card" in kinds:
        for m in CARD.finditer(text):
            digits = re.sub("[ -]", "", m.group())
            if 16 <= len(digits) <= 19 and luhn(digits):
                return True
    return "mobile" in kinds and MOBILE.search(text) is not None


def main(data: str, policy_path: str, out_path: str) -> None:
    policy = yaml.safe_load(Path(policy_path).read_text(encoding="utf-8"))
    rules = policy["rules"]
    c, loans, borrowers, ec, inst = load(Path(data))
    c = facts(c, loans, borrowers, inst, policy["default_timezone"])
    out: list = []
    if rules.get("third_party"):
        third_party_rules(c, ec, rules["third_party"], out)
    h = rules.get("contact_hours")
    if h:
        scope = c if not h.get("channels") else c[c["channel"].isin(h["channels"])]
        clock = scope["local"].dt.hour * 3600 + scope["local"].dt.minute * 60 + scope["local"].dt.second
        start, end = seconds(h["start"]), seconds(h["end"])
        if h.get("end_inclusive"):
            after = (clock > end) | ((clock == end) & (scope["local"].dt.microsecond > 0))
        else:
            after = clock >= end
        outside = (clock < start) | after if start < end else (clock < start) & after
        flag(out, "HOURS", scope.loc[outside, "event_id"])
    for f in rules.get("frequency") or []:
        frequency(c, f, out)
    dnc = rules.get("do_not_contact")
    if dnc is not None:
        first = c[c["outcome"] == "do_not_contact"].groupby("recipient")["ts"].min()
        scope = c if not dnc.get("recipient_types") else c[c["recipient_type"].isin(dnc["recipient_types"])]
        flag(out, "DNC", scope.loc[scope["ts"] > scope["recipient"].map(first), "event_id"])
    quiet = rules.get("quiet_after_conversation")
    if quiet is not None:
        calls = c[(c["channel"] == "call") & (c["recipient_type"] == "borrower")].sort_values("ts")
        talks = calls[calls["outcome"] == "connected"][["loan_id", "ts", "local_date"]].rename(
            columns={"local_date": "talk_date"})
        m = pd.merge_asof(calls, talks, on="ts", by="loan_id", allow_exact_matches=False)
        near = (m["local_date"] - m["talk_date"]).dt.days <= quiet["days"] - 1
        if quiet.get("exclude_outcomes"):
            near &= ~m["outcome"].isin(quiet["exclude_outcomes"])
        flag(out, "QUIET-AFTER-CONVERSATION", m.loc[near, "event_id"])
    text_rules(c, rules.get("pii"), rules.get("disclosure"), out)
    result = pd.DataFrame(out, columns=["rule_id", "event_id"]).drop_duplicates()
    result = result.merge(c[["event_id", "ts"]], on="event_id").sort_values(["ts", "event_id", "rule_id"])
    result.to_csv(out_path, index=False)


if __name__ == "__main__":
    main(*sys.argv[1:4])
