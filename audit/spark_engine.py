"""Run the same rule book on Apache Spark (`audit run --engine spark`).

Loading and validation stay the tool's own (the same accounting, the same
rejected rows); the stored tables are handed to Spark through Arrow, and
facts, rules and report rows run as Spark SQL transpiled from queries/*.sql.
The text rules use the same Polars detector on the rows Spark selects.
Needs the `spark` extra (pyspark, sqlglot) and Java 17.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import duckdb
import polars as pl

from . import progress
from .engine import AuditResult, rule_meta
from .errors import UsageError
from .ingest import LoadResult
from .policy import Policy
from .rules import query_text, sql_rules
from .schemas import LOAD_ORDER, VIOLATIONS_SCHEMA
from .store import frame, scalar
from .text_rules import judge_texts, uses_text

_sessions: dict[str, object] = {}


def session(master: str):
    """One Spark session per master for the life of the process (starting one takes seconds)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise UsageError("--engine spark needs the spark extra: pip install 'contact-audit[spark]'") from None
    if master not in _sessions:
        builder = SparkSession.builder if master.startswith("sc://") else SparkSession.builder.master(master)
        if master.startswith("sc://"):
            builder = builder.remote(master)
        spark = (
            builder.appName("contact-audit")
            .config("spark.sql.session.timeZone", "UTC")  # local times are computed per contact zone
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "8")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR") if hasattr(spark, "sparkContext") else None
        _sessions[master] = spark
    return _sessions[master]


def _view(spark, name: str, table: pl.DataFrame) -> None:
    spark.createDataFrame(table.to_arrow()).createOrReplaceTempView(name)


def _query(spark, sql: str, params: dict | None = None) -> pl.DataFrame:
    from .transpile import to_spark

    return pl.from_arrow(spark.sql(to_spark(sql, params)).toArrow())


def run_audit_spark(con: duckdb.DuckDBPyConnection, policy: Policy, *, master: str = "local[*]",
                    since: date | None = None, until: date | None = None,
                    load: LoadResult | None = None) -> AuditResult:
    """Judge the stored contacts on Spark; same inputs, same AuditResult as engine.run_audit."""
    from .transpile import to_spark

    started = datetime.now(timezone.utc)
    progress.step("start Spark")
    spark = session(master)
    progress.step("hand the store to Spark")
    for name in LOAD_ORDER:
        _view(spark, name, frame(con, f"SELECT * FROM {name}"))
    progress.step("derive facts (DPD, episode, local time)")
    facts = spark.sql(to_spark(query_text("facts"), {
        "default_timezone": policy.default_timezone, "since": since, "until": until}))
    facts.cache().createOrReplaceTempView("facts")
    has_ec = scalar(con, "SELECT count(*) > 0 FROM emergency_contacts")
    notes = []
    tp = policy.rules.third_party
    if tp is not None and tp.registered_only and not has_ec:
        notes.append("TP-UNREGISTERED: the store holds no emergency contacts, so emergency-contact "
                     "contacts could not be judged; only third_party contacts were checked")
    parts = []
    for rule in sql_rules(policy, has_emergency_contacts=has_ec):
        progress.step(f"rule {rule.id}")
        for name, table in rule.tables.items():
            _view(spark, name, table)
        out = _query(spark, query_text(rule.query), rule.params)
        parts.append(out.select(pl.lit(rule.id).alias("rule_id"), pl.col("event_id"), pl.col("detail"),
                                pl.lit(None, pl.String).alias("evidence")))
    if uses_text(policy):
        progress.step("text rules")
        texts = _query(spark, query_text("texts"))
        parts += judge_texts(texts, policy)
    progress.step("collect violations")
    raw = pl.concat([p.select("rule_id", "event_id", "detail", "evidence").cast(pl.String) for p in parts]) \
        if parts else pl.DataFrame(schema={c: pl.String for c in ("rule_id", "event_id", "detail", "evidence")})
    _view(spark, "raw_violations", raw)
    _view(spark, "p_rule_meta", rule_meta(policy))
    violations = _query(spark, query_text("violations"),
                        {"policy_id": policy.policy_id, "policy_version": policy.version})
    violations = VIOLATIONS_SCHEMA.validate(violations.with_columns(pl.col("evidence").cast(pl.String)))
    judged = int(spark.sql("SELECT count(*) AS n FROM facts WHERE judged").collect()[0]["n"])
    facts.unpersist()
    return AuditResult(
        violations=violations, policy=policy, started_at=started, finished_at=datetime.now(timezone.utc),
        load=load, notes=notes, since=since, until=until, contacts_judged=judged,
    )
