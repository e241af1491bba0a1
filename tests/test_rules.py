"""Every boundary SPEC §2 and §4 name, each on a dataset small enough to read."""

from __future__ import annotations

import pytest

from helpers import contact, flagged, write_dataset

TP = dict(recipient_type="emergency_contact", recipient_id="C1")
UNPAID = {"loan_id": "L1", "seq": 1, "due_date": "2026-11-01", "amount_due": "1000.00", "paid_at": None}


def test_dpd_is_one_on_the_day_after_due_and_zero_on_the_due_date(tmp_path):
    root = write_dataset(tmp_path, contacts=[
        contact("on_due", "2026-11-01T10:00:00+08:00", **TP),
        contact("day_after", "2026-11-02T10:00:00+08:00", **TP),
        contact("two_after", "2026-11-03T10:00:00+08:00", **TP),
    ])
    assert flagged(root, {"third_party": {"min_days_past_due": 2}})["TP-DPD"] == {"on_due", "day_after"}


def test_dpd_threshold_flags_one_below_and_allows_exactly_at(tmp_path):
    root = write_dataset(tmp_path, contacts=[
        contact("dpd6", "2026-11-07T12:00:00+08:00", **TP),
        contact("dpd7", "2026-11-08T12:00:00+08:00", **TP),
    ])
    assert flagged(root, {"third_party": {"min_days_past_due": 7}})["TP-DPD"] == {"dpd6"}


DPD_2_TO_6 = [contact(f"dpd{d}", f"2026-11-0{d + 1}T12:00:00+08:00", **TP) for d in range(2, 7)]


@pytest.mark.parametrize("amount, flagged_ids", [
    ("50000.00", {"dpd2"}),                                  # the 50000 tier: 3 days required
    ("49999.99", {"dpd2", "dpd3", "dpd4"}),                  # the 10000 tier: 5 days required
    ("10000.00", {"dpd2", "dpd3", "dpd4"}),                  # the 10000 tier, exactly at its threshold
    ("9999.99", {"dpd2", "dpd3", "dpd4", "dpd5", "dpd6"}),   # no tier: 7 days required
])
def test_amount_tier_with_the_largest_matching_threshold_sets_the_days(tmp_path, amount, flagged_ids):
    root = write_dataset(tmp_path, installments=[{**UNPAID, "amount_due": amount}], contacts=DPD_2_TO_6)
    tiers = [{"overdue_amount_at_least": 10000, "min_days_past_due": 5},
             {"overdue_amount_at_least": 50000, "min_days_past_due": 3}]
    out = flagged(root, {"third_party": {"min_days_past_due": 7, "amount_tiers": tiers}})
    assert out["TP-DPD"] == flagged_ids


@pytest.mark.parametrize("days, flagged_ids", [
    ((5, 3), {"dpd2"}),                    # the 3-day tier is listed last
    ((3, 5), {"dpd2", "dpd3", "dpd4"}),    # the 5-day tier is listed last
])
def test_of_tiers_with_equal_thresholds_the_one_listed_last_wins(tmp_path, days, flagged_ids):
    root = write_dataset(tmp_path, installments=[{**UNPAID, "amount_due": "20000.00"}], contacts=DPD_2_TO_6)
    tiers = [{"overdue_amount_at_least": 10000, "min_days_past_due": d} for d in days]
    assert flagged(root, {"third_party": {"min_days_past_due": 7, "amount_tiers": tiers}})["TP-DPD"] == flagged_ids


def test_instalment_paid_at_the_contact_second_is_not_overdue_one_second_later_it_is(tmp_path):
    paid = {**UNPAID, "paid_at": "2026-11-05T10:00:00+08:00"}
    root = write_dataset(tmp_path, installments=[paid], contacts=[
        contact("before_payment", "2026-11-05T09:59:59+08:00", **TP),   # overdue: DPD 4
        contact("at_payment", "2026-11-05T10:00:00+08:00", **TP),       # paid_at > t is false: DPD 0
    ])
    assert flagged(root, {"third_party": {"min_days_past_due": 1}})["TP-DPD"] == {"at_payment"}


ESCALATION = {"third_party": {"escalation": [{"channel": "sms", "at_least": 2}]}}
CURED_THEN_DEFAULTED = [
    {"loan_id": "L1", "seq": 1, "due_date": "2026-10-01", "amount_due": "500.00", "paid_at": "2026-10-20T10:00:00+08:00"},
    {"loan_id": "L1", "seq": 2, "due_date": "2026-11-01", "amount_due": "500.00", "paid_at": None},
]


def test_reminders_of_an_earlier_cured_episode_and_on_the_episode_start_do_not_count(tmp_path):
    root = write_dataset(tmp_path, installments=CURED_THEN_DEFAULTED, contacts=[
        contact("old1", "2026-10-05T10:00:00+08:00", channel="sms", outcome="delivered"),
        contact("old2", "2026-10-06T10:00:00+08:00", channel="sms", outcome="delivered"),
        contact("on_E", "2026-11-01T10:00:00+08:00", channel="sms", outcome="delivered"),
        contact("new1", "2026-11-02T10:00:00+08:00", channel="sms", outcome="delivered"),
        contact("tp", "2026-11-10T10:00:00+08:00", **TP),
    ])
    result = flagged(root, ESCALATION)
    assert result["TP-ESCALATION"] == {"tp"}


def test_two_reminders_in_the_episode_satisfy_the_step_and_failed_ones_do_not_count(tmp_path):
    root = write_dataset(tmp_path, installments=CURED_THEN_DEFAULTED + [
        {"loan_id": "L2", "seq": 1, "due_date": "2026-11-01", "amount_due": "500.00", "paid_at": None}],
        loans=[{"loan_id": "L1", "borrower_id": "B1", "principal": "1000"},
               {"loan_id": "L2", "borrower_id": "B1", "principal": "1000"}],
        contacts=[
            contact("a1", "2026-11-02T10:00:00+08:00", channel="sms", outcome="delivered"),
            contact("a2", "2026-11-03T10:00:00+08:00", channel="sms", outcome=None),
            contact("tp_ok", "2026-11-10T10:00:00+08:00", **TP),
            contact("b1", "2026-11-02T10:00:00+08:00", loan_id="L2", channel="sms", outcome="delivered"),
            contact("b2", "2026-11-03T10:00:00+08:00", loan_id="L2", channel="sms", outcome="failed"),
            contact("tp_short", "2026-11-10T10:00:00+08:00", loan_id="L2", **TP),
        ])
    assert flagged(root, ESCALATION)["TP-ESCALATION"] == {"tp_short"}


def test_escalation_step_outcomes_list_counts_only_those_outcomes_and_only_earlier_contacts(tmp_path):
    root = write_dataset(tmp_path, contacts=[
        contact("c1", "2026-11-02T10:00:00+08:00", outcome="no_answer"),
        contact("c2", "2026-11-02T11:00:00+08:00", outcome="connected"),   # not in the list
        contact("tp", "2026-11-03T10:00:00+08:00", **TP),
        contact("c3", "2026-11-03T10:00:00+08:00", outcome="busy"),  # same second as tp: not before it
    ])
    rules = {"third_party": {"escalation": [{"channel": "call", "at_least": 2, "outcomes": ["no_answer", "busy"]}]}}
    assert flagged(root, rules)["TP-ESCALATION"] == {"tp"}


def test_escalation_is_not_judged_while_nothing_is_overdue(tmp_path):
    root = write_dataset(tmp_path, contacts=[contact("tp_dpd0", "2026-10-20T10:00:00+08:00", **TP)])
    assert "TP-ESCALATION" not in flagged(root, ESCALATION)


@pytest.mark.parametrize("ts, is_flagged", [
    # America/New_York; 2026-03-08 is the first day of daylight saving time (UTC-4)
    ("2026-03-08T12:00:00Z", False),   # 08:00:00 EDT
    ("2026-03-08T11:59:59Z", True),    # 07:59:59 EDT (would be 06:59:59 EST)
    ("2026-03-09T01:59:59Z", False),   # 21:59:59 EDT on the 8th
    ("2026-03-09T02:00:00Z", True),    # 22:00:00 EDT
    ("2026-01-15T13:00:00Z", False),   # 08:00:00 EST (UTC-5)
    ("2026-01-15T12:59:59Z", True),    # 07:59:59 EST
])
def test_contact_hours_are_judged_in_the_borrowers_zone_across_daylight_saving(tmp_path, ts, is_flagged):
    root = write_dataset(tmp_path, borrowers=[{"borrower_id": "B1", "timezone": "America/New_York"}],
                         contacts=[contact("e", ts)])
    out = flagged(root, {"contact_hours": {"start": "08:00", "end": "22:00"}})
    assert ("e" in out.get("HOURS", set())) is is_flagged


def test_contact_hours_use_the_policy_zone_when_the_borrower_has_none(tmp_path):
    root = write_dataset(tmp_path, borrowers=[{"borrower_id": "B1", "timezone": None}], contacts=[
        contact("early", "2026-11-05T07:59:59+08:00"), contact("ok", "2026-11-05T08:00:00+08:00")])
    assert flagged(root, {"contact_hours": {"start": "08:00", "end": "22:00"}})["HOURS"] == {"early"}


def test_contact_hours_only_on_the_listed_channels(tmp_path):
    root = write_dataset(tmp_path, contacts=[
        contact("late_call", "2026-11-05T23:00:00+08:00"),
        contact("late_sms", "2026-11-05T23:00:00+08:00", channel="sms", outcome="delivered")])
    rules = {"contact_hours": {"start": "08:00", "end": "22:00", "channels": ["call"]}}
    assert flagged(root, rules)["HOURS"] == {"late_call"}


def test_day_window_splits_at_local_midnight(tmp_path):
    root = write_dataset(tmp_path, contacts=[
        contact("d1_last_second", "2026-11-05T15:59:59Z"),   # 23:59:59 in Shanghai
        contact("d2_midnight", "2026-11-05T16:00:00Z"),      # 00:00:00 next day
        contact("d2_second", "2026-11-06T01:00:00Z"),
    ])
    limit = {"id": "F-DAY", "per": "loan", "window": "day", "max": 1}
    assert flagged(root, {"frequency": [limit]})["F-DAY"] == {"d2_second"}


def test_7d_window_excludes_a_contact_exactly_168_hours_earlier(tmp_path):
    root = write_dataset(tmp_path, loans=[
        {"loan_id": "L1", "borrower_id": "B1", "principal": "1"}, {"loan_id": "L2", "borrower_id": "B1", "principal": "1"}],
        contacts=[
            contact("a0", "2026-11-01T10:00:00Z"), contact("a1", "2026-11-08T10:00:00Z"),
            contact("b0", "2026-11-01T10:00:00Z", loan_id="L2"), contact("b1", "2026-11-08T09:59:59Z", loan_id="L2"),
        ])
    limit = {"id": "F-7D", "per": "loan", "window": "7d", "max": 1}
    assert flagged(root, {"frequency": [limit]})["F-7D"] == {"b1"}


def test_same_second_contacts_are_ordered_by_event_id(tmp_path):
    root = write_dataset(tmp_path, contacts=[contact("b", "2026-11-05T10:00:00Z"), contact("a", "2026-11-05T10:00:00Z")])
    limit = {"id": "F-ALL", "per": "loan", "window": "all", "max": 1}
    assert flagged(root, {"frequency": [limit]})["F-ALL"] == {"b"}


def test_per_recipient_groups_a_third_party_across_loans_and_filters_types_and_channels(tmp_path):
    root = write_dataset(tmp_path, loans=[
        {"loan_id": "L1", "borrower_id": "B1", "principal": "1"}, {"loan_id": "L2", "borrower_id": "B1", "principal": "1"}],
        contacts=[
            contact("x1", "2026-11-05T02:00:00Z", recipient_type="third_party", recipient_id="X"),
            contact("x2", "2026-11-05T03:00:00Z", loan_id="L2", recipient_type="third_party", recipient_id="X"),
            contact("y1", "2026-11-05T03:00:00Z", recipient_type="third_party", recipient_id="Y"),
            contact("b1", "2026-11-05T04:00:00Z"),
            contact("b2", "2026-11-05T05:00:00Z", loan_id="L2"),
        ])
    limits = [
        {"id": "F-TP", "recipient_types": ["emergency_contact", "third_party"], "per": "recipient", "window": "day", "max": 1},
        {"id": "F-BORROWER", "recipient_types": ["borrower"], "channels": ["call"], "per": "recipient", "window": "day", "max": 1},
    ]
    out = flagged(root, {"frequency": limits})
    assert out["F-TP"] == {"x2"} and out["F-BORROWER"] == {"b2"}


def test_unregistered_emergency_contact_and_any_third_party_are_flagged(tmp_path):
    root = write_dataset(tmp_path, emergency_contacts=[{"borrower_id": "B1", "contact_id": "C1"}], contacts=[
        contact("registered", "2026-11-05T10:00:00+08:00", recipient_type="emergency_contact", recipient_id="C1"),
        contact("unregistered", "2026-11-05T11:00:00+08:00", recipient_type="emergency_contact", recipient_id="C2"),
        contact("stranger", "2026-11-05T12:00:00+08:00", recipient_type="third_party", recipient_id="C1"),
    ])
    assert flagged(root, {"third_party": {"registered_only": True}})["TP-UNREGISTERED"] == {"unregistered", "stranger"}


def test_without_any_emergency_contacts_only_third_parties_are_judged_and_the_summary_says_so(tmp_path):
    import audit
    from helpers import policy

    root = write_dataset(tmp_path, contacts=[
        contact("ec", "2026-11-05T10:00:00+08:00", recipient_type="emergency_contact", recipient_id="C2"),
        contact("tp", "2026-11-05T12:00:00+08:00", recipient_type="third_party", recipient_id="C1"),
    ])
    result = audit.audit(data=root, policy=policy({"third_party": {"registered_only": True}}))
    assert set(result.violations["event_id"]) == {"tp"}
    assert any("no emergency contacts" in n for n in result.notes)


def test_since_until_judge_only_the_window_but_earlier_reminders_still_count(tmp_path):
    from datetime import date

    root = write_dataset(tmp_path, contacts=[
        contact("s1", "2026-11-02T10:00:00+08:00", channel="sms", outcome="delivered"),
        contact("s2", "2026-11-03T10:00:00+08:00", channel="sms", outcome="delivered"),
        contact("tp_in", "2026-11-10T10:00:00+08:00", **TP),
        contact("tp_after", "2026-11-12T10:00:00+08:00", **TP),
        contact("late_before", "2026-11-04T23:00:00+08:00"),
    ])
    rules = {**ESCALATION, "third_party": {"min_days_past_due": 10, "escalation": [{"channel": "sms", "at_least": 2}]},
             "contact_hours": {"start": "08:00", "end": "22:00"}}
    out = flagged(root, rules, since=date(2026, 11, 5), until=date(2026, 11, 10))
    assert out == {"TP-DPD": {"tp_in"}}


@pytest.mark.parametrize("ts, is_flagged", [
    ("2026-11-05T19:59:59+08:00", True),
    ("2026-11-05T20:00:00+08:00", False),
    ("2026-11-05T23:59:59+08:00", False),
    ("2026-11-06T00:00:00+08:00", False),
    ("2026-11-06T05:59:59+08:00", False),
    ("2026-11-06T06:00:00+08:00", True),
    ("2026-11-06T12:00:00+08:00", True),
])
def test_contact_hours_with_start_after_end_run_over_midnight(tmp_path, ts, is_flagged):
    """docs/decisions.md: 20:00-06:00 is a window over midnight (start allowed, end not)."""
    root = write_dataset(tmp_path, contacts=[contact("e", ts)])
    out = flagged(root, {"contact_hours": {"start": "20:00", "end": "06:00"}})
    assert ("e" in out.get("HOURS", set())) is is_flagged


def test_a_naive_time_in_the_repeated_hour_is_its_first_occurrence_and_one_in_the_skipped_hour_is_rejected(tmp_path):
    """docs/decisions.md; America/New_York: 2026-11-01 01:00-02:00 happens twice, 2026-03-08 02:00-03:00 never."""
    import datetime as dt

    from audit import store
    from audit.ingest import load_dataset

    root = write_dataset(tmp_path, borrowers=[{"borrower_id": "B1", "timezone": "America/New_York"}], contacts=[
        contact("repeated", "2026-11-01 01:30:00"), contact("skipped", "2026-03-08 02:30:00"),
        contact("plain", "2026-11-05 10:00:00")])
    con = store.connect()
    result = load_dataset(con, root, timezone_name="America/New_York")
    stored = dict(con.execute("SELECT event_id, ts FROM contacts").fetchall())
    utc = dt.timezone.utc
    assert stored["repeated"].astimezone(utc) == dt.datetime(2026, 11, 1, 5, 30, tzinfo=utc)  # EDT, not EST (6:30)
    assert stored["plain"].astimezone(utc) == dt.datetime(2026, 11, 5, 15, 0, tzinfo=utc)
    assert "skipped" not in stored
    reasons = dict(result.rejected.select("key", "reasons").iter_rows())
    assert "does not exist in America/New_York" in reasons["skipped"]
