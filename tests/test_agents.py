"""Agent scorecards (SPEC §9): agents.csv and the report's table add up to the run's totals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl

from helpers import contact, write_dataset

ROOT = Path(__file__).resolve().parents[1]


def test_agents_csv_adds_up_to_the_summary_on_the_sample_data(tmp_path):
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, "-m", "audit.cli", "run", "--data", str(ROOT / "sample_data"), "--out", str(out),
                        "--waivers", str(ROOT / "sample_data" / "waivers.yaml"), "--as-of", "2026-11-30"],
                       capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stderr
    a = pl.read_csv(out / "agents.csv", schema_overrides={"agent_id": pl.String})
    s = json.loads((out / "summary.json").read_text())
    assert a["violations"].sum() == s["violations"]["total"]
    assert a["contacts_judged"].sum() == s["contacts_judged"]
    for sev in ("critical", "high", "medium", "low"):
        assert a[sev].sum() == s["violations"]["by_severity"][sev]
    assert a["waived"].sum() == s["violations"]["by_status"]["waived"] == 2
    assert a["agent_id"].null_count() == 1  # contacts without an agent are their own row
    per = a.filter(pl.col("contacts_judged") > 0)
    assert ((per["violations"] * 1000 / per["contacts_judged"]).round(2) == per["violations_per_1000"]).all()
    assert per["violations_per_1000"].to_list() == sorted(per["violations_per_1000"].to_list(), reverse=True)
    html = (out / "report.html").read_text()
    assert 'id="agents-table"' in html and html.count("<tr>") > a.height


def test_the_most_broken_rule_and_an_agent_without_violations(tmp_path):
    data = write_dataset(tmp_path / "d", contacts=[
        contact("x1", "2026-11-05T23:00:00+08:00", agent_id="A1"),
        contact("x2", "2026-11-05T23:10:00+08:00", agent_id="A1"),
        contact("ok", "2026-11-05T10:00:00+08:00", agent_id="A2"),
        contact("bot", "2026-11-05T23:20:00+08:00", agent_id=None)])
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, "-m", "audit.cli", "run", "--data", str(data), "--out", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    a = {r["agent_id"]: r for r in pl.read_csv(out / "agents.csv", schema_overrides={"agent_id": pl.String}).to_dicts()}
    assert a["A2"]["violations"] == 0 and a["A2"]["contacts_judged"] == 1 and a["A2"]["top_rule"] is None
    assert a["A1"]["contacts_judged"] == 2 and a["A1"]["top_rule"] == "HOURS" and a["A1"]["top_rule_violations"] == 2
    assert a[None]["contacts_judged"] == 1 and a[None]["violations"] >= 1
