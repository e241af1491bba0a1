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

if not HAVE_SPARK:
    if os.environ.get("CI"):
        pytest.fail("CI must run the Spark engine tests: install the spark extra and Java 17", pytrace=False)
    pytestmark = pytest.mark.skip(reason="pyspark or java is not installed here")

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
