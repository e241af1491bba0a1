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


def test_a_transient_run_frees_what_no_later_step_reads_and_finds_the_same_violations():
    """An in-memory run drops the message text once the text rules have read it, and the contacts
    and instalments once the SQL rules have; a store that is read again (policy diff, a store file)
    keeps them."""
    from audit.engine import run_audit
    from audit.ingest import load_dataset
    from audit.policy import load_policy

    pol = load_policy(SAMPLE / "policies" / "default.yaml")
    runs = {}
    for transient in (False, True):
        con = store.connect()
        load_dataset(con, SAMPLE)
        runs[transient] = run_audit(con, pol, transient=transient)
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        assert ("contacts" in tables and "installments" in tables) is not transient
        con.close()
    assert runs[True].violations.height > 100
    assert {"PII-UNMASKED", "TP-DISCLOSURE"} <= set(runs[True].violations["rule_id"])
    assert runs[True].violations.equals(runs[False].violations)
    assert runs[True].contacts_judged == runs[False].contacts_judged
