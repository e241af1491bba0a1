"""summary.json: the counts a reader checks first, and what produced them."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from .. import __version__, pii
from ..engine import AuditResult

SEVERITIES = ("low", "medium", "high", "critical")


def summary(result: AuditResult) -> dict:
    by_rule = dict.fromkeys(result.policy.rule_ids(), 0)
    by_sev = dict.fromkeys(SEVERITIES, 0)
    counts = result.counted().by_rule.group_by("rule_id", "severity").agg(pl.col("n").sum())
    for rule, severity, n in counts.iter_rows():
        by_rule[rule] = by_rule.get(rule, 0) + n
        by_sev[severity] = by_sev.get(severity, 0) + n
    tables = {}
    if result.load is not None:
        tables = {name: c.as_dict() for name, c in result.load.counts.items()}
    return {
        "tool": {"name": "contact-audit", "version": __version__},
        "policy": {  # id, version and path come from the user: masked like every report value
            "id": pii.mask_str(result.policy.policy_id),
            "version": pii.mask_str(result.policy.version),
            "sha256": result.policy.sha256,
            "source": pii.mask_str(result.policy.source),
        },
        "period": {
            "since": result.since.isoformat() if result.since else None,
            "until": result.until.isoformat() if result.until else None,
        },
        "started_at": result.started_at.isoformat(),
        "finished_at": result.finished_at.isoformat(),
        "tables": tables,
        "contacts_judged": result.contacts_judged,
        "violations": {"total": sum(by_rule.values()), "by_rule": by_rule, "by_severity": by_sev,
                       "by_status": _by_status(result.statuses), "status_by_rule": result.statuses},
        "run_id": result.run_id,  # this run's id in the store's ledger (SPEC §7); null without --db
        "runs": result.runs,      # a period report: the ledger runs it drew from
        "waivers": _waivers(result.waivers),
        "notes": pii.mask_strings(result.notes + (result.load.notes if result.load is not None else [])),
    }


def _by_status(statuses: dict) -> dict:
    return {s: sum(c.get(s, 0) for c in statuses.values()) for s in ("new", "seen", "waived", "gone")}


def _waivers(tally: dict) -> dict | None:
    """Ids, counts and dates of the waivers; the reasons and approvers are in report.html."""
    if not tally:
        return None
    return {"source": pii.mask_str(tally["source"]), "sha256": tally["sha256"], "as_of": tally["as_of"],
            "applied": {pii.mask_str(k): n for k, n in tally["applied"].items()},
            "expired": [{**e, "id": pii.mask_str(e["id"])} for e in tally["expired"]],
            "unused": pii.mask_strings(tally["unused"])}


def write_summary(result: AuditResult, out: Path) -> None:
    (out / "summary.json").write_text(json.dumps(summary(result), indent=2, ensure_ascii=False) + "\n",
                                      encoding="utf-8")


def run_summary(result: AuditResult, *, out: str | None, junit: str | None, exit_status: int,
                reasons: list[str], warnings: list[str]) -> dict:
    """`audit run --format json`: summary.json's counts plus what a script needs next (SPEC §6).

    The files written, and the exit status with its reasons, so a job can
    act on one object instead of parsing text.
    """
    s = summary(result)
    written: list[str] = []
    if out is not None:
        manifest = Path(out) / "manifest.json"
        if manifest.is_file():
            written = sorted(json.loads(manifest.read_text(encoding="utf-8"))["files"]) + ["manifest.json"]
    s["outputs"] = {"out": pii.mask_str(out), "files": pii.mask_strings(written),
                    "junit": pii.mask_str(junit)}
    s["exit"] = {"status": exit_status, "reasons": pii.mask_strings(reasons), "warnings": pii.mask_strings(warnings)}
    return s
