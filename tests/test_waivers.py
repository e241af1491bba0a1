"""Waivers (SPEC §7): when one applies, what it matches, and that a waived row never fails a run."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

import polars as pl
import pytest
import yaml

import audit
from audit.errors import WaiversError
from audit.waivers import parse_waivers
from helpers import contact, policy, write_dataset

AUDIT = [sys.executable, "-m", "audit.cli"]
HOURS = {"contact_hours": {"start": "08:00", "end": "22:00"}}
BASE = {"reason": "written request on file", "approved_by": "Compliance, L. Wei", "expires": "2026-12-31"}


def waivers(*items) -> audit.waivers.Waivers:
    return parse_waivers(yaml.safe_dump({"waivers": [{**BASE, **w} for w in items]}).encode())


@pytest.fixture
def data(tmp_path):
    return write_dataset(tmp_path / "d", contacts=[
        contact("late1", "2026-11-05T23:00:00+08:00", agent_id="A1"),
        contact("late2", "2026-11-06T23:00:00+08:00", agent_id="A2"),
        contact("late3", "2026-11-07T23:00:00+08:00", agent_id="A1", recipient_type="emergency_contact",
                recipient_id="C9")])


def statuses(data, w, as_of=date(2026, 11, 30), rules=HOURS) -> dict[str, tuple[str, str | None]]:
    r = audit.audit(data=data, policy=policy(rules), waivers=w, as_of=as_of)
    return {e: (s, i) for e, s, i in r.violations.filter(pl.col("rule_id") == "HOURS")
            .select("event_id", "status", "waiver_id").iter_rows()}


@pytest.mark.parametrize("as_of,applies", [(date(2026, 12, 30), True), (date(2026, 12, 31), True),
                                           (date(2027, 1, 1), False)])
def test_a_waiver_applies_before_and_on_its_expiry_not_after(data, as_of, applies):
    got = statuses(data, waivers({"id": "W1", "rule": "HOURS", "match": {"event_id": "late1"}}), as_of)
    assert got["late1"] == (("waived", "W1") if applies else ("new", None))
    assert got["late2"] == ("new", None)


def test_a_star_waiver_covers_every_rule_of_the_contact(data):
    rules = {**HOURS, "frequency": [{"id": "F-ALL", "per": "loan", "window": "all", "max": 0}]}
    r = audit.audit(data=data, policy=policy(rules), as_of=date(2026, 11, 30),
                    waivers=waivers({"id": "W", "rule": "*", "match": {"event_id": "late2"}}))
    late2 = r.violations.filter(pl.col("event_id") == "late2")
    assert late2.height == 2 and set(late2["status"]) == {"waived"}
    assert set(r.violations.filter(pl.col("event_id") != "late2")["status"]) == {"new"}


@pytest.mark.parametrize("match,hit", [
    ({"event_id": "late1"}, {"late1"}), ({"loan_id": "L1"}, {"late1", "late2", "late3"}),
    ({"borrower_id": "B1"}, {"late1", "late2", "late3"}), ({"agent_id": "A1"}, {"late1", "late3"}),
    ({"recipient_id": "C9"}, {"late3"}), ({"agent_id": "A1", "recipient_id": "C9"}, {"late3"}),
    ({"agent_id": "A2", "recipient_id": "C9"}, set()), ({"loan_id": "L404"}, set()),
])
def test_every_match_key_and_all_keys_must_match(data, match, hit):
    got = statuses(data, waivers({"id": "W", "rule": "HOURS", "match": match}))
    assert {e for e, (s, _) in got.items() if s == "waived"} == hit


@pytest.mark.parametrize("window,hit", [
    ({"from": "2026-11-06"}, {"late2", "late3"}), ({"until": "2026-11-06"}, {"late1", "late2"}),
    ({"from": "2026-11-06", "until": "2026-11-06"}, {"late2"}), ({"from": "2026-11-08"}, set()),
])
def test_from_and_until_are_inclusive_local_dates_of_the_contact(data, window, hit):
    got = statuses(data, waivers({"id": "W", "rule": "HOURS", "match": {"loan_id": "L1"}, **window}))
    assert {e for e, (s, _) in got.items() if s == "waived"} == hit


def test_the_first_matching_waiver_in_file_order_is_named(data):
    got = statuses(data, waivers({"id": "W-EXPIRED", "rule": "HOURS", "match": {"loan_id": "L1"}, "expires": "2026-01-01"},
                                 {"id": "W-FIRST", "rule": "HOURS", "match": {"event_id": "late1"}},
                                 {"id": "W-SECOND", "rule": "*", "match": {"loan_id": "L1"}}))
    assert got == {"late1": ("waived", "W-FIRST"), "late2": ("waived", "W-SECOND"), "late3": ("waived", "W-SECOND")}


def test_waived_rows_never_trip_fail_on_and_expired_and_unused_waivers_are_reported(tmp_path, data):
    w = tmp_path / "waivers.yaml"
    w.write_text(yaml.safe_dump({"waivers": [
        {**BASE, "id": "W-ALL", "rule": "HOURS", "match": {"loan_id": "L1"}},
        {**BASE, "id": "W-OLD", "rule": "HOURS", "match": {"loan_id": "L1"}, "expires": "2025-01-01"},
        {**BASE, "id": "W-IDLE", "rule": "DNC", "match": {"agent_id": "A7"}}]}))
    pol = tmp_path / "p.yaml"
    pol.write_text(yaml.safe_dump({"policy_id": "t", "version": "1", "default_timezone": "Asia/Shanghai",
                                   "rules": HOURS}))
    args = [*AUDIT, "run", "--data", str(data), "--policy", str(pol), "--fail-on", "low", "--as-of", "2026-11-30"]
    p = subprocess.run([*args, "--out", str(tmp_path / "o1"), "--waivers", str(w)], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    s = json.loads((tmp_path / "o1" / "summary.json").read_text())
    assert s["waivers"]["applied"] == {"W-ALL": 3} and s["waivers"]["unused"] == ["W-IDLE"]
    assert s["waivers"]["expired"] == [{"id": "W-OLD", "expires": "2025-01-01"}]
    assert s["violations"]["status_by_rule"]["HOURS"]["waived"] == 3
    html = (tmp_path / "o1" / "report.html").read_text()
    assert "W-ALL" in html and "Compliance, L. Wei" in html and "W-OLD (expired 2025-01-01)" in html
    p = subprocess.run([*args, "--out", str(tmp_path / "o2")], capture_output=True, text=True, timeout=120)
    assert p.returncode == 1  # without the waivers the same violations fail the run


def test_a_broken_waivers_file_lists_every_problem_with_its_path(tmp_path, data):
    w = tmp_path / "waivers.yaml"
    w.write_text(yaml.safe_dump({"waivers": [
        {"id": "W1", "rule": "HOURS", "match": {}, "reason": "r", "approved_by": "a", "expires": "2026-13-01"},
        {"id": "W1", "rule": "HOURS", "match": {"phone": "x"}, "approved_by": "a", "expires": "2027-01-01",
         "from": "2026-12-01", "until": "2026-11-01"}]}))
    p = subprocess.run([*AUDIT, "run", "--data", str(data), "--out", str(tmp_path / "o"), "--waivers", str(w)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert lines[0].startswith(f"audit: waivers {w} is invalid (")
    text = "\n".join(lines)
    for where in ("waivers[0].match", "waivers[0].expires", "waivers[1].match.phone", "waivers[1].reason",
                  "waivers[1]"):
        assert where in text, where
    assert not (tmp_path / "o").exists()


def test_a_duplicate_waiver_id_is_refused():
    with pytest.raises(WaiversError) as e:
        waivers({"id": "W", "rule": "*", "match": {"loan_id": "L1"}}, {"id": "W", "rule": "*", "match": {"loan_id": "L2"}})
    assert any("used more than once: W" in p for p in e.value.problems)


def test_the_sample_waivers_file_is_valid_and_waives_two_sample_violations(tmp_path):
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    r = audit.audit(data=root / "sample_data", waivers=root / "sample_data" / "waivers.yaml", as_of=date(2026, 11, 30))
    waived = r.violations.filter(pl.col("status") == "waived")
    assert sorted(waived["waiver_id"].to_list()) == ["W-2026-014", "W-2026-015"]
    assert [e["id"] for e in r.waivers["expired"]] == ["W-2025-101"]
