"""Tools for policy authors: what a policy change does to the findings, and policy unit tests.

`diff_policies` loads the data once and audits it with both policies, so the
difference comes from the policies alone. `run_policy_tests` runs YAML test
cases (a policy, a tiny inline dataset, the violations expected), written to
a temporary dataset in the SPEC format and loaded by the normal loader, so a
case exercises exactly what a nightly run does.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field

from . import pii
from .annotations import yaml_tree
from .engine import AuditResult, run_audit
from .errors import AuditError, PolicyError, UsageError
from .ingest import load_dataset
from .mapping import Mapping, load_mapping
from .policy import BUILTIN_PREFIX, SEVERITY_RANK, Policy, load_policy, parse_policy, problems_of
from .reports.methodology import describe_rules
from .reports.tables import masked_violations
from .schemas import TABLES
from .store import connect

KEY = ["rule_id", "event_id"]
EXAMPLE_COLUMNS = ["event_id", "loan_id", "local_time", "channel", "recipient_type", "severity", "detail",
                   "evidence"]


# ------------------------------------------------------------------ policy diff

@dataclass
class RuleDiff:
    rule_id: str
    status: str               # both | added (only in the new policy) | removed (only in the old one)
    severity_old: str | None
    severity_new: str | None
    params_changed: bool      # wording, severity or reference of the rule differ
    old: int
    new: int
    added: int
    removed: int
    examples_added: list[dict] = field(default_factory=list)
    examples_removed: list[dict] = field(default_factory=list)


@dataclass
class PolicyDiff:
    old: Policy
    new: Policy
    contacts_judged: int
    rules: list[RuleDiff]
    added: pl.DataFrame     # masked violations only the new policy finds
    removed: pl.DataFrame   # masked violations only the old policy finds
    notes: list[str] = field(default_factory=list)

    def new_at_or_above(self, severity: str) -> int:
        """How many added violations have a (new) severity at or above `severity`."""
        floor = SEVERITY_RANK[severity]
        return sum(1 for s in self.added["severity"].to_list() if SEVERITY_RANK[s] >= floor)

    def as_dict(self) -> dict:
        """The diff as data; what came from the policies or the data is masked (examples are already)."""
        def pol(p: Policy) -> dict:
            return {"id": pii.mask_str(p.policy_id), "version": pii.mask_str(p.version),
                    "source": pii.mask_str(p.source), "sha256": p.sha256}

        return {
            "old": pol(self.old), "new": pol(self.new), "contacts_judged": self.contacts_judged,
            "totals": {"old": sum(r.old for r in self.rules), "new": sum(r.new for r in self.rules),
                       "added": self.added.height, "removed": self.removed.height},
            "rules": [r.__dict__ | {"rule_id": pii.mask_str(r.rule_id)} for r in self.rules],
            "notes": [pii.mask_str(n) for n in self.notes],
        }


def _audit_twice(old: Policy, new: Policy, *, data, db, timezone, encoding, since, until,
                 lock_timeout, mapping=None) -> tuple[AuditResult, AuditResult]:
    if (data is None) == (db is None):
        raise UsageError("give the data to compare on: --data DATA_DIR or --db FILE (one of them)")
    if mapping is not None and data is None:
        raise UsageError("--mapping reads a dataset: give it with --data DATA_DIR")
    if db is not None and not Path(db).is_file():
        raise UsageError(f"--db {db}: no such store file")
    if since and until and since > until:
        raise UsageError(f"--since {since} is after --until {until}")
    con = connect(db, lock_timeout=lock_timeout)
    try:
        loaded = load_dataset(con, data, timezone_name=timezone, encoding=encoding,
                              mapping=mapping) if data is not None else None
        a = run_audit(con, old, since=since, until=until, load=loaded)
        b = run_audit(con, new, since=since, until=until, load=loaded)
    finally:
        con.close()
    return a, b


def diff_policies(old: Policy | str | Path, new: Policy | str | Path, *, data: str | Path | None = None,
                  db: str | Path | None = None, timezone: str | None = None, encoding: str = "utf-8",
                  since: date | None = None, until: date | None = None, examples: int = 3,
                  lock_timeout: float = 0.0, mapping: Mapping | str | Path | None = None) -> PolicyDiff:
    """Audit the same data with both policies; the violations the change adds and removes, per rule.

    `mapping` (SPEC §8) reads `data` as a lender's own export.
    """
    old_p = old if isinstance(old, Policy) else load_policy(old)
    new_p = new if isinstance(new, Policy) else load_policy(new)
    if mapping is not None and not isinstance(mapping, Mapping):
        mapping = load_mapping(mapping)
    a, b = _audit_twice(old_p, new_p, data=data, db=db, timezone=timezone, encoding=encoding, since=since,
                        until=until, lock_timeout=lock_timeout, mapping=mapping)
    # compared on the ids as stored (two masked ids may look alike); only what is shown is masked
    va, vb = a.violations, b.violations
    added = vb.join(va.select(KEY), on=KEY, how="anti")
    removed = va.join(vb.select(KEY), on=KEY, how="anti")
    desc_old = {r["rule_id"]: r for r in describe_rules(old_p)}
    desc_new = {r["rule_id"]: r for r in describe_rules(new_p)}
    order = new_p.rule_ids() + [r for r in old_p.rule_ids() if r not in desc_new]

    def count(frame: pl.DataFrame) -> dict[str, int]:
        return dict(frame.group_by("rule_id").len().iter_rows()) if frame.height else {}

    n_old, n_new, n_add, n_rem = count(va), count(vb), count(added), count(removed)
    added, removed = masked_violations(added), masked_violations(removed)
    rules = []
    for rid in order:
        o, n = desc_old.get(rid), desc_new.get(rid)
        shown_rid = pii.mask_str(rid)  # the masked frames' rule_id
        rules.append(RuleDiff(
            rule_id=rid, status="both" if o and n else ("added" if n else "removed"),
            severity_old=o["severity"] if o else None, severity_new=n["severity"] if n else None,
            params_changed=bool(o and n and o != n),
            old=n_old.get(rid, 0), new=n_new.get(rid, 0), added=n_add.get(rid, 0), removed=n_rem.get(rid, 0),
            examples_added=added.filter(pl.col("rule_id") == shown_rid).head(examples).select(EXAMPLE_COLUMNS)
            .to_dicts(),
            examples_removed=removed.filter(pl.col("rule_id") == shown_rid).head(examples).select(EXAMPLE_COLUMNS)
            .to_dicts(),
        ))
    notes = list(dict.fromkeys(a.notes + b.notes))
    return PolicyDiff(old_p, new_p, b.contacts_judged, rules, added, removed, notes)


def _label(p: Policy) -> str:
    return pii.mask_str(f"{p.policy_id} {p.version} ({p.source})")


def _example_line(e: dict) -> str:
    ev = f" | evidence: {e['evidence']}" if e.get("evidence") else ""
    return (f"{e['event_id']} loan {e['loan_id']} {e['local_time']} {e['channel']} to {e['recipient_type']}: "
            f"{e['detail']}{ev}")


def render_text(d: PolicyDiff) -> str:
    t = d.as_dict()["totals"]
    lines = [f"old: {_label(d.old)}", f"new: {_label(d.new)}",
             f"{d.contacts_judged:,} contact(s) judged; violations {t['old']:,} -> {t['new']:,} "
             f"(+{t['added']:,} added, -{t['removed']:,} removed)", "",
             f"{'rule':<30}{'severity':<20}{'before':>8}{'after':>8}{'added':>8}{'removed':>9}  note"]
    for r in d.rules:
        sev = r.severity_new or r.severity_old or ""
        if r.severity_old and r.severity_new and r.severity_old != r.severity_new:
            sev = f"{r.severity_old}->{r.severity_new}"
        note = {"added": "new rule", "removed": "rule removed"}.get(r.status, "changed" if r.params_changed else "")
        rid = pii.mask_str(r.rule_id)
        lines.append(f"{rid:<30}{sev:<20}{r.old:>8}{r.new:>8}{'+' + str(r.added):>8}{'-' + str(r.removed):>9}"
                     f"  {note}".rstrip())
    for r in d.rules:
        for what, n, ex in (("added", r.added, r.examples_added), ("removed", r.removed, r.examples_removed)):
            if n:
                lines += ["", f"{what} by the change, {pii.mask_str(r.rule_id)} ({n:,}):"]
                lines += [f"  {_example_line(e)}" for e in ex]
                if n > len(ex):
                    lines.append(f"  ... and {n - len(ex):,} more")
    lines += [f"note: {pii.mask_str(n)}" for n in d.notes]
    return "\n".join(lines) + "\n"


_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]|~"} | {"<": "&lt;", "&": "&amp;", "\n": " ", "\r": " "})


def md(text: object) -> str:
    """Data as inert inline Markdown (a table cell): no markup, links, HTML or @mentions from a contact log."""
    if text is None:
        return ""
    out = str(text).translate(_MD_SPECIAL)
    return out.replace("@", "@\u200b").replace("://", ":\u200b//").replace("www.", "www\u200b.")


def code(text: object) -> str:
    """Text for a `code span`, which shows everything literally except backticks."""
    return "`" + str(text).replace("`", "'").replace("\n", " ") + "`"


def render_markdown(d: PolicyDiff) -> str:
    t = d.as_dict()["totals"]
    out = [f"### Policy change: {code(pii.mask_str(f'{d.old.policy_id} {d.old.version}'))} → "
           f"{code(pii.mask_str(f'{d.new.policy_id} {d.new.version}'))}", "",
           f"On {d.contacts_judged:,} contacts judged, violations go from **{t['old']:,}** to **{t['new']:,}**: "
           f"**+{t['added']:,}** added, **−{t['removed']:,}** removed.", "",
           "| rule | severity | before | after | added | removed | note |",
           "|---|---|--:|--:|--:|--:|---|"]
    for r in d.rules:
        sev = md(r.severity_new or r.severity_old)
        if r.severity_old and r.severity_new and r.severity_old != r.severity_new:
            sev = f"{md(r.severity_old)} → {md(r.severity_new)}"
        note = {"added": "new rule", "removed": "rule removed"}.get(r.status, "changed" if r.params_changed else "")
        bold = "**" if r.added or r.removed else ""
        out.append(f"| {code(pii.mask_str(r.rule_id))} | {sev} | {r.old:,} | {r.new:,} | {bold}+{r.added:,}{bold} | "
                   f"{bold}−{r.removed:,}{bold} | {note} |")
    for r in d.rules:
        for what, n, ex in (("added", r.added, r.examples_added), ("removed", r.removed, r.examples_removed)):
            if not n:
                continue
            out += ["", f"<details><summary>{what.capitalize()}: {pii.mask_str(r.rule_id)} ({n:,})</summary>", "",
                    "| event | loan | local time | channel | recipient | detail | evidence |",
                    "|---|---|---|---|---|---|---|"]
            out += [f"| {md(e['event_id'])} | {md(e['loan_id'])} | {md(e['local_time'])} | {md(e['channel'])} | "
                    f"{md(e['recipient_type'])} | {md(e['detail'])} | {md(e['evidence'])} |" for e in ex]
            if n > len(ex):
                out += ["", f"… and {n - len(ex):,} more."]
            out += ["", "</details>"]
    for n in d.notes:
        out += ["", f"> note: {md(pii.mask_str(n))}"]
    out += ["", f"<sub>old {code(pii.mask_str(d.old.source))} sha256 {code(d.old.sha256[:12])}, "
               f"new {code(pii.mask_str(d.new.source))} "
               f"sha256 {code(d.new.sha256[:12])}; identifiers masked.</sub>"]
    return "\n".join(out).rstrip() + "\n"


def render_json(d: PolicyDiff) -> str:
    return json.dumps(d.as_dict(), indent=2, ensure_ascii=False, default=str) + "\n"


# ------------------------------------------------------------------ policy unit tests

class _CaseLoader(yaml.SafeLoader):
    """Safe YAML that keeps timestamps and dates as the text written: the loader parses them."""


_CaseLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

Row = dict[str, Any]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Expected(_Strict):
    rule_id: Annotated[str, Field(min_length=1)]
    event_id: Annotated[str, Field(min_length=1)]


class Dataset(_Strict):
    loans: list[Row]
    installments: list[Row]
    contacts: list[Row]
    borrowers: list[Row] = []
    emergency_contacts: list[Row] = []


class Case(_Strict):
    name: Annotated[str, Field(min_length=1)]
    policy: str | dict[str, Any] | None = None
    data: Dataset
    expect: list[Expected]
    only_rules: list[str] | None = None   # compare only these rules' violations
    timezone: str | None = None
    since: str | None = None
    until: str | None = None


class CaseFile(_Strict):
    policy: str | dict[str, Any] | None = None   # default for the file's cases
    cases: list[Case]


@dataclass
class CaseResult:
    file: str
    name: str
    passed: bool
    missing: list[tuple[str, str]] = field(default_factory=list)
    unexpected: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    path: str = ""   # the case file as found (for CI annotations; `file` is a display label)
    line: int = 1     # where the case starts in that file

    def explain(self) -> list[str]:
        if self.error:
            return [f"error: {self.error}"]
        return ([f"missing:    {r} {e}" for r, e in self.missing]
                + [f"unexpected: {r} {e}" for r, e in self.unexpected])


def case_files(path: str | Path) -> list[Path]:
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in (".yaml", ".yml"))
    elif p.is_file():
        files = [p]
    else:
        raise UsageError(f"{path}: no such file or directory")
    if not files:
        raise UsageError(f"{path}: no policy test files (*.yaml, *.yml)")
    return files


def load_case_file(path: Path) -> CaseFile:
    """A file holds `cases: [...]` (with an optional shared `policy`), or one case mapping."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_CaseLoader)  # noqa: S506 - SafeLoader subclass
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise UsageError(f"{path}: cannot read the test cases: {str(e).splitlines()[0]}") from None
    if isinstance(raw, dict) and "cases" not in raw:
        raw = {"cases": [raw]}
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: a test file is a mapping with `cases:` (or one case)")
    try:
        return CaseFile.model_validate(raw)
    except pydantic.ValidationError as e:
        raise UsageError(f"{path}: invalid test cases: " + "; ".join(problems_of(e))) from None


def _policy_for(spec: str | dict | None, case_file: Path, label: str, cache: dict) -> Policy:
    if isinstance(spec, dict):
        return parse_policy(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), f"{label} (inline policy)")
    if spec is None:
        spec = BUILTIN_PREFIX + "default"
    if not spec.startswith(BUILTIN_PREFIX):
        spec = str((case_file.parent / spec).resolve())
    if spec not in cache:
        cache[spec] = load_policy(spec)
    return cache[spec]


def _cell(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def write_case_dataset(data: Dataset, root: Path) -> Path:
    """The inline tables as JSONL files (every value as text, as an export would carry it)."""
    root.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        rows = getattr(data, name)
        if not rows:
            continue
        with (root / f"{name}.jsonl").open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps({str(k): _cell(v) for k, v in row.items()}, ensure_ascii=False) + "\n")
    return root


def _date(value: str | None, what: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise UsageError(f"{what} {value!r} is not a date YYYY-MM-DD") from None


def run_case(case: Case, case_file: Path, default_policy=None, cache: dict | None = None,
             label: str | None = None) -> CaseResult:
    label = label or str(case_file)
    started = time.monotonic()
    res = CaseResult(file=label, name=case.name, passed=False)
    try:
        policy = _policy_for(case.policy if case.policy is not None else default_policy, case_file,
                             f"{label}::{case.name}", {} if cache is None else cache)
        with tempfile.TemporaryDirectory(prefix="policy-test-") as tmp:
            root = write_case_dataset(case.data, Path(tmp) / "data")
            con = connect(None)
            try:
                loaded = load_dataset(con, root, timezone_name=case.timezone)
                if loaded.rejected.height:
                    raise UsageError("the case's data has rejected rows: " + "; ".join(
                        f"{t} row {r}: {why}" for t, r, why in loaded.rejected.select("table", "row", "reasons")
                        .iter_rows()))
                result = run_audit(con, policy, since=_date(case.since, "since"), until=_date(case.until, "until"),
                                   load=loaded)
            finally:
                con.close()
    except PolicyError as e:
        res.error = f"policy {e.source} is invalid: " + "; ".join(e.problems)
    except AuditError as e:
        res.error = str(e)
    else:
        actual = set(result.violations.select(KEY).iter_rows())
        expected = {(x.rule_id, x.event_id) for x in case.expect}
        if case.only_rules is not None:
            actual = {k for k in actual if k[0] in case.only_rules}
        res.missing = sorted(expected - actual)
        res.unexpected = sorted(actual - expected)
        unknown = sorted({r for r, _ in res.missing} - set(policy.rule_ids()))
        if unknown:
            res.error = f"the policy does not switch on rule(s) {', '.join(unknown)} that the case expects"
        res.passed = not res.missing and not res.unexpected and not res.error
    res.seconds = time.monotonic() - started
    return res


def case_lines(path: Path) -> list[int]:
    """The line where each case of a test file starts (`- name: ...`), so a CI annotation marks it."""
    root = yaml_tree(path.read_bytes(), _CaseLoader)
    if not isinstance(root, yaml.MappingNode):
        return []
    cases = next((v for k, v in root.value if isinstance(k, yaml.ScalarNode) and k.value == "cases"), None)
    if cases is None:  # a file that is one case
        return [root.start_mark.line + 1]
    if not isinstance(cases, yaml.SequenceNode):
        return []
    return [c.start_mark.line + 1 for c in cases.value]


def run_policy_tests(path: str | Path) -> list[CaseResult]:
    """Every case of every test file under `path` (a file or a directory)."""
    base = Path(path)
    results: list[CaseResult] = []
    cache: dict[str, Policy] = {}
    for f in case_files(base):
        cf = load_case_file(f)
        label = f.as_posix() if not base.is_dir() else (Path(base.name) / f.relative_to(base)).as_posix()
        lines = case_lines(f)
        for i, case in enumerate(cf.cases):
            res = run_case(case, f, cf.policy, cache, label)
            res.path, res.line = f.as_posix(), lines[i] if i < len(lines) else 1
            results.append(res)
    return results
