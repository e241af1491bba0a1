"""violations.csv / violations.parquet / rejected.csv: masked, Excel-safe, reproducible."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from .. import pii
from ..engine import AuditResult
from ..ingest import REJECTED_SCHEMA

_FORMULA_START = r"^[=+\-@\t\r]"


def excel_safe(df: pl.DataFrame) -> pl.DataFrame:
    """Neutralise cells a spreadsheet would run as formulas (OWASP: prefix a single quote).

    Only columns that hold such a cell are rewritten: the others are shared,
    not copied (a report can have millions of rows).
    """
    text = [c for c, t in df.schema.items() if t == pl.String]
    risky = df.select(pl.col(c).str.contains(_FORMULA_START).any() for c in text).row(0) if text else ()
    return df.with_columns(
        pl.when(pl.col(c).str.contains(_FORMULA_START)).then(pl.lit("'") + pl.col(c)).otherwise(pl.col(c)).alias(c)
        for c, hit in zip(text, risky) if hit
    )


def masked_violations(violations: pl.DataFrame) -> pl.DataFrame:
    """Every text column with every long digit run masked: reports never carry a full identifier.

    All columns, not a list of them: an id column (event, loan, borrower)
    may itself be a phone or ID number, and a column added later is covered.
    """
    return pii.mask_frame(violations)


def write_violations(result: AuditResult, out: Path) -> None:
    if result.violation_files != "report":
        return  # the engine writes them from the rows it kept (Spark's executors), or too many for one file
    v = masked_violations(result.violations)
    v.write_parquet(out / "violations.parquet", compression="zstd", statistics=False)
    excel_safe(v).write_csv(out / "violations.csv")


def masked_rejected(result: AuditResult) -> pl.DataFrame:
    """The load's rejected rows in file order, every text column masked (source file names too)."""
    rej = result.load.rejected if result.load is not None else pl.DataFrame(schema=REJECTED_SCHEMA)
    return pii.mask_frame(rej.sort("table", "source_file", "row"))


def write_rejected(result: AuditResult, out: Path) -> None:
    excel_safe(masked_rejected(result)).write_csv(out / "rejected.csv")
