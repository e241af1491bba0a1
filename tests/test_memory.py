"""--memory-limit is a budget for the whole run: DuckDB gives back half once its SQL rules are done."""

from __future__ import annotations

from pathlib import Path

import audit
from audit import store

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"


def _limit_bytes(con) -> float:
    number, unit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0].split(" ")
    return float(number) * store._UNITS[unit]


def test_lending_memory_halves_duckdbs_limit():
    con = store.connect(memory_limit="3GB")
    before = _limit_bytes(con)
    store.lend_memory(con)
    assert abs(_limit_bytes(con) - before / 2) < 0.1 * 2**30


def test_a_memory_limit_changes_no_violation(tmp_path):
    limited = audit.audit(data=SAMPLE, out=tmp_path / "a", memory_limit="512MB")
    free = audit.audit(data=SAMPLE, out=tmp_path / "b")
    assert limited.violations.height > 100
    assert limited.violations.equals(free.violations)
    assert (tmp_path / "a" / "violations.csv").read_bytes() == (tmp_path / "b" / "violations.csv").read_bytes()


def test_an_in_memory_store_spills_to_a_private_directory_not_the_working_directory():
    import os
    import stat
    import tempfile

    con = store.connect()
    spill = con.execute("SELECT current_setting('temp_directory')").fetchone()[0]
    assert os.path.dirname(spill) == tempfile.gettempdir()
    assert os.path.basename(spill).startswith("contact-audit-spill-")
    assert stat.S_IMODE(os.stat(spill).st_mode) == 0o700
