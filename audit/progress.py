"""Step reporting for long loads and audits, without threading a callback through every call.

The library announces steps (`step("validate contacts")`); whoever runs it
decides what to show: the CLI draws a status line on a terminal and, with
--verbose, logs each step's duration. Messages name steps only, never data.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_reporter: ContextVar[Callable[[str], None] | None] = ContextVar("audit_progress", default=None)


def step(name: str) -> None:
    report = _reporter.get()
    if report is not None:
        report(name)


PAUSE_ENV = "CONTACT_AUDIT_PAUSE_AT"
RESUME_ENV = "CONTACT_AUDIT_RESUME_FILE"
_passed: set[str] = set()


def reset() -> None:
    """A new run: no checkpoint passed yet."""
    _passed.clear()


def passed(name: str) -> bool:
    """Whether this run got past a checkpoint (an interrupt's message must say what is true)."""
    return name in _passed


def mark(name: str) -> None:
    """Record that this run got past `name` (without the pause `checkpoint` offers)."""
    _passed.add(name)


def checkpoint(name: str) -> None:
    """A named moment that fault tests can stop the process at, so a kill lands where they say.

    With CONTACT_AUDIT_PAUSE_AT=name the process prints `paused at NAME` on
    stderr and waits (at most five minutes) for a signal, or until the file
    named by CONTACT_AUDIT_RESUME_FILE exists, then goes on.
    """
    mark(name)
    if os.environ.get(PAUSE_ENV) == name:
        sys.stderr.write(f"paused at {name}\n")
        sys.stderr.flush()
        resume = os.environ.get(RESUME_ENV)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not (resume and os.path.exists(resume)):
            time.sleep(0.05)


@contextmanager
def uninterrupted() -> Iterator[None]:
    """Hold Ctrl-C back (it is delivered right after) so a step and its checkpoint happen together."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def done() -> None:
    """The current step has ended (its duration is logged now, not at the next step)."""
    step("")


@contextmanager
def reporting(callback: Callable[[str], None] | None) -> Iterator[None]:
    token = _reporter.set(callback)
    try:
        yield
    finally:
        _reporter.reset(token)


class Terminal:
    """A one-line status on a terminal (stderr) and/or a timing log line per step."""

    def __init__(self, *, status: bool, verbose: bool, stream=None):
        self.stream = stream or sys.stderr
        self.status = status
        self.verbose = verbose
        self.started = self.last = time.monotonic()
        self.current: str | None = None

    def __call__(self, name: str) -> None:
        self._finish_current()
        self.current = name or None
        if self.status and name:
            self.stream.write(f"\r\033[K… {name} ({time.monotonic() - self.started:.1f} s)")
            self.stream.flush()

    def _finish_current(self) -> None:
        now = time.monotonic()
        if self.current is not None and self.verbose:
            if self.status:
                self.stream.write("\r\033[K")
            self.stream.write(f"{self.current}: {now - self.last:.2f} s\n")
        self.last = now

    def close(self) -> None:
        self._finish_current()
        self.current = None
        if self.status:
            self.stream.write("\r\033[K")
            self.stream.flush()
