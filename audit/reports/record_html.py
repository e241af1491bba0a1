"""The record in report.html (SPEC §7): new / seen / waived / gone per rule, the trend per local day
and rule, and the waivers with their reason, approver and expiry.

This module gathers the figures; templates/_record.html.j2 shows them, every
value from the data, the policy or the waivers file through the `shown`
(masking) filter.
"""

from __future__ import annotations

import polars as pl

from ..engine import AuditResult

STATUSES = ("new", "seen", "waived", "gone")
MAX_TREND_DAYS = 62  # columns of the per-day table; the chart above it covers the whole window
PRINT_TREND_DAYS = 20  # more day columns than fit on paper: the printout leaves the table out and says so


def record_context(result: AuditResult) -> dict | None:
    """None for a run that keeps no record and applies no waiver."""
    s = result.statuses
    if not s or (result.run_id is None and not result.runs and not result.waivers):
        return None
    where = (f"run {result.run_id} in the store's ledger" if result.run_id is not None else
             f"the ledger's runs {', '.join(map(str, result.runs))}" if result.runs else "this run")
    return {
        "where": where,
        "rows": [(rule, [c.get(k, 0) for k in STATUSES]) for rule, c in s.items()],
        "totals": [sum(c.get(k, 0) for c in s.values()) for k in STATUSES],
        "trend": _trend(result.trend),
        "waivers": _waivers(result),
    }


def _trend(trend: pl.DataFrame | None) -> dict | None:
    if trend is None or trend.is_empty():
        return None
    days = sorted(set(trend["local_date"].to_list()))
    shown_days = days[-MAX_TREND_DAYS:]
    counts = {(d, r): n for d, r, n in trend.iter_rows()}  # one entry per (day, rule): a small table
    rules = sorted(set(trend["rule_id"].to_list()))
    top = max(counts.values()) or 1

    def cell(d, r) -> tuple:
        n = counts.get((d, r), 0)
        return d, n, (0 if not n else 0.15 + 0.85 * n / top)
    return {"days": shown_days, "all_days": len(days), "cut": len(days) > MAX_TREND_DAYS,
            "wide": len(shown_days) > PRINT_TREND_DAYS,
            "rows": [(r, [cell(d, r) for d in shown_days]) for r in rules]}


def _waivers(result: AuditResult) -> dict | None:
    w = result.waivers
    if not w:
        return None
    details = w.get("details", {})
    applied = [{"id": i, "rule": d["rule"], "n": w["applied"].get(i, 0), "reason": d["reason"],
                "approved_by": d["approved_by"], "expires": d["expires"]}
               for i, d in details.items() if w["applied"].get(i)]
    return {"source": w["source"], "sha256": w["sha256"], "as_of": w["as_of"], "applied": applied,
            "expired": w["expired"], "unused": w["unused"]}
