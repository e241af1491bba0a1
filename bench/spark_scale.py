"""Benchmark: the Spark engine's driver at 1M and 10M contacts, on local[1], local[2] and a standalone cluster.

    python bench/spark_scale.py --sizes 1m              # local[1], local[2], two-worker standalone
    python bench/spark_scale.py --sizes 1m,10m --masters local[2]

Each run is its own process (one SparkContext per process). It reports:

  wall per stage   the tool's own progress steps (list, read and check each table, rules, writes)
  driver bytes     what the driver read back from Spark: Arrow bytes of every toArrow, and the
                   size of every collected Row (pickled), summed
  python peak      ru_maxrss of the driver's Python process
  jvm peak         VmHWM of the driver JVM (in local mode the executors run inside it too;
                   on the standalone cluster they are the workers' own processes)

The ratio that matters is the driver's peak at 10M over its peak at 1M, taken
in the same invocation on the same machine. Data comes from `audit sample
--format parquet` (cached under --work). The standalone cluster is started
from pyspark's own `spark-class` (1 core, 2 GB per worker) and stopped after.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

SIZES = {"100k": 5_400, "1m": 54_000, "10m": 540_000}  # loans -> about that many contacts (bench/run.py)
SEED = 7


def child(data: str, master: str, out: str) -> None:
    """One measured run, in this process; prints one JSON line."""
    from pyspark.sql.classic.dataframe import DataFrame  # the class a local or standalone session returns

    import audit
    from audit import progress

    received = {"bytes": 0, "calls": 0}
    for method in ("collect", "toArrow"):
        original = getattr(DataFrame, method)

        def record(self, *a, _original=original, **k):
            got = _original(self, *a, **k)
            received["calls"] += 1
            received["bytes"] += got.nbytes if hasattr(got, "nbytes") else len(pickle.dumps([tuple(r) for r in got]))
            return got
        setattr(DataFrame, method, record)
    stages: list[tuple[str, float]] = []
    peaks: list[int] = []  # the driver's peak resident memory (MB) when each stage began
    step = progress.step

    def timed(name: str, *a, **k):
        stages.append((name, time.monotonic()))
        peaks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
        return step(name, *a, **k)
    progress.step = timed
    started = time.monotonic()
    result = audit.audit(data=data, out=out, engine="spark", spark_master=master)
    ended = time.monotonic()
    from pyspark import SparkContext

    jvm_peak_kb = 0
    proc = getattr(SparkContext._gateway, "proc", None)
    if proc is not None:  # the driver JVM's own high-water mark of resident memory
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                jvm_peak_kb = int(line.split()[1])
    marks = stages + [("end", ended)]
    peaks.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
    per_stage: dict[str, float] = {}
    grew: dict[str, int] = {}  # how much each stage raised the driver's peak (MB)
    for i, ((name, t0), (_, t1)) in enumerate(zip(marks, marks[1:])):
        key = "rule " if name.startswith("rule ") else name
        per_stage[key] = round(per_stage.get(key, 0.0) + t1 - t0, 1)
        grew[key] = grew.get(key, 0) + peaks[i + 1] - peaks[i]
    print(json.dumps({
        "contacts": result.load.counts["contacts"].read, "violations": getattr(result, "violations_total", 0),
        "wall_s": round(ended - started, 1), "stages_s": per_stage,
        "python_peak_growth_mb": {k: v for k, v in grew.items() if v},
        "driver_bytes": received["bytes"], "driver_calls": received["calls"],
        "python_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "jvm_peak_mb": jvm_peak_kb // 1024,
        "load_avg": os.getloadavg()[0],
    }))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_cluster(logs: Path) -> tuple[str, list[subprocess.Popen]]:
    import pyspark

    home = Path(pyspark.__file__).resolve().parent
    env = dict(os.environ, SPARK_HOME=str(home), SPARK_LOG_DIR=str(logs), PYSPARK_PYTHON=sys.executable)
    port, ui = _free_port(), _free_port()
    procs = []
    for args in (["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
                  "--webui-port", str(ui)],
                 *[["org.apache.spark.deploy.worker.Worker", f"spark://127.0.0.1:{port}", "--host", "127.0.0.1",
                    "--cores", "1", "--memory", "2g", "--webui-port", str(_free_port()),
                    "--work-dir", str(logs / f"work-{i}")] for i in (1, 2)]):
        log = (logs / f"{args[0].rsplit('.', 1)[-1]}-{len(procs)}.log").open("wb")
        procs.append(subprocess.Popen([str(home / "bin" / "spark-class"), *args], env=env, stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True))
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{ui}/json/", timeout=5) as r:
                if json.load(r).get("aliveworkers", 0) >= 2:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            stop_cluster(procs)
            raise SystemExit("the standalone cluster did not come up")
        time.sleep(1)
    return f"spark://127.0.0.1:{port}", procs


def stop_cluster(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for p in procs:
        p.wait(timeout=60)


def dataset(work: Path, size: str) -> Path:
    path = work / f"{size}-parquet"
    if not (path / "contacts").is_dir():
        subprocess.run([sys.executable, "-m", "audit.cli", "sample", "--loans", str(SIZES[size]), "--seed", str(SEED),
                        "--format", "parquet", "--out", str(path)], check=True)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1m")
    ap.add_argument("--masters", default="local[1],local[2],standalone")
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "contact-audit-spark-bench"))
    ap.add_argument("--child", nargs=3, metavar=("DATA", "MASTER", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    results = []
    for size in args.sizes.split(","):
        data = dataset(work, size)
        for master in args.masters.split(","):
            procs: list[subprocess.Popen] = []
            url = master
            if master == "standalone":
                logs = Path(tempfile.mkdtemp(prefix="cluster-", dir=work))
                url, procs = start_cluster(logs)
            out = Path(tempfile.mkdtemp(prefix="out-", dir=work)) / "report"
            try:
                r = subprocess.run([sys.executable, __file__, "--child", str(data), url, str(out)],
                                   capture_output=True, text=True)
            finally:
                if procs:
                    stop_cluster(procs)
            if r.returncode != 0:
                print(f"{size} {master}: failed: {r.stderr.strip().splitlines()[-1:]}", flush=True)
                continue
            row = {"size": size, "master": master, **json.loads(r.stdout.strip().splitlines()[-1])}
            results.append(row)
            print(json.dumps(row), flush=True)
    (work / "spark_results.json").write_text(json.dumps(results, indent=2) + "\n")
    by = {(r["size"], r["master"]): r for r in results}
    for master in args.masters.split(","):
        small, big = by.get(("1m", master)), by.get(("10m", master))
        if small and big:
            print(f"{master}: driver python peak 10m/1m = {big['python_peak_mb'] / small['python_peak_mb']:.2f}, "
                  f"jvm peak 10m/1m = {big['jvm_peak_mb'] / max(small['jvm_peak_mb'], 1):.2f}")


if __name__ == "__main__":
    main()
