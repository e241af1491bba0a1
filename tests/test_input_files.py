"""Which files of a dataset are read, refused or skipped, and instants at the ends of the calendar.

Every test runs the real CLI in a subprocess and checks the exit code, that
stderr is at most one line and no traceback, and that every row is accounted
for (read = loaded + updated + duplicates + rejected).
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pyarrow
import pytest

from helpers import CONTACT_COLUMNS, contact, write_dataset

AUDIT = [sys.executable, "-m", "audit.cli"]

CONTACTS = [
    contact("e1", "2026-11-05T10:00:00+08:00"),
    contact("e2", "2026-11-05T23:30:00+08:00"),  # outside calling hours
    contact("e3", "2026-11-05T11:00:00+08:00", channel="fax"),  # rejected
    contact("e4", "2026-11-06T09:00:00+08:00", content="您好，请及时还款"),
]


def _run(data: Path, out: Path, *extra: str) -> tuple[int, str, dict | None, pl.DataFrame | None]:
    p = subprocess.run([*AUDIT, "run", "--data", str(data), "--out", str(out), "-q", *extra],
                       capture_output=True, text=True, timeout=300)
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) <= 1, p.stderr
    if not (out / "summary.json").is_file():
        return p.returncode, p.stderr.strip(), None, None
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    for name, c in summary["tables"].items():
        assert c["read"] == c["loaded"] + c["updated"] + c["duplicates"] + c["rejected"], (name, c)
    rejected = pl.read_csv(out / "rejected.csv", infer_schema=False)
    return p.returncode, p.stderr.strip(), summary, rejected


def _violations(out: Path) -> list[tuple[str, str]]:
    v = pl.read_csv(out / "violations.csv", infer_schema=False)
    return sorted(v.select("rule_id", "event_id").iter_rows())


def _compress(raw: bytes, compression: str) -> bytes:
    if compression == "gz":
        return gzip.compress(raw)
    sink = pyarrow.BufferOutputStream()
    with pyarrow.CompressedOutputStream(sink, "zstd") as f:
        f.write(raw)
    return sink.getvalue().to_pybytes()


def _plain_bytes(fmt: str, rows: list[dict], encoding: str = "utf-8") -> bytes:
    rows = [{c: r.get(c) for c in CONTACT_COLUMNS} for r in rows]
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode(encoding)
    return pl.DataFrame(rows, schema={c: pl.String for c in CONTACT_COLUMNS}).write_csv().encode(encoding)


def _partitioned(root: Path, files: dict[str, bytes]) -> Path:
    """The helpers' dataset with contacts as a directory of the given files."""
    write_dataset(root, contacts=CONTACTS)
    (root / "contacts.jsonl").unlink()
    (root / "contacts").mkdir()
    for name, raw in files.items():
        (root / "contacts" / name).write_bytes(raw)
    return root


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    """The plain CSV partition: the violations and rejections every compressed form must match."""
    tmp = tmp_path_factory.mktemp("plain")
    data = _partitioned(tmp / "d", {"part-0.csv": _plain_bytes("csv", CONTACTS)})
    code, _, summary, rejected = _run(data, tmp / "out")
    assert code == 0 and summary["tables"]["contacts"] == dict(read=4, loaded=3, updated=0, duplicates=0, rejected=1)
    return _violations(tmp / "out"), rejected


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
@pytest.mark.parametrize("compression", ["gz", "zst"])
def test_a_compressed_partition_loads_with_the_same_violations_as_the_plain_file(tmp_path, plain, fmt, compression):
    name = f"part-0.{fmt}.{compression}"
    data = _partitioned(tmp_path / "d", {name: _compress(_plain_bytes(fmt, CONTACTS), compression)})
    code, _, summary, rejected = _run(data, tmp_path / "out")
    assert code == 0
    assert summary["tables"]["contacts"] == dict(read=4, loaded=3, updated=0, duplicates=0, rejected=1)
    assert _violations(tmp_path / "out") == plain[0] and plain[0]
    # The rejected row names the compressed file and its row number in it.
    assert rejected.select("source_file", "row", "key").rows() == [(f"contacts/{name}", "3", "e3")]
    assert rejected["reasons"].to_list() == plain[1]["reasons"].to_list()


@pytest.mark.parametrize("compression", ["gz", "zst"])
def test_a_top_level_compressed_table_file_is_read(tmp_path, plain, compression):
    data = write_dataset(tmp_path / "d", contacts=CONTACTS)
    (data / f"contacts.jsonl.{compression}").write_bytes(_compress((data / "contacts.jsonl").read_bytes(), compression))
    (data / "contacts.jsonl").unlink()
    code, _, summary, rejected = _run(data, tmp_path / "out")
    assert code == 0 and summary["tables"]["contacts"]["read"] == 4
    assert _violations(tmp_path / "out") == plain[0]
    assert rejected["source_file"].to_list() == [f"contacts.jsonl.{compression}"]


def test_a_gzipped_gb18030_csv_is_read_with_the_encoding_option(tmp_path, plain):
    raw = _plain_bytes("csv", CONTACTS, encoding="gb18030")
    assert raw != _plain_bytes("csv", CONTACTS)  # the Chinese text is encoded differently from UTF-8
    data = _partitioned(tmp_path / "d", {"part-0.csv.gz": gzip.compress(raw)})
    code, _, summary, _ = _run(data, tmp_path / "out", "--encoding", "gb18030")
    assert code == 0 and summary["tables"]["contacts"]["loaded"] == 3
    assert _violations(tmp_path / "out") == plain[0]
    # Without the option the same file stops the load, naming it.
    code, err, summary, _ = _run(data, tmp_path / "out2")
    assert code == 3 and "part-0.csv.gz" in err and "--encoding" in err and summary is None


def test_a_truncated_compressed_file_stops_the_load_naming_it(tmp_path):
    whole = gzip.compress(_plain_bytes("csv", CONTACTS * 200))
    data = _partitioned(tmp_path / "d", {"part-0.csv.gz": whole[: len(whole) // 2]})
    code, err, summary, _ = _run(data, tmp_path / "out")
    assert code == 3 and "part-0.csv.gz" in err and "gzip" in err and summary is None


@pytest.mark.parametrize("name", ["contacts.xlsx", "part-1.csv.bz2", "part-1.txt"])
def test_a_file_the_audit_does_not_read_in_a_table_directory_stops_the_load_naming_it(tmp_path, name):
    data = _partitioned(tmp_path / "d", {"part-0.csv": _plain_bytes("csv", CONTACTS), name: b"PK\x03\x04 not a table"})
    code, err, summary, _ = _run(data, tmp_path / "out")
    assert code == 3 and summary is None
    assert f"contacts/{name}" in err and ".csv.gz" in err and ".jsonl.zst" in err


def test_a_top_level_file_named_after_a_table_in_another_format_stops_the_load(tmp_path):
    data = write_dataset(tmp_path / "d", contacts=CONTACTS)
    (data / "borrowers.xlsx").write_bytes(b"PK\x03\x04")
    code, err, summary, _ = _run(data, tmp_path / "out")
    assert code == 3 and "borrowers.xlsx" in err and summary is None


def test_marker_and_hidden_files_in_a_table_directory_are_skipped_with_a_note(tmp_path, plain):
    data = _partitioned(tmp_path / "d", {
        "part-0.csv": _plain_bytes("csv", CONTACTS), "_SUCCESS": b"", ".part-0.csv.crc": b"\x00\x01",
        "_committed_123": b"{}",
    })
    (data / "contacts" / "_temporary").mkdir()
    (data / "contacts" / "_temporary" / "part-9.csv").write_bytes(b"garbage")
    code, _, summary, _ = _run(data, tmp_path / "out")
    assert code == 0 and summary["tables"]["contacts"]["read"] == 4
    assert _violations(tmp_path / "out") == plain[0]
    notes = [n for n in summary["notes"] if n.startswith("contacts/")]
    assert notes == ["contacts/: skipped 4 marker or hidden file(s): "
                     ".part-0.csv.crc, _SUCCESS, _committed_123, _temporary/part-9.csv"]


# ------------------------------------------------------------------ instants at the ends of the calendar

ZONES = {"B1": "America/New_York", "B2": "Pacific/Kiritimati", "B3": "Asia/Manila", "B4": "Etc/GMT+12"}
EDGE = [  # (written, rejected): every rejected one has a local date in year 0 or 10000 in some zone, or near it
    ("0001-01-01T00:30:00+00:00", True),
    ("0001-01-01T12:00:00Z", True),
    ("0001-01-01T10:00:00+14:00", True),
    ("0000-12-31T20:00:00-05:00", True),
    ("9999-12-30T20:00:00Z", True),
    ("9999-12-31T23:30:00-05:00", True),
    ("0001-01-02T00:00:00Z", False),
    ("9999-12-29T23:00:00-01:00", False),
    ("2026-11-05T10:00:00+08:00", False),
]


def _edge_dataset(root: Path, stamps: list[str]) -> Path:
    loans = [{"loan_id": f"L{b}", "borrower_id": b, "principal": "100.00"} for b in ZONES]
    installments = [{"loan_id": f"L{b}", "seq": 1, "due_date": "2026-11-01", "amount_due": "10.00", "paid_at": None}
                    for b in ZONES]
    contacts = [contact(f"{b}-{i}", ts, loan_id=f"L{b}", recipient_type="third_party", recipient_id="X",
                        outcome="connected")
                for b in ZONES for i, ts in enumerate(stamps)]
    return write_dataset(root, contacts=contacts, loans=loans, installments=installments,
                         borrowers=[{"borrower_id": b, "timezone": z} for b, z in ZONES.items()])


def test_instants_whose_local_date_leaves_years_1_to_9999_in_some_zone_are_rejected_not_a_traceback(tmp_path):
    data = _edge_dataset(tmp_path / "d", [ts for ts, _ in EDGE])
    code, _, summary, rejected = _run(data, tmp_path / "out")
    assert code == 0
    bad = sum(r for _, r in EDGE)
    assert summary["tables"]["contacts"] == dict(read=len(EDGE) * len(ZONES), loaded=(len(EDGE) - bad) * len(ZONES),
                                                 updated=0, duplicates=0, rejected=bad * len(ZONES))
    want = sorted(f"{b}-{i}" for b in ZONES for i, (_, r) in enumerate(EDGE) if r)
    assert sorted(rejected["key"].to_list()) == want
    assert rejected["reasons"].str.contains("is outside the years 0001-9999").all()


@pytest.mark.parametrize("zone", ["America/New_York", "Pacific/Kiritimati"])
def test_wall_clock_times_at_the_ends_of_the_calendar_are_rejected_in_either_zone(tmp_path, zone):
    stamps = ["0001-01-01 00:30:00", "0001-01-01 12:00:00", "9999-12-31 23:00:00", "9999-12-30 23:00:00",
              "2026-11-05 10:00:00"]
    data = _edge_dataset(tmp_path / "d", stamps)
    # paid_at goes through the same check
    pl.DataFrame({"loan_id": [f"L{b}" for b in ZONES], "seq": ["1"] * 4, "due_date": ["2026-11-01"] * 4,
                  "amount_due": ["10.00"] * 4,
                  "paid_at": ["0001-01-01 01:00:00", "9999-12-31 22:00:00", "2026-11-03 10:00:00", None]}
                 ).write_csv(data / "installments.csv")
    code, _, summary, rejected = _run(data, tmp_path / "out", "--timezone", zone)
    assert code == 0
    contacts = rejected.filter(pl.col("table") == "contacts")
    # The first three are outside in every zone; 9999-12-30 23:00 is past 9999-12-30T00:00Z in both zones
    # (Kiritimati is UTC+14, New York UTC-5); the last loads.
    assert sorted(contacts["key"].to_list()) == sorted(f"{b}-{i}" for b in ZONES for i in range(4))
    assert summary["tables"]["contacts"]["loaded"] == len(ZONES)
    assert rejected.filter(pl.col("table") == "installments")["key"].to_list() == ["LB1|1", "LB2|1"]
    assert summary["tables"]["installments"]["loaded"] == 2


@pytest.mark.parametrize("unit", ["ms", "us"])
@pytest.mark.parametrize("aware", [True, False])
def test_parquet_timestamps_beyond_any_calendar_year_are_rejected_not_a_panic(tmp_path, unit, aware):
    data = _edge_dataset(tmp_path / "d", ["2026-11-05T10:00:00+08:00"])
    (data / "contacts.jsonl").unlink()
    per_second = {"ms": 10**3, "us": 10**6}[unit]
    seconds = [-10**12, 10**12, -62_135_596_800 - 86_400, 253_402_300_800 - 3_600, 0, 1_762_308_000]
    n = len(seconds)
    ts = pyarrow.array([s * per_second for s in seconds], pyarrow.timestamp(unit, tz="UTC" if aware else None))
    base = {c: [None] * n for c in CONTACT_COLUMNS}
    base.update(event_id=[f"p{i}" for i in range(n)], loan_id=["LB1"] * n, channel=["call"] * n,
                recipient_type=["borrower"] * n, ts=ts)
    import pyarrow.parquet as pq
    pq.write_table(pyarrow.table(base), data / "contacts.parquet")
    code, _, summary, rejected = _run(data, tmp_path / "out", "--timezone", "Asia/Shanghai")
    assert code == 0
    assert summary["tables"]["contacts"] == dict(read=n, loaded=2, updated=0, duplicates=0, rejected=4)
    assert sorted(rejected["key"].to_list()) == ["p0", "p1", "p2", "p3"]
    assert rejected["reasons"].str.contains("is outside the years 0001-9999").all()


def test_a_due_date_outside_years_1_to_9999_is_rejected(tmp_path):
    data = write_dataset(tmp_path / "d", contacts=CONTACTS, installments=[
        {"loan_id": "L1", "seq": 1, "due_date": "0000-06-01", "amount_due": "10.00", "paid_at": None},
        {"loan_id": "L1", "seq": 2, "due_date": "2026-11-01", "amount_due": "10.00", "paid_at": None}])
    code, _, summary, rejected = _run(data, tmp_path / "out")
    assert code == 0 and summary["tables"]["installments"]["rejected"] == 1
    assert rejected.filter(pl.col("table") == "installments")["reasons"].to_list() == [
        "due_date '0000-06-01' is outside the years 0001-9999"]


def test_a_key_value_folder_is_where_a_file_sits_not_a_column_value(tmp_path):
    """contacts/channel=sms/part.parquet: DuckDB's reader would take the folder for a hive partition and
    put 'sms' in every row's channel; the load reads the file's own column (SPEC §1)."""
    import audit
    from audit.sample import generate

    flat, nested = tmp_path / "flat", tmp_path / "nested"
    for root in (flat, nested):
        generate(root, loans=30, seed=9, fmt="parquet", bad_rows=False)
    table = nested / "contacts"
    for f in sorted(p for p in table.rglob("*.parquet")):
        folder = table / "channel=sms" / "month=2026-10"
        folder.mkdir(parents=True, exist_ok=True)
        f.rename(folder / f.name)
    got, want = audit.audit(data=nested), audit.audit(data=flat)
    assert set(want.violations["channel"]) - {"sms"}, "the data must have contacts on other channels"
    assert got.violations.sort("event_id", "rule_id").equals(want.violations.sort("event_id", "rule_id"))
