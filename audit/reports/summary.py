"""summary.json: the counts a reader checks first, and what produced them."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from .. import __version__, pii
from ..engine import AuditResult

SEVERITIES = ("low", "medium", "high", "critical")


def summary(result: AuditResult) -> dict:
    v = result.violations
    by_rule = dict.fromkeys(result.policy.rule_ids(), 0)
    by_rule.update(dict(v.group_by("rule_id").len().iter_rows()))
    by_sev = dict.fromkeys(SEVERITIES, 0)
    by_sev.update(dict(v.group_by("severity").len().iter_rows()))
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
        "violations": {"total": v.height, "by_rule": by_rule, "by_severity": by_sev},
        "notes": pii.mask_strings(result.notes + (result.load.notes if result.load is not None else [])),
    }


def write_summary(result: AuditResult, out: Path) -> None:
    (out / "summary.json").write_text(json.dumps(summary(result), indent=2, ensure_ascii=False) + "\n",
                                      encoding="utf-8")
