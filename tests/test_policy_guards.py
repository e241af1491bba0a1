"""Hostile policy input through the real CLI: a refusal with exit 2, never a traceback or a hang.

Each case runs `python -m audit.cli` in a subprocess with a timeout, so a hang
fails the test instead of stalling the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from audit.errors import PolicyError
from audit.policy import MAX_POLICY_BYTES, parse_policy

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
HEAD = 'policy_id: p\nversion: "1"\ndefault_timezone: UTC\n'
DIGITS = "1" * 5000  # beyond Python's 4,300-digit limit on int("...")

pytestmark = pytest.mark.timeout(120)


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "audit.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60, check=False)


def assert_policy_refused(proc: subprocess.CompletedProcess, *expected: str) -> list[str]:
    """Exit 2, no traceback, and the policy-problem block: a heading line, then one indented line per problem."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    lines = proc.stderr.splitlines()
    assert lines and lines[0].startswith("audit: policy ") and lines[0].endswith("problem(s)):"), lines
    problems = [line.strip() for line in lines[1:]]
    assert problems and all(line.startswith("  ") for line in lines[1:]), lines
    for text in expected:
        assert any(text in p for p in problems), (text, problems)
    return problems


def both_commands(policy: str | Path, tmp_path: Path) -> list[subprocess.CompletedProcess]:
    """`policy validate FILE` and `run --policy FILE` on the sample data."""
    out = tmp_path / "out"
    return [cli("policy", "validate", str(policy)),
            cli("run", "--data", str(SAMPLE), "--policy", str(policy), "--out", str(out), "--quiet")]


def test_a_5000_digit_integer_is_a_policy_problem_with_its_path(tmp_path):
    f = tmp_path / "huge.yaml"
    f.write_text(HEAD + "rules:\n  frequency:\n"
                 f"    - {{id: FREQ-A, per: loan, window: day, max: {DIGITS}}}\n", encoding="utf-8")
    for proc in both_commands(f, tmp_path):
        assert_policy_refused(proc, "rules.frequency[0].max: Input should be less than or equal to 1000000")
    assert not (tmp_path / "out").exists()


def test_long_integers_anywhere_are_reported_together_each_with_its_path(tmp_path):
    f = tmp_path / "huge.yaml"
    f.write_text(HEAD + f"severity: {{TP-DPD: {DIGITS}}}\nrules:\n"
                 f"  third_party:\n    min_days_past_due: -{DIGITS}\n"
                 f"    amount_tiers: [{{overdue_amount_at_least: {DIGITS}, min_days_past_due: 0x{'f' * 5000}}}]\n"
                 f"  contact_hours: {{start: {DIGITS}, end: '22:00'}}\n", encoding="utf-8")
    problems = assert_policy_refused(cli("policy", "validate", str(f)))
    paths = {p.split(":")[0] for p in problems}
    assert paths == {"severity.TP-DPD", "rules.third_party.min_days_past_due",
                     "rules.third_party.amount_tiers[0].overdue_amount_at_least",
                     "rules.third_party.amount_tiers[0].min_days_past_due", "rules.contact_hours.start"}, problems
    assert any("an integer of 5000 digits" in p for p in problems)
    assert all(len(p) < 300 for p in problems), "a problem line quotes the whole number"


@pytest.mark.parametrize("literal", [DIGITS, "-" + DIGITS, "0x" + "f" * 5000, "0" + "7" * 5000, "0b" + "1" * 5000,
                                     "1_" * 3000 + "1", ":".join(["1"] * 3000), "9" * 31])
def test_every_long_integer_form_is_refused_by_the_validator_not_the_reader(literal):
    with pytest.raises(PolicyError) as e:
        parse_policy(HEAD + f"rules:\n  quiet_after_conversation: {{days: {literal}}}\n")
    assert len(e.value.problems) == 1
    assert e.value.problems[0].startswith("rules.quiet_after_conversation.days: Input should be")


def test_integers_within_bounds_still_load():
    p = parse_policy(HEAD + "rules:\n  quiet_after_conversation: {days: 1_000}\n"
                     "  third_party: {amount_tiers: [{overdue_amount_at_least: 9999999999999999, "
                     "min_days_past_due: 0x10}]}\n")
    assert p.rules.quiet_after_conversation.days == 1000
    assert p.rules.third_party.amount_tiers[0].min_days_past_due == 16


def test_a_date_that_does_not_exist_is_a_policy_problem(tmp_path):
    f = tmp_path / "date.yaml"
    f.write_text('policy_id: p\nversion: 2026-13-45\ndefault_timezone: UTC\n', encoding="utf-8")
    assert_policy_refused(cli("policy", "validate", str(f)), "line 2", "2026-13-45")


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_device_is_refused_before_it_is_read(device, tmp_path):
    if not Path(device).exists():
        pytest.skip(f"{device} does not exist here")
    for proc in both_commands(device, tmp_path):
        assert_policy_refused(proc, "not a regular file (a character device)")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_without_a_writer_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "policy.yaml"
    os.mkfifo(fifo)
    for proc in both_commands(fifo, tmp_path):
        assert_policy_refused(proc, "not a regular file (a FIFO)")


def test_a_directory_and_a_missing_file_are_refused(tmp_path):
    assert_policy_refused(cli("policy", "validate", str(tmp_path)), "not a regular file (a directory)")
    assert_policy_refused(cli("policy", "validate", str(tmp_path / "nope.yaml")),
                          "cannot read the file: No such file or directory")


def test_a_symlink_to_a_device_is_refused(tmp_path):
    link = tmp_path / "policy.yaml"
    link.symlink_to("/dev/zero")
    assert_policy_refused(cli("policy", "validate", str(link)), "not a regular file")


def test_a_file_over_the_size_limit_is_refused_without_parsing(tmp_path):
    f = tmp_path / "big.yaml"
    f.write_bytes(HEAD.encode() + b"#" * MAX_POLICY_BYTES)
    assert_policy_refused(cli("policy", "validate", str(f)), f"a policy may be at most {MAX_POLICY_BYTES}")
