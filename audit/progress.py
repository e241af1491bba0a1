"""Step reporting for long loads and audits, without threading a callback through every call.

The library announces steps (`step("validate contacts")`); whoever runs it
decides what to show: the CLI draws a progress bar on a terminal (`Bar`) and,
with --verbose, logs each step's duration. Messages name steps only, never data.
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


def finish() -> None:
    """The long steps are over: end the bar (and log the last step) before the command prints its results."""
    report = _reporter.get()
    if report is not None and hasattr(report, "close"):
        report.close()


def expect(steps: int | None) -> None:
    """How many steps the caller expects, so a progress bar can show a percentage and an ETA."""
    report = _reporter.get()
    if steps is not None and report is not None and hasattr(report, "expect"):
        report.expect(steps)


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
    """Plain lines: a timing log line per step with --verbose (a pipe, a log file, CI)."""

    def __init__(self, *, verbose: bool, stream=None):
        self.stream = stream or sys.stderr
        self.verbose = verbose
        self.started = self.last = time.monotonic()
        self.current: str | None = None

    def __call__(self, name: str) -> None:
        self._finish_current()
        self.current = name or None

    def _finish_current(self) -> None:
        now = time.monotonic()
        if self.current is not None and self.verbose:
            self.stream.write(f"{self.current}: {now - self.last:.2f} s\n")
        self.last = now

    def close(self) -> None:
        self._finish_current()
        self.current = None


class Bar(Terminal):
    """A rich progress bar on a terminal's stderr: the step, percentage of steps done, elapsed time and ETA.

    The ETA is estimated from the pace of the steps done so far (steps are not
    equal in length, so it firms up as the run goes). With --verbose each
    step's duration is logged above the bar. The bar's refresh thread is
    started with Ctrl-C blocked, so `uninterrupted` still holds it back, and
    anything written to stderr meanwhile (a checkpoint's `paused at`, an
    error) is printed above the bar.
    """

    def __init__(self, *, verbose: bool, stream=None):
        from rich.console import Console
        from rich.progress import (BarColumn, Progress, SpinnerColumn, TaskProgressColumn, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)

        super().__init__(verbose=verbose, stream=stream)
        self.console = Console(file=self.stream, highlight=False, markup=False, emoji=False)
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 TaskProgressColumn(), TimeElapsedColumn(), TextColumn("ETA"),
                                 TimeRemainingColumn(), console=self.console, transient=True,
                                 redirect_stdout=False)
        self.task = self.progress.add_task("starting", total=None)
        self.done_steps = 0
        with uninterrupted():  # the bar's thread inherits a mask with SIGINT blocked: Ctrl-C stays the main thread's
            self.progress.start()

    def expect(self, steps: int) -> None:
        self.progress.update(self.task, total=max(steps, self.done_steps + 1))

    def __call__(self, name: str) -> None:
        if self.current is not None:
            self.done_steps += 1
        super().__call__(name)
        total = self.progress.tasks[0].total
        if total is not None and self.done_steps >= total:  # more steps than expected: keep a step to go
            self.progress.update(self.task, total=self.done_steps + 1)
        if not name:  # the library's `done()`: the work is over, whatever was expected
            self.progress.update(self.task, total=self.done_steps)
        self.progress.update(self.task, completed=self.done_steps, description=name or "done")

    def _finish_current(self) -> None:
        now = time.monotonic()
        if self.current is not None and self.verbose:
            self.console.print(f"{self.current}: {now - self.last:.2f} s", soft_wrap=True)
        self.last = now

    def close(self) -> None:
        self._finish_current()
        self.current = None
        if self.progress.live.is_started:
            self.progress.stop()


def reporter(*, quiet: bool, verbose: bool, stream=None) -> Terminal:
    """A bar on a terminal, plain lines otherwise; nothing but errors with --quiet."""
    stream = stream or sys.stderr
    if not quiet and stream.isatty():
        return Bar(verbose=verbose, stream=stream)
    return Terminal(verbose=verbose and not quiet, stream=stream)
