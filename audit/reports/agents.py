"""agents.csv and the report's Agents section (SPEC §9): the scorecard table, the agent × rule matrix
and, for a run on a store with history, each agent's rate run by run. Masked like every report."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from .. import pii
from ..agents import scorecard
from ..digest import Digest
from ..engine import AuditResult
from .agent_trend import trend_context
from .tables import excel_safe

HEADINGS = {"agent_id": "Agent", "contacts_judged": "Contacts judged", "violations": "Violations",
            "critical": "Critical", "high": "High", "medium": "Medium", "low": "Low", "waived": "Waived",
            "violations_per_1000": "Per 1,000 contacts", "top_rule": "Most broken rule",
            "top_rule_violations": "Its violations"}
MAX_ROWS = 500        # agents shown in the scorecard table; agents.csv has all
MATRIX_AGENTS = 25    # rows of the agent × rule matrix: the agents with the most violations
NO_AGENT = "(no agent)"


def agents_frame(result: AuditResult) -> pl.DataFrame:
    return pii.mask_frame(scorecard(result.counted().by_agent, result.agent_contacts))


def write_agents(result: AuditResult, out: Path) -> None:
    excel_safe(agents_frame(result)).write_csv(out / "agents.csv")


def _cell(column: str, value) -> dict:
    if column in ("agent_id", "top_rule"):
        text = NO_AGENT if column == "agent_id" and value is None else ("" if value is None else str(value))
        return {"text": True, "v": text}
    shown = "" if value is None else (f"{value:,.2f}" if isinstance(value, float) else f"{value:,}")
    return {"text": False, "v": "" if value is None else value, "shown": shown}


def agent_rule_matrix(masked: Digest, rule_ids: list[str]) -> dict | None:
    """Counts per (agent, rule) for the agents with the most violations; rules in policy order."""
    if not masked.total:
        return None
    counts = masked.by_agent.group_by(pl.col("agent_id").fill_null(NO_AGENT), "rule_id").agg(
        pl.col("n").sum().cast(pl.UInt32))
    totals = counts.group_by("agent_id").agg(pl.col("n").sum().alias("total")) \
        .sort(["total", "agent_id"], descending=[True, False])
    top = totals.head(MATRIX_AGENTS)
    present = set(counts["rule_id"].to_list())
    rules = [r for r in (pii.mask_str(r) for r in rule_ids) if r in present]
    rules += sorted(present - set(rules))  # a rule of an earlier policy (a period report)
    wide = (top.join(counts, on="agent_id", how="left")
            .pivot(on="rule_id", index=["agent_id", "total"], values="n")
            .sort(["total", "agent_id"], descending=[True, False]))
    wide = wide.with_columns(*[pl.lit(0, pl.UInt32).alias(r) for r in rules if r not in wide.columns]) \
        .select("agent_id", "total", *[pl.col(r).fill_null(0) for r in rules])
    left = totals.height - top.height
    note = (f"Counts of violations, agents as rows, rules as columns: the {top.height:,} agents with the most "
            f"violations" + (f"; {left:,} more agent(s) with violations are left out (agents.csv and "
                              f"violations.csv have them)." if left else " (every agent with a violation)."))
    return {"rules": rules, "note": note,
            "rows": [(row[0], list(row[2:]), row[1]) for row in wide.iter_rows()]}


def agents_context(result: AuditResult, masked: Digest, db: str | Path | None = None) -> dict | None:
    a = agents_frame(result)
    if a.is_empty():
        return None
    shown = a.head(MAX_ROWS)
    return {
        "headings": list(HEADINGS.items()),
        "rows": [[_cell(c, v) for c, v in zip(a.columns, r)] for r in shown.iter_rows()],
        "cut": a.height > MAX_ROWS, "total": a.height,
        "matrix": agent_rule_matrix(masked, result.policy.rule_ids()),
        "trend": trend_context(result, db, a),
    }
