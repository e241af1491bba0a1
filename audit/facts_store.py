"""Facts kept in the store between runs, so that a nightly run does not derive its history again.

A contact's zone, local time and recipient (SPEC §2) are fixed by the contact
(append-only: an event never changes) and by its loan's borrower, principal
and zone. They are stored once per contact (`contact_facts`) with the loan
basis they came from (`facts_loans`) and the policy's default timezone
(`facts_basis`). Before each run on a store:

- a different default timezone, or another layout, derives every fact again;
- a loan whose basis changed (a reloaded loan or borrower row), or that is
  gone, has its contacts' facts derived again; every loan's basis is
  compared with the kept one only when the loads' digests of loans and
  borrowers moved since the last run (a night that loads contacts alone
  compares none);
- contacts without facts (the new load's) get theirs. Contacts are only
  ever appended (an event never changes; only `audit purge` deletes, and it
  resets the mark), so the new ones are those with a row id above the
  highest one seen at the last run; when the counts do not add up, every
  contact is compared with the kept facts instead.

DPD, the overdue amount and the episode depend on instalments, which a later
load may pay or correct; they are never stored but derived in each run for
the judged third-party contacts only (queries/facts_scope.sql), so a late
payment cannot leave a stale fact behind. tests/test_nightly.py checks that
nightly runs over such loads equal one full recompute.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb

from . import facts_prior
from .policy import Policy
from .rules import escalation_steps, query_text
from .store import FACTS_LAYOUT, registered, scalar


def is_kept(con: duckdb.DuckDBPyConnection) -> bool:
    """Facts are kept only in a store file: an in-memory store ends with the run."""
    return scalar(con, "SELECT path IS NOT NULL AND path <> '' FROM duckdb_databases() "
                       "WHERE database_name = current_database()")


def sync(con: duckdb.DuckDBPyConnection, policy: Policy) -> dict[str, int]:
    """Bring the stored facts up to date with the stored rows; returns what changed (for progress)."""
    zone = policy.default_timezone
    basis = con.execute("SELECT default_timezone, layout, contacts_rowid FROM facts_basis").fetchall()
    con.execute("BEGIN TRANSACTION")
    try:
        counts = {"rederived_loans": 0}
        mark = basis[0][2] if basis else None
        if [b[:2] for b in basis] != [(zone, FACTS_LAYOUT)]:
            con.execute("DELETE FROM contact_facts")
            con.execute("DELETE FROM facts_loans")
            con.execute("DELETE FROM facts_basis")
            con.execute("DELETE FROM facts_sources")
            facts_prior.clear(con)
            con.execute("INSERT INTO facts_basis VALUES (?, ?, NULL)", [zone, FACTS_LAYOUT])
            mark = None
        sources = _basis_sources(con)
        stale = 0
        if sources is None or sources != _kept_sources(con):  # loans or borrowers may have changed
            con.execute("CREATE OR REPLACE TEMP TABLE _loan_basis AS " + query_text("facts_loans"),
                        {"default_timezone": zone})
            # Loans whose facts were derived with a basis that no longer holds (changed or deleted).
            con.execute("""CREATE OR REPLACE TEMP TABLE _stale_loans AS
                           SELECT DISTINCT loan_id FROM (SELECT * FROM facts_loans EXCEPT ALL SELECT * FROM _loan_basis)""")
            stale = scalar(con, "SELECT count(*) FROM _stale_loans")
            if stale:
                con.execute("DELETE FROM contact_facts WHERE loan_id IN (SELECT loan_id FROM _stale_loans)")
                con.execute("DELETE FROM facts_loans WHERE loan_id IN (SELECT loan_id FROM _stale_loans)")
                counts["rederived_loans"] = stale
                facts_prior.clear(con)  # their rows and groups may have moved
            con.execute("INSERT INTO facts_loans SELECT * FROM _loan_basis EXCEPT ALL SELECT * FROM facts_loans")
            con.execute("DELETE FROM facts_sources")
            if sources is not None:
                con.executemany("INSERT INTO facts_sources VALUES (?, ?, ?)", sources)
        else:
            con.execute("CREATE OR REPLACE TEMP TABLE _stale_loans (loan_id VARCHAR)")
        before = scalar(con, "SELECT count(*) FROM contact_facts")
        stored = scalar(con, "SELECT count(*) FROM contacts")
        # Row ids are compared with a constant only, so that DuckDB skips the row groups below the mark.
        new = scalar(con, "SELECT count(*) FROM contacts WHERE rowid > ?", [mark]) if mark is not None else None
        if stale and new is not None:
            new += scalar(con, "SELECT count(*) FROM contacts WHERE rowid <= ? AND loan_id IN "
                               "(SELECT loan_id FROM _stale_loans)", [mark])
        if new is None or before + new != stored:
            con.execute("INSERT INTO contact_facts " + query_text("facts_new") + " ORDER BY local_date",
                        {"after_rowid": -1, "stale": False})
            facts_prior.clear(con)
        elif before != stored:
            con.execute("INSERT INTO contact_facts " + query_text("facts_new") + " ORDER BY local_date",
                        {"after_rowid": mark, "stale": stale > 0})
            facts_prior.add_late(con, policy, mark)
        counts["new_contacts"] = scalar(con, "SELECT count(*) FROM contact_facts") - before
        con.execute("UPDATE facts_basis SET contacts_rowid = (SELECT max(rowid) FROM contacts WHERE rowid >= ?)",
                    [max(mark or 0, 0)])
        con.execute("DROP TABLE IF EXISTS _loan_basis")
        con.execute("DROP TABLE _stale_loans")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return counts


def _basis_sources(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int, int]] | None:
    """The loads' running digests of loans and borrowers (what facts_loans is derived from), or
    None where they cannot be trusted (a table's row count differs from its digest's).

    While they equal the ones kept at the last sync (facts_sources), no loan's basis changed, and
    the nightly run need not compare every loan's basis with the kept one. Both tables change only
    by a load (which updates the digests) or a purge (which deletes them and facts_sources).
    """
    rows = {t: (n, d) for t, n, d in con.execute(
        'SELECT "table", "rows", digest FROM table_digests WHERE "table" IN (\'loans\', \'borrowers\')').fetchall()}
    out = []
    for table in ("borrowers", "loans"):
        count = scalar(con, f"SELECT count(*) FROM {table}")
        n, digest = rows.get(table, (0, 0))
        if n != count:
            return None
        out.append((table, int(n), int(digest)))
    return out


def _kept_sources(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int, int]]:
    return [(t, int(n), int(d)) for t, n, d in con.execute(
        'SELECT "table", "rows", digest FROM facts_sources ORDER BY "table"').fetchall()]


# Days before --since that the windowed rules can look back to: 7 local days (or 168 hours), plus
# a day for a recipient whose contacts' zones differ by up to 26 hours, plus one to spare.
_WINDOW_DAYS = 9


def recent_from(policy: Policy, since: date | None) -> date:
    """The first local date every contact of which the run reads (queries/facts_scope.sql)."""
    if since is None:
        return date.min
    quiet = policy.rules.quiet_after_conversation
    days = max(_WINDOW_DAYS, (quiet.days + 2) if quiet is not None else 0)
    return since - timedelta(days=days) if since > date.min + timedelta(days=days) else date.min


def build_from_kept(con: duckdb.DuckDBPyConnection, policy: Policy, since: date | None, until: date | None) -> None:
    """The run's `facts` table (what the rules read of queries/facts.sql's rows) from the stored
    facts, and its `prior_counts`: with --since, the history before the window comes from the
    kept set of audit/facts_prior.py (brought up to date first)."""
    start = recent_from(policy, since)
    use_prior = since is not None
    if use_prior:
        facts_prior.prepare(con, policy, start)
    con.execute("DROP TABLE IF EXISTS facts")
    with registered(con, {"p_escalation": escalation_steps(policy)}):
        con.execute("CREATE TEMP TABLE facts AS " + query_text("facts_scope"),
                    {"since": since, "until": until, "recent_from": start, "calls": facts_prior.calls(policy),
                     "use_prior": use_prior})
    if use_prior:
        facts_prior.counts_for_run(con, policy, start)
    else:
        facts_prior.no_counts(con)
