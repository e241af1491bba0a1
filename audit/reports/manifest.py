"""manifest.json: lets a regulator check that a report directory is exactly what the tool wrote.

It holds the SHA-256 of every other file, the policy's SHA-256, a fingerprint
of the audited input and the run's parameters. `verify` recomputes it.
The manifest guards against accidental or casual change; it is not a
signature (anyone who can edit the files can rewrite the manifest too):
sign it, or send its SHA-256 separately, when that matters.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import duckdb

from .. import __version__, pii
from ..schemas import LOAD_ORDER, SQL_TYPE, TABLES
from .target import PARTIAL_MARK

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
FINGERPRINT_ALGORITHM = (
    "per row: DuckDB {duckdb} hash() of the row's typed values, in SPEC column order (64 bits); per table: the "
    "row hashes summed modulo 2^64 (order-independent), as 16 hex digits; dataset: SHA-256 of the lines "
    "'<table> <rows> <digest>\\n' in load order. Comparable between runs on the same DuckDB version."
).format(duckdb=duckdb.__version__)
_WORD = 2**64


def row_hash_sql(table: str) -> str:
    """A row's 64-bit hash (UBIGINT) over its typed values, the table's columns by name.

    DuckDB's hash() is about thirty times cheaper than SHA-256 over a
    canonical text, which cost more than the rest of a load; it is stable
    for a DuckDB version, which the fingerprint names (docs/reports.md).
    """
    cols = ", ".join(f'CAST("{c.name}" AS {SQL_TYPE[c.kind]})' for c in TABLES[table].columns)
    return f"hash({cols})"


def _table_sql(table: str, rows: str | None = None) -> str:
    """Row count and the hash sum of a table's rows (or of the rows a query selects from it)."""
    source = f"({rows}) AS r" if rows else TABLES[table].name
    return f"SELECT count(*), sum(h::HUGEINT) % {_WORD} FROM (SELECT {row_hash_sql(table)} AS h FROM {source})"


def _sums(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[int, int]:
    count, word = con.execute(sql).fetchall()[0]
    return int(count), int(word or 0)


def digest_delta(con: duckdb.DuckDBPyConnection, table: str, sign: int, *, rows: str | None = None,
                 words: str | None = None) -> None:
    """Add (sign 1) or take away (-1) some rows' digests to the table's stored sums.

    The rows are a query over the table's columns (`rows`), or one that returns
    their count and hash sum already (`words`: a load computes each row's
    hash as it stages the row, with `row_hash_sql`).
    The digest is a sum, so the store keeps it current as a load writes and
    replaces rows, and a report need not reread millions of stored rows. A
    store without sums (older, or purged) starts from its current rows.
    """
    state = con.execute('SELECT "rows", digest FROM table_digests WHERE "table" = ?', [table]).fetchall()
    if state:
        total, digest = int(state[0][0]), int(state[0][1])
    else:
        total, digest = _sums(con, _table_sql(table))
    n, delta = _sums(con, words if words is not None else _table_sql(table, rows))
    con.execute('DELETE FROM table_digests WHERE "table" = ?', [table])
    con.execute("INSERT INTO table_digests VALUES (?, ?, ?)",
                [table, total + sign * n, (digest + sign * delta) % _WORD])


def dataset_fingerprint(con: duckdb.DuckDBPyConnection) -> dict:
    """Row count and an order- and format-independent content digest of every stored table.

    The same rows loaded from CSV, Parquet or JSONL, in any file order, give
    the same fingerprint, because it is computed over the typed stored values.
    The sums the loads keep are used when their row counts match the table's;
    otherwise the table is read again.
    """
    kept = {r[0]: (int(r[1]), int(r[2]))
            for r in con.execute('SELECT "table", "rows", digest FROM table_digests').fetchall()}
    tables = {}
    for name in LOAD_ORDER:
        count = int(con.execute(f"SELECT count(*) FROM {name}").fetchone()[0])
        if name in kept and kept[name][0] == count:
            digest = kept[name][1]
        else:
            count, digest = _sums(con, _table_sql(name))
        tables[name] = {"rows": count, "digest": f"{digest:016x}"}
    lines = "".join(f"{n} {t['rows']} {t['digest']}\n" for n, t in tables.items())
    return {
        "sha256": hashlib.sha256(lines.encode()).hexdigest(),
        "tables": tables,
        "algorithm": FINGERPRINT_ALGORITHM,
    }


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _files(out: Path) -> list[str]:
    skip = {out / MANIFEST, out / PARTIAL_MARK}  # the mark is gone before the report takes its place
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p not in skip)


def _serialise(body: dict) -> bytes:
    return (json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def _seal(body: dict) -> bytes:
    """The manifest's bytes, carrying the SHA-256 of its own canonical form without that field."""
    body = {k: v for k, v in body.items() if k != "manifest_sha256"}
    body["manifest_sha256"] = hashlib.sha256(_serialise(body)).hexdigest()
    return _serialise(body)


def _name_sha256(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8")).hexdigest()


def manifest(result, out: Path, beside: list[str] | tuple = ()) -> dict:
    """The manifest of the files already written to `out` (result: an AuditResult)."""
    policy = result.policy
    load = result.load
    return {
        "manifest_version": MANIFEST_VERSION,
        "tool": {"name": "contact-audit", "version": __version__},
        "policy": {"id": pii.mask_str(policy.policy_id), "version": pii.mask_str(policy.version),
                   "source": pii.mask_str(policy.source), "sha256": policy.sha256},
        "input": getattr(result, "fingerprint", None) or None,
        "run": {
            "since": result.since.isoformat() if result.since else None,
            "until": result.until.isoformat() if result.until else None,
            "started_at": result.started_at.isoformat(),
            "finished_at": result.finished_at.isoformat(),
            "contacts_judged": result.contacts_judged,
            "load_id": load.load_id if load is not None else None,
            "parameters": getattr(result, "params", None) or {},
        },
        "files": {name: {"sha256": file_sha256(out / name), "bytes": (out / name).stat().st_size}
                  for name in _files(out)},
        # Files of others that were in --out when the report was written beside them (a redirected
        # log): by the SHA-256 of their names only, so `verify` knows them without the manifest
        # carrying a name that could be an identifier.
        "beside_sha256": sorted(_name_sha256(n) for n in beside),
    }


def write_manifest(result, out: Path, beside: list[str] | tuple = ()) -> None:
    """Written last: it hashes every other file of the report."""
    (out / MANIFEST).write_bytes(_seal(manifest(result, out, beside)))


@dataclass(frozen=True)
class Problem:
    path: str
    status: str  # changed | missing | unexpected | damaged

    def __str__(self) -> str:
        return f"{self.status}: {self.path}"


def _safe_name(name: str) -> bool:
    p = PurePosixPath(name)
    return bool(name) and not p.is_absolute() and ".." not in p.parts and "\\" not in name


def verify(out: str | Path) -> tuple[list[Problem], int]:
    """(problems, files checked). No problems means every byte is as the tool wrote it."""
    out = Path(out)
    path = out / MANIFEST
    if not path.is_file():
        return [Problem(MANIFEST, "missing")], 0
    raw = path.read_bytes()
    try:
        body = json.loads(raw.decode("utf-8"))
        files = body["files"]
        ok = isinstance(files, dict) and all(
            _safe_name(n) and isinstance(e, dict) and isinstance(e.get("sha256"), str) for n, e in files.items())
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        return [Problem(MANIFEST, "damaged")], 0
    if not ok or _seal(body) != raw:  # any edit, even to white space, breaks the seal
        return [Problem(MANIFEST, "damaged")], 0
    problems = []
    for name, entry in sorted(files.items()):
        f = out / name
        if not f.is_file():
            problems.append(Problem(name, "missing"))
        elif file_sha256(f) != entry["sha256"]:
            problems.append(Problem(name, "changed"))
    known = set(body.get("beside_sha256") or [])
    problems += [Problem(n, "unexpected") for n in _files(out) if n not in files and _name_sha256(n) not in known]
    return problems, len(files)
