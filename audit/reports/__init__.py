"""Report writers: one module per output; `write_reports` writes them all atomically."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .. import progress
from ..engine import AuditResult
from .agents import write_agents
from .html import write_html
from .manifest import write_manifest
from .summary import write_summary
from .tables import write_rejected, write_violations
from .target import check_target, foreign_entries, staged_report

__all__ = ["write_reports", "check_target"]


def write_reports(result: AuditResult, out_dir: str | Path, *, data: str | Path | None = None,
                  db: str | Path | None = None, lock_timeout: float = 60.0,
                  extra: Callable[[Path], None] | None = None) -> Path:
    """Write every output into a private directory beside `out_dir`, then swap it into place.

    `data` and `db` are what the run read: `out_dir` may neither hold nor lie
    inside them (reports/target.py says what may be replaced). `extra` writes
    more files into the same private directory (the Spark engine's Parquet).
    """
    with staged_report(out_dir, data=data, db=db, lock_timeout=lock_timeout) as tmp:
        progress.step("write violations.csv and violations.parquet")
        write_violations(result, tmp)
        progress.step("write rejected.csv and summary.json")
        write_rejected(result, tmp)
        write_summary(result, tmp)
        progress.step("write report.html")
        write_html(result, tmp, db=db)
        write_agents(result, tmp)
        if extra is not None:
            extra(tmp)
        progress.step("write manifest.json")
        progress.checkpoint("report-written")
        write_manifest(result, tmp, foreign_entries(Path(out_dir)))  # last: it hashes every other file
    return Path(out_dir)
