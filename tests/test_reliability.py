"""Faults: concurrent processes, kill -9 mid-load and mid-report, erasure, injection."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

import audit
from audit import store
from helpers import contact, flagged, write_dataset

AUDIT = [sys.executable, "-m", "audit.cli"]


def _big_dataset(root: Path, n: int = 300_000) -> Path:
    """A dataset large enough that loading it takes a measurable moment."""
    write_dataset(root, contacts=[contact("seed", "2026-11-05T10:00:00+08:00")])
    (root / "contacts.jsonl").unlink()
    (root / "contacts").mkdir()
    pl.DataFrame({
        "event_id": pl.int_range(n, eager=True).cast(pl.String).str.zfill(9),
        "loan_id": "L1", "ts": "2026-11-05T10:00:00+08:00", "channel": "call", "recipient_type": "borrower",
        "content": "您好，您的账单已到期，请及时还款。" * 4,
    }).write_csv(root / "contacts" / "part.csv")
    return root


def _spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen([*AUDIT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_second_process_waits_for_the_lock_then_gives_up_with_one_line(tmp_path):
    db = tmp_path / "s.duckdb"
    data = write_dataset(tmp_path / "d", contacts=[contact("e1", "2026-11-05T10:00:00+08:00")])
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time, duckdb; con = duckdb.connect(sys.argv[1]); print('ready', flush=True); time.sleep(6)"
    ), str(db)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "ready"
    started = time.monotonic()
    p = _spawn("load", str(data), "--db", str(db), "--lock-timeout", "1")
    out, err = p.communicate(timeout=60)
    assert p.returncode == 3 and time.monotonic() - started >= 1
    assert "in use by another process" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    # With a longer timeout the second process waits for the first and then loads.
    p = _spawn("load", str(data), "--db", str(db), "--lock-timeout", "30")
    out, err = p.communicate(timeout=60)
    holder.wait(timeout=30)
    assert p.returncode == 0, err


def test_a_load_killed_midway_leaves_the_store_as_it_was_and_the_next_load_works(tmp_path):
    db = tmp_path / "s.duckdb"
    small = write_dataset(tmp_path / "small", contacts=[contact("e1", "2026-11-05T10:00:00+08:00")])
    audit.load(small, db=db)
    big = _big_dataset(tmp_path / "big")
    for delay in (0.8, 1.6, 2.4):
        p = _spawn("load", str(big), "--db", str(db))
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
        con = store.connect(db)
        assert store.row_count(con, "contacts") in (1, 300_001)
        con.close()
    result = audit.load(big, db=db)
    assert sum(c.loaded + c.duplicates for c in result.counts.values()) == sum(c.read for c in result.counts.values())
    con = store.connect(db)
    assert store.row_count(con, "contacts") == 300_001


def test_a_run_killed_while_writing_leaves_the_previous_report_or_none(tmp_path):
    big = _big_dataset(tmp_path / "big", n=200_000)
    out = tmp_path / "out"
    for delay in (0.5, 1.5, 2.5, 3.5):
        p = _spawn("run", "--data", str(big), "--out", str(out))
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
        if out.exists():  # a complete report from an earlier, finished run
            summary = json.loads((out / "summary.json").read_text())
            assert pl.read_csv(out / "violations.csv").height == summary["violations"]["total"]
    # The next run finishes and sweeps away what killed runs left half-written.
    audit.audit(data=big, out=out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big", "out"]


def test_a_report_that_fails_midway_leaves_no_partial_directory(tmp_path, monkeypatch):
    from audit import reports

    data = write_dataset(tmp_path / "d", contacts=[contact("late", "2026-11-05T23:00:00+08:00")])
    out = tmp_path / "out"
    audit.audit(data=data, out=out)
    before = (out / "violations.csv").read_bytes()

    def boom(result, where):
        raise OSError("disk full")

    monkeypatch.setattr(reports, "write_summary", boom)
    with pytest.raises(OSError):
        audit.audit(data=data, out=out)
    assert (out / "violations.csv").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name != "d"] == ["out"]


def test_purge_deletes_every_row_about_one_borrower_and_nothing_else(tmp_path):
    db = tmp_path / "s.duckdb"
    data = write_dataset(tmp_path / "d", borrowers=[
        {"borrower_id": "B1", "timezone": "Asia/Shanghai", "phone": "13812345678"},
        {"borrower_id": "B2", "timezone": "Asia/Shanghai"}],
        loans=[{"loan_id": "L1", "borrower_id": "B1", "principal": "1"},
               {"loan_id": "L2", "borrower_id": "B2", "principal": "1"}],
        emergency_contacts=[{"borrower_id": "B1", "contact_id": "C1"}],
        contacts=[contact("e1", "2026-11-05T10:00:00+08:00"), contact("e2", "2026-11-05T10:00:00+08:00", loan_id="L2"),
                  contact("bad", "not a time")])
    audit.load(data, db=db)
    con = store.connect(db)
    deleted = store.purge_borrower(con, "B1")
    assert deleted == {"contacts": 1, "installments": 1, "emergency_contacts": 1, "loans": 1, "borrowers": 1,
                       "rejected_rows": 1}
    assert con.execute("SELECT event_id FROM contacts").fetchall() == [("e2",)]
    assert con.execute("SELECT borrower_id FROM borrowers").fetchall() == [("B2",)]
    assert con.execute("SELECT count(*) FROM rejected_rows").fetchall() == [(0,)]


def test_policy_values_and_data_never_become_sql(tmp_path):
    evil = "'); DROP TABLE contacts; --"
    data = write_dataset(tmp_path / "d", contacts=[
        contact(evil, "2026-11-05T10:00:00+08:00", recipient_type="third_party", recipient_id=evil, content=evil)])
    out = flagged(data, {"disclosure": {"terms": [evil]},
                         "frequency": [{"id": "F", "per": "recipient", "window": "day", "max": 0}]})
    assert out == {"TP-DISCLOSURE": {evil}, "F": {evil}}


def test_store_file_and_report_directory_are_private(tmp_path):
    db = tmp_path / "s.duckdb"
    data = write_dataset(tmp_path / "d", contacts=[contact("e1", "2026-11-05T10:00:00+08:00")])
    audit.audit(data=data, db=db, out=tmp_path / "out")
    assert db.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o700
