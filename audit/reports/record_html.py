"""The record in report.html (SPEC §7): new / seen / waived / gone per rule, the trend per local day
and rule, and the waivers with their reason, approver and expiry.

Every value from the data, the policy or the waivers file is masked and
escaped (`shown`); only what the tool writes itself (counts, dates) is
merely escaped.
"""

from __future__ import annotations

import polars as pl

from ..engine import AuditResult
from .markup import esc, shown

STATUSES = ("new", "seen", "waived", "gone")
MAX_TREND_DAYS = 62  # columns of the per-day table; the chart above it covers the whole window


def record_section(result: AuditResult) -> str:
    """Empty for a run that keeps no record and applies no waiver."""
    s = result.statuses
    if not s or (result.run_id is None and not result.runs and not result.waivers):
        return ""
    where = (f"run {result.run_id} in the store's ledger" if result.run_id is not None else
             f"the ledger's runs {', '.join(map(str, result.runs))}" if result.runs else "this run")
    rows = "".join(
        f'<tr><td>{shown(rule)}</td>' + "".join(f'<td class="num">{c.get(k, 0):,}</td>' for k in STATUSES) + "</tr>"
        for rule, c in s.items())
    total = "".join(f'<td class="num"><b>{sum(c.get(k, 0) for c in s.values()):,}</b></td>' for k in STATUSES)
    table = (f'<table class="grid" id="status-table"><thead><tr><th scope="col">Rule</th><th scope="col">New</th>'
             f'<th scope="col">Seen before</th><th scope="col">Waived</th><th scope="col">Gone</th></tr></thead>'
             f'<tbody>{rows}<tr><td><b>All rules</b></td>{total}</tr></tbody></table>')
    explain = ("<p class=\"note\">From " + esc(where) + ". <b>New</b>: no earlier run reported it; <b>seen</b>: an "
               "earlier run did; <b>waived</b>: a waiver signed it off (it does not fail <code>--fail-on</code>); "
               "<b>gone</b>: an earlier run reported it for a contact judged again here, and this run no longer "
               "does (a policy change, a corrected instalment).</p>")
    return (f'<section id="record-section"><h2>The record</h2>{explain}{table}'
            f'{_trend(result.trend)}{_waivers(result)}</section>')


def _trend(trend: pl.DataFrame | None) -> str:
    if trend is None or trend.is_empty():
        return ""
    days = sorted(set(trend["local_date"].to_list()))
    shown_days = days[-MAX_TREND_DAYS:]
    cut = (f'<p class="note">The last {MAX_TREND_DAYS} of {len(days)} days; violations.csv has every row.</p>'
           if len(days) > MAX_TREND_DAYS else "")
    counts = {(d, r): n for d, r, n in trend.iter_rows()}
    rules = sorted(set(trend["rule_id"].to_list()))
    top = max(counts.values()) or 1
    head = "".join(f'<th scope="col" title="{esc(d)}">{esc(d.strftime("%m-%d"))}</th>' for d in shown_days)

    def cell(d, r) -> str:
        n = counts.get((d, r), 0)
        shade = 0 if not n else 0.15 + 0.85 * n / top
        return (f'<td class="num" style="background:rgba(37,99,235,{shade:.2f})" title="{esc(d)} {shown(r)}: {n:,}">'
                f'{n or ""}</td>')
    body = "".join(f'<tr><th scope="row">{shown(r)}</th>{"".join(cell(d, r) for d in shown_days)}</tr>'
                   for r in rules)
    return (f'<h3>Trend: violations per local day and rule</h3>{cut}<div class="scroll">'
            f'<table class="grid" id="trend-table"><thead><tr><th scope="col">Rule</th>{head}</tr></thead>'
            f'<tbody>{body}</tbody></table></div>')


def _waivers(result: AuditResult) -> str:
    w = result.waivers
    if not w:
        return ""
    details = w.get("details", {})
    applied = "".join(
        f'<tr><td>{shown(i)}</td><td>{shown(d["rule"])}</td><td class="num">{w["applied"].get(i, 0):,}</td>'
        f'<td>{shown(d["reason"])}</td><td>{shown(d["approved_by"])}</td><td>{esc(d["expires"])}</td></tr>'
        for i, d in details.items() if w["applied"].get(i))
    expired = ", ".join(f'{shown(e["id"])} (expired {esc(e["expires"])})' for e in w["expired"]) or "none"
    unused = ", ".join(shown(i) for i in w["unused"]) or "none"
    return (f'<h3 id="waived">Waived violations</h3><p class="note">Waivers file {shown(w["source"])} '
            f'(SHA-256 {esc(w["sha256"][:16])}…), judged on {esc(w["as_of"])}.</p>'
            + (f'<table class="grid" id="waivers-table"><thead><tr><th scope="col">Waiver</th><th scope="col">Rule</th>'
               f'<th scope="col">Violations</th><th scope="col">Reason</th><th scope="col">Approved by</th>'
               f'<th scope="col">Expires</th></tr></thead><tbody>{applied}</tbody></table>'
               if applied else '<p>No violation was waived.</p>')
            + f'<p>Expired waivers: {expired}.</p><p>Waivers that matched nothing: {unused}.</p>')
