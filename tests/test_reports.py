"""The reports people read and regulators check: report.html, manifest.json and verify, JUnit, reproducibility."""

from __future__ import annotations

import hashlib
import html
import json
import re
import shutil
import xml.etree.ElementTree as ET

import polars as pl
import pytest
from click.testing import CliRunner

import audit
from audit.cli import main
from audit.reports import html as html_report
from audit.reports.junit import run_junit
from helpers import contact, policy, write_dataset, write_table

EC = dict(recipient_type="emergency_contact", recipient_id="K1")
XSS = "<script>document.body.setAttribute('data-pwned','1')</script>"
REPORT_FILES = {"violations.csv", "violations.parquet", "rejected.csv", "summary.json", "report.html",
                "agents.csv", "manifest.json"}


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _contacts():
    return [
        contact("late", "2026-11-05T23:00:00+08:00", agent_id="=HYPERLINK(\"http://evil\")"),
        contact("early_ec", "2026-11-03T10:00:00+08:00", channel="sms", outcome="delivered",
                content=f"您的亲友逾期未还 {XSS}", **EC),
        contact("mobile", "2026-11-06T10:00:00+08:00", channel="sms", content="请回电 13912345678", agent_id="@SUM(1)"),
        contact("bad", "not a time", agent_id="-1+2"),
    ]


def _dataset(root):
    return write_dataset(root, contacts=_contacts(),
                         emergency_contacts=[{"borrower_id": "B1", "contact_id": "K1", "relationship": "兄弟"}])


@pytest.fixture
def report(tmp_path):
    out = tmp_path / "out"
    r = _run("run", "--data", _dataset(tmp_path / "data"), "--out", out)
    assert r.exit_code == 0, r.output
    return out


def _flip(path, pos):
    data = bytearray(path.read_bytes())
    data[pos] ^= 0x01
    path.write_bytes(bytes(data))


# ------------------------------------------------------------------ manifest and verify

def test_run_writes_report_html_and_manifest_beside_the_spec_files(report):
    from audit.reports.target import REPORT_NAMES

    assert {p.name for p in report.iterdir()} == REPORT_FILES == REPORT_NAMES  # what --out checks collide with


def test_manifest_holds_the_sha256_of_every_other_file_and_of_the_policy(tmp_path):
    pol = tmp_path / "policy.yaml"
    pol.write_text("policy_id: p\nversion: '7'\ndefault_timezone: Asia/Shanghai\nrules:\n"
                   "  contact_hours: {start: '08:00', end: '22:00'}\n", encoding="utf-8")
    out = tmp_path / "out"
    assert _run("run", "--data", _dataset(tmp_path / "d"), "--policy", pol, "--out", out).exit_code == 0
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert set(m["files"]) == REPORT_FILES - {"manifest.json"}
    for name, entry in m["files"].items():
        assert entry["sha256"] == hashlib.sha256((out / name).read_bytes()).hexdigest()
    assert m["policy"]["sha256"] == hashlib.sha256(pol.read_bytes()).hexdigest()
    assert m["tool"]["version"] == audit.__version__
    assert m["input"]["tables"]["contacts"]["rows"] == 3 and len(m["input"]["sha256"]) == 64


def test_verify_passes_on_an_untouched_report_directory(report):
    r = _run("verify", report)
    assert r.exit_code == 0 and "match" in r.output


@pytest.mark.parametrize("name", sorted(REPORT_FILES))
def test_verify_fails_naming_the_file_after_any_byte_of_it_changes(report, tmp_path, name):
    size = (report / name).stat().st_size
    for pos in sorted({0, size // 2, size - 1}):
        copy = tmp_path / f"copy-{pos}"
        shutil.copytree(report, copy)
        _flip(copy / name, pos)
        r = _run("verify", copy)
        assert r.exit_code == 1, (name, pos)
        assert re.search(rf"(changed|damaged): {re.escape(name)}$", r.output, re.M), r.output


def test_verify_names_missing_and_added_files(report):
    (report / "rejected.csv").unlink()
    (report / "notes.txt").write_text("added later")
    r = _run("verify", report)
    assert r.exit_code == 1
    assert "missing: rejected.csv" in r.output and "unexpected: notes.txt" in r.output


def test_verify_of_a_directory_without_a_manifest_is_a_usage_error(report):
    (report / "manifest.json").unlink()
    r = _run("verify", report)
    assert r.exit_code == 2 and "has no manifest.json" in r.output


def test_input_fingerprint_ignores_file_format_and_row_order_but_not_content(tmp_path):
    csv_root = _dataset(tmp_path / "csv")
    pq_root = tmp_path / "pq"
    rows = _contacts()[::-1]
    (pq_root / "contacts").mkdir(parents=True)
    write_table(pq_root / "contacts", "part-1", rows[:2], "parquet")
    write_table(pq_root / "contacts", "part-0", rows[2:], "jsonl")
    write_dataset(tmp_path / "tmp", contacts=[])  # the other tables, as CSV ...
    for name in ("loans", "installments", "borrowers"):
        df = pl.read_csv(tmp_path / "tmp" / f"{name}.csv", infer_schema=False)
        df.reverse().write_parquet(pq_root / f"{name}.parquet")  # ... then Parquet, reversed
    write_table(pq_root, "emergency_contacts", [{"borrower_id": "B1", "contact_id": "K1", "relationship": "兄弟"}],
                "jsonl")
    a = audit.audit(data=csv_root, out=tmp_path / "o1").fingerprint
    b = audit.audit(data=pq_root, out=tmp_path / "o2").fingerprint
    assert a["sha256"] == b["sha256"] and a["tables"] == b["tables"]
    changed = _contacts()
    changed[0]["agent_id"] = "A02"
    c = audit.audit(data=write_dataset(tmp_path / "changed", contacts=changed, emergency_contacts=[
        {"borrower_id": "B1", "contact_id": "K1", "relationship": "兄弟"}]), out=tmp_path / "o3").fingerprint
    assert c["tables"]["contacts"]["digest"] != a["tables"]["contacts"]["digest"]
    assert c["tables"]["loans"] == a["tables"]["loans"]


def test_two_runs_give_byte_identical_violations_files(tmp_path):
    data = _dataset(tmp_path / "data")
    for n in (1, 2):
        assert _run("run", "--data", data, "--out", tmp_path / f"o{n}").exit_code == 0
    for name in ("violations.csv", "violations.parquet"):
        assert (tmp_path / "o1" / name).read_bytes() == (tmp_path / "o2" / name).read_bytes(), name
    assert pl.read_csv(tmp_path / "o1" / "violations.csv").height > 0


def test_csv_outputs_neutralise_cells_a_spreadsheet_would_run_as_formulas(report):
    v = pl.read_csv(report / "violations.csv", infer_schema=False)
    agents = set(v["agent_id"].drop_nulls().to_list())
    assert "'=HYPERLINK(\"http://evil\")" in agents and "'@SUM(1)" in agents
    assert not any(re.match(r"[=+\-@]", a) for a in agents)
    rej = pl.read_csv(report / "rejected.csv", infer_schema=False)
    assert rej["values"].to_list()[0].startswith("{")  # JSON of the original values, not a formula
    for df in (v, rej):
        for col in df.columns:
            assert not any(re.match(r"[=+\-@\t\r]", x) for x in df[col].drop_nulls().to_list()), col


# ------------------------------------------------------------------ report.html (static checks)

def _embedded(page: str, block_id: str) -> str:
    m = re.search(rf'<script type="application/json" id="{block_id}">(.*?)</script>', page, re.S)
    assert m, block_id
    return m.group(1)


def test_report_html_escapes_data_and_loads_nothing_from_outside(report):
    page = (report / "report.html").read_text(encoding="utf-8")
    assert XSS not in page
    assert "<title>=HYPERLINK(&#34;http://evil&#34;): 1</title>" in page  # the agents chart (Jinja2's escape)
    assert not re.search(r"<(link|iframe|img|object|embed)\b", page)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert "url(" not in page and "@import" not in page
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page)
    assert csp and html.unescape(csp.group(1)).startswith("default-src 'none';")


def test_report_html_embeds_the_table_as_json_with_lt_gt_amp_escaped(report):
    page = (report / "report.html").read_text(encoding="utf-8")
    block = _embedded(page, "violations-data")
    assert not set(block) & set("<>&")
    data = json.loads(block)
    evidence = [r[data["columns"].index("evidence")] for r in data["rows"]]
    assert any(e and "<script>" in e for e in evidence)


def test_report_html_masks_identifiers_as_the_csv_does(report):
    page = (report / "report.html").read_text(encoding="utf-8")
    assert "13912345678" not in page and "139****5678" in page


def test_report_html_declares_utf8_and_a_cjk_font_and_keeps_chinese_text(report):
    page = (report / "report.html").read_text(encoding="utf-8")
    assert '<meta charset="utf-8">' in page
    assert "Noto Sans CJK SC" in page and "Microsoft YaHei" in page
    assert "逾期" in page


def test_report_html_caps_the_embedded_rows_keeping_the_most_severe_and_says_so(tmp_path, monkeypatch):
    result = audit.audit(data=_dataset(tmp_path / "d"))
    monkeypatch.setattr(html_report, "MAX_TABLE_ROWS", 2)
    page = html_report.render(result)
    data = json.loads(_embedded(page, "violations-data"))
    sev = [r[data["columns"].index("severity")] for r in data["rows"]]
    assert len(sev) == 2 and sev.count("medium") == 0 and result.violations.height > 2
    assert f"holds 2 of the {result.violations.height} violations" in page


def test_methodology_states_every_active_rule_with_its_parameters_and_reference():
    p = audit.load_policy("builtin:us-reg-f")
    described = {r["rule_id"]: r for r in html_report.describe_rules(p)}
    assert list(described) == p.rule_ids()
    assert all(r["text"] for r in described.values())
    assert "from 08:00 up to 21:00" in described["HOURS"]["text"]
    assert "At most 7 contacts by call to the borrower" in described["FREQ-CALLS-7-IN-7-DAYS"]["text"]
    assert "7 consecutive local calendar days" in described["FREQ-CALLS-7-IN-7-DAYS"]["text"]
    assert "within 7 local days" in described["QUIET-AFTER-CONVERSATION"]["text"]
    assert described["HOURS"]["reference"].startswith("12 CFR 1006.6(b)(1)(i)")
    d = {r["rule_id"]: r["text"] for r in html_report.describe_rules(audit.load_policy("builtin:default"))}
    assert "fewer than 7 days past due" in d["TP-DPD"] and "50,000" in d["TP-DPD"]
    assert "at least 2 SMS contact(s)" in d["TP-ESCALATION"] and "no_answer, busy, refused or voicemail" in d[
        "TP-ESCALATION"]


def test_report_html_shows_totals_per_rule_and_severity(tmp_path):
    result = audit.audit(data=_dataset(tmp_path / "d"))
    page = html_report.render(result)
    by_rule = dict(result.violations.group_by("rule_id").len().iter_rows())
    for rule_id in result.policy.rule_ids():
        assert f'data-rule-count="{rule_id}">{by_rule.get(rule_id, 0)}<' in page
    by_sev = dict(result.violations.group_by("severity").len().iter_rows())
    for sev in ("critical", "high", "medium", "low"):
        assert f'data-severity-count="{sev}">{by_sev.get(sev, 0)}<' in page
    assert f'id="total-violations">{result.violations.height}<' in page


def test_report_html_lists_rejected_rows_with_reasons(report):
    page = (report / "report.html").read_text(encoding="utf-8")
    assert 'id="rejected-total">1<' in page and "is not a timestamp" in page


# ------------------------------------------------------------------ JUnit

def test_run_junit_has_one_testcase_per_rule_and_a_failure_per_violation(tmp_path):
    junit = tmp_path / "ci" / "audit.xml"
    r = _run("run", "--data", _dataset(tmp_path / "d"), "--out", tmp_path / "o", "--junit", junit)
    assert r.exit_code == 0, r.output
    suite = ET.parse(junit).getroot().find("testsuite")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    pol = audit.load_policy()
    assert list(cases) == pol.rule_ids()
    v = pl.read_csv(tmp_path / "o" / "violations.csv", infer_schema=False)
    for rule_id, case in cases.items():
        assert len(case.findall("failure")) == v.filter(pl.col("rule_id") == rule_id).height
    assert int(suite.get("failures")) == v["rule_id"].n_unique()


def test_run_junit_caps_failures_per_rule_and_drops_characters_xml_cannot_hold(tmp_path):
    data = write_dataset(tmp_path / "d", contacts=[
        contact(f"L{i}", f"2026-11-0{i}T23:00:00+08:00", agent_id="A\x01\x1b") for i in range(2, 6)])
    result = audit.audit(data=data, policy=policy({"contact_hours": {"start": "08:00", "end": "22:00"}}))
    path = run_junit(result, tmp_path / "j.xml", cap=3)
    case = ET.parse(path).getroot().find("testsuite/testcase")
    assert len(case.findall("failure")) == 3
    assert "4 violation(s) of HOURS" in case.find("system-out").text and "first 3" in case.find("system-out").text
    assert "agent_id: A\n" in case.find("failure").text + "\n"


def test_report_html_shows_the_first_1000_rejected_rows_in_file_order_and_says_rejected_csv_holds_all(tmp_path):
    n = 1_005
    bad = [contact(f"bad{i:04d}", "not a time") for i in range(n)]
    result = audit.audit(data=write_dataset(tmp_path / "d", contacts=[*bad[::-1], contact("ok", "2026-11-05T10:00:00+08:00")]))
    page = html_report.render(result)
    section = page[page.index('id="rejected"'):]
    keys = re.findall(r"<td>contacts</td><td>[^<]*</td><td>(\d+)</td><td>(bad\d{4})</td>", section)
    assert len(keys) == html_report.MAX_REJECTED_ROWS == 1_000
    assert [int(r) for r, _ in keys] == list(range(1, 1_001))  # by row number in the file
    assert keys[0][1] == f"bad{n - 1:04d}"  # the file lists them in reverse
    assert f"Showing the first 1,000 of {n:,} rejected rows; rejected.csv holds them all." in page
    assert 'id="rejected-total">1,005<' in page


def test_policy_diff_reports_a_changed_severity_as_old_to_new(tmp_path):
    old = tmp_path / "old.yaml"
    old.write_text("policy_id: p\nversion: '1'\ndefault_timezone: Asia/Shanghai\nrules:\n"
                   "  contact_hours: {start: '08:00', end: '22:00'}\n", encoding="utf-8")
    new = tmp_path / "new.yaml"
    new.write_text(old.read_text(encoding="utf-8").replace("version: '1'", "version: '2'")
                   + "severity: {HOURS: critical}\n", encoding="utf-8")
    data = write_dataset(tmp_path / "d", contacts=[contact("late", "2026-11-05T23:00:00+08:00")])
    r = _run("policy", "diff", old, new, "--data", data)
    assert r.exit_code == 0, r.output
    row = next(line for line in r.output.splitlines() if line.startswith("HOURS"))
    assert row.split()[:6] == ["HOURS", "medium->critical", "1", "1", "+0", "-0"] and row.endswith("changed")
    r = _run("policy", "diff", old, new, "--data", data, "--format", "json")
    hours = next(x for x in json.loads(r.output)["rules"] if x["rule_id"] == "HOURS")
    assert (hours["severity_old"], hours["severity_new"]) == ("medium", "critical")


# ------------------------------------------------------------------ report.html: order, explain, matrix, trend

def _table(page: str, table_id: str) -> list[list[str]]:
    """The text of each row's cells (th and td) of one table of the page."""
    from html.parser import HTMLParser

    class P(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.depth, self.rows, self.cell = 0, [], None

        def handle_starttag(self, tag, attrs):
            if tag == "table" and (self.depth or dict(attrs).get("id") == table_id):
                self.depth += 1
            elif self.depth and tag == "tr":
                self.rows.append([])
            elif self.depth and tag in ("td", "th"):
                self.cell = []

        def handle_endtag(self, tag):
            if self.depth and tag == "table":
                self.depth -= 1
            elif self.depth and tag in ("td", "th") and self.cell is not None:
                self.rows[-1].append("".join(self.cell).strip())
                self.cell = None

        def handle_data(self, data):
            if self.cell is not None:
                self.cell.append(data)
    p = P()
    p.feed(page)
    assert p.rows, f"no table #{table_id}"
    return p.rows


def _config(page: str) -> dict:
    return json.loads(_embedded(page, "table-config"))


def test_report_html_puts_summaries_first_then_violations_agents_record_rejected_methodology(tmp_path):
    db = tmp_path / "s.duckdb"
    result = audit.audit(data=_dataset(tmp_path / "d"), db=db)
    page = html_report.render(result, db)
    order = ["totals", "violations-section", "agents-section", "record-section", "rejected-section", "methodology"]
    at = [page.index(f'<section id="{s}"') for s in order]
    assert at == sorted(at)
    assert page.index('id="rule-totals"') < page.index('id="violations"')


def test_each_row_carries_the_explain_command_parts_quoted_for_a_shell(tmp_path):
    db = tmp_path / "my store.duckdb"
    result = audit.audit(data=_dataset(tmp_path / "d"), db=db)
    page = html_report.render(result, db)
    explain = _config(page)["explain"]
    assert explain == {"db": f"'{db}'", "policy": "builtin:default"}
    assert "The store path is as the run was given it" in page
    # without a store, a placeholder and a sentence saying to load into one first
    page = html_report.render(audit.audit(data=_dataset(tmp_path / "d2")))
    assert _config(page)["explain"]["db"] == "STORE.duckdb"
    assert "This run kept no store (no --db)" in page and "audit load DATA_DIR --db STORE.duckdb" in page


def test_an_event_id_that_masking_changed_is_flagged_so_the_row_does_not_offer_it_to_paste(tmp_path):
    phone_like = "13912345678"
    data = write_dataset(tmp_path / "d", contacts=[contact(phone_like, "2026-11-05T23:00:00+08:00"),
                                                   contact("E1", "2026-11-06T23:00:00+08:00")])
    page = html_report.render(audit.audit(data=data))
    assert phone_like not in page
    payload = json.loads(_embedded(page, "violations-data"))
    cols = payload["columns"]
    flags = {r[cols.index("event_id")]: r[cols.index("event_masked")] for r in payload["rows"]}
    assert flags == {"139****5678": True, "E1": False}
    assert 'r[idx.event_masked]?"EVENT_ID"' in page  # the script writes a placeholder for a masked id


def test_the_cap_note_says_how_many_rows_are_left_out_and_where_they_are(tmp_path, monkeypatch):
    result = audit.audit(data=_dataset(tmp_path / "d"))
    monkeypatch.setattr(html_report, "MAX_TABLE_ROWS", 2)
    page = html_report.render(result)
    n = result.violations.height
    assert (f'data-left-out="{n - 2}"><b>This page holds 2 of the {n} violations ({n - 2} left out)' in page)
    assert "violations.csv and violations.parquet beside this page hold them all" in page


def test_the_summary_table_shows_each_rules_reference(tmp_path):
    pol = audit.load_policy("builtin:us-reg-f")
    result = audit.audit(data=_dataset(tmp_path / "d"), policy=pol)
    rows = {r[0]: r for r in _table(html_report.render(result), "rule-totals")[1:]}
    assert rows["HOURS"][4] == pol.reference_of("HOURS") and rows["HOURS"][4].startswith("12 CFR 1006.6")


def test_the_agent_by_rule_matrix_adds_up_to_the_violations_and_caps_its_rows(tmp_path, monkeypatch):
    contacts = [contact(f"x{i}", f"2026-11-0{2 + i % 5}T23:00:00+08:00", agent_id=f"A{i % 4}") for i in range(12)]
    contacts += [contact("ec", "2026-11-03T10:00:00+08:00", agent_id=None, **EC)]
    result = audit.audit(data=write_dataset(tmp_path / "d", contacts=contacts, emergency_contacts=[
        {"borrower_id": "B1", "contact_id": "K1"}]))
    rows = _table(html_report.render(result), "agent-rule-matrix")
    head, body = rows[0], rows[1:]
    v = result.violations
    expected = {(a or "(no agent)", r): n for a, r, n in v.group_by("agent_id", "rule_id").len().iter_rows()}
    for row in body:
        for rule, cell in zip(head[1:-1], row[1:-1]):
            assert int(cell) == expected.get((row[0], rule), 0), (row[0], rule)
        assert int(row[-1]) == sum(n for (a, _), n in expected.items() if a == row[0])
    assert {r[0] for r in body} == {a for a, _ in expected} and sum(int(r[-1]) for r in body) == v.height
    monkeypatch.setattr("audit.reports.agents.MATRIX_AGENTS", 2)
    page = html_report.render(result)
    assert len(_table(page, "agent-rule-matrix")) == 1 + 2
    assert f"the 2 agents with the most violations; {len({a for a, _ in expected}) - 2} more agent(s)" in page


def test_a_run_on_a_store_shows_each_agents_rate_in_the_earlier_runs_as_their_agents_csv_had_it(tmp_path):
    rows = []
    for d, agents in ((2, ("A1", "A1", "A2")), (3, ("A1", "A2", "A2", "A3"))):
        rows += [contact(f"d{d}-{i}", f"2026-11-0{d}T{22 + i % 2}:{10 + i}:00+08:00", agent_id=a)
                 for i, a in enumerate(agents)]
    data = write_dataset(tmp_path / "d", contacts=rows)
    db = tmp_path / "s.duckdb"
    assert _run("load", data, "--db", db).exit_code == 0
    for d in (2, 3):
        r = _run("run", "--db", db, "--since", f"2026-11-0{d}", "--until", f"2026-11-0{d}", "--out", tmp_path / f"o{d}")
        assert r.exit_code == 0, r.output
    assert 'id="agent-trend"' not in (tmp_path / "o2" / "report.html").read_text(encoding="utf-8")  # no history yet
    trend = _table((tmp_path / "o3" / "report.html").read_text(encoding="utf-8"), "agent-trend")
    assert trend[0] == ["Agent", "Run 1", "This run (2)"]
    shown = {r[0]: r[1:] for r in trend[1:]}

    def rates(out):
        a = pl.read_csv(out / "agents.csv", schema_overrides={"agent_id": pl.String})
        return {k: f"{v:,.2f}" for k, v in a.select("agent_id", "violations_per_1000").iter_rows()}
    before, now = rates(tmp_path / "o2"), rates(tmp_path / "o3")
    assert set(shown) == set(now) == {"A1", "A2", "A3"}
    for agent, (earlier, this) in shown.items():
        assert this == now[agent]
        assert earlier == before.get(agent, "–")  # A3 judged nothing in run 1
    assert shown["A3"][0] == "–"


def test_day_chart_ticks_are_round_and_cover_the_top():
    from audit.reports.charts import day_chart, nice_ticks

    assert nice_ticks(10) == [0, 5, 10] and nice_ticks(7) == [0, 2, 4, 6, 8]
    assert nice_ticks(1234) == [0, 500, 1000, 1500] and nice_ticks(1) == [0, 1] and nice_ticks(0) == [0, 1]
    for n in range(1, 60):
        buckets = [(f"2026-{1 + d // 28:02d}-{1 + d % 28:02d}", d % 9) for d in range(n)]
        c = day_chart("t", buckets)
        assert len(c["y_ticks"]) >= 2 and c["y_ticks"][-1]["label"].replace(",", "").isdigit()
        xs = c["x_labels"]
        assert xs[-1]["label"] == buckets[-1][0]  # the last day is always labelled ...
        assert xs[-1]["x"] <= c["right"] and (n == 1 or xs[-1]["anchor"] == "end")  # ... and ends inside the plot
        assert xs[0]["x"] >= c["left"] and xs[0]["anchor"] == "start"


def test_a_run_recorded_without_contacts_per_agent_shows_n_a_not_a_guessed_rate(tmp_path):
    import duckdb

    data = write_dataset(tmp_path / "d", contacts=[contact("x", "2026-11-02T23:00:00+08:00", agent_id="A1")])
    db = tmp_path / "s.duckdb"
    assert _run("run", "--data", data, "--db", db, "--out", tmp_path / "o1").exit_code == 0
    con = duckdb.connect(str(db))
    con.execute("UPDATE runs SET agents = NULL")  # as a store written before runs kept contacts per agent
    con.close()
    assert _run("run", "--db", db, "--out", tmp_path / "o2").exit_code == 0
    page = (tmp_path / "o2" / "report.html").read_text(encoding="utf-8")
    assert _table(page, "agent-trend")[1] == ["A1", "n/a", "1,000.00"]
    assert "n/a: the run was recorded before the ledger kept contacts per agent" in page


def test_a_period_reports_rows_leave_the_policy_to_explain_and_show_no_agent_trend(tmp_path):
    data = write_dataset(tmp_path / "d", contacts=[contact("x", "2026-11-02T23:00:00+08:00")])
    db = tmp_path / "s.duckdb"
    assert _run("run", "--data", data, "--db", db, "--out", tmp_path / "o1").exit_code == 0
    assert _run("report", "--db", db, "--out", tmp_path / "month").exit_code == 0
    page = (tmp_path / "month" / "report.html").read_text(encoding="utf-8")
    assert _config(page)["explain"] == {"db": str(db), "policy": None}  # the ledger's policy: explain's default
    assert 'id="agent-trend"' not in page


def test_the_csp_names_exactly_the_hashes_of_the_pages_inline_scripts(report):
    import base64

    page = (report / "report.html").read_text(encoding="utf-8")
    csp = html.unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page).group(1))
    pinned = re.search(r"script-src ([^;]*);", csp).group(1).split()
    scripts = re.findall(r"<script>(.*?)</script>", page, flags=re.S)
    assert len(scripts) == 3 and "copy" in scripts[1]  # the error reporter, the table (with Copy), sorting
    assert pinned == ["'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
                      for s in scripts]
