"""The command line as scripts use it: outputs, exit codes and one-line errors."""

from __future__ import annotations

import json

import polars as pl
import pytest
from click.testing import CliRunner

from audit.cli import main
from helpers import contact, write_dataset

TP = dict(recipient_type="third_party", recipient_id="X1")


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _dataset(tmp_path):
    return write_dataset(tmp_path / "data", contacts=[
        contact("late", "2026-11-05T23:00:00+08:00"),
        contact("early_tp", "2026-11-03T10:00:00+08:00", **TP),
        contact("bad", "not a time"),
    ])


def test_run_writes_the_spec_outputs_and_exits_0(tmp_path):
    out = tmp_path / "out"
    r = _run("run", "--data", _dataset(tmp_path), "--out", out)
    assert r.exit_code == 0, r.output
    assert {p.name for p in out.iterdir()} >= {"violations.csv", "violations.parquet", "rejected.csv", "summary.json"}
    v = pl.read_csv(out / "violations.csv")
    assert v.columns == ["rule_id", "severity", "event_id", "loan_id", "borrower_id", "ts", "local_time", "channel",
                         "recipient_type", "recipient_id", "agent_id", "reference", "detail", "evidence",
                         "policy_id", "policy_version", "status", "waiver_id"]
    assert v.filter(pl.col("event_id") == "late").select("ts", "local_time").row(0) == (
        "2026-11-05T15:00:00Z", "2026-11-05T23:00:00+08:00")
    assert pl.read_parquet(out / "violations.parquet").height == v.height
    s = json.loads((out / "summary.json").read_text())
    c = s["tables"]["contacts"]
    assert c["read"] == c["loaded"] + c["updated"] + c["duplicates"] + c["rejected"] == 3
    assert s["violations"]["total"] == v.height and s["policy"]["id"] == "cn-consumer-default"
    assert pl.read_csv(out / "rejected.csv")["key"].to_list() == ["bad"]


def test_violations_are_sorted_by_ts_event_and_rule(tmp_path):
    out = tmp_path / "out"
    _run("run", "--data", _dataset(tmp_path), "--out", out)
    v = pl.read_csv(out / "violations.csv")
    assert v.select("ts", "event_id", "rule_id").rows() == sorted(v.select("ts", "event_id", "rule_id").rows())


def test_fail_on_exits_1_at_or_above_the_severity_only(tmp_path):
    data = _dataset(tmp_path)
    assert _run("run", "--data", data, "--out", tmp_path / "o1", "--fail-on", "critical").exit_code == 1
    quiet = write_dataset(tmp_path / "q", contacts=[contact("late", "2026-11-05T23:00:00+08:00")])
    assert _run("run", "--data", quiet, "--out", tmp_path / "o2", "--fail-on", "high").exit_code == 0
    assert _run("run", "--data", quiet, "--out", tmp_path / "o3", "--fail-on", "medium").exit_code == 1


def test_policy_errors_exit_2_with_each_problem_and_no_traceback(tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text("policy_id: x\nversion: '1'\ndefault_timezone: Nowhere/City\nrules: {hours: {}}\n")
    r = _run("run", "--data", _dataset(tmp_path), "--policy", bad, "--out", tmp_path / "o")
    assert r.exit_code == 2
    assert "default_timezone" in r.output and "rules.hours: unknown key" in r.output
    assert "Traceback" not in r.output


def test_unloadable_input_exits_3_with_one_line(tmp_path):
    data = write_dataset(tmp_path / "d", contacts=[contact("e", "2026-11-05 10:00:00")])
    r = _run("run", "--data", data, "--out", tmp_path / "o")
    assert r.exit_code == 3
    assert len(r.output.strip().splitlines()) == 1 and "--timezone" in r.output
    assert _run("run", "--data", tmp_path / "nope", "--out", tmp_path / "o").exit_code == 3


def test_usage_errors_exit_2(tmp_path):
    assert _run("run", "--out", tmp_path / "o").exit_code == 2
    assert _run("run", "--data", _dataset(tmp_path), "--out", tmp_path / "o", "--since", "yesterday").exit_code == 2
    assert _run("run", "--data", _dataset(tmp_path), "--out", tmp_path / "o", "--fail-on", "fatal").exit_code == 2


def test_load_then_run_on_the_store_audits_what_it_holds(tmp_path):
    db = tmp_path / "s.duckdb"
    assert _run("load", _dataset(tmp_path), "--db", db).exit_code == 0
    r = _run("run", "--db", db, "--out", tmp_path / "o")
    assert r.exit_code == 0
    assert set(pl.read_csv(tmp_path / "o" / "violations.csv")["event_id"]) == {"late", "early_tp"}
    assert (db.stat().st_mode & 0o777) == 0o600


def test_version_and_help():
    assert _run("--version").output.startswith("contact-audit")
    for cmd in ("load", "run", "sample"):
        assert _run(cmd, "--help").exit_code == 0


def test_verbose_logs_each_step_with_its_time_and_never_message_text(tmp_path):
    data = write_dataset(tmp_path / "d", contacts=[contact("e1", "2026-11-05T23:00:00+08:00", content="秘密内容 13812345678")])
    r = CliRunner().invoke(main, ["run", "--data", str(data), "--out", str(tmp_path / "o"), "--verbose"])
    assert r.exit_code == 0
    assert "validate and store contacts:" in r.output and "rule HOURS:" in r.output and "write report.html:" in r.output
    assert "秘密内容" not in r.output and "13812345678" not in r.output


def test_quiet_prints_nothing_on_success(tmp_path):
    data = write_dataset(tmp_path / "d", contacts=[contact("e1", "2026-11-05T23:00:00+08:00")])
    r = CliRunner().invoke(main, ["run", "--data", str(data), "--out", str(tmp_path / "o"), "--quiet"])
    assert r.exit_code == 0 and r.output == ""


def test_pii_scan_lists_masked_findings_with_row_and_span(tmp_path):
    f = tmp_path / "notes.csv"
    f.write_text("id,content\n1,客户手机13812345678已逾期\n2,订单号 2026112700001234\n3,身份证110101199003071233\n",
                 encoding="utf-8")
    r = CliRunner().invoke(main, ["pii", "scan", str(f), "--column", "content"])
    assert r.exit_code == 0, r.output
    rows = pl.read_csv(r.output.encode()).rows()
    assert rows == [("mobile", "138****5678", 1, 4, 15), ("id_number", "110101********1233", 3, 3, 21)]
    assert "13812345678" not in r.output
    assert CliRunner().invoke(main, ["pii", "scan", str(f), "--column", "nope"]).exit_code == 2


# ------------------------------------------------------------------ command-line conventions (issue #16, item 6)

def _audit(*args, env=None, timeout=120):
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "audit.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def test_run_format_json_prints_one_object_with_counts_outputs_and_exit_reasons(tmp_path):
    data = _dataset(tmp_path)
    p = _audit("run", "--data", data, "--out", tmp_path / "o", "--format", "json", "--fail-on", "high")
    assert p.returncode == 1
    s = json.loads(p.stdout)  # the whole of stdout is one object
    v = pl.read_csv(tmp_path / "o" / "violations.csv")
    assert s["violations"]["total"] == v.height
    assert s["violations"]["by_rule"]["HOURS"] == v.filter(pl.col("rule_id") == "HOURS").height
    assert sum(s["violations"]["by_severity"].values()) == v.height
    c = s["tables"]["contacts"]
    assert (c["read"], c["loaded"], c["rejected"]) == (3, 2, 1)
    assert {"violations.csv", "summary.json", "manifest.json"} <= set(s["outputs"]["files"])
    assert s["exit"] == {"status": 1, "reasons": ["violations at or above high exist (--fail-on)"], "warnings": []}
    assert p.stderr.strip() == "audit: violations at or above high exist (--fail-on)"
    text = _audit("run", "--data", data, "--out", tmp_path / "o2")
    assert text.returncode == 0 and text.stdout.startswith(f"{v.height} violation(s) in ")  # text stays the default


def test_run_format_json_with_nothing_judged_and_fail_on_says_why_and_exits_4(tmp_path):
    data = _dataset(tmp_path)
    p = _audit("run", "--data", data, "--out", tmp_path / "o", "--since", "2030-01-01", "--format", "json",
               "--fail-on", "high")
    assert p.returncode == 4
    s = json.loads(p.stdout)
    assert s["contacts_judged"] == 0 and s["exit"]["status"] == 4
    assert s["exit"]["reasons"][0].startswith("nothing was judged")
    assert p.stderr.startswith("audit: nothing was judged") and len(p.stderr.strip().splitlines()) == 1


def test_every_option_of_every_command_has_an_environment_variable_shown_in_help():
    import click

    from audit.cli import main as group

    def walk(g, path):
        for name, cmd in g.commands.items():
            yield f"{path} {name}", cmd
            if isinstance(cmd, click.Group):
                yield from walk(cmd, f"{path} {name}")

    seen = 0
    for path, cmd in walk(group, "audit"):
        for p in cmd.params:
            if isinstance(p, click.Option):
                assert p.envvar and p.show_envvar, (path, p.name)
                assert p.envvar.startswith("AUDIT_") and p.envvar == p.envvar.upper(), (path, p.envvar)
                seen += 1
    assert seen > 50
    help_text = _run("run", "--help").output
    assert "AUDIT_RUN_FAIL_ON" in help_text and "AUDIT_DB" in help_text


def test_an_option_of_explain_comes_from_the_environment(tmp_path):
    """AUDIT_EXPLAIN_FORMAT=json stands for --format json (the naming: AUDIT_<COMMAND>_<OPTION>)."""
    db = tmp_path / "s.duckdb"
    assert _run("load", _dataset(tmp_path), "--db", db).exit_code == 0
    p = _audit("explain", "late", env={"AUDIT_DB": str(db), "AUDIT_EXPLAIN_FORMAT": "json"})
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["event_id"] == "late"
    fail = _audit("run", "--db", db, "--out", tmp_path / "o", env={"AUDIT_RUN_FAIL_ON": "medium"})
    assert fail.returncode == 1 and "(--fail-on)" in fail.stderr


def test_shell_completion_scripts_are_generated_for_bash_zsh_and_fish():
    for shell in ("bash", "zsh", "fish"):
        p = _audit(env={"_AUDIT_COMPLETE": f"{shell}_source"})
        assert p.returncode == 0, (shell, p.stderr)
        assert "_AUDIT_COMPLETE" in p.stdout and len(p.stdout) > 200, shell
    words = _audit(env={"_AUDIT_COMPLETE": "bash_complete", "COMP_WORDS": "audit ru", "COMP_CWORD": "1"})
    assert words.returncode == 0 and "run" in words.stdout


def _on_a_terminal(args, env, *, until=None, then=None, timeout=120):
    """Run the CLI with stdout and stderr on a pseudo-terminal; returns (exit code, text without escapes)."""
    import os
    import pty
    import re
    import select
    import subprocess
    import sys
    import time

    leader, follower = pty.openpty()
    p = subprocess.Popen([sys.executable, "-m", "audit.cli", *map(str, args)], stdin=follower, stdout=follower,
                         stderr=follower, env={**os.environ, "COLUMNS": "120", **env})
    os.close(follower)
    out, deadline = b"", time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                out += chunk
                if until and then and until.encode() in out:
                    then()
                    until = None
            elif p.poll() is not None:
                break
        code = p.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if p.poll() is None:
            p.kill()
        os.close(leader)
    return code, re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.decode("utf-8", "replace"))


@pytest.mark.timeout(180)
def test_on_a_terminal_a_progress_bar_shows_percentage_and_eta_and_the_pause_hook_still_works(tmp_path):
    data = _dataset(tmp_path)
    resume = tmp_path / "resume"
    code, text = _on_a_terminal(
        ["run", "--data", data, "--out", tmp_path / "o", "-v"],
        {"CONTACT_AUDIT_PAUSE_AT": "report-written", "CONTACT_AUDIT_RESUME_FILE": str(resume)},
        until="paused at report-written", then=resume.touch)
    assert code == 0, text
    assert "paused at report-written" in text
    assert "%" in text and "ETA" in text and "rule HOURS" in text
    assert "rule HOURS:" in text  # -v: each step's duration, above the bar
    assert "violation(s) in 2 contact(s) judged" in text
    quiet_code, quiet = _on_a_terminal(["run", "--data", data, "--out", tmp_path / "q", "-q"], {})
    assert quiet_code == 0 and quiet.strip() == ""  # --quiet: no bar either


def test_without_a_terminal_there_is_no_bar_only_the_verbose_lines(tmp_path):
    p = _audit("run", "--data", _dataset(tmp_path), "--out", tmp_path / "o", "-v")
    assert p.returncode == 0
    assert "\x1b[" not in p.stderr and "ETA" not in p.stderr and "%" not in p.stderr
    assert "rule HOURS:" in p.stderr
