"""Faults: concurrent processes, kill -9 mid-load and mid-report, erasure, injection."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import audit
from audit import store
from helpers import contact, flagged, write_dataset

AUDIT = [sys.executable, "-m", "audit.cli"]


PAUSE, RESUME = "CONTACT_AUDIT_PAUSE_AT", "CONTACT_AUDIT_RESUME_FILE"


def _spawn(*args, pause: str | None = None, resume: Path | None = None) -> subprocess.Popen:
    """The CLI in a subprocess; with `pause`, it stops at that named moment (the product's test hook)."""
    env = dict(os.environ)
    if pause:
        env[PAUSE] = pause
    if resume:
        env[RESUME] = str(resume)
    return subprocess.Popen([*AUDIT, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)


def _wait_for_pause(p: subprocess.Popen, name: str) -> None:
    line = p.stderr.readline()
    assert line.strip() == f"paused at {name}", line + p.stderr.read()


def _kill(p: subprocess.Popen) -> None:
    p.send_signal(signal.SIGKILL)
    assert p.wait(timeout=60) == -signal.SIGKILL


def _stored(db: Path) -> tuple[int, int]:
    """(contacts stored, loads recorded), read with a connection of our own."""
    con = store.connect(db)
    try:
        return store.row_count(con, "contacts"), con.execute("SELECT count(*) FROM loads").fetchone()[0]
    finally:
        con.close()


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _late(root: Path, *ids: str) -> Path:
    """A dataset whose contacts (one per id) break HOURS."""
    return write_dataset(root, contacts=[contact(i, f"2026-11-0{2 + n % 7}T23:00:00+08:00") for n, i in enumerate(ids)])


def test_a_second_process_waits_for_the_lock_then_gives_up_with_one_line_or_loads_after_the_first_commits(
        tmp_path):
    db = tmp_path / "s.duckdb"
    first_data, second_data = _late(tmp_path / "d1", "a1", "a2"), _late(tmp_path / "d2", "a1", "b1")
    resume_first, resume_second = tmp_path / "resume1", tmp_path / "resume2"
    first = _spawn("load", first_data, "--db", db, pause="load-in-transaction", resume=resume_first)
    second = None
    try:
        _wait_for_pause(first, "load-in-transaction")  # the first holds the store, its load not committed
        busy = subprocess.run([*AUDIT, "load", str(second_data), "--db", str(db), "--lock-timeout", "1"],
                              capture_output=True, text=True, timeout=120)
        assert busy.returncode == 3, busy.stderr
        assert busy.stderr.strip() == f"audit: the store {db} is in use by another process; try again when it " \
                                      f"finishes (waited 1 s)"
        # With time to wait, the second goes on once the first has committed and let the store go.
        second = _spawn("load", second_data, "--db", db, "--lock-timeout", "120", pause="load-committed",
                        resume=resume_second)
        resume_first.touch()
        assert first.wait(timeout=120) == 0, first.stderr.read()
        _wait_for_pause(second, "load-committed")
        resume_second.touch()
        out, err = second.communicate(timeout=120)
        assert second.returncode == 0, err
    finally:
        for p in (first, second):
            if p is not None and p.poll() is None:
                p.kill()
    con = store.connect(db)
    dirs = [r[0] for r in con.execute("SELECT data_dir FROM loads ORDER BY load_id").fetchall()]
    assert dirs == [str(first_data), str(second_data)]
    # The second saw the first's committed rows: a1 is a duplicate, only b1 is new.
    counts = json.loads(con.execute("SELECT counts FROM loads WHERE load_id = 2").fetchone()[0])
    assert (counts["contacts"]["loaded"], counts["contacts"]["duplicates"]) == (1, 1)
    assert store.row_count(con, "contacts") == 3


@pytest.mark.parametrize("moment,committed", [
    ("load-staged", False),          # every file read and staged; the transaction not begun
    ("load-in-transaction", False),  # every table merged, the load logged, nothing committed
    ("load-committed", True),        # just after the commit
])
def test_a_load_killed_at_each_moment_leaves_the_store_before_or_after_the_whole_load(tmp_path, moment, committed):
    db = tmp_path / "s.duckdb"
    audit.load(_late(tmp_path / "day1", "e1"), db=db)
    day2 = _late(tmp_path / "day2", "n1", "n2", "n3")
    p = _spawn("load", day2, "--db", db, pause=moment)
    _wait_for_pause(p, moment)
    _kill(p)
    assert _stored(db) == ((4, 2) if committed else (1, 1))  # all of day 2 and its record, or none of either
    # The next load works and accounts for every row: new ones loaded, or duplicates of the committed load.
    result = audit.load(day2, db=db)
    c = result.counts["contacts"]
    assert (c.read, c.loaded, c.duplicates, c.rejected) == ((3, 0, 3, 0) if committed else (3, 3, 0, 0))
    assert _stored(db) == (4, 3 if committed else 2)


@pytest.mark.parametrize("moment", ["load-in-transaction", "load-committed", "report-written"])
def test_a_run_killed_at_each_moment_leaves_the_previous_report_whole_and_the_next_run_sweeps(tmp_path, moment):
    db, out = tmp_path / "s.duckdb", tmp_path / "out"
    audit.audit(data=_late(tmp_path / "day1", "e1"), db=db, out=out)
    before = _files(out)
    p = _spawn("run", "--data", _late(tmp_path / "day2", "n1", "n2"), "--db", db, "--out", out, pause=moment)
    _wait_for_pause(p, moment)
    _kill(p)
    assert _files(out) == before, "the previous report changed"
    assert subprocess.run([*AUDIT, "verify", str(out)], capture_output=True, timeout=120).returncode == 0
    partials = [x.name for x in tmp_path.iterdir() if x.name.startswith(".out.")]
    assert bool(partials) is (moment == "report-written"), partials  # only then were report files written
    assert _stored(db)[0] == (1 if moment == "load-in-transaction" else 3)
    summary = json.loads((out / "summary.json").read_text())
    assert pl.read_csv(out / "violations.csv").height == summary["violations"]["total"] == 1
    # The next run finishes, reports both days, and sweeps what the killed run left half-written.
    audit.audit(db=db, out=out)
    assert pl.read_csv(out / "violations.csv").height == (1 if moment == "load-in-transaction" else 3)
    assert sorted(x.name for x in tmp_path.iterdir()) == ["day1", "day2", "out", "s.duckdb"]


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
                       "run_violations": 0, "rejected_rows": 1}
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


def test_the_spill_directory_of_an_in_memory_run_is_private_and_removed_at_exit(tmp_path):
    """docs/decisions.md: a run without --db spills to a private temporary directory, removed at exit."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    data = _late(tmp_path / "d", "e1")
    p = subprocess.Popen([*AUDIT, "run", "--data", str(data), "--out", str(tmp_path / "out")], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": str(tmp), PAUSE: "report-written"})
    _wait_for_pause(p, "report-written")
    spill = [x for x in tmp.iterdir() if x.name.startswith("contact-audit-spill-")]
    assert len(spill) == 1 and spill[0].is_dir() and spill[0].stat().st_mode & 0o777 == 0o700
    p.stderr.close()
    p.send_signal(signal.SIGINT)  # an interrupted run exits through the same cleanup as a finished one
    p.wait(timeout=60)
    assert not spill[0].exists()
    assert subprocess.run([*AUDIT, "run", "--data", str(data), "--out", str(tmp_path / "out")], capture_output=True,
                          timeout=120, env={**os.environ, "TMPDIR": str(tmp)}).returncode == 0
    assert [x.name for x in tmp.iterdir()] == []
