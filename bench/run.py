"""Benchmark: the audit against the cost of merely reading the same files, at 1M and 10M contacts.

    python bench/run.py                     # 1m and 10m, Parquet and CSV (about 40 minutes)
    python bench/run.py --sizes 1m --formats parquet --repeat 3
    python bench/run.py --quick             # 100k contacts, Parquet, once (about 2 minutes)
    python bench/run.py --sizes 10m --formats parquet --steps nightly --repeat 3   # nightly vs store size

For each size and format, on the same generated files (`audit sample`, cached
under --work, by default in the temporary directory), it measures wall time and peak memory of:

  floor-duckdb   DuckDB reading the five tables into tables (CREATE TABLE AS SELECT * FROM read_...)
  floor-polars   Polars scan_...().collect() of the same files
  full           audit run --data (load, validate, every rule, every report) into an in-memory store
  nightly        the last day of the largest size's contacts, loaded into a store and audited with
                 --since/--until that day (audit run --db STORE --data DAY ...), on stores holding
                 the most recent 10%, 30% and all of the history before it (--nightly-stores): the
                 same day on a store that has grown, as a store grows night by night. Each store is
                 loaded and audited once beforehand (setup, so its facts are kept, as after the
                 previous night), then copied for each measured night.
  pandas         the same rules in plain pandas (bench/pandas_reference.py), on the 100k dataset,
                 with `audit run` on the same files beside it: a reference for correctness (the two
                 must find the same violations), not a speed target (pandas is not what a team would
                 run at 10M contacts)

Every measured command runs in its own process; its peak memory is that
process's ru_maxrss (read through a small wrapper process: see measure()). Ratios are taken within one run, repetition by
repetition, so that a busy machine slows both sides alike; the load average
is printed with each figure. Results also go to WORK/results.json and, as a
Markdown table, WORK/results.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SIZES = {"100k": 5_400, "1m": 54_000, "10m": 540_000}  # loans -> about that many contacts
TABLES = ("borrowers", "loans", "installments", "emergency_contacts", "contacts")
SEED = 7
TARGETS = {
    "full/floor": 4.0,          # full audit of 10M <= 4x the DuckDB read floor
    "10m/1m": 11.0,             # time(10M) / time(1M)
    "nightly/full": 0.05,       # one new day on a 10M store <= 5% of the full 10M run
    "nightly 10m/1m": 1.3,      # the same day on a 10M store / on a 1M store
    "peak_gb": 4.0,             # full 10M audit with --memory-limit 3GB
}


# ------------------------------------------------------------------ measuring


# Run in a fresh, small Python process that starts the measured command and reports its rusage.
# Linux carries a process's peak RSS across exec (signal->maxrss), so a command forked straight
# from this process (which holds generated data in memory) would report at least this process's
# peak; forked from the small wrapper, it reports its own.
_WRAPPER = """
import json, os, subprocess, sys, time
start = time.perf_counter()
with open(sys.argv[2], "wb") as out:
    proc = subprocess.Popen(sys.argv[3:], stdout=out, stderr=subprocess.STDOUT, close_fds=True)
    _, status, usage = os.wait4(proc.pid, 0)
wall = time.perf_counter() - start
json.dump({"code": os.waitstatus_to_exitcode(status), "wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
           "maxrss_kb": usage.ru_maxrss}, open(sys.argv[1], "w"))
"""


def measure(cmd: list[str], log: Path, env: dict | None = None) -> dict:
    """Run a command in its own process: wall seconds, CPU seconds and peak memory (MB) of that process."""
    log.parent.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    report = log.with_suffix(".rusage.json")
    subprocess.run([sys.executable, "-c", _WRAPPER, str(report), str(log), *cmd], env=env, cwd=ROOT, check=True)
    r = json.loads(report.read_text())
    if r["code"] not in (0, 1):
        tail = log.read_text(errors="replace")[-2000:]
        raise SystemExit(f"failed ({r['code']}): {' '.join(cmd)}\n{tail}")
    return {"wall_s": round(r["wall"], 2), "cpu_s": round(r["cpu"], 2),
            "peak_mb": round(r["maxrss_kb"] / 1024), "load": round(load, 1)}


def audit_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "audit.cli", *args]


# ------------------------------------------------------------------ the floor (run in a child process)


def table_files(data: Path, table: str, fmt: str) -> list[str]:
    files = sorted(data.glob(f"{table}.{fmt}")) + sorted((data / table).glob(f"*.{fmt}"))
    return [str(f) for f in files]


def floor(engine: str, data: Path, fmt: str) -> None:
    rows = 0
    if engine == "duckdb":
        import duckdb

        con = duckdb.connect()
        for t in TABLES:
            reader = "read_parquet" if fmt == "parquet" else "read_csv"
            con.execute(f"CREATE TABLE {t} AS SELECT * FROM {reader}(?, union_by_name = true)",
                        [table_files(data, t, fmt)])
            rows += con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
    else:
        import polars as pl

        frames = {}
        for t in TABLES:
            scans = [pl.scan_parquet(f) if fmt == "parquet" else pl.scan_csv(f, infer_schema_length=10_000)
                     for f in table_files(data, t, fmt)]
            frames[t] = pl.concat(scans, how="diagonal_relaxed").collect()
            rows += frames[t].height
    print(f"{engine} read {rows} rows")


# ------------------------------------------------------------------ data


def dataset(work: Path, size: str, fmt: str) -> Path:
    """The generated dataset (cached: the same arguments give the same bytes)."""
    out = work / "data" / f"{size}-{fmt}"
    marker = out / ".bench"
    want = f"loans={SIZES[size]} seed={SEED} format={fmt}"
    if not (marker.is_file() and marker.read_text() == want):
        shutil.rmtree(out, ignore_errors=True)
        print(f"  generating {size} {fmt} ...", flush=True)
        m = measure(audit_cmd("sample", "--loans", str(SIZES[size]), "--seed", str(SEED), "--format", fmt,
                              "--out", str(out)), work / "logs" / f"sample-{size}-{fmt}.log")
        print(f"  generated in {m['wall_s']} s", flush=True)
        marker.write_text(want)
    return out


def split_last_day(data: Path, fmt: str, work: Path, size: str) -> tuple[Path, Path, str]:
    """(history, new day, the day): contacts before the last local day (Asia/Shanghai), and that day's."""
    import polars as pl

    hist, day = work / "nightly" / f"{size}-{fmt}" / "history", work / "nightly" / f"{size}-{fmt}" / "day"
    marker = hist.parent / ".bench"
    files = table_files(data, "contacts", fmt)
    # The last full day: a few contacts in western zones fall on the next Shanghai date.
    days = pl.concat([_instants(_read(f, fmt)).dt.convert_time_zone("Asia/Shanghai").dt.date().drop_nulls()
                      for f in files]).value_counts().sort(by=pl.first())
    recent = days.tail(15).get_column("count").median()
    last = days.filter(pl.col("count") >= recent / 2).get_column(days.columns[0]).max()
    cut = datetime(last.year, last.month, last.day, tzinfo=timezone(timedelta(hours=8))).astimezone(timezone.utc)
    if marker.is_file() and marker.read_text() == str(last):
        return hist, day, last.isoformat()
    shutil.rmtree(hist.parent, ignore_errors=True)
    (hist / "contacts").mkdir(parents=True)
    day.mkdir(parents=True)
    for t in TABLES[:-1]:
        for f in table_files(data, t, fmt):
            rel = Path(f).relative_to(data)
            (hist / rel).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(f, hist / rel)
    new_rows = []
    for f in files:
        raw = _read(f, fmt)
        is_new = (_instants(raw) >= cut).fill_null(False)
        old = raw.filter(~is_new)
        target = hist / "contacts" / Path(f).name
        old.write_parquet(target) if fmt == "parquet" else old.write_csv(target)
        if is_new.any():
            new_rows.append(raw.filter(is_new))
    new = pl.concat(new_rows, how="diagonal_relaxed")
    new.write_parquet(day / "contacts.parquet") if fmt == "parquet" else new.write_csv(day / "contacts.csv")
    marker.write_text(str(last))
    return hist, day, last.isoformat()


def _read(path: str, fmt: str):
    import polars as pl

    return pl.read_parquet(path) if fmt == "parquet" else pl.read_csv(path, infer_schema=False)


def _instants(df):
    """The contacts' ts as UTC instants (null where it does not parse: the deliberately bad rows)."""
    import polars as pl

    ts = df.get_column(next(c for c in df.columns if c.lower() == "ts"))
    if ts.dtype == pl.String:
        text = ts.str.replace(r"^(\d{4}-\d{2}-\d{2}) ", "${1}T").str.replace("Z$", "+00:00")
        return text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", time_zone="UTC", time_unit="us", strict=False)
    return ts.dt.convert_time_zone("UTC") if ts.dtype.time_zone else ts.dt.replace_time_zone("UTC")


# ------------------------------------------------------------------ the run


def machine() -> dict:
    mem = next((int(line.split()[1]) // 1024 for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), None) if Path("/proc/meminfo").exists() else None
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    import duckdb
    import polars as pl

    return {"cores": os.cpu_count(), "memory_mb": mem, "cpu": cpu, "python": platform.python_version(),
            "duckdb": duckdb.__version__, "polars": pl.__version__, "os": platform.platform()}


def run_size(args, work: Path, size: str, fmt: str, results: dict) -> None:
    data = dataset(work, size, fmt)
    key = f"{size}-{fmt}"
    runs = results.setdefault(key, {"size": size, "format": fmt, "runs": []})
    limit = [] if args.memory_limit == "none" else ["--memory-limit", args.memory_limit]
    threads = ["--threads", str(args.threads)] if args.threads else []
    for i in range(args.repeat):
        r: dict = {}
        if "floor" in args.steps:
            r["floor_duckdb"] = measure([sys.executable, str(HERE / "run.py"), "--floor", "duckdb", str(data), fmt],
                                        work / "logs" / f"floor-duckdb-{key}.log")
            r["floor_polars"] = measure([sys.executable, str(HERE / "run.py"), "--floor", "polars", str(data), fmt],
                                        work / "logs" / f"floor-polars-{key}.log")
        if "full" in args.steps:
            out = work / "out" / f"full-{key}"
            r["full"] = measure(audit_cmd("run", "--data", str(data), "--policy", str(args.policy), "--out", str(out),
                                          "--quiet", *limit, *threads), work / "logs" / f"full-{key}.log")
            summary = json.loads((out / "summary.json").read_text())
            r["contacts"] = summary["contacts_judged"]
            r["violations"] = summary["violations"]["total"]
        runs["runs"].append(r)
        print_run(key, i, r)


def history_stores(hist: Path, fmt: str, fractions: list[float]) -> list[tuple[float, Path]]:
    """History directories holding the most recent `fraction` of the history's contacts (all other
    tables whole): the store as it was when it had grown to that size."""
    import polars as pl

    files = table_files(hist, "contacts", fmt)
    out = []
    for fraction in fractions:
        if fraction >= 1:
            out.append((1.0, hist))
            continue
        part = hist.parent / f"history-{fraction:g}"
        marker = part / ".bench"
        if not (marker.is_file() and marker.read_text() == str(fraction)):
            shutil.rmtree(part, ignore_errors=True)
            (part / "contacts").mkdir(parents=True)
            for t in TABLES[:-1]:
                for f in table_files(hist, t, fmt):
                    rel = Path(f).relative_to(hist)
                    (part / rel).parent.mkdir(parents=True, exist_ok=True)
                    os.symlink(Path(f).resolve(), part / rel)
            instants = pl.concat([_instants(_read(f, fmt)) for f in files]).drop_nulls().sort()
            cut = instants[int(len(instants) * (1 - fraction))]
            for f in files:
                raw = _read(f, fmt)
                keep = raw.filter((_instants(raw) >= cut).fill_null(False))
                target = part / "contacts" / Path(f).name
                keep.write_parquet(target) if fmt == "parquet" else keep.write_csv(target)
            marker.write_text(str(fraction))
        out.append((fraction, part))
    return out


def run_nightly(args, work: Path, fmt: str, results: dict) -> None:
    """The same new day on stores of growing size: its time must stay flat."""
    size = args.sizes.split(",")[-1]
    data = dataset(work, size, fmt)
    hist, day, the_day = split_last_day(data, fmt, work, size)
    before = (datetime.fromisoformat(the_day) - timedelta(days=1)).date().isoformat()
    limit = [] if args.memory_limit == "none" else ["--memory-limit", args.memory_limit]
    threads = ["--threads", str(args.threads)] if args.threads else []
    for fraction, part in history_stores(hist, fmt, [float(f) for f in args.nightly_stores.split(",")]):
        key = f"nightly-{size}-{fmt}-store{fraction:g}"
        res = results.setdefault(key, {"size": size, "format": fmt, "store_fraction": fraction, "runs": []})
        base = work / "nightly" / f"{size}-{fmt}" / f"store-{fraction:g}.duckdb"
        if not base.exists():
            print(f"  store {fraction:g}: loading the history and judging the day before it (setup) ...", flush=True)
            tmp = base.with_suffix(".partial")
            tmp.unlink(missing_ok=True)
            res["history_load"] = measure(audit_cmd("load", str(part), "--db", str(tmp), "--quiet"),
                                          work / "logs" / f"history-{key}.log")
            res["history_audit"] = measure(audit_cmd("run", "--db", str(tmp), "--since", before, "--until", before,
                                                     "--policy", str(args.policy), "--out", str(work / "out" / f"setup-{key}"),
                                                     "--quiet", *limit, *threads),
                                           work / "logs" / f"history-audit-{key}.log")
            tmp.rename(base)
        import duckdb

        con = duckdb.connect(str(base), read_only=True)
        res["store_contacts"] = con.execute("SELECT count(*) FROM contacts").fetchone()[0]
        con.close()
        for i in range(args.repeat):
            store = base.with_name("nightly.duckdb")
            shutil.copyfile(base, store)
            out = work / "out" / key
            m = measure(audit_cmd("run", "--db", str(store), "--data", str(day), "--since", the_day,
                                  "--until", the_day, "--policy", str(args.policy), "--out", str(out),
                                  "--quiet", *limit, *threads), work / "logs" / f"{key}.log")
            m["contacts_judged"] = json.loads((out / "summary.json").read_text())["contacts_judged"]
            store.unlink()
            res["runs"].append({"nightly": m})
            print(f"  nightly on a store of {res['store_contacts']:,} contacts #{i + 1}: {fmt_m(m)}, "
                  f"{m['contacts_judged']:,} judged", flush=True)


def run_pandas(args, work: Path, results: dict) -> None:
    data = dataset(work, "100k", "parquet")
    check = subprocess.run([args.pandas_python, "-c", "import pandas, yaml, pyarrow"], capture_output=True)
    if check.returncode != 0:
        print(f"  pandas reference skipped: {args.pandas_python} cannot import pandas, pyyaml and pyarrow "
              "(pip install -e '.[bench]', or --pandas-python PATH)", flush=True)
        return
    runs = results.setdefault("pandas", {"runs": []})
    for i in range(args.repeat):
        r = {"pandas": measure([args.pandas_python, str(HERE / "pandas_reference.py"), str(data), str(args.policy),
                                str(work / "out" / "pandas.csv")], work / "logs" / "pandas.log")}
        out = work / "out" / "audit-100k"
        r["audit"] = measure(audit_cmd("run", "--data", str(data), "--policy", str(args.policy), "--out", str(out),
                                       "--quiet"), work / "logs" / "audit-100k.log")
        r["contacts"] = json.loads((out / "summary.json").read_text())["contacts_judged"]
        r["agreement"] = agreement(work / "out" / "pandas.csv", out / "violations.csv")
        runs["runs"].append(r)
        print(f"  pandas #{i + 1}: pandas {fmt_m(r['pandas'])} | audit {fmt_m(r['audit'])} | "
              f"same violations: {r['agreement']}", flush=True)


def agreement(pandas_csv: Path, audit_csv: Path) -> str:
    import polars as pl

    a = pl.read_csv(pandas_csv, infer_schema=False).select("rule_id", "event_id")
    b = pl.read_csv(audit_csv, infer_schema=False).select("rule_id", "event_id")
    both = a.join(b, on=["rule_id", "event_id"]).height
    return f"{both} of {b.height} (pandas alone {a.height - both}, audit alone {b.height - both})"


def fmt_m(m: dict) -> str:
    return f"{m['wall_s']:.1f} s, {m['peak_mb']} MB (load {m['load']})"


def print_run(key: str, i: int, r: dict) -> None:
    parts = [f"{name} {fmt_m(m)}" for name, m in r.items() if isinstance(m, dict)]
    print(f"  {key} #{i + 1}: " + " | ".join(parts), flush=True)


# ------------------------------------------------------------------ the report


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}" if len(values) > 1 else "-"


def summarise(results: dict, args) -> tuple[list[str], dict]:
    lines = ["| dataset | step | wall s (median) | range | CPU s (median) | peak MB | load avg | contacts/s |",
             "|---|---|---|---|---|---|---|---|"]
    ratios: dict[str, list[float]] = {}
    for key, res in results.items():
        if key in ("machine", "args", "pandas", "ratios"):
            continue
        steps = sorted({s for r in res["runs"] for s, m in r.items() if isinstance(m, dict)},
                       key=["floor_duckdb", "floor_polars", "full", "nightly"].index)
        n = med([r["contacts"] for r in res["runs"] if "contacts" in r]) if any(
            "contacts" in r for r in res["runs"]) else None
        label = f"{key} ({res['store_contacts']:,} stored)" if "store_contacts" in res else key
        for setup in ("history_load", "history_audit"):
            if setup in res:
                m = res[setup]
                lines.append(f"| {label} | {setup.replace('_', ' ')} (setup) | {m['wall_s']:.1f} | - | {m['cpu_s']:.1f} | "
                             f"{m['peak_mb']} | {m['load']} | - |")
        for s in steps:
            ms = [r[s] for r in res["runs"] if s in r]
            w = [m["wall_s"] for m in ms]
            rate = f"{n / med(w):,.0f}" if n and s == "full" else (
                f"{med([m['contacts_judged'] for m in ms]):,.0f} judged" if s == "nightly" else "")
            lines.append(f"| {label} | {s} | {med(w):.1f} | {spread(w)} | {med([m['cpu_s'] for m in ms]):.1f} | "
                         f"{max(m['peak_mb'] for m in ms)} | {spread([m['load'] for m in ms]) if len(ms) > 1 else ms[0]['load']} "
                         f"| {rate} |")
        for r in res["runs"]:
            if "full" in r and "floor_duckdb" in r:
                ratios.setdefault(f"{key} full/floor-duckdb", []).append(r["full"]["wall_s"] / r["floor_duckdb"]["wall_s"])
            if "full" in r and "floor_polars" in r:
                ratios.setdefault(f"{key} full/floor-polars", []).append(r["full"]["wall_s"] / r["floor_polars"]["wall_s"])
    for key, res in results.items():
        if not key.startswith("nightly-") or res.get("store_fraction") != 1.0:
            continue
        full = results.get(f"{res['size']}-{res['format']}")
        if full and any("full" in r for r in full["runs"]):  # repetition by repetition
            pairs = zip([r["full"]["wall_s"] for r in full["runs"] if "full" in r],
                        [r["nightly"]["wall_s"] for r in res["runs"]])
            ratios[f"{res['size']}-{res['format']} nightly/full"] = [n / f for f, n in pairs]
            pairs = zip([r["full"]["cpu_s"] for r in full["runs"] if "full" in r],
                        [r["nightly"]["cpu_s"] for r in res["runs"]])
            ratios[f"{res['size']}-{res['format']} nightly/full, CPU seconds"] = [n / f for f, n in pairs]
        smallest = min((r for r in results.values() if isinstance(r, dict) and r.get("size") == res["size"]
                        and r.get("format") == res["format"] and "store_fraction" in r),
                       key=lambda r: r["store_fraction"])
        if smallest is not res:
            ratios[f"{res['size']}-{res['format']} nightly, store {res['store_contacts'] / 1e6:.1f}M / "
                   f"{smallest['store_contacts'] / 1e6:.1f}M"] = [
                b["nightly"]["wall_s"] / a["nightly"]["wall_s"] for a, b in zip(smallest["runs"], res["runs"])]
            ratios[f"{res['size']}-{res['format']} nightly, store {res['store_contacts'] / 1e6:.1f}M / "
                   f"{smallest['store_contacts'] / 1e6:.1f}M, CPU seconds"] = [
                b["nightly"]["cpu_s"] / a["nightly"]["cpu_s"] for a, b in zip(smallest["runs"], res["runs"])]
    for fmt in ("parquet", "csv"):
        small, big = results.get(f"1m-{fmt}"), results.get(f"10m-{fmt}")
        if small and big:
            pairs = zip([r["full"]["wall_s"] for r in small["runs"] if "full" in r],
                        [r["full"]["wall_s"] for r in big["runs"] if "full" in r])
            ratios[f"{fmt} full 10m/1m"] = [b / a for a, b in pairs]
    pd_runs = results.get("pandas", {}).get("runs", [])
    if pd_runs:
        n_pd = med([r["contacts"] for r in pd_runs])
        w_pd = [r["pandas"]["wall_s"] for r in pd_runs]
        w_au = [r["audit"]["wall_s"] for r in pd_runs]
        lines.append(f"| 100k-parquet | pandas reference | {med(w_pd):.1f} | {spread(w_pd)} | - | "
                     f"{max(r['pandas']['peak_mb'] for r in pd_runs)} | - | {n_pd / med(w_pd):,.0f} |")
        lines.append(f"| 100k-parquet | audit run, same files | {med(w_au):.1f} | {spread(w_au)} | - | "
                     f"{max(r['audit']['peak_mb'] for r in pd_runs)} | - | {n_pd / med(w_au):,.0f} |")
    return lines, ratios


def report(results: dict, args, work: Path) -> None:
    lines, ratios = summarise(results, args)
    m = results["machine"]
    head = [f"Machine: {m['cores']} cores, {m['memory_mb'] / 1024:.0f} GB, {m['cpu']}; Python {m['python']}, "
            f"DuckDB {m['duckdb']}, Polars {m['polars']}. Policy: {Path(args.policy).name}; "
            f"--memory-limit {args.memory_limit}; {args.repeat} repetition(s).", ""]
    rl = ["", "| ratio | median | range | target |", "|---|---|---|---|"]
    for name, vals in ratios.items():
        target = ""
        if "CPU" in name:
            target = "(for a busy machine)"
        elif "full/floor-duckdb" in name and name.startswith("10m"):
            target = f"<= {TARGETS['full/floor']:g}"
        elif "10m/1m" in name:
            target = f"<= {TARGETS['10m/1m']:g}"
        elif "nightly/full" in name and name.startswith("10m"):
            target = f"<= {TARGETS['nightly/full']:g}"
        elif "nightly, store" in name and name.startswith("10m"):
            target = f"<= {TARGETS['nightly 10m/1m']:g} (10M / 1M store)"
        rl.append(f"| {name} | {med(vals):.3g} | {spread(vals)} | {target} |")
    peak = [r["full"]["peak_mb"] for key in ("10m-parquet", "10m-csv") for r in results.get(key, {}).get("runs", [])
            if "full" in r]
    if peak:
        rl.append(f"| peak memory of the full 10M audit (GB) | {max(peak) / 1024:.2f} | - | "
                  f"<= {TARGETS['peak_gb']:g} with --memory-limit 3GB |")
    pd_runs = results.get("pandas", {}).get("runs", [])
    notes = [f"", f"pandas reference and audit found the same violations: {pd_runs[-1]['agreement']}."] if pd_runs else []
    text = "\n".join(head + lines + rl + notes) + "\n"
    print("\n" + text)
    (work / "results.md").write_text(text)
    results["ratios"] = {k: v for k, v in ratios.items()}
    (work / "results.json").write_text(json.dumps(results, indent=2, default=str))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="1m,10m", help="Comma-separated: 100k, 1m, 10m (default 1m,10m).")
    p.add_argument("--formats", default="parquet,csv", help="Comma-separated: parquet, csv.")
    p.add_argument("--steps", default="floor,full,nightly,pandas",
                   help="Comma-separated subset of floor, full, nightly, pandas.")
    p.add_argument("--repeat", type=int, default=1, help="Repetitions of every measured step.")
    p.add_argument("--nightly-stores", default="0.1,0.3,1",
                   help="Store sizes for the nightly step, as shares of the largest size's history "
                        "(default 0.1,0.3,1: 1M, 3M and 10M contacts for --sizes ...,10m).")
    p.add_argument("--quick", action="store_true", help="100k contacts, Parquet, once: a smoke run.")
    p.add_argument("--memory-limit", default="3GB", help="Passed to audit run; 'none' for the engine default.")
    p.add_argument("--threads", type=int, help="Passed to audit run (default: all cores).")
    p.add_argument("--policy", default=str(HERE / "policy.yaml"), help="Policy for every audit (default: all rules).")
    p.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "contact-audit-bench"),
                   help="Data, stores, outputs and results; generated data is kept for the next run.")
    p.add_argument("--pandas-python", default=sys.executable, help="Python with pandas for the reference.")
    p.add_argument("--floor", nargs=3, metavar=("ENGINE", "DATA", "FORMAT"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.floor:
        floor(args.floor[0], Path(args.floor[1]), args.floor[2])
        return
    if args.quick:
        args.sizes, args.formats, args.repeat = "100k", "parquet", 1
    args.steps = set(args.steps.split(","))
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    results: dict = {"machine": machine(), "args": {k: (sorted(v) if isinstance(v, set) else v)
                                                     for k, v in vars(args).items()}}
    print(f"machine: {results['machine']}", flush=True)
    for size in args.sizes.split(","):
        for fmt in args.formats.split(","):
            print(f"{size} {fmt}:", flush=True)
            run_size(args, work, size, fmt, results)
    if "nightly" in args.steps:
        for fmt in args.formats.split(","):
            print(f"nightly {fmt}:", flush=True)
            run_nightly(args, work, fmt, results)
    if "pandas" in args.steps:
        print("pandas reference (100k, Parquet):", flush=True)
        run_pandas(args, work, results)
    report(results, args, work)


if __name__ == "__main__":
    main()
