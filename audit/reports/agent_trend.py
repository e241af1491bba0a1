"""Each agent's violations per 1,000 contacts in the store's earlier runs, beside this run's.

Read from the ledger (SPEC §7) after the run is recorded, through a
read-only connection: `run_violations` gives the violations per agent and
run (waived ones included, as in agents.csv), and each run's `agents`
column the contacts it judged per agent. A run recorded before the ledger
kept contacts per agent has no rate (n/a), never a guessed one. Runs judge
their own windows, so the rates compare like with like when the runs do
(nightly runs of one day each, one policy); the table names each run's
window and policy so a reader can tell.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from .. import pii
from ..engine import AuditResult
from ..store import frame

LAST_RUNS = 6       # earlier runs shown beside this one
TREND_AGENTS = 25   # agents shown: the first of the scorecard (most violations per 1,000 contacts)


def earlier_runs(db: str | Path, run_id: int, last: int = LAST_RUNS) -> tuple[list[dict], pl.DataFrame]:
    """The `last` runs before `run_id` (oldest first) and, per run and agent (unmasked), contacts
    judged (null when the run did not record them) and violations."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        runs = con.execute("""
            SELECT run_id, strftime(started_at AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M') AS started, since, "until",
                   policy_id, policy_version, agents IS NOT NULL AS has_agents
            FROM runs WHERE run_id < ? ORDER BY run_id DESC LIMIT ?""", [run_id, last]).fetchall()
        ids = [r[0] for r in runs]
        rates = frame(con, """
            WITH c AS (
                SELECT r.run_id, nullif(j.key, '') AS agent_id, CAST(j.value AS BIGINT) AS contacts
                FROM runs r, json_each(r.agents) j
                WHERE r.run_id IN (SELECT unnest($ids::BIGINT[])) AND r.agents IS NOT NULL),
            v AS (
                SELECT run_id, agent_id, count(*) AS violations FROM run_violations
                WHERE run_id IN (SELECT unnest($ids::BIGINT[])) GROUP BY run_id, agent_id)
            SELECT coalesce(c.run_id, v.run_id) AS run_id, coalesce(c.agent_id, v.agent_id) AS agent_id,
                   c.contacts, coalesce(v.violations, 0) AS violations
            FROM c FULL JOIN v ON c.run_id = v.run_id AND c.agent_id IS NOT DISTINCT FROM v.agent_id""",
                      {"ids": ids})
    finally:
        con.close()
    cols = ["run_id", "started", "since", "until", "policy_id", "policy_version", "has_agents"]
    return [dict(zip(cols, r)) for r in reversed(runs)], rates


def _run_header(r: dict) -> dict:
    window = (f"{r['since'] or 'the first contact'} to {r['until'] or 'the last contact'}"
              if r["since"] or r["until"] else "all stored contacts")
    return {"label": f"Run {r['run_id']}", "title": pii.mask_str(
        f"run {r['run_id']}, started {r['started']} UTC; judged {window}; policy {r['policy_id']} "
        f"{r['policy_version']}")}


def trend_context(result: AuditResult, db: str | Path | None, agents: pl.DataFrame) -> dict | None:
    """None without a store or without earlier runs; `agents` is the masked scorecard, best first."""
    if db is None or result.run_id is None:
        return None
    try:
        runs, rates = earlier_runs(db, result.run_id)
    except duckdb.Error:  # held by a writer that started since: the report is still worth writing
        return {"runs": [], "rows": [], "note": "The store was in use when the report was written; the "
                "trend per agent over earlier runs could not be read. audit history lists the runs."}
    if not runs:
        return None
    rates = pii.mask_frame(rates.with_columns(pl.col("agent_id").cast(pl.String)))
    shown = agents.head(TREND_AGENTS)
    rates = rates.join(shown.select("agent_id"), on="agent_id", how="semi", nulls_equal=True)
    by_key = {(run_id, agent): (contacts, n) for run_id, agent, contacts, n in rates.iter_rows()}  # <= 25 agents
    recorded = {r["run_id"]: r["has_agents"] for r in runs}

    def earlier(run_id: int, agent: str | None) -> dict:
        if not recorded[run_id]:
            return {"text": "n/a", "title": "this run did not record contacts per agent (an earlier tool version)"}
        contacts, n = by_key.get((run_id, agent), (None, 0))
        if not contacts:
            return {"text": "–", "title": f"no contact judged ({n:,} violation(s))"}
        return {"text": f"{n * 1000 / contacts:,.2f}", "title": f"{n:,} violation(s) in {contacts:,} contact(s)"}

    rows = []
    for agent, contacts, n, rate in shown.select("agent_id", "contacts_judged", "violations",
                                                 "violations_per_1000").iter_rows():
        now = ({"text": "–", "title": f"no contact judged ({n:,} violation(s))"} if rate is None else
               {"text": f"{rate:,.2f}", "title": f"{n:,} violation(s) in {contacts:,} contact(s)"})
        rows.append((agent if agent is not None else "(no agent)",
                     [earlier(r["run_id"], agent) for r in runs] + [now]))
    policy = (result.policy.policy_id, result.policy.version)
    other = [str(r["run_id"]) for r in runs if (r["policy_id"], r["policy_version"]) != policy]
    left = agents.height - shown.height
    note = (f"Per agent, violations (waived included, as in agents.csv) per 1,000 contacts judged, in the "
            f"{len(runs)} run(s) before this one and in this run (run {result.run_id}). Each run judged its own "
            "window: the rates compare like with like when the runs do (say, nightly runs of one day each); "
            "hover a heading for its window and policy. – : the agent had no contact judged in that run; "
            "n/a: the run was recorded before the ledger kept contacts per agent."
            + (f" Run(s) {', '.join(other)} used another policy than this run." if other else "")
            + (f" The first {shown.height:,} agents of the scorecard are shown; {left:,} more are in agents.csv "
               "(this run only)." if left > 0 else ""))
    return {"runs": [_run_header(r) for r in runs] + [{"label": f"This run ({result.run_id})",
                                                        "title": "this run"}],
            "rows": rows, "note": pii.mask_str(note)}
