"""The policy in plain words: one sentence per rule, for the report's methodology and policy diffs.

A regulator reads what each rule checked, with the figures the policy set,
without reading YAML; the sentences follow SPEC §4/§4b word for word where
they can.
"""

from __future__ import annotations

from ..policy import Policy

CHANNEL_WORD = {"call": "call", "sms": "SMS", "email": "e-mail", "app_push": "app push", "im": "instant message",
                "letter": "letter", "visit": "visit"}
RECIPIENT_WORD = {"borrower": "the borrower", "emergency_contact": "registered emergency contacts",
                  "third_party": "other third parties"}


def _words(items, mapping: dict | None = None, conj: str = "or") -> str:
    items = [mapping.get(i, i) if mapping else i for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" {conj} " + items[-1]


def _channels(channels) -> str:
    return "on any channel" if not channels else "by " + _words(channels, CHANNEL_WORD)


def _recipients(types) -> str:
    return "to anyone" if not types else "to " + _words(types, RECIPIENT_WORD)


def _amount(value) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def describe_rules(policy: Policy) -> list[dict]:
    """Every active rule with its parameters in plain words, its severity and reference."""
    r = policy.rules
    text: dict[str, str] = {}
    tp = r.third_party
    if tp is not None:
        s = (f"A contact with a third party (an emergency contact or anyone else) is flagged when the loan is "
             f"fewer than {tp.min_days_past_due} days past due at the moment of the contact")
        if tp.amount_tiers:
            tiers = "; ".join(f"from an overdue amount of {_amount(t.overdue_amount_at_least)}, "
                              f"{t.min_days_past_due} days" for t in sorted(tp.amount_tiers,
                                                                        key=lambda t: t.overdue_amount_at_least))
            s += (f". Amount tiers change the required days ({tiers}); the tier with the largest threshold "
                  f"not above the overdue amount applies")
        if tp.min_days_past_due or any(t.min_days_past_due for t in tp.amount_tiers):
            s += ". A third-party contact while nothing is overdue breaks a positive threshold"
        text["TP-DPD"] = s + "."
        if tp.escalation:
            steps = []
            for st in tp.escalation:
                outs = (f" with outcome {_words(st.outcomes)}" if st.outcomes
                        else " (any outcome except failed)")
                steps.append(f"at least {st.at_least} {CHANNEL_WORD[st.channel]} contact(s){outs}")
            text["TP-ESCALATION"] = (
                "A third-party contact while the loan is overdue is flagged unless the borrower was first "
                f"reminded, in the current overdue episode and before the contact: {_words(steps, conj='and')}.")
        if tp.registered_only:
            text["TP-UNREGISTERED"] = (
                "Only the borrower's registered emergency contacts may be contacted: every contact of type "
                "third_party is flagged, and so is an emergency-contact contact whose recipient is not "
                "registered for the loan's borrower.")
        if tp.unreachable_after_failed_calls:
            n = tp.unreachable_after_failed_calls
            text["TP-REACHABLE"] = (
                f"A third-party contact while the loan is overdue is flagged unless the borrower was shown "
                f"unreachable first: the {n} most recent calls to the borrower on the loan, all in the current "
                f"overdue episode, none of them connected.")
    if r.contact_hours is not None:
        h = r.contact_hours
        start, end = h.start.strftime("%H:%M"), h.end.strftime("%H:%M")
        window = (f"from {start} up to {end}" + (f" ({end} itself included)" if h.end_inclusive else "")
                  + (" (over midnight)" if h.start > h.end else ""))
        after = f"after {end} (a second later, not {end} itself)" if h.end_inclusive else f"at {end} exactly or later"
        text["HOURS"] = (
            f"Contacts {_channels(h.channels)} are allowed {window} local time, in the borrower's time zone "
            f"(else {policy.default_timezone}); a contact {after}, or before {start}, is flagged.")
    for f in r.frequency or []:
        window = {"day": "on one local calendar day", "7d": "within any 7×24 hours",
                  "7_days": "within 7 consecutive local calendar days", "all": "in the whole history"}[f.window]
        outs = (f" with outcome {_words(f.outcomes)}" if f.outcomes else
                f" (attempts with outcome {_words(f.exclude_outcomes)} are neither counted nor flagged; "
                f"every other attempt counts, an empty outcome too)" if f.exclude_outcomes else
                " (every attempt counts, whatever the outcome)")
        per = "per loan" if f.per == "loan" else "per recipient"
        text[f.id] = (f"At most {f.max} contact{'' if f.max == 1 else 's'} {_channels(f.channels)} {_recipients(f.recipient_types)}{outs}, "
                      f"{per}, {window}; each contact beyond the limit is flagged.")
    if r.do_not_contact is not None:
        text["DNC"] = (f"A contact {_recipients(r.do_not_contact.recipient_types)} is flagged when an earlier "
                       "contact with the same recipient has outcome do_not_contact (they asked not to be "
                       "contacted again).")
    if r.quiet_after_conversation is not None:
        d = r.quiet_after_conversation.days
        text["QUIET-AFTER-CONVERSATION"] = (
            f"A call to the borrower is flagged within {d} local days after a connected call on the same loan "
            f"(the day of the conversation is day 1; calls from day {d + 1} are allowed)"
            + (f"; a call with outcome {_words(r.quiet_after_conversation.exclude_outcomes)} was not placed "
               "and is not flagged." if r.quiet_after_conversation.exclude_outcomes else "."))
    if r.pii is not None:
        p = r.pii
        attrs = {"id_number": "ID number", "bank_card": "bank card number", "phone": "phone number",
                 "address": "address"}
        kinds = {"id_number": "ID number", "bank_card": "bank card number", "mobile": "mobile number"}
        text["PII-THIRD-PARTY"] = (
            "A message to a third party is flagged when it contains the borrower's "
            f"{_words(p.third_party_protected, attrs) if p.third_party_protected else '(nothing listed)'} "
            "(spaces and hyphens ignored; full-width characters count as their ASCII forms).")
        text["PII-UNMASKED"] = (
            f"A message {_channels(p.unmasked_channels)} is flagged when it holds a full, valid "
            f"{_words(p.unmasked_forbidden, kinds) if p.unmasked_forbidden else '(nothing listed)'} of anyone; "
            "masked forms such as 138****5678 are fine.")
    if r.disclosure is not None:
        d = r.disclosure
        parts = []
        if d.terms:
            parts.append("any of the terms " + ", ".join(f"“{t}”" for t in d.terms) + " (case-insensitive)")
        if d.amounts:
            parts.append("a number equal to the loan's overdue amount or principal")
        text["TP-DISCLOSURE"] = ("A message to a third party is flagged when it contains "
                                 + (" or ".join(parts) if parts else "nothing (no terms, amounts off)") + ".")
    return [{"rule_id": rid, "severity": policy.severity_of(rid), "reference": policy.reference_of(rid),
             "text": text.get(rid, "")} for rid in policy.rule_ids()]
