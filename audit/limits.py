"""Resource options checked before any work, and resource failures recognised wherever they surface.

DuckDB reports a full disk or an exhausted memory limit as its own error
types, often wrapped by a later rollback error; the user needs the first
cause in one line, not the last symptom.
"""

from __future__ import annotations

import errno
import os
import re

from .errors import UsageError

_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(b|kb|mb|gb|tb|kib|mib|gib|tib)\s*$", re.IGNORECASE)
_FACTOR = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
           "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
MIN_MEMORY = 64 * 10**6  # below this DuckDB cannot hold the store's working set of even a small load
THREADS_PER_CPU = 4


def check_memory_limit(value: str | None) -> str | None:
    """The limit in a form DuckDB takes, or a one-line refusal (exit 2)."""
    if value is None:
        return None
    m = _SIZE.match(value)
    if not m:
        raise UsageError(f"--memory-limit {value!r} is not a size; write e.g. 3GB, 512MB or 2GiB")
    size = float(m.group(1)) * _FACTOR[m.group(2).lower()]
    if size < MIN_MEMORY:
        raise UsageError(f"--memory-limit {value} is too small to run an audit; give at least 64MB")
    return f"{int(size)}B"


def check_threads(value: int | None) -> tuple[int | None, str | None]:
    """Threads clamped to four per CPU (more only thrash); the note says when it was clamped."""
    if value is None:
        return None, None
    cap = (os.cpu_count() or 1) * THREADS_PER_CPU
    if value > cap:
        return cap, f"--threads {value} is more than {THREADS_PER_CPU} per CPU; {cap} used"
    return value, None


def _chain(e: BaseException):
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        yield e
        e = e.__cause__ or e.__context__


def no_space(e: BaseException) -> bool:
    """A full disk anywhere in the exception's chain."""
    return any((isinstance(x, OSError) and x.errno in (errno.ENOSPC, errno.EDQUOT))
               or "no space left on device" in str(x).lower() for x in _chain(e))


def out_of_memory(e: BaseException) -> str | None:
    """The first line of an out-of-memory error in the chain, or None."""
    import duckdb

    for x in _chain(e):
        if isinstance(x, (MemoryError, duckdb.OutOfMemoryException)):
            first = str(x).strip().splitlines()[0] if str(x).strip() else "the engine ran out of memory"
            return first.removeprefix("Out of Memory Error: ")
    return None
