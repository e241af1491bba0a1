"""The shipped policies: each preset loads, cites a source for every rule, and every rule bites on sample_data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import audit
from audit.cli import main
from audit.policy import builtin_names, load_policy

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def test_policy_list_shows_every_preset():
    out = CliRunner().invoke(main, ["policy", "list"]).output
    assert {"builtin:default", "builtin:cn-gbt-45251", "builtin:us-reg-f"} <= {line.split()[0] for line in out.splitlines()}


@pytest.mark.parametrize("name", ["cn-gbt-45251", "us-reg-f"])
def test_every_rule_of_a_regulation_preset_cites_its_source(name):
    p = load_policy(f"builtin:{name}")
    assert set(p.rule_ids()) <= set(p.references), set(p.rule_ids()) - set(p.references)


@pytest.mark.parametrize("name", builtin_names())
def test_every_rule_of_every_builtin_policy_flags_a_contact_in_sample_data(name, tmp_path):
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["run", "--data", str(SAMPLE), "--policy", f"builtin:{name}", "--out", str(out)])
    assert r.exit_code == 0, r.output
    by_rule = json.loads((out / "summary.json").read_text())["violations"]["by_rule"]
    assert by_rule and not [rule for rule, n in by_rule.items() if n == 0]


def test_sample_run_accounts_for_every_row_and_rejects_the_bad_rows_with_reasons():
    result = audit.audit(data=SAMPLE)
    for counts in result.load.counts.values():
        assert counts.read == counts.loaded + counts.updated + counts.duplicates + counts.rejected
    rejected = result.load.rejected
    assert rejected.height >= 10 and rejected["reasons"].str.len_chars().min() > 0
    assert set(rejected["table"]) == {"contacts", "installments"}


def test_a_number_that_is_both_an_id_and_a_card_is_reported_in_a_fixed_order():
    """Same span, two kinds: the detail must not depend on the engine's row order (reports are reproducible)."""
    v = audit.audit(data=SAMPLE).violations
    detail = v.filter((v["rule_id"] == "PII-UNMASKED") & (v["event_id"] == "X-PIIUM-ID"))["detail"].to_list()
    assert detail == ["unmasked bank_card, id_number in the message"]
