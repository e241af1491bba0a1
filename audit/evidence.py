"""The figures behind each verdict of `audit explain` (SPEC §9), read from the store.

The verdict of a rule always comes from running the rule itself (engine.py,
text_rules.py). These small queries only fetch what that rule counted for one
contact, from the same `facts` table the rules read, so a reader can check a
verdict by hand: the reminders per escalation step, the contacts in a
frequency window, the calls read for reachability, the DPD and its threshold.
tests/test_explain.py checks across a sample that the figures agree with the
verdicts, so a change to a rule that is not followed here fails a test.
Policy values are bound as parameters. Identifiers are masked by the caller.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import duckdb
import polars as pl

from .policy import Policy

TEXT_RULES = ("PII-THIRD-PARTY", "PII-UNMASKED", "TP-DISCLOSURE")
WEEK_US = 7 * 24 * 3600 * 1_000_000


def contact_facts(con: duckdb.DuckDBPyConnection, event_id: str) -> dict:
    """The contact's row of `facts`: what every rule read about it."""
    cur = con.execute("""
        SELECT event_id, loan_id, borrower_id, channel, recipient_type, recipient_id, outcome, zone,
               local_ts, local_date, local_day, ts_us, recipient_key, is_third_party, dpd, overdue_amount,
               episode_start
        FROM facts WHERE event_id = ?""", [event_id])
    cols = [d[0] for d in cur.description]
    return dict(zip(cols, cur.fetchall()[0]))


def _rows(con, sql: str, params: dict) -> list[dict]:
    cur = con.execute(sql, params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def _utc(ts_us: int) -> str:
    t = datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=ts_us)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{t.microsecond:06d}" if t.microsecond else "") + "Z"


def _iso(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


def _money(x) -> str | None:
    return None if x is None else f"{x:.2f}"


def _not_applicable(reason: str) -> dict:
    return {"applies": False, "reason": reason}


def _oldest_overdue(con, f: dict) -> dict | None:
    rows = _rows(con, """
        SELECT i.seq, i.due_date, i.amount_due
        FROM installments i JOIN contacts c ON c.loan_id = i.loan_id
        WHERE c.event_id = $event AND i.due_date < $day AND (i.paid_at IS NULL OR i.paid_at > c.ts)
        ORDER BY i.due_date, i.seq LIMIT 1""", {"event": f["event_id"], "day": f["local_date"]})
    if not rows:
        return None
    r = rows[0]
    return {"seq": r["seq"], "due_date": _iso(r["due_date"]), "amount_due": _money(r["amount_due"])}


def tp_dpd(con, policy: Policy, f: dict) -> dict:
    if not f["is_third_party"]:
        return _not_applicable("not a third-party contact")
    tp = policy.rules.third_party
    # the amount tier (largest threshold <= the overdue amount; of equal thresholds the last listed)
    tiers = [(t.overdue_amount_at_least, i, t) for i, t in enumerate(tp.amount_tiers)
             if t.overdue_amount_at_least <= f["overdue_amount"]]
    tier = max(tiers, key=lambda x: (x[0], x[1]))[2] if tiers else None
    return {
        "applies": True, "dpd": f["dpd"], "overdue_amount": _money(f["overdue_amount"]),
        "min_days_past_due": tp.min_days_past_due,
        "amount_tier": None if tier is None else {"overdue_amount_at_least": _money(tier.overdue_amount_at_least),
                                                  "min_days_past_due": tier.min_days_past_due},
        "required_dpd": tier.min_days_past_due if tier is not None else tp.min_days_past_due,
        "oldest_overdue": _oldest_overdue(con, f),
    }


def tp_escalation(con, policy: Policy, f: dict) -> dict:
    if not f["is_third_party"]:
        return _not_applicable("not a third-party contact")
    if not f["dpd"]:
        return _not_applicable("nothing overdue (DPD 0): TP-DPD judges this contact")
    steps = policy.rules.third_party.escalation
    table = pl.DataFrame(
        {"step_no": list(range(1, len(steps) + 1)), "channel": [s.channel for s in steps],
         "at_least": [s.at_least for s in steps],
         "outcomes": [None if s.outcomes is None else list(s.outcomes) for s in steps]},
        schema={"step_no": pl.Int64, "channel": pl.String, "at_least": pl.Int64, "outcomes": pl.List(pl.String)})
    con.register("evidence_steps", table)
    try:
        rows = _rows(con, """
            SELECT s.step_no, s.channel, s.at_least, s.outcomes,
                   coalesce(list(r.event_id ORDER BY r.ts_us, r.event_id) FILTER (WHERE r.event_id IS NOT NULL),
                            []) AS event_ids
            FROM evidence_steps s
            LEFT JOIN facts r
              ON r.channel = s.channel AND r.loan_id = $loan AND r.recipient_type = 'borrower'
             AND r.local_date > $episode AND r.ts_us < $ts
             AND CASE WHEN s.outcomes IS NULL THEN coalesce(r.outcome, '') <> 'failed'
                      ELSE list_contains(s.outcomes, r.outcome) END
            GROUP BY s.step_no, s.channel, s.at_least, s.outcomes
            ORDER BY s.step_no""", {"loan": f["loan_id"], "episode": f["episode_start"], "ts": f["ts_us"]})
    finally:
        con.unregister("evidence_steps")
    return {"applies": True, "episode_start": _iso(f["episode_start"]), "steps": [
        {"channel": r["channel"], "outcomes": r["outcomes"], "required": r["at_least"],
         "found": len(r["event_ids"]), "event_ids": r["event_ids"]} for r in rows]}


def tp_unregistered(con, policy: Policy, f: dict, has_emergency_contacts: bool) -> dict:
    kind = f["recipient_type"]
    if kind not in ("emergency_contact", "third_party"):
        return _not_applicable("not a third-party contact")
    registered = None
    if kind == "emergency_contact" and has_emergency_contacts:
        registered = bool(con.execute(
            "SELECT count(*) > 0 FROM emergency_contacts WHERE borrower_id = ? AND contact_id = ?",
            [f["borrower_id"], f["recipient_id"]]).fetchone()[0])
    return {"applies": True, "recipient_type": kind, "recipient_id": f["recipient_id"],
            "emergency_contacts_stored": has_emergency_contacts, "registered": registered}


def tp_reachable(con, policy: Policy, f: dict) -> dict:
    if not f["is_third_party"]:
        return _not_applicable("not a third-party contact")
    if not f["dpd"]:
        return _not_applicable("nothing overdue (DPD 0): TP-DPD judges this contact")
    n = policy.rules.third_party.unreachable_after_failed_calls
    calls = _rows(con, """
        SELECT event_id, local_date, outcome, local_date > $episode AS in_episode
        FROM facts
        WHERE loan_id = $loan AND channel = 'call' AND recipient_type = 'borrower' AND ts_us < $ts
        ORDER BY ts_us DESC, event_id DESC LIMIT $n""",
                  {"loan": f["loan_id"], "episode": f["episode_start"], "ts": f["ts_us"], "n": n})
    return {"applies": True, "required_failed_calls": n, "episode_start": _iso(f["episode_start"]),
            "calls": [{"event_id": c["event_id"], "local_date": _iso(c["local_date"]), "outcome": c["outcome"],
                       "in_episode": c["in_episode"]} for c in calls]}


def hours(policy: Policy, f: dict) -> dict:
    h = policy.rules.contact_hours
    if h.channels is not None and f["channel"] not in h.channels:
        return _not_applicable(f"channel {f['channel']} is not limited to contact hours")
    t = f["local_ts"]
    return {"applies": True, "local_time": t.strftime("%H:%M:%S") + (f".{t.microsecond:06d}" if t.microsecond else ""),
            "start": h.start.strftime("%H:%M:%S"), "end": h.end.strftime("%H:%M:%S"),
            "end_inclusive": h.end_inclusive}


def frequency(con, limit, f: dict) -> dict:
    """The contacts the limit counted in this contact's window (itself included, when it counts)."""
    params = {"recipient_types": _list(limit.recipient_types), "channels": _list(limit.channels),
              "outcomes": _list(limit.outcomes), "exclude_outcomes": _list(limit.exclude_outcomes)}
    matches = """($recipient_types IS NULL OR list_contains($recipient_types, recipient_type))
      AND ($channels IS NULL OR list_contains($channels, channel))
      AND ($outcomes IS NULL OR list_contains($outcomes, outcome))
      AND ($exclude_outcomes IS NULL OR outcome IS NULL OR NOT list_contains($exclude_outcomes, outcome))"""
    counted = con.execute(f"SELECT coalesce({matches}, false) FROM facts WHERE event_id = $event",
                          {**params, "event": f["event_id"]}).fetchone()[0]
    if not counted:
        return _not_applicable("not counted by this limit (its recipient type, channel or outcome)")
    group = f["loan_id"] if limit.per == "loan" else f["recipient_key"]
    # A nightly run's facts hold the whole-history limits' older contacts as counts only
    # (audit/facts_prior.py): on a store, the kept facts of every contact list them.
    source = "facts" if limit.window != "all" else (
        "(SELECT event_id, loan_id, recipient_key, recipient_type, channel, outcome, ts_us, local_day FROM facts "
        "UNION SELECT event_id, loan_id, recipient_key, recipient_type, channel, outcome, ts_us, local_day "
        "FROM contact_facts)")
    rows = _rows(con, f"""
        SELECT event_id FROM {source}
        WHERE {matches}
          AND CASE WHEN $per = 'loan' THEN loan_id = $group ELSE recipient_key IS NOT DISTINCT FROM $group END
          AND (ts_us < $ts OR (ts_us = $ts AND event_id <= $event))
          AND CASE $window WHEN 'day' THEN local_day = $day
                           WHEN '7d' THEN ts_us > $ts - $week
                           WHEN '7_days' THEN local_day BETWEEN $day - 6 AND $day
                           ELSE true END
        ORDER BY ts_us, event_id""",
                 {**params, "per": limit.per, "group": group, "ts": f["ts_us"], "event": f["event_id"],
                  "window": limit.window, "day": f["local_day"], "week": WEEK_US})
    d = f["local_date"]
    window = {"day": {"kind": "local day", "from": _iso(d), "to": _iso(d)},
              "7d": {"kind": "168 hours up to the contact", "after": _utc(f["ts_us"] - WEEK_US),
                     "to": _utc(f["ts_us"])},
              "7_days": {"kind": "7 local days", "from": _iso(d - timedelta(days=6)), "to": _iso(d)},
              "all": {"kind": "whole history", "from": None, "to": _iso(d)}}[limit.window]
    return {"applies": True, "per": limit.per, "group": group, "window": window, "max": limit.max,
            "count": len(rows), "event_ids": [r["event_id"] for r in rows]}


def _list(values) -> list[str] | None:
    return None if values is None else list(values)


def dnc(con, policy: Policy, f: dict) -> dict:
    types = policy.rules.do_not_contact.recipient_types
    if types is not None and f["recipient_type"] not in types:
        return _not_applicable(f"recipient type {f['recipient_type']} is not covered")
    rows = [] if f["recipient_key"] is None else _rows(con, """
        SELECT event_id, local_date, ts_us FROM facts
        WHERE outcome = 'do_not_contact' AND recipient_key = $key
        ORDER BY ts_us, event_id LIMIT 1""", {"key": f["recipient_key"]})
    request = None if not rows else {"event_id": rows[0]["event_id"], "local_date": _iso(rows[0]["local_date"]),
                                     "ts": _utc(rows[0]["ts_us"]), "before_contact": rows[0]["ts_us"] < f["ts_us"]}
    return {"applies": True, "recipient": f["recipient_key"], "first_request": request}


def quiet_after_conversation(con, policy: Policy, f: dict) -> dict:
    q = policy.rules.quiet_after_conversation
    if f["channel"] != "call" or f["recipient_type"] != "borrower":
        return _not_applicable("not a call to the borrower")
    if q.exclude_outcomes is not None and f["outcome"] is not None and f["outcome"] in q.exclude_outcomes:
        return _not_applicable(f"outcome {f['outcome']}: the call was not placed")
    rows = _rows(con, """
        SELECT event_id, local_date FROM facts
        WHERE loan_id = $loan AND channel = 'call' AND recipient_type = 'borrower' AND outcome = 'connected'
          AND ts_us < $ts
        ORDER BY local_date DESC, ts_us DESC, event_id DESC LIMIT 1""", {"loan": f["loan_id"], "ts": f["ts_us"]})
    conversation = None if not rows else {
        "event_id": rows[0]["event_id"], "local_date": _iso(rows[0]["local_date"]),
        "day": (f["local_date"] - rows[0]["local_date"]).days + 1}
    return {"applies": True, "quiet_days": q.days, "last_conversation": conversation}


def text_rule(found: dict, rule_id: str, has_content: bool) -> dict:
    if not has_content:
        return _not_applicable("the contact has no message text")
    hit = found.get(rule_id)
    return {"applies": True, "detected": None if hit is None else hit[1]}


def figures(con: duckdb.DuckDBPyConnection, policy: Policy, event_id: str, found: dict[str, tuple],
            *, has_emergency_contacts: bool) -> dict[str, dict]:
    """rule_id -> the figures behind its verdict, for every rule the policy switches on.

    `found` maps the contact's violated rules to (detail, evidence) of the
    run; text rules show the run's (masked) evidence, never the message.
    """
    f = contact_facts(con, event_id)
    limits = {lim.id: lim for lim in policy.rules.frequency or []}
    has_content = bool(con.execute("SELECT content IS NOT NULL AND content <> '' FROM contacts WHERE event_id = ?",
                                    [event_id]).fetchone()[0])
    out: dict[str, dict] = {}
    for rule_id in policy.rule_ids():
        if rule_id == "TP-DPD":
            out[rule_id] = tp_dpd(con, policy, f)
        elif rule_id == "TP-ESCALATION":
            out[rule_id] = tp_escalation(con, policy, f)
        elif rule_id == "TP-UNREGISTERED":
            out[rule_id] = tp_unregistered(con, policy, f, has_emergency_contacts)
        elif rule_id == "TP-REACHABLE":
            out[rule_id] = tp_reachable(con, policy, f)
        elif rule_id == "HOURS":
            out[rule_id] = hours(policy, f)
        elif rule_id in limits:
            out[rule_id] = frequency(con, limits[rule_id], f)
        elif rule_id == "DNC":
            out[rule_id] = dnc(con, policy, f)
        elif rule_id == "QUIET-AFTER-CONVERSATION":
            out[rule_id] = quiet_after_conversation(con, policy, f)
        elif rule_id in TEXT_RULES:
            out[rule_id] = text_rule(found, rule_id, has_content)
        else:  # a rule added to the engine but not here: say so rather than invent figures
            out[rule_id] = {"applies": None, "reason": "no figures for this rule"}
    return out
