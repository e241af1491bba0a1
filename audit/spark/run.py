"""`audit run --engine spark --data URI`: load, judge and write on Spark, with no local store of contacts.

The driver plans the jobs and receives only: one row of counts per table,
the first rejected rows (capped), the contacts judged per agent, the
violations' digest (counts per rule, status, day, channel, agent and waiver)
and the rows report.html embeds (at most 20,000). Everything per row is
written by the executors under --out: rejected.parquet/, violations/ by local
month, and the sorted parts the driver streams into violations.csv and
violations.parquet (when there are at most --max-csv-rows violations)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path

import polars as pl

from .. import progress
from ..errors import LoadError
from ..engine import AuditResult, judgement_notes, rule_meta
from ..waivers import tally
from ..policy import Policy
from ..rules import query_text, sql_rules
from ..text_rules import uses_text
from .load import load_on_spark
from .texts import text_violations
from . import readback
from .write import VIOLATIONS_DIR, write_rejected, write_report_files, write_violations

MAX_CSV_ROWS = 1_000_000  # default of --max-csv-rows


def _small(spark, name: str, table: pl.DataFrame) -> None:
    """A policy's own small table (holidays, rule metadata) as a view: built on the driver, it is policy data."""
    from ..spark_engine import blocking

    arrow = table.to_arrow()
    blocking(spark, f"taking {name} over", lambda: spark.createDataFrame(arrow)).createOrReplaceTempView(name)


def judge(spark, policy: Policy, since: date | None, until: date | None, has_ec: bool):
    """(report rows before formatting, facts) as DataFrames: facts, every rule and the text rules on Spark."""
    from pyspark.sql import functions as F

    from ..spark_engine import PRIOR_COUNTS_SCHEMA, blocking
    from ..transpile import to_spark

    progress.step("derive facts (DPD, episode, local time)")
    facts = spark.sql(to_spark(query_text("facts"), {
        "default_timezone": policy.default_timezone, "since": since, "until": until}))
    # Materialised: every rule reads the facts, and its plan starts here instead of at the files.
    facts = blocking(spark, "deriving the facts", lambda: facts.localCheckpoint(eager=True))
    facts.createOrReplaceTempView("facts")
    spark.createDataFrame([], PRIOR_COUNTS_SCHEMA).createOrReplaceTempView("prior_counts")  # nothing kept to add
    parts = []
    for rule in sql_rules(policy, has_emergency_contacts=has_ec):
        for name, table in rule.tables.items():
            _small(spark, name, table)
        found = spark.sql(to_spark(query_text(rule.query), rule.params))
        parts.append(found.select(F.lit(rule.id).alias("rule_id"), F.col("event_id").cast("string"),
                                  F.col("detail").cast("string"), F.lit(None).cast("string").alias("evidence")))
    if uses_text(policy):
        parts.append(text_violations(spark, policy, since, until))
    if parts:
        raw = parts[0]
        for p in parts[1:]:
            raw = raw.unionByName(p)
    else:
        raw = spark.createDataFrame([], "rule_id string, event_id string, detail string, evidence string")
    raw.createOrReplaceTempView("raw_violations")
    _small(spark, "p_rule_meta", rule_meta(policy))
    return spark.sql(to_spark(query_text("violations"))), facts


def run(data: str | Path, policy: Policy, *, master: str, since: date | None, until: date | None,
        zone: str | None, encoding: str, waivers, as_of: date, max_csv_rows: int = MAX_CSV_ROWS):
    """The AuditResult the reports read, and a writer for the executors' outputs (called inside the report).

    The result holds the digest and only the rows report.html embeds; violations.csv and
    violations.parquet are written from the executors' parts (write.write_report_files)."""
    from pyspark.sql import functions as F

    from ..spark_engine import blocking, session

    started = datetime.now(timezone.utc)
    progress.step("start Spark")
    spark = session(master)
    load = load_on_spark(spark, data, zone=zone, encoding=encoding)
    for name, df in load.tables.items():
        df.createOrReplaceTempView(name)
    has_ec = load.result.counts.get("emergency_contacts") is not None and \
        load.result.counts["emergency_contacts"].loaded > 0
    located, facts = judge(spark, policy, since, until, has_ec)
    marked = readback.mark(located, policy, waivers, as_of)
    marked = blocking(spark, "judging the contacts", lambda: marked.localCheckpoint(eager=True))
    progress.step("count the violations and the contacts judged")
    per_agent = facts.where("judged").groupBy("agent_id").agg(F.count(F.lit(1)).alias("contacts"))
    agents = pl.from_arrow(blocking(spark, "counting contacts per agent", per_agent.toArrow))
    judged = int(agents["contacts"].sum() or 0)
    n = int(blocking(spark, "counting the violations", marked.count))
    digest = readback.digest(spark, marked, n)
    progress.step("read the report table's rows")
    rows = readback.table_rows(spark, marked)
    notes = judgement_notes(policy, has_emergency_contacts=has_ec)
    files = n <= max_csv_rows
    if not files:
        notes.append(f"{n} violations: more than --max-csv-rows {max_csv_rows}, so violations.csv and "
                     f"violations.parquet are not written; every violation is in {VIOLATIONS_DIR}/ (Parquet, "
                     f"by local month)")
    result = AuditResult(
        violations=rows, policy=policy, started_at=started, finished_at=datetime.now(timezone.utc),
        load=load.result, notes=notes, since=since, until=until, contacts_judged=judged,
        agent_contacts=agents.cast({"agent_id": pl.String, "contacts": pl.Int64}),
        digest=digest, violations_total=n, violation_files="engine" if files else "none",
    )
    # what a run without a store adds to its result (api.audit does the same for the DuckDB engine)
    result.waivers = tally(digest.waivers_used(), waivers, as_of)
    result.statuses = digest.statuses(policy.rule_ids(), {})
    result.trend = digest.trend()
    result.violations = rows.drop("base_status")

    def write(tmp: Path) -> None:
        try:
            progress.step("write rejected.parquet and violations/ on the executors")
            if load.rejected is not None:
                write_rejected(load.rejected, tmp)
            write_violations(marked, tmp)
            if files:
                progress.step("write violations.csv and violations.parquet from the executors' parts")
                write_report_files(marked, tmp)
        finally:
            load.release()

    return result, write, load.release


def spark_failure(e: Exception) -> LoadError:
    """A Spark job's failure as one line (exit 3), masked: Spark's own messages can quote a value."""
    from .. import pii

    lines = [line.strip().lstrip(": ") for line in str(e).splitlines() if line.strip()]
    # py4j's first line names only the call; the Java exception and its message follow it.
    text = next((line for line in lines if "Exception:" in line or "Error:" in line), lines[0] if lines
                else type(e).__name__)
    return LoadError(pii.mask_str(f"Spark could not run the audit: {text[:300]}"))


def audit_spark(*, data, policy: Policy, waivers, as_of: date, out, master: str, since, until,
                zone: str | None, encoding: str, max_csv_rows: int = MAX_CSV_ROWS) -> AuditResult:
    """api.audit for the Spark engine with --data: the same result and report files, without a store."""
    from ..api import _faults
    from ..errors import AuditError
    from ..reports.target import private_umask

    def truth() -> str:
        return "nothing was kept" + ("" if out is None else f"; no report was written (--out {out} is as it was)")

    release = None
    try:
        with private_umask(), _faults(truth, "the Spark outputs"):
            result, write, release = run(data, policy, master=master, since=since, until=until, zone=zone,
                                         encoding=encoding, waivers=waivers, as_of=as_of, max_csv_rows=max_csv_rows)
            if out is not None:
                from ..reports import write_reports

                write_reports(result, out, data=None if "://" in str(data) else data, lock_timeout=60.0,
                              extra=write)
            progress.done()
        return result
    except AuditError:
        raise
    except Exception as e:  # noqa: BLE001 - py4j and pyspark raise many kinds; each is a failed Spark job
        if type(e).__module__.startswith(("py4j", "pyspark")):
            raise spark_failure(e) from None
        raise
    finally:
        if release is not None:
            release()
