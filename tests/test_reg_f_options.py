"""Regulation F to the letter: calls not connected are not placed calls, and 9 p.m. itself is not after 9 p.m.

Each boundary is judged three ways: the DuckDB engine, the loop-based
reading of the spec (tests/oracle.py) and, in one combined run, Spark.
"""

from __future__ import annotations

import shutil

import pytest

import audit
from audit import store
from audit.errors import PolicyError
from audit.ingest import load_dataset
from helpers import contact, policy, write_dataset
from oracle import violations as oracle_violations

NY = [{"borrower_id": "B1", "timezone": "America/New_York"}]
SEVEN_IN_SEVEN = {"id": "CALLS-7-IN-7", "recipient_types": ["borrower"], "channels": ["call"], "per": "loan",
                  "window": "7_days", "max": 7}


def judged(root, rules: dict) -> set[tuple[str, str]]:
    """(rule_id, event_id) by the engine, asserted equal to the loop-based reading."""
    p = policy(rules, default_timezone="America/New_York")
    engine = set(audit.audit(data=root, policy=p).violations.select("rule_id", "event_id").iter_rows())
    con = store.connect()
    load_dataset(con, root)
    assert oracle_violations(con, p) == engine
    return engine


def seven_calls_then(tmp_path, last_outcome: str | None):
    """Seven unanswered calls on seven consecutive days, then one more on the seventh day."""
    calls = [contact(f"C{d}", f"2026-11-{d + 1:02d}T10:00:00-05:00") for d in range(1, 8)]
    calls.append(contact("LAST", "2026-11-08T15:00:00-05:00", outcome=last_outcome))
    return write_dataset(tmp_path, contacts=calls, borrowers=NY)


@pytest.mark.parametrize("outcome,flagged", [("failed", False), ("busy", False), (None, True), ("no_answer", True)])
def test_an_eighth_attempt_not_connected_is_not_counted_an_empty_outcome_is(tmp_path, outcome, flagged):
    root = seven_calls_then(tmp_path, outcome)
    limit = {**SEVEN_IN_SEVEN, "exclude_outcomes": ["failed", "busy"]}
    assert judged(root, {"frequency": [limit]}) == ({("CALLS-7-IN-7", "LAST")} if flagged else set())


def test_without_exclude_outcomes_every_attempt_counts(tmp_path):
    root = seven_calls_then(tmp_path, "failed")
    assert judged(root, {"frequency": [SEVEN_IN_SEVEN]}) == {("CALLS-7-IN-7", "LAST")}


def test_an_excluded_attempt_is_neither_counted_nor_flagged_even_past_the_limit(tmp_path):
    calls = [contact(f"C{d}", f"2026-11-{d + 1:02d}T10:00:00-05:00") for d in range(1, 8)]
    calls += [contact(f"F{i}", f"2026-11-08T1{i}:00:00-05:00", outcome="failed") for i in range(3)]
    calls.append(contact("EIGHTH", "2026-11-08T16:00:00-05:00", outcome="voicemail"))
    root = write_dataset(tmp_path, contacts=calls, borrowers=NY)
    limit = {**SEVEN_IN_SEVEN, "exclude_outcomes": ["failed", "busy"]}
    assert judged(root, {"frequency": [limit]}) == {("CALLS-7-IN-7", "EIGHTH")}


def test_outcomes_and_exclude_outcomes_together_are_a_policy_error_with_the_path():
    with pytest.raises(PolicyError) as e:
        policy({"frequency": [{**SEVEN_IN_SEVEN, "outcomes": ["connected"], "exclude_outcomes": ["failed"]}]})
    assert any(p.startswith("rules.frequency[0]") and "exclude_outcomes" in p for p in e.value.problems)


@pytest.mark.parametrize("season,offset", [("winter", "-05:00"), ("summer", "-04:00")])
@pytest.mark.parametrize("inclusive", [True, False])
def test_nine_pm_exactly_is_allowed_only_with_end_inclusive_and_a_second_later_never(
        tmp_path, season, offset, inclusive):
    day = "2026-12-01" if season == "winter" else "2026-07-01"
    due = "2026-11-01" if season == "winter" else "2026-06-01"
    root = write_dataset(tmp_path, borrowers=NY, installments=[
        {"loan_id": "L1", "seq": 1, "due_date": due, "amount_due": "100.00", "paid_at": None}], contacts=[
        contact("AT_21", f"{day}T21:00:00{offset}"),
        contact("AT_21_0_5", f"{day}T21:00:00.5{offset}"),
        contact("AT_21_0_1", f"{day}T21:00:01{offset}"),
        contact("AT_20_59_59", f"{day}T20:59:59{offset}"),
        contact("AT_8", f"{day}T08:00:00{offset}"),
        contact("AT_7_59_59", f"{day}T07:59:59{offset}"),
    ])
    hours = {"start": "08:00", "end": "21:00", **({"end_inclusive": True} if inclusive else {})}
    expected = {"AT_21_0_5", "AT_21_0_1", "AT_7_59_59"} | (set() if inclusive else {"AT_21"})
    assert judged(root, {"contact_hours": hours}) == {("HOURS", e) for e in expected}


def test_end_inclusive_over_midnight_allows_the_end_itself(tmp_path):
    root = write_dataset(tmp_path, borrowers=NY, contacts=[
        contact("AT_6", "2026-12-01T06:00:00-05:00"), contact("AT_6_0_1", "2026-12-01T06:00:01-05:00"),
        contact("AT_23", "2026-12-01T23:00:00-05:00")])
    got = judged(root, {"contact_hours": {"start": "20:00", "end": "06:00", "end_inclusive": True}})
    assert got == {("HOURS", "AT_6_0_1")}


def test_end_inclusive_must_be_a_boolean():
    with pytest.raises(PolicyError) as e:
        policy({"contact_hours": {"start": "08:00", "end": "21:00", "end_inclusive": "yes"}})
    assert any(p.startswith("rules.contact_hours.end_inclusive") for p in e.value.problems)


def test_a_call_not_connected_in_the_quiet_days_after_a_conversation_is_not_flagged(tmp_path):
    root = write_dataset(tmp_path, borrowers=NY, contacts=[
        contact("TALK", "2026-11-02T10:00:00-05:00", outcome="connected"),
        contact("FAILED", "2026-11-03T10:00:00-05:00", outcome="failed"),
        contact("BUSY", "2026-11-04T10:00:00-05:00", outcome="busy"),
        contact("EMPTY", "2026-11-05T10:00:00-05:00", outcome=None),
        contact("RANG", "2026-11-06T10:00:00-05:00", outcome="no_answer")])
    quiet = {"days": 7, "exclude_outcomes": ["failed", "busy"]}
    assert judged(root, {"quiet_after_conversation": quiet}) == {
        ("QUIET-AFTER-CONVERSATION", "EMPTY"), ("QUIET-AFTER-CONVERSATION", "RANG")}
    assert {e for _, e in judged(root, {"quiet_after_conversation": {"days": 7}})} == {
        "FAILED", "BUSY", "EMPTY", "RANG"}


@pytest.mark.timeout(300)
def test_spark_judges_both_options_as_duckdb_does(tmp_path):
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("java is not installed here")
    calls = [contact(f"C{d}", f"2026-11-{d + 1:02d}T10:00:00-05:00") for d in range(1, 8)]
    calls += [contact("FAILED8", "2026-11-08T15:00:00-05:00", outcome="failed"),
              contact("EMPTY8", "2026-11-08T16:00:00-05:00", outcome=None),
              contact("AT_21", "2026-11-08T21:00:00-05:00", outcome="failed"),
              contact("AT_21_0_1", "2026-11-08T21:00:01-05:00", outcome="busy")]
    root = write_dataset(tmp_path, contacts=calls, borrowers=NY)
    p = policy({"frequency": [{**SEVEN_IN_SEVEN, "exclude_outcomes": ["failed", "busy"]}],
                "contact_hours": {"start": "08:00", "end": "21:00", "end_inclusive": True},
                "quiet_after_conversation": {"days": 7, "exclude_outcomes": ["failed", "busy"]}},
               default_timezone="America/New_York")
    duck = audit.audit(data=root, policy=p)
    spark = audit.audit(data=root, policy=p, engine="spark", spark_master="local[1]")
    assert spark.violations.equals(duck.violations)
    assert set(duck.violations.select("rule_id", "event_id").iter_rows()) == {
        ("CALLS-7-IN-7", "EMPTY8"), ("HOURS", "AT_21_0_1")}


def test_policy_diff_of_the_corrected_us_preset_lists_exactly_what_the_corrections_remove(tmp_path):
    """The 2026.11 preset against the corrected one, on sample_data: the diff's removed violations are
    the loop-based reading's old-minus-new, and nothing is added."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    from audit.policy import load_policy

    root = Path(__file__).resolve().parents[1]
    old, data = root / "tests" / "data" / "us-reg-f-2026.11.yaml", root / "sample_data"
    p = subprocess.run([sys.executable, "-m", "audit.cli", "policy", "diff", str(old), "builtin:us-reg-f",
                        "--data", str(data), "--format", "json", "--examples", "100000"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    diff = json.loads(p.stdout)
    removed = {(r["rule_id"], e["event_id"]) for r in diff["rules"] for e in r["examples_removed"]}
    added = {(r["rule_id"], e["event_id"]) for r in diff["rules"] for e in r["examples_added"]}
    con = store.connect()
    load_dataset(con, data)
    before = oracle_violations(con, load_policy(str(old)))
    after = oracle_violations(con, load_policy("builtin:us-reg-f"))
    assert added == set() == after - before
    assert removed == before - after and removed
    assert {r for r, _ in removed} <= {"HOURS", "FREQ-CALLS-7-IN-7-DAYS", "QUIET-AFTER-CONVERSATION"}
    outcome = dict(con.execute("SELECT event_id, outcome FROM contacts").fetchall())
    assert {outcome[e] for r, e in removed if r == "QUIET-AFTER-CONVERSATION"} <= {"failed", "busy"}
