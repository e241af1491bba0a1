"""Writing a dataset: the random part chunk by chunk, the edge cases, files in the chosen formats."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from .common import CHUNK_LOANS, FORMATS, TABLE_NAMES, ZONES, _money, _Pools, _Rng
from .contacts import CHANNEL_SOURCE, _attributes, _messages, _outcome_pools, _schedule, _template_lookup
from .edge_cases import _edge_cases
from .loans import _installment_rows, _installments, _loans
from .messages import _template_pools
from .people import _emergency_contacts


def _chunk(seed: int, c: int, lo: int, hi: int, event_base: int, pools: _Pools, lookup: pl.DataFrame,
           outcomes: _Pools) -> dict[str, pl.DataFrame]:
    """Loans lo..hi-1 with their borrowers, instalments, emergency contacts and contacts."""
    rng = _Rng(seed, "chunk", c)
    loans = _loans(rng, lo, hi)
    inst = _installments(rng, loans)
    ct = _attributes(rng, _schedule(rng, inst), loans, outcomes)
    ecs = _emergency_contacts(rng, loans)
    contacts = _messages(ct, ecs, pools, lookup, event_base)
    installments = _installment_rows(rng, inst, loans)
    borrowers = loans.select("borrower_id", "name", "id_number", "phone", "bank_card", "address",
                             timezone=pl.col("zone").replace_strict(dict(enumerate(ZONES)), return_dtype=pl.String)
                             .replace("", None))
    return {
        "borrowers": borrowers,
        "loans": loans.select("loan_id", "borrower_id", pl.col("principal") * 100),
        "installments": installments,
        "emergency_contacts": ecs,
        "contacts": contacts,
    }


CONTACT_COLS = ["event_id", "loan_id", "ts", "channel", "recipient_type", "recipient_id", "agent_id", "outcome",
                "duration_s", "content"]


def _write(df: pl.DataFrame, path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        df.write_csv(path)
    elif path.suffix == ".jsonl":
        df.write_ndjson(path)
    else:
        df.write_parquet(path, compression="zstd", statistics=True)
    return df.height


def _utc_typed(ts: pl.Expr) -> pl.Expr:
    """Text with an offset -> an absolute Parquet timestamp (what a typed export holds)."""
    s = ts.str.replace(r"^(\d{4}-\d{2}-\d{2}) ", "${1}T").str.replace(r"Z$", "+00:00")
    return s.str.to_datetime("%Y-%m-%dT%H:%M:%S%:z", time_zone="UTC", time_unit="us")


SAMPLE_MARK = ".contact-audit-sample"


def _refuse_foreign(out: Path) -> None:
    """The table files of `out` are replaced: only in a new or empty directory, or an earlier sample's."""
    from ..errors import UsageError

    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give a new directory")
    if out.is_dir() and any(out.iterdir()) and not (out / SAMPLE_MARK).is_file():
        raise UsageError(f"--out {out} is a directory that holds files `audit sample` did not write; "
                         f"give a new or empty directory")


def _clear(out: Path) -> None:
    """Remove a previous dataset's table files, so a smaller run does not inherit stale partitions."""
    exts = (".csv", ".parquet", ".jsonl")
    for name in TABLE_NAMES:
        for ext in exts:
            (out / f"{name}{ext}").unlink(missing_ok=True)
        d = out / name
        if d.is_dir():
            for f in d.iterdir():
                if f.is_file() and f.suffix in exts:
                    f.unlink()


def _edge_frames(fmt: str, bad_rows: bool) -> tuple[list[tuple[str, pl.DataFrame]], dict[str, pl.DataFrame]]:
    """The edge cases: their own contact and instalment files (relative path, frame), and the rows they
    add to the single-file tables."""
    x, bad, bad_inst = _edge_cases()
    rows = x.contacts + (bad if bad_rows else [])
    if not bad_rows:
        rows = [r for r in rows if r["event_id"] not in ("X-DUP-SAME", "X-CASE-ENUM")]
    cycle = ["a", "b", "c"]
    for i, r in enumerate(rows):
        if r["file"] is None:
            r["file"] = cycle[i % 3] if r["ts"].endswith("+08:00") and "T" in r["ts"] else "a"
    schema = {c: pl.String for c in CONTACT_COLS} | {"duration_s": pl.Int64}
    df = pl.DataFrame([{c: r[c] for c in CONTACT_COLS} | {"file": r["file"]} for r in rows],
                      schema=schema | {"file": pl.String}, orient="row")
    ext = {"mixed": {"a": "csv", "b": "jsonl", "c": "parquet", "resend": "csv"},
           "parquet": dict.fromkeys(("a", "b", "c", "resend"), "parquet"),
           "csv": dict.fromkeys(("a", "b", "c", "resend"), "csv")}[fmt]
    files: list[tuple[str, pl.DataFrame]] = []
    for f in ("a", "b", "c", "resend"):
        part = df.filter(pl.col("file") == f).drop("file")
        if part.is_empty():
            continue
        if f == "c" and ext[f] == "parquet":
            part = part.with_columns(ts=_utc_typed(pl.col("ts")))
        if f == "resend":  # another export tool: upper-case headers
            part = part.rename({c: c.upper() for c in part.columns})
        name = "resend" if f == "resend" else f"manual-{f}"
        files.append((f"contacts/{name}.{ext[f]}", part))
    inst = pl.DataFrame(x.inst + (bad_inst if bad_rows else []),
                        schema={c: pl.String for c in ("loan_id", "seq", "due_date", "amount_due", "paid_at")})
    files.append((f"installments/part-edge.{'csv' if fmt == 'mixed' else fmt}", inst))
    rows = {
        "borrowers": pl.DataFrame(x.borrowers),
        "loans": pl.DataFrame([{k: ln[k] for k in ("loan_id", "borrower_id", "principal")} for ln in x.loans.values()]),
        "emergency_contacts": pl.DataFrame(x.ecs),
    }
    return files, rows


def generate(out_dir: str | Path, *, loans: int = 300, seed: int = 0, fmt: str = "mixed",
             bad_rows: bool = True) -> dict[str, int]:
    """Write a synthetic dataset to `out_dir`; returns rows written per table.

    `loans` random loans are generated, plus the fixed edge-case loans `LX01`..`LX31` (same for every seed).
    `fmt` "mixed" mixes CSV, JSONL and Parquet (contacts and instalments partitioned); "parquet" or "csv"
    use one format throughout (Parquet partitions that must hold unparseable text keep `ts` as text).
    The same arguments give the same bytes.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if loans < 0:
        raise ValueError("loans must be >= 0")
    out = Path(out_dir)
    _refuse_foreign(out)
    out.mkdir(parents=True, exist_ok=True)
    _clear(out)
    (out / SAMPLE_MARK).write_text("written by `audit sample`; a later `audit sample --out` may replace this dataset\n")
    pools, outcomes = _template_pools(), _outcome_pools()
    lookup = _template_lookup(pools)
    counts = dict.fromkeys(TABLE_NAMES, 0)
    small: dict[str, list[pl.DataFrame]] = {"borrowers": [], "loans": [], "emergency_contacts": []}
    part_ext = {"mixed": ("parquet", "csv", "jsonl"), "parquet": ("parquet",) * 3, "csv": ("csv",) * 3}[fmt]
    events = 0
    for c, lo in enumerate(range(0, loans, CHUNK_LOANS)):
        r = _chunk(seed, c, lo, min(lo + CHUNK_LOANS, loans), events, pools, lookup, outcomes)
        ct = r["contacts"]
        events += ct.height
        for k, ext in enumerate(part_ext):
            part = ct.filter(pl.col("file") == k)
            if ext == "parquet":
                part = part.with_columns(ts=pl.col("utc").dt.replace_time_zone("UTC"))
            if ext == "jsonl":  # the messaging platform's export carries an extra column, ignored on load
                part = part.select(*CONTACT_COLS, source=pl.col("channel").replace_strict(CHANNEL_SOURCE))
            else:
                part = part.select(CONTACT_COLS)
            counts["contacts"] += _write(part, out / "contacts" / f"part-{c:04d}-{k}.{ext}")
        inst = r["installments"]
        if fmt == "csv":
            inst = inst.select("loan_id", "seq", "due_date", _money(pl.col("amount_due")).alias("amount_due"), "paid_at")
        else:
            inst = inst.select("loan_id", "seq", "due_date",
                               _money(pl.col("amount_due")).cast(pl.Decimal(18, 2)).alias("amount_due"),
                               pl.col("paid_utc").dt.replace_time_zone("UTC").alias("paid_at"))
        counts["installments"] += _write(inst, out / "installments" / f"part-{c:04d}.{'csv' if fmt == 'csv' else 'parquet'}")
        for t in small:
            small[t].append(r[t])

    edge_files, edge_rows = _edge_frames(fmt, bad_rows)
    for rel, df in edge_files:
        counts[rel.split("/")[0]] += _write(df, out / rel)
    single_ext = {"mixed": {"borrowers": "csv", "loans": "jsonl", "emergency_contacts": "parquet"},
                  "parquet": dict.fromkeys(small, "parquet"), "csv": dict.fromkeys(small, "csv")}[fmt]
    for t, frames in small.items():
        if t == "loans":
            frames = [f.with_columns(principal=_money(pl.col("principal"))) for f in frames]
        df = pl.concat([*frames, edge_rows[t]], how="vertical_relaxed")
        ext = single_ext[t]
        if t == "loans" and ext != "csv":
            df = df.with_columns(pl.col("principal").cast(pl.Float64 if ext == "jsonl" else pl.Decimal(18, 2)))
        counts[t] += _write(df, out / f"{t}.{ext}")
    return counts
