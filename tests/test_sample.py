"""The synthetic dataset generator (`audit sample`) and the committed sample_data/."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import available_timezones

import polars as pl
import pytest
import yaml

import audit
from audit.errors import UsageError
from audit.sample import FORMATS, SAMPLE_MARK, TABLE_NAMES, generate, id_check_char, luhn_check_digit

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
POLICIES = ["default", "us-reg-f", "cn-cba-2026"]
BAD_CONTACTS = {"BAD-CHANNEL", "BAD-LOAN", "", "BAD-TS", "BAD-EC-NORID", "BAD-DURATION", "BAD-OUTCOME"}


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _read(path: Path) -> pl.DataFrame:
    if path.suffix == ".csv":
        df = pl.read_csv(path, infer_schema=False)
    elif path.suffix == ".jsonl":
        df = pl.read_ndjson(path, infer_schema_length=None)
    else:
        df = pl.read_parquet(path)
    df = df.rename({c: c.lower() for c in df.columns})
    return df.select(pl.all().cast(pl.String))


def _table(root: Path, name: str) -> pl.DataFrame:
    paths = sorted((root / name).glob("*")) if (root / name).is_dir() else sorted(root.glob(f"{name}.*"))
    frames = [_read(p).with_columns(pl.lit(p.name).alias("_file")) for p in paths]
    return pl.concat(frames, how="diagonal_relaxed")


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("mixed")
    return out, generate(out, loans=120, seed=3)


def test_same_seed_same_bytes_other_seed_other_data(tmp_path, mixed):
    root, _ = mixed
    again = generate(tmp_path / "again", loans=120, seed=3)
    assert _files(root) == _files(tmp_path / "again")
    assert again == mixed[1]
    generate(tmp_path / "other", loans=120, seed=4)
    other = _files(tmp_path / "other")
    assert other.keys() == _files(root).keys()
    assert other["contacts/part-0000-1.csv"] != _files(root)["contacts/part-0000-1.csv"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_table_present_and_parseable(tmp_path, fmt):
    counts = generate(tmp_path, loans=40, seed=1, fmt=fmt)
    exts = {p.suffix for p in tmp_path.rglob("*") if p.is_file() and p.name != SAMPLE_MARK}
    assert exts == ({".csv", ".jsonl", ".parquet"} if fmt == "mixed" else {f".{fmt}"})
    assert (tmp_path / "contacts").is_dir() and len(list((tmp_path / "contacts").iterdir())) >= 4
    for name in TABLE_NAMES:
        df = _table(tmp_path, name)
        assert df.height == counts[name] > 0, name
    contacts = _table(tmp_path, "contacts")
    assert set(contacts.columns) >= {"event_id", "loan_id", "ts", "channel", "recipient_type", "recipient_id",
                                     "agent_id", "outcome", "duration_s", "content"}
    if fmt == "mixed":  # typed Parquet: ts is an absolute timestamp
        part = pl.read_parquet(tmp_path / "contacts" / "part-0000-0.parquet")
        assert part.schema["ts"] == pl.Datetime("us", "UTC")


def test_a_directory_with_files_sample_did_not_write_is_refused_and_kept(tmp_path):
    (tmp_path / "contacts.csv").write_text("a lender's own export\n")
    with pytest.raises(UsageError, match="did not write"):
        generate(tmp_path, loans=5, seed=1)
    assert (tmp_path / "contacts.csv").read_text() == "a lender's own export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["contacts.csv"]


def test_regenerating_over_a_bigger_dataset_leaves_no_stale_partitions(tmp_path):
    generate(tmp_path, loans=30, seed=1, fmt="csv")
    counts = generate(tmp_path, loans=30, seed=1, fmt="parquet")
    assert not list(tmp_path.rglob("*.csv"))
    assert _table(tmp_path, "contacts").height == counts["contacts"]


def test_identifiers_are_valid_and_references_resolve(mixed):
    root, _ = mixed
    b = _table(root, "borrowers")
    assert b["borrower_id"].is_unique().all()
    for r in b.iter_rows(named=True):
        assert re.fullmatch(r"\d{17}[\dX]", r["id_number"]) and id_check_char(r["id_number"][:17]) == r["id_number"][17]
        assert re.fullmatch(r"\d{16}|\d{19}", r["bank_card"]) and luhn_check_digit(r["bank_card"][:-1]) == r["bank_card"][-1]
        assert re.fullmatch(r"1[3-9]\d{9}", r["phone"])
        assert r["timezone"] is None or r["timezone"] in available_timezones()
    zones = set(b["timezone"].fill_null("").to_list())
    assert {"Asia/Shanghai", "America/New_York", "Europe/London", ""} <= zones

    loans = _table(root, "loans")
    assert loans["loan_id"].is_unique().all()
    assert loans["borrower_id"].is_in(b["borrower_id"].implode()).all()
    ec = _table(root, "emergency_contacts")
    assert ec["borrower_id"].is_in(b["borrower_id"].implode()).all()
    assert ec.select("borrower_id", "contact_id").is_unique().all()
    assert set(ec["relationship"].unique()) <= {"配偶", "父母", "朋友", "同事"}

    inst = _table(root, "installments")
    good_inst = inst.filter(pl.col("loan_id") != "L9999999")
    assert good_inst["loan_id"].is_in(loans["loan_id"].implode()).all()
    assert inst.select("loan_id", "seq").is_unique().all()

    c = _table(root, "contacts")
    ok = c.filter(~pl.col("event_id").fill_null("").is_in(list(BAD_CONTACTS)))
    assert ok["loan_id"].is_in(loans["loan_id"].implode()).all()
    dup_ids = ok.filter(pl.col("event_id").is_duplicated())["event_id"].unique().sort().to_list()
    assert dup_ids == ["X-DUP-CONFLICT", "X-DUP-SAME"]
    tp = ok.filter(pl.col("recipient_type").str.to_lowercase() != "borrower")
    assert tp["recipient_id"].null_count() == 0
    # Every timestamp that is not the deliberate bad one parses, with an offset, in one of the three shapes.
    ts = ok["ts"].str.replace(r"^(\d{4}-\d{2}-\d{2}) ", "${1}T").str.replace(r"Z$", "+00:00")
    for v in ts.to_list():
        assert v.endswith("+00:00") or re.search(r"[+-]\d{2}:\d{2}$", v), v
        datetime.fromisoformat(v)
    shapes = c.filter(~pl.col("_file").str.ends_with(".parquet"))["ts"]
    assert shapes.str.ends_with("Z").any() and shapes.str.contains(r"^\S+ \S+$").any()
    assert shapes.str.ends_with("+08:00").mean() > 0.6


def test_the_deliberate_bad_rows_are_there_and_rejected(mixed):
    root, _ = mixed
    c = _table(root, "contacts")
    ids = set(c["event_id"].fill_null("").to_list())
    assert BAD_CONTACTS <= ids
    assert c.filter(pl.col("event_id") == "BAD-CHANNEL")["channel"].item() == "fax"
    same = c.filter(pl.col("event_id") == "X-DUP-SAME").drop("_file")
    assert same.height == 2 and same.unique().height == 1
    conflict = c.filter(pl.col("event_id") == "X-DUP-CONFLICT")
    assert conflict.height == 2 and conflict["content"].n_unique() == 2

    result = audit.load(root)
    counts = {k: v.as_dict() for k, v in result.counts.items()}
    assert counts["contacts"]["rejected"] == 9 and counts["contacts"]["duplicates"] == 1
    assert counts["installments"]["rejected"] == 4
    for t in ("borrowers", "loans", "emergency_contacts"):
        assert counts[t]["rejected"] == 0 and counts[t]["loaded"] == counts[t]["read"]
    keys = sorted(result.rejected.filter(pl.col("table") == "contacts")["key"].to_list())
    assert keys == sorted([*BAD_CONTACTS, "X-DUP-CONFLICT", "X-DUP-CONFLICT"])


def test_without_bad_rows_everything_loads(tmp_path):
    generate(tmp_path, loans=20, seed=2, bad_rows=False)
    result = audit.load(tmp_path)
    assert all(v.rejected == 0 and v.duplicates == 0 for v in result.counts.values())


def test_generation_is_vectorised_at_size(tmp_path):
    """2000 loans make tens of thousands of contacts: only a vectorised generator does that quickly."""
    counts = generate(tmp_path, loans=2000, seed=5, fmt="parquet")
    random_contacts = counts["contacts"] - 300  # the fixed edge cases are about 270 rows
    assert 10 * 2000 < random_contacts < 60 * 2000
    assert counts["loans"] == 2000 + 31


@pytest.mark.parametrize("policy", POLICIES)
def test_edge_cases_are_flagged_exactly_as_listed(mixed, policy):
    root, _ = mixed
    result = audit.audit(data=root, policy=SAMPLE / "policies" / f"{policy}.yaml")
    got = result.violations.filter(pl.col("loan_id").str.starts_with("LX")).select("rule_id", "event_id")
    # The policy's id from its own file, not from the output under test.
    pid = yaml.safe_load((SAMPLE / "policies" / f"{policy}.yaml").read_text(encoding="utf-8"))["policy_id"]
    expected = pl.read_csv(SAMPLE / "expected_edge_violations.csv").filter(pl.col("policy_id") == pid)
    expected = expected.select("rule_id", "event_id")
    assert expected.height > 0, f"expected_edge_violations.csv lists nothing for {pid}"
    missing = expected.join(got, on=["rule_id", "event_id"], how="anti")
    extra = got.join(expected, on=["rule_id", "event_id"], how="anti")
    assert missing.is_empty() and extra.is_empty(), f"missing {missing.rows()}; extra {extra.rows()}"


def test_committed_sample_data_matches_the_generator(tmp_path):
    counts = generate(tmp_path, loans=300, seed=7)
    for name in TABLE_NAMES:
        fresh = _table(tmp_path, name)
        committed = _table(SAMPLE, name)
        assert fresh.height == counts[name]
        assert committed.equals(fresh), f"{name}: regenerate sample_data with generate('sample_data', loans=300, seed=7)"


def test_sample_readme_load_counts_are_current():
    text = (SAMPLE / "README.md").read_text(encoding="utf-8")
    m = re.search(r"contacts read (\d+), loaded (\d+), duplicates (\d+),\s+rejected (\d+); installments read (\d+), "
                  r"loaded (\d+), rejected (\d+)", text)
    assert m, "the README's 'Expected load counts' sentence changed shape"
    counts = audit.load(SAMPLE).counts
    c, i = counts["contacts"], counts["installments"]
    assert [int(g) for g in m.groups()] == [c.read, c.loaded, c.duplicates, c.rejected, i.read, i.loaded, i.rejected]
