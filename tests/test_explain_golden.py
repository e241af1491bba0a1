"""Golden tests of `audit explain`'s text: one contact per rule, on fixed data, identifiers masked.

Every rule of the default policy, TP-REACHABLE, and the US preset's extra
rules (QUIET-AFTER-CONVERSATION, the exclude_outcomes limit, and DNC added to
it) has one contact here that breaks it; its explanation, as printed when
stdout is not a terminal, must equal tests/golden/explain/RULE.txt byte for
byte. After an intended change of the output, regenerate the files with

    UPDATE_GOLDEN=1 pytest tests/test_explain_golden.py

and review the diff; without UPDATE_GOLDEN a difference fails the test.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
import yaml

import audit
from audit import store
from audit.explain import explain, render_text
from audit.policy import load_policy, parse_policy
from helpers import contact, write_dataset

GOLDEN = Path(__file__).parent / "golden" / "explain"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
CN, US = "+08:00", "-05:00"
PHONE = "13812345678"        # the borrower's mobile: in a message, it must show masked
THIRD_PARTY = "13900001111"  # a third party known by phone number: masked wherever it is shown


def _cn(event_id, day_time, **kw):
    return contact(event_id, f"2026-{day_time}{CN}", **kw)


def _us(event_id, day_time, loan_id, **kw):
    return contact(event_id, f"2026-{day_time}{US}", loan_id=loan_id, **kw)


C1 = dict(recipient_type="emergency_contact", recipient_id="C1")
CN_CONTACTS = [
    _cn("R01", "10-05T10:00:00", channel="sms", outcome="delivered"),
    _cn("R02", "10-06T10:00:00", channel="sms", outcome="delivered"),
    _cn("R03", "10-07T10:00:00", channel="email", outcome="delivered"),
    _cn("R04", "10-08T10:00:00"),
    _cn("R05", "10-09T10:00:00"),
    _cn("R06", "10-10T10:00:00"),
    _cn("TPDPD", "10-04T11:00:00", **C1),                     # DPD 3 < 7
    _cn("ESC", "10-09T15:00:00", **C1),                       # 2 of 3 calls; only 2 calls for TP-REACHABLE
    _cn("UNREG", "10-12T11:00:00", recipient_type="third_party", recipient_id=THIRD_PARTY),
    _cn("FTP1", "10-13T14:00:00", **C1),
    _cn("FTP2", "10-13T15:00:00", **C1),                      # second contact of C1 that day
    _cn("PIITP", "10-14T10:00:00", channel="sms", outcome="delivered", **C1,
        content="请转告住在北京市朝阳区建国路1号的朋友回电"),
    *[_cn(f"D{i}", f"10-15T{8 + i:02d}:00:00") for i in range(1, 5)],   # 4 calls in a day, max 3
    _cn("PIIUN", "10-16T10:00:00", channel="sms", outcome="delivered", content=f"如有疑问请致电{PHONE}"),
    _cn("DISC", "10-17T10:00:00", channel="sms", outcome="delivered", **C1, content="请提醒他尽快还款，已逾期"),
    _cn("HRS", "10-20T22:30:00"),
    *[_cn(f"W{i}", f"11-{10 + (i - 1) // 3}T{9 + (i - 1) % 3:02d}:00:00", loan_id="L2") for i in range(1, 9)],
]
US_CONTACTS = [
    _us("Q1", "11-03T10:00:00", "U1", outcome="connected"),
    _us("Q2", "11-05T10:00:00", "U1"),                                  # day 3 after a conversation
    *[_us(f"F{i:02d}", f"11-{10 + (i - 1) // 3}T{9 + (i - 1) % 3:02d}:00:00", "U2",
          outcome={2: "busy", 11: "failed"}.get(i, "no_answer")) for i in (1, 2, 3, 4, 6, 7, 9, 10, 11, 12)],
    _us("N1", "11-05T10:00:00", "U3", outcome="do_not_contact"),
    _us("N2", "11-06T10:00:00", "U3"),
]
CASES = {  # rule -> (dataset, policy, the contact that breaks it)
    "TP-DPD": ("cn", "default", "TPDPD"),
    "TP-ESCALATION": ("cn", "default", "ESC"),
    "TP-UNREGISTERED": ("cn", "default", "UNREG"),
    "HOURS": ("cn", "default", "HRS"),
    "FREQ-BORROWER-CALL-DAY": ("cn", "default", "D4"),
    "FREQ-BORROWER-CALL-7D": ("cn", "default", "W8"),
    "FREQ-THIRD-PARTY-DAY": ("cn", "default", "FTP2"),
    "PII-THIRD-PARTY": ("cn", "default", "PIITP"),
    "PII-UNMASKED": ("cn", "default", "PIIUN"),
    "TP-DISCLOSURE": ("cn", "default", "DISC"),
    "TP-REACHABLE": ("cn", "reachable", "ESC"),
    "QUIET-AFTER-CONVERSATION": ("us", "us", "Q2"),
    "FREQ-CALLS-7-IN-7-DAYS": ("us", "us", "F12"),
    "DNC": ("us", "us", "N2"),
}


def _policies() -> dict:
    default = load_policy("builtin:default")
    reachable = yaml.safe_load((Path(audit.__file__).parent / "policies" / "default.yaml").read_text("utf-8"))
    reachable.update(policy_id="cn-default-reachable", version="test")
    reachable["rules"]["third_party"]["unreachable_after_failed_calls"] = 3
    us = yaml.safe_load((Path(audit.__file__).parent / "policies" / "us-reg-f.yaml").read_text("utf-8"))
    us.update(policy_id="us-reg-f-dnc", version="test")
    us["rules"]["do_not_contact"] = {"recipient_types": ["borrower"]}
    return {"default": default, "reachable": parse_policy(yaml.safe_dump(reachable, allow_unicode=True)),
            "us": parse_policy(yaml.safe_dump(us, allow_unicode=True))}


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("golden")
    cn = write_dataset(
        root / "cn", contacts=CN_CONTACTS,
        borrowers=[{"borrower_id": "B1", "timezone": "Asia/Shanghai", "phone": PHONE,
                    "address": "北京市朝阳区建国路1号"},
                   {"borrower_id": "B2", "timezone": "Asia/Shanghai"}],
        loans=[{"loan_id": "L1", "borrower_id": "B1", "principal": "12000.00"},
               {"loan_id": "L2", "borrower_id": "B2", "principal": "8000.00"}],
        installments=[{"loan_id": "L1", "seq": 1, "due_date": "2026-10-01", "amount_due": "1000.00", "paid_at": None},
                      {"loan_id": "L1", "seq": 2, "due_date": "2026-11-01", "amount_due": "1000.00", "paid_at": None},
                      {"loan_id": "L2", "seq": 1, "due_date": "2026-12-01", "amount_due": "500.00", "paid_at": None}],
        emergency_contacts=[{"borrower_id": "B1", "contact_id": "C1", "relationship": "friend"}])
    us = write_dataset(
        root / "us", contacts=US_CONTACTS,
        borrowers=[{"borrower_id": f"UB{i}", "timezone": "America/New_York"} for i in (1, 2, 3)],
        loans=[{"loan_id": f"U{i}", "borrower_id": f"UB{i}", "principal": "3000.00"} for i in (1, 2, 3)],
        installments=[{"loan_id": f"U{i}", "seq": 1, "due_date": "2026-11-01", "amount_due": "500.00",
                       "paid_at": None} for i in (1, 2, 3)])
    dbs = {}
    for name, data in (("cn", cn), ("us", us)):
        dbs[name] = root / f"{name}.duckdb"
        result = audit.audit(data=data, db=dbs[name])
        assert result.load.rejected.height == 0
    return dbs, _policies()


@pytest.mark.parametrize("rule_id", list(CASES))
def test_explain_text_of_one_contact_per_rule_matches_its_golden_file(stores, rule_id):
    dbs, policies = stores
    dataset, policy_name, event = CASES[rule_id]
    con = store.connect(dbs[dataset])
    try:
        e = explain(con, event, policies[policy_name])
    finally:
        con.close()
    verdict = {r["rule_id"]: r["violated"] for r in e["rules"]}
    assert verdict[rule_id] is True, f"{event} must break {rule_id}: {verdict}"
    text = render_text(e)
    assert PHONE not in text and THIRD_PARTY not in text and "\x1b[" not in text  # masked, no colour codes
    assert PHONE not in json.dumps(e, ensure_ascii=False) and THIRD_PARTY not in json.dumps(e)  # JSON too
    golden = GOLDEN / f"{rule_id}.txt"
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden.name}: run with UPDATE_GOLDEN=1 once and review it"
    assert text == golden.read_text(encoding="utf-8"), f"explain output of {event} differs from {golden.name}"


def test_every_golden_file_belongs_to_a_case():
    """A golden file left behind by a renamed rule would otherwise never be compared."""
    assert {p.stem for p in GOLDEN.glob("*.txt")} <= set(CASES)
    assert all(re.fullmatch(r"[A-Z0-9-]+", r) for r in CASES)
