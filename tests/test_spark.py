"""One rule book, two engines: Spark gives exactly DuckDB's violations, rejections and accounting."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import audit
from audit.cli import main
from audit.sample import generate

try:
    import pyspark  # noqa: F401
    HAVE_SPARK = shutil.which("java") is not None
except ImportError:
    HAVE_SPARK = False

# Measured on 2 cores under load: up to 83 s for a test that starts the session (JVM), 15-70 s for the
# others. 300 s is about 3x the slowest: a hang fails the test instead of stalling the run. Inside it,
# the engine's own deadline (CONTACT_AUDIT_SPARK_TIMEOUT) turns a stuck Spark call into a one-line error.
pytestmark = [pytest.mark.timeout(300)]
if not HAVE_SPARK:
    if os.environ.get("CI"):
        pytest.fail("CI must run the Spark engine tests: install the spark extra and Java 17", pytrace=False)
    pytestmark.append(pytest.mark.skip(reason="pyspark or java is not installed here"))

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
MASTER = "local[2]"


@pytest.fixture(scope="module")
def edge_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("edge")
    generate(root, loans=40, seed=5, fmt="mixed")
    return root


@pytest.mark.parametrize("policy", ["builtin:default", "builtin:us-reg-f"])
def test_spark_violations_csv_is_byte_identical_to_duckdb_on_sample_data(tmp_path, policy):
    runs = {}
    for engine in ("duckdb", "spark"):
        out = tmp_path / engine
        r = CliRunner().invoke(main, ["run", "--data", str(SAMPLE), "--policy", policy, "--out", str(out),
                                      "--engine", engine, "--spark-master", MASTER, "--quiet"])
        assert r.exit_code == 0, r.output
        runs[engine] = out
    for name in ("violations.csv", "violations.parquet", "rejected.csv"):
        assert (runs["spark"] / name).read_bytes() == (runs["duckdb"] / name).read_bytes(), name


@pytest.mark.parametrize("policy", ["builtin:default", "builtin:cn-gbt-45251", "builtin:us-reg-f"])
def test_spark_equals_duckdb_on_generated_edge_cases(edge_data, policy):
    duck = audit.audit(data=edge_data, policy=policy)
    spark = audit.audit(data=edge_data, policy=policy, engine="spark", spark_master=MASTER)
    assert spark.violations.equals(duck.violations)
    assert spark.load.rejected.equals(duck.load.rejected)
    assert {k: c.as_dict() for k, c in spark.load.counts.items()} == {k: c.as_dict() for k, c in duck.load.counts.items()}
    assert spark.contacts_judged == duck.contacts_judged


def test_spark_respects_since_and_until(edge_data):
    from datetime import date

    window = dict(since=date(2026, 9, 1), until=date(2026, 9, 30))
    duck = audit.audit(data=edge_data, **window)
    spark = audit.audit(data=edge_data, engine="spark", spark_master=MASTER, **window)
    assert spark.violations.equals(duck.violations) and duck.violations.height > 0


def test_a_blocking_call_past_its_deadline_is_one_line_and_cancels_the_jobs():
    import threading

    from audit.spark_engine import SparkTimeout, blocking

    release = threading.Event()

    class Session:
        cancelled = 0

        def interruptAll(self):  # noqa: N802 - pyspark's name
            self.cancelled += 1
            release.set()  # as Spark does: cancelling the job ends the blocked read

    spark = Session()
    with pytest.raises(SparkTimeout) as e:
        blocking(spark, "a query (reading its result back)", lambda: release.wait(60), timeout=0.2)
    assert spark.cancelled == 1 and e.value.exit_code == 3
    assert str(e.value).splitlines() == [str(e.value)]
    assert "a query (reading its result back) within 0.2 s" in str(e.value)
    assert blocking(spark, "x", lambda: 42, timeout=5) == 42
    with pytest.raises(ZeroDivisionError):  # the call's own error reaches the caller
        blocking(spark, "x", lambda: 1 / 0, timeout=5)


@pytest.mark.parametrize("value, expected", [("", 3600.0), ("90", 90.0), ("0", None), ("2.5", 2.5)])
def test_the_deadline_comes_from_the_environment(monkeypatch, value, expected):
    from audit.spark_engine import TIMEOUT_ENV, call_timeout

    monkeypatch.setenv(TIMEOUT_ENV, value)
    assert call_timeout() == expected


def test_a_bad_deadline_is_a_usage_error(monkeypatch):
    from audit.errors import UsageError
    from audit.spark_engine import TIMEOUT_ENV, call_timeout

    for bad in ("soon", "-1", "nan"):
        monkeypatch.setenv(TIMEOUT_ENV, bad)
        with pytest.raises(UsageError, match=TIMEOUT_ENV):
            call_timeout()


def test_a_spark_run_past_its_deadline_exits_3_with_one_line_and_the_session_still_works(tmp_path, monkeypatch):
    from audit.spark_engine import TIMEOUT_ENV, session

    spark = session(MASTER)  # started with the default deadline; the tiny one applies to the run's calls
    monkeypatch.setenv(TIMEOUT_ENV, "0.001")
    r = CliRunner().invoke(main, ["run", "--data", str(SAMPLE), "--out", str(tmp_path / "out"),
                                  "--engine", "spark", "--spark-master", MASTER, "--quiet"])
    assert r.exit_code == 3, r.output
    assert "Traceback" not in r.output
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("audit: Spark did not finish ") and "0.001 s" in lines[0], lines
    monkeypatch.delenv(TIMEOUT_ENV)
    assert spark.sql("SELECT 1 AS one").collect()[0]["one"] == 1
