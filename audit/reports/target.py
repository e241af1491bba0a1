"""Where a report may go, and how it replaces an earlier one without touching anything else.

The report directory is swapped in whole, which removes what stood at
`--out` before. So the tool only ever replaces a directory it can prove it
wrote (a sealed manifest naming every file in it), never one that holds, or
sits inside, the dataset or the store, and it holds a lock on the parent
directory while it swaps, so two runs writing the same `--out` take turns
instead of sweeping away each other's work.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import UsageError

MANIFEST = "manifest.json"
PARTIAL_MARK = ".contact-audit-partial"  # inside a half-written report: only such directories are swept
# What a report consists of (reports/__init__.py writes exactly these): a directory with other
# files gets these beside them, and a foreign file with one of these names is never overwritten.
REPORT_NAMES = frozenset({"violations.csv", "violations.parquet", "rejected.csv", "summary.json", "report.html",
                          "agents.csv", MANIFEST})


def _real(path: str | Path) -> Path:
    """Absolute, with symbolic links resolved as far as the path exists."""
    return Path(os.path.realpath(os.path.abspath(os.fspath(path))))


def _within(inner: Path, outer: Path) -> bool:
    return inner == outer or outer in inner.parents


def _first_file_on_the_way(path: Path) -> Path | None:
    """The first existing non-directory among the path's ancestors (a path under a file)."""
    for parent in reversed(path.parents):
        if parent.exists() and not parent.is_dir():
            return parent
    return None


def report_files(out: Path) -> set[str] | None:
    """The files a sealed manifest of this tool lists in `out` (manifest included), or None."""
    try:
        body = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
        if body.get("tool", {}).get("name") != "contact-audit" or not isinstance(body.get("files"), dict):
            return None
        return {*body["files"], MANIFEST}
    except (OSError, ValueError, AttributeError, TypeError):
        return None


def _foreign_entries(out: Path, ours: set[str]) -> list[str]:
    found = []
    for p in sorted(out.rglob("*")):
        name = p.relative_to(out).as_posix()
        if p.is_symlink() or (p.is_file() and name not in ours) or (
                p.is_dir() and not any(o.startswith(name + "/") for o in ours)) or not (p.is_file() or p.is_dir()):
            found.append(name)
    return found


def check_target(out: str | Path, *, data: str | Path | None = None, db: str | Path | None = None,
                 flag: str = "--out") -> Path:
    """Refuse (UsageError, exit 2) an `--out` where writing the report could remove or overwrite
    what the tool did not write.

    Allowed: a path that does not exist yet (its parent a directory or creatable), an
    earlier report of this tool (replaced whole), or any other directory whose files
    do not carry a report file's name (the report is written beside them: a run's log
    redirected into --out, a reviewer's notes). Refused: a file, a path under a file,
    a foreign file named like a report file, and any path that is, holds or lies inside
    `--data`, or that is or holds the store (and its side files).
    """
    given = str(out)
    real = _real(out)
    if data is not None:
        d = _real(data)
        if _within(real, d) or _within(d, real):
            where = "is" if real == d else ("is inside" if _within(real, d) else "holds")
            raise UsageError(f"{flag} {given} {where} the dataset {data}; write the report to a directory of its own")
    if db is not None:
        s = _real(db)
        side = [s, s.with_name(s.name + ".wal"), s.with_name(s.name + ".tmp")]
        if any(_within(x, real) for x in side) or any(_within(real, x) for x in side):
            raise UsageError(f"{flag} {given} holds or is the store {db}; write the report to a directory of its own")
    blocker = _first_file_on_the_way(real)
    if blocker is not None:
        raise UsageError(f"{flag} {given}: {blocker} is a file, not a directory")
    if real.exists() or real.is_symlink():
        if not real.is_dir():
            raise UsageError(f"{flag} {given} is a file; give a new directory or a previous report directory")
        clash = sorted(set(foreign_entries(real)) & REPORT_NAMES)
        if clash:
            raise UsageError(f"{flag} {given} holds {clash[0]}, which this tool did not write and would "
                             f"overwrite; move it, or give a new directory")
    return real


def foreign_entries(out: Path) -> list[str]:
    """What in an existing directory is not part of an earlier report of this tool."""
    if not out.is_dir():
        return []
    return _foreign_entries(out, report_files(out) or set())


@contextmanager
def _parent_lock(parent: Path, timeout: float) -> Iterator[None]:
    """An exclusive lock on the parent directory itself: no lock file is left behind."""
    fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as e:
                if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
                if time.monotonic() >= deadline:
                    raise UsageError(f"another run is writing a report in {parent}; try again when it "
                                     f"finishes (waited {timeout:g} s)") from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)  # releases the lock


def _try_lock(path: Path) -> int | None:
    """An exclusive lock on a directory, or None when a live process holds it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd
    except OSError:
        os.close(fd)
        return None


def _sweep_partials(parent: Path, name: str) -> None:
    """Remove what killed runs left: half-written reports (they carry the tool's mark, and no
    live run holds their lock) and previous reports set aside for a swap (a holder with one
    report of this tool in it)."""
    for stale in parent.glob(f".{name}.*.partial"):
        if stale.is_dir() and not stale.is_symlink() and (stale / PARTIAL_MARK).is_file():
            fd = _try_lock(stale)
            if fd is not None:  # its writer is gone (a run holds its own partial's lock while it writes)
                shutil.rmtree(stale, ignore_errors=True)
                os.close(fd)
    for holder in parent.glob(f".{name}.*.old"):
        inside = list(holder.iterdir()) if holder.is_dir() and not holder.is_symlink() else None
        if inside is not None and [p.name for p in inside] in ([], ["report"]) and (
                not inside or report_files(inside[0]) is not None):
            shutil.rmtree(holder, ignore_errors=True)


@contextmanager
def private_umask() -> Iterator[None]:
    """Files and directories created inside are 0600/0700 from their first byte."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def _make_parent(parent: Path, given: str) -> None:
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UsageError(f"--out {given}: {parent} is a file, not a directory") from None
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise UsageError(f"--out {given}: cannot create {parent} ({e.strerror})") from None


@contextmanager
def staged_report(out: str | Path, *, data=None, db=None, lock_timeout: float = 60.0) -> Iterator[Path]:
    """A private temporary directory beside `out` to write into; on success it replaces `out`.

    A run killed midway leaves either the previous report or none, never half
    of one; a failure removes the temporary directory and leaves `out` as it was.
    """
    given = str(out)
    real = check_target(out, data=data, db=db)
    _make_parent(real.parent, given)
    if not os.access(real.parent, os.W_OK | os.X_OK):
        raise UsageError(f"--out {given}: the directory {real.parent} is not writable")
    with private_umask():
        try:
            tmp = Path(tempfile.mkdtemp(prefix=f".{real.name}.", suffix=".partial", dir=real.parent))
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EDQUOT):
                raise
            raise UsageError(f"--out {given}: cannot write in {real.parent} ({e.strerror})") from None
        held = _try_lock(tmp)  # while this run writes, no other run's sweep may take its partial
        try:
            (tmp / PARTIAL_MARK).touch()
            yield tmp
            (tmp / PARTIAL_MARK).unlink()
            with _parent_lock(real.parent, lock_timeout):
                check_target(out, data=data, db=db)  # again: another run may have written it meanwhile
                _sweep_partials(real.parent, real.name)
                if foreign_entries(real):
                    _write_beside(tmp, real)
                else:
                    _swap_in(tmp, real)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        finally:
            if held is not None:
                os.close(held)


def _write_beside(tmp: Path, out: Path) -> None:
    """Move the report's files into a directory that holds files of others, removing only what an
    earlier report of this tool listed. Not one rename: the manifest goes first and comes back
    last, so a run killed midway leaves no manifest vouching for a mix of two reports."""
    old = (report_files(out) or set()) - {MANIFEST}
    (out / MANIFEST).unlink(missing_ok=True)  # ours: a foreign manifest.json was refused before
    new = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if p.is_file())
    for name in new:
        if name != MANIFEST:
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp / name, out / name)
    for name in sorted(old - set(new)):
        (out / name).unlink(missing_ok=True)
    if MANIFEST in new:
        os.replace(tmp / MANIFEST, out / MANIFEST)
    shutil.rmtree(tmp, ignore_errors=True)


def _swap_in(tmp: Path, out: Path) -> None:
    if not out.exists():
        tmp.rename(out)
        return
    # The previous report is moved into a fresh private holder (never a fixed name that
    # a user's file could have), the new one renamed into place, then the holder removed.
    holder = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    out.rename(holder / "report")
    try:
        tmp.rename(out)
    except BaseException:
        (holder / "report").rename(out)
        holder.rmdir()
        raise
    shutil.rmtree(holder, ignore_errors=True)


def _looks_like_our_junit(head: bytes) -> bool:
    return b'<testsuites name="contact-audit"' in head


def check_junit_target(path: str | Path, *, out=None, data=None, db=None) -> Path:
    """--junit FILE: not inside the report (it would fail `audit verify`), the dataset or the store,
    and not an existing file the tool did not write."""
    real = _real(path)
    for other, what in ((out, "--out"), (data, "the dataset"), (db, "the store")):
        if other is not None and (_within(real, _real(other)) or real == _real(other)):
            raise UsageError(f"--junit {path} lies in {what} {other}; write it elsewhere")
    _recognised(real, str(path), "--junit", _looks_like_our_junit)
    return real


def _recognised(real: Path, given: str, flag: str, recognise) -> None:
    blocker = _first_file_on_the_way(real)
    if blocker is not None:
        raise UsageError(f"{flag} {given}: {blocker} is a file, not a directory")
    if real.is_dir():
        raise UsageError(f"{flag} {given} is a directory; give a file name")
    if real.exists() or real.is_symlink():
        head = b""
        if real.is_file() and not real.is_symlink():
            with real.open("rb") as f:
                head = f.read(4096)
        if recognise is None or not recognise(head):
            raise UsageError(f"{flag} {given} exists and was not written by this tool; give a new file name")


@contextmanager
def private_file(path: str | Path, *, recognise=_looks_like_our_junit, flag: str = "--out") -> Iterator[Path]:
    """A private temporary file beside `path` to write; on success it replaces `path`.

    An existing `path` is replaced only when `recognise(first bytes)` says this
    tool wrote it; a failure leaves `path` as it was.
    """
    real = _real(path)
    _recognised(real, str(path), flag, recognise)
    _make_parent(real.parent, str(path))
    with private_umask():
        fd, name = tempfile.mkstemp(prefix=f".{real.name}.", suffix=".partial", dir=real.parent)
        os.close(fd)
        tmp = Path(name)
        try:
            yield tmp
            os.replace(tmp, real)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
