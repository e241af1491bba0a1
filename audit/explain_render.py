"""`audit explain` in a terminal: facts, a verdict table, the figures per rule, the timeline.

Rendered with rich. On a terminal it has colour; otherwise (a pipe, a file,
a golden test) it is plain text of a fixed width, the same on every machine.
"""

from __future__ import annotations

import io

from rich import box
from rich.console import Console
from rich.table import Table

PLAIN_WIDTH = 120
MARK = {True: "VIOLATED", False: "ok", None: "not judged"}
STYLE = {True: "bold red", False: "green", None: "yellow"}
SHOWN_IDS = 12  # event ids listed in text; JSON has them all


def _ids(ids: list[str]) -> str:
    if not ids:
        return "none"
    more = f" … and {len(ids) - SHOWN_IDS} more" if len(ids) > SHOWN_IDS else ""
    return ", ".join(ids[:SHOWN_IDS]) + more


def describe(rule_id: str, f: dict) -> list[str]:
    """The figures of one rule as short lines a compliance officer can check by hand."""
    if not f.get("applies"):
        return [f"does not apply: {f.get('reason')}"]
    if rule_id == "TP-DPD":
        tier = f["amount_tier"]
        why = (f"amount tier: overdue {f['overdue_amount']} >= {tier['overdue_amount_at_least']} requires "
               f"{tier['min_days_past_due']}" if tier else f"min_days_past_due {f['min_days_past_due']}; "
               f"overdue {f['overdue_amount']} reaches no amount tier")
        o = f["oldest_overdue"]
        oldest = f"instalment {o['seq']} due {o['due_date']}, amount {o['amount_due']}" if o else "none"
        return [f"DPD {f['dpd']}, required {f['required_dpd']} ({why})", f"oldest overdue: {oldest}"]
    if rule_id == "TP-ESCALATION":
        lines = [f"borrower reminders after the episode start {f['episode_start']}, before the contact:"]
        for s in f["steps"]:
            outcomes = "any outcome but failed" if s["outcomes"] is None else "outcome " + "/".join(s["outcomes"])
            lines.append(f"  {s['channel']} ({outcomes}): {s['found']} of {s['required']} required: "
                         f"{_ids(s['event_ids'])}")
        return lines
    if rule_id == "TP-UNREGISTERED":
        if f["recipient_type"] == "third_party":
            return [f"third party {f['recipient_id']}: never a registered emergency contact"]
        if f["registered"] is None:
            return [f"emergency contact {f['recipient_id']}: the store holds no emergency contacts to check"]
        return [f"emergency contact {f['recipient_id']}: {'registered' if f['registered'] else 'not registered'} "
                "for the loan's borrower"]
    if rule_id == "TP-REACHABLE":
        calls = ", ".join(f"{c['event_id']} ({c['local_date']}, {c['outcome'] or 'no outcome'}"
                          f"{'' if c['in_episode'] else ', before the episode'})" for c in f["calls"]) or "none"
        return [f"last {f['required_failed_calls']} borrower calls before it (all failed and after the episode "
                f"start {f['episode_start']} required): {calls}"]
    if rule_id == "HOURS":
        end = "itself allowed" if f["end_inclusive"] else "itself not allowed"
        return [f"local time {f['local_time']}; allowed from {f['start']} to {f['end']} ({f['end']} {end})"]
    if rule_id == "DNC":
        r = f["first_request"]
        if r is None:
            return [f"recipient {f['recipient']}: never asked not to be contacted"]
        when = "before" if r["before_contact"] else "not before"
        return [f"recipient {f['recipient']}: asked not to be contacted on {r['local_date']} "
                f"({r['event_id']}), {when} this contact"]
    if rule_id == "QUIET-AFTER-CONVERSATION":
        c = f["last_conversation"]
        if c is None:
            return ["no earlier connected call to the borrower on this loan"]
        return [f"last conversation {c['event_id']} on {c['local_date']}; this call is on day {c['day']} "
                f"(quiet for {f['quiet_days']} days)"]
    if "count" in f:  # a frequency limit
        w = f["window"]
        span = (f"{w['kind']} ({w['after']}, {w['to']}]" if "after" in w else
                f"{w['kind']} {w['from']}" if w["from"] == w["to"] else
                f"{w['kind']} {w['from'] or '…'} to {w['to']}")
        return [f"per {f['per']} {f['group']}, {span}: {f['count']} counted, max {f['max']}",
                f"counted: {_ids(f['event_ids'])}"]
    if "detected" in f:  # a text rule
        return [f"detected: {f['detected']}" if f["detected"] else "nothing detected in the message"]
    return [str(f)]


def render_text(e: dict, *, color: bool = False, width: int | None = None) -> str:
    """The explanation as terminal text; `color` for a TTY, plain and `PLAIN_WIDTH` wide otherwise."""
    buf = io.StringIO()
    console = Console(file=buf, width=width or PLAIN_WIDTH, force_terminal=color, no_color=not color,
                      color_system="auto" if color else None, highlight=False, emoji=False, markup=False,
                      legacy_windows=False, soft_wrap=True)
    f, c = e["facts"], e["contact"]
    console.print(f"event {e['event_id']}: {c['channel']} to {c['recipient_type']}"
                  + (f" {c['recipient_id']}" if c.get("recipient_id") else "")
                  + f" on loan {c['loan_id']} (borrower {c['borrower_id']}), agent {c.get('agent_id') or '-'}, "
                    f"outcome {c.get('outcome') or '-'}", style="bold" if color else None)
    facts = Table(box=None, show_header=False, pad_edge=False, padding=(0, 2, 0, 2))
    facts.add_column(style="dim" if color else None)
    facts.add_column()
    facts.add_row("zone", f["zone"])
    facts.add_row("local time", f["local_time"])
    facts.add_row("DPD", str(f["dpd"]) + (f" (oldest overdue: {f['oldest_overdue']})" if f["dpd"] else ""))
    facts.add_row("overdue amount", f["overdue_amount"])
    facts.add_row("episode start", f["episode_start"] or "- (nothing overdue)")
    console.print(facts)
    console.print(f"policy {e['policy']['id']} {e['policy']['version']}", style="bold" if color else None)
    verdicts = Table(box=box.SIMPLE_HEAD if color else box.ASCII2)
    for name in ("verdict", "rule", "severity", "detail"):
        verdicts.add_column(name, overflow="fold")
    for r in e["rules"]:
        verdicts.add_row(MARK[r["violated"]], r["rule_id"], r["severity"], r["detail"],
                         style=STYLE[r["violated"]] if color else None)
    console.print(verdicts)
    console.print("figures behind each verdict:", style="bold" if color else None)
    for r in e["rules"]:
        lines = describe(r["rule_id"], r["figures"])
        console.print(f"  {r['rule_id']}: {lines[0]}")
        for line in lines[1:]:
            console.print(f"    {line}")
    console.print(f"timeline of loan {c['loan_id']} from {e.get('timeline_from') or '-'} "
                  "(7 days before the episode start) to the contact (=>):", style="bold" if color else None)
    tl = Table(box=box.SIMPLE_HEAD if color else box.ASCII2)
    for name in ("", "local time", "what", "event", "channel", "to", "outcome", "amount"):
        tl.add_column(name, overflow="fold")
    for t in e["timeline"]:
        contact = t["kind"] == "contact"
        tl.add_row("=>" if t["this"] else "", t["local_time"], t["kind"], t["event_id"],
                   t.get("channel") or "", " ".join(x for x in (t.get("recipient_type"), t.get("recipient_id")) if x)
                   if contact else "", t.get("outcome") or "", t.get("amount") or "",
                   style="bold reverse" if color and t["this"] else None)
    console.print(tl)
    text = buf.getvalue()
    return "\n".join(line.rstrip() for line in text.split("\n"))
