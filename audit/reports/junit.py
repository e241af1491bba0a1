"""JUnit XML for CI systems: a run as one test per rule, policy unit tests as one test per case.

ElementTree escapes markup; characters XML 1.0 cannot carry at all (most
control characters, which an SMS body may hold) are dropped first, or the
file would not parse. Every value from the data, the policy or a test case
is masked as in every other report (`shown`); hashes and counts are not.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import polars as pl

from .. import pii

MAX_FAILURES_PER_RULE = 100
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: object) -> str:
    return "" if value is None else _NOT_XML.sub("", str(value))


def shown(value: object) -> str:
    """A value from the data, the policy or a policy test, masked, as XML text."""
    return xml_text(pii.mask_str(value))


def _write(root: ET.Element, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path


def _violation_text(row: dict) -> str:
    fields = ("event_id", "loan_id", "local_time", "channel", "recipient_type", "recipient_id", "agent_id",
              "detail", "evidence")
    return "\n".join(f"{f}: {xml_text(row.get(f))}" for f in fields if row.get(f) not in (None, ""))


def run_junit(result, path: str | Path, cap: int = MAX_FAILURES_PER_RULE) -> Path:
    """One testcase per active rule; a <failure> per violation (at most `cap` per rule, masked)."""
    from .tables import masked_violations  # local: keeps this module importable without the engine

    policy = result.policy
    v = masked_violations(result.violations)
    if "status" in v.columns:  # a waived violation is signed off: not a failure (SPEC §7)
        v = v.filter(pl.col("status") != "waived")
    rule_ids = policy.rule_ids()
    unwaived = result.counted().masked().by_rule.filter(pl.col("status") != "waived")
    masked_counts = dict(unwaived.group_by("rule_id").agg(pl.col("n").sum()).iter_rows())  # keyed as masked
    counts = {r: masked_counts.get(pii.mask_str(r), 0) for r in rule_ids}
    failing = sum(1 for r in rule_ids if counts.get(r))
    elapsed = (result.finished_at - result.started_at).total_seconds()
    suites = ET.Element("testsuites", name="contact-audit", tests=str(len(rule_ids)), failures=str(failing),
                        errors="0", time=f"{elapsed:.3f}")
    suite = ET.SubElement(suites, "testsuite", name=shown(f"{policy.policy_id} {policy.version}"),
                          tests=str(len(rule_ids)), failures=str(failing), errors="0", skipped="0",
                          time=f"{elapsed:.3f}", timestamp=result.started_at.strftime("%Y-%m-%dT%H:%M:%S"))
    props = ET.SubElement(suite, "properties")
    for name, value in (("policy.source", pii.mask_str(policy.source)), ("policy.sha256", policy.sha256),
                        ("contacts_judged", result.contacts_judged),
                        ("dataset.sha256", (getattr(result, "fingerprint", None) or {}).get("sha256", ""))):
        ET.SubElement(props, "property", name=name, value=xml_text(value))
    for rule_id in rule_ids:
        n = counts.get(rule_id, 0)
        case = ET.SubElement(suite, "testcase", classname=shown(policy.policy_id), name=shown(rule_id),
                             time="0")
        if not n:
            continue
        severity = policy.severity_of(rule_id)
        for row in v.filter(pl.col("rule_id") == pii.mask_str(rule_id)).head(cap).iter_rows(named=True):
            f = ET.SubElement(case, "failure", type=severity,
                              message=xml_text(f"{row['event_id']}: {row['detail']}"))
            f.text = _violation_text(row)
        out = ET.SubElement(case, "system-out")
        out.text = (f"{n} violation(s) of {shown(rule_id)} [{severity}]"
                    + (f"; the first {cap} are listed, violations.csv holds all" if n > cap else "")
                    + ("" if result.all_rows else "; listed from the report's table (the engine kept the rows)"))
    return _write(suites, path)


def cases_junit(results, path: str | Path) -> Path:
    """Policy unit tests (policy_tools.CaseResult): a testsuite per file, a testcase per case."""
    by_file: dict[str, list] = {}
    for r in results:
        by_file.setdefault(r.file, []).append(r)
    total_fail = sum(1 for r in results if not r.passed and not r.error)
    total_err = sum(1 for r in results if r.error)
    suites = ET.Element("testsuites", name="contact-audit policy test", tests=str(len(results)),
                        failures=str(total_fail), errors=str(total_err),
                        time=f"{sum(r.seconds for r in results):.3f}")
    for file, rs in by_file.items():
        suite = ET.SubElement(suites, "testsuite", name=shown(file), tests=str(len(rs)),
                              failures=str(sum(1 for r in rs if not r.passed and not r.error)),
                              errors=str(sum(1 for r in rs if r.error)), skipped="0",
                              time=f"{sum(r.seconds for r in rs):.3f}")
        for r in rs:
            case = ET.SubElement(suite, "testcase", classname=shown(file), name=shown(r.name),
                                 time=f"{r.seconds:.3f}")
            if r.error:
                e = ET.SubElement(case, "error", message=shown(r.error.splitlines()[0]))
                e.text = shown(r.error)
            elif not r.passed:
                f = ET.SubElement(case, "failure", message=xml_text(
                    f"{len(r.missing)} expected violation(s) missing, {len(r.unexpected)} unexpected"))
                f.text = shown("\n".join(r.explain()))
    return _write(suites, path)
