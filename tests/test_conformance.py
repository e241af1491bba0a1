"""The shared conformance set: exactly the expected violations and rejections."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import audit

CONF = Path(__file__).resolve().parents[2] / "shared" / "conformance"
pytestmark = pytest.mark.skipif(not (CONF / "data").is_dir(), reason="the shared conformance set is not here")


@pytest.fixture(scope="module")
def result():
    return audit.audit(data=CONF / "data", policy=CONF / "policy.yaml")


def test_every_expected_violation_and_nothing_else(result):
    expected = pl.read_csv(CONF / "expected_violations.csv").select("rule_id", "event_id", "severity")
    actual = result.violations.select("rule_id", "event_id", "severity")
    missing = expected.join(actual, on=["rule_id", "event_id"], how="anti")
    extra = actual.join(expected, on=["rule_id", "event_id"], how="anti")
    assert missing.is_empty() and extra.is_empty(), (
        f"missing: {missing.group_by('rule_id').len().rows()}; extra: {extra.group_by('rule_id').len().rows()}")
    assert actual.sort("rule_id", "event_id").equals(expected.sort("rule_id", "event_id"))


def test_exactly_the_expected_rows_are_rejected_and_one_duplicate_counted(result):
    expected = pl.read_csv(CONF / "expected_rejected.csv", schema_overrides={"event_id": pl.String})
    rejected = result.load.rejected
    assert sorted(rejected["key"].to_list()) == sorted(expected["event_id"].fill_null("").to_list())
    assert result.load.counts["contacts"].duplicates == 1
