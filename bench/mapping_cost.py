"""What reading through a mapping (SPEC §8) costs: a mapped load against an unmapped load of the same rows.

One process, the events the loader stores for a generated sample, written
as `audit sample --export` writes them (`cn-callcenter`: Chinese headers
and values, GB18030, slash dates in Beijing wall-clock time, SMS as JSONL;
`us-dialer`: disposition codes and 12-hour UTC times, messages as JSONL)
and read through their mappings. Each is measured against an unmapped load
of the same rows in the same files: SPEC §1 names, values and ISO
timestamps, but the same split into files, the same formats (CSV or JSONL)
and the same encoding, so that the ratio is the cost of the mapping step
and not of JSON against CSV or GB18030 against UTF-8. For reference, the
plain SPEC §1 CSV dataset (UTF-8) is timed too. Each load goes into an
in-memory store; the best of --repeat runs is kept, all runs interleaved so
that machine noise falls on each. Target (issue 14): mapped / unmapped <= 1.2.

    python bench/mapping_cost.py [--loans 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from audit.ingest import load_dataset  # noqa: E402
from audit.mapping import parse_mapping  # noqa: E402
from audit.sample import generate  # noqa: E402
from audit.sample.export import MAPPINGS, SHAPES, _stored  # noqa: E402
from audit.store import connect  # noqa: E402


def _baseline(tables: dict[str, pl.DataFrame], out: Path) -> None:
    """The stored rows as SPEC §1 CSV files: what an unmapped load of the same rows reads."""
    out.mkdir(parents=True)
    for name, df in tables.items():
        df.with_columns([pl.col(c).dt.strftime("%Y-%m-%dT%H:%M:%SZ") for c, d in df.schema.items()
                         if isinstance(d, pl.Datetime)]).write_csv(out / f"{name}.csv")


def _like(shape: str, tables: dict[str, pl.DataFrame], out: Path) -> str:
    """The rows as SPEC §1 files laid out like the export `shape` (files, formats, encoding); returns the encoding."""
    encoding = "gb18030" if shape == "cn-callcenter" else "utf-8"
    zone = "Asia/Shanghai" if shape == "cn-callcenter" else "UTC"

    def text(df: pl.DataFrame) -> pl.DataFrame:
        return df.with_columns([pl.col(c).dt.convert_time_zone(zone).dt.strftime("%Y-%m-%dT%H:%M:%S%:z")
                                for c, d in df.schema.items() if isinstance(d, pl.Datetime)])

    def csv(df: pl.DataFrame, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text(df).write_csv().encode(encoding))

    def jsonl(df: pl.DataFrame, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text(df).write_ndjson().encode(encoding))

    for name in ("borrowers", "loans", "installments", "emergency_contacts"):
        csv(tables[name], out / f"{name}.csv")
    ct = tables["contacts"].sort("ts", "event_id").with_columns(
        pl.col("ts").dt.convert_time_zone(zone).dt.strftime("%Y-%m").alias("_month"))
    calls = pl.col("channel") == "call"
    for (month,), part in ct.filter(calls).partition_by("_month", as_dict=True, maintain_order=True).items():
        csv(part.drop("_month"), out / "contacts" / f"calls-{month}.csv")
    if shape == "cn-callcenter":
        sms = pl.col("channel") == "sms"
        for (month,), part in ct.filter(sms).partition_by("_month", as_dict=True, maintain_order=True).items():
            jsonl(part.drop("_month"), out / "contacts" / f"sms-{month}.jsonl")
        for (month,), part in ct.filter(~calls & ~sms).partition_by("_month", as_dict=True,
                                                                      maintain_order=True).items():
            csv(part.drop("_month"), out / "contacts" / f"other-{month}.csv")
    else:
        jsonl(ct.filter(~calls).drop("_month"), out / "contacts" / "messages.jsonl")
    return encoding


def _load(data: Path, mapping=None, encoding: str = "utf-8") -> tuple[float, int]:
    con = connect(None)
    try:
        t0 = time.perf_counter()
        result = load_dataset(con, data, mapping=mapping, encoding=encoding)
        return time.perf_counter() - t0, result.counts["contacts"].loaded
    finally:
        con.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--loans", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="mapping-cost-") as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        generate(root / "generated", loans=args.loans, seed=args.seed, fmt="csv")
        tables = _stored(root / "generated")
        _baseline(tables, root / "baseline")
        runs = {"SPEC §1 CSV, UTF-8": (root / "baseline", None, "utf-8")}
        for shape, write in SHAPES.items():
            (root / shape).mkdir()
            write(tables, root / shape)
            encoding = _like(shape, tables, root / f"{shape}-unmapped")
            runs[f"{shape}: unmapped"] = (root / f"{shape}-unmapped", None, encoding)
            runs[f"{shape}: mapped"] = (root / shape, parse_mapping(MAPPINGS[shape], shape), "utf-8")
        print(f"{tables['contacts'].height:,} contacts, {tables['installments'].height:,} instalments "
              f"({args.loans:,} loans); data written in {time.perf_counter() - t0:.1f} s", flush=True)
        best: dict[str, float] = {}
        rows: dict[str, int] = {}
        for _ in range(args.repeat):
            for name, (data, mapping, encoding) in runs.items():
                seconds, rows[name] = _load(data, mapping, encoding)
                best[name] = min(best.get(name, seconds), seconds)
        assert len(set(rows.values())) == 1, rows  # the same rows loaded every way
        plain = best["SPEC §1 CSV, UTF-8"]
        print(f"{'load':<28}{'best s':>9}{'/ unmapped':>12}{'/ §1 CSV':>10}")
        ratios = []
        for name, seconds in best.items():
            base = best.get(name.replace(": mapped", ": unmapped"), seconds)
            if name.endswith(": mapped"):
                ratios.append(seconds / base)
            print(f"{name:<28}{seconds:>9.2f}{seconds / base:>12.2f}{seconds / plain:>10.2f}")
        worst = max(ratios)
        print(f"target: mapped <= 1.2 x unmapped (same files): {'met' if worst <= 1.2 else 'not met'} "
              f"(worst {worst:.2f})")


if __name__ == "__main__":
    main()
