"""report.html in a real browser (headless Chromium): it runs without errors, shows the right totals,
shows hostile SMS text as text, stays readable at 1400 px, 800 px and on paper, and copies the explain command.

The layout tests drive Chromium over the DevTools protocol through a pipe (no extra package): they set
the viewport width and the print media, measure rendered boxes and save screenshots in the test's
temporary directory. Without Chromium the tests skip locally but fail when CI is set: in CI the
browser must be there.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

import audit
from audit.reports import html as html_report
from helpers import contact, write_dataset

# Measured: about 5 s for the first test (the audit and one Chromium run), 2-3 s for the others (one or
# two Chromium runs). 60 s per test and 25 s per Chromium run leave room for a cold start under load; a
# hung browser fails its test instead of stalling the run.
pytestmark = pytest.mark.timeout(60)
CHROMIUM_TIMEOUT_S = 25

XSS = ("<script>document.body.setAttribute('data-pwned','1')</script>"
       "<img src=x onerror=\"document.body.setAttribute('data-pwned','2')\">")
LATE_CALLS = 520  # more than one page of the table (500 rows)
HOURS_REFERENCE = ("Internet lending collection guideline, art. 12(3): collection contacts only from 08:00 to 22:00 "
                   "in the borrower's local time, every channel, including automated calls and messages")
PRINT_WIDTH = 720  # CSS px of an A4 page's printable width at the default margins


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
    pol = audit.load_policy()
    pol = pol.model_copy(update={"references": {**pol.references, "HOURS": HOURS_REFERENCE}})
    result = audit.audit(data=data, out=out, policy=pol)
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


# ------------------------------------------------------------------ layout, print and copy (DevTools protocol)

class Browser:
    """Headless Chromium driven over the DevTools protocol through --remote-debugging-pipe (fd 3 in, 4 out)."""

    def __init__(self, work: Path):
        to_browser, self._out = os.pipe()
        self._in, from_browser = os.pipe()

        def child() -> None:  # the pipe ends as fds 3 and 4, inheritable (os.pipe's are close-on-exec)
            a, b = os.dup(to_browser), os.dup(from_browser)
            os.dup2(a, 3)
            os.dup2(b, 4)
        profile = tempfile.mkdtemp(prefix="profile-", dir=work)
        self.proc = subprocess.Popen(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--remote-debugging-pipe", f"--user-data-dir={profile}", "about:blank"],
            preexec_fn=child, close_fds=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser)
        os.close(from_browser)
        self._buf, self._id, self.session, self.events = b"", 0, None, []

    def call(self, method: str, params: dict | None = None, *, session: bool = True) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self._out, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + CHROMIUM_TIMEOUT_S
        while True:
            while b"\0" in self._buf:
                raw, self._buf = self._buf.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self._id:
                    assert "error" not in reply, f"{method}: {reply['error']}"
                    return reply["result"]
                if "method" in reply:
                    self.events.append(reply)
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._in], [], [], max(left, 0))
            assert ready, f"Chromium did not answer {method} in {CHROMIUM_TIMEOUT_S} s"
            chunk = os.read(self._in, 1 << 20)
            assert chunk, "Chromium closed the DevTools pipe"
            self._buf += chunk

    def open(self, url: str, width: int, height: int = 900) -> None:
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]
        self.call("Runtime.enable")
        self.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                                                         "deviceScaleFactor": 1, "mobile": False})
        self.call("Page.navigate", {"url": url})
        deadline = time.monotonic() + CHROMIUM_TIMEOUT_S
        while not self.eval("document.readyState === 'complete' && !!document.body && "
                            "document.body.getAttribute('data-ready') === '1'"):
            assert time.monotonic() < deadline, "the page's script did not finish"
            time.sleep(0.05)

    def eval(self, expression: str, **extra):
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, **extra})
        assert "exceptionDetails" not in r, r["exceptionDetails"]
        return r["result"].get("value")

    def media(self, media: str) -> None:
        """Emulate `media`; the page's media listeners run in the next rendering steps, so wait two frames."""
        self.call("Emulation.setEmulatedMedia", {"media": media})
        self.eval("new Promise(function(done){requestAnimationFrame(function(){requestAnimationFrame(done);});})",
                  awaitPromise=True)

    def screenshot(self, path: Path) -> Path:
        """The whole page (not only the viewport), for a person to look at."""
        width, height = self.eval("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
        data = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": {
            "x": 0, "y": 0, "width": width, "height": min(height, 12_000), "scale": 1}})["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def errors(self) -> list:
        return [e for e in self.events if e["method"] == "Runtime.exceptionThrown" or (
            e["method"] == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert"))]

    def close(self) -> None:
        try:
            self.call("Browser.close", session=False)
            self.proc.wait(10)
        except (AssertionError, OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        finally:
            os.close(self._out)
            os.close(self._in)


@pytest.fixture
def browser(rendered):
    b = Browser(rendered[4])
    try:
        yield b
    finally:
        b.close()


# What the layout tests measure, in the page: widths of the violations table's columns (the widest cell
# of the first 100 rows: a card hides an empty reference), the document's width, every table cell or
# heading whose text is wider than its box (an ellipsised id is not: its box hides the rest on purpose
# and its title holds the whole value), and the violation rows displayed.
MEASURE = """(function(){
var W=document.documentElement.clientWidth,cols={};
Array.prototype.slice.call(document.querySelectorAll("#violations tbody tr"),0,100).forEach(function(row){
Array.prototype.forEach.call(row.cells,function(td){var c=td.className.split(" ")[0].slice(2);
cols[c]=Math.max(cols[c]||0,Math.round(td.getBoundingClientRect().width));});});
var over=[];document.querySelectorAll("td,th,h1,h2,h3,p,figcaption").forEach(function(e){
if(e.offsetParent===null){return;}
if(e.scrollWidth>e.clientWidth+1){over.push(e.tagName+"."+e.className+": "+e.textContent.slice(0,60));}});
var outside=[];document.querySelectorAll("body *").forEach(function(e){var r=e.getBoundingClientRect();
if(r.width&&r.right>W+1&&!e.closest(".xscroll,.scroll")){outside.push(e.tagName+"#"+e.id+"."+e.className);}});
var shown=Array.prototype.filter.call(document.querySelectorAll("#violations tbody tr"),function(tr){
return tr.offsetParent!==null&&tr.getBoundingClientRect().height>0;}).length;
var box=document.querySelector(".vbox");
return {viewport:W,document:document.documentElement.scrollWidth,cols:cols,overflowing:over.slice(0,10),
outside:outside.slice(0,10),rows_shown:shown,clipped:box.scrollHeight>box.clientHeight+1,
embedded:JSON.parse(document.getElementById("violations-data").textContent).rows.length};})()"""


def _layout(browser: Browser, url: str, width: int, shot: Path, media: str = "screen") -> dict:
    browser.open(url, width)
    if media != "screen":
        browser.media(media)
    m = browser.eval(MEASURE)
    browser.screenshot(shot)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert browser.errors() == [] and browser.eval("document.getElementById('js-errors').textContent") == ""
    return m


def test_at_1400_px_detail_and_reference_get_the_width_and_no_text_overflows(rendered, browser):
    _, _, _, url, work = rendered
    m = _layout(browser, url, 1400, work / "report-1400.png")
    assert m["document"] <= m["viewport"], m["outside"]
    assert m["cols"]["detail"] >= 240 and m["cols"]["reference"] >= 160, m["cols"]
    assert all(m["cols"][c] >= 60 for c in ("local_time", "rule_id", "event_id", "loan_id", "agent_id")), m["cols"]
    assert m["cols"]["detail"] > max(m["cols"][c] for c in ("local_time", "rule_id", "event_id", "loan_id"))
    assert m["overflowing"] == [] and m["outside"] == []
    # the citation is in the table, beside the why
    cell = browser.eval("(function(){var r=Array.prototype.find.call(document.querySelectorAll('#violations tbody tr'),"
                        "function(tr){return tr.querySelector('.c-rule_id').textContent==='HOURS';});"
                        "return r.querySelector('.c-reference').textContent;})()")
    assert cell == HOURS_REFERENCE
    # the day chart: the last x label ends inside the chart, and more than two y ticks carry a label
    chart = browser.eval("""(function(){var svg=document.querySelector('#day-chart svg').getBoundingClientRect(),
    xs=document.querySelectorAll('#day-chart .x-label'),last=xs[xs.length-1].getBoundingClientRect(),
    first=xs[0].getBoundingClientRect();return {svg_left:svg.left,svg_right:svg.right,first:first.left,
    last:last.right,ticks:Array.prototype.map.call(document.querySelectorAll('#day-chart .y-tick'),
    function(t){return t.textContent;})};})()""")
    assert chart["svg_left"] <= chart["first"] and chart["last"] <= chart["svg_right"], chart
    assert len(chart["ticks"]) >= 3 and chart["ticks"][0] == "0", chart


def test_at_800_px_each_violation_is_readable_without_page_overflow(rendered, browser):
    _, _, _, url, work = rendered
    m = _layout(browser, url, 800, work / "report-800.png")
    assert m["document"] <= m["viewport"], m["outside"]
    assert m["cols"]["detail"] >= 400 and m["cols"]["reference"] >= 400, m["cols"]  # full-width lines of a card
    assert m["overflowing"] == [] and m["outside"] == []
    assert m["rows_shown"] == 500  # one page on screen


def test_in_print_media_every_embedded_row_is_displayed_and_fits_the_page(rendered, browser):
    result, _, _, url, work = rendered
    m = _layout(browser, url, PRINT_WIDTH, work / "report-print.png", media="print")
    assert m["embedded"] == result.violations.height > html_report.PAGE_ROWS
    assert m["rows_shown"] == m["embedded"] and not m["clipped"]
    assert m["document"] <= m["viewport"] and m["overflowing"] == [] and m["outside"] == [], m
    assert m["cols"]["detail"] >= 400, m["cols"]
    note = browser.eval("document.getElementById('print-note').textContent")
    assert note == f"Printed: all {result.violations.height:,} violation(s) in this report."
    hidden = browser.eval("[getComputedStyle(document.querySelector('.filters')).display,"
                          "getComputedStyle(document.getElementById('more')).display]")
    assert hidden == ["none", "none"]


def test_the_print_dialog_gets_every_row_and_the_screen_gets_its_page_back(rendered, browser):
    result, _, _, url, _ = rendered
    browser.open(url, 1400)
    rows = "document.querySelectorAll('#violations tbody tr').length"
    assert browser.eval(rows) == html_report.PAGE_ROWS
    assert browser.eval(f"window.dispatchEvent(new Event('beforeprint')); {rows}") == result.violations.height
    assert browser.eval(f"window.dispatchEvent(new Event('afterprint')); {rows}") == html_report.PAGE_ROWS


def test_a_capped_report_says_on_screen_and_on_paper_how_many_rows_it_left_out(rendered, browser, monkeypatch):
    result, _, _, _, work = rendered
    monkeypatch.setattr(html_report, "MAX_TABLE_ROWS", 100)
    page = work / "capped" / "report.html"
    page.parent.mkdir(mode=0o700)
    page.write_text(html_report.render(result), encoding="utf-8")
    left = result.violations.height - 100
    for media in ("screen", "print"):
        m = _layout(browser, page.as_uri(), PRINT_WIDTH, work / f"capped-{media}.png", media=media)
        assert m["embedded"] == 100 and m["rows_shown"] == 100
        cap = browser.eval("(function(){var e=document.getElementById('table-cap');"
                           "return [e.textContent,e.offsetParent!==null];})()")
        assert cap[1], f"the cap note is hidden in {media}"
        assert f"holds 100 of the {result.violations.height:,} violations ({left:,} left out)" in cap[0]
        assert "violations.csv and violations.parquet" in cap[0]


def test_copy_puts_the_rows_audit_explain_command_on_the_clipboard(rendered, browser):
    _, _, _, url, _ = rendered
    browser.open(url, 1400)
    browser.call("Browser.grantPermissions", {"permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
                 session=False)
    row = browser.eval("(function(){var tr=document.querySelector('#violations tbody tr');"
                       "return [tr.querySelector('.c-event_id').textContent, tr.querySelector('.cmd').textContent];})()")
    event_id, command = row
    assert command == f"audit explain {event_id} --db STORE.duckdb --policy builtin:default"  # no store: a placeholder
    browser.eval("document.querySelector('#violations .copy').click()", userGesture=True)
    deadline = time.monotonic() + 5
    while browser.eval("document.querySelector('#violations .copy').textContent") == "Copy":
        assert time.monotonic() < deadline, "the button never answered"
        time.sleep(0.05)
    assert browser.eval("document.querySelector('#violations .copy').textContent") == "Copied"
    assert browser.eval("navigator.clipboard.readText()", awaitPromise=True, userGesture=True) == command
