"""Loading: every row accounted for, formats, encodings, zones, duplicates and the store."""

from __future__ import annotations

import polars as pl
import pytest

import audit
from audit import store
from audit.errors import LoadError
from audit.ingest import load_dataset
from helpers import contact, write_dataset, write_table


def _accounting_holds(result) -> bool:
    return all(c.read == c.loaded + c.updated + c.duplicates + c.rejected for c in result.counts.values())


def test_each_bad_value_is_rejected_with_every_reason_and_the_rest_loads(tmp_path):
    root = write_dataset(tmp_path, contacts=[
        contact("ok", "2026-11-05T10:00:00+08:00"),
        contact("fax", "2026-11-05T10:00:00+08:00", channel="FAX", duration_s="-3"),
        contact("noloan", "2026-11-05T10:00:00+08:00", loan_id="L404"),
        contact("badts", "2026-02-30T10:00:00+08:00"),
        contact("norecipient", "2026-11-05T10:00:00+08:00", recipient_type="emergency_contact"),
        contact("", "2026-11-05T10:00:00+08:00"),
        contact("Case", "2026-11-05T10:00:00+08:00", channel="SMS", recipient_type="Borrower", outcome="Delivered"),
    ])
    result = audit.load(root)
    reasons = dict(result.rejected.select("key", "reasons").iter_rows())
    assert result.counts["contacts"].as_dict() == dict(read=7, loaded=2, updated=0, duplicates=0, rejected=5)
    assert "channel 'fax' is not one of: call, sms" in reasons["fax"]
    assert "duration_s -3 is below 0" in reasons["fax"]
    assert "loan_id 'L404' is not in loans" in reasons["noloan"]
    assert "is not a timestamp" in reasons["badts"]
    assert "recipient_id is empty" in reasons["norecipient"]
    assert reasons[""] == "event_id is empty"


def test_rejected_rows_keep_file_row_number_and_original_values(tmp_path):
    root = write_dataset(tmp_path, contacts=[contact("ok", "2026-11-05T10:00:00+08:00"),
                                              contact("bad", "yesterday")])
    row = audit.load(root).rejected.row(0, named=True)
    assert (row["source_file"], row["row"]) == ("contacts.jsonl", 2)
    assert '"ts":"yesterday"' in row["values"]


def test_identical_copies_count_as_duplicates_and_conflicting_ones_are_all_rejected(tmp_path):
    root = write_dataset(tmp_path, contacts=[])
    same = contact("same", "2026-11-05T10:00:00+08:00", content="hi")
    (root / "contacts.jsonl").unlink()
    write_table(root / "contacts", "a", [same, contact("clash", "2026-11-05T10:00:00+08:00", content="v1")], "jsonl")
    # The same event written in another format and zone notation is still identical.
    write_table(root / "contacts", "b", [{**same, "ts": "2026-11-05T02:00:00Z"},
                                         contact("clash", "2026-11-05T10:00:00+08:00", content="v2")], "csv")
    result = audit.load(root)
    c = result.counts["contacts"]
    assert (c.loaded, c.duplicates, c.rejected) == (1, 1, 2)
    assert set(result.rejected["key"]) == {"clash"}


def test_reloading_the_same_files_changes_nothing(tmp_path):
    root = write_dataset(tmp_path / "d", contacts=[contact(f"e{i}", "2026-11-05T10:00:00+08:00") for i in range(5)])
    db = tmp_path / "s.duckdb"
    first = audit.load(root, db=db)
    second = audit.load(root, db=db)
    assert first.counts["contacts"].loaded == 5
    assert all(c.loaded == c.updated == c.rejected == 0 and c.duplicates == c.read for c in second.counts.values())
    con = store.connect(db)
    assert store.row_count(con, "contacts") == 5 and store.row_count(con, "installments") == 1


def test_a_stored_event_is_never_changed_but_a_snapshot_row_is_updated(tmp_path):
    db = tmp_path / "s.duckdb"
    day1 = write_dataset(tmp_path / "day1", contacts=[contact("e1", "2026-11-05T10:00:00+08:00", content="v1")])
    audit.load(day1, db=db)
    paid = {"loan_id": "L1", "seq": 1, "due_date": "2026-11-01", "amount_due": "1000.00",
            "paid_at": "2026-11-06T09:00:00+08:00"}
    day2 = write_dataset(tmp_path / "day2", installments=[paid],
                         contacts=[contact("e1", "2026-11-05T10:00:00+08:00", content="v2")])
    result = audit.load(day2, db=db)
    assert result.counts["installments"].updated == 1
    assert result.counts["contacts"].rejected == 1
    assert "already stored with different values" in result.rejected["reasons"][0]
    con = store.connect(db)
    assert con.execute("SELECT content FROM contacts").fetchall() == [("v1",)]
    assert con.execute("SELECT paid_at IS NOT NULL FROM installments").fetchall() == [(True,)]


def test_naive_timestamps_without_a_zone_are_refused_naming_table_column_and_example(tmp_path):
    root = write_dataset(tmp_path, contacts=[contact("e1", "2026-11-05 10:00:00")])
    with pytest.raises(LoadError, match=r"contacts\.ts .*'2026-11-05 10:00:00'.*--timezone"):
        audit.load(root)


def test_naive_timestamps_are_wall_clock_in_the_given_zone(tmp_path):
    root = write_dataset(tmp_path, contacts=[contact("e1", "2026-11-05 10:00:00")])
    con = store.connect()
    load_dataset(con, root, timezone_name="America/New_York")
    assert str(con.execute("SELECT strftime(ts, '%Y-%m-%dT%H:%M:%S') FROM contacts").fetchall()[0][0]) == "2026-11-05T15:00:00"


def test_a_wall_clock_time_skipped_by_daylight_saving_is_rejected(tmp_path):
    root = write_dataset(tmp_path, contacts=[contact("gap", "2026-03-08 02:30:00"), contact("ok", "2026-03-08 03:30:00")])
    result = audit.load(root, timezone="America/New_York")
    assert result.rejected["key"].to_list() == ["gap"]
    assert "does not exist in America/New_York" in result.rejected["reasons"][0]


def test_parquet_timestamps_with_a_zone_are_absolute_and_without_are_wall_clock(tmp_path):
    root = write_dataset(tmp_path, contacts=[])
    (root / "contacts.jsonl").unlink()
    from datetime import datetime

    df = pl.DataFrame({
        "event_id": ["aware", "naive"], "loan_id": ["L1", "L1"],
        "ts": [datetime(2026, 11, 5, 2, 0), datetime(2026, 11, 5, 10, 0)],
        "channel": ["call", "call"], "recipient_type": ["borrower", "borrower"],
    })
    (root / "contacts").mkdir()
    df.filter(pl.col("event_id") == "aware").with_columns(pl.col("ts").dt.replace_time_zone("UTC")).write_parquet(
        root / "contacts" / "a.parquet")
    df.filter(pl.col("event_id") == "naive").write_parquet(root / "contacts" / "b.parquet")
    con = store.connect()
    load_dataset(con, root, timezone_name="Asia/Shanghai")
    rows = con.execute("SELECT event_id, strftime(ts, '%H:%M') FROM contacts ORDER BY event_id").fetchall()
    assert rows == [("aware", "02:00"), ("naive", "02:00")]


def test_gb18030_csv_loads_with_encoding_and_fails_clearly_without(tmp_path):
    root = write_dataset(tmp_path, contacts=[contact("e1", "2026-11-05T10:00:00+08:00")],
                         borrowers=[{"borrower_id": "B1", "name": "张三", "timezone": "Asia/Shanghai"}])
    text = (root / "borrowers.csv").read_text(encoding="utf-8")
    (root / "borrowers.csv").write_bytes(text.encode("gb18030"))
    with pytest.raises(LoadError, match="not valid utf-8.*--encoding"):
        audit.load(root)
    con = store.connect()
    load_dataset(con, root, encoding="gb18030")
    assert con.execute("SELECT name FROM borrowers").fetchall() == [("张三",)]


def test_column_names_match_case_insensitively_and_unknown_columns_are_ignored(tmp_path):
    root = write_dataset(tmp_path, contacts=[contact("e1", "2026-11-05T10:00:00+08:00")],
                         loans=[{"LOAN_ID": "L1", "Borrower_Id": "B1", "principal": "5", "branch": "north"}])
    assert audit.load(root).counts["loans"].loaded == 1


def test_a_missing_required_table_or_column_stops_the_load_with_one_line(tmp_path):
    root = write_dataset(tmp_path, contacts=[contact("e1", "2026-11-05T10:00:00+08:00")])
    (root / "installments.csv").unlink()
    with pytest.raises(LoadError, match="required table installments is missing"):
        audit.load(root)
    root2 = write_dataset(tmp_path / "b", contacts=[contact("e1", "2026-11-05T10:00:00+08:00")],
                          loans=[{"loan_id": "L1"}])
    with pytest.raises(LoadError, match="required column borrower_id of loans is missing"):
        audit.load(root2)


def test_a_file_that_cannot_be_parsed_leaves_the_store_as_it_was(tmp_path):
    db = tmp_path / "s.duckdb"
    good = write_dataset(tmp_path / "good", contacts=[contact("e1", "2026-11-05T10:00:00+08:00")])
    audit.load(good, db=db)
    bad = write_dataset(tmp_path / "bad", contacts=[contact("e2", "2026-11-05T10:00:00+08:00")])
    (bad / "contacts").mkdir()
    (bad / "contacts" / "broken.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(LoadError, match="broken.parquet"):
        audit.load(bad, db=db)
    con = store.connect(db)
    assert store.row_count(con, "contacts") == 1


def test_references_resolve_against_the_store_plus_this_load(tmp_path):
    db = tmp_path / "s.duckdb"
    audit.load(write_dataset(tmp_path / "a", contacts=[]), db=db)
    later = tmp_path / "b"
    write_table(later, "contacts", [contact("e1", "2026-11-05T10:00:00+08:00"),
                                    contact("e2", "2026-11-05T10:00:00+08:00", loan_id="L2")], "jsonl")
    write_table(later, "loans", [{"loan_id": "L2", "borrower_id": "B404", "principal": "1"}])
    result = audit.load(later, db=db)
    assert result.counts["loans"].rejected == 1            # borrower B404 unknown
    assert result.rejected.filter(pl.col("table") == "contacts")["key"].to_list() == ["e2"]
    assert _accounting_holds(result)


def test_amounts_keep_cents_and_refuse_sub_cent_or_non_positive_values(tmp_path):
    root = write_dataset(tmp_path, contacts=[], installments=[
        {"loan_id": "L1", "seq": 1, "due_date": "2026-11-01", "amount_due": "1200.17", "paid_at": None},
        {"loan_id": "L1", "seq": 2, "due_date": "2026-12-01", "amount_due": "1200.175", "paid_at": None},
        {"loan_id": "L1", "seq": 3, "due_date": "2027-01-01", "amount_due": "0", "paid_at": None},
        {"loan_id": "L1", "seq": 0, "due_date": "2027-02-30", "amount_due": "1", "paid_at": None},
    ])
    result = audit.load(root)
    reasons = dict(result.rejected.select("key", "reasons").iter_rows())
    assert result.counts["installments"].loaded == 1
    assert "amount_due '1200.175' is not an amount" in reasons["L1|2"]
    assert "amount_due 0.00 is not greater than 0" in reasons["L1|3"]
    assert "seq 0 is below 1" in reasons["L1|0"] and "due_date '2027-02-30' is not a date" in reasons["L1|0"]


def _tables(con) -> dict[str, list[tuple]]:
    names = ("borrowers", "loans", "installments", "emergency_contacts", "contacts")
    return {n: sorted(con.execute(f"SELECT * FROM {n}").fetchall(), key=repr) for n in names}


def _awkward_contacts(root):
    """Contacts that exercise every fate of a row: loaded, duplicate, conflict, bad value, unknown loan."""
    root = write_dataset(root, contacts=[])
    (root / "contacts.jsonl").unlink()
    same = contact("same", "2026-11-05T10:00:00+08:00", content="hi")
    write_table(root / "contacts", "a", [same, contact("clash", "2026-11-05T10:00:00+08:00", content="v1"),
                                         contact("ok", "2026-11-06T10:00:00+08:00"),
                                         contact("noloan", "2026-11-05T10:00:00+08:00", loan_id="L404")], "parquet")
    write_table(root / "contacts", "b", [same, contact("clash", "2026-11-05T10:00:00+08:00", content="v2"),
                                         contact("fax", "2026-11-05T10:00:00+08:00", channel="FAX")], "jsonl")
    return root


def test_an_empty_in_memory_store_takes_the_staged_rows_as_its_table_with_the_same_result_as_a_copy(tmp_path):
    from audit.ingest.stage import becomes_table
    from audit.schemas import TABLES

    root = _awkward_contacts(tmp_path / "d")
    memory, file = store.connect(None), store.connect(tmp_path / "s.duckdb")
    try:
        assert becomes_table(memory, TABLES["contacts"]) and not becomes_table(file, TABLES["contacts"])
        got = {name: load_dataset(con, root) for name, con in (("memory", memory), ("file", file))}
        assert {k: v.as_dict() for k, v in got["memory"].counts.items()} == {
            k: v.as_dict() for k, v in got["file"].counts.items()}
        assert got["memory"].counts["contacts"].as_dict() == dict(read=7, loaded=2, updated=0, duplicates=1,
                                                                  rejected=4)
        assert got["memory"].rejected.equals(got["file"].rejected)
        assert _tables(memory) == _tables(file)
        # The working columns and the staging tables are gone; the table has the store's columns.
        assert [r[0] for r in memory.execute("DESCRIBE contacts").fetchall()] == [
            r[0] for r in file.execute("DESCRIBE contacts").fetchall()]
        assert memory.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '\\_incoming%' "
                              "ESCAPE '\\'").fetchone()[0] == 0
        # A second load into the (no longer empty) table goes the usual way and finds the duplicates.
        again = load_dataset(memory, root).counts["contacts"]
        assert (again.loaded, again.duplicates) == (0, 3)
    finally:
        memory.close()
        file.close()


def test_a_load_that_fails_after_the_staged_table_became_the_store_table_leaves_it_empty(tmp_path, monkeypatch):
    import audit.ingest.merge as merge

    root = _awkward_contacts(tmp_path / "d")
    con = store.connect(None)

    def fail(frame):
        raise LoadError("disk full")

    monkeypatch.setattr(merge.pii, "mask_frame", fail)  # runs after every table is merged, before the commit
    try:
        with pytest.raises(LoadError, match="disk full"):
            load_dataset(con, root)
        assert {n: len(rows) for n, rows in _tables(con).items()} == dict.fromkeys(
            ("borrowers", "loans", "installments", "emergency_contacts", "contacts"), 0)
        assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '\\_incoming%' "
                           "ESCAPE '\\'").fetchone()[0] == 0
        monkeypatch.undo()
        assert load_dataset(con, root).counts["contacts"].loaded == 2  # and the next load works
    finally:
        con.close()
