"""Agent scorecards (SPEC §9): who breaks the rules, normalised by how much each agent works.

Contacts judged per agent come from the facts of the run (every judged
contact, clean or not); violations from the run's rows. A contact without an
agent is its own row (empty agent_id): dialers and gateways send unattended.
"""

from __future__ import annotations

import duckdb
import polars as pl

from .store import frame

SEVERITIES = ("critical", "high", "medium", "low")
COLUMNS = ["agent_id", "contacts_judged", "violations", *SEVERITIES, "waived", "violations_per_1000",
           "top_rule", "top_rule_violations"]


def contacts_per_agent(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """agent_id, contacts: the judged contacts of the facts table, per agent."""
    return frame(con, "SELECT agent_id, count(*) AS contacts FROM facts WHERE judged GROUP BY agent_id") \
        .cast({"agent_id": pl.String, "contacts": pl.Int64})


def scorecard(by_agent: pl.DataFrame, contacts: pl.DataFrame | None) -> pl.DataFrame:
    """One row per agent, most violations per 1,000 contacts first (ties: the agent id).

    `by_agent`: violations counted per agent, rule, severity and status (digest.Digest.by_agent)."""
    v = by_agent
    per_agent = v.group_by("agent_id").agg(
        pl.col("n").sum().alias("violations"),
        *[pl.col("n").filter(pl.col("severity") == s).sum().alias(s) for s in SEVERITIES],
        pl.col("n").filter(pl.col("status") == "waived").sum().alias("waived"),
    )
    top = (v.group_by("agent_id", "rule_id").agg(pl.col("n").sum())
           .sort(["agent_id", "n", "rule_id"], descending=[False, True, False], nulls_last=True)
           .group_by("agent_id", maintain_order=True).first()
           .select("agent_id", pl.col("rule_id").alias("top_rule"), pl.col("n").alias("top_rule_violations")))
    base = contacts if contacts is not None else per_agent.select("agent_id", pl.lit(0, pl.Int64).alias("contacts"))
    out = (base.rename({"contacts": "contacts_judged"})
           .join(per_agent, on="agent_id", how="full", coalesce=True, nulls_equal=True)
           .join(top, on="agent_id", how="left", nulls_equal=True)
           .with_columns(pl.col("contacts_judged").fill_null(0),
                         *[pl.col(c).fill_null(0) for c in ("violations", *SEVERITIES, "waived", "top_rule_violations")]))
    per_1000 = pl.when(pl.col("contacts_judged") > 0).then(
        (pl.col("violations") * 1000 / pl.col("contacts_judged")).round(2)).otherwise(None)
    return (out.with_columns(per_1000.alias("violations_per_1000"))
            .sort(["violations_per_1000", "agent_id"], descending=[True, False], nulls_last=True)
            .select(COLUMNS))
