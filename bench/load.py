"""Benchmark of the load alone: the one-pass load against DuckDB merely reading the same files.

    python bench/load.py --sizes 1m --repeat 3          # about 5 minutes
    python bench/load.py --sizes 1m,10m --repeat 3      # add about 15 minutes for 10M (data generated once)
    python bench/load.py --sizes 100k --steps floor,load,polars

On the datasets bench/run.py generates (the same cache under --work), each
repetition measures, each in its own process (bench/run.py's measure(): wall
time, CPU time, peak RSS, load average):

  floor    DuckDB reading the five tables into tables (CREATE TABLE AS SELECT * FROM read_parquet)
  load     the load alone into an in-memory store: load_dataset(), with --memory-limit
  polars   the same load through the Polars path every file took before the one-pass load
  full     audit run --data (load, every rule, every report), with --memory-limit

Ratios are taken repetition by repetition within the run (a busy machine
slows both sides alike) and printed with their spread (min-max). Results go
to WORK/load-results.json and, as Markdown, WORK/load-results.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import audit_cmd, dataset, machine, measure, med, spread  # noqa: E402

TARGETS = {"load/floor": 2.0, "full/floor": 4.0, "peak_gb": 4.0}  # at 10M contacts, Parquet, --memory-limit 3GB
STEPS = ("floor", "load", "polars", "full")


def load_child(data: str, memory_limit: str, one_pass: bool) -> None:
    """The load alone, as `audit load` does it, in this process (measured by the parent)."""
    from audit.ingest import load_dataset
    from audit.store import connect

    con = connect(memory_limit=None if memory_limit == "none" else memory_limit)
    result = load_dataset(con, data, one_pass=one_pass)
    counts = {k: v.as_dict() for k, v in result.counts.items()}
    print(json.dumps({"counts": counts, "rejected": result.rejected.height}))


def run_size(args, work: Path, size: str, results: dict) -> None:
    data = dataset(work, size, "parquet")
    logs = work / "logs"
    runs = results.setdefault(size, [])
    limit = [] if args.memory_limit == "none" else ["--memory-limit", args.memory_limit]
    for i in range(args.repeat):
        r: dict = {}
        if "floor" in args.steps:
            r["floor"] = measure([sys.executable, str(HERE / "run.py"), "--floor", "duckdb", str(data), "parquet"],
                                 logs / f"load-floor-{size}.log")
        for step, one_pass in (("load", True), ("polars", False)):
            if step in args.steps:
                r[step] = measure([sys.executable, str(HERE / "load.py"), "--child", str(data), args.memory_limit,
                                   "one-pass" if one_pass else "polars"], logs / f"load-{step}-{size}.log")
                r[step]["result"] = json.loads((logs / f"load-{step}-{size}.log").read_text().splitlines()[-1])
        if "full" in args.steps:
            out = work / "out" / f"load-bench-full-{size}"
            r["full"] = measure(audit_cmd("run", "--data", str(data), "--policy", str(args.policy), "--out", str(out),
                                          "--quiet", *limit), logs / f"load-full-{size}.log")
        if "load" in r and "polars" in r:
            assert r["load"]["result"] == r["polars"]["result"], "the two load paths disagree on the counts"
        runs.append(r)
        print(f"  {size} #{i + 1}: " + " | ".join(
            f"{s} {m['wall_s']:.1f} s, {m['peak_mb']} MB (load avg {m['load']})" for s, m in r.items()), flush=True)


def summarise(results: dict) -> str:
    lines = ["| dataset | step | wall s (median) | range | CPU s (median) | peak RSS MB | load avg |",
             "|---|---|---|---|---|---|---|"]
    ratios = ["", "| dataset | ratio | wall: median | range | CPU: median | range | target (10M, wall) |",
              "|---|---|---|---|---|---|---|"]
    for size, runs in results.items():
        if size in ("machine", "args"):
            continue
        for step in STEPS:
            ms = [r[step] for r in runs if step in r]
            if ms:
                w = [m["wall_s"] for m in ms]
                loads = [m["load"] for m in ms]
                lines.append(f"| {size} | {step} | {med(w):.1f} | {spread(w)} | {med([m['cpu_s'] for m in ms]):.1f} | "
                             f"{max(m['peak_mb'] for m in ms)} | {min(loads):.1f}-{max(loads):.1f} |")
        pairs = [(s, "floor", f"{s}/floor") for s in ("load", "polars", "full")] + [
            ("polars", "load", "polars/load (speed-up)")]
        for top, bottom, name in pairs:
            both = [r for r in runs if top in r and bottom in r]
            if both:
                wall = [r[top]["wall_s"] / r[bottom]["wall_s"] for r in both]
                cpu = [r[top]["cpu_s"] / r[bottom]["cpu_s"] for r in both]
                target = TARGETS.get(name)
                ratios.append(f"| {size} | {name} | {med(wall):.2f} | {spread(wall)} | {med(cpu):.2f} | {spread(cpu)} | "
                              f"{f'<= {target:g}' if target else ''} |")
    return "\n".join(lines + ratios) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="1m", help="Comma-separated: 100k, 1m, 10m (default 1m).")
    p.add_argument("--steps", default="floor,load,polars,full", help="Comma-separated subset of " + ", ".join(STEPS))
    p.add_argument("--repeat", type=int, default=3, help="Repetitions of every measured step (default 3).")
    p.add_argument("--memory-limit", default="3GB", help="DuckDB memory limit of the load and the full run; 'none'.")
    p.add_argument("--policy", default=str(HERE / "policy.yaml"), help="Policy of the full run (default: all rules).")
    p.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "contact-audit-bench"),
                   help="Data and results; generated data is shared with bench/run.py and kept.")
    p.add_argument("--child", nargs=3, metavar=("DATA", "LIMIT", "PATH"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        load_child(args.child[0], args.child[1], args.child[2] == "one-pass")
        return
    args.steps = set(args.steps.split(","))
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    results: dict = {"machine": machine(), "args": {k: sorted(v) if isinstance(v, set) else v
                                                     for k, v in vars(args).items()}}
    print(f"machine: {results['machine']}", flush=True)
    for size in args.sizes.split(","):
        print(f"{size} parquet:", flush=True)
        run_size(args, work, size, results)
    text = summarise(results)
    print("\n" + text)
    (work / "load-results.md").write_text(text)
    (work / "load-results.json").write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
