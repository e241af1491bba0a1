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
from audit.explain import explain, render_text
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


@pytest.fixture(scope="module")
def sample_explained(judged):
    """300 contacts (200 flagged by some rule, the rest clean) and their explanations."""
    db, result = judged
    policy = load_policy(str(EVERY_RULE))
    flagged: dict[str, set[str]] = {}
    for rule, event in result.violations.select("rule_id", "event_id").iter_rows():
        flagged.setdefault(event, set()).add(rule)
    con = store.connect(db)
    try:
        every = [e for (e,) in con.execute("SELECT event_id FROM contacts ORDER BY event_id").fetchall()]
        rng = random.Random(7)
        clean = sorted(set(every) - set(flagged))
        sample = rng.sample(sorted(flagged), min(200, len(flagged)))
        sample += rng.sample(clean, 300 - len(sample))
        explained = {event: explain(con, event, policy) for event in sample}
    finally:
        con.close()
    return policy, flagged, explained


def test_explain_gives_exactly_the_full_runs_verdicts_for_300_contacts(sample_explained):
    policy, flagged, explained = sample_explained
    assert {r for rules in flagged.values() for r in rules} == set(policy.rule_ids())  # every rule fires
    assert len(explained) == 300
    for event, e in explained.items():
        assert {r["rule_id"] for r in e["rules"] if r["violated"]} == flagged.get(event, set()), event
        assert [r["rule_id"] for r in e["rules"]] == policy.rule_ids()


def verdict_from_figures(rule_id: str, f: dict) -> bool | None:
    """What each rule decides, judged again from the figures explain shows (SPEC §4, §4b)."""
    if not f["applies"]:
        return False
    if rule_id == "TP-DPD":
        return f["dpd"] < f["required_dpd"]
    if rule_id == "TP-ESCALATION":
        return any(s["found"] < s["required"] for s in f["steps"])
    if rule_id == "TP-UNREGISTERED":
        return True if f["recipient_type"] == "third_party" else None if f["registered"] is None else not f["registered"]
    if rule_id == "TP-REACHABLE":
        calls = f["calls"]
        return (len(calls) < f["required_failed_calls"] or any(c["outcome"] == "connected" for c in calls)
                or not all(c["in_episode"] for c in calls))
    if rule_id == "HOURS":
        t, start, end = f["local_time"], f["start"], f["end"]
        after_end = t > end if f["end_inclusive"] else t >= end
        return (t < start or after_end) if start < end else (t < start and after_end)
    if rule_id == "DNC":
        return f["first_request"] is not None and f["first_request"]["before_contact"]
    if rule_id == "QUIET-AFTER-CONVERSATION":
        c = f["last_conversation"]
        return c is not None and c["day"] <= f["quiet_days"]
    if "count" in f:  # a frequency limit
        return f["count"] > f["max"]
    if "detected" in f:  # a text rule: the detector's own finding
        return f["detected"] is not None
    raise AssertionError(f"no figures for {rule_id}: {f}")


def test_the_figures_agree_with_every_verdict_for_300_contacts(sample_explained):
    """The evidence queries reproduce what each rule counted: judged from the figures, each verdict is the same."""
    policy, _, explained = sample_explained
    applied = dict.fromkeys(policy.rule_ids(), 0)
    for event, e in explained.items():
        for r in e["rules"]:
            f = r["figures"]
            assert verdict_from_figures(r["rule_id"], f) == r["violated"], (event, r)
            applied[r["rule_id"]] += bool(f["applies"])
            if "count" in f and f["applies"]:
                assert f["event_ids"][-1] == event and f["count"] == len(f["event_ids"])  # itself, counted last
            if r["rule_id"] == "TP-ESCALATION" and f["applies"]:
                assert all(s["found"] == len(s["event_ids"]) for s in f["steps"])
        assert render_text(e).count("\n") > len(e["rules"])  # every shape of figures renders
    assert all(n >= 5 for n in applied.values()), applied  # every rule's figures were read, not skipped


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


def test_explain_and_the_run_json_summary_mask_identifiers_used_as_keys(tmp_path):
    """Ids that are themselves identifiers (an event id that is a card, a loan id that is a mobile, a borrower
    id that is an ID number) come out masked in explain's text and JSON and in run's JSON summary."""
    from helpers import contact, write_dataset
    from test_masking_outputs import long_digit_runs

    card, mobile, id_number, recipient = "6222021234567894", "13812345678", "11010519491231002X", "320106198506151231"
    data = write_dataset(
        tmp_path / "d",
        loans=[{"loan_id": mobile, "borrower_id": id_number, "principal": "10000.00"}],
        installments=[{"loan_id": mobile, "seq": 1, "due_date": "2026-11-01", "amount_due": "1000.00",
                       "paid_at": None}],
        borrowers=[{"borrower_id": id_number, "phone": mobile, "timezone": "Asia/Shanghai"}],
        emergency_contacts=[{"borrower_id": id_number, "contact_id": "EC1"}],
        contacts=[contact("E1", "2026-11-05T10:00:00+08:00", loan_id=mobile, channel="sms", outcome="delivered"),
                  contact(card, "2026-11-05T23:00:00+08:00", loan_id=mobile, channel="sms", outcome="delivered",
                          recipient_type="emergency_contact", recipient_id=recipient,
                          content=f"请转告借款人, 卡号{card}, 回电 {mobile}")])
    db = tmp_path / "s.duckdb"

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "audit.cli", *map(str, args)], capture_output=True, text=True,
                              timeout=120)

    run = cli("run", "--data", data, "--db", db, "--out", tmp_path / "o", "--format", "json")
    assert run.returncode == 0, run.stderr
    outputs = {"run json": run.stdout}
    for fmt in ("text", "json"):
        p = cli("explain", card, "--db", db, "--format", fmt)
        assert p.returncode == 0, p.stderr
        outputs[f"explain {fmt}"] = p.stdout
    e = json.loads(outputs["explain json"])
    assert {r["rule_id"] for r in e["rules"] if r["violated"]} >= {"HOURS", "TP-UNREGISTERED", "PII-UNMASKED"}
    for name, text in outputs.items():
        for raw in (card, mobile, id_number, recipient):
            assert raw not in text, (name, raw)
        assert long_digit_runs(text) == [], name
