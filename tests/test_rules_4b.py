"""The §4b rules: outcome-filtered and 7-local-day limits, TP-REACHABLE, DNC, quiet after conversation."""

from __future__ import annotations

from helpers import contact, flagged, write_dataset

TP = dict(recipient_type="emergency_contact", recipient_id="C1")


def test_quiet_after_conversation_flags_through_day_7_and_allows_day_8(tmp_path):
    root = write_dataset(tmp_path, contacts=[
        contact("talk", "2026-11-01T10:00:00+08:00", outcome="connected"),
        contact("same_day", "2026-11-01T15:00:00+08:00"),
        contact("day7", "2026-11-07T21:00:00+08:00"),
        contact("day8", "2026-11-08T08:00:00+08:00"),
        contact("sms_day2", "2026-11-02T10:00:00+08:00", channel="sms", outcome="delivered"),
    ])
    out = flagged(root, {"quiet_after_conversation": {"days": 7}})
    assert out["QUIET-AFTER-CONVERSATION"] == {"same_day", "day7"}


def test_quiet_counts_only_conversations_before_the_call_on_the_same_loan(tmp_path):
    root = write_dataset(tmp_path, loans=[
        {"loan_id": "L1", "borrower_id": "B1", "principal": "1"}, {"loan_id": "L2", "borrower_id": "B1", "principal": "1"}],
        contacts=[
            contact("first", "2026-11-01T10:00:00+08:00", outcome="connected"),
            contact("other_loan", "2026-11-02T10:00:00+08:00", loan_id="L2"),
        ])
    assert "QUIET-AFTER-CONVERSATION" not in flagged(root, {"quiet_after_conversation": {}})


def test_reachable_needs_the_last_n_calls_failed_in_this_episode(tmp_path):
    loans = [{"loan_id": f"L{i}", "borrower_id": "B1", "principal": "1"} for i in range(1, 5)]
    inst = [{"loan_id": f"L{i}", "seq": 1, "due_date": "2026-11-01", "amount_due": "100", "paid_at": None}
            for i in range(1, 5)]
    calls = []
    # L1: three failed calls in the episode -> allowed
    calls += [contact(f"a{i}", f"2026-11-0{i + 2}T10:00:00+08:00", loan_id="L1", outcome="no_answer") for i in range(3)]
    calls.append(contact("tp_ok", "2026-11-06T10:00:00+08:00", loan_id="L1", **TP))
    # L2: failed, connected, failed, failed -> the last three are failed: allowed; one more connected -> flagged
    calls += [contact("b1", "2026-11-02T10:00:00+08:00", loan_id="L2", outcome="busy"),
              contact("b2", "2026-11-03T10:00:00+08:00", loan_id="L2", outcome="connected"),
              contact("b3", "2026-11-04T10:00:00+08:00", loan_id="L2", outcome="no_answer"),
              contact("tp_connected_between", "2026-11-05T10:00:00+08:00", loan_id="L2", **TP)]
    # L3: two calls only
    calls += [contact(f"c{i}", f"2026-11-0{i + 2}T10:00:00+08:00", loan_id="L3", outcome="no_answer") for i in range(2)]
    calls.append(contact("tp_too_few", "2026-11-06T10:00:00+08:00", loan_id="L3", **TP))
    # L4: three failed calls, one on the episode start itself -> not all after E
    calls += [contact("d0", "2026-11-01T10:00:00+08:00", loan_id="L4", outcome="no_answer"),
              contact("d1", "2026-11-02T10:00:00+08:00", loan_id="L4", outcome="no_answer"),
              contact("d2", "2026-11-03T10:00:00+08:00", loan_id="L4", outcome="no_answer"),
              contact("tp_before_episode", "2026-11-04T10:00:00+08:00", loan_id="L4", **TP)]
    root = write_dataset(tmp_path, loans=loans, installments=inst, contacts=calls)
    out = flagged(root, {"third_party": {"unreachable_after_failed_calls": 3}})
    assert out["TP-REACHABLE"] == {"tp_connected_between", "tp_too_few", "tp_before_episode"}


def test_do_not_contact_applies_to_the_recipient_on_any_channel_and_only_later(tmp_path):
    root = write_dataset(tmp_path, contacts=[
        contact("ec_asks", "2026-11-05T10:00:00+08:00", outcome="do_not_contact", **TP),
        contact("ec_sms_later", "2026-11-06T10:00:00+08:00", channel="sms", outcome="delivered", **TP),
        contact("other_ec", "2026-11-06T10:00:00+08:00", recipient_type="emergency_contact", recipient_id="C2"),
        contact("borrower", "2026-11-06T11:00:00+08:00"),
    ])
    assert flagged(root, {"do_not_contact": {}})["DNC"] == {"ec_sms_later"}
    assert "DNC" not in flagged(root, {"do_not_contact": {"recipient_types": ["borrower"]}})


def test_frequency_outcomes_filter_counts_answered_calls_only(tmp_path):
    root = write_dataset(tmp_path, contacts=[
        contact("c1", "2026-11-05T10:00:00+08:00", outcome="connected"),
        contact("n1", "2026-11-05T11:00:00+08:00", outcome="no_answer"),
        contact("c2", "2026-11-05T12:00:00+08:00", outcome="connected"),
    ])
    limit = {"id": "F-ANSWERED", "channels": ["call"], "outcomes": ["connected"], "per": "loan", "window": "day", "max": 1}
    assert flagged(root, {"frequency": [limit]})["F-ANSWERED"] == {"c2"}


def test_7_days_window_is_seven_local_calendar_days(tmp_path):
    root = write_dataset(tmp_path, loans=[
        {"loan_id": "L1", "borrower_id": "B1", "principal": "1"}, {"loan_id": "L2", "borrower_id": "B1", "principal": "1"}],
        contacts=[
            contact("a_d1", "2026-11-01T23:30:00+08:00"),
            contact("a_d7", "2026-11-07T08:00:00+08:00"),            # 11-01..11-07 holds a_d1: flagged
            contact("b_d1", "2026-11-01T08:00:00+08:00", loan_id="L2"),
            contact("b_d8", "2026-11-08T00:00:00+08:00", loan_id="L2"),  # 11-02..11-08: b_d1 is out
        ])
    limit = {"id": "F-7DAYS", "per": "loan", "window": "7_days", "max": 1}
    assert flagged(root, {"frequency": [limit]})["F-7DAYS"] == {"a_d7"}


def test_7_days_window_is_exact_for_a_recipient_whose_loans_are_in_different_zones(tmp_path):
    root = write_dataset(tmp_path, borrowers=[
        {"borrower_id": "B1", "timezone": "Asia/Shanghai"}, {"borrower_id": "B2", "timezone": "America/New_York"}],
        loans=[{"loan_id": "L1", "borrower_id": "B1", "principal": "1"},
               {"loan_id": "L2", "borrower_id": "B2", "principal": "1"}],
        installments=[{"loan_id": "L1", "seq": 1, "due_date": "2026-11-01", "amount_due": "1", "paid_at": None}],
        contacts=[
            # Earlier instant but a later local date (Shanghai), then a New York contact.
            contact("sh", "2026-11-08T01:00:00Z", recipient_type="third_party", recipient_id="X"),   # 11-08 local
            contact("ny", "2026-11-08T02:00:00Z", loan_id="L2", recipient_type="third_party", recipient_id="X"),  # 11-07 local
        ])
    limit = {"id": "F-X", "per": "recipient", "window": "7_days", "max": 1}
    # For "ny" (local 11-07) the window is 11-01..11-07: "sh" (11-08) is outside it.
    assert "F-X" not in flagged(root, {"frequency": [limit]})


def test_window_all_counts_the_whole_history(tmp_path):
    root = write_dataset(tmp_path, contacts=[
        contact("x1", "2026-01-05T10:00:00+08:00", recipient_type="third_party", recipient_id="X"),
        contact("x2", "2026-11-05T10:00:00+08:00", recipient_type="third_party", recipient_id="X"),
    ])
    limit = {"id": "F-ONCE", "recipient_types": ["third_party"], "per": "recipient", "window": "all", "max": 1}
    assert flagged(root, {"frequency": [limit]})["F-ONCE"] == {"x2"}


def test_references_reach_the_report(tmp_path):
    import audit
    from helpers import policy

    root = write_dataset(tmp_path, contacts=[contact("late", "2026-11-05T23:00:00+08:00")])
    p = policy({"contact_hours": {"start": "08:00", "end": "21:00"}}, references={"HOURS": "12 CFR 1006.6(b)(1)(i)"})
    v = audit.audit(data=root, policy=p).violations
    assert v.select("rule_id", "reference").rows() == [("HOURS", "12 CFR 1006.6(b)(1)(i)")]
