"""report.html in a real browser (headless Chromium): it runs without errors, shows the right totals,
and shows hostile SMS text as text.

Without Chromium the tests skip locally but fail when CI is set: in CI the browser must be there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

import audit
from helpers import contact, write_dataset

# Measured: about 5 s for the first test (the audit and one Chromium run), 2-3 s for the others (one or
# two Chromium runs). 60 s per test and 25 s per Chromium run leave room for a cold start under load; a
# hung browser fails its test instead of stalling the run.
pytestmark = pytest.mark.timeout(60)
CHROMIUM_TIMEOUT_S = 25

XSS = ("<script>document.body.setAttribute('data-pwned','1')</script>"
       "<img src=x onerror=\"document.body.setAttribute('data-pwned','2')\">")
LATE_CALLS = 520  # more than one page of the table (500 rows)


def chromium() -> str:
    for candidate in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        found = candidate and shutil.which(candidate)
        if found:
            return found
    if os.environ.get("CI"):
        pytest.fail("Chromium is not installed (CI is set, so the browser test must run): apt-get install chromium")
    pytest.skip("Chromium is not installed; apt-get install chromium to run the browser tests")


def run_chromium(work: Path, url: str, *args: str) -> subprocess.CompletedProcess:
    profile = tempfile.mkdtemp(prefix="profile-", dir=work)  # fresh: no state shared between runs
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000",
           *args, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT_S, check=False)


class Node:
    def __init__(self, tag: str, attrs: dict, parent: Node | None):
        self.tag, self.attrs, self.parent, self.children, self.parts = tag, attrs, parent, [], []

    @property
    def text(self) -> str:
        return "".join(p if isinstance(p, str) else p.text for p in self.parts)

    def iter(self, tag: str | None = None):
        for c in self.children:
            if tag is None or c.tag == tag:
                yield c
            yield from c.iter(tag)


class Dom(HTMLParser):
    """The DOM Chromium dumps (after scripts ran), as a small tree."""

    VOID = {"meta", "br", "img", "input", "hr", "link", "col", "source", "wbr", "line", "rect", "path"}

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.root = self.cur = Node("#root", {}, None)
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.cur)
        self.cur.children.append(node)
        self.cur.parts.append(node)
        if tag not in self.VOID:
            self.cur = node

    def handle_startendtag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.cur)
        self.cur.children.append(node)
        self.cur.parts.append(node)

    def handle_endtag(self, tag):
        n = self.cur
        while n is not None and n.tag != tag:
            n = n.parent
        if n is not None and n.parent is not None:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.parts.append(data)

    def by_id(self, id_: str) -> Node:
        found = next((n for n in self.root.iter() if n.attrs.get("id") == id_), None)
        assert found is not None, f"no element #{id_}"
        return found

    def first(self, tag: str) -> Node:
        return next(self.root.iter(tag))


def console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """An audit with many violations, hostile SMS text and Chinese, rendered by Chromium."""
    chromium()  # skip (or, in CI, fail) before any work when there is no browser
    work = tmp_path_factory.mktemp("browser")
    contacts = [contact(f"N{n:04d}", f"2026-{1 + n // 28 % 12:02d}-{1 + n % 28:02d}T23:00:00+08:00",
                        loan_id=f"L{n // 336}", agent_id=f"A{n % 7}") for n in range(LATE_CALLS)]
    contacts += [contact("XSS", "2025-12-31T10:00:00+08:00", channel="sms", outcome="delivered",
                         recipient_type="emergency_contact", recipient_id="K1", content=f"您的亲友逾期未还 {XSS}")]
    loans = [{"loan_id": f"L{i}", "borrower_id": "B1", "principal": "10000.00"} for i in range(2)]
    installments = [{"loan_id": f"L{i}", "seq": 1, "due_date": "2026-11-01", "amount_due": "1000.00",
                     "paid_at": None} for i in range(2)]
    data = write_dataset(work / "data", contacts=contacts, loans=loans, installments=installments,
                         emergency_contacts=[{"borrower_id": "B1", "contact_id": "K1"}])
    out = work / "out"
    result = audit.audit(data=data, out=out)
    url = (out / "report.html").resolve().as_uri()
    proc = run_chromium(work, url, "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return result, Dom(proc.stdout), proc, url, work


def test_report_runs_in_chromium_without_console_errors(rendered):
    _, dom, proc, _, _ = rendered
    assert dom.first("body").attrs.get("data-ready") == "1", "the page's script did not finish"
    assert dom.by_id("js-errors").text == ""
    assert console_lines(proc.stderr) == []


def test_report_shows_the_totals_per_rule_and_severity_in_the_browser(rendered):
    result, dom, _, _, _ = rendered
    v = result.violations
    assert dom.by_id("total-violations").text.replace(",", "") == str(v.height)
    counts = {n.attrs["data-rule-count"]: n.text for n in dom.root.iter("td") if "data-rule-count" in n.attrs}
    by_rule = dict(v.group_by("rule_id").len().iter_rows())
    assert counts == {r: f"{by_rule.get(r, 0):,}" for r in result.policy.rule_ids()}
    assert by_rule["HOURS"] == LATE_CALLS


def test_violations_table_renders_the_first_page_of_all_rows(rendered):
    result, dom, _, _, _ = rendered
    status = dom.by_id("table-status")
    assert status.attrs["data-matching"] == str(result.violations.height)
    assert status.attrs["data-shown"] == "500"
    assert len(list(dom.by_id("violations").iter("tr"))) == 1 + 500  # header + one page
    assert "hidden" not in dom.by_id("more").attrs


def test_sms_text_holding_a_script_tag_shows_as_text_and_never_runs(rendered):
    _, dom, _, _, _ = rendered
    body = dom.first("body")
    assert "data-pwned" not in body.attrs
    table = dom.by_id("violations")
    assert not list(table.iter("script")) and not list(table.iter("img"))
    cells = [td.text for td in table.iter("td")]
    assert any("逾期未还 <script>document.body" in c for c in cells), cells[:20]  # the evidence excerpt


def _cells(dom: Dom) -> tuple[list[str], list[list[str]]]:
    """(header texts, each row's cell texts) of the violations table as shown."""
    table = dom.by_id("violations")
    header = [th.attrs.get("data-col") for th in table.iter("th")]
    rows = [[td.text for td in r.iter("td")] for r in list(table.iter("tr"))[1:]]
    return header, rows


def test_table_filter_and_sort_from_the_address_fragment(rendered):
    result, _, _, url, work = rendered
    proc = run_chromium(work, url + "#rule=TP-DPD", "--dump-dom")
    header, rows = _cells(Dom(proc.stdout))
    expected = result.violations.filter(result.violations["rule_id"] == "TP-DPD").height
    assert expected and len(rows) == expected
    assert {r[header.index("rule_id")] for r in rows} == {"TP-DPD"}
    # Sorting is observed on many rows: HOURS holds LATE_CALLS of them, on different days.
    shown_times = {}
    for fragment in ("#rule=HOURS&sort=-local_time", "#rule=HOURS&sort=local_time"):
        header, rows = _cells(Dom(run_chromium(work, url + fragment, "--dump-dom").stdout))
        assert len(rows) == 500 and {r[header.index("rule_id")] for r in rows} == {"HOURS"}
        shown_times[fragment] = [r[header.index("local_time")] for r in rows]
    everything = sorted(result.violations.filter(result.violations["rule_id"] == "HOURS")["local_time"].to_list())
    assert shown_times["#rule=HOURS&sort=-local_time"] == everything[::-1][:500]
    assert shown_times["#rule=HOURS&sort=local_time"] == everything[:500]
    proc = run_chromium(work, url + "#q=" + "您的亲友", "--dump-dom")
    rows = list(Dom(proc.stdout).by_id("violations").iter("tr"))[1:]
    assert rows and all("XSS" in r.text for r in rows)


def test_a_screenshot_of_the_report_is_saved(rendered):
    _, _, _, url, work = rendered
    shot = work / "report.png"
    proc = run_chromium(work, url, f"--screenshot={shot}", "--window-size=1400,2600", "--hide-scrollbars")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    assert console_lines(proc.stderr) == []
