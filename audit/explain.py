"""Why a contact was flagged (SPEC §9): its facts, each rule's verdict and figures, and the loan's timeline.

The verdicts come from the rule SQL itself, run over the contacts of the
contact's local day (every rule still reads the full history), so they
cannot drift from a full run's. The figures behind them are read by
`evidence` from the same facts; the timeline from the store. Every
identifier is masked, as in every report. Rendering is in `explain_render`.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import polars as pl

from . import pii
from .engine import ensure_facts, judgement_notes, run_audit
from .errors import UsageError
from .evidence import figures
from .explain_render import render_text
from .policy import Policy
from .store import frame, scalar

__all__ = ["explain", "render_text", "TIMELINE_DAYS_BEFORE"]

TIMELINE_DAYS_BEFORE = 7


def _local(con, event_id: str, zone_default: str) -> dict | None:
    rows = con.execute("""
        SELECT c.event_id, c.loan_id, l.borrower_id, c.ts, c.channel, c.recipient_type, c.recipient_id, c.agent_id,
               c.outcome, coalesce(b.timezone, ?) AS zone,
               strftime(c.ts AT TIME ZONE coalesce(b.timezone, ?), '%Y-%m-%dT%H:%M:%S') AS local_time,
               CAST(c.ts AT TIME ZONE coalesce(b.timezone, ?) AS DATE) AS local_date
        FROM contacts c JOIN loans l USING (loan_id) LEFT JOIN borrowers b USING (borrower_id)
        WHERE c.event_id = ?""", [zone_default, zone_default, zone_default, event_id]).fetchall()
    if not rows:
        return None
    cols = ["event_id", "loan_id", "borrower_id", "ts", "channel", "recipient_type", "recipient_id", "agent_id",
            "outcome", "zone", "local_time", "local_date"]
    return dict(zip(cols, rows[0]))


def _overdue(con, c: dict) -> tuple[int, str, str | None, str | None]:
    """DPD, overdue amount, episode start and the oldest overdue instalment (SPEC §2)."""
    row = con.execute("""
        SELECT min(due_date), sum(amount_due), arg_min(seq, due_date)
        FROM installments WHERE loan_id = ? AND due_date < ? AND (paid_at IS NULL OR paid_at > ?)""",
                      [c["loan_id"], c["local_date"], c["ts"]]).fetchall()[0]
    oldest, amount, seq = row
    if oldest is None:
        return 0, "0.00", None, None
    return (c["local_date"] - oldest).days, f"{amount:.2f}", oldest.isoformat(), f"instalment {seq} due {oldest}"


def _masked(tree):
    """Every string of a nested JSON-ready value through the report masking, in one batch."""
    strings: list[str] = []

    def collect(x):
        if isinstance(x, str):
            strings.append(x)
        elif isinstance(x, dict):
            for v in x.values():
                collect(v)
        elif isinstance(x, list):
            for v in x:
                collect(v)

    collect(tree)
    masked = iter(pii.mask_strings(strings)) if strings else iter(())

    def rebuild(x):
        if isinstance(x, str):
            return next(masked)
        if isinstance(x, dict):
            return {k: rebuild(v) for k, v in x.items()}
        if isinstance(x, list):
            return [rebuild(v) for v in x]
        return x

    return rebuild(tree)


def explain(con: duckdb.DuckDBPyConnection, event_id: str, policy: Policy) -> dict:
    """The explanation of one contact as a JSON-ready object (identifiers masked)."""
    c = _local(con, event_id, policy.default_timezone)
    if c is None:
        raise UsageError(f"event {pii.mask_str(event_id)} is not in the store")
    day: date = c["local_date"]
    result = run_audit(con, policy, since=day, until=day)
    ensure_facts(con, policy, day, day)  # the run's facts, which the figures read
    mine = result.violations.filter(pl.col("event_id") == event_id)
    found = {r: (d, ev) for r, d, ev in mine.select("rule_id", "detail", "evidence").iter_rows()}
    has_ec = bool(scalar(con, "SELECT count(*) > 0 FROM emergency_contacts"))
    unjudged = bool(judgement_notes(policy, has_emergency_contacts=has_ec)) and c["recipient_type"] == "emergency_contact"
    shown = _masked(figures(con, policy, event_id, found, has_emergency_contacts=has_ec))
    rules = []
    for rule_id in policy.rule_ids():
        violated: bool | None = rule_id in found
        if rule_id == "TP-UNREGISTERED" and unjudged and not violated:
            violated = None  # no emergency contacts stored: the registered half cannot be judged
        rules.append({"rule_id": rule_id, "violated": violated, "severity": policy.severity_of(rule_id),
                      "reference": policy.reference_of(rule_id),
                      "detail": pii.mask_str(found[rule_id][0]) if violated else
                      ("not judged: the store holds no emergency contacts" if violated is None else "no violation"),
                      "figures": shown[rule_id]})
    dpd, amount, episode, oldest = _overdue(con, c)
    start = (date.fromisoformat(episode) if episode else day) - timedelta(days=TIMELINE_DAYS_BEFORE)
    timeline = _timeline(con, c, start, policy.default_timezone)
    return {
        "event_id": pii.mask_str(event_id),
        "contact": {k: pii.mask_str(v) if isinstance(v, str) else v for k, v in c.items()
                    if k in ("loan_id", "borrower_id", "channel", "recipient_type", "recipient_id", "agent_id", "outcome")},
        "facts": {"zone": c["zone"], "local_time": c["local_time"], "local_date": day.isoformat(), "dpd": dpd,
                  "overdue_amount": amount, "episode_start": episode, "oldest_overdue": oldest},
        "policy": {"id": pii.mask_str(policy.policy_id), "version": pii.mask_str(policy.version),
                   "source": pii.mask_str(policy.source)},
        "rules": rules,
        "timeline_from": start.isoformat(),
        "timeline": timeline,
    }


def _timeline(con, c: dict, start: date, zone_default: str) -> list[dict]:
    contacts = frame(con, """
        SELECT strftime(ct.ts AT TIME ZONE coalesce(b.timezone, $zone), '%Y-%m-%dT%H:%M:%S') AS local_time,
               'contact' AS kind, ct.event_id, ct.channel, ct.recipient_type, ct.recipient_id, ct.outcome,
               NULL AS amount
        FROM contacts ct JOIN loans l USING (loan_id) LEFT JOIN borrowers b USING (borrower_id)
        WHERE ct.loan_id = $loan AND ct.ts <= $ts
          AND CAST(ct.ts AT TIME ZONE coalesce(b.timezone, $zone) AS DATE) >= $start""",
                     {"zone": zone_default, "loan": c["loan_id"], "ts": c["ts"], "start": start})
    dues = frame(con, """
        SELECT strftime(due_date, '%Y-%m-%dT00:00:00') AS local_time, 'instalment due' AS kind,
               'seq ' || seq AS event_id, NULL AS channel, NULL AS recipient_type, NULL AS recipient_id,
               CASE WHEN paid_at IS NULL THEN 'unpaid' ELSE 'paid ' || strftime(paid_at, '%Y-%m-%dT%H:%M:%SZ') END
                   AS outcome, CAST(amount_due AS VARCHAR) AS amount
        FROM installments WHERE loan_id = $loan AND due_date >= $start AND due_date <= $day""",
                 {"loan": c["loan_id"], "start": start, "day": c["local_date"]})
    rows = pl.concat([contacts.cast(pl.String), dues.cast(pl.String)], how="vertical_relaxed") \
        .sort("local_time", "event_id")
    rows = pii.mask_frame(rows.with_columns((pl.col("event_id") == c["event_id"]).alias("this")))
    return rows.to_dicts()
