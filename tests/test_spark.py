"""One rule book, two engines: Spark gives exactly DuckDB's violations, rejections and accounting."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import audit
from audit.cli import main
from audit.digest import KEYS
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


@pytest.mark.parametrize("master,env,expected", [
    ("local[2]", None, "4g"),                  # the executors run inside the driver JVM
    ("spark://127.0.0.1:7077", None, "1g"),    # a cluster's driver holds no rows
    ("spark://127.0.0.1:7077", "512M", "512m"),
])
def test_the_driver_heap_follows_the_master_unless_the_environment_names_one(monkeypatch, master, env, expected):
    from audit.spark_engine import DRIVER_MEMORY_ENV, driver_memory

    if env is None:
        monkeypatch.delenv(DRIVER_MEMORY_ENV, raising=False)
    else:
        monkeypatch.setenv(DRIVER_MEMORY_ENV, env)
    assert driver_memory(master) == expected


def test_a_driver_heap_that_is_not_a_jvm_size_is_a_usage_error(monkeypatch):
    from audit.errors import UsageError
    from audit.spark_engine import DRIVER_MEMORY_ENV, driver_memory

    for bad in ("lots", "0", "2 g", "-1g"):
        monkeypatch.setenv(DRIVER_MEMORY_ENV, bad)
        with pytest.raises(UsageError, match=DRIVER_MEMORY_ENV):
            driver_memory("local[2]")


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


# ---------------------------------------------------------------- the load on Spark (issue #18)

CONFORMANCE = Path(__file__).resolve().parents[2] / "shared" / "conformance"


def _cli(*args: str):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "audit.cli", *args], capture_output=True, text=True, timeout=280)


def test_spark_rejects_the_conformance_rows_and_reports_duckdbs_violations(tmp_path):
    if not CONFORMANCE.is_dir():
        pytest.skip("the shared conformance dataset is not beside the repository")
    import polars as pl

    runs = {}
    for engine in ("duckdb", "spark"):
        out = tmp_path / engine
        r = CliRunner().invoke(main, ["run", "--data", str(CONFORMANCE / "data"), "--policy",
                                      str(CONFORMANCE / "policy.yaml"), "--out", str(out), "--engine", engine,
                                      "--spark-master", MASTER, "--quiet"])
        assert r.exit_code == 0, r.output
        runs[engine] = out
    for name in ("violations.csv", "rejected.csv"):
        assert (runs["spark"] / name).read_bytes() == (runs["duckdb"] / name).read_bytes(), name
    expected = pl.read_csv(CONFORMANCE / "expected_rejected.csv", infer_schema=False)
    got = pl.read_csv(runs["spark"] / "rejected.csv", infer_schema=False).filter(pl.col("table") == "contacts")
    assert sorted(got["key"].fill_null("")) == sorted(expected["event_id"].fill_null(""))


def test_spark_with_a_store_is_refused_in_one_line_with_exit_2(tmp_path):
    r = _cli("run", "--data", str(SAMPLE), "--db", str(tmp_path / "s.duckdb"), "--out", str(tmp_path / "o"),
             "--engine", "spark", "--spark-master", MASTER)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [r.stderr.strip()] and "--db" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "s.duckdb").exists() and not (tmp_path / "o").exists()


def test_a_missing_dataset_uri_is_one_line_with_exit_3(tmp_path):
    r = _cli("run", "--data", (tmp_path / "nowhere").as_uri(), "--out", str(tmp_path / "o"),
             "--engine", "spark", "--spark-master", MASTER)
    assert r.returncode == 3, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "does not exist" in r.stderr


def test_executors_write_every_rejected_row_and_violation_privately_and_the_driver_gets_no_contact_rows(
        edge_data, tmp_path, monkeypatch):
    """Every DataFrame the driver reads back is recorded: counts, headers, per-agent counts, the
    rejected rows and the report rows, never a frame of contacts."""
    import polars as pl
    from pyspark.sql.classic.dataframe import DataFrame  # what a local session's DataFrames are

    received: list[tuple[list[str], int]] = []
    for method in ("collect", "toArrow", "toPandas", "toLocalIterator", "take", "head", "first", "tail"):
        original = getattr(DataFrame, method)

        def record(self, *a, _original=original, **k):
            got = _original(self, *a, **k)
            rows = got.num_rows if hasattr(got, "num_rows") else (len(got) if isinstance(got, list) else 1)
            received.append((list(self.columns), rows))
            return got
        monkeypatch.setattr(DataFrame, method, record)
    out = tmp_path / "out"
    result = audit.audit(data=edge_data, out=out, engine="spark", spark_master=MASTER)
    contacts = result.load.counts["contacts"].read
    rejected = pl.read_csv(out / "rejected.csv", infer_schema=False)
    digest = sum(getattr(result.digest, name).height for name in KEYS)
    allowed = (result.load.rejected.height + result.violations.height + len(result.load.counts)
               + result.agent_contacts.height + digest + 50)  # + a header line per CSV file
    assert sum(n for _, n in received) <= allowed < contacts
    assert not any("content" in cols for cols, _ in received)
    # Written by the executors, masked as the driver's files are, private from the first byte.
    every = pl.read_parquet(out / "rejected.parquet" / "*.parquet")
    in_csv = rejected.with_columns(pl.col("row").cast(pl.Int64)).sort("table", "source_file", "row")
    every = every.sort("table", "source_file", "row")
    for col in ("table", "source_file", "row", "key", "reasons"):
        assert every[col].to_list() == in_csv[col].to_list(), col
    months = pl.read_parquet(out / "violations" / "**" / "*.parquet", hive_partitioning=True)
    csv = pl.read_csv(out / "violations.csv", infer_schema=False)
    assert months.height == csv.height
    assert sorted(months["event_id"].to_list()) == sorted(csv["event_id"].to_list())
    assert set(months["month"].cast(pl.String)) == set(csv["local_time"].str.slice(0, 7))
    for p in [out / "violations", out / "rejected.parquet", *out.rglob("*.parquet")]:
        assert p.stat().st_mode & 0o077 == 0, p
    assert not list(out.rglob("*.crc")) and not list(out.rglob("_SUCCESS"))


def test_past_max_csv_rows_the_violations_stay_in_parquet_and_are_counted_not_read_back(edge_data, tmp_path):

    import polars as pl

    duck = audit.audit(data=edge_data, out=tmp_path / "duck")
    out = tmp_path / "spark"
    r = CliRunner().invoke(main, ["run", "--data", str(edge_data), "--out", str(out), "--engine", "spark",
                                  "--spark-master", MASTER, "--max-csv-rows", "10"])
    assert r.exit_code == 0, r.output
    assert duck.violations.height > 10
    assert not (out / "violations.csv").exists() and not (out / "violations.parquet").exists()
    summary = json.loads((out / "summary.json").read_text())
    expected = json.loads((tmp_path / "duck" / "summary.json").read_text())["violations"]
    assert summary["violations"]["total"] == expected["total"] == duck.violations.height
    assert summary["violations"]["by_rule"] == expected["by_rule"]
    assert summary["violations"]["by_severity"] == expected["by_severity"]
    assert any("--max-csv-rows" in n for n in summary["notes"])
    assert f"{duck.violations.height} violation(s)" in r.output
    months = pl.read_parquet(out / "violations" / "**" / "*.parquet", hive_partitioning=True)
    assert months.height == duck.violations.height
    assert 'href="violations/"' in (out / "report.html").read_text()


def test_max_csv_rows_belongs_to_the_spark_engine(tmp_path):
    r = CliRunner().invoke(main, ["run", "--data", str(SAMPLE), "--out", str(tmp_path / "o"), "--max-csv-rows", "5"])
    assert r.exit_code == 2 and "--max-csv-rows" in r.output


def test_the_driver_reads_back_only_the_tables_rows_yet_every_file_equals_duckdbs(tmp_path, monkeypatch):
    """With the report's table cut to 7 rows, Spark's driver reads back 7 violation rows and counts; the
    executors' parts still give DuckDB's violations.csv byte for byte, and the same counts, statuses,
    waivers and agent scorecards (the digest) in summary.json, agents.csv and report.html."""
    from datetime import date

    import polars as pl
    from pyspark.sql.classic.dataframe import DataFrame

    from audit.reports import html
    from audit.spark import readback

    monkeypatch.setattr(html, "MAX_TABLE_ROWS", 7)
    monkeypatch.setattr(readback, "MAX_TABLE_ROWS", 7)
    read: list[int] = []
    original = DataFrame.toArrow

    def record(self, *a, **k):
        got = original(self, *a, **k)
        if "detail" in self.columns:  # a frame of report rows
            read.append(got.num_rows)
        return got
    monkeypatch.setattr(DataFrame, "toArrow", record)
    outs = {}
    for engine in ("duckdb", "spark"):
        outs[engine] = tmp_path / engine
        result = audit.audit(data=SAMPLE, out=outs[engine], engine=engine, spark_master=MASTER,
                             waivers=SAMPLE / "waivers.yaml", as_of=date(2026, 11, 30))
        if engine == "spark":
            assert result.violations.height == 7 and result.violations_total > 7
    assert read == [7]
    duck, spark = outs["duckdb"], outs["spark"]
    for name in ("violations.csv", "agents.csv", "rejected.csv"):
        assert (spark / name).read_bytes() == (duck / name).read_bytes(), name
    assert pl.read_parquet(spark / "violations.parquet").equals(pl.read_parquet(duck / "violations.parquet"))
    summaries = [json.loads((d / "summary.json").read_text()) for d in (duck, spark)]
    for key in ("violations", "waivers", "contacts_judged", "tables"):
        assert summaries[0][key] == summaries[1][key], key
    assert summaries[0]["violations"]["by_status"]["waived"] > 0  # the waivers were applied on the executors
    pages = [(d / "report.html").read_text() for d in (duck, spark)]
    total = summaries[0]["violations"]["total"]
    for page in pages:
        assert f"This page holds 7 of the {total:,} violations" in page
    # the charts, severity and rule counts, the agent matrix and the embedded rows are the same page
    # (but for the run's times and the input fingerprint, which only a load into a store computes)
    strip = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?|sha256-[A-Za-z0-9+/=]+|Run \(UTC\).*?</tr>"
                       r"|Dataset fingerprint.*?</table>", re.S)
    assert strip.sub("", pages[0]) == strip.sub("", pages[1])


def test_key_value_folders_inside_a_table_are_partitions_on_both_engines(tmp_path):
    """contacts/month=2026-10/... (as a lake writes it): every file is read, on Spark as on DuckDB, and the
    folder's key is not taken for a column (SPEC §1: a table's directory holds any number of files)."""
    data = tmp_path / "data"
    generate(data, loans=30, seed=9, fmt="mixed")
    table = data / "contacts"
    if not table.is_dir():
        table.mkdir()
        for f in list(data.glob("contacts.*")):
            f.rename(table / f.name)
    files = sorted(p for p in table.iterdir() if p.is_file())
    assert files, "the generated contacts must be files"
    for i, f in enumerate(files):
        folder = table / f"month=2026-{10 + i % 2}" / "channel=sms"
        folder.mkdir(parents=True, exist_ok=True)
        f.rename(folder / f.name)
    outs = {}
    for engine in ("duckdb", "spark"):
        outs[engine] = tmp_path / engine
        r = CliRunner().invoke(main, ["run", "--data", str(data), "--out", str(outs[engine]), "--engine", engine,
                                      "--spark-master", MASTER, "--quiet"])
        assert r.exit_code == 0, r.output
    for name in ("violations.csv", "rejected.csv"):
        assert (outs["spark"] / name).read_bytes() == (outs["duckdb"] / name).read_bytes(), name

    tables = [json.loads((outs[e] / "summary.json").read_text())["tables"] for e in ("duckdb", "spark")]
    assert tables[0] == tables[1] and tables[0]["contacts"]["read"] > 100


TEXT_FILE_FLAWS = {  # (file of sample_data, line appended): the load refuses the file, or reads it without NUL
    "a row with an extra field": ("contacts/resend.csv",
                                  b"EX1,LX01,2026-09-03T10:00:00+08:00,sms,borrower,,,delivered,,hello,surplus\n"),
    "a row with an empty extra field": ("contacts/resend.csv",
                                        b"EX2,LX01,2026-09-03T10:00:00+08:00,sms,borrower,,,delivered,,hello,\n"),
    "NUL inside values": ("contacts/resend.csv", b"NUL1,LX01,2026-09-03T10:00:00+08:00,sms,borrower,,,deliv\x00ered,,h\x00i\n"),
    "CSV that is not UTF-8": ("contacts/resend.csv", b"U2,LX01,2026-09-03T10:00:00+08:00,sms,borrower,,,delivered,,\xff\n"),
    "JSONL that is not UTF-8": ("contacts/manual-b.jsonl",
                                b'{"event_id": "U1", "loan_id": "LX01", "ts": "2026-09-03T10:00:00+08:00", '
                                b'"channel": "sms", "recipient_type": "borrower", "content": "\xff\xfe"}\n'),
}


@pytest.mark.parametrize("flaw", list(TEXT_FILE_FLAWS))
def test_a_flawed_text_file_meets_the_same_fate_on_both_engines(tmp_path, flaw):
    """Spark's readers would drop surplus fields, replace bad bytes and keep NUL; the executors read each
    text file whole through the load's own reader, so Spark refuses the same file in the same line."""
    rel, line = TEXT_FILE_FLAWS[flaw]
    data = tmp_path / "data"
    shutil.copytree(SAMPLE, data, ignore=shutil.ignore_patterns("exports", "mappings", "policies"))
    with (data / rel).open("ab") as f:
        f.write(line)
    got = {}
    for engine in ("duckdb", "spark"):
        out = tmp_path / engine
        r = CliRunner().invoke(main, ["run", "--data", str(data), "--out", str(out), "--engine", engine,
                                      "--spark-master", MASTER, "--quiet"])
        got[engine] = (r.exit_code, r.stderr.strip())
    assert got["spark"] == got["duckdb"]
    if flaw == "NUL inside values":
        assert got["duckdb"][0] == 0
        for name in ("violations.csv", "rejected.csv", "summary.json"):
            spark, duck = ((tmp_path / e / name).read_text() for e in ("spark", "duckdb"))
            if name == "summary.json":
                spark, duck = (json.loads(x)["tables"] for x in (spark, duck))
            assert spark == duck, name
    else:
        code, err = got["duckdb"]
        assert code == 3 and len(err.splitlines()) == 1 and Path(rel).name in err


def test_duckdbs_cte_planning_hints_are_left_out_of_the_spark_sql():
    """`AS [NOT] MATERIALIZED` steers DuckDB's planner; Spark SQL has no such syntax."""
    from audit.rules import query_text
    from audit.transpile import to_spark

    assert "MATERIALIZED" in query_text("facts")
    spark_sql = to_spark(query_text("facts"), {"default_timezone": "UTC", "since": None, "until": None})
    assert "MATERIALIZED" not in spark_sql.upper() and "WITH loan_zone AS (" in spark_sql
