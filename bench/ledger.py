"""What keeping the record costs: appending a nightly run to a store's ledger, against the run itself.

    python bench/ledger.py                 # 1M-contact history (about 2 minutes)
    python bench/ledger.py --loans 400000  # about 10M contacts

A history store is built once (generated data, loaded, one full run
recorded, then a month of nightly runs recorded, so the ledger holds what a
month of operation leaves). Then one more nightly run (the last local day,
--since/--until) is timed in two parts in the same process: judging (load
of nothing new, facts, rules, report rows) and recording (the loads of the
window, statuses, gone, the appends). The target: recording < 10% of the
run. Prints the figures and the ratio.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import audit
from audit import ledger, store
from audit.engine import run_audit
from audit.policy import load_policy
from audit.sample import generate


def timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--loans", type=int, default=40_000, help="Generated loans (about 25 contacts each).")
    p.add_argument("--nights", type=int, default=30, help="Nightly runs recorded before the measured one.")
    p.add_argument("--work", help="Working directory (default: a temporary one, removed at the end).")
    args = p.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-ledger-"))
    try:
        data, db = work / "data", work / "store.duckdb"
        if not db.exists():
            _, t = timed(generate, data, loans=args.loans, seed=1, fmt="parquet", bad_rows=False)
            print(f"generated {args.loans:,} loans in {t:.1f} s")
            _, t = timed(audit.load, data, db=db)
            print(f"loaded in {t:.1f} s")
        policy = load_policy(None)
        con = store.connect(db)
        contacts = store.scalar(con, "SELECT count(*) FROM contacts")
        # The measured night: the busiest day of the history (the generated data thins out at its end).
        last = store.scalar(con, "SELECT ts::DATE AS d FROM contacts GROUP BY d ORDER BY count(*) DESC, d LIMIT 1")
        con.close()
        if not ledger_rows(db):
            _, t = timed(audit.audit, db=db, policy=policy)
            print(f"full run recorded in {t:.1f} s")
            for d in range(args.nights, 0, -1):
                day = last - timedelta(days=d)
                audit.audit(db=db, policy=policy, since=day, until=day)
            print(f"{args.nights} nightly runs recorded; the ledger holds {ledger_rows(db):,} violation rows")
        judge, record, judged, found = measure(db, policy, last)
        print(f"\nhistory: {contacts:,} contacts; measured night: {last} ({judged:,} contacts judged, "
              f"{found:,} violations; the ledger holds {ledger_rows(db):,} rows)")
        print(f"judging the night:  {judge:.2f} s")
        print(f"recording it:       {record:.2f} s")
        print(f"record / run:       {record / (judge + record):.3f}  (target < 0.10)")
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


def ledger_rows(db: Path) -> int:
    con = store.connect(db)
    try:
        return store.scalar(con, "SELECT count(*) FROM run_violations")
    finally:
        con.close()


def measure(db: Path, policy, day: date) -> tuple[float, float, int, int]:
    con = store.connect(db)
    try:
        result, judge = timed(run_audit, con, policy, since=day, until=day)
        t = time.perf_counter()
        result.load = ledger.loads_in_scope(con, windowed=True, current=None)
        ledger.record(con, result, waivers=None, as_of=day, engine="duckdb")
        return judge, time.perf_counter() - t, result.contacts_judged, result.violations.height
    finally:
        con.close()


if __name__ == "__main__":
    main()
