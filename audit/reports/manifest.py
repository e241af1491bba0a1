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

from .. import __version__
from ..schemas import LOAD_ORDER, TABLES

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
FINGERPRINT_ALGORITHM = (
    "per row: SHA-256 of the row's canonical text (columns in SPEC order joined by U+001F; an empty value "
    "as '-'; text as <length in characters>:<text>; timestamps as UTC YYYY-MM-DDTHH:MM:SS.ffffffZ, dates "
    "YYYY-MM-DD, integers and decimals (2 places) as digits); per table: the four 64-bit words of the row "
    "digests summed word by word modulo 2^64 (order-independent), as hex; dataset: SHA-256 of the lines "
    "'<table> <rows> <digest>\\n' in load order"
)
_WORD = 2**64


def _value_sql(name: str, kind: str) -> str:
    """A column's canonical text; NULL propagates through || and becomes '-' (cheaper than CASE)."""
    col = f'"{name}"'
    if kind == "timestamp":
        text = f"strftime(timezone('UTC', {col}), '%Y-%m-%dT%H:%M:%S.%fZ')"
    elif kind == "date":
        text = f"strftime({col}, '%Y-%m-%d')"
    elif kind in ("int", "decimal"):
        text = f"CAST({col} AS VARCHAR)"
    else:  # text may hold anything, the separator included: the length makes it unambiguous
        text = f"CAST(length({col}) AS VARCHAR) || ':' || {col}"
    return f"coalesce({text}, '-')"


def row_hash_sql(table: str) -> str:
    """The SHA-256 (hex) of a row's canonical text, over the table's columns by name."""
    return "sha256(" + " || chr(31) || ".join(_value_sql(c.name, c.kind) for c in TABLES[table].columns) + ")"


def words_sql(h: str) -> list[str]:
    """The four 64-bit words of a hex SHA-256, as UBIGINT expressions."""
    return [f"('0x' || substr({h}, {1 + 16 * i}, 16))::UBIGINT" for i in range(4)]


def _table_sql(table: str, rows: str | None = None) -> str:
    """Row count and the four word sums of a table's rows (or of the rows a query selects from it)."""
    words = ", ".join(f"sum({w}::HUGEINT) % {_WORD}" for w in words_sql("h"))
    source = f"({rows}) AS r" if rows else TABLES[table].name
    return f"SELECT count(*), {words} FROM (SELECT {row_hash_sql(table)} AS h FROM {source})"


def _sums(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[int, list[int]]:
    count, *words = con.execute(sql).fetchall()[0]
    return int(count), [int(w or 0) for w in words]


def digest_delta(con: duckdb.DuckDBPyConnection, table: str, sign: int, *, rows: str | None = None,
                 words: str | None = None) -> None:
    """Add (sign 1) or take away (-1) some rows' digests to the table's stored sums.

    The rows are a query over the table's columns (`rows`), or one that returns
    their count and word sums already (`words`: a load computes each row's
    words as it stages the row, with `row_hash_sql` and `words_sql`).
    The digest is a sum, so the store keeps it current as a load writes and
    replaces rows, and a report need not reread millions of stored rows. A
    store without sums (older, or purged) starts from its current rows.
    """
    state = con.execute('SELECT "rows", w0, w1, w2, w3 FROM table_digests WHERE "table" = ?', [table]).fetchall()
    if state:
        total, sums = int(state[0][0]), [int(w) for w in state[0][1:]]
    else:
        total, sums = _sums(con, _table_sql(table))
    n, delta = _sums(con, words if words is not None else _table_sql(table, rows))
    total += sign * n
    sums = [(w + sign * d) % _WORD for w, d in zip(sums, delta)]
    con.execute('DELETE FROM table_digests WHERE "table" = ?', [table])
    con.execute("INSERT INTO table_digests VALUES (?, ?, ?, ?, ?, ?)", [table, total, *sums])


def dataset_fingerprint(con: duckdb.DuckDBPyConnection) -> dict:
    """Row count and an order- and format-independent content digest of every stored table.

    The same rows loaded from CSV, Parquet or JSONL, in any file order, give
    the same fingerprint, because it is computed over the typed stored values.
    The sums the loads keep are used when their row counts match the table's;
    otherwise the table is read again.
    """
    kept = {r[0]: (int(r[1]), [int(w) for w in r[2:]])
            for r in con.execute('SELECT "table", "rows", w0, w1, w2, w3 FROM table_digests').fetchall()}
    tables = {}
    for name in LOAD_ORDER:
        count = int(con.execute(f"SELECT count(*) FROM {name}").fetchone()[0])
        if name in kept and kept[name][0] == count:
            words = kept[name][1]
        else:
            count, words = _sums(con, _table_sql(name))
        tables[name] = {"rows": count, "digest": "".join(f"{w:016x}" for w in words)}
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
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p != out / MANIFEST)


def _serialise(body: dict) -> bytes:
    return (json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def _seal(body: dict) -> bytes:
    """The manifest's bytes, carrying the SHA-256 of its own canonical form without that field."""
    body = {k: v for k, v in body.items() if k != "manifest_sha256"}
    body["manifest_sha256"] = hashlib.sha256(_serialise(body)).hexdigest()
    return _serialise(body)


def manifest(result, out: Path) -> dict:
    """The manifest of the files already written to `out` (result: an AuditResult)."""
    policy = result.policy
    load = result.load
    return {
        "manifest_version": MANIFEST_VERSION,
        "tool": {"name": "contact-audit", "version": __version__},
        "policy": {"id": policy.policy_id, "version": policy.version, "source": policy.source,
                   "sha256": policy.sha256},
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
    }


def write_manifest(result, out: Path) -> None:
    """Written last: it hashes every other file of the report."""
    (out / MANIFEST).write_bytes(_seal(manifest(result, out)))


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
    problems += [Problem(n, "unexpected") for n in _files(out) if n not in files]
    return problems, len(files)
