"""The engine against an independent, loop-based reading of the spec, on generated data full of edge cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit import store
from audit.engine import run_audit
from audit.ingest import load_dataset
from audit.policy import load_policy
from audit.sample import generate
from oracle import violations as oracle_violations

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT.parent / "shared" / "conformance" / "data"
POLICIES = ["builtin:default", "builtin:cn-gbt-45251", "builtin:us-reg-f",
            *(str(p) for p in sorted((ROOT / "sample_data" / "policies").glob("*.yaml")))]


@pytest.fixture(scope="module")
def generated_store(tmp_path_factory):
    data = tmp_path_factory.mktemp("gen")
    generate(data, loans=120, seed=11, fmt="mixed")
    con = store.connect()
    load_dataset(con, data)
    return con


@pytest.fixture(scope="module")
def conformance_store():
    if not CONF.is_dir():
        pytest.skip("the shared conformance set is not here")
    con = store.connect()
    load_dataset(con, CONF)
    return con


def _engine(con, policy) -> set[tuple[str, str]]:
    return set(run_audit(con, policy).violations.select("rule_id", "event_id").iter_rows())


def _compare(con, spec: str) -> None:
    policy = load_policy(spec)
    engine, oracle = _engine(con, policy), oracle_violations(con, policy)
    missing, extra = sorted(oracle - engine), sorted(engine - oracle)
    assert not missing and not extra, f"missing {missing[:10]} extra {extra[:10]}"
    rules = {r for r, _ in oracle}
    assert rules, "the data should break some rule"


@pytest.mark.parametrize("spec", POLICIES)
def test_engine_equals_the_loop_reading_on_generated_data(generated_store, spec):
    _compare(generated_store, spec)


@pytest.mark.parametrize("spec", POLICIES)
def test_engine_equals_the_loop_reading_on_the_conformance_data(conformance_store, spec):
    _compare(conformance_store, spec)


def test_the_loop_reading_itself_matches_the_shared_expectations(conformance_store):
    import polars as pl

    expected = set(pl.read_csv(CONF.parent / "expected_violations.csv").select("rule_id", "event_id").iter_rows())
    assert oracle_violations(conformance_store, load_policy(str(CONF.parent / "policy.yaml"))) == expected
