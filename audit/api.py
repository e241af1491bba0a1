"""The library API the CLI is a thin layer over, and that tests call directly."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timezone as dt_timezone
from pathlib import Path

import duckdb

from . import ledger, progress
from .agents import contacts_per_agent
from .engine import AuditResult, ensure_facts, run_audit
from .errors import Interrupted, LoadError, UsageError
from .ingest import LoadResult, load_dataset as _load_into
from .limits import check_memory_limit, check_threads, no_space, out_of_memory
from .mapping import Mapping, load_mapping
from .policy import Policy, load_policy
from .reports.target import check_target, private_umask
from .store import connect
from .waivers import Waivers, load_waivers, tally


def _store_truth(db, *, committed: bool, loading: bool) -> str:
    if db is None:
        return "nothing was kept (the store was in memory)"
    if loading and not committed:
        return f"the store {db} is unchanged by the unfinished load"
    return f"the store {db} holds the last completed load"


@contextmanager
def _faults(truth: Callable[[], str], where: str) -> Iterator[None]:
    """Interrupts, a full disk and an exhausted memory limit as one true line each (errors.py)."""
    try:
        yield
    except (KeyboardInterrupt, duckdb.InterruptException):
        raise Interrupted(f"interrupted; {truth()}") from None
    except (duckdb.Error, OSError, MemoryError) as e:
        if no_space(e):
            raise LoadError(f"no space left on the device of {where}; {truth()}") from None
        if out_of_memory(e):
            raise LoadError(f"out of memory: {out_of_memory(e)}; raise --memory-limit (or leave it out) "
                            f"or use a machine with more memory; {truth()}") from None
        raise


def require_store(db) -> None:
    """A store to read must exist: opening a mistyped path would create an empty one and judge nothing."""
    path = Path(db)
    if not path.exists():
        raise UsageError(f"no store at {db}; load data first (audit load DATA_DIR --db {db})")
    if not path.is_file():
        raise UsageError(f"--db {db} is not a file")


def as_mapping(mapping: Mapping | str | Path | None) -> Mapping | None:
    """A Mapping from a path (validated: exit 2 with every problem), or as given."""
    return mapping if mapping is None or isinstance(mapping, Mapping) else load_mapping(mapping)


def load(data_dir: str | Path, *, db: str | Path | None = None, timezone: str | None = None,
         encoding: str = "utf-8", lock_timeout: float = 0.0,
         mapping: Mapping | str | Path | None = None) -> LoadResult:
    """Load a dataset into the store at `db` (without one: validate and count only), through `mapping` if given."""
    mapping = as_mapping(mapping)
    progress.reset()
    with private_umask(), _faults(lambda: _store_truth(db, committed=progress.passed("load-committed"),
                                                       loading=True), f"the store {db}"):
        con = connect(db, lock_timeout=lock_timeout)
        try:
            result = _load_into(con, data_dir, timezone_name=timezone, encoding=encoding, mapping=mapping)
            progress.done()
            return result
        finally:
            con.close()


def audit(*, db: str | Path | None = None, data: str | Path | None = None,
          policy: Policy | str | Path | None = None, out: str | Path | None = None,
          timezone: str | None = None, encoding: str = "utf-8",
          since: date | None = None, until: date | None = None,
          lock_timeout: float = 0.0, threads: int | None = None, memory_limit: str | None = None,
          engine: str = "duckdb", spark_master: str = "local[*]",
          mapping: Mapping | str | Path | None = None,
          waivers: Waivers | str | Path | None = None, as_of: date | None = None,
          max_csv_rows: int | None = None) -> AuditResult:
    """Load `data` (if given, through `mapping`) into `db` (or memory), audit it, and write the reports to `out`.

    Everything that can be refused is refused before any work: a report target
    that could remove what the tool did not write, a missing store, bad limits.
    """
    if db is None and data is None:
        raise UsageError("give --data DATA_DIR, --db FILE, or both")
    if since and until and since > until:
        raise UsageError(f"--since {since} is after --until {until}")
    memory_limit = check_memory_limit(memory_limit)
    threads, threads_note = check_threads(threads)
    if out is not None:
        check_target(out, data=data, db=db)
    if data is None:
        require_store(db)
        if mapping is not None:
            raise UsageError("--mapping reads a dataset: give it with --data DATA_DIR")
    mapping = as_mapping(mapping)
    pol = policy if isinstance(policy, Policy) else load_policy(policy)
    wv = waivers if isinstance(waivers, Waivers) or waivers is None else load_waivers(waivers)
    as_of = as_of or datetime.now(dt_timezone.utc).date()
    progress.reset()
    if max_csv_rows is not None and not (engine == "spark" and data is not None):
        raise UsageError("--max-csv-rows applies to --engine spark with --data")
    if engine == "spark" and data is not None:  # loaded, judged and written on Spark; no local store
        from .spark.run import MAX_CSV_ROWS, audit_spark

        if db is not None or mapping is not None:
            raise UsageError(f"--engine spark reads --data on the cluster and keeps no local store or mapping: "
                             f"leave out {'--db' if db is not None else '--mapping'} (docs/scale.md)")
        return audit_spark(data=data, policy=pol, waivers=wv, as_of=as_of, out=out, master=spark_master,
                           since=since, until=until, zone=timezone, encoding=encoding,
                           max_csv_rows=MAX_CSV_ROWS if max_csv_rows is None else max_csv_rows)
    loading = data is not None

    def truth() -> str:
        stored = _store_truth(db, committed=progress.passed("load-committed"), loading=loading)
        return stored + ("" if out is None else f"; no report was written (--out {out} is as it was)")

    with private_umask(), _faults(truth, f"the store {db}" if db is not None else "the temporary directory"):
        con = connect(db, lock_timeout=lock_timeout, threads=threads, memory_limit=memory_limit)
        try:
            loaded = _load_into(con, data, timezone_name=timezone, encoding=encoding,
                                mapping=mapping) if loading else None
            result = _judge(con, pol, engine, spark_master, since, until, loaded, out is not None,
                            memory_limit is not None, transient=db is None)
            ensure_facts(con, pol, since, until)
            result.agent_contacts = contacts_per_agent(con)
            if db is not None:  # a store keeps the record (SPEC §7)
                result.load = ledger.loads_in_scope(con, windowed=bool(since or until), current=loaded)
                ledger.record(con, result, waivers=wv, as_of=as_of, engine=engine)
            else:  # counted once: the digest is of the rows as the report holds them
                result.violations = ledger.marked(result.violations, wv, as_of).drop("base_status")
                result.waivers = tally(result.counted().waivers_used(), wv, as_of)
                result.statuses = result.counted().statuses(pol.rule_ids(), {})
            result.trend = result.counted().trend()
        finally:
            con.close()
    if threads_note:
        result.notes.append(threads_note)
    if out is not None:
        from .reports import write_reports

        with private_umask(), _faults(truth, f"--out {out}"):
            write_reports(result, out, data=data, db=db, lock_timeout=max(lock_timeout, 60.0))
        progress.done()
    return result


def _judge(con, pol: Policy, engine: str, spark_master: str, since, until, loaded, fingerprint: bool,
           memory_budget: bool, transient: bool) -> AuditResult:
    if engine == "spark":
        from .spark_engine import run_audit_spark

        result = run_audit_spark(con, pol, master=spark_master, since=since, until=until, load=loaded)
        if fingerprint:
            from .reports.manifest import dataset_fingerprint

            result.fingerprint = dataset_fingerprint(con)
        return result
    if engine == "duckdb":
        return run_audit(con, pol, since=since, until=until, load=loaded, fingerprint=fingerprint,
                         memory_budget=memory_budget, transient=transient)
    raise UsageError(f"unknown engine {engine!r}: duckdb or spark")


def purge(db: str | Path, borrower_id: str, *, dry_run: bool = False, lock_timeout: float = 0.0) -> dict[str, int]:
    """Delete (or with `dry_run`, count) every row the store holds about one borrower."""
    from .store import purge_borrower

    require_store(db)
    with private_umask(), _faults(lambda: f"the store {db} is as it was", f"the store {db}"):
        con = connect(db, lock_timeout=lock_timeout)
        try:
            return purge_borrower(con, borrower_id, dry_run=dry_run)
        finally:
            con.close()


def report(db: str | Path, *, out: str | Path | None = None, since: date | None = None, until: date | None = None,
           waivers: Waivers | str | Path | None = None, as_of: date | None = None,
           lock_timeout: float = 0.0) -> AuditResult:
    """A period report from the ledger (SPEC §7), without judging again: for each contact, the
    verdicts of the latest run that judged it."""
    from .reports.manifest import dataset_fingerprint

    if since and until and since > until:
        raise UsageError(f"--since {since} is after --until {until}")
    if out is not None:
        check_target(out, db=db)
    require_store(db)
    wv = waivers if isinstance(waivers, Waivers) or waivers is None else load_waivers(waivers)
    as_of = as_of or datetime.now(dt_timezone.utc).date()
    started = datetime.now(dt_timezone.utc)
    with private_umask(), _faults(lambda: f"the store {db} is as it was", f"the store {db}"):
        con = connect(db, lock_timeout=lock_timeout)
        try:
            result = ledger.period_result(con, since, until, wv, as_of, started)
            result.fingerprint = dataset_fingerprint(con) if out is not None else {}
        finally:
            con.close()
    if out is not None:
        from .reports import write_reports

        with private_umask(), _faults(lambda: f"no report was written (--out {out} is as it was)", f"--out {out}"):
            write_reports(result, out, db=db, lock_timeout=max(lock_timeout, 60.0))
    return result


def history(db: str | Path, *, lock_timeout: float = 0.0) -> list[dict]:
    """One entry per run in the store's ledger, oldest first."""
    require_store(db)
    with private_umask():
        con = connect(db, lock_timeout=lock_timeout)
        try:
            return ledger.history(con)
        finally:
            con.close()


def explain(db: str | Path, event_id: str, *, policy: Policy | str | Path | None = None,
            lock_timeout: float = 0.0) -> dict:
    """Why one stored contact was (or was not) flagged (SPEC §9): facts, verdicts, timeline.

    Without a policy: the one the store's latest run applied, else the built-in default.
    """
    from .explain import explain as explain_contact
    from .policy import parse_policy

    require_store(db)
    with private_umask():
        con = connect(db, lock_timeout=lock_timeout)
        try:
            if policy is None:
                rows = con.execute("SELECT run_id, policy_text FROM runs ORDER BY run_id DESC LIMIT 1").fetchall()
                row = rows[0] if rows else None
                pol = parse_policy(row[1], f"ledger run {row[0]}") if row and row[1] else load_policy(None)
            else:
                pol = policy if isinstance(policy, Policy) else load_policy(policy)
            return explain_contact(con, event_id, pol)
        finally:
            con.close()
