"""Report writers: one module per output; `write_reports` writes them all atomically."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from .. import progress
from ..engine import AuditResult
from .html import write_html
from .manifest import write_manifest
from .summary import write_summary
from .tables import write_rejected, write_violations

__all__ = ["write_reports"]


def write_reports(result: AuditResult, out_dir: str | Path) -> Path:
    """Write every output into a temporary directory beside `out_dir`, then swap it into place.

    A run killed midway leaves either the previous reports or none, never half a report.
    """
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    for stale in out.parent.glob(f".{out.name}.*.partial"):  # left by a run that was killed
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        progress.step("write violations.csv and violations.parquet")
        write_violations(result, tmp)
        progress.step("write rejected.csv and summary.json")
        write_rejected(result, tmp)
        write_summary(result, tmp)
        progress.step("write report.html")
        write_html(result, tmp)
        progress.step("write manifest.json")
        write_manifest(result, tmp)  # last: it hashes every other file
        os.chmod(tmp, 0o700)  # reports hold personal data, even masked
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
