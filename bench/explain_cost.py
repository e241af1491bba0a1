"""What the figures of `audit explain` cost, against judging the contact (what explain did without them).

    python bench/explain_cost.py                  # 4,000 loans (about 100k contacts), 40 contacts
    python bench/explain_cost.py --loans 40000    # about 1M contacts

A store is built once from generated data with every rule switched on
(bench/policy.yaml). Then, in the same process and for the same contacts
(half flagged, half clean), it times the verdicts alone (the rules over the
contact's local day: `run_audit`, as explain runs them) and the whole
explanation (verdicts, figures from audit/evidence.py, facts, timeline).
Prints the time per contact of both and the ratio; the figures are small
indexed reads of the day's facts, so the target is a ratio under 1.5.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path

import audit
from audit import store
from audit.engine import run_audit
from audit.explain import explain
from audit.policy import load_policy
from audit.sample import generate

POLICY = Path(__file__).parent / "policy.yaml"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--loans", type=int, default=4_000, help="Generated loans (about 25 contacts each).")
    p.add_argument("--contacts", type=int, default=40, help="Contacts explained.")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-explain-"))
    try:
        generate(work / "data", loans=args.loans, seed=3, fmt="parquet", bad_rows=False)
        db = work / "store.duckdb"
        result = audit.audit(data=work / "data", db=db, policy=str(POLICY))
        policy = load_policy(str(POLICY))
        flagged = sorted(set(result.violations["event_id"].to_list()))
        con = store.connect(db)
        try:
            every = [e for (e,) in con.execute("SELECT event_id FROM contacts ORDER BY event_id").fetchall()]
            rng = random.Random(5)
            clean = sorted(set(every) - set(flagged))
            sample = rng.sample(flagged, args.contacts // 2) + rng.sample(clean, args.contacts - args.contacts // 2)
            days = dict(con.execute("""
                SELECT c.event_id, CAST(c.ts AT TIME ZONE coalesce(b.timezone, ?) AS DATE)
                FROM contacts c JOIN loans l USING (loan_id) LEFT JOIN borrowers b USING (borrower_id)""",
                                    [policy.default_timezone]).fetchall())
            explain(con, sample[0], policy)  # warm up
            t = time.perf_counter()
            for event in sample:
                run_audit(con, policy, since=days[event], until=days[event])
            verdicts = (time.perf_counter() - t) / len(sample)
            t = time.perf_counter()
            for event in sample:
                explain(con, event, policy)
            whole = (time.perf_counter() - t) / len(sample)
            contacts = len(every)
        finally:
            con.close()
        print(f"{contacts:,} contacts, {len(sample)} explained ({args.contacts // 2} flagged)")
        print(f"verdicts only (the rules over the contact's day): {verdicts * 1000:.0f} ms per contact")
        print(f"explain with figures, facts and timeline:          {whole * 1000:.0f} ms per contact")
        print(f"ratio: {whole / verdicts:.2f}x (target < 1.5)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
