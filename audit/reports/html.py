"""report.html: one self-contained page a compliance officer opens in a browser, or prints.

No network: CSS, JS and SVG charts are inline, and a Content-Security-Policy
forbids loading anything else. The page is rendered from Jinja2 templates
(templates/, autoescaping on); this module gathers what they show. The
violations table's rows travel as JSON in a `<script type="application/json">`
block and are put into the page with `textContent`, never as HTML. Only the
inline scripts whose SHA-256 the policy names may run, hashed from the very
text the page holds, so even a markup slip could not execute injected code.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import replace
from pathlib import Path

import polars as pl

from .. import __version__, pii
from ..digest import Digest
from ..engine import AuditResult
from ..policy import SEVERITY_RANK
from .agents import agents_context
from .charts import bar_chart, day_buckets, day_chart
from .markup import asset, csp_hash, environment, json_for_script
from .methodology import describe_rules
from .record_html import record_context
from .tables import masked_rejected, masked_violations

__all__ = ["render", "write_html", "describe_rules", "MAX_TABLE_ROWS", "MAX_REJECTED_ROWS"]

MAX_TABLE_ROWS = 20_000   # rows embedded for the interactive table; violations.csv has all
MAX_REJECTED_ROWS = 1_000
TOP_AGENTS = 10
PAGE_ROWS = 500           # rows the table shows on screen before "show more"; printing shows all
SEVERITIES = ("critical", "high", "medium", "low")
SEVERITY_COLOUR = {"critical": "#7f1d1d", "high": "#dc2626", "medium": "#d97706", "low": "#6b7280"}
TABLE_COLUMNS = [  # (column, heading): each cell may show more fields (see templates/app.js)
    ("local_time", "Local time"), ("rule_id", "Rule"), ("severity", "Severity"), ("event_id", "Event"),
    ("loan_id", "Loan · borrower"), ("channel", "Channel · recipient"), ("agent_id", "Agent"),
    ("detail", "Detail (why), evidence, explain"), ("reference", "Reference"), ("status", "Status"),
]
EMBEDDED_COLUMNS = ["local_time", "rule_id", "severity", "event_id", "loan_id", "borrower_id", "channel",
                    "recipient_type", "recipient_id", "agent_id", "detail", "reference", "evidence", "status", "ts",
                    "event_masked"]
STORE_PLACEHOLDER = "STORE.duckdb"
SCRIPT_HASHES = "script-hashes-of-the-rendered-page"  # replaced once the page is rendered


def _counts(d: Digest, column: str, frame: str = "by_rule") -> list[tuple[str, int]]:
    """(key, count), most first, from the masked digest (keys masked alike are one key)."""
    if not d.total:
        return []
    g = d.counts(column, frame).group_by(pl.col(column).fill_null("(none)")).agg(pl.col("n").sum()) \
        .sort(["n", column], descending=[True, False])
    return [(str(k), int(n)) for k, n in g.iter_rows() if n]


def _table_payload(v: pl.DataFrame, total: int) -> tuple[dict, str, int]:
    """The rows for the interactive table (capped), the sentence saying what was left out, and how many.

    `v` holds every violation, or (an engine that kept them elsewhere) the rows the table shows."""
    note, left = "", 0
    if total > MAX_TABLE_ROWS:
        left = total - MAX_TABLE_ROWS
        note = (f"This page holds {MAX_TABLE_ROWS:,} of the {total:,} violations ({left:,} left out): the most "
                "severe first, then the earliest. violations.csv and violations.parquet beside this page hold "
                "them all.")
    if v.height > MAX_TABLE_ROWS:
        rank = pl.col("severity").replace_strict(SEVERITY_RANK, return_dtype=pl.Int8)
        v = (v.with_row_index("_order").sort([rank, pl.col("_order")], descending=[True, False])
             .head(MAX_TABLE_ROWS).sort("_order"))
    if "status" not in v.columns:  # a result judged outside a run (the library's engine alone)
        v = v.with_columns(pl.lit("new").alias("status"))
    v = v.with_columns(pl.when(pl.col("waiver_id").is_not_null()).then(pl.lit("waived ") + pl.col("waiver_id"))
                       .otherwise(pl.col("status")).alias("status")) if "waiver_id" in v.columns else v
    rows = v.select(EMBEDDED_COLUMNS).rows()
    return {"columns": EMBEDDED_COLUMNS, "rows": rows}, note, left


def _explain(result: AuditResult, db: str | Path | None) -> tuple[dict, str]:
    """The parts of each row's `audit explain` command, shell-quoted, and the sentence above the table.

    The store is named as the run was given it (a relative path is relative
    to where the run was started). The policy is named when it can be named
    again (a file or builtin:NAME); a period report's policy comes from the
    ledger, and explain then uses the store's latest run's policy.
    """
    source = result.policy.source or ""
    policy = None if not source or source.startswith(("ledger run ", "<")) else shlex.quote(pii.mask_str(source))
    if db is None:
        return ({"db": STORE_PLACEHOLDER, "policy": policy},
                "This run kept no store (no --db), so audit explain has nothing to read yet: load the same data "
                f"with audit load DATA_DIR --db {STORE_PLACEHOLDER} (or run with --db), then use the command shown "
                "for a violation, with your store's file in place of STORE.duckdb.")
    return ({"db": shlex.quote(pii.mask_str(str(db))), "policy": policy},
            "Each violation shows the audit explain command that shows why it was flagged (Copy puts it on the "
            "clipboard); with --format json it prints one object a case-management system can store. The store "
            "path is as the run was given it.")


def _period(result: AuditResult) -> str:
    if not (result.since or result.until):
        return "all stored contacts judged"
    return (f"local dates {result.since.isoformat() if result.since else 'from the first contact'} to "
            f"{result.until.isoformat() if result.until else 'the last contact'}, inclusive")


def _run_rows(result: AuditResult, total: int) -> list[tuple[str, str]]:
    p = result.policy
    fp = result.fingerprint or {}
    return [
        ("Policy", pii.mask_str(f"{p.policy_id} {p.version}")),
        ("Policy source", pii.mask_str(p.source)),
        ("Policy SHA-256", p.sha256),
        ("Period judged", _period(result)),
        ("Contacts judged", f"{result.contacts_judged:,}"),
        ("Violations", f"{total:,}"),
        ("Run (UTC)", f"{result.started_at.strftime('%Y-%m-%d %H:%M:%S')} – {result.finished_at.strftime('%H:%M:%S')}"),
        ("Tool", f"contact-audit {__version__}"),
        ("Dataset fingerprint", fp.get("sha256", "(not computed)")),
    ]


def _rules(result: AuditResult, d: Digest) -> list[dict]:
    by_rule = dict(_counts(d, "rule_id"))
    total = d.total or 1
    out = []
    for r in describe_rules(result.policy):
        n = by_rule.get(pii.mask_str(r["rule_id"]), 0)
        out.append({**r, "count": n, "share": f"{100 * n / total:.1f}%" if d.total else "–"})
    return out


def _charts(result: AuditResult, d: Digest) -> tuple[dict, list[dict]]:
    by_day = d.by_day.with_columns(pl.col("local_date").dt.strftime("%Y-%m-%d").alias("day"))
    days = dict(_counts(replace(d, by_day=by_day), "day", "by_day")) if d.total else {}
    rule_sev = {pii.mask_str(r): result.policy.severity_of(r) for r in result.policy.rule_ids()}
    per_rule = [(r, n, SEVERITY_COLOUR.get(rule_sev.get(r, "medium"), "#555")) for r, n in _counts(d, "rule_id")]
    per_channel = [(c, n, "#0f766e") for c, n in _counts(d, "channel", "by_channel")]
    agents = [(a, n, "#7c3aed") for a, n in _counts(d, "agent_id", "by_agent")[:TOP_AGENTS]]
    return day_chart(*day_buckets(days)), [bar_chart("Violations per rule", per_rule),
                                            bar_chart("Violations per channel", per_channel),
                                            bar_chart(f"Top {TOP_AGENTS} agents by violations", agents)]


def _rejected(result: AuditResult) -> dict:
    rej = masked_rejected(result)  # masked here, as in rejected.csv
    counts = None
    if result.load is not None and result.load.counts:
        counts = [(name, [getattr(c, k) for k in ("read", "loaded", "updated", "duplicates", "rejected")])
                  for name, c in result.load.counts.items()]
    rows = rej.head(MAX_REJECTED_ROWS).select("table", "source_file", "row", "key", "reasons", "values").rows()
    return {"load_counts": counts, "rejected_rows": rows, "rejected_total": rej.height}


def render(result: AuditResult, db: str | Path | None = None) -> str:
    """The page as text (the violations are masked here, as in every other report). `db`: the store the
    run read and recorded into, named in each row's audit explain command; None when it kept none."""
    v = masked_violations(result.violations)
    # an event id that masking changed cannot be pasted into audit explain: the row says so instead
    v = v.with_columns((result.violations["event_id"] != v["event_id"]).fill_null(False).alias("event_masked"))
    d = result.counted().masked()
    p = result.policy
    payload, cap_note, left_out = _table_payload(v, d.total)
    explain_cfg, explain_note = _explain(result, db)
    by_sev = dict(_counts(d, "severity"))
    day, bars = _charts(result, d)
    css, error_js, app_js, sort_js = (asset(n) for n in ("report.css", "error.js", "app.js", "sort.js"))
    csp = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
           f"script-src {SCRIPT_HASHES}; base-uri 'none'; form-action 'none'")
    fp_tables = (result.fingerprint or {}).get("tables") or {}
    context = {
        "csp": csp, "version": __version__, "title": pii.mask_str(f"Contact audit: {p.policy_id} {p.version}"),
        "css": css, "error_js": error_js, "app_js": app_js, "sort_js": sort_js,
        "total": d.total, "contacts_judged": result.contacts_judged, "period": _period(result),
        "run_time": f"{result.started_at.strftime('%Y-%m-%d %H:%M')}",
        "severities": [{"name": s, "count": by_sev.get(s, 0)} for s in SEVERITIES],
        "rules": _rules(result, d),
        "cap_note": cap_note, "left_out": left_out, "explain_note": explain_note,
        # the Spark engine past --max-csv-rows writes no violations.csv: the page links the Parquet it wrote
        "parquet_total": d.total if result.violation_files == "none" else 0,
        "rule_options": p.rule_ids(), "severity_names": SEVERITIES,
        "channels": sorted(set(d.by_channel.filter(pl.col("n") > 0)["channel"].drop_nulls().to_list())),
        "columns": TABLE_COLUMNS, "page_rows": PAGE_ROWS,
        "payload": json_for_script(payload),
        "config": json_for_script({"page": PAGE_ROWS, "shown": [c for c, _ in TABLE_COLUMNS],
                                   "explain": explain_cfg}),
        "day_chart": day, "bar_charts": bars,
        "agents": agents_context(result, d, db),
        "record": record_context(result),
        **_rejected(result),
        "run_rows": _run_rows(result, d.total),
        "stored_rows": [(name, t["rows"]) for name, t in fp_tables.items()],
        "default_timezone": p.default_timezone,
        "notes": result.notes, "described": describe_rules(p),
    }
    page = environment().get_template("report.html.j2").render(context)
    # hashed from the page as rendered, so a template edit around a script cannot unpin it; the
    # placeholder's first occurrence is the policy in <head>, before any value from the data
    scripts = re.findall(r"<script>(.*?)</script>", page, flags=re.S)
    return page.replace(SCRIPT_HASHES, " ".join(csp_hash(code) for code in scripts), 1)


def write_html(result: AuditResult, out: Path, db: str | Path | None = None) -> None:
    (out / "report.html").write_text(render(result, db), encoding="utf-8")
