"""The policy file: shape, defaults, every problem with its path, and safe parsing."""

from __future__ import annotations

import pytest

from audit.errors import PolicyError
from audit.policy import builtin_names, load_policy, parse_policy

GOOD = """
policy_id: p
version: "1"
default_timezone: Asia/Shanghai
rules:
  third_party: {min_days_past_due: 7}
  contact_hours: {start: "08:00", end: "22:00"}
"""


def test_the_builtin_default_is_the_spec_example():
    p = load_policy(None)
    assert p.policy_id == "cn-consumer-default" and "default" in builtin_names()
    assert p.rule_ids()[:4] == ["TP-DPD", "TP-ESCALATION", "TP-UNREGISTERED", "HOURS"]
    assert p.rules.third_party.amount_tiers[0].min_days_past_due == 3


def test_defaults_for_keys_left_out_of_a_present_section():
    p = parse_policy(GOOD.replace("third_party: {min_days_past_due: 7}", "third_party: {}\n  pii: {}"))
    assert p.rules.third_party.min_days_past_due == 0 and p.rules.third_party.registered_only is False
    assert list(p.rules.pii.unmasked_forbidden) == ["id_number", "bank_card", "mobile"]
    assert p.rules.pii.unmasked_channels is None  # every channel
    assert "TP-ESCALATION" not in p.rule_ids()    # no escalation steps: rule off


def test_severity_overrides_and_references():
    p = parse_policy(GOOD + "severity: {TP-DPD: critical}\nreferences: {HOURS: 'GB/T 45251-2025 5.3'}\n")
    assert p.severity_of("TP-DPD") == "critical" and p.severity_of("HOURS") == "medium"
    assert p.reference_of("HOURS") == "GB/T 45251-2025 5.3" and p.reference_of("TP-DPD") == ""


def test_a_broken_policy_lists_every_problem_with_its_path():
    text = """
policy_id: p
version: 2026.11
default_timezone: Mars/Olympus
colour: red
severity: {TP-DPD: huge}
rules:
  third_party: {min_days_past_due: -1, escalation: [{channel: fax, at_least: 2}]}
  contact_hours: {start: "8 am", end: "22:00"}
  frequency:
    - {id: F1, per: loan, window: day, max: 3}
    - {id: F2, per: loan, window: fortnight, max: x}
"""
    with pytest.raises(PolicyError) as e:
        parse_policy(text)
    paths = {p.split(":")[0] for p in e.value.problems}
    assert paths == {
        "version", "default_timezone", "colour", "severity.TP-DPD",
        "rules.third_party.min_days_past_due", "rules.third_party.escalation[0].channel",
        "rules.contact_hours.start", "rules.frequency[1].window", "rules.frequency[1].max",
    }


def test_duplicate_frequency_ids_are_refused():
    text = GOOD + """  frequency:
    - {id: F1, per: loan, window: day, max: 3}
    - {id: F1, per: loan, window: 7d, max: 7}
"""
    with pytest.raises(PolicyError, match=r"rules\.frequency: duplicate or reserved frequency id: F1"):
        parse_policy(text)


def test_missing_required_keys_are_named():
    with pytest.raises(PolicyError) as e:
        parse_policy("rules: {}\n")
    assert {"policy_id: required key is missing", "version: required key is missing",
            "default_timezone: required key is missing"} <= set(e.value.problems)


def test_yaml_aliases_are_refused_so_a_billion_laughs_cannot_expand():
    bomb = 'a: &a ["x","x"]\nb: &b [*a,*a]\nc: &c [*b,*b]\n'
    with pytest.raises(PolicyError, match="aliases"):
        parse_policy(bomb)


def test_a_huge_policy_file_is_refused_before_parsing():
    with pytest.raises(PolicyError, match="at most"):
        parse_policy("x: " + "y" * 2_000_000)


def test_unquoted_yaml_times_are_read_as_times():
    p = parse_policy(GOOD.replace('"08:00"', "08:00"))  # YAML 1.1 reads 08:00 as 480 minutes
    assert p.rules.contact_hours.start.hour == 8


# ---------------------------------------------------------------- a policy's id and version name its content

def test_the_content_hash_ignores_layout_comments_and_written_out_defaults():
    from audit.policy import content_sha256

    a = parse_policy(GOOD)
    b = parse_policy("# a comment\n" + GOOD.replace('"08:00"', "08:00") + "severity: {HOURS: medium}\n")
    c = parse_policy(GOOD.replace("{min_days_past_due: 7}", "{min_days_past_due: 7, registered_only: false}"))
    assert a.sha256 != b.sha256  # the bytes differ ...
    assert content_sha256(a) == content_sha256(b) == content_sha256(c)  # ... the meaning does not
    assert content_sha256(a) != content_sha256(parse_policy(GOOD + "severity: {HOURS: high}\n"))
    assert content_sha256(a) != content_sha256(parse_policy(GOOD.replace('"22:00"', '"21:00"')))
    assert content_sha256(a) != content_sha256(parse_policy(GOOD + "references: {HOURS: 'a rule'}\n"))


def _validate(path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    return subprocess.run([sys.executable, "-m", "audit.cli", "policy", "validate", str(path)], cwd=root,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.timeout(120)
def test_validate_warns_when_a_file_reuses_a_builtin_id_and_version_with_other_content(tmp_path):
    from importlib import resources

    builtin = resources.files("audit.policies").joinpath("default.yaml").read_text("utf-8")
    changed = tmp_path / "changed.yaml"
    changed.write_text(builtin + "severity: {TP-DPD: critical}\n", encoding="utf-8")
    proc = _validate(changed)
    assert proc.returncode == 0 and "valid (cn-consumer-default 2026.11;" in proc.stdout
    assert proc.stderr.splitlines() == [
        "audit: warning: policy cn-consumer-default version 2026.11 differs from the built-in builtin:default "
        "with the same id and version; give it a new version"]
    renamed = tmp_path / "renamed.yaml"
    renamed.write_text(changed.read_text("utf-8").replace('version: "2026.11"', 'version: "2026.11-mine"'),
                       encoding="utf-8")
    copied = tmp_path / "copied.yaml"  # the same content, other comments and layout: the same policy
    copied.write_text("# our copy\n" + builtin.replace("rules:\n", "rules:   # as shipped\n", 1), encoding="utf-8")
    for path in (renamed, copied, "builtin:default"):
        proc = _validate(path)
        assert proc.returncode == 0 and proc.stderr == "", (path, proc.stderr)


def test_no_shipped_policy_reuses_a_builtin_id_and_version_with_other_content():
    from pathlib import Path

    from audit.policy import BUILTIN_PREFIX, builtin_namesake

    root = Path(__file__).resolve().parents[1]
    shipped = sorted((root / "sample_data" / "policies").glob("*.yaml"))
    assert shipped
    for spec in [*shipped, *(BUILTIN_PREFIX + n for n in builtin_names())]:
        assert builtin_namesake(load_policy(spec)) is None, spec


@pytest.mark.parametrize("start, end, ok", [
    ("20:00", "06:00", True),    # over midnight (docs/decisions.md)
    ("08:00", "08:00", False),   # an empty window is refused
    ("00:00", "00:00", False),
])
def test_contact_hours_over_midnight_are_accepted_and_an_empty_window_is_refused(start, end, ok):
    text = GOOD.replace('{start: "08:00", end: "22:00"}', f'{{start: "{start}", end: "{end}"}}')
    if ok:
        h = parse_policy(text).rules.contact_hours
        assert (h.start.hour, h.end.hour) == (int(start[:2]), int(end[:2]))
    else:
        with pytest.raises(PolicyError) as e:
            parse_policy(text)
        assert any(p.startswith("rules.contact_hours") and "equal" in p for p in e.value.problems), e.value.problems
