"""The command line as scripts use it: outputs, exit codes and one-line errors."""

from __future__ import annotations

import json

import polars as pl
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
