"""The history before a nightly run's window, kept in the store so that the run does not scan it.

A run judging --since D reads every contact from some days before D on
(facts_store.recent_from: R) and, of the older history, only what a rule can
read there: do-not-contact requests, each loan's latest borrower calls and
reminders, and for each whole-history frequency limit how many contacts each
group had. Reading that from the contact facts costs a scan of the whole
history, every night. Instead the store keeps, for the contacts with local
date before a watermark W:

- facts_prior_rows: the candidate rows (queries/prior_rows.sql);
- facts_prior_counts: per limit and group, counts to be summed
  (queries/prior_counts.sql);
- facts_prior_basis: the policy they were kept for, W, and the size of the
  candidate rows at the last compaction.

Before a run with its window's R: a kept set for another policy, or with W
after R (a run judging an earlier window), is built again from the facts
before R; one with W before R takes the facts of [W, R) in (usually one day)
and W becomes R. The candidate rows are a superset of the true ones (each
slice adds its own), which every reader narrows again, so they are rewritten
through the same query only when they have doubled. Contacts loaded late with
a local date before W are added by `add_late` as the facts are kept; when
facts are derived again (another zone, a changed loan, a purge) the kept set
is dropped and built again at the next run. tests/test_nightly.py compares
nightly runs over such loads with a full recompute.
"""

from __future__ import annotations

import json
from datetime import date

import duckdb
import polars as pl

from .policy import Policy
from .rules import escalation_steps, query_text
from .store import registered, scalar

TABLES = ("facts_prior_rows", "facts_prior_counts", "facts_prior_basis")
# The candidate rows are rewritten once they outgrow _COMPACT_GROWTH times their size at the last
# rewrite, and never below _COMPACT_FLOOR rows: a rewrite reads all of them, a fold one slice.
_COMPACT_FLOOR = 100_000
_COMPACT_GROWTH = 2.0


def policy_key(policy: Policy) -> str:
    """What the kept rows and counts depend on: the calls TP-REACHABLE reads, the escalation steps,
    and the whole-history frequency limits."""
    return json.dumps({"calls": calls(policy), "steps": escalation_steps(policy).to_dicts(),
                       "limits": all_windows(policy).to_dicts()}, sort_keys=True)


def calls(policy: Policy) -> int:
    """How many calls before a contact TP-REACHABLE reads (0: the rule is off)."""
    tp = policy.rules.third_party
    return (tp.unreachable_after_failed_calls or 0) if tp is not None else 0


def all_windows(policy: Policy) -> pl.DataFrame:
    """The whole-history frequency limits: their ids, groups and filters."""
    kinds = pl.List(pl.String)
    rows = [f for f in policy.rules.frequency or [] if f.window == "all"]
    return pl.DataFrame(
        {"rule_id": [f.id for f in rows], "per": [f.per for f in rows],
         "recipient_types": [f.recipient_types for f in rows], "channels": [f.channels for f in rows],
         "outcomes": [f.outcomes for f in rows], "exclude_outcomes": [f.exclude_outcomes for f in rows]},
        schema={"rule_id": pl.String, "per": pl.String, "recipient_types": kinds, "channels": kinds,
                "outcomes": kinds, "exclude_outcomes": kinds})


def contact_kinds() -> pl.DataFrame:
    """Every (recipient type, channel, outcome) a stored contact can have: the load lets in no other."""
    from .schemas import CHANNELS, OUTCOMES, RECIPIENT_TYPES

    return pl.DataFrame({"recipient_type": list(RECIPIENT_TYPES)}).join(
        pl.DataFrame({"channel": list(CHANNELS)}), how="cross").join(
        pl.DataFrame({"outcome": [*OUTCOMES, None]}, schema={"outcome": pl.String}), how="cross")


def over(query: str, source: str) -> str:
    """queries/prior_rows.sql or prior_counts.sql read from `source` (a fixed table name, never policy data)."""
    return query_text(query).replace("{source}", source)


def clear(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the kept set (inside the caller's transaction): the facts it came from were derived again."""
    for name in TABLES:
        con.execute(f"DELETE FROM {name}")


def prepare(con: duckdb.DuckDBPyConnection, policy: Policy, recent_from: date) -> None:
    """Make the kept set cover exactly the contacts with local date before `recent_from`."""
    key = policy_key(policy)
    basis = con.execute("SELECT policy_key, watermark, compacted_rows FROM facts_prior_basis").fetchall()
    if len(basis) == 1 and basis[0][0] == key and basis[0][1] == recent_from:
        return
    con.execute("BEGIN TRANSACTION")
    try:
        if len(basis) == 1 and basis[0][0] == key and basis[0][1] < recent_from:
            _fold(con, policy, basis[0][1], recent_from, -1)
            rows, compacted = scalar(con, "SELECT count(*) FROM facts_prior_rows"), basis[0][2]
            if rows > max(_COMPACT_GROWTH * compacted, _COMPACT_FLOOR):
                compacted = _compact(con, policy)
            con.execute("UPDATE facts_prior_basis SET watermark = ?, compacted_rows = ?", [recent_from, compacted])
        else:
            clear(con)
            _fold(con, policy, date.min, recent_from, -1)
            con.execute("INSERT INTO facts_prior_basis VALUES (?, ?, (SELECT count(*) FROM facts_prior_rows))",
                        [key, recent_from])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def add_late(con: duckdb.DuckDBPyConnection, policy: Policy, after_rowid: int) -> None:
    """Take in the newly kept facts (row id above `after_rowid`) dated before the watermark, inside
    the caller's transaction; a set kept for another policy is dropped instead."""
    basis = con.execute("SELECT policy_key, watermark FROM facts_prior_basis").fetchall()
    if not basis:
        return
    if len(basis) != 1 or basis[0][0] != policy_key(policy):
        clear(con)
        return
    _fold(con, policy, date.min, basis[0][1], after_rowid)


def _fold(con: duckdb.DuckDBPyConnection, policy: Policy, start: date, end: date, after_rowid: int) -> None:
    params = {"from": start, "to": end, "after_rowid": after_rowid}
    limits = all_windows(policy)
    with registered(con, {"p_escalation": escalation_steps(policy), "p_all_windows": limits,
                          "p_kinds": contact_kinds()}):
        con.execute("INSERT INTO facts_prior_rows " + over("prior_rows", "contact_facts"),
                    {**params, "calls": calls(policy)})
        if limits.height:
            con.execute("INSERT INTO facts_prior_counts "
                        + over("prior_counts", "contact_facts"), params)


def _compact(con: duckdb.DuckDBPyConnection, policy: Policy) -> int:
    """Rewrite the candidate rows as the true ones and the counts as one sum per group; returns the rows kept."""
    with registered(con, {"p_escalation": escalation_steps(policy)}):
        con.execute("CREATE OR REPLACE TEMP TABLE _prior AS "
                    + over("prior_rows", "facts_prior_rows"),
                    {"from": date.min, "to": date.max, "after_rowid": -1, "calls": calls(policy)})
    con.execute("CREATE OR REPLACE TEMP TABLE _prior_counts AS "
                "SELECT rule_id, grp, sum(n)::BIGINT AS n FROM facts_prior_counts GROUP BY ALL")
    con.execute("DELETE FROM facts_prior_rows")
    con.execute("INSERT INTO facts_prior_rows SELECT * FROM _prior ORDER BY local_date")
    con.execute("DELETE FROM facts_prior_counts")
    con.execute("INSERT INTO facts_prior_counts SELECT * FROM _prior_counts")
    con.execute("DROP TABLE _prior")
    con.execute("DROP TABLE _prior_counts")
    return scalar(con, "SELECT count(*) FROM facts_prior_rows")


def counts_for_run(con: duckdb.DuckDBPyConnection, policy: Policy, recent_from: date) -> None:
    """The run's `prior_counts` (read by queries/frequency.sql), after its facts: the kept sums,
    less the older rows the facts hold anyway (calls, reminders, requests), which the rule counts
    as rows."""
    with registered(con, {"p_all_windows": all_windows(policy), "p_kinds": contact_kinds()}):
        con.execute(f"""CREATE OR REPLACE TEMP TABLE prior_counts AS
            WITH kept AS (SELECT rule_id, grp, sum(n) AS n FROM facts_prior_counts GROUP BY ALL),
            as_rows AS ({over("prior_counts", "facts")})
            SELECT k.rule_id, k.grp, (k.n - coalesce(r.n, 0))::BIGINT AS n
            FROM kept k
            LEFT JOIN as_rows r ON r.rule_id = k.rule_id AND r.grp IS NOT DISTINCT FROM k.grp""",
                    {"from": date.min, "to": recent_from, "after_rowid": -1})


def no_counts(con: duckdb.DuckDBPyConnection) -> None:
    """A run that reads the whole history itself has nothing to add to its counts."""
    con.execute("CREATE OR REPLACE TEMP TABLE prior_counts (rule_id VARCHAR, grp VARCHAR, n BIGINT)")
