"""Hostile content never runs in a spreadsheet or a browser, and message text never reaches summaries or the console.

One dataset puts formula starters (`=cmd|' /C calc'!A0`, `+`, `-`, `@`, tab,
CR), HTML (`<script>`, `</script><img onerror>`) and CR/LF into every text
column that reaches a report (event, loan, borrower, recipient and agent
ids, message text), in rows that become violations and in rows that are
rejected. The real CLI writes the reports once (module fixture); each test
checks one promise of docs/security.md and docs/decisions.md.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest

AUDIT = [sys.executable, "-m", "audit.cli"]
FORMULA = "=cmd|' /C calc'!A0"
SCRIPT = "<script>alert(1)</script>"
BREAKOUT = "</script><img src=x onerror=alert(1)>"
MARKER = "SECRET-MESSAGE-TEXT"     # only ever in `content`
PHONE = "13812345678"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

BORROWERS = [
    {"borrower_id": "B1", "timezone": "Asia/Shanghai", "phone": PHONE},
    {"borrower_id": "@SUM(1+1)", "timezone": "Asia/Shanghai"},
]
LOANS = [
    {"loan_id": "L1", "borrower_id": "B1", "principal": "5000.00"},
    {"loan_id": "=HYPERLINK(\"http://evil\")", "borrower_id": "@SUM(1+1)", "principal": "100.00"},
]
INSTALLMENTS = [
    {"loan_id": "L1", "seq": "1", "due_date": "2026-11-01", "amount_due": "5000.00"},
    {"loan_id": "=HYPERLINK(\"http://evil\")", "seq": "1", "due_date": "2026-11-01", "amount_due": "100.00"},
]


def _contact(event_id, *, loan_id="L1", ts="2026-11-03T23:30:00+08:00", channel="sms",
             recipient_type="third_party", recipient_id="+X1", agent_id="\tA1", content=None):
    return dict(event_id=event_id, loan_id=loan_id, ts=ts, channel=channel, recipient_type=recipient_type,
                recipient_id=recipient_id, agent_id=agent_id, outcome="delivered", duration_s=None, content=content)


CONTACTS = [
    # Violations (third party before 7 days past due, late at night, debt terms, a full phone number).
    _contact(FORMULA, content=f"{FORMULA} 您的欠款已逾期 {MARKER} {PHONE}"),
    _contact(SCRIPT, content=f"{BREAKOUT} 逾期 {MARKER}", agent_id="@agent"),
    _contact("crlf\r\nevent", content=f"line1\r\nline2 逾期 {MARKER}", recipient_id="\rR1", agent_id="-1+1"),
    _contact("+plus", loan_id="=HYPERLINK(\"http://evil\")", content=f"=1+1 {MARKER}", recipient_id="=X2",
             agent_id="\r\nA2"),
    _contact("tab", content=f"\t{SCRIPT} 逾期 {MARKER}", recipient_id=BREAKOUT, agent_id=SCRIPT),
    # Message text that starts with each formula character: the evidence excerpt starts with it too.
    *[_contact(f"starts-{i}", content=f"{c}逾期") for i, c in enumerate(FORMULA_START)],
    # Rejected rows (an unknown channel) carrying the same payloads.
    _contact("=rejected()", channel="fax", content=f"{FORMULA} {MARKER}", agent_id="=1"),
    _contact("\tTAB-rejected", channel="fax", content=f"{MARKER}"),
    _contact(BREAKOUT, channel="fax", content=f"{SCRIPT} {MARKER}"),
    _contact("-rejected\r\n", channel="fax", content=f"\r{MARKER}\r\n{BREAKOUT}", agent_id="@x"),
]


def _write(root: Path) -> Path:
    root.mkdir(parents=True)
    for name, rows in (("borrowers", BORROWERS), ("loans", LOANS), ("installments", INSTALLMENTS)):
        pl.DataFrame(rows).write_csv(root / f"{name}.csv")
    # Contacts as CSV: CR/LF and quotes inside fields go through the CSV reader too.
    pl.DataFrame(CONTACTS, schema={k: pl.String for k in CONTACTS[0]}).write_csv(root / "contacts.csv")
    return root


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*AUDIT, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    data = _write(root / "data")
    out = root / "out"
    p = _cli("run", "--data", str(data), "--out", str(out), "--verbose", "--junit", str(root / "junit.xml"))
    assert p.returncode == 0, p.stderr
    return {"out": out, "proc": p, "data": data, "root": root}


def _cells(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


@pytest.mark.parametrize("name", ["violations.csv", "rejected.csv"])
def test_no_csv_cell_starts_with_a_formula_character(run, name):
    rows = _cells(run["out"] / name)
    assert len(rows) > 1
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(FORMULA_START), (name, cell)


@pytest.mark.parametrize("name, column, value", [
    ("violations.csv", "event_id", FORMULA),
    ("violations.csv", "event_id", "+plus"),
    ("violations.csv", "loan_id", "=HYPERLINK(\"http://evil\")"),
    ("violations.csv", "borrower_id", "@SUM(1+1)"),
    ("violations.csv", "recipient_id", "+X1"),
    *[("violations.csv", "evidence", f"{c}逾期") for c in FORMULA_START],
    ("violations.csv", "agent_id", "-1+1"),
    ("violations.csv", "agent_id", "@agent"),
    ("rejected.csv", "key", "=rejected()"),
    ("rejected.csv", "key", "\tTAB-rejected"),
    ("rejected.csv", "key", "-rejected\r\n"),
])
def test_a_formula_cell_is_kept_with_a_leading_quote(run, name, column, value):
    rows = _cells(run["out"] / name)
    header = rows[0]
    values = [r[header.index(column)] for r in rows[1:]]
    assert "'" + value in values, (column, sorted(set(values)))


def test_cr_lf_inside_fields_keep_one_record_per_violation_and_per_rejected_row(run):
    summary = json.loads((run["out"] / "summary.json").read_text(encoding="utf-8"))
    assert len(_cells(run["out"] / "violations.csv")) - 1 == summary["violations"]["total"]
    assert len(_cells(run["out"] / "rejected.csv")) - 1 == summary["tables"]["contacts"]["rejected"] == 4
    assert pl.read_csv(run["out"] / "violations.csv", infer_schema=False).height == summary["violations"]["total"]
    events = set(pl.read_parquet(run["out"] / "violations.parquet")["event_id"])
    assert "crlf\r\nevent" in events  # Parquet keeps the values as they were


class _Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self._in: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in.append(tag)

    def handle_endtag(self, tag):
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data):
        if self._in and self._in[-1] == "td":
            self.text.append(data)


def _page(run) -> tuple[str, _Page]:
    page = (run["out"] / "report.html").read_text(encoding="utf-8")
    parser = _Page()
    parser.feed(page)
    return page, parser


def test_report_html_holds_no_tag_or_handler_from_the_data(run):
    page, parser = _page(run)
    assert SCRIPT not in page and BREAKOUT not in page
    assert not [t for t, _ in parser.tags if t in ("img", "iframe", "object", "embed", "link", "base", "form")]
    assert not [a for _, attrs in parser.tags for a in attrs if a.startswith("on")]
    scripts = [attrs for t, attrs in parser.tags if t == "script"]
    # The page's own blocks only: JSON data (inert) and the inline code the CSP pins by hash.
    assert all(s.get("type") in ("application/json", None) for s in scripts)
    # error reporter, violations table, sorting of the small tables: each pinned by its hash in the CSP
    assert len([s for s in scripts if s.get("type") is None]) == 3
    assert page.count("sha256-") == 3


def test_report_html_shows_hostile_values_as_text(run):
    _, parser = _page(run)
    cells = "\n".join(parser.text)
    assert BREAKOUT in cells and SCRIPT in cells  # the rejected rows' original values, read back as text
    page = (run["out"] / "report.html").read_text(encoding="utf-8")
    assert "\\u003c/script\\u003e\\u003cimg src=x onerror=alert(1)\\u003e" in page  # the violations table's JSON


def test_summary_and_manifest_never_contain_message_text(run):
    for name in ("summary.json", "manifest.json"):
        text = (run["out"] / name).read_text(encoding="utf-8")
        assert MARKER not in text and PHONE not in text and "逾期" not in text, name


def test_verbose_run_output_never_contains_message_text(run):
    p = run["proc"]
    assert "validate and store contacts:" in p.stderr + p.stdout  # it did log the steps
    for stream in (p.stdout, p.stderr):
        assert MARKER not in stream and PHONE not in stream and "逾期" not in stream and "<img" not in stream


def test_verbose_load_output_never_contains_message_text(run, tmp_path):
    p = _cli("load", str(run["data"]), "--db", str(tmp_path / "s.duckdb"), "--verbose")
    assert p.returncode == 0, p.stderr
    assert "rejected" in p.stdout
    for stream in (p.stdout, p.stderr):
        assert MARKER not in stream and PHONE not in stream and "逾期" not in stream


def test_junit_report_is_well_formed_xml_with_hostile_values(run):
    tree = ET.parse(run["root"] / "junit.xml")
    assert len(list(tree.getroot().iter("testcase"))) >= 1  # a test per active rule
    text = (run["root"] / "junit.xml").read_text(encoding="utf-8")
    assert "<img" not in text and PHONE not in text


def test_reports_carry_no_full_phone_number(run):
    for name in ("violations.csv", "rejected.csv", "report.html"):
        assert PHONE not in (run["out"] / name).read_text(encoding="utf-8"), name


def test_an_unparseable_csv_error_never_quotes_message_text(tmp_path):
    data = _write(tmp_path / "data")
    with (data / "contacts.csv").open("a", encoding="utf-8") as f:
        f.write(f'e9,L1,2026-11-05T10:00:00+08:00,sms,borrower,,,,,"{MARKER} {PHONE}\n')
    p = _cli("run", "--data", str(data), "--out", str(tmp_path / "out"), "--verbose")
    assert p.returncode == 3 and "Traceback" not in p.stderr
    assert MARKER not in p.stderr and PHONE not in p.stderr, p.stderr
