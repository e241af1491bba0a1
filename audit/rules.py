"""The rule registry: which queries a policy switches on, with which parameters.

A rule is data (id, query file, scalar parameters, parameter tables); the
engine below binds the parameters and runs the query against the `facts`
table. Policy values reach DuckDB only as bound parameters or as registered
Arrow tables, never as SQL text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import duckdb
import polars as pl

from .policy import Policy
from .store import frame, registered


@lru_cache(maxsize=None)
def query_text(name: str) -> str:
    return resources.files("audit.queries").joinpath(name + ".sql").read_text(encoding="utf-8")


@dataclass(frozen=True)
class Rule:
    id: str
    query: str
    params: dict = field(default_factory=dict)
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)


def _seconds(t) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def _list(values) -> list[str] | None:
    return None if values is None else list(values)


def escalation_steps(policy: Policy) -> pl.DataFrame:
    """The TP-ESCALATION steps as queries/tp_escalation.sql reads them (none when the rule is off)."""
    tp = policy.rules.third_party
    steps = list(tp.escalation) if tp is not None and tp.escalation else []
    return pl.DataFrame(
        {"step_no": list(range(1, len(steps) + 1)), "channel": [s.channel for s in steps],
         "at_least": [s.at_least for s in steps], "outcomes": [_list(s.outcomes) for s in steps]},
        schema={"step_no": pl.Int64, "channel": pl.String, "at_least": pl.Int64, "outcomes": pl.List(pl.String)})


def sql_rules(policy: Policy, *, has_emergency_contacts: bool) -> list[Rule]:
    """The SQL rules the policy switches on, in report order."""
    r = policy.rules
    rules: list[Rule] = []
    tp = r.third_party
    if tp is not None:
        tiers = pl.DataFrame(
            {
                "tier_no": list(range(1, len(tp.amount_tiers) + 1)),
                "overdue_amount_at_least": [t.overdue_amount_at_least for t in tp.amount_tiers],
                "min_days_past_due": [t.min_days_past_due for t in tp.amount_tiers],
            },
            schema={"tier_no": pl.Int64, "overdue_amount_at_least": pl.Decimal(18, 2), "min_days_past_due": pl.Int64},
        )
        rules.append(Rule("TP-DPD", "tp_dpd", {"min_days_past_due": tp.min_days_past_due}, {"p_amount_tiers": tiers}))
        if tp.escalation:
            rules.append(Rule("TP-ESCALATION", "tp_escalation", {}, {"p_escalation": escalation_steps(policy)}))
        if tp.registered_only:
            rules.append(Rule("TP-UNREGISTERED", "tp_unregistered", {"judge_emergency": has_emergency_contacts}))
        if tp.unreachable_after_failed_calls:
            n = tp.unreachable_after_failed_calls
            recency = pl.DataFrame({"recency": list(range(1, n + 1))}, schema={"recency": pl.Int64})
            rules.append(Rule("TP-REACHABLE", "tp_reachable", {"n": n}, {"p_recency": recency}))
    if r.contact_hours is not None:
        h = r.contact_hours
        rules.append(Rule("HOURS", "hours", {
            "start_s": _seconds(h.start), "end_s": _seconds(h.end), "end_inclusive": h.end_inclusive,
            "window_text": f"{h.start:%H:%M}-{h.end:%H:%M}" + (f" ({h.end:%H:%M} itself allowed)" if h.end_inclusive else ""),
            "channels": _list(h.channels)}))
    for f in r.frequency or []:
        rules.append(Rule(f.id, "frequency", {
            "recipient_types": _list(f.recipient_types), "channels": _list(f.channels),
            "outcomes": _list(f.outcomes), "exclude_outcomes": _list(f.exclude_outcomes),
            "per": f.per, "window": f.window, "max": f.max, "rule_id": f.id,
        }))
    if r.do_not_contact is not None:
        rules.append(Rule("DNC", "dnc", {"recipient_types": _list(r.do_not_contact.recipient_types)}))
    if r.quiet_after_conversation is not None:
        rules.append(Rule("QUIET-AFTER-CONVERSATION", "quiet_after_conversation",
                          {"days": r.quiet_after_conversation.days,
                           "exclude_outcomes": _list(r.quiet_after_conversation.exclude_outcomes)}))
    return rules


def run_rule(con: duckdb.DuckDBPyConnection, rule: Rule) -> pl.DataFrame:
    """Run one rule; returns (rule_id, event_id, detail) of its violating contacts."""
    sql = query_text(rule.query)
    with registered(con, rule.tables):
        out = frame(con, f"SELECT event_id, detail FROM ({sql}) AS v", rule.params or None)
    return out.select(pl.lit(rule.id).alias("rule_id"), "event_id", "detail")
