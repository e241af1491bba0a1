"""No report file, in any format, holds a full valid ID number, bank card or mobile number."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import polars as pl
from click.testing import CliRunner

from audit.cli import main
from pii_reference import find_identifiers

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


# A SHA-256 in hex (the manifest's, the fingerprint's) is no one's number, yet one in a few dozen
# holds eleven digits in a row that read as a mobile; the report's own run times make it vary by run.
_DIGEST = re.compile(r"\b[0-9a-f]{64}\b")


def _texts(path: Path) -> list[str]:
    if path.suffix == ".parquet":
        df = pl.read_parquet(path)
        return [str(v) for c in df.columns for v in df[c].cast(pl.String).drop_nulls().to_list()]
    return [_DIGEST.sub("<sha256>", line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_no_report_file_written_on_the_sample_data_contains_a_full_identifier(tmp_path):
    out = tmp_path / "out"
    for policy in ("builtin:default", "builtin:us-reg-f"):
        r = CliRunner().invoke(main, ["run", "--data", str(SAMPLE), "--policy", policy, "--out", str(out),
                                      "--junit", str(out.parent / "junit.xml"), "--quiet"])
        assert r.exit_code == 0, r.output
        files = [*out.iterdir(), out.parent / "junit.xml"]
        assert {p.name for p in files} >= {"violations.csv", "violations.parquet", "rejected.csv", "summary.json",
                                            "report.html", "manifest.json", "junit.xml"}
        leaks = [(p.name, line[:80]) for p in files for line in _texts(p)
                 if find_identifiers(line, dt.date(2100, 1, 1))]
        assert leaks == []


def test_only_a_whole_digest_is_set_aside_by_the_leak_check(tmp_path):
    # a manifest's from a run (its last character lost in the log it was read from)
    digest = "a35e0b3edd079221f8818a9057dc7a19194476684c91f76d1adda0b9ca3e3940"
    assert find_identifiers(digest, dt.date(2100, 1, 1))
    (tmp_path / "m.json").write_text(f'"sha256": "{digest}", "phone": "x19194476684x"\n', encoding="utf-8")
    [line] = _texts(tmp_path / "m.json")
    assert digest not in line and find_identifiers(line, dt.date(2100, 1, 1))


def test_the_sample_data_itself_does_hold_identifiers_so_the_check_above_can_fail():
    from audit import store
    from audit.ingest import load_dataset

    con = store.connect()
    load_dataset(con, SAMPLE)
    texts = [r[0] for r in con.execute("SELECT content FROM contacts WHERE content IS NOT NULL").fetchall()]
    assert sum(1 for t in texts if find_identifiers(t, dt.date(2100, 1, 1))) >= 10
