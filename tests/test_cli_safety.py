"""What a user can do wrong, through the real CLI: never a removed file, never a traceback, always private.

Each test runs `python -m audit.cli` in a subprocess and asserts the exit
code, one line on stderr without a traceback, that no file the tool did not
write was removed or changed, and file modes.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl
import pytest

from helpers import contact, write_dataset

AUDIT = [sys.executable, "-m", "audit.cli"]
PAUSE, RESUME = "CONTACT_AUDIT_PAUSE_AT", "CONTACT_AUDIT_RESUME_FILE"


def cli(*args, cwd=None, env=None, timeout=180) -> subprocess.CompletedProcess:
    return subprocess.run([*AUDIT, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout,
                          env={**os.environ, **(env or {})})


def spawn(*args, env=None) -> subprocess.Popen:
    return subprocess.Popen([*AUDIT, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})}, preexec_fn=lambda: os.umask(0o022))


def wait_for_pause(p: subprocess.Popen, name: str) -> None:
    line = p.stderr.readline()
    assert line.strip() == f"paused at {name}", line + p.stderr.read()


def error_line(p, code: int, *, after_pause: bool = False) -> str:
    stderr = p.stderr if isinstance(p.stderr, str) else ""
    lines = [x for x in stderr.strip().splitlines() if not (after_pause and x.startswith("paused at "))]
    assert p.returncode == code, (p.returncode, stderr)
    assert "Traceback" not in stderr and len(lines) == 1, stderr
    return lines[0]


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """Every file and directory under root: content hash (files) and mode."""
    out = {}
    for p in sorted(root.rglob("*")):
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        out[p.relative_to(root).as_posix()] = (digest, stat.S_IMODE(p.stat().st_mode))
    return out


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def dataset(root: Path, n_late: int = 1) -> Path:
    """A dataset whose contacts break HOURS (so a report has rows) plus one rejected row."""
    return write_dataset(root, contacts=[
        *(contact(f"late{i}", "2026-11-05T23:00:00+08:00") for i in range(n_late)),
        contact("bad", "not a time")])


def stored_contacts(db: Path) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM contacts").fetchone()[0]
    finally:
        con.close()


# ----------------------------------------------------------------- --out and the dataset, the store


@pytest.mark.parametrize("relation", ["same", "child", "parent", "dot", "dotdot", "a file", "under a file"])
def test_an_out_that_is_holds_or_lies_inside_the_dataset_or_a_file_is_refused_and_nothing_is_removed(
        tmp_path, relation):
    data = dataset(tmp_path / "d")
    (tmp_path / "notes.txt").write_text("mine")
    out, cwd = {
        "same": (data, None), "child": (data / "reports", None), "parent": (tmp_path, None),
        "dot": (".", tmp_path), "dotdot": ("..", data), "a file": (tmp_path / "notes.txt", None),
        "under a file": (tmp_path / "notes.txt" / "out", None),
    }[relation]
    before = snapshot(tmp_path)
    p = cli("run", "--data", data.resolve(), "--out", out, cwd=cwd)
    line = error_line(p, 2)
    assert "--out" in line
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("relation", ["the store's directory", "the store file", "holds the store"])
def test_an_out_that_is_or_holds_the_store_is_refused_and_the_store_is_kept(tmp_path, relation):
    db = tmp_path / "rep" / "s.duckdb"
    db.parent.mkdir()
    assert cli("load", dataset(tmp_path / "d"), "--db", db).returncode == 0
    out = {"the store's directory": db.parent, "the store file": db, "holds the store": tmp_path}[relation]
    before = snapshot(tmp_path)
    p = cli("run", "--db", db, "--out", out)
    assert "the store" in error_line(p, 2)
    assert snapshot(tmp_path) == before


def test_an_out_beside_the_store_is_fine(tmp_path):
    """Only a target that holds the store is refused: replacing a sibling cannot touch the store."""
    db = tmp_path / "s.duckdb"
    assert cli("run", "--data", dataset(tmp_path / "d"), "--db", db, "--out", tmp_path / "out").returncode == 0
    assert stored_contacts(db) == 1 and (tmp_path / "out" / "manifest.json").is_file()


def test_a_report_goes_beside_other_files_in_out_and_never_removes_them(tmp_path):
    """A log redirected into --out, a reviewer's notes: the report is written beside them, an earlier
    report of the tool is replaced, and `verify` knows the files that were there before."""
    data = dataset(tmp_path / "d")
    out = tmp_path / "out"
    out.mkdir()
    (out / "budget.xlsx").write_text("not ours")
    with (out / ".log").open("w") as log:  # the shell opens the log before the tool starts
        p = subprocess.run([*AUDIT, "run", "--data", str(data), "--out", str(out)], stdout=log,
                           stderr=subprocess.STDOUT, timeout=180)
    assert p.returncode == 0
    assert (out / "budget.xlsx").read_text() == "not ours" and "violation(s)" in (out / ".log").read_text()
    assert cli("verify", out).returncode == 0
    first = (out / "violations.csv").read_bytes()
    (out / "my-comments.txt").write_text("the officer's notes")
    assert "unexpected: my-comments.txt" in cli("verify", out).stderr  # added after the report
    assert cli("run", "--data", data, "--out", out).returncode == 0
    assert (out / "my-comments.txt").read_text() == "the officer's notes"
    assert (out / "budget.xlsx").read_text() == "not ours" and (out / "violations.csv").read_bytes() == first
    assert cli("verify", out).returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "out"]  # nothing left beside it


def test_an_out_holding_a_foreign_file_with_a_report_files_name_is_refused_and_kept(tmp_path):
    data = dataset(tmp_path / "d")
    out = tmp_path / "out"
    out.mkdir()
    (out / "violations.csv").write_text("someone else's list")
    before = snapshot(tmp_path)
    assert "holds violations.csv, which this tool did not write" in error_line(cli("run", "--data", data,
                                                                                   "--out", out), 2)
    assert snapshot(tmp_path) == before


def test_an_earlier_report_is_replaced_whole(tmp_path):
    data = dataset(tmp_path / "d")
    out = tmp_path / "out"
    assert cli("run", "--data", data, "--out", out).returncode == 0
    assert cli("run", "--data", data, "--out", out).returncode == 0
    assert cli("verify", out).returncode == 0 and mode(out) == 0o700


def test_files_beside_out_with_names_like_the_tools_own_are_left_alone(tmp_path):
    data = dataset(tmp_path / "d")
    out = tmp_path / "out"
    assert cli("run", "--data", data, "--out", out).returncode == 0
    for name in (".out.old", ".out.keep.partial", ".out.x.old"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "precious.txt").write_text(name)
    assert cli("run", "--data", data, "--out", out).returncode == 0
    for name in (".out.old", ".out.keep.partial", ".out.x.old"):
        assert (tmp_path / name / "precious.txt").read_text() == name
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.keep.partial", ".out.old", ".out.x.old", "d", "out"]


def test_junit_inside_out_or_over_a_foreign_file_is_refused(tmp_path):
    data = dataset(tmp_path / "d")
    out = tmp_path / "out"
    assert "--junit" in error_line(cli("run", "--data", data, "--out", out, "--junit", out / "j.xml"), 2)
    mine = tmp_path / "results.xml"
    mine.write_text("<mine/>")
    assert "not written by this tool" in error_line(cli("run", "--data", data, "--out", out, "--junit", mine), 2)
    assert mine.read_text() == "<mine/>" and not out.exists()
    junit = tmp_path / "junit.xml"
    assert cli("run", "--data", data, "--out", out, "--junit", junit).returncode == 0
    assert cli("run", "--data", data, "--out", out, "--junit", junit).returncode == 0  # its own: replaced
    assert mode(junit) == 0o600


def test_pii_scan_and_sample_never_overwrite_a_file_they_did_not_write(tmp_path):
    data = dataset(tmp_path / "d")
    findings = tmp_path / "findings.csv"
    findings.write_text("someone else's,data\n")
    p = cli("pii", "scan", data / "contacts.jsonl", "--out", findings)
    assert "not written by this tool" in error_line(p, 2)
    assert findings.read_text() == "someone else's,data\n"
    before = snapshot(data)
    assert "did not write" in error_line(cli("sample", "--loans", "3", "--out", data), 2)
    assert snapshot(data) == before


# ----------------------------------------------------------------- two runs, kills, Ctrl-C


def test_two_runs_on_the_same_out_take_turns_and_never_remove_each_others_work(tmp_path):
    data = dataset(tmp_path / "d")
    out, resume = tmp_path / "out", tmp_path / "resume"
    first = spawn("run", "--data", data, "--out", out, env={PAUSE: "report-written", RESUME: str(resume)})
    try:
        wait_for_pause(first, "report-written")
        partials = list(tmp_path.glob(".out.*.partial"))
        assert len(partials) == 1
        second = cli("run", "--data", data, "--out", out)
        assert second.returncode == 0, second.stderr
        assert partials[0].is_dir(), "the second run removed the first run's partial report"
        resume.touch()
        assert first.wait(timeout=120) == 0, first.stderr.read()
    finally:
        first.kill()
    assert cli("verify", out).returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "out", "resume"]


def test_a_partial_report_of_a_killed_run_is_swept_by_the_next_run(tmp_path):
    data = dataset(tmp_path / "d")
    out = tmp_path / "out"
    p = spawn("run", "--data", data, "--out", out, env={PAUSE: "report-written"})
    wait_for_pause(p, "report-written")
    partial = next(tmp_path.glob(".out.*.partial"))
    assert mode(partial) == 0o700 and all(mode(f) == 0o600 for f in partial.iterdir())
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    assert partial.is_dir()
    assert cli("run", "--data", data, "--out", out).returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "out"]


@pytest.mark.parametrize("moment,truth,stored", [
    ("load-staged", "unchanged by the unfinished load", 1),
    ("load-in-transaction", "unchanged by the unfinished load", 1),
    ("load-committed", "holds the last completed load", 3),
    ("report-written", "holds the last completed load", 3),
])
def test_ctrl_c_at_each_moment_says_what_is_true_exits_130_and_leaves_no_partial_report(
        tmp_path, moment, truth, stored):
    db, out = tmp_path / "s.duckdb", tmp_path / "out"
    assert cli("run", "--data", dataset(tmp_path / "first"), "--db", db, "--out", out).returncode == 0
    report_before = snapshot(out)
    second = write_dataset(tmp_path / "second", contacts=[
        contact("n1", "2026-11-06T23:00:00+08:00"), contact("n2", "2026-11-06T23:30:00+08:00")])
    p = spawn("run", "--data", second, "--db", db, "--out", out, env={PAUSE: moment})
    wait_for_pause(p, moment)
    p.send_signal(signal.SIGINT)
    p.wait(timeout=60)
    p.stderr = p.stderr.read()
    line = error_line(p, 130, after_pause=True)
    assert line.startswith("audit: interrupted;") and truth in line and "no report was written" in line
    assert stored_contacts(db) == stored
    assert snapshot(out) == report_before
    assert sorted(x.name for x in tmp_path.iterdir()) == ["first", "out", "s.duckdb", "second"]


def test_a_store_and_its_side_files_are_private_while_a_load_works(tmp_path):
    db = tmp_path / "s.duckdb"
    p = spawn("load", dataset(tmp_path / "d", n_late=3), "--db", db, env={PAUSE: "load-in-transaction"})
    try:
        wait_for_pause(p, "load-in-transaction")
        side = [x for x in tmp_path.iterdir() if x.name.startswith("s.duckdb")]
        assert db in side
        for x in side:
            assert mode(x) == (0o700 if x.is_dir() else 0o600), x.name
    finally:
        p.kill()
        p.wait(timeout=30)


def test_report_files_junit_and_store_are_private_after_a_run(tmp_path):
    db, out, junit = tmp_path / "s.duckdb", tmp_path / "out", tmp_path / "j" / "junit.xml"
    p = subprocess.run([*AUDIT, "run", "--data", str(dataset(tmp_path / "d")), "--db", str(db), "--out", str(out),
                        "--junit", str(junit)], capture_output=True, text=True, timeout=180,
                       preexec_fn=lambda: os.umask(0o022))
    assert p.returncode == 0, p.stderr
    assert mode(out) == 0o700 and {mode(f) for f in out.iterdir()} == {0o600}
    assert mode(junit) == 0o600 and mode(db) == 0o600


# ----------------------------------------------------------------- the disk, memory, the store file


@contextmanager
def tmpfs(where: Path, size: str, *options: str):
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system to fill needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join([f"size={size}", *options]), "tmpfs", str(where)],
                       capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_full_disk_under_out_is_one_line_with_the_real_cause_and_leaves_nothing(tmp_path):
    data = dataset(tmp_path / "d", n_late=4000)
    with tmpfs(tmp_path / "small", "64k") as small:
        p = cli("run", "--data", data, "--out", small / "out")
        line = error_line(p, 3)
        assert "no space left on the device of --out" in line and "no report was written" in line
        assert list(small.iterdir()) == []


def test_a_full_disk_under_the_store_is_one_line_and_the_store_is_not_damaged(tmp_path):
    data = dataset(tmp_path / "d", n_late=20000)
    with tmpfs(tmp_path / "small", "1m") as small:
        db = small / "s.duckdb"
        p = cli("load", data, "--db", db)
        line = error_line(p, 3)
        assert "no space left on the device of the store" in line, line
        assert "rollback" not in line.lower()


def test_an_unwritable_out_parent_is_one_line(tmp_path):
    data = dataset(tmp_path / "d")
    with tmpfs(tmp_path / "ro", "1m", "ro") as ro:
        line = error_line(cli("run", "--data", data, "--out", ro / "out"), 2)
        assert "not writable" in line or "cannot" in line


@pytest.mark.parametrize("content,code,words", [
    ("other schema", 2, "another tool or an incompatible version"),
    ("another program", 2, "of something else"),
    ("not a database", 3, "damaged"),
])
def test_a_store_file_of_another_schema_or_a_damaged_one_is_refused_and_left_as_it_is(
        tmp_path, content, code, words):
    db = tmp_path / "s.duckdb"
    if content == "not a database":
        db.write_bytes(os.urandom(20000))
    else:
        con = duckdb.connect(str(db))
        con.execute("CREATE TABLE contacts (a INTEGER)" if content == "other schema" else
                    "CREATE TABLE invoices (id INTEGER, total DECIMAL(10, 2))")
        con.close()
    before = snapshot(tmp_path)
    assert words in error_line(cli("run", "--db", db, "--out", tmp_path / "out"), code)
    assert words in error_line(cli("load", dataset(tmp_path / "d"), "--db", db), code)
    after = snapshot(tmp_path)
    assert {k: v for k, v in after.items() if not k.startswith("d")} == before


def test_run_with_a_store_that_does_not_exist_refuses_and_creates_nothing(tmp_path):
    line = error_line(cli("run", "--db", tmp_path / "typo.duckdb", "--out", tmp_path / "out"), 2)
    assert line == f"audit: no store at {tmp_path / 'typo.duckdb'}; load data first " \
                   f"(audit load DATA_DIR --db {tmp_path / 'typo.duckdb'})"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("limit,words", [("lots", "is not a size"), ("1KB", "too small"), ("12", "is not a size")])
def test_a_memory_limit_that_is_not_a_usable_size_is_refused(tmp_path, limit, words):
    p = cli("run", "--data", dataset(tmp_path / "d"), "--out", tmp_path / "out", "--memory-limit", limit)
    assert words in error_line(p, 2)


def test_a_memory_limit_too_small_for_the_data_is_one_line_with_advice(tmp_path):
    root = write_dataset(tmp_path / "d", contacts=[contact("seed", "2026-11-05T10:00:00+08:00")])
    (root / "contacts.jsonl").unlink()
    # 200,000 fitted in 64MB once the text rules ran first and an in-memory run let the text go
    n = 500_000
    pl.DataFrame({"event_id": pl.int_range(n, eager=True).cast(pl.String).str.zfill(9), "loan_id": "L1",
                  "ts": "2026-11-05T23:00:00+08:00", "channel": "call", "recipient_type": "borrower",
                  "content": "您好，您的账单已到期，请及时还款。" * 4}).write_csv(root / "contacts.csv")
    p = cli("run", "--data", root, "--out", tmp_path / "out", "--memory-limit", "64MB")
    line = error_line(p, 3)
    assert line.startswith("audit: out of memory") and "raise --memory-limit" in line
    assert not (tmp_path / "out").exists()


def test_threads_beyond_four_per_cpu_are_clamped_and_said(tmp_path):
    p = cli("run", "--data", dataset(tmp_path / "d"), "--out", tmp_path / "out", "--threads", "100000")
    assert p.returncode == 0, p.stderr
    cap = (os.cpu_count() or 1) * 4
    assert f"--threads 100000 is more than 4 per CPU; {cap} used" in p.stdout
    assert f"{cap} used" in " ".join(json.loads((tmp_path / "out" / "summary.json").read_text())["notes"])


# ----------------------------------------------------------------- silent behaviour made loud


def test_a_run_that_judges_nothing_warns_and_with_fail_on_exits_4(tmp_path):
    data = dataset(tmp_path / "d")
    p = cli("run", "--data", data, "--out", tmp_path / "o1", "--since", "2030-01-01")
    assert p.returncode == 0 and "nothing was judged" in p.stderr
    p = cli("run", "--data", data, "--out", tmp_path / "o2", "--since", "2030-01-01", "--fail-on", "low")
    assert "nothing was judged" in error_line(p, 4)


def test_usage_errors_of_the_option_parser_are_one_line_exit_2(tmp_path):
    for args in (["run", "--nope"], ["run", "--out"], ["frobnicate"], ["run", "--data", tmp_path / "d",
                                                                         "--out", tmp_path / "o",
                                                                         "--since", "yesterday"]):
        error_line(cli(*args), 2)


def test_verify_without_a_manifest_is_a_usage_error(tmp_path):
    (tmp_path / "x.txt").write_text("x")
    assert "no manifest.json" in error_line(cli("verify", tmp_path), 2)


def test_purge_says_when_the_borrower_is_unknown_and_dry_run_deletes_nothing(tmp_path):
    db = tmp_path / "s.duckdb"
    assert cli("load", dataset(tmp_path / "d"), "--db", db).returncode == 0
    p = cli("purge", "--db", db, "--borrower", "B404")
    assert p.returncode == 0 and "has no rows in the store" in p.stderr and "nothing was deleted" in p.stderr
    p = cli("purge", "--db", db, "--borrower", "B1", "--dry-run")
    assert p.returncode == 0 and "would be deleted" in p.stdout and "contacts: 1" in p.stdout
    assert stored_contacts(db) == 1
    p = cli("purge", "--db", db, "--borrower", "B1")
    assert p.returncode == 0 and "contacts: 1" in p.stdout and stored_contacts(db) == 0
    assert "no store at" in error_line(cli("purge", "--db", tmp_path / "typo.duckdb", "--borrower", "B1"), 2)


def test_policy_diff_on_a_store_that_does_not_exist_refuses_and_creates_nothing(tmp_path):
    p = cli("policy", "diff", "builtin:default", "builtin:us-reg-f", "--db", tmp_path / "typo.duckdb")
    assert "no store at" in error_line(p, 2)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("where", ["missing directory", "under a file"])
def test_a_store_path_whose_directory_is_missing_or_a_file_is_one_line(tmp_path, where):
    (tmp_path / "f.txt").write_text("x")
    db = tmp_path / ("nodir" if where == "missing directory" else "f.txt") / "s.duckdb"
    before = snapshot(tmp_path)
    assert "--db" in error_line(cli("load", dataset(tmp_path / "d"), "--db", db), 2)
    assert {k: v for k, v in snapshot(tmp_path).items() if not k.startswith("d")} == before
