"""An independent, loop-based reading of SPEC §2, §4 and §4b.

It shares no code with the engine: plain Python over the stored rows, one
contact at a time, with `zoneinfo` for local time and `re` (look-around
included) for numbers. Slow on purpose; it only has to be obviously right.
The identifier oracle is tests/pii_reference.py, written the same way.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import defaultdict
from decimal import Decimal
from zoneinfo import ZoneInfo

from pii_reference import find_identifiers

THIRD = ("emergency_contact", "third_party")
NUMBER = re.compile(r"(?<![0-9])[0-9]+(?:,[0-9]{3})*(?:\.[0-9]+)?(?![0-9])")


def _rows(con, table: str) -> list[dict]:
    cur = con.execute(f"SELECT * FROM {table}")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def nfkc(s: str | None) -> str | None:
    return None if s is None else unicodedata.normalize("NFKC", s)


class Store:
    """The stored tables, as Python objects, with the derived facts of SPEC §2 per contact."""

    def __init__(self, con, default_zone: str):
        self.loans = {r["loan_id"]: r for r in _rows(con, "loans")}
        self.borrowers = {r["borrower_id"]: r for r in _rows(con, "borrowers")}
        self.ec = {(r["borrower_id"], r["contact_id"]) for r in _rows(con, "emergency_contacts")}
        self.inst = defaultdict(list)
        for r in _rows(con, "installments"):
            self.inst[r["loan_id"]].append(r)
        self.contacts = _rows(con, "contacts")
        for c in self.contacts:
            loan = self.loans[c["loan_id"]]
            b = self.borrowers.get(loan["borrower_id"]) or {}
            zone = b.get("timezone") or default_zone
            local = c["ts"].astimezone(ZoneInfo(zone))
            c["borrower_id"] = loan["borrower_id"]
            c["local"] = local
            c["d"] = local.date()
            overdue = [i for i in self.inst[c["loan_id"]]
                       if i["due_date"] < c["d"] and (i["paid_at"] is None or i["paid_at"] > c["ts"])]
            c["dpd"] = max(((c["d"] - i["due_date"]).days for i in overdue), default=0)
            c["amount"] = sum((i["amount_due"] for i in overdue), Decimal(0))
            c["E"] = c["d"] - dt.timedelta(days=c["dpd"]) if c["dpd"] else None
            c["recipient"] = c["borrower_id"] if c["recipient_type"] == "borrower" else c["recipient_id"]
        self.by_loan = defaultdict(list)
        for c in self.contacts:
            self.by_loan[c["loan_id"]].append(c)


def _key(c: dict) -> tuple:
    return (c["ts"], c["event_id"])


def _in(values, v) -> bool:
    return values is None or v in values


def violations(con, policy) -> set[tuple[str, str]]:
    """(rule_id, event_id) for every violation the spec implies."""
    s = Store(con, policy.default_timezone)
    r = policy.rules
    out: set[tuple[str, str]] = set()
    tp = r.third_party
    for c in s.contacts:
        third = c["recipient_type"] in THIRD
        earlier = [x for x in s.by_loan[c["loan_id"]] if x["ts"] < c["ts"]]
        if tp is not None and third:
            required = tp.min_days_past_due
            tiers = [t for t in tp.amount_tiers if t.overdue_amount_at_least <= c["amount"]]
            if tiers:
                required = max(tiers, key=lambda t: t.overdue_amount_at_least).min_days_past_due
            if c["dpd"] < required:
                out.add(("TP-DPD", c["event_id"]))
            if tp.escalation and c["dpd"] >= 1:
                for step in tp.escalation:
                    n = sum(1 for x in earlier
                            if x["recipient_type"] == "borrower" and x["channel"] == step.channel
                            and (x["outcome"] in step.outcomes if step.outcomes is not None else x["outcome"] != "failed")
                            and x["d"] > c["E"])
                    if n < step.at_least:
                        out.add(("TP-ESCALATION", c["event_id"]))
            if tp.unreachable_after_failed_calls and c["dpd"] >= 1:
                n = tp.unreachable_after_failed_calls
                calls = sorted((x for x in earlier if x["channel"] == "call" and x["recipient_type"] == "borrower"),
                               key=_key, reverse=True)[:n]
                if len(calls) < n or any(x["d"] <= c["E"] or x["outcome"] == "connected" for x in calls):
                    out.add(("TP-REACHABLE", c["event_id"]))
        if tp is not None and tp.registered_only:
            if c["recipient_type"] == "third_party" or (
                    c["recipient_type"] == "emergency_contact" and s.ec
                    and (c["borrower_id"], c["recipient_id"]) not in s.ec):
                out.add(("TP-UNREGISTERED", c["event_id"]))
        h = r.contact_hours
        if h is not None and _in(h.channels, c["channel"]):
            t = c["local"].time().replace(tzinfo=None)
            before_end = t <= h.end if h.end_inclusive else t < h.end
            inside = h.start <= t and before_end if h.start < h.end else (t >= h.start or before_end)
            if not inside:
                out.add(("HOURS", c["event_id"]))
        q = r.quiet_after_conversation
        if (q is not None and c["channel"] == "call" and c["recipient_type"] == "borrower"
                and not (q.exclude_outcomes and c["outcome"] in q.exclude_outcomes)):
            days = r.quiet_after_conversation.days
            for x in earlier:
                if (x["channel"] == "call" and x["recipient_type"] == "borrower" and x["outcome"] == "connected"
                        and (c["d"] - x["d"]).days <= days - 1):
                    out.add(("QUIET-AFTER-CONVERSATION", c["event_id"]))
                    break
    if r.do_not_contact is not None:
        by_recipient = defaultdict(list)
        for c in s.contacts:
            by_recipient[c["recipient"]].append(c)
        for c in s.contacts:
            if c["recipient"] is None or not _in(r.do_not_contact.recipient_types, c["recipient_type"]):
                continue
            if any(x["ts"] < c["ts"] and x["outcome"] == "do_not_contact" for x in by_recipient[c["recipient"]]):
                out.add(("DNC", c["event_id"]))
    for f in r.frequency or []:
        groups = defaultdict(list)
        for c in s.contacts:
            excluded = f.exclude_outcomes is not None and c["outcome"] in f.exclude_outcomes
            if (_in(f.recipient_types, c["recipient_type"]) and _in(f.channels, c["channel"])
                    and _in(f.outcomes, c["outcome"]) and not excluded):
                groups[c["loan_id"] if f.per == "loan" else c["recipient"]].append(c)
        for members in groups.values():
            members.sort(key=_key)
            for i, c in enumerate(members):
                upto = members[: i + 1]
                if f.window == "day":
                    n = sum(1 for x in upto if x["d"] == c["d"])
                elif f.window == "7d":
                    n = sum(1 for x in upto if c["ts"] - dt.timedelta(hours=168) < x["ts"] <= c["ts"])
                elif f.window == "7_days":
                    n = sum(1 for x in upto if c["d"] - dt.timedelta(days=6) <= x["d"] <= c["d"])
                else:
                    n = len(upto)
                if n > f.max:
                    out.add((f.id, c["event_id"]))
    _text_rules(s, policy, out)
    return out


def _squash(s: str, pattern: str) -> str:
    return re.sub(pattern, "", nfkc(s)).upper()


def _same_number(token: str, amount: Decimal) -> bool:
    return amount > 0 and Decimal(token.replace(",", "")) == amount


def _text_rules(s: Store, policy, out: set) -> None:
    r = policy.rules
    for c in s.contacts:
        text = nfkc(c["content"])
        if not text:
            continue
        third = c["recipient_type"] in THIRD
        b = s.borrowers.get(c["borrower_id"]) or {}
        if r.pii is not None and third:
            for attr in r.pii.third_party_protected:
                value = b.get(attr)
                if not value:
                    continue
                if attr == "address":
                    hit = _squash(value, r"\s") and _squash(value, r"\s") in _squash(text, r"\s")
                else:
                    hit = _squash(value, r"[\s-]") and _squash(value, r"[\s-]") in _squash(text, r"[\s-]")
                if hit:
                    out.add(("PII-THIRD-PARTY", c["event_id"]))
        if r.pii is not None and _in(r.pii.unmasked_channels, c["channel"]):
            kinds = set(r.pii.unmasked_forbidden)
            if any(k in kinds for k, *_ in find_identifiers(c["content"], c["d"])):
                out.add(("PII-UNMASKED", c["event_id"]))
        if r.disclosure is not None and third:
            low = text.lower()
            if any(nfkc(t).lower() in low for t in r.disclosure.terms):
                out.add(("TP-DISCLOSURE", c["event_id"]))
            elif r.disclosure.amounts:
                principal = s.loans[c["loan_id"]]["principal"] or Decimal(0)
                for m in NUMBER.finditer(text):
                    if _same_number(m.group(), c["amount"]) or _same_number(m.group(), principal):
                        out.add(("TP-DISCLOSURE", c["event_id"]))
                        break
