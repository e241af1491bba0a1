"""The Spark session, its deadlines, and judging an existing DuckDB store on Spark.

`audit run --engine spark --data ...` loads, judges and writes on the
executors (audit/spark/). This module starts the one session per master and
bounds every call that blocks the driver; `run_audit_spark` judges a store
given with `--db` alone: its tables are staged as Parquet for Spark, and
facts, rules and report rows run as Spark SQL transpiled from queries/*.sql.
Needs the `spark` extra (pyspark, sqlglot, pandas) and Java 17.

Every call that blocks the driver (starting the session, reading a result
back through Arrow, a count) runs under a deadline: a hang becomes a
one-line error and the session's jobs are cancelled. The deadline is
CONTACT_AUDIT_SPARK_TIMEOUT seconds per call (default 3600; 0: none).

The driver JVM's heap (spark.driver.memory) is 4g with a local master, whose
executors run inside it, and 1g with a cluster's, where the driver holds no
rows; CONTACT_AUDIT_SPARK_DRIVER_MEMORY (a JVM size: 512m, 2g) overrides it.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import os
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import duckdb
import polars as pl

from . import progress
from .engine import AuditResult, in_report_order, judgement_notes, report_rows, rule_meta
from .errors import LoadError, UsageError
from .ingest import LoadResult
from .policy import Policy
from .rules import query_text, sql_rules
from .schemas import LOAD_ORDER
from .store import scalar
from .text_rules import judge_texts, texts_params, uses_text

_sessions: dict[str, object] = {}
RAW_COLUMNS = ["rule_id", "event_id", "detail", "evidence"]
TIMEOUT_ENV = "CONTACT_AUDIT_SPARK_TIMEOUT"
DRIVER_MEMORY_ENV = "CONTACT_AUDIT_SPARK_DRIVER_MEMORY"
DEFAULT_TIMEOUT_S = 3600.0
T = TypeVar("T")


class SparkTimeout(LoadError):
    """A blocking Spark call did not return within the deadline (exit 3: the data could not be judged)."""


def driver_memory(master: str) -> str:
    """spark.driver.memory for this master (CONTACT_AUDIT_SPARK_DRIVER_MEMORY overrides it)."""
    raw = os.environ.get(DRIVER_MEMORY_ENV, "").strip().lower()
    if raw:
        if not re.fullmatch(r"[1-9][0-9]*[kmgt]?", raw):
            raise UsageError(f"{DRIVER_MEMORY_ENV}={raw!r} is not a JVM memory size (such as 512m or 2g)")
        return raw
    return "4g" if master.startswith("local") else "1g"


def call_timeout() -> float | None:
    """Seconds one blocking driver call may take (CONTACT_AUDIT_SPARK_TIMEOUT), or None for no limit."""
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT_S
    try:
        seconds = float(raw)
    except ValueError:
        raise UsageError(f"{TIMEOUT_ENV}={raw!r} is not a number of seconds (0: no limit)") from None
    if seconds != seconds or seconds < 0:
        raise UsageError(f"{TIMEOUT_ENV}={raw!r} is not a number of seconds (0: no limit)")
    return seconds or None


def _cancel(spark) -> None:
    """Cancel whatever the session is running; best effort, never raises."""
    try:
        spark.interruptAll()  # Spark Connect, and classic sessions from Spark 4
        return
    except Exception:  # noqa: BLE001 - not supported here: try the SparkContext
        pass
    try:
        spark.sparkContext.cancelAllJobs()
    except Exception:  # noqa: BLE001
        pass


def blocking(spark, what: str, fn: Callable[[], T], *, timeout: float | None = None) -> T:
    """Run a call that blocks the driver (collect, toArrow) with a deadline.

    The call runs on a daemon thread; if it has not returned within the
    deadline, the session's jobs are cancelled (which also releases the
    thread's socket read) and SparkTimeout says what did not return. An
    interrupt (Ctrl-C, a test's timeout) cancels the jobs too.
    """
    limit = call_timeout() if timeout is None else (timeout or None)
    if limit is None:
        return fn()
    box: dict[str, object] = {}
    done = threading.Event()

    def work() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = e
        finally:
            done.set()

    # A plain thread: the tool sets no job group or tags that a child thread would need to inherit.
    threading.Thread(target=work, name=f"contact-audit-spark: {what}", daemon=True).start()
    try:
        finished = done.wait(limit)
    except BaseException:
        if spark is not None:
            _cancel(spark)
        raise
    if not finished:
        if spark is not None:
            _cancel(spark)
        raise SparkTimeout(f"Spark did not finish {what} within {limit:g} s"
                           f"{'; its jobs were cancelled' if spark is not None else ''} "
                           f"(set {TIMEOUT_ENV} to allow longer, 0 for no limit)")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


@contextmanager
def _jvm_stderr_quiet():
    """The JVM started meanwhile writes its stderr (start-up notices, Spark's own log) to /dev/null.

    The tool's errors are one line on stderr (SPEC §5); a failed Spark job
    still reaches the user as that line, through the Python exception.
    CONTACT_AUDIT_SPARK_LOG=1 keeps the JVM's stderr, to debug a cluster.
    """
    if os.environ.get("CONTACT_AUDIT_SPARK_LOG"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


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
        builder = (
            builder.appName("contact-audit")
            .config("spark.sql.session.timeZone", "UTC")  # local times are computed per contact zone
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "8")
            .config("spark.driver.memory", driver_memory(master))
            # A lost executor or a stuck broadcast fails the job (and so the run) instead of waiting.
            .config("spark.network.timeout", "120s")
            .config("spark.sql.broadcastTimeout", "300")
            # Files the executors write under --out are private from their first byte (0600/0700),
            # with no checksum side files or _SUCCESS markers beside them.
            .config("spark.hadoop.fs.permissions.umask-mode", "077")
            .config("spark.hadoop.fs.file.impl", "org.apache.hadoop.fs.RawLocalFileSystem")
            .config("spark.hadoop.fs.file.impl.disable.cache", "true")
            .config("spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
            .config("spark.sql.parquet.summary.metadata.level", "NONE")
            # Python workers run this interpreter (the tool and its detector are installed in it), unless
            # PYSPARK_PYTHON names the executors' own (a cluster: docs/scale.md, Deployment).
            .config("spark.pyspark.python", os.environ.get("PYSPARK_PYTHON") or sys.executable)
            .config("spark.pyspark.driver.python", sys.executable)
        )
        # pyspark reads the workers' interpreter from the environment, not from spark.pyspark.python.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        with _jvm_stderr_quiet():
            spark = blocking(None, "starting a session", builder.getOrCreate)
        spark.sparkContext.setLogLevel("ERROR") if hasattr(spark, "sparkContext") else None
        _sessions[master] = spark
    return _sessions[master]


# queries/frequency.sql adds a nightly run's kept counts (audit/facts_prior.py); Spark reads everything
PRIOR_COUNTS_SCHEMA = "rule_id string, grp string, n bigint"


def _view(spark, name: str, table: pl.DataFrame) -> None:
    arrow = table.to_arrow()
    blocking(spark, f"taking {name} over", lambda: spark.createDataFrame(arrow)).createOrReplaceTempView(name)


def _query(spark, sql: str, params: dict | None = None) -> pl.DataFrame:
    from .transpile import to_spark

    frame = spark.sql(to_spark(sql, params))
    return pl.from_arrow(blocking(spark, "a query (reading its result back)", frame.toArrow))


def run_audit_spark(con: duckdb.DuckDBPyConnection, policy: Policy, *, master: str = "local[*]",
                    since: date | None = None, until: date | None = None,
                    load: LoadResult | None = None, stage_dir: str | None = None) -> AuditResult:
    """Judge the stored contacts on Spark; same inputs, same AuditResult as engine.run_audit.

    The store reaches Spark as Parquet files in `stage_dir` (on a cluster: a
    directory every executor can read), not through the driver's heap. A
    staging directory the tool made itself is deleted afterwards: it holds
    personal data.
    """
    started = datetime.now(timezone.utc)
    progress.step("start Spark")
    spark = session(master)
    stage = Path(stage_dir) if stage_dir else Path(tempfile.mkdtemp(prefix="contact-audit-spark-"))
    try:
        progress.step("hand the store to Spark")
        stage.mkdir(parents=True, exist_ok=True)
        for name in LOAD_ORDER:
            path = stage / f"{name}.parquet"
            con.table(name).write_parquet(str(path))
            blocking(spark, f"reading the staged {name}", lambda: spark.read.parquet(str(path))) \
                .createOrReplaceTempView(name)
        has_ec = scalar(con, "SELECT count(*) > 0 FROM emergency_contacts")
        violations, judged = _judge(spark, policy, since, until, has_ec)
    finally:
        if not stage_dir:
            shutil.rmtree(stage, ignore_errors=True)
    notes = judgement_notes(policy, has_emergency_contacts=has_ec)
    return AuditResult(
        violations=violations, policy=policy, started_at=started, finished_at=datetime.now(timezone.utc),
        load=load, notes=notes, since=since, until=until, contacts_judged=judged,
    )


def _judge(spark, policy: Policy, since: date | None, until: date | None, has_ec: bool) -> tuple[pl.DataFrame, int]:
    """Facts, every rule and the report rows, as Spark SQL over the staged tables."""
    from .transpile import to_spark

    progress.step("derive facts (DPD, episode, local time)")
    facts = spark.sql(to_spark(query_text("facts"), {
        "default_timezone": policy.default_timezone, "since": since, "until": until}))
    facts.cache().createOrReplaceTempView("facts")
    # the whole history is read here: no kept counts to add to the whole-history limits
    spark.createDataFrame([], PRIOR_COUNTS_SCHEMA).createOrReplaceTempView("prior_counts")
    try:
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
            parts += judge_texts(_query(spark, query_text("texts"), texts_params(policy, since, until)), policy)
        progress.step("collect violations")
        raw = pl.concat([p.select(RAW_COLUMNS).cast(pl.String) for p in parts]) if parts \
            else pl.DataFrame(schema={c: pl.String for c in RAW_COLUMNS})
        _view(spark, "raw_violations", raw)
        _view(spark, "p_rule_meta", rule_meta(policy))
        violations = report_rows(in_report_order(_query(spark, query_text("violations"))), policy)
        counted = spark.sql("SELECT count(*) AS n FROM facts WHERE judged")
        judged = int(blocking(spark, "counting the judged contacts", counted.collect)[0]["n"])
    finally:
        facts.unpersist()
    return violations, judged
