"""What the three text rules add to a full audit of sample_data (target: at most 1.5x without them).

Both variants run in this process, alternating, best of N, so machine load hits both alike.
Usage: python bench/text_rules_cost.py [--repeat 5] [--data sample_data]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import audit
from audit.policy import load_policy


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[1] / "sample_data"))
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with_text = load_policy(None)
    without = with_text.model_copy(update={"rules": with_text.rules.model_copy(update={"pii": None, "disclosure": None})})
    best = {"with text rules": float("inf"), "without": float("inf")}
    with tempfile.TemporaryDirectory() as tmp:
        audit.audit(data=args.data, policy=with_text, out=Path(tmp) / "warm")  # imports, caches
        for i in range(args.repeat):
            for name, pol in (("with text rules", with_text), ("without", without)):
                t = time.perf_counter()
                audit.audit(data=args.data, policy=pol, out=Path(tmp) / f"{name}{i}")
                best[name] = min(best[name], time.perf_counter() - t)
    for name, secs in best.items():
        print(f"{name:<16} {secs:7.3f} s  (load + audit + reports, best of {args.repeat})")
    print(f"ratio            {best['with text rules'] / best['without']:7.2f}x  (target <= 1.5x)")


if __name__ == "__main__":
    main()
