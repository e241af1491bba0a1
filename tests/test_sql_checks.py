"""The one-pass load's SQL checks agree with parse.py and the pandera schemas, value by value and load by load.

Every boundary value of every §1 column is written to a Parquet file (as
text, and in the file types a writer may give) and judged by both sides: the
SQL of sql_checks.py through DuckDB's reader, and read.py → parse.py →
pandera as before. They must agree on pass or fail, and on the typed value
of what passes; the only difference allowed is a value the SQL hands on to
parse.py although it is valid (DEFERRED), which costs time, never a verdict.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest

from audit.ingest import load_dataset, read_file, validate
from audit.ingest.read import FILE
from audit.ingest.sql_checks import WHITESPACE, quote, render_table
from audit.ingest.sql_stage import plan_file
from audit.schemas import TABLES
from audit.store import connect
from audit.timezones import known_zones

ZONE = "Asia/Shanghai"
UTC = dt.timezone.utc

BASELINE = {  # one valid row of each table, as text
    "borrowers": {"borrower_id": "B1", "name": "Li", "timezone": "Asia/Shanghai"},
    "loans": {"loan_id": "L1", "borrower_id": "B1", "principal": "100.00"},
    "installments": {"loan_id": "L1", "seq": "1", "due_date": "2026-01-01", "amount_due": "10.00"},
    "emergency_contacts": {"borrower_id": "B1", "contact_id": "C1"},
    "contacts": {"event_id": "E1", "loan_id": "L1", "ts": "2026-11-05T10:00:00+08:00", "channel": "sms",
                 "recipient_type": "borrower"},
}

BLANKS = ["", " ", "\t", "\u3000", "\u00a0", None]
TEXT = {
    "str": ["a", " a ", "\u3000a\u00a0", "\x85a\x85", "\u0084a", "a b", "\u200b", "\x1c", "\u2028x", "0", *BLANKS],
    "enum": [" Sms ", "SMS", "Sms\u00a0", "fax", "\u0130m", "\u017fms", "sms\u200b", "s_ms", *BLANKS],
    "zone": ["Asia/Shanghai", " UTC ", "asia/shanghai", "Mars/Base", "Etc/GMT+8", *BLANKS],
    "int": ["0", "1", "-1", "+1", "1.0", "1.00", "1.5", "00", "-0", " 5 ", "1e3", "0x10", "\u0663",
            "999999999999999999", "9999999999999999999", "-9223372036854775808", *BLANKS],
    "decimal": ["0", "0.00", "0.01", "-0.01", "1.5", "1.50", "1.500", "1.505", "1.", ".5", "+1.5", "-0",
                "123456789012345.99", "1234567890123456", "1e2", " 12.30 ", "1,000.00", *BLANKS],
    "date": ["2026-01-01", "2024-02-29", "2026-02-29", "2026-13-01", "2026-00-10", "0000-01-01", "0001-01-01",
             "9999-12-31", "2026-1-1", "2026-01-01T00:00", " 2026-01-01 ", "20260101", *BLANKS],
    "timestamp": [
        "2026-11-05T10:00:00+08:00", "2026-11-05T10:00:00Z", "2026-11-05 10:00:00+08:00", "2026-11-05T10:00+08:00",
        "2026-11-05T10:00:00.5+08:00", "2026-11-05T10:00:00.123456-05:00", "2026-11-05T10:00:00.1234567+08:00",
        "2026-11-05T10:00:00+0800", "2026-11-05T10:00:00+08", "2026-11-05T10:00:00+24:00",
        "2026-11-05T10:00:00+23:59", "2026-11-05T10:00:00+08:60", "2026-11-05T24:00:00+08:00",
        "2026-11-05T23:59:60+08:00", "2026-11-05T10:60:00+08:00", "2026-02-30T10:00:00+08:00",
        "2024-02-29T10:00:00+08:00", "0001-01-01T00:00:00Z", "0001-01-02T00:00:00Z", "0001-01-02T00:00:00+01:00",
        "9999-12-30T00:00:00Z", "9999-12-30T00:00:01Z", "9999-12-29T23:00:00-05:00", "2026-11-05T10:00:00z",
        "2026-11-05t10:00:00Z", " 2026-11-05T10:00:00+08:00 ", "yesterday", "2026-11-05T10:00:00 +08:00",
        "2026-11-05 10:00:00", "2026-11-05T10:00", *BLANKS],
}
# Valid values the SQL leaves to parse.py: wall-clock times (zone rules), sub-microsecond fractions,
# and a space before the offset (Polars' parser takes it; the SQL shape does not).
DEFERRED = {"2026-11-05 10:00:00", "2026-11-05T10:00", "2026-11-05T10:00:00.1234567+08:00",
            "2026-11-05T10:00:00 +08:00"}


def _judge_both(tmp_path: Path, table_name: str, column: str, values: pl.Series) -> list[tuple]:
    """(value, SQL passes, old path passes, SQL typed value, old typed value) for each value in `column`."""
    table = TABLES[table_name]
    base = {k: v for k, v in BASELINE[table_name].items() if k != column}
    frame = pl.DataFrame({k: [v] * len(values) for k, v in base.items()}).with_columns(values.alias(column))
    path = tmp_path / f"{table_name}-{column}-{values.dtype}.parquet".replace(" ", "").replace("/", "_")
    frame.write_parquet(path)
    # The old path: read.py, then parse.py, pandera and the cross-column rules (check.py).
    raw = read_file(path)
    raw = raw.with_columns(*[pl.lit(None, pl.String).alias(c) for c in table.names if c not in raw.columns])
    parsed, reasons = validate(table, raw.with_columns(pl.lit("f").alias(FILE)), ZONE)
    rejected = set(reasons["_idx"].to_list())
    # The SQL: the same file through DuckDB's reader and sql_checks.py.
    con = duckdb.connect()
    plan = plan_file(con, table, path, mapped=False)
    query, params = render_table(table, plan.raw, sorted(known_zones()),
                                 "read_parquet($path, file_row_number = true)", ", file_row_number")
    params.values["path"] = str(path)
    sql = con.execute(f"SELECT {quote(column)}, _valid FROM ({query}) ORDER BY file_row_number",
                      params.values).fetchall()
    old_values = parsed[column].to_list()
    return [(v, sql_ok, i not in rejected, sql_value, old_values[i])
            for i, (v, (sql_value, sql_ok)) in enumerate(zip(values.to_list(), sql))]


def _same_value(a, b) -> bool:
    if isinstance(a, dt.datetime) and isinstance(b, dt.datetime):
        return a.astimezone(UTC) == b.astimezone(UTC)
    return a == b


def _disagreements(rows: list[tuple]) -> list[tuple]:
    out = []
    for v, sql_ok, old_ok, sql_value, old_value in rows:
        if sql_ok and not old_ok:
            out.append((v, "SQL passes a value parse.py/pandera reject"))
        elif old_ok and not sql_ok and v not in DEFERRED:
            out.append((v, "SQL fails a valid value"))
        elif sql_ok and not _same_value(sql_value, old_value):
            out.append((v, f"typed {sql_value!r} != {old_value!r}"))
        elif v in DEFERRED and (sql_ok or not old_ok):
            out.append((v, "listed as deferred but is not"))
    return out


COLUMNS = [(t.name, c.name) for t in TABLES.values() for c in t.columns]


@pytest.mark.parametrize(("table_name", "column"), COLUMNS, ids=[f"{t}.{c}" for t, c in COLUMNS])
def test_sql_and_pandera_agree_on_every_boundary_text_value(tmp_path, table_name, column):
    col = TABLES[table_name].col(column)
    values = TEXT[col.kind] + (list(col.enum) + [e.upper() for e in col.enum] if col.enum else [])
    rows = _judge_both(tmp_path, table_name, column, pl.Series(column, values, dtype=pl.String))
    assert _disagreements(rows) == []
    assert any(r[1] for r in rows) and (not col.required or not all(r[1] for r in rows))  # both verdicts occur


def _ts(*args, **kw) -> dt.datetime:
    return dt.datetime(*args, **kw, tzinfo=UTC)


TYPED = {  # (table, column) -> typed Parquet columns a writer may give
    ("installments", "seq"): [pl.Series([0, 1, -1, 2**40, None], dtype=pl.Int64),
                              pl.Series([0, 1, 7, None], dtype=pl.Int32),
                              pl.Series([0, 1, 2**63 + 5, None], dtype=pl.UInt64)],
    ("contacts", "duration_s"): [pl.Series([0, -1, 60, None], dtype=pl.Int64),
                                 pl.Series([0, 3, None], dtype=pl.UInt8)],
    ("installments", "amount_due"): [
        pl.Series([Decimal("0.01"), Decimal("0.00"), Decimal("-5.00"), Decimal("999999999999999.99"), None],
                  dtype=pl.Decimal(18, 2)),
        pl.Series([Decimal("1.2300"), Decimal("1.2345"), Decimal("0.0001"), None], dtype=pl.Decimal(12, 4)),
        pl.Series([Decimal("1000000000000000.00")], dtype=pl.Decimal(20, 2)),
        pl.Series([1, 0, 250, None], dtype=pl.Int64),
        pl.Series([1.5, 0.1, 1e20, None], dtype=pl.Float64)],
    ("loans", "principal"): [pl.Series([Decimal("0.00"), Decimal("-0.01"), None], dtype=pl.Decimal(18, 2))],
    ("loans", "loan_id"): [pl.Series([7, 0, -3, None], dtype=pl.Int64)],
    ("installments", "due_date"): [pl.Series([dt.date(2026, 1, 1), dt.date(1, 1, 1), dt.date(9999, 12, 31), None])],
    ("contacts", "ts"): [
        *[pl.Series([_ts(2026, 11, 5, 2), _ts(1, 1, 1), _ts(1, 1, 2), _ts(9999, 12, 30), _ts(9999, 12, 30, 0, 0, 1),
                     None]).dt.cast_time_unit(unit) for unit in ("us", "ms")],
        pl.Series([_ts(2026, 11, 5, 2), _ts(2026, 11, 5, 2, 0, 0, 1)]).dt.cast_time_unit("ns"),
        pl.Series([dt.datetime(2026, 11, 5, 10), None])],
    ("installments", "paid_at"): [pl.Series([_ts(2026, 11, 5, 2), None])],
}


@pytest.mark.parametrize(("table_name", "column"), list(TYPED), ids=[f"{t}.{c}" for t, c in TYPED])
def test_sql_and_pandera_agree_on_typed_parquet_columns(tmp_path, table_name, column):
    for series in TYPED[(table_name, column)]:
        rows = _judge_both(tmp_path, table_name, column, series.alias(column))
        # A typed column the SQL does not take (unsigned 64-bit, floats, nanoseconds, wall-clock time)
        # is left to parse.py whole: never a wrong verdict, only the old path's cost.
        deferred = series.dtype in (pl.UInt64, pl.Float64) or (
            isinstance(series.dtype, pl.Datetime) and (series.dtype.time_unit == "ns" or not series.dtype.time_zone))
        for v, sql_ok, old_ok, sql_value, old_value in rows:
            assert not (sql_ok and not old_ok), (series.dtype, v)
            if sql_ok:
                assert _same_value(sql_value, old_value), (series.dtype, v, sql_value, old_value)
            elif not deferred:
                assert not old_ok, (series.dtype, v, "SQL fails a valid value")


def test_required_when_rule_agrees(tmp_path):
    frame = pl.DataFrame({"recipient_type": ["borrower", "emergency_contact", "third_party", "third_party"],
                          "recipient_id": [None, None, " ", "R1"]})
    base = {k: v for k, v in BASELINE["contacts"].items() if k != "recipient_type"}
    path = tmp_path / "c.parquet"
    frame.with_columns(*[pl.lit(v).alias(k) for k, v in base.items()]).write_parquet(path)
    table = TABLES["contacts"]
    _, reasons = validate(table, read_file(path).with_columns(
        *[pl.lit(None, pl.String).alias(c) for c in ("agent_id", "outcome", "duration_s", "content")]), ZONE)
    con = duckdb.connect()
    query, params = render_table(table, plan_file(con, table, path, mapped=False).raw, [],
                                 "read_parquet($path, file_row_number = true)", ", file_row_number")
    params.values["path"] = str(path)
    sql = [r[0] for r in con.execute(f"SELECT _valid FROM ({query}) ORDER BY file_row_number",
                                     params.values).fetchall()]
    assert sql == [i not in set(reasons["_idx"]) for i in range(4)] == [True, False, False, True]


def test_whitespace_is_what_polars_strips():
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    stripped = pl.Series(chars).str.strip_chars()
    assert {c for c, s in zip(chars, stripped.to_list()) if s == ""} == set(WHITESPACE)


def test_no_value_is_pasted_into_the_sql():
    table = TABLES["contacts"]
    query, params = render_table(table, {c.name: (f'"{c.name}"', "VARCHAR") for c in table.columns}, ["UTC"],
                                 "src")
    for value in ("call", "third_party", "do_not_contact", "Asia/Shanghai"):
        assert value not in query
    assert any(v == ["emergency_contact", "third_party"] for v in params.values.values())


# ------------------------------------------------------------------ whole loads: the one-pass path against the Polars path

CONF = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "data"


def _load_both(root: Path, zone: str | None = ZONE) -> list[tuple]:
    """(counts, rejected rows, every stored table) of a load by each path, into fresh stores."""
    out = []
    for one_pass in (True, False):
        con = connect()
        result = load_dataset(con, root, timezone_name=zone, one_pass=one_pass)
        stored = {name: con.execute(f"SELECT * FROM {name} ORDER BY ALL").fetchall() for name in TABLES}
        out.append(({k: v.as_dict() for k, v in result.counts.items()}, result.rejected.to_dicts(), stored))
        con.close()
    return out


def _as_parquet(src: Path, dst: Path) -> Path:
    """Every file of a dataset written again as Parquet, every column as the text it holds."""
    for path in sorted(p for p in src.rglob("*") if p.is_file() and not p.name.startswith((".", "_"))):
        rel = path.relative_to(src)
        target = (dst / rel).with_name(rel.name.split(".")[0] + ".parquet")
        target.parent.mkdir(parents=True, exist_ok=True)
        frame = read_file(path).drop("_row")
        frame.rename({c: c.removeprefix("extra:") for c in frame.columns}).write_parquet(target)
    return dst


@pytest.mark.skipif(not CONF.is_dir(), reason="the shared conformance set is not here")
@pytest.mark.parametrize("form", ["as given", "all parquet"])
def test_conformance_loads_the_same_by_either_path(tmp_path, form):
    root = CONF if form == "as given" else _as_parquet(CONF, tmp_path / "parquet")
    one_pass, polars_path = _load_both(root)
    assert one_pass == polars_path
    assert one_pass[1], "the conformance set has rejected rows; they must be judged by both paths"


def _bad_rows(seed: int, n: int) -> dict[str, pl.DataFrame]:
    """Tables of n rows each where every cell is a random boundary value or a valid one; keys repeat."""
    import random

    rnd = random.Random(seed)
    out = {}
    for name in ("loans", "installments", "contacts"):
        table = TABLES[name]
        rows = []
        for i in range(n):
            row = dict(BASELINE[name])
            row["loan_id"] = f"L{rnd.randrange(n)}"  # loans' keys repeat now and then; the others refer to them
            row["seq"] = str(rnd.randrange(1, 4))
            row["event_id"] = f"E{rnd.randrange(4 * n)}"
            for col in table.columns:
                if rnd.random() < 0.15:
                    pool = TEXT[col.kind] + list(col.enum)
                    row[col.name] = pool[rnd.randrange(len(pool))]
            if name == "contacts" and rnd.random() < 0.2:
                row["recipient_type"], row["recipient_id"] = "third_party", rnd.choice([None, " ", "R1"])
            rows.append(row)
        rows += [dict(rows[rnd.randrange(n)]) for _ in range(n // 10)]  # identical copies
        frame = pl.DataFrame([{c: r.get(c) for c in table.names} for r in rows],
                             schema={c: pl.String for c in table.names})
        out[name] = frame.with_columns(pl.lit("x").alias("Note"))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_bad_rows_load_the_same_by_either_path(tmp_path, seed):
    root = tmp_path / "data"
    for name, frame in _bad_rows(seed, 300).items():
        (root / name).mkdir(parents=True)
        half = frame.height // 2
        frame.slice(0, half).write_parquet(root / name / "a.parquet")
        frame.slice(half).write_parquet(root / name / "b.parquet")
    pl.DataFrame({"borrower_id": ["B1"], "timezone": ["Asia/Shanghai"]}).write_parquet(root / "borrowers.parquet")
    one_pass, polars_path = _load_both(root)
    assert one_pass == polars_path
    counts = one_pass[0]["contacts"]
    assert counts["rejected"] and counts["loaded"] and counts["duplicates"]  # every fate occurs


def test_rows_read_again_alone_are_written_as_a_whole_read_writes_them(tmp_path):
    """read_rows (the rows the SQL did not pass, or rejected later) shows each value as read_file does."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from audit.ingest.read import ROW, _as_text, read_chunks, read_rows

    n = 600_000  # more than one chunk and one slice
    ts = pa.array(list(range(n - 1)) + [2**62], type=pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    table = pa.table({"Event_ID": [f"e{i}" for i in range(n)], "ts": ts,
                      "duration_s": pa.array([i % 7 for i in range(n)], type=pa.int32()),
                      "amount": pa.array([Decimal(i) / 100 for i in range(n)], type=pa.decimal128(12, 2)),
                      "tags": pa.array([[str(i)] if i % 2 else None for i in range(n)], type=pa.list_(pa.string()))})
    path = tmp_path / "c.parquet"
    pq.write_table(table, path, row_group_size=100_000)
    rows = [1, 2, 99_999, 100_001, 350_000, n - 1, n]  # the last one is beyond the calendar
    # As the loader writes a rejected row's values: each chunk (or slice) as text on its own.
    whole = pl.concat([_as_text(c) for c in read_chunks(path)]).filter(pl.col(ROW).is_in([str(r) for r in rows]))
    alone = pl.concat([_as_text(c) for c in read_rows(path, rows)], how="diagonal_relaxed")
    assert alone.select(whole.columns).equals(whole)
    assert whole.height == len(rows)
