"""Hypothesis profiles (CI: more examples; local: fewer) and the closing report of what property tests reached."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", deadline=None, print_blob=True, max_examples=60,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("local", deadline=None, max_examples=15,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "local"))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    from helpers import Reach

    ran = [r for r in Reach.registry if r.examples]
    if ran:
        terminalreporter.section("what the drawn cases reached (property and fuzz tests)")
        for r in ran:
            terminalreporter.write_line(str(r))
