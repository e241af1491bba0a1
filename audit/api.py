"""The library API the CLI is a thin layer over, and that tests call directly."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from . import progress
from .engine import AuditResult, run_audit
from .errors import UsageError
from .ingest import LoadResult, load_dataset as _load_into
from .policy import Policy, load_policy
from .store import connect


def load(data_dir: str | Path, *, db: str | Path | None = None, timezone: str | None = None,
         encoding: str = "utf-8", lock_timeout: float = 0.0) -> LoadResult:
    """Load a dataset into the store at `db` (without one: validate and count only)."""
    con = connect(db, lock_timeout=lock_timeout)
    try:
        result = _load_into(con, data_dir, timezone_name=timezone, encoding=encoding)
        progress.done()
        return result
    finally:
        con.close()


def audit(*, db: str | Path | None = None, data: str | Path | None = None,
          policy: Policy | str | Path | None = None, out: str | Path | None = None,
          timezone: str | None = None, encoding: str = "utf-8",
          since: date | None = None, until: date | None = None,
          lock_timeout: float = 0.0, threads: int | None = None, memory_limit: str | None = None,
          engine: str = "duckdb", spark_master: str = "local[*]") -> AuditResult:
    """Load `data` (if given) into `db` (or memory), audit it, and write the reports to `out`."""
    if db is None and data is None:
        raise UsageError("give --data DATA_DIR, --db FILE, or both")
    if since and until and since > until:
        raise UsageError(f"--since {since} is after --until {until}")
    pol = policy if isinstance(policy, Policy) else load_policy(policy)
    con = connect(db, lock_timeout=lock_timeout, threads=threads, memory_limit=memory_limit)
    try:
        loaded = _load_into(con, data, timezone_name=timezone, encoding=encoding) if data is not None else None
        if engine == "spark":
            from .spark_engine import run_audit_spark

            result = run_audit_spark(con, pol, master=spark_master, since=since, until=until, load=loaded)
            if out is not None:
                from .reports.manifest import dataset_fingerprint

                result.fingerprint = dataset_fingerprint(con)
        elif engine == "duckdb":
            result = run_audit(con, pol, since=since, until=until, load=loaded, fingerprint=out is not None,
                               memory_budget=memory_limit is not None)
        else:
            raise UsageError(f"unknown engine {engine!r}: duckdb or spark")
    finally:
        con.close()
    if out is not None:
        from .reports import write_reports

        write_reports(result, out)
        progress.done()
    return result
