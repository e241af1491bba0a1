"""Policy authors' tools: `policy diff` (what a change adds and removes) and `policy test` (unit tests)."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from audit.cli import main
from audit.policy_tools import md
from helpers import contact, write_dataset

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "policy_tests"
DEFAULT_YAML = ROOT / "audit" / "policies" / "default.yaml"
EC = dict(recipient_type="emergency_contact", recipient_id="K1", channel="call", outcome="connected")


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _default_with(tmp_path: Path, name: str, **third_party) -> Path:
    """The built-in default policy with some third_party parameters changed."""
    doc = yaml.safe_load(DEFAULT_YAML.read_text(encoding="utf-8"))
    doc["version"] = "changed"
    doc["rules"]["third_party"].update(third_party)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def dpd_data(tmp_path):
    """Calls to a registered emergency contact at DPD 2, 4 and 8 (instalment due 2026-11-01)."""
    return write_dataset(tmp_path / "data", contacts=[
        contact("DPD2", "2026-11-03T10:00:00+08:00", **EC),
        contact("DPD4", "2026-11-05T10:00:00+08:00", **EC),
        contact("DPD8", "2026-11-09T10:00:00+08:00", **EC),
    ], emergency_contacts=[{"borrower_id": "B1", "contact_id": "K1"}])


# ------------------------------------------------------------------ policy diff

def test_lowering_min_days_past_due_removes_exactly_the_violations_between_the_thresholds(tmp_path, dpd_data):
    # 7 days: DPD2 and DPD4 break TP-DPD; 3 days: only DPD2 does. Everything else is the same.
    r = _run("policy", "diff", DEFAULT_YAML, _default_with(tmp_path, "p3.yaml", min_days_past_due=3),
             "--data", dpd_data, "--format", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["totals"]["added"] == 0 and d["totals"]["removed"] == 1
    rules = {x["rule_id"]: x for x in d["rules"]}
    assert (rules["TP-DPD"]["old"], rules["TP-DPD"]["new"]) == (2, 1)
    assert [e["event_id"] for e in rules["TP-DPD"]["examples_removed"]] == ["DPD4"]
    assert rules["TP-DPD"]["params_changed"] and not rules["HOURS"]["params_changed"]
    assert all(x["added"] == x["removed"] == 0 for x in d["rules"] if x["rule_id"] != "TP-DPD")


def test_raising_min_days_past_due_adds_violations_and_fail_on_new_exits_1(tmp_path, dpd_data):
    p10 = _default_with(tmp_path, "p10.yaml", min_days_past_due=10)
    r = _run("policy", "diff", DEFAULT_YAML, p10, "--data", dpd_data, "--format", "json")
    rules = {x["rule_id"]: x for x in json.loads(r.output)["rules"]}
    assert rules["TP-DPD"]["added"] == 1 and rules["TP-DPD"]["removed"] == 0
    assert rules["TP-DPD"]["examples_added"][0]["event_id"] == "DPD8"
    assert _run("policy", "diff", DEFAULT_YAML, p10, "--data", dpd_data, "--fail-on-new", "high").exit_code == 1
    assert _run("policy", "diff", DEFAULT_YAML, p10, "--data", dpd_data, "--fail-on-new", "critical").exit_code == 0
    p3 = _default_with(tmp_path, "p3.yaml", min_days_past_due=3)
    assert _run("policy", "diff", DEFAULT_YAML, p3, "--data", dpd_data, "--fail-on-new", "low").exit_code == 0


def test_diff_between_the_two_builtin_policies_counts_rules_added_and_removed(tmp_path):
    # A: a borrower call at 21:30 Shanghai time: fine for 08-22, late for 08-21 (us-reg-f).
    # B: the only call to emergency contact K1, at DPD 2: TP-DPD and TP-ESCALATION under the default,
    #    nothing under us-reg-f (a first location contact is allowed).
    data = write_dataset(tmp_path / "d", contacts=[
        contact("A", "2026-11-05T21:30:00+08:00"),
        contact("B", "2026-11-03T10:00:00+08:00", **EC),
    ], emergency_contacts=[{"borrower_id": "B1", "contact_id": "K1"}])
    r = _run("policy", "diff", "builtin:default", "builtin:us-reg-f", "--data", data, "--format", "json")
    d = json.loads(r.output)
    changes = {(x["rule_id"], x["status"]): (x["added"], x["removed"]) for x in d["rules"] if x["added"] or x["removed"]}
    assert changes == {("HOURS", "both"): (1, 0), ("TP-DPD", "removed"): (0, 1), ("TP-ESCALATION", "removed"): (0, 1)}
    assert d["totals"] == {"old": 2, "new": 1, "added": 1, "removed": 2}
    statuses = {x["rule_id"]: x["status"] for x in d["rules"]}
    assert statuses["QUIET-AFTER-CONVERSATION"] == "added" and statuses["TP-UNREGISTERED"] == "removed"


def test_diff_markdown_is_a_pull_request_comment_with_a_table_and_examples(tmp_path, dpd_data):
    r = _run("policy", "diff", DEFAULT_YAML, _default_with(tmp_path, "p3.yaml", min_days_past_due=3),
             "--data", dpd_data, "--format", "markdown")
    assert r.exit_code == 0
    assert r.output.startswith("### Policy change: `cn-consumer-default 2026.11` → `cn-consumer-default changed`")
    assert "| rule | severity | before | after | added | removed | note |" in r.output
    assert re.search(r"^\| `TP-DPD` \| high \| 2 \| 1 \| \*\*\+0\*\* \| \*\*−1\*\* \| changed \|$", r.output, re.M)
    assert "<summary>Removed: TP-DPD (1)</summary>" in r.output and "| DPD4 | L1 |" in r.output


def test_diff_text_shows_counts_per_rule_and_examples(tmp_path, dpd_data):
    r = _run("policy", "diff", DEFAULT_YAML, _default_with(tmp_path, "p3.yaml", min_days_past_due=3),
             "--data", dpd_data)
    # old: TP-DPD on DPD2 and DPD4, TP-ESCALATION on all three (no reminders); new: TP-DPD on DPD2 only
    assert "violations 5 -> 4 (+0 added, -1 removed)" in r.output
    assert "removed by the change, TP-DPD (1):" in r.output and "DPD4 loan L1" in r.output


def test_diff_examples_are_masked_and_markdown_cannot_carry_markup_from_the_data(tmp_path):
    data = write_dataset(tmp_path / "d", contacts=[
        contact("M", "2026-11-05T10:00:00+08:00", channel="sms", content="回电 13912345678 | @boss [x](http://e.vil)")])
    doc = yaml.safe_load(DEFAULT_YAML.read_text(encoding="utf-8"))
    del doc["rules"]["pii"]
    nopii = tmp_path / "nopii.yaml"
    nopii.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    for fmt, masked in (("text", "139****5678"), ("json", "139****5678"), ("markdown", r"139\*\*\*\*5678")):
        r = _run("policy", "diff", DEFAULT_YAML, nopii, "--data", data, "--format", fmt)
        assert "13912345678" not in r.output and masked in r.output, fmt
    assert md("a|b @boss [x](http://e.vil) <i>`") == "a\\|b @\u200bboss \\[x\\](http:\u200b//e.vil) &lt;i>\\`"


def test_diff_needs_exactly_one_source_of_data(tmp_path, dpd_data):
    assert _run("policy", "diff", DEFAULT_YAML, DEFAULT_YAML).exit_code == 2
    r = _run("policy", "diff", DEFAULT_YAML, DEFAULT_YAML, "--db", tmp_path / "none.duckdb")
    assert r.exit_code == 2 and "no store at" in r.output


def test_diff_reads_a_store_as_well_as_a_dataset(tmp_path, dpd_data):
    db = tmp_path / "store.duckdb"
    assert _run("load", dpd_data, "--db", db).exit_code == 0
    r = _run("policy", "diff", DEFAULT_YAML, _default_with(tmp_path, "p3.yaml", min_days_past_due=3),
             "--db", db, "--format", "json")
    assert json.loads(r.output)["totals"]["removed"] == 1


# ------------------------------------------------------------------ policy test

def test_the_shipped_policy_test_suite_passes():
    r = _run("policy", "test", SUITE)
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert any(x.startswith("PASS policy_tests/default.yaml::") for x in lines)
    assert any(x.startswith("PASS policy_tests/us-reg-f.yaml::") for x in lines)
    assert lines[-1].endswith(" passed, 0 failed") and not any(x.startswith("FAIL") for x in lines)


def test_a_broken_expectation_fails_naming_what_is_missing_and_unexpected(tmp_path):
    doc = yaml.safe_load((SUITE / "default.yaml").read_text(encoding="utf-8"))
    case = next(c for c in doc["cases"] if c["name"].startswith("a call at 22:00:00"))
    case["expect"] = [{"rule_id": "HOURS", "event_id": "OK"}]
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump({"policy": "builtin:default", "cases": [case]}, allow_unicode=True),
                    encoding="utf-8")
    junit = tmp_path / "junit.xml"
    r = _run("policy", "test", path, "--junit", junit)
    assert r.exit_code == 1
    assert "FAIL" in r.output and "missing:    HOURS OK" in r.output and "unexpected: HOURS LATE" in r.output
    assert "0 passed, 1 failed" in r.output
    failure = ET.parse(junit).getroot().find("testsuite/testcase/failure")
    assert failure is not None and "missing:    HOURS OK" in failure.text


CASE = """
policy: {policy}
cases:
  - name: late call
    {extra}
    data:
      loans: [{{loan_id: L1, borrower_id: B1}}]
      installments: [{{loan_id: L1, seq: 1, due_date: 2026-11-01, amount_due: 100}}]
      contacts:
        - {{event_id: E1, loan_id: L1, ts: "2026-11-05 23:00:00", channel: call, recipient_type: borrower}}
        - {{event_id: E2, loan_id: L1, ts: "2026-11-05T10:00:00+08:00", channel: call, recipient_type: borrower}}
    expect: [{{rule_id: HOURS, event_id: E1}}]
"""


def test_a_case_names_its_policy_by_relative_path_or_inline_and_its_zone(tmp_path):
    (tmp_path / "policies").mkdir()
    shutil.copy(DEFAULT_YAML, tmp_path / "policies" / "mine.yaml")
    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / "rel.yaml").write_text(
        CASE.format(policy="../policies/mine.yaml", extra="timezone: Asia/Shanghai"), encoding="utf-8")
    inline = "{policy_id: x, version: '1', default_timezone: Asia/Shanghai, rules: {contact_hours: {start: '08:00', end: '22:00'}}}"
    (tmp_path / "cases" / "inline.yaml").write_text(CASE.format(policy=inline, extra="timezone: Asia/Shanghai"),
                                                   encoding="utf-8")
    r = _run("policy", "test", tmp_path / "cases")
    assert r.exit_code == 0, r.output
    assert "PASS cases/inline.yaml::late call" in r.output and "PASS cases/rel.yaml::late call" in r.output


def test_a_case_with_rejected_rows_or_a_broken_policy_fails_with_the_reason(tmp_path):
    (tmp_path / "naive.yaml").write_text(CASE.format(policy="builtin:default", extra=""), encoding="utf-8")
    r = _run("policy", "test", tmp_path / "naive.yaml")
    assert r.exit_code == 1 and "--timezone" in r.output  # a naive timestamp without a zone stops the load
    (tmp_path / "bad.yaml").write_text(CASE.format(policy="{policy_id: x}", extra="timezone: Asia/Shanghai"),
                                       encoding="utf-8")
    r = _run("policy", "test", tmp_path / "bad.yaml")
    assert r.exit_code == 1 and "error: policy" in r.output and "version: required key is missing" in r.output
    rejected = CASE.format(policy="builtin:default", extra="timezone: Asia/Shanghai").replace(
        '+08:00", channel: call', '+08:00", channel: fax')
    (tmp_path / "rej.yaml").write_text(rejected, encoding="utf-8")
    r = _run("policy", "test", tmp_path / "rej.yaml")
    assert r.exit_code == 1 and "rejected rows" in r.output and "fax" in r.output


def test_only_rules_limits_the_comparison_to_the_rules_named(tmp_path):
    text = CASE.format(policy="builtin:default", extra="timezone: Asia/Shanghai\n    only_rules: [TP-DPD]")
    (tmp_path / "only.yaml").write_text(text.replace("[{rule_id: HOURS, event_id: E1}]", "[]"), encoding="utf-8")
    assert _run("policy", "test", tmp_path / "only.yaml").exit_code == 0


def test_a_malformed_case_file_is_a_usage_error_with_the_path(tmp_path):
    (tmp_path / "x.yaml").write_text("cases:\n  - name: n\n    data: {loans: []}\n    expect: []\n    typo: 1\n")
    r = _run("policy", "test", tmp_path / "x.yaml")
    assert r.exit_code == 2
    assert "cases[0].typo: unknown key" in r.output and "cases[0].data.contacts: required key is missing" in r.output
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _run("policy", "test", empty).exit_code == 2


# ------------------------------------------------------------------ the CI workflow users copy

def test_the_example_workflow_uses_only_commands_the_cli_has():
    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "policy-check.yml").read_text(encoding="utf-8"))
    scripts = "\n".join(s.get("run", "") for job in wf["jobs"].values() for s in job["steps"])
    used = set(re.findall(r"\baudit (policy \w+|\w+)", scripts))
    assert {"policy validate", "policy test", "policy diff"} <= used
    for command in used:
        assert _run(*command.split(), "--help").exit_code == 0, command
    assert "--format markdown" in scripts and "pull_request" in wf[True]  # YAML 1.1 reads `on:` as True
