"""audit explain (SPEC §9): the verdicts of one contact equal the full run's; facts, timeline, masking."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

import audit
from audit import store
from audit.explain import explain
from audit.policy import load_policy
from audit.sample import generate

ROOT = Path(__file__).resolve().parents[1]
EVERY_RULE = ROOT / "bench" / "policy.yaml"  # every rule of SPEC §3 and §4b


@pytest.fixture(scope="module")
def judged(tmp_path_factory):
    root = tmp_path_factory.mktemp("explain")
    generate(root / "data", loans=120, seed=21, fmt="mixed")
    db = root / "s.duckdb"
    result = audit.audit(data=root / "data", db=db, policy=str(EVERY_RULE))
    return db, result


def test_explain_gives_exactly_the_full_runs_verdicts_for_300_contacts(judged):
    db, result = judged
    policy = load_policy(str(EVERY_RULE))
    flagged: dict[str, set[str]] = {}
    for rule, event in result.violations.select("rule_id", "event_id").iter_rows():
        flagged.setdefault(event, set()).add(rule)
    assert {r for rules in flagged.values() for r in rules} == set(policy.rule_ids())  # every rule fires
    con = store.connect(db)
    try:
        every = [e for (e,) in con.execute("SELECT event_id FROM contacts ORDER BY event_id").fetchall()]
        rng = random.Random(7)
        clean = sorted(set(every) - set(flagged))
        sample = rng.sample(sorted(flagged), min(200, len(flagged)))
        sample += rng.sample(clean, 300 - len(sample))
        assert len(sample) == 300
        for event in sample:
            e = explain(con, event, policy)
            assert {r["rule_id"] for r in e["rules"] if r["violated"]} == flagged.get(event, set()), event
            assert [r["rule_id"] for r in e["rules"]] == policy.rule_ids()
    finally:
        con.close()


def test_explain_json_through_the_cli_has_the_facts_rules_and_timeline(judged):
    db, result = judged
    event = result.violations.filter(result.violations["rule_id"] == "TP-DPD")["event_id"][0]
    p = subprocess.run([sys.executable, "-m", "audit.cli", "explain", event, "--db", str(db), "--format", "json"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    e = json.loads(p.stdout)
    assert e["event_id"] == event
    assert set(e["facts"]) >= {"zone", "local_time", "dpd", "overdue_amount", "episode_start"}
    dpd = next(r for r in e["rules"] if r["rule_id"] == "TP-DPD")
    assert dpd["violated"] is True and dpd["detail"].startswith(f"DPD {e['facts']['dpd']} < ")
    assert [t for t in e["timeline"] if t["this"]][0]["event_id"] == event
    assert e["policy"]["id"] == load_policy(str(EVERY_RULE)).policy_id  # the latest run's policy by default
    text = subprocess.run([sys.executable, "-m", "audit.cli", "explain", event, "--db", str(db)],
                          capture_output=True, text=True, timeout=120)
    assert text.returncode == 0 and "| VIOLATED | TP-DPD " in text.stdout and "| => |" in text.stdout


def test_explain_of_an_event_not_in_the_store_is_one_line_exit_2(judged):
    db, _ = judged
    p = subprocess.run([sys.executable, "-m", "audit.cli", "explain", "13812345678", "--db", str(db)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and p.stderr.strip() == "audit: event 138****5678 is not in the store"


def test_a_rule_that_could_not_be_judged_is_null_not_false(tmp_path):
    """Without stored emergency contacts the registered half of TP-UNREGISTERED cannot be judged (SPEC §4)."""
    from helpers import contact, write_dataset

    data = write_dataset(tmp_path / "d", contacts=[
        contact("ec", "2026-11-05T10:00:00+08:00", recipient_type="emergency_contact", recipient_id="C1"),
        contact("tp", "2026-11-05T11:00:00+08:00", recipient_type="third_party", recipient_id="X1")])
    db = tmp_path / "s.duckdb"
    audit.audit(data=data, db=db)
    verdict = {e: {r["rule_id"]: r["violated"] for r in audit.api.explain(db, e)["rules"]} for e in ("ec", "tp")}
    assert verdict["ec"]["TP-UNREGISTERED"] is None and verdict["tp"]["TP-UNREGISTERED"] is True
