"""What report.html costs to write, against violations.csv + violations.parquet for the same rows.

    python bench/report_html.py                # 25,000 violations (above the 20,000 the page embeds)
    python bench/report_html.py --n 5000

The sample data is audited once; its violations are repeated (with distinct
event ids) up to N rows. Then, in the same process, best of 5: rendering the
page (masking, the capped JSON payload, the templates) and writing the two
violations files. Prints both times, their ratio and the page's size.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import audit  # noqa: E402
from audit.reports import html  # noqa: E402
from audit.reports.tables import write_violations  # noqa: E402


def best_of(n: int, fn) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=25_000, help="Violations in the measured result.")
    args = p.parse_args()
    result = audit.audit(data=ROOT / "sample_data")
    v = result.violations
    result.violations = pl.concat([v.with_columns(pl.col("event_id") + f"-{i}")
                                   for i in range(args.n // v.height + 1)]).head(args.n)
    with tempfile.TemporaryDirectory(prefix="bench-report-") as out:
        files = best_of(5, lambda: write_violations(result, Path(out)))
    page = html.render(result)
    render = best_of(5, lambda: html.render(result))
    print(f"{args.n:,} violations ({min(args.n, html.MAX_TABLE_ROWS):,} embedded): report.html {render:.3f} s, "
          f"violations.csv + .parquet {files:.3f} s, ratio {render / files:.2f}; page {len(page) / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
