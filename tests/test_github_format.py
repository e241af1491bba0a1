"""`--format github` on `policy validate` and `policy test` (SPEC §9): annotations on the YAML line at fault."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_YAML = ROOT / "audit" / "policies" / "default.yaml"
ANNOTATION = re.compile(r"^::(error|warning) file=([^,:]*),line=(\d+)(?:,title=([^,:]*))?::(.*)$")


def cli(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "audit.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=180)


def annotations(stdout: str) -> list[tuple[str, str, int, str | None, str]]:
    """Every annotation line as (level, file, line, title, message); any other `::` line fails the test."""
    out = []
    for line in stdout.splitlines():
        if line.startswith("::"):
            m = ANNOTATION.match(line)
            assert m, f"not a well-formed annotation: {line!r}"
            out.append((m[1], m[2], int(m[3]), m[4], m[5]))
    return out


BROKEN = """\
# a policy with one problem on each of lines 3, 4, 7, 11, 12, 13 and 14
policy_id: broken
version: 2026
default_timezone: Mars/Base
rules:
  contact_hours:
    start: "25:00"
    end: "22:00"
  frequency:
    - {id: F1, per: loan, window: day, max: 3}
    - id: F2
      per: loan
      window: week
      max: -1
  colour: red
"""
# path of each problem -> the line of its node (a missing key: the line of its parent)
EXPECTED_LINES = {
    "version": 3,
    "default_timezone": 4,
    "rules.contact_hours.start": 7,
    "rules.frequency[1].window": 13,
    "rules.frequency[1].max": 14,
    "rules.colour": 15,
}


def test_a_broken_policy_gets_one_annotation_per_problem_on_its_line(tmp_path):
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "broken.yaml").write_text(BROKEN, encoding="utf-8")
    text = cli("policy", "validate", "policies/broken.yaml", cwd=tmp_path)
    problems = [p.strip() for p in text.stderr.splitlines()[1:]]
    assert text.returncode == 2 and len(problems) == len(EXPECTED_LINES)

    r = cli("policy", "validate", "policies/broken.yaml", "--format", "github", cwd=tmp_path)
    assert r.returncode == 2
    found = annotations(r.stdout)
    assert len(found) == len(problems) == len(r.stdout.splitlines())
    lines = {}
    for level, file, line, title, message in found:
        assert (level, file, title) == ("error", "policies/broken.yaml", "invalid policy")
        lines[message.split(": ", 1)[0]] = line
    assert lines == EXPECTED_LINES
    assert len(r.stderr.splitlines()) == 1 and "6 problem(s)" in r.stderr  # one line on stderr


def test_a_missing_key_points_at_its_parent_and_a_syntax_error_at_its_own_line(tmp_path):
    (tmp_path / "missing.yaml").write_text(
        'policy_id: x\nversion: "1"\ndefault_timezone: UTC\nrules:\n  contact_hours:\n    end: "22:00"\n')
    r = cli("policy", "validate", "missing.yaml", "--format", "github", cwd=tmp_path)
    assert r.returncode == 2
    assert [(a[2], a[4]) for a in annotations(r.stdout)] == [(5, "rules.contact_hours.start: required key is missing")]

    (tmp_path / "top.yaml").write_text('# only a comment first\npolicy_id: x\n')
    r = cli("policy", "validate", "top.yaml", "--format", "github", cwd=tmp_path)
    assert r.returncode == 2 and {a[2] for a in annotations(r.stdout)} == {1}  # a top-level key missing: line 1

    (tmp_path / "syntax.yaml").write_text('policy_id: x\nversion: "1"\npolicy_id: y\n')
    r = cli("policy", "validate", "syntax.yaml", "--format", "github", cwd=tmp_path)
    assert r.returncode == 2
    assert [(a[2], a[4]) for a in annotations(r.stdout)] == [
        (3, "not valid YAML at line 3: the key 'policy_id' appears twice")]


def test_a_valid_policy_prints_no_annotation_and_exits_0(tmp_path):
    shutil.copy(DEFAULT_YAML, tmp_path / "mine.yaml")
    r = cli("policy", "validate", "mine.yaml", "--format", "github", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "::" not in r.stdout and r.stdout.startswith("mine.yaml: valid (cn-consumer-default") and r.stderr == ""


def test_a_builtin_namesake_is_a_warning_annotation_on_the_version_line(tmp_path):
    text = DEFAULT_YAML.read_text(encoding="utf-8")
    version_line = next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith("version:"))
    (tmp_path / "same.yaml").write_text(text.replace("max: 3}", "max: 4}", 1), encoding="utf-8")
    r = cli("policy", "validate", "same.yaml", "--format", "github", cwd=tmp_path)
    assert r.returncode == 0
    [(level, _, line, _, message)] = annotations(r.stdout)
    assert (level, line) == ("warning", version_line) and "builtin:default" in message


CASES = """\
# policy unit tests: the second case fails
policy: builtin:default
cases:
  - name: a late call is flagged
    timezone: Asia/Shanghai
    data: &data
      loans: [{loan_id: L1, borrower_id: B1}]
      installments: [{loan_id: L1, seq: 1, due_date: 2026-11-01, amount_due: 100}]
      contacts:
        - {event_id: E1, loan_id: L1, ts: "2026-11-05 23:00:00", channel: call, recipient_type: borrower}
    expect: [{rule_id: HOURS, event_id: E1}]

  - name: "expects the wrong event: 100%, surely"
    timezone: Asia/Shanghai
    data: *data
    expect: [{rule_id: HOURS, event_id: E2}]
"""


def test_a_failing_case_is_annotated_at_its_line_in_the_cases_file(tmp_path):
    (tmp_path / "policy_tests" / "sub").mkdir(parents=True)
    (tmp_path / "policy_tests" / "sub" / "hours.yaml").write_text(CASES, encoding="utf-8")
    r = cli("policy", "test", "policy_tests", "--format", "github", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    [(level, file, line, title, message)] = annotations(r.stdout)
    assert (level, file, line) == ("error", "policy_tests/sub/hours.yaml", 13)
    assert title == "policy test expects the wrong event%3A 100%25%2C surely"
    assert message == ("policy test case failed: expects the wrong event: 100%25, surely"
                       "%0Amissing:    HOURS E2%0Aunexpected: HOURS E1")
    assert "PASS policy_tests/sub/hours.yaml::a late call is flagged" in r.stdout
    assert r.stdout.splitlines()[-1] == "1 passed, 1 failed"

    passing = CASES.replace("event_id: E2}", "event_id: E1}")
    (tmp_path / "policy_tests" / "sub" / "hours.yaml").write_text(passing, encoding="utf-8")
    r = cli("policy", "test", "policy_tests", "--format", "github", cwd=tmp_path)
    assert r.returncode == 0 and annotations(r.stdout) == [] and "2 passed, 0 failed" in r.stdout


def test_file_title_and_message_escape_the_annotation_syntax(tmp_path):
    # a file name with `,` and `:` (which would end a property) and a key with `%`, CR and LF in it
    (tmp_path / "a,b:c.yaml").write_text(
        'policy_id: x\nversion: "1"\ndefault_timezone: UTC\n"50%\\r\\noff": 1\n', encoding="utf-8")
    r = cli("policy", "validate", "a,b:c.yaml", "--format", "github", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stdout.splitlines() == [
        "::error file=a%2Cb%3Ac.yaml,line=4,title=invalid policy::50%25%0D%0Aoff: unknown key"]


def test_the_example_workflow_annotates_validate_and_test():
    text = (ROOT / ".github" / "workflows" / "policy-check.yml").read_text(encoding="utf-8")
    commands = re.findall(r"audit policy (?:validate|test)\b[^\n|]*", text)
    runs = [c for c in commands if "`" not in c]  # the commands run, not the ones named in comments
    assert len(runs) == 2 and all("--format github" in c for c in runs)
