"""The loop-based reading against hand-worked cases, not only against the engine.

Every case of policy_tests/ was written by hand from the regulation and the
SPEC (its `expect` lists the violations a person worked out). The oracle
judges each case's data from the files it writes, with the policy's YAML:
it must give exactly the expected violations, as the engine must.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from audit.policy_tools import _policy_for, case_files, load_case_file, write_case_dataset
from oracle import violations as oracle_violations

CASES_DIR = Path(__file__).resolve().parents[1] / "policy_tests"
CASES = [(f, i, case) for f in case_files(CASES_DIR) for i, case in enumerate(load_case_file(f).cases)]


@pytest.mark.parametrize("case_file,index,case", CASES, ids=[f"{f.stem}-{i}" for f, i, _ in CASES])
def test_the_loop_reading_gives_each_hand_worked_case_exactly(tmp_path, case_file, index, case):
    assert case.since is None and case.until is None, "the oracle judges every contact"
    policy = _policy_for(case.policy if case.policy is not None else load_case_file(case_file).policy,
                         case_file, case.name, {})
    root = write_case_dataset(case.data, tmp_path / "data")
    got = oracle_violations(root, yaml.safe_load(policy.text), timezone=case.timezone)
    if case.only_rules is not None:
        got = {k for k in got if k[0] in case.only_rules}
    assert got == {(x.rule_id, x.event_id) for x in case.expect}, case.name
