"""The DuckDB store: one file (or memory) holding the five tables and the load log."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from .errors import LoadError, StoreBusyError, UsageError
from .schemas import SQL_TYPE, TABLES


def _ddl() -> list[str]:
    stmts = []
    for t in TABLES.values():
        cols = ", ".join(f"{c.name} {SQL_TYPE[c.kind]}" for c in t.columns)
        stmts.append(f"CREATE TABLE IF NOT EXISTS {t.name} ({cols})")
    stmts += [
        """CREATE TABLE IF NOT EXISTS loads (
            load_id BIGINT, data_dir VARCHAR, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ,
            counts VARCHAR)""",
        """CREATE TABLE IF NOT EXISTS rejected_rows (
            load_id BIGINT, "table" VARCHAR, source_file VARCHAR, "row" BIGINT, "key" VARCHAR,
            reasons VARCHAR, "values" VARCHAR)""",
        # The input fingerprint's running per-table sums (reports/manifest.py); no personal data.
        """CREATE TABLE IF NOT EXISTS table_digests (
            "table" VARCHAR, "rows" BIGINT, digest UBIGINT)""",
        *LEDGER_DDL,
        *FACTS_DDL,
    ]
    return stmts


# Facts kept between runs (audit/facts_store.py): derived from the stored rows, so a layout of
# another version is dropped and derived again, never refused. What they were derived with:
# facts_basis (the policy's default timezone and this layout's number) and facts_loans (each
# loan's borrower, principal and zone).
FACTS_LAYOUT = 1
_FACT_COLUMNS = [
    ("event_id", "VARCHAR"), ("loan_id", "VARCHAR"), ("ts", "TIMESTAMPTZ"), ("channel", "VARCHAR"),
    ("recipient_type", "VARCHAR"), ("recipient_id", "VARCHAR"), ("agent_id", "VARCHAR"),
    ("outcome", "VARCHAR"), ("borrower_id", "VARCHAR"), ("principal", "DECIMAL(18,2)"), ("zone", "VARCHAR"),
    ("local_ts", "TIMESTAMP"), ("local_date", "DATE"), ("ts_us", "BIGINT"), ("local_day", "BIGINT"),
    ("recipient_key", "VARCHAR"), ("is_third_party", "BOOLEAN"), ("contact_rowid", "BIGINT"),
    ("has_content", "BOOLEAN")]
FACTS_TABLES = {
    "contact_facts": _FACT_COLUMNS,
    "facts_loans": [("loan_id", "VARCHAR"), ("borrower_id", "VARCHAR"), ("principal", "DECIMAL(18,2)"),
                    ("zone", "VARCHAR")],
    "facts_basis": [("default_timezone", "VARCHAR"), ("layout", "INTEGER"), ("contacts_rowid", "BIGINT")],
    # the loads' digests of loans and borrowers when facts_loans was last compared with them
    "facts_sources": [("table", "VARCHAR"), ("rows", "BIGINT"), ("digest", "UBIGINT")],
    # What a nightly run reads of the history before its window (audit/facts_prior.py), for the
    # contacts with a local date before `watermark`: the candidate rows (do-not-contact requests,
    # each loan's latest borrower calls and reminders) and, per whole-history frequency limit and
    # group, how many contacts it counts. Kept for one policy (`policy_key`).
    "facts_prior_rows": _FACT_COLUMNS,
    "facts_prior_counts": [("rule_id", "VARCHAR"), ("grp", "VARCHAR"), ("n", "BIGINT")],
    "facts_prior_basis": [("policy_key", "VARCHAR"), ("watermark", "DATE"), ("compacted_rows", "BIGINT")],
}
FACTS_DDL = [f"CREATE TABLE IF NOT EXISTS {name} (" + ", ".join(f'"{c}" {t}' for c, t in cols) + ")"
             for name, cols in FACTS_TABLES.items()]


# The record of SPEC §7 (audit/ledger.py): appended, never updated; only `audit purge` deletes,
# and it writes a `purges` row saying so. Rows go in run order and, within a run, sorted by
# local date, so DuckDB's per-row-group min/max (zone maps) prune a query by run or by date.
RUN_VIOLATION_COLUMNS = [
    "run_id", "local_date", "rule_id", "severity", "event_id", "loan_id", "borrower_id", "ts", "local_time",
    "channel", "recipient_type", "recipient_id", "agent_id", "reference", "detail", "evidence", "policy_id",
    "policy_version", "status", "waiver_id", "base_status"]
LEDGER_DDL = [
    """CREATE TABLE IF NOT EXISTS runs (
        run_id BIGINT, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, tool_version VARCHAR, engine VARCHAR,
        policy_id VARCHAR, policy_version VARCHAR, policy_sha256 VARCHAR, waivers_sha256 VARCHAR,
        since DATE, "until" DATE, input_sha256 VARCHAR, contacts_judged BIGINT, last_load_id BIGINT,
        violations VARCHAR, statuses VARCHAR, policy_text VARCHAR, agents VARCHAR)""",
    "CREATE TABLE IF NOT EXISTS run_violations (" + ", ".join(
        f'"{c}" {"BIGINT" if c == "run_id" else "DATE" if c == "local_date" else "VARCHAR"}'
        for c in RUN_VIOLATION_COLUMNS) + ")",
    """CREATE TABLE IF NOT EXISTS purges (purged_at TIMESTAMPTZ, counts VARCHAR)""",
]


def connect(db: str | Path | None = None, *, lock_timeout: float = 0.0,
            threads: int | None = None, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) the store; an in-memory one when `db` is None.

    Times are handled as UTC instants throughout; local times are computed
    explicitly per contact zone, never from the session zone.
    """
    path = ":memory:" if db is None else str(db)
    if path != ":memory:":
        if Path(path).is_dir():
            raise UsageError(f"--db {db} is a directory; give the store's file")
        parent = Path(path).absolute().parent
        if not parent.is_dir():
            raise UsageError(f"--db {db}: {parent} is not a directory" if parent.exists() else
                             f"--db {db}: the directory {parent} does not exist")
    deadline = time.monotonic() + lock_timeout
    while True:
        try:
            existed = path == ":memory:" or Path(path).exists()
            con = duckdb.connect(path)  # a new file is private from its first byte (the caller's umask)
            break
        except duckdb.Error as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            if "lock" not in first.lower():
                raise LoadError(f"cannot open the store {db}: it is not a DuckDB store of this tool, or it is "
                                f"damaged ({first[:160]})") from None
            if time.monotonic() >= deadline:
                raise StoreBusyError(
                    f"the store {db} is in use by another process; try again when it finishes"
                    + (f" (waited {lock_timeout:g} s)" if lock_timeout else "")
                ) from None
            time.sleep(0.2)
    if path != ":memory:" and not existed:
        os.chmod(path, 0o600)  # it holds personal data (also when the caller's umask was not private)
    try:
        _check_layout(con, db)
    except BaseException:
        con.close()
        raise
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")  # our own progress reporting owns the terminal
    if threads:
        con.execute("SET threads = ?", [threads])
    if memory_limit:
        con.execute("SET memory_limit = ?", [memory_limit])
    if path == ":memory:":
        # What an in-memory store spills would go to ./.tmp under the caller's working
        # directory: personal data in an unexpected place. Spill to a private directory.
        con.execute("SET temp_directory = ?", [_private_spill_dir()])
    _drop_stale_digests(con)
    for stmt in _ddl():
        con.execute(stmt)
    return con


def _check_layout(con: duckdb.DuckDBPyConnection, db) -> None:
    """Refuse a DuckDB file that is not a store of this tool: adding tables to it, or reading
    tables of the same name with other columns, would damage it or fail halfway."""
    found: dict[str, list[str]] = {}
    for table, column in con.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'main' "
            "ORDER BY table_name, ordinal_position").fetchall():
        found.setdefault(table, []).append(column)
    if not found:
        return
    expected = {t.name: [c.name for c in t.columns] for t in TABLES.values()}
    ours = [t for t in found if t in expected or t in _LEDGER]
    if not ours:
        raise UsageError(f"{db} is a DuckDB database of something else (tables: {', '.join(sorted(found)[:5])}); "
                         f"give a new --db file")
    for name, columns in found.items():
        want = expected.get(name) or _LEDGER.get(name)
        if name in _ADDED and columns == want[:len(columns)] and set(want[len(columns):]) <= set(_ADDED[name]):
            for column in want[len(columns):]:  # a store of an earlier version: columns appended since
                con.execute(f'ALTER TABLE {name} ADD COLUMN "{column}" {_ADDED[name][column]}')
            continue
        if want is not None and columns != want and name != "table_digests" and name not in FACTS_TABLES:
            raise UsageError(f"the store {db} was written by another tool or an incompatible version: "
                             f"table {name} has columns {', '.join(columns[:8])}; give a new --db file")


# Columns added to a table after it first shipped, with their types: an older store gets them
# (empty for its earlier rows) instead of being refused.
_ADDED = {"runs": {"agents": "VARCHAR"}}

_LEDGER = {
    "runs": ["run_id", "started_at", "finished_at", "tool_version", "engine", "policy_id", "policy_version",
             "policy_sha256", "waivers_sha256", "since", "until", "input_sha256", "contacts_judged",
             "last_load_id", "violations", "statuses", "policy_text", "agents"],
    "run_violations": RUN_VIOLATION_COLUMNS,
    "purges": ["purged_at", "counts"],
    "loads": ["load_id", "data_dir", "started_at", "finished_at", "counts"],
    "rejected_rows": ["load_id", "table", "source_file", "row", "key", "reasons", "values"],
    "table_digests": ["table", "rows", "digest"],
    **{name: [c for c, _ in cols] for name, cols in FACTS_TABLES.items()},
}


def _drop_stale_digests(con: duckdb.DuckDBPyConnection) -> None:
    """table_digests (a cache of the input fingerprint) and the kept facts are derived from the
    stored rows: a table of another layout is dropped, then rebuilt."""
    caches = {"table_digests": ["table", "rows", "digest"],
              **{name: [c for c, _ in cols] for name, cols in FACTS_TABLES.items()}}
    for name, want in caches.items():
        cols = [r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "AND table_schema = 'main' ORDER BY ordinal_position", [name]).fetchall()]
        if cols and cols != want:
            con.execute(f"DROP TABLE {name}")


_UNITS = {"bytes": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "PiB": 2**50}


def lend_memory(con: duckdb.DuckDBPyConnection, share: float = 0.5) -> None:
    """Lower DuckDB's memory limit to a share of what it is, for the steps where Polars holds the data.

    `--memory-limit` is a budget for the run. DuckDB fills its part with the
    store and the facts, and by then the report rows need room of their own
    in Polars; DuckDB spills what no longer fits instead.
    """
    number, _, unit = str(scalar(con, "SELECT current_setting('memory_limit')")).partition(" ")
    try:
        limit = float(number) * _UNITS[unit]
    except (ValueError, KeyError):  # a format this DuckDB does not use: leave the limit as it is
        return
    con.execute("SET memory_limit = ?", [f"{int(limit * share)} bytes"])


def _private_spill_dir() -> str:
    path = tempfile.mkdtemp(prefix="contact-audit-spill-")  # mode 0700
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def row_count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return scalar(con, f"SELECT count(*) FROM {TABLES[table].name}")


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, tables: dict) -> Iterator[None]:
    """Policy data (Polars frames) visible to SQL by name for the block, and gone after it."""
    for name, table in tables.items():
        con.register(name, table)
    try:
        yield
    finally:
        for name in tables:
            con.unregister(name)


def frame(con: duckdb.DuckDBPyConnection, sql: str, params: dict | list | None = None):
    """A query's result as a Polars frame (through Arrow, no pandas)."""
    return con.sql(sql, params=params).pl()


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: dict | list | None = None):
    return con.execute(sql, params or []).fetchall()[0][0]


def purge_borrower(con: duckdb.DuckDBPyConnection, borrower_id: str, *, dry_run: bool = False) -> dict[str, int]:
    """Delete everything the store holds about one borrower (PIPL/GDPR erasure), in one transaction.

    Rejected rows are matched on the borrower id and loan ids appearing in
    their key or original values. A CHECKPOINT then rewrites the file so the
    deleted rows do not linger in the write-ahead log.
    """
    from . import pii  # local: pii imports polars machinery the store does not otherwise need

    loans = [r[0] for r in con.execute("SELECT loan_id FROM loans WHERE borrower_id = ?", [borrower_id]).fetchall()]
    loans += [r[0] for r in con.execute("SELECT DISTINCT loan_id FROM run_violations WHERE borrower_id = ? "
                                        "AND loan_id NOT IN (SELECT unnest(?::VARCHAR[]))", [borrower_id, loans]).fetchall()]
    ids = [borrower_id, *loans]
    ids += [m for m in pii.mask_strings(ids) if m not in ids]  # rejected rows are stored masked
    deleted: dict[str, int] = {}
    con.execute("BEGIN TRANSACTION")
    try:
        for table, where, params in (
            ("contacts", "loan_id IN (SELECT unnest(?::VARCHAR[]))", [loans]),
            ("installments", "loan_id IN (SELECT unnest(?::VARCHAR[]))", [loans]),
            ("emergency_contacts", "borrower_id = ?", [borrower_id]),
            ("loans", "borrower_id = ?", [borrower_id]),

            ("borrowers", "borrower_id = ?", [borrower_id]),
            ("run_violations", "borrower_id = ? OR loan_id IN (SELECT unnest(?::VARCHAR[]))", [borrower_id, loans]),
            ("rejected_rows",
             "list_has_any(string_split(\"key\", '|'), ?::VARCHAR[]) OR "
             "EXISTS (SELECT 1 FROM unnest(?::VARCHAR[]) AS u(id) WHERE contains(\"values\", '\"' || u.id || '\"'))",
             [ids, ids]),
        ):
            n = con.execute(f"SELECT count(*) FROM {table} WHERE {where}", params).fetchall()[0][0]
            con.execute(f"DELETE FROM {table} WHERE {where}", params)
            deleted[table] = n
        con.execute("DELETE FROM table_digests")  # the input fingerprint is recomputed when next needed
        for kept in ("contact_facts", "facts_loans"):  # derived from the deleted rows: derived again if needed
            con.execute(f"DELETE FROM {kept} WHERE loan_id IN (SELECT unnest(?::VARCHAR[]))", [loans])
        con.execute("UPDATE facts_basis SET contacts_rowid = NULL")  # row ids may move once rows are deleted
        con.execute("DELETE FROM facts_sources")  # facts_loans lost the borrower's loans: compare them again
        for prior in ("facts_prior_rows", "facts_prior_counts", "facts_prior_basis"):  # built again when next needed
            con.execute(f"DELETE FROM {prior}")
        if dry_run or not any(deleted.values()):
            con.execute("ROLLBACK")
            return deleted
        # The ledger says that a purge happened, with counts and no identifier (SPEC §7).
        con.execute("INSERT INTO purges VALUES (now(), ?)", [json.dumps(deleted)])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("CHECKPOINT")
    return deleted
