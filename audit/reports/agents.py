"""agents.csv and the report's agent scorecard table (SPEC §9), masked like every report."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from .. import pii
from ..agents import scorecard
from ..engine import AuditResult
from .markup import esc
from .tables import excel_safe

HEADINGS = {"agent_id": "Agent", "contacts_judged": "Contacts judged", "violations": "Violations",
            "critical": "Critical", "high": "High", "medium": "Medium", "low": "Low", "waived": "Waived",
            "violations_per_1000": "Per 1,000 contacts", "top_rule": "Most broken rule",
            "top_rule_violations": "Its violations"}
MAX_ROWS = 500  # agents shown on the page; agents.csv has all


def agents_frame(result: AuditResult) -> pl.DataFrame:
    return pii.mask_frame(scorecard(result.violations, result.agent_contacts))


def write_agents(result: AuditResult, out: Path) -> None:
    excel_safe(agents_frame(result)).write_csv(out / "agents.csv")


def agents_section(result: AuditResult) -> str:
    a = agents_frame(result)
    if a.is_empty():
        return ""
    head = "".join(f'<th scope="col" data-col="{c}">{esc(h)}</th>' for c, h in HEADINGS.items())

    def cell(c: str, v) -> str:
        if c in ("agent_id", "top_rule"):
            text = "(no agent)" if c == "agent_id" and v is None else ("" if v is None else str(v))
            return f'<td data-v="{esc(text)}">{esc(text)}</td>'
        num = "" if v is None else (f"{v:,.2f}" if isinstance(v, float) else f"{v:,}")
        return f'<td class="num" data-v="{"" if v is None else v}">{num}</td>'
    rows = "".join("<tr>" + "".join(cell(c, v) for c, v in zip(a.columns, r)) + "</tr>"
                   for r in a.head(MAX_ROWS).iter_rows())
    cut = (f'<p class="note">The {MAX_ROWS:,} agents with the most violations per 1,000 contacts of '
           f'{a.height:,}; agents.csv has all.</p>' if a.height > MAX_ROWS else "")
    return (f'<section id="agents-section"><h2>Agents</h2><p class="note">Per agent: contacts judged, violations '
            f'by severity and per 1,000 contacts, and the rule broken most. Click a heading to sort.</p>{cut}'
            f'<div class="scroll"><table class="grid sortable" id="agents-table"><thead><tr>{head}</tr></thead>'
            f'<tbody>{rows}</tbody></table></div></section>')
