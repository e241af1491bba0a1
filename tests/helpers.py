"""Small datasets written from Python literals, and a one-call audit over them."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import yaml

import audit
from audit.policy import parse_policy

BASE_POLICY = {"policy_id": "test", "version": "1", "default_timezone": "Asia/Shanghai"}

CONTACT_COLUMNS = ["event_id", "loan_id", "ts", "channel", "recipient_type", "recipient_id",
                   "agent_id", "outcome", "duration_s", "content"]


def contact(event_id: str, ts: str, *, loan_id: str = "L1", channel: str = "call",
            recipient_type: str = "borrower", recipient_id: str | None = None,
            outcome: str | None = "no_answer", content: str | None = None, **extra) -> dict:
    row = dict(event_id=event_id, loan_id=loan_id, ts=ts, channel=channel, recipient_type=recipient_type,
               recipient_id=recipient_id, agent_id="A01", outcome=outcome, duration_s=None, content=content)
    row.update(extra)
    return row


def write_table(root: Path, name: str, rows: list[dict], fmt: str = "csv") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{name}.{fmt}"
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    else:
        df = pl.DataFrame(rows, infer_schema_length=None).with_columns(pl.all().cast(pl.String))
        df.write_csv(path) if fmt == "csv" else df.write_parquet(path)
    return path


def write_dataset(root: Path, *, contacts: list[dict], loans: list[dict] | None = None,
                  installments: list[dict] | None = None, borrowers: list[dict] | None = None,
                  emergency_contacts: list[dict] | None = None) -> Path:
    loans = loans if loans is not None else [{"loan_id": "L1", "borrower_id": "B1", "principal": "10000.00"}]
    installments = installments if installments is not None else [
        {"loan_id": "L1", "seq": 1, "due_date": "2026-11-01", "amount_due": "1000.00", "paid_at": None}]
    borrowers = borrowers if borrowers is not None else [{"borrower_id": "B1", "timezone": "Asia/Shanghai"}]
    write_table(root, "loans", loans)
    write_table(root, "installments", installments)
    write_table(root, "contacts", [{c: r.get(c) for c in CONTACT_COLUMNS} | r for r in contacts], "jsonl")
    if borrowers:
        write_table(root, "borrowers", borrowers)
    if emergency_contacts:
        write_table(root, "emergency_contacts", emergency_contacts)
    return root


def policy(rules: dict, **top) -> audit.Policy:
    return parse_policy(yaml.safe_dump({**BASE_POLICY, **top, "rules": rules}, allow_unicode=True))


def flagged(root: Path, rules: dict, **kwargs) -> dict[str, set[str]]:
    """rule_id -> the event ids it flags."""
    result = audit.audit(data=root, policy=policy(rules), **kwargs)
    out: dict[str, set[str]] = {}
    for rule_id, event_id in result.violations.select("rule_id", "event_id").iter_rows():
        out.setdefault(rule_id, set()).add(event_id)
    return out


# ------------------------------------------------------------------ Hypothesis: how many examples, and what they reached

def examples(ci: int, local: int) -> int:
    """max_examples for a property: `ci` when CI is set (the test command in CI), `local` otherwise.

    AUDIT_FUZZ_EXAMPLES=N overrides both (a deeper search, e.g. a nightly job).
    """
    import os

    if os.environ.get("AUDIT_FUZZ_EXAMPLES"):
        return int(os.environ["AUDIT_FUZZ_EXAMPLES"])
    return ci if os.environ.get("CI") else local


class Reach:
    """What the drawn cases of one property reached: a count per label, over the examples run.

    A property test calls `case()` once per example and `saw(label)` for each
    thing the example reached ("contacts loaded", "violations"); `check()`
    then asserts that at least `share` of the examples reached each required
    label, so a strategy that drifts into trivial cases fails the test. Every
    Reach is listed in pytest's closing summary (tests/conftest.py).
    """

    registry: list["Reach"] = []

    def __init__(self, name: str):
        self.name, self.examples, self.counts = name, 0, {}
        Reach.registry.append(self)

    def case(self) -> None:
        self.examples += 1

    def saw(self, label: str, yes: bool = True) -> None:
        if yes:
            self.counts[label] = self.counts.get(label, 0) + 1

    def share(self, label: str) -> float:
        return self.counts.get(label, 0) / self.examples if self.examples else 0.0

    def check(self, **required: float) -> None:
        assert self.examples, f"{self.name}: no example ran"
        low = {label: f"{self.share(label):.0%} < {want:.0%}" for label, want in required.items()
               if self.share(label) < want}
        assert not low, f"{self.name}: too few drawn cases reached {low} ({self})"

    def __str__(self) -> str:
        parts = ", ".join(f"{label} {n}/{self.examples}" for label, n in sorted(self.counts.items()))
        return f"{self.name}: {self.examples} examples; {parts}"
