"""The record of a compliance program (SPEC §7): the run ledger, statuses, gone, period reports,
history, loads in reports, and purge reaching the ledger."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import date, timedelta

import duckdb
import polars as pl
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import audit
from helpers import contact, policy, write_dataset, write_table

AUDIT = [sys.executable, "-m", "audit.cli"]
KEY = ["rule_id", "event_id"]
RULES = {"contact_hours": {"start": "08:00", "end": "22:00"},
         "frequency": [{"id": "F-DAY", "per": "loan", "window": "day", "max": 1}]}


def cli(*args):
    return subprocess.run([*AUDIT, *map(str, args)], capture_output=True, text=True, timeout=180)


def days_dataset(root, days: int = 3):
    """Each day: one late contact (HOURS) and two calls on one loan (the second breaks F-DAY)."""
    rows = []
    for d in range(days):
        day = date(2026, 11, 2) + timedelta(days=d)
        rows += [contact(f"late{d}", f"{day}T23:00:00+08:00"), contact(f"a{d}", f"{day}T10:00:00+08:00"),
                 contact(f"b{d}", f"{day}T11:00:00+08:00")]
    return write_dataset(root, contacts=rows)


def test_a_rerun_over_the_same_window_sees_everything_and_nothing_is_gone(tmp_path):
    db = tmp_path / "s.duckdb"
    audit.load(days_dataset(tmp_path / "d"), db=db)
    first = audit.audit(db=db, policy=policy(RULES))
    again = audit.audit(db=db, policy=policy(RULES))
    assert set(first.violations["status"]) == {"new"} and set(again.violations["status"]) == {"seen"}
    assert sum(c["gone"] for c in again.statuses.values()) == 0
    assert (first.run_id, again.run_id) == (1, 2)


def test_a_policy_change_that_drops_a_rule_counts_its_violations_as_gone(tmp_path):
    db = tmp_path / "s.duckdb"
    audit.load(days_dataset(tmp_path / "d"), db=db)
    first = audit.audit(db=db, policy=policy(RULES))
    hours = first.violations.filter(pl.col("rule_id") == "HOURS").height
    later = audit.audit(db=db, policy=policy({"frequency": RULES["frequency"]}))
    assert hours == 3
    assert later.statuses["HOURS"]["gone"] == hours and later.statuses["F-DAY"]["gone"] == 0
    assert set(later.violations["status"]) == {"seen"}


def test_gone_counts_only_contacts_this_run_judged(tmp_path):
    db = tmp_path / "s.duckdb"
    audit.load(days_dataset(tmp_path / "d"), db=db)
    audit.audit(db=db, policy=policy(RULES))
    one_day = audit.audit(db=db, policy=policy({"frequency": RULES["frequency"]}),
                          since=date(2026, 11, 3), until=date(2026, 11, 3))
    assert one_day.statuses["HOURS"]["gone"] == 1  # late1 only: the other days were not judged


def test_without_a_store_nothing_is_recorded_and_everything_is_new(tmp_path):
    r = audit.audit(data=days_dataset(tmp_path / "d"), policy=policy(RULES))
    assert r.run_id is None and set(r.violations["status"]) == {"new"} and r.violations["waiver_id"].null_count() == r.violations.height


def test_the_ledger_keeps_every_run_and_its_rows_and_history_lists_them(tmp_path):
    db = tmp_path / "s.duckdb"
    data = days_dataset(tmp_path / "d")
    assert cli("run", "--data", data, "--db", db, "--out", tmp_path / "o1").returncode == 0
    assert cli("run", "--db", db, "--since", "2026-11-03", "--until", "2026-11-03",
               "--out", tmp_path / "o2").returncode == 0
    p = cli("history", "--db", db, "--format", "json")
    runs = json.loads(p.stdout)
    assert [r["run_id"] for r in runs] == [1, 2]
    assert (runs[1]["since"], runs[1]["until"]) == ("2026-11-03", "2026-11-03")
    assert runs[0]["new"] == runs[0]["violations"] and runs[1]["seen"] == runs[1]["violations"]
    text = cli("history", "--db", db)
    assert text.returncode == 0 and len(text.stdout.strip().splitlines()) == 3
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT run_id, count(*) FROM run_violations GROUP BY run_id ORDER BY run_id").fetchall() \
        == [(1, runs[0]["violations"]), (2, runs[1]["violations"])]
    summary = json.loads((tmp_path / "o2" / "summary.json").read_text())
    assert summary["run_id"] == 2 and summary["violations"]["by_status"]["seen"] == runs[1]["violations"]


def test_a_run_on_a_store_reports_the_loads_since_the_previous_run(tmp_path):
    """Nightly: `audit load` then `audit run --db --since/--until`: the load's rejected rows reach
    the run's report, and the next night's run reports only its own load."""
    db = tmp_path / "s.duckdb"
    night1 = write_dataset(tmp_path / "n1", contacts=[contact("ok1", "2026-11-02T10:00:00+08:00"),
                                                      contact("bad1", "not a time")])
    assert cli("load", night1, "--db", db).returncode == 0
    assert cli("run", "--db", db, "--since", "2026-11-02", "--until", "2026-11-02",
               "--out", tmp_path / "r1").returncode == 0
    rejected = pl.read_csv(tmp_path / "r1" / "rejected.csv")
    assert rejected["key"].to_list() == ["bad1"]
    s1 = json.loads((tmp_path / "r1" / "summary.json").read_text())
    assert s1["tables"]["contacts"] == {"read": 2, "loaded": 1, "updated": 0, "duplicates": 0, "rejected": 1}
    night2 = tmp_path / "n2"
    write_table(night2, "contacts", [contact("ok2", "2026-11-03T10:00:00+08:00"), contact("bad2", "nope")], "jsonl")
    assert cli("load", night2, "--db", db).returncode == 0
    assert cli("run", "--db", db, "--since", "2026-11-03", "--until", "2026-11-03",
               "--out", tmp_path / "r2").returncode == 0
    assert pl.read_csv(tmp_path / "r2" / "rejected.csv")["key"].to_list() == ["bad2"]
    # Without a window, a run reports every load the store holds.
    assert cli("run", "--db", db, "--out", tmp_path / "r3").returncode == 0
    assert sorted(pl.read_csv(tmp_path / "r3" / "rejected.csv")["key"].to_list()) == ["bad1", "bad2"]


def test_rejected_rows_are_stored_masked(tmp_path):
    db = tmp_path / "s.duckdb"
    data = write_dataset(tmp_path / "d", contacts=[contact("bad", "not a time", content="call 13812345678")])
    audit.load(data, db=db)
    con = duckdb.connect(str(db), read_only=True)
    values = con.execute('SELECT "values" FROM rejected_rows').fetchone()[0]
    assert "13812345678" not in values and "138****5678" in values


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.integers(min_value=1, max_value=29), min_size=0, max_size=5, unique=True),
       seed=st.integers(min_value=0, max_value=10_000))
def test_daily_runs_then_a_period_report_equal_one_run_over_the_period(tmp_path_factory, cuts, seed):
    """SPEC §7: nightly runs, each judging its day(s), then `audit report` of the whole period give
    exactly the rows of one run over the period (ignoring status and run)."""
    from audit.sample import generate

    root = tmp_path_factory.mktemp("period")
    generate(root / "data", loans=25, seed=seed, fmt="parquet")
    db = root / "s.duckdb"
    audit.load(root / "data", db=db)
    con = duckdb.connect(str(db), read_only=True)
    first, last = con.execute("SELECT min(ts)::DATE - 1, max(ts)::DATE + 1 FROM contacts").fetchone()
    con.close()
    days = (last - first).days
    edges = sorted({first + timedelta(days=round(days * c / 30)) for c in cuts} - {first}) + [last + timedelta(days=1)]
    start = first
    for edge in edges:
        audit.audit(db=db, since=start, until=edge - timedelta(days=1))
        start = edge
    period = audit.report(db, since=first, until=last)
    full = audit.audit(db=db, since=first, until=last)
    assert full.violations.height > 0
    cols = [c for c in full.violations.columns if c != "status"]
    assert period.violations.select(cols).sort(KEY).equals(full.violations.select(cols).sort(KEY))
    assert set(full.violations["status"]) == {"seen"}


def test_audit_report_writes_the_period_files_and_lists_its_runs(tmp_path):
    db = tmp_path / "s.duckdb"
    audit.load(days_dataset(tmp_path / "d"), db=db)
    pol = tmp_path / "policy.yaml"
    pol.write_text(yaml.safe_dump({"policy_id": "t", "version": "1", "default_timezone": "Asia/Shanghai",
                                   "rules": RULES}))
    for d in ("2026-11-02", "2026-11-03", "2026-11-04"):
        assert cli("run", "--db", db, "--policy", pol, "--since", d, "--until", d,
                   "--out", tmp_path / f"o{d}").returncode == 0
    p = cli("report", "--db", db, "--since", "2026-11-03", "--until", "2026-11-04", "--out", tmp_path / "month")
    assert p.returncode == 0, p.stderr
    s = json.loads((tmp_path / "month" / "summary.json").read_text())
    assert s["runs"] == [2, 3]
    v = pl.read_csv(tmp_path / "month" / "violations.csv")
    assert set(v["event_id"]) == {"late1", "late2", "b1", "b2"} and set(v["status"]) == {"new"}
    assert cli("verify", tmp_path / "month").returncode == 0
    html = (tmp_path / "month" / "report.html").read_text()
    assert 'id="record-section"' in html and 'id="trend-table"' in html


def test_a_period_no_run_judged_gives_an_empty_report_and_says_so(tmp_path):
    db = tmp_path / "s.duckdb"
    audit.load(days_dataset(tmp_path / "d"), db=db)
    p = cli("report", "--db", db, "--out", tmp_path / "r")
    assert p.returncode == 0 and "no run in the ledger judged this period" in p.stderr
    assert pl.read_csv(tmp_path / "r" / "violations.csv").height == 0


def test_purge_leaves_no_row_of_the_borrower_anywhere_and_records_that_it_happened(tmp_path):
    db = tmp_path / "s.duckdb"
    data = write_dataset(
        tmp_path / "d",
        borrowers=[{"borrower_id": "B1", "timezone": "Asia/Shanghai"}, {"borrower_id": "B2", "timezone": "Asia/Shanghai"}],
        loans=[{"loan_id": "L1", "borrower_id": "B1", "principal": "1"}, {"loan_id": "L2", "borrower_id": "B2", "principal": "1"}],
        contacts=[contact("e1", "2026-11-05T23:00:00+08:00"), contact("e2", "2026-11-05T23:00:00+08:00", loan_id="L2"),
                  contact("bad", "not a time", loan_id="L1")])
    assert cli("run", "--data", data, "--db", db, "--out", tmp_path / "o").returncode == 0
    p = cli("purge", "--db", db, "--borrower", "B1")
    assert p.returncode == 0 and "run_violations: 1" in p.stdout
    con = duckdb.connect(str(db), read_only=True)
    tables = [t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
    for table in tables:
        cols = [c for (c,) in con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ?",
                                          [table]).fetchall()]
        text = " ".join(str(r) for r in con.execute(f'SELECT * FROM "{table}"').fetchall())
        assert not re.search(r"\b(B1|L1|e1)\b", text), (table, cols)
    purges = con.execute("SELECT counts FROM purges").fetchall()
    assert len(purges) == 1 and json.loads(purges[0][0])["contacts"] == 1 and "B1" not in purges[0][0]
    assert con.execute("SELECT count(*) FROM run_violations WHERE event_id = 'e2'").fetchone()[0] == 1


@pytest.mark.parametrize("args", [["history"], ["report", "--out", "r"]])
def test_history_and_report_refuse_a_store_that_does_not_exist(tmp_path, args):
    p = subprocess.run([*AUDIT, *args, "--db", str(tmp_path / "typo.duckdb")], capture_output=True, text=True,
                       timeout=60, cwd=tmp_path)
    assert p.returncode == 2 and "no store at" in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_the_store_policy_and_waivers_can_come_from_the_environment(tmp_path):
    """AUDIT_DB, AUDIT_POLICY and AUDIT_WAIVERS stand for --db, --policy and --waivers (a nightly job's env)."""
    import os

    db = tmp_path / "s.duckdb"
    env = {**os.environ, "AUDIT_DB": str(db), "AUDIT_POLICY": "builtin:us-reg-f"}
    p = subprocess.run([*AUDIT, "run", "--data", str(days_dataset(tmp_path / "d")), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stderr
    runs = json.loads(subprocess.run([*AUDIT, "history", "--format", "json"], capture_output=True, text=True,
                                     timeout=60, env=env).stdout)
    assert [r["policy"] for r in runs] == ["us-reg-f 2026.12"]
