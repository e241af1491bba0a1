"""Facts kept in the store between runs, so that a nightly run does not derive its history again.

A contact's zone, local time and recipient (SPEC §2) are fixed by the contact
(append-only: an event never changes) and by its loan's borrower, principal
and zone. They are stored once per contact (`contact_facts`) with the loan
basis they came from (`facts_loans`) and the policy's default timezone
(`facts_basis`). Before each run on a store:

- a different default timezone, or another layout, derives every fact again;
- a loan whose basis changed (a reloaded loan or borrower row), or that is
  gone, has its contacts' facts derived again;
- contacts without facts (the new load's) get theirs.

DPD, the overdue amount and the episode depend on instalments, which a later
load may pay or correct; they are never stored but derived in each run for
the judged third-party contacts only (queries/facts_scope.sql), so a late
payment cannot leave a stale fact behind. tests/test_nightly.py checks that
nightly runs over such loads equal one full recompute.
"""

from __future__ import annotations

from datetime import date

import duckdb

from .policy import Policy
from .rules import query_text
from .store import FACTS_LAYOUT, scalar


def is_kept(con: duckdb.DuckDBPyConnection) -> bool:
    """Facts are kept only in a store file: an in-memory store ends with the run."""
    return scalar(con, "SELECT path IS NOT NULL AND path <> '' FROM duckdb_databases() "
                       "WHERE database_name = current_database()")


def sync(con: duckdb.DuckDBPyConnection, policy: Policy) -> dict[str, int]:
    """Bring the stored facts up to date with the stored rows; returns what changed (for progress)."""
    zone = policy.default_timezone
    basis = con.execute("SELECT default_timezone, layout FROM facts_basis").fetchall()
    con.execute("BEGIN TRANSACTION")
    try:
        counts = {"rederived_loans": 0}
        if basis != [(zone, FACTS_LAYOUT)]:
            con.execute("DELETE FROM contact_facts")
            con.execute("DELETE FROM facts_loans")
            con.execute("DELETE FROM facts_basis")
            con.execute("INSERT INTO facts_basis VALUES (?, ?)", [zone, FACTS_LAYOUT])
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
        con.execute("INSERT INTO facts_loans SELECT * FROM _loan_basis EXCEPT ALL SELECT * FROM facts_loans")
        before = scalar(con, "SELECT count(*) FROM contact_facts")
        if before != scalar(con, "SELECT count(*) FROM contacts"):
            con.execute("INSERT INTO contact_facts " + query_text("facts_new"))
        counts["new_contacts"] = scalar(con, "SELECT count(*) FROM contact_facts") - before
        con.execute("DROP TABLE _loan_basis")
        con.execute("DROP TABLE _stale_loans")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return counts


def build_from_kept(con: duckdb.DuckDBPyConnection, since: date | None, until: date | None) -> None:
    """The run's `facts` table (as queries/facts.sql would make it) from the stored facts."""
    con.execute("DROP TABLE IF EXISTS facts")
    con.execute("CREATE TEMP TABLE facts AS " + query_text("facts_scope"), {"since": since, "until": until})
