"""report.html: one self-contained page a compliance officer opens in a browser.

No network: CSS, JS and SVG charts are inline, and a Content-Security-Policy
forbids loading anything else. Everything taken from the data is escaped
(an SMS body is untrusted input); the table's rows travel as JSON in a
`<script type="application/json">` block and are put into the page with
`textContent`, never as HTML. Only the two inline scripts whose SHA-256 the
policy names may run, so even a markup slip could not execute injected code.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from .. import __version__, pii
from ..engine import AuditResult
from ..policy import SEVERITY_RANK
from .markup import esc, shown
from .methodology import describe_rules
from .agents import agents_section
from .record_html import record_section
from .tables import masked_rejected, masked_violations

MAX_TABLE_ROWS = 20_000   # rows embedded for the interactive table; violations.csv has all
MAX_REJECTED_ROWS = 1_000
TOP_AGENTS = 10
PAGE_ROWS = 500           # rows the table shows before "show more"
SEVERITIES = ("critical", "high", "medium", "low")
SEVERITY_COLOUR = {"critical": "#7f1d1d", "high": "#dc2626", "medium": "#d97706", "low": "#6b7280"}
TABLE_COLUMNS = [  # (column, heading) shown in the violations table
    ("local_time", "Local time"), ("rule_id", "Rule"), ("severity", "Severity"), ("event_id", "Event"),
    ("loan_id", "Loan"), ("borrower_id", "Borrower"), ("channel", "Channel"), ("recipient_type", "Recipient type"),
    ("recipient_id", "Recipient"), ("agent_id", "Agent"), ("detail", "Detail"), ("evidence", "Evidence"),
    ("status", "Status"),
]
EMBEDDED_COLUMNS = [c for c, _ in TABLE_COLUMNS] + ["ts"]

def json_for_script(data: object) -> str:
    """JSON that cannot end its <script> element or open a comment: <, > and & as \\u escapes."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e") \
        .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


# ------------------------------------------------------------------ methodology

# ------------------------------------------------------------------ charts (inline SVG)

def _svg_hbars(title: str, items: list[tuple[str, int, str]]) -> str:
    """Horizontal bars: (label, value, colour) per row."""
    if not items:
        return f'<figure class="chart"><figcaption>{esc(title)}</figcaption><p class="empty">No violations.</p></figure>'
    row_h, label_w, bar_w = 22, 170, 290
    top = max(v for _, v, _ in items) or 1
    height = row_h * len(items) + 4
    parts = [f'<svg viewBox="0 0 {label_w + bar_w + 70} {height}" role="img" aria-label="{esc(title)}" '
             f'xmlns="http://www.w3.org/2000/svg">']
    for i, (label, value, colour) in enumerate(items):
        y = i * row_h + 2
        w = max(1, round(bar_w * value / top)) if value else 0
        short = label if len(label) <= 24 else label[:23] + "…"
        parts.append(
            f'<g><title>{esc(label)}: {value}</title>'
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{esc(short)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{w}" height="{row_h - 6}" fill="{colour}"/>'
            f'<text x="{label_w + w + 5}" y="{y + 15}">{value:,}</text></g>')
    parts.append("</svg>")
    return f'<figure class="chart bars"><figcaption>{esc(title)}</figcaption>{"".join(parts)}</figure>'


def _day_buckets(days: dict[str, int]) -> tuple[str, list[tuple[str, int]]]:
    """(title, buckets): every day from the first to the last, zeros included; months when that is long."""
    if not days:
        return "Violations per local day", []
    first, last = date.fromisoformat(min(days)), date.fromisoformat(max(days))
    if (last - first).days <= 400:
        return "Violations per local day", [
            ((first + timedelta(n)).isoformat(), days.get((first + timedelta(n)).isoformat(), 0))
            for n in range((last - first).days + 1)]
    months: dict[str, int] = {}
    for d, n in days.items():
        months[d[:7]] = months.get(d[:7], 0) + n
    ordered = sorted(months)
    y, m = map(int, ordered[0].split("-"))
    out = []
    while f"{y:04d}-{m:02d}" <= ordered[-1]:
        key = f"{y:04d}-{m:02d}"
        out.append((key, months.get(key, 0)))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return "Violations per local month", out


def _svg_days(title: str, buckets: list[tuple[str, int]]) -> str:
    if not buckets:
        return f'<figure class="chart"><figcaption>{esc(title)}</figcaption><p class="empty">No violations.</p></figure>'
    width, height, left, bottom = 820, 200, 46, 34
    plot_w, plot_h = width - left - 10, height - bottom - 10
    top = max(n for _, n in buckets) or 1
    step = plot_w / len(buckets)
    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}" '
             f'xmlns="http://www.w3.org/2000/svg">',
             f'<line x1="{left}" y1="{10 + plot_h}" x2="{left + plot_w}" y2="{10 + plot_h}" stroke="#999"/>',
             f'<text x="{left - 6}" y="16" text-anchor="end">{top:,}</text>',
             f'<text x="{left - 6}" y="{10 + plot_h}" text-anchor="end">0</text>']
    every = max(1, len(buckets) // 8)
    for i, (label, n) in enumerate(buckets):
        h = plot_h * n / top
        x = left + i * step
        parts.append(f'<rect x="{x + step * 0.1:.2f}" y="{10 + plot_h - h:.2f}" width="{max(step * 0.8, 0.5):.2f}" '
                     f'height="{h:.2f}" fill="#2563eb"><title>{esc(label)}: {n:,}</title></rect>')
        last = i == len(buckets) - 1
        if last or (i % every == 0 and len(buckets) - 1 - i >= every * 0.75):  # labels never overlap
            parts.append(f'<text x="{x + step / 2:.2f}" y="{height - 12}" text-anchor="middle">{esc(label)}</text>')
    parts.append("</svg>")
    return f'<figure class="chart wide"><figcaption>{esc(title)}</figcaption>{"".join(parts)}</figure>'


# ------------------------------------------------------------------ page parts

def _counts(v: pl.DataFrame, column: str) -> list[tuple[str, int]]:
    if v.is_empty():
        return []
    g = v.group_by(pl.col(column).fill_null("(none)")).len().sort(["len", column], descending=[True, False])
    return [(str(k), int(n)) for k, n in g.iter_rows()]


def _run_section(result: AuditResult, total: int) -> str:
    p = result.policy
    fp = result.fingerprint or {}
    period = ("all stored contacts" if not (result.since or result.until) else
              f"{result.since.isoformat() if result.since else 'the first contact'} to "
              f"{result.until.isoformat() if result.until else 'the last contact'} (local dates, inclusive)")
    rows = [
        ("Policy", pii.mask_str(f"{p.policy_id} {p.version}")),
        ("Policy source", pii.mask_str(p.source)),
        ("Policy SHA-256", p.sha256),
        ("Period judged", period),
        ("Contacts judged", f"{result.contacts_judged:,}"),
        ("Violations", f"{total:,}"),
        ("Run (UTC)", f"{result.started_at.strftime('%Y-%m-%d %H:%M:%S')} – "
                      f"{result.finished_at.strftime('%H:%M:%S')}"),
        ("Tool", f"contact-audit {__version__}"),
        ("Dataset fingerprint", fp.get("sha256", "(not computed)")),
    ]
    body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(val)}</td></tr>" for k, val in rows)
    tables = fp.get("tables") or {}
    if tables:
        body += "<tr><th>Stored rows</th><td>" + ", ".join(
            f"{shown(name)} {t['rows']:,}" for name, t in tables.items()) + "</td></tr>"
    return f'<table class="kv" id="run">{body}</table>'


def _load_section(result: AuditResult) -> str:
    if result.load is None or not result.load.counts:
        return "<p>No load in this run (the store was audited as it was).</p>"
    head = "<tr><th>table</th><th>read</th><th>loaded</th><th>updated</th><th>duplicates</th><th>rejected</th></tr>"
    body = "".join(
        f'<tr><td>{shown(name)}</td>' + "".join(f'<td class="num">{getattr(c, k):,}</td>'
                                              for k in ("read", "loaded", "updated", "duplicates", "rejected"))
        + "</tr>" for name, c in result.load.counts.items())
    return f'<table class="grid" id="load-counts"><thead>{head}</thead><tbody>{body}</tbody></table>'


def _totals_section(result: AuditResult, v: pl.DataFrame) -> str:
    by_sev = dict(_counts(v, "severity"))
    cards = "".join(
        f'<div class="card sev-{s}"><span class="n" data-severity-count="{s}">{by_sev.get(s, 0):,}</span>'
        f'<span>{s}</span></div>' for s in SEVERITIES)
    by_rule = dict(_counts(v, "rule_id"))
    rows = "".join(
        f'<tr><td><a href="#rule-{shown(r["rule_id"])}">{shown(r["rule_id"])}</a></td>'
        f'<td><span class="sev sev-{esc(r["severity"])}">{esc(r["severity"])}</span></td>'
        f'<td class="num" data-rule-count="{shown(r["rule_id"])}">{by_rule.get(pii.mask_str(r["rule_id"]), 0):,}'
        '</td></tr>' for r in describe_rules(result.policy))
    return (f'<div class="cards"><div class="card total"><span class="n" id="total-violations">{v.height:,}</span>'
            f'<span>violations</span></div>{cards}</div>'
            f'<table class="grid" id="rule-totals"><thead><tr><th>rule</th><th>severity</th><th>violations</th>'
            f'</tr></thead><tbody>{rows}</tbody></table>')


def _charts_section(result: AuditResult, v: pl.DataFrame) -> str:
    days = dict(_counts(v.with_columns(pl.col("local_time").str.slice(0, 10).alias("day")), "day")) if v.height else {}
    rule_sev = {pii.mask_str(r): result.policy.severity_of(r) for r in result.policy.rule_ids()}
    per_rule = [(r, n, SEVERITY_COLOUR.get(rule_sev.get(r, "medium"), "#555")) for r, n in _counts(v, "rule_id")]
    per_channel = [(c, n, "#0f766e") for c, n in _counts(v, "channel")]
    agents = [(a, n, "#7c3aed") for a, n in _counts(v, "agent_id")[:TOP_AGENTS]]
    return ('<div class="charts">'
            + _svg_days(*_day_buckets(days))
            + _svg_hbars("Violations per rule", per_rule)
            + _svg_hbars("Violations per channel", per_channel)
            + _svg_hbars(f"Top {TOP_AGENTS} agents by violations", agents)
            + "</div>")


def _table_payload(v: pl.DataFrame) -> tuple[dict, str]:
    """The rows for the interactive table (capped), and the sentence saying what was left out."""
    note = ""
    if v.height > MAX_TABLE_ROWS:
        note = (f"The table holds {MAX_TABLE_ROWS:,} of the {v.height:,} violations: the most severe first, "
                "then the earliest. violations.csv holds them all.")
        rank = pl.col("severity").replace_strict(SEVERITY_RANK, return_dtype=pl.Int8)
        v = (v.with_row_index("_order").sort([rank, pl.col("_order")], descending=[True, False])
             .head(MAX_TABLE_ROWS).sort("_order"))
    if "status" not in v.columns:  # a result judged outside a run (the library's engine alone)
        v = v.with_columns(pl.lit("new").alias("status"))
    v = v.with_columns(pl.when(pl.col("waiver_id").is_not_null()).then(pl.lit("waived ") + pl.col("waiver_id"))
                       .otherwise(pl.col("status")).alias("status")) if "waiver_id" in v.columns else v
    rows = v.select(EMBEDDED_COLUMNS).rows()
    return {"columns": EMBEDDED_COLUMNS, "rows": rows}, note


def _parquet_link(result: AuditResult, shown_rows: int) -> str:
    """The Spark engine past --max-csv-rows read no report rows back: link the Parquet its executors wrote."""
    total = getattr(result, "violations_total", shown_rows)
    if total <= shown_rows:
        return ""
    return (f'<p class="note" id="violations-parquet">{total:,} violations are too many to list here: '
            '<a href="violations/">violations/</a> holds them all (Parquet, one directory per local month).</p>')


def _rejected_section(result: AuditResult) -> str:
    rej = masked_rejected(result)
    if rej.is_empty():
        return '<p id="rejected-none">No rows were rejected.</p>'
    shown = rej.head(MAX_REJECTED_ROWS)
    head = "".join(f"<th>{h}</th>" for h in ("table", "file", "row", "key", "reasons", "original values"))
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(val)}</td>" for val in row) + "</tr>"
        for row in shown.select("table", "source_file", "row", "key", "reasons", "values").iter_rows())
    more = (f'<p class="note">Showing the first {MAX_REJECTED_ROWS:,} of {rej.height:,} rejected rows; '
            "rejected.csv holds them all.</p>" if rej.height > MAX_REJECTED_ROWS else "")
    return (f'<p><span id="rejected-total">{rej.height:,}</span> input row(s) were rejected and not audited.</p>{more}'
            f'<div class="scroll"><table class="grid" id="rejected"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def _methodology_section(result: AuditResult) -> str:
    p = result.policy
    items = "".join(
        f'<div class="rule" id="rule-{shown(r["rule_id"])}"><h3>{shown(r["rule_id"])} '
        f'<span class="sev sev-{esc(r["severity"])}">{esc(r["severity"])}</span></h3>'
        f'<p>{shown(r["text"])}</p>'
        + (f'<p class="ref">Reference: {shown(r["reference"])}</p>' if r["reference"] else "")
        + "</div>" for r in describe_rules(p))
    notes = "".join(f"<li>{shown(n)}</li>" for n in result.notes)
    return (
        "<p>Each contact is judged in its borrower's time zone (else the policy's default, "
        f"{shown(p.default_timezone)}). A loan's <em>days past due</em> (DPD) at a contact is the age in days of its "
        "oldest instalment due before the contact's local date and not paid by the contact's moment; the current "
        "<em>overdue episode</em> starts on that instalment's due date. A third-party contact is one with an "
        "emergency contact or anyone else than the borrower. Every rule sees the full stored history, also when "
        "the judged period is limited. A contact breaks each rule at most once. Identifiers in this report are "
        "masked.</p>"
        + (f'<ul class="notes">{notes}</ul>' if notes else "") + items)


CSS = """
:root{--fg:#1f2937;--muted:#6b7280;--line:#e5e7eb}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1280px;padding:24px;color:var(--fg);line-height:1.45;
font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","PingFang SC","Hiragino Sans GB",
"Microsoft YaHei","Noto Sans CJK SC","Source Han Sans SC","WenQuanYi Micro Hei",sans-serif}
h1{font-size:1.6em;margin:0 0 4px}h2{margin-top:32px;border-bottom:2px solid var(--line);padding-bottom:4px}
h3{margin:16px 0 4px;font-size:1.05em}
table{border-collapse:collapse}
.kv th{text-align:left;padding:2px 16px 2px 0;color:var(--muted);font-weight:normal;vertical-align:top}
.kv td{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em;word-break:break-all}
.grid{width:100%;font-size:.88em}.grid th,.grid td{border:1px solid var(--line);padding:4px 6px;text-align:left;
vertical-align:top}.grid thead th{background:#f3f4f6;position:sticky;top:0}
.num{text-align:right!important;font-variant-numeric:tabular-nums}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0}.card{border:1px solid var(--line);border-radius:8px;
padding:10px 16px;min-width:120px}.card .n{display:block;font-size:1.8em;font-weight:600}
.card.total{background:#eff6ff}
.sev{display:inline-block;padding:0 6px;border-radius:4px;color:#fff;font-size:.85em}
.sev-critical{background:#7f1d1d}.sev-high{background:#dc2626}.sev-medium{background:#d97706}.sev-low{background:#6b7280}
.card.sev-critical,.card.sev-high,.card.sev-medium,.card.sev-low{color:#fff}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:16px}
.chart{margin:0;border:1px solid var(--line);border-radius:8px;padding:8px}.chart.wide{grid-column:1/-1}
.chart figcaption{font-weight:600;margin-bottom:4px}.chart svg{width:100%;height:auto;font-size:12px}
.chart.bars svg{max-width:640px}.c-local_time,.c-rule_id,.c-event_id,.c-loan_id{white-space:nowrap}
.chart text{fill:var(--fg)}
.filters{display:flex;gap:8px;flex-wrap:wrap;margin:8px 0}.filters input{min-width:260px}
.filters input,.filters select,button{font:inherit;padding:3px 6px}
#violations th{cursor:pointer;user-select:none}#violations th[aria-sort=ascending]::after{content:" ▲"}
#violations th[aria-sort=descending]::after{content:" ▼"}
#violations td{max-width:360px;overflow-wrap:anywhere}#rejected td{max-width:520px;overflow-wrap:anywhere}
.scroll{max-height:520px;overflow:auto}.note,.empty{color:var(--muted)}
#js-errors{color:#b91c1c}
.rule{border-left:4px solid var(--line);padding-left:12px}.ref{color:var(--muted);font-size:.9em}
@media print{.filters,#more{display:none}.scroll{max-height:none}}
"""

# Runs first: any later script error lands in the page (and in a test's DOM dump).
ERROR_JS = """window.addEventListener("error",function(e){var l=document.getElementById("js-errors");
if(!l){return;}var i=document.createElement("li");i.textContent=String(e.message||e);l.appendChild(i);l.hidden=false;});"""

APP_JS = """(function(){"use strict";
var payload=JSON.parse(document.getElementById("violations-data").textContent);
var cfg=JSON.parse(document.getElementById("table-config").textContent);
var cols=payload.columns,rows=payload.rows,idx={};
cols.forEach(function(c,i){idx[c]=i;});
var rank={low:1,medium:2,high:3,critical:4};
var hay=rows.map(function(r){return r.map(function(v){return v==null?"":String(v);}).join("\\u0001").toLowerCase();});
var state={key:"local_time",dir:1,limit:cfg.page,q:"",rule:"",severity:"",channel:""};
var table=document.getElementById("violations"),tbody=table.tBodies[0];
var status=document.getElementById("table-status"),more=document.getElementById("more");
function sortValue(r,key){if(key==="local_time"){return r[idx.ts];}if(key==="severity"){return rank[r[idx.severity]]||0;}
var v=r[idx[key]];return v==null?"":v;}
function cmp(a,b){var x=sortValue(rows[a],state.key),y=sortValue(rows[b],state.key);
if(x<y){return -state.dir;}if(x>y){return state.dir;}return a-b;}
function render(){var q=state.q.toLowerCase(),keep=[];
for(var i=0;i<rows.length;i++){var r=rows[i];
if(state.rule&&r[idx.rule_id]!==state.rule){continue;}
if(state.severity&&r[idx.severity]!==state.severity){continue;}
if(state.channel&&r[idx.channel]!==state.channel){continue;}
if(q&&hay[i].indexOf(q)<0){continue;}keep.push(i);}
keep.sort(cmp);
var frag=document.createDocumentFragment(),n=Math.min(keep.length,state.limit);
for(var k=0;k<n;k++){var row=rows[keep[k]],tr=document.createElement("tr");
cfg.shown.forEach(function(c){var td=document.createElement("td"),v=row[idx[c]];td.className="c-"+c;
if(c==="severity"){var s=document.createElement("span");s.className="sev sev-"+String(v).replace(/[^a-z]/g,"");
s.textContent=v;td.appendChild(s);}else{td.textContent=v==null?"":String(v);}tr.appendChild(td);});
frag.appendChild(tr);}
tbody.textContent="";tbody.appendChild(frag);
status.textContent="Showing "+n.toLocaleString("en")+" of "+keep.length.toLocaleString("en")+
" matching violation(s) ("+rows.length.toLocaleString("en")+" in this table).";
status.setAttribute("data-shown",String(n));status.setAttribute("data-matching",String(keep.length));
more.hidden=keep.length<=state.limit;
Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th){var c=th.getAttribute("data-col");
th.setAttribute("aria-sort",c===state.key?(state.dir>0?"ascending":"descending"):"none");});}
Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th){th.addEventListener("click",function(){
var c=th.getAttribute("data-col");if(state.key===c){state.dir=-state.dir;}else{state.key=c;state.dir=1;}render();});});
function bind(id,field){var el=document.getElementById(id);el.addEventListener("input",function(){
state[field]=el.value;state.limit=cfg.page;render();});}
bind("f-text","q");bind("f-rule","rule");bind("f-severity","severity");bind("f-channel","channel");
more.addEventListener("click",function(){state.limit+=cfg.page;render();});
function fromHash(){var h=location.hash.replace(/^#/,"");if(!h){return;}
h.split("&").forEach(function(kv){var p=kv.split("="),k,v;
try{k=decodeURIComponent(p[0]);v=decodeURIComponent((p[1]||"").replace(/\\+/g," "));}catch(e){return;}
if(k==="q"){state.q=v;document.getElementById("f-text").value=v;}
else if(k==="rule"||k==="severity"||k==="channel"){state[k]=v;document.getElementById("f-"+k).value=v;}
else if(k==="sort"&&cfg.shown.indexOf(v.replace(/^-/,""))>=0){state.key=v.replace(/^-/,"");state.dir=v.charAt(0)==="-"?-1:1;}});}
fromHash();render();document.body.setAttribute("data-ready","1");})();"""


# Sorting for the small server-rendered tables (class "sortable"): each cell's data-v, numbers as numbers.
SORT_JS = """(function(){"use strict";
Array.prototype.forEach.call(document.querySelectorAll("table.sortable"),function(t){
var heads=t.tHead.rows[0].cells,body=t.tBodies[0];
Array.prototype.forEach.call(heads,function(th,i){th.addEventListener("click",function(){
var dir=th.getAttribute("aria-sort")==="descending"?1:-1;
Array.prototype.forEach.call(heads,function(h){h.setAttribute("aria-sort","none");});
th.setAttribute("aria-sort",dir>0?"ascending":"descending");
var rows=Array.prototype.slice.call(body.rows);
rows.sort(function(a,b){var x=a.cells[i].getAttribute("data-v"),y=b.cells[i].getAttribute("data-v");
var nx=parseFloat(x),ny=parseFloat(y);if(!isNaN(nx)&&!isNaN(ny)){return (nx-ny)*dir;}
return x<y?-dir:x>y?dir:0;});rows.forEach(function(r){body.appendChild(r);});});});});})();"""


def _csp_hash(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode() + "'"


def _options(label: str, values: list[str]) -> str:
    return f'<option value="">{esc(label)}</option>' + "".join(
        f'<option value="{esc(x)}">{esc(x)}</option>' for x in values)


def render(result: AuditResult) -> str:
    """The page as text (the violations are masked here, as in every other report)."""
    v = masked_violations(result.violations)
    p = result.policy
    payload, note = _table_payload(v)
    config = {"page": PAGE_ROWS, "shown": [c for c, _ in TABLE_COLUMNS]}
    heads = "".join(f'<th data-col="{c}" scope="col">{esc(h)}</th>' for c, h in TABLE_COLUMNS)
    channels = sorted(set(v["channel"].to_list())) if v.height else []
    csp = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
           f"script-src {_csp_hash(ERROR_JS)} {_csp_hash(APP_JS)} {_csp_hash(SORT_JS)}; base-uri 'none'; "
           "form-action 'none'")
    title = pii.mask_str(f"Contact audit: {p.policy_id} {p.version}")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="contact-audit {esc(__version__)}">
<title>{esc(title)}</title>
<style>{CSS}</style>
<script>{ERROR_JS}</script>
</head>
<body>
<ul id="js-errors" hidden></ul>
<header><h1>{esc(title)}</h1>
<p class="note">Collection contact audit report. Identifiers are masked; the files beside this page
(violations.csv, rejected.csv, summary.json) hold the same results, and manifest.json their SHA-256.</p></header>
<section id="run-section"><h2>The run</h2>{_run_section(result, v.height)}</section>
<section id="totals"><h2>Totals</h2>{_totals_section(result, v)}</section>
<section id="charts-section"><h2>Charts</h2>{_charts_section(result, v)}</section>
{record_section(result)}
{agents_section(result)}
<section id="violations-section"><h2>Violations</h2>
{f'<p class="note" id="table-cap">{esc(note)}</p>' if note else ''}{_parquet_link(result, v.height)}
<noscript><p>The interactive table needs JavaScript; violations.csv holds every violation.</p></noscript>
<div class="filters">
<input id="f-text" type="search" placeholder="Filter: any text (event, loan, agent, detail…)" aria-label="Filter">
<select id="f-rule" aria-label="Rule">{_options("All rules", [pii.mask_str(r) for r in p.rule_ids()])}</select>
<select id="f-severity" aria-label="Severity">{_options("All severities", list(SEVERITIES))}</select>
<select id="f-channel" aria-label="Channel">{_options("All channels", channels)}</select>
</div>
<p id="table-status" class="note"></p>
<div class="scroll"><table class="grid" id="violations"><thead><tr>{heads}</tr></thead><tbody></tbody></table></div>
<button id="more" type="button" hidden>Show {PAGE_ROWS} more</button>
</section>
<section id="rejected-section"><h2>Rejected input rows</h2>{_load_section(result)}{_rejected_section(result)}</section>
<section id="methodology"><h2>Methodology</h2>{_methodology_section(result)}</section>
<script type="application/json" id="violations-data">{json_for_script(payload)}</script>
<script type="application/json" id="table-config">{json_for_script(config)}</script>
<script>{APP_JS}</script>
<script>{SORT_JS}</script>
</body>
</html>
"""


def write_html(result: AuditResult, out: Path) -> None:
    (out / "report.html").write_text(render(result), encoding="utf-8")
