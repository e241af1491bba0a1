"""Run a policy over the store: facts once, then every rule, then the report rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import duckdb
import polars as pl

from . import __version__, facts_prior, facts_store, progress
from .digest import Digest, of_frame
from .ingest import LoadResult
from .policy import SEVERITY_RANK, Policy
from .rules import query_text, run_rule, sql_rules
from .schemas import VIOLATION_COLUMNS, VIOLATIONS_SCHEMA
from .store import frame, lend_memory, scalar

RAW_SCHEMA = {"rule_id": pl.String, "event_id": pl.String, "detail": pl.String, "evidence": pl.String}


REPORT_ORDER = ["ts_us", "event_id", "rule_id"]


def in_report_order(rows: pl.DataFrame) -> pl.DataFrame:
    """The rows of queries/violations.sql in report order: sorted here rather than in the query
    (at 2.35M rows, 1.0 s against 1.7 s in DuckDB under a memory limit). The keys are sorted
    and the rows gathered by the order found: a sort of the whole frame held 0.9 GB more
    than the frame itself, this 0.6 GB."""
    return rows[rows.select(pl.arg_sort_by(REPORT_ORDER)).to_series()]


def report_rows(located: pl.DataFrame, policy: Policy) -> pl.DataFrame:
    """The rows of queries/violations.sql (sorted by `in_report_order`) as report rows (SPEC §5), checked; both engines use it.

    ts is UTC with Z, local_time the same instant with its offset; both keep
    the microseconds when there are any.
    """
    micros = pl.col("ts_us").mod(1_000_000)  # floored: right for instants before 1970 too
    fraction = pl.when(micros == 0).then(pl.lit("")).otherwise(
        pl.lit(".") + micros.cast(pl.String).str.zfill(6))
    utc = pl.from_epoch(pl.col("ts_us"), time_unit="us")
    offset = pl.col("offset_min")
    sign = pl.when(offset < 0).then(pl.lit("-")).otherwise(pl.lit("+"))
    hours = (offset.abs() // 60).cast(pl.String).str.zfill(2)
    minutes = (offset.abs() % 60).cast(pl.String).str.zfill(2)
    local = utc + pl.duration(minutes=offset)
    rows = located.with_columns(
        (utc.dt.strftime("%Y-%m-%dT%H:%M:%S") + fraction + pl.lit("Z")).alias("ts"),
        (local.dt.strftime("%Y-%m-%dT%H:%M:%S") + fraction + sign + hours + pl.lit(":") + minutes).alias("local_time"),
        pl.col("evidence").cast(pl.String),
        pl.lit(policy.policy_id, pl.String).alias("policy_id"),
        pl.lit(policy.version, pl.String).alias("policy_version"),
    )
    return VIOLATIONS_SCHEMA.validate(rows.select(VIOLATION_COLUMNS))


@dataclass
class AuditResult:
    violations: pl.DataFrame
    policy: Policy
    started_at: datetime
    finished_at: datetime
    load: LoadResult | None = None
    notes: list[str] = field(default_factory=list)
    since: date | None = None
    until: date | None = None
    contacts_judged: int = 0
    fingerprint: dict = field(default_factory=dict)  # of the stored input; see reports.manifest
    # The record (SPEC §7, audit/ledger.py): set when the run is on a store, or for a period report.
    run_id: int | None = None
    statuses: dict = field(default_factory=dict)      # rule -> {new, seen, waived, gone}
    waivers: dict = field(default_factory=dict)       # waivers.tally(): applied, expired, unused
    runs: list = field(default_factory=list)          # a period report: the runs it drew from
    trend: pl.DataFrame | None = None                 # violations per local date and rule, for the report
    agent_contacts: pl.DataFrame | None = None        # agent_id, contacts judged (SPEC §9 scorecards)
    # Set by an engine that keeps the rows elsewhere (Spark: the executors wrote them): `violations`
    # then holds only the rows the report's table shows, and the counts come from `digest`.
    digest: Digest | None = None
    violations_total: int | None = None
    # who writes violations.csv/.parquet: "report" (from `violations`), "engine" (its own writer), or
    # "none" (past Spark's --max-csv-rows: only the engine's partitioned files)
    violation_files: str = "report"
    _counted: tuple = field(default=(None, None), init=False, repr=False, compare=False)

    @property
    def all_rows(self) -> bool:
        """Whether `violations` holds every violation (it does, unless an engine kept them elsewhere)."""
        return self.violations_total is None or self.violations_total == self.violations.height

    def counted(self) -> Digest:
        """The counts the reports read: the engine's own digest, else counted from the rows held here."""
        if self.digest is not None:
            return self.digest
        rows, digest = self._counted
        if rows is not self.violations:
            digest = of_frame(self.violations)
            self._counted = (self.violations, digest)
        return digest

    @property
    def total(self) -> int:
        return self.counted().total

    def worst_at_or_above(self, severity: str) -> bool:
        """Waived violations never count (SPEC §7)."""
        floor = SEVERITY_RANK[severity]
        return any(SEVERITY_RANK[s] >= floor for s in self.counted().unwaived_severities())


def judgement_notes(policy: Policy, *, has_emergency_contacts: bool) -> list[str]:
    """What the run could not judge, said in the summary rather than silently skipped."""
    tp = policy.rules.third_party
    if tp is not None and tp.registered_only and not has_emergency_contacts:
        return ["TP-UNREGISTERED: the store holds no emergency contacts, so emergency-contact "
                "contacts could not be judged; only third_party contacts were checked"]
    return []


def rule_meta(policy: Policy) -> pl.DataFrame:
    """Severity and reference of each active rule: data joined to the violations, not SQL text."""
    ids = policy.rule_ids()
    return pl.DataFrame(
        {"rule_id": ids, "severity": [policy.severity_of(r) for r in ids],
         "reference": [policy.reference_of(r) for r in ids]},
        schema={"rule_id": pl.String, "severity": pl.String, "reference": pl.String},
    )


def build_facts(con: duckdb.DuckDBPyConnection, policy: Policy, since: date | None, until: date | None) -> None:
    """The run's `facts` table. On a store file, from the facts kept there (brought up to date
    first: audit/facts_store.py); in memory, derived from the contacts (nothing outlives the run)."""
    if facts_store.is_kept(con):
        facts_store.sync(con, policy)
        progress.step("the run's facts from the kept ones")
        facts_store.build_from_kept(con, policy, since, until)
        return
    facts_prior.no_counts(con)
    con.execute("DROP TABLE IF EXISTS facts")
    con.execute(
        "CREATE TEMP TABLE facts AS " + query_text("facts"),
        {"default_timezone": policy.default_timezone, "since": since, "until": until},
    )


def ensure_facts(con: duckdb.DuckDBPyConnection, policy: Policy, since: date | None, until: date | None) -> None:
    """The DuckDB facts of the judged window, when the rules ran elsewhere (Spark): the record and
    the agent scorecards read which contacts were judged from them."""
    exists = scalar(con, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'facts' AND temporary")
    if not exists:
        build_facts(con, policy, since, until)


def run_audit(con: duckdb.DuckDBPyConnection, policy: Policy, *, since: date | None = None,
              until: date | None = None, load: LoadResult | None = None,
              fingerprint: bool = False, memory_budget: bool = False, transient: bool = False) -> AuditResult:
    """Judge the stored contacts (those with local date in [since, until]) against the policy.

    Every rule sees the full history, so reminders before `since` still count.
    The text rules run first, while DuckDB has its whole budget. With
    `transient` (the store is in memory and closed after this run, so nothing
    reads it again) the message text is dropped once they have read it: at
    10M contacts that frees a third of what DuckDB holds, which the SQL rules
    and the report rows would otherwise spill and read back. With
    `memory_budget` (the user set a memory limit), DuckDB keeps half of it
    once the SQL rules are done, so that the whole process stays near it.
    """
    started = datetime.now(timezone.utc)
    progress.step("derive facts (DPD, episode, local time; on a store: of what is new)")
    build_facts(con, policy, since, until)
    prints: dict = {}
    if fingerprint:  # only a written report (its manifest) needs it; from the sums the loads kept
        from .reports.manifest import dataset_fingerprint  # local: the reports package imports this module

        progress.step("fingerprint the input")
        prints = dataset_fingerprint(con)
    from .text_rules import text_violations  # local: the text rules are optional for a policy

    progress.step("text rules")
    texts = text_violations(con, policy, since, until, kept=facts_store.is_kept(con))
    if transient:
        con.execute("ALTER TABLE contacts DROP COLUMN content")
    has_ec = scalar(con, "SELECT count(*) > 0 FROM emergency_contacts")
    notes = judgement_notes(policy, has_emergency_contacts=has_ec)
    parts = []
    for rule in sql_rules(policy, has_emergency_contacts=has_ec):
        progress.step(f"rule {rule.id}")
        parts.append(run_rule(con, rule))
    parts = [p.with_columns(pl.lit(None, pl.String).alias("evidence")) for p in parts] + texts
    del texts
    if transient:  # from here on only the facts are read
        for table in ("contacts", "installments"):
            con.execute(f"DROP TABLE {table}")
    if memory_budget:
        progress.step("give memory back for the report rows")
        lend_memory(con)
    progress.step("collect violations")
    raw = pl.concat(parts, how="vertical_relaxed") if parts else pl.DataFrame(schema=RAW_SCHEMA)
    del parts  # at scale these are millions of rows: hold one copy only
    meta = rule_meta(policy)
    con.register("raw_violations", raw.select(list(RAW_SCHEMA)))
    con.register("p_rule_meta", meta)
    try:
        violations = report_rows(in_report_order(frame(con, query_text("violations"))), policy)
    finally:
        con.unregister("raw_violations")
        con.unregister("p_rule_meta")
    judged = scalar(con, "SELECT count(*) FROM facts WHERE judged")
    return AuditResult(
        violations=violations, policy=policy, started_at=started, finished_at=datetime.now(timezone.utc),
        load=load, notes=notes, since=since, until=until, contacts_judged=judged,
        fingerprint=prints,
    )


def tool_version() -> str:
    return __version__
