"""Properties over drawn datasets: the engine equals the loop oracle, and how a dataset is cut into loads,
or in which format, never changes the result.

The datasets are valid first, then broken a little, so that almost every
drawn case loads contacts and breaks rules (each test counts what its cases
reached, asserts the shares, and pytest's closing summary lists them):

- `sample_cases`: the sample generator with a drawn seed, size and format,
  plus drawn contacts placed at window boundaries of existing ones (0 s, 1 s,
  an hour, a day, 6 and 7 days, 168 hours either side), drawn instalments that
  move the days past due, identical and conflicting copies of stored events,
  and a few invalid rows. The engine must equal tests/oracle.py, which reads
  the same files and the policy YAML itself, under every shipped policy and
  a tight policy that switches every rule on with small limits; and the
  loader's store must equal the oracle's reading of the files.
- `datasets`: a few borrowers, loans, instalments and contacts of valid
  values (odd-but-valid spellings: enum case, `+08:00` vs `Z`, `1` vs `1.0`)
  with some rows mutated to invalid values (bad dates, amounts, enums,
  unknown references, impossible timestamps) and repeated keys. Then one
  load equals the same rows cut into random batches loaded in random order;
  loading the same files again, or the same day in another format, changes
  nothing and counts every accepted row as a duplicate; a nightly load of
  changed instalments updates exactly those.

Repeated keys come in two kinds. Identical copies (equal once parsed) may be
cut into different batches. Conflicting copies (same key, different values)
stay in one batch: SPEC §1 makes their fate depend on the cut on purpose
(all rejected within one load; across loads an event keeps the first and a
snapshot row takes the last), so that case is pinned by examples in
test_ingest.py instead.

Examples: the Hypothesis profile (tests/conftest.py) gives more with CI set;
AUDIT_FUZZ_EXAMPLES=N overrides.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path

import polars as pl
import yaml
from hypothesis import Phase, given, settings, target
from hypothesis import strategies as st

import oracle
from audit import store
from audit.engine import run_audit
from audit.ingest import load_dataset
from audit.policy import load_policy, parse_policy
from audit.sample import generate
from audit.schemas import TABLES
from helpers import Reach, examples

ZONE = "Asia/Shanghai"   # naive timestamps in the drawn data are wall-clock time here
POLICY = load_policy()  # the built-in default
FORMATS = ("csv", "jsonl", "parquet")
ROOT = Path(__file__).resolve().parents[1]

BORROWER_IDS = ["B1", "B2", "B3"]
LOAN_IDS = ["L1", "L2", "L3", "L4"]


# Valid values, and for each column the invalid ones a row may be spoilt with (one row in five).
zones = st.sampled_from([ZONE, "America/New_York", "Europe/London", None])
principals = st.sampled_from(["10000.00", "5000", "1000.0", None])
due_dates = st.sampled_from(["2026-10-01", "2026-10-25", "2026-11-01", "2026-11-04", "2026-11-20"])
amounts = st.sampled_from(["1000.00", "1000", "250.5", "10000"])
# (instant, equivalent spellings of it): copies of one row may use any of them.
INSTANTS = [
    ("2026-11-05T23:30:00+08:00", "2026-11-05T15:30:00+00:00", "2026-11-05T23:30+08:00"),
    ("2026-11-05T10:00:00+08:00", "2026-11-05T02:00:00Z", "2026-11-05 10:00:00+0800", "2026-11-05 10:00:00"),
    ("2026-11-05T23:30:01+08:00", "2026-11-05T15:30:01Z"),
    ("2026-11-06T10:00:00+08:00", "2026-11-06T02:00:00Z"),
    ("2026-11-08T09:15:00+08:00", "2026-11-08T01:15:00Z"),
    ("2026-11-09T07:59:59+08:00", "2026-11-08T23:59:59Z", "2026-11-09 07:59:59"),
    ("2026-11-12T12:00:00.250+08:00", "2026-11-12T04:00:00.25Z"),
    ("2026-11-12T10:00:00+08:00", "2026-11-12T02:00:00Z"),
    ("2026-11-20T20:00:00-05:00", "2026-11-21T01:00:00Z"),
]
BAD_TIMESTAMPS = ["2026-02-30T10:00:00+08:00", "yesterday", "2026-11-05T25:00:00+08:00", "1e20"]
channels = st.sampled_from(["call", "call", "sms", "email", "CALL", "Sms"])
recipient_types = st.sampled_from(["third_party", "borrower", "borrower", "emergency_contact", "Third_Party"])
recipient_ids = st.sampled_from(["K1", "K2", "X9"])
outcomes = st.sampled_from([None, "no_answer", "connected", "delivered", "NO_ANSWER", "do_not_contact"])
durations = st.sampled_from([None, "30", "12.0"])
contents = st.sampled_from([None, "hi", "您的欠款 1000 元已逾期", "请回电 13812345678", "  ", "=1+2"])
SPOILT = {
    "borrowers": {"timezone": ["Mars/Olympus"], "borrower_id": [None]},
    "loans": {"borrower_id": ["B404"], "principal": ["-1", "1.234", "abc"]},
    "emergency_contacts": {"borrower_id": ["B404"], "contact_id": [None]},
    "installments": {"loan_id": ["L404"], "seq": ["0", "x"], "due_date": ["2026-02-30", "11/01/2026"],
                     "amount_due": ["0", "-5", "1.005", "1e3"], "paid_at": ["soon"]},
    "contacts": {"loan_id": ["L404"], "ts": BAD_TIMESTAMPS, "channel": ["fax", None], "recipient_type": ["alien"],
                 "outcome": ["teleported"], "duration_s": ["-1", "1.5"]},
}


def _spoil(draw, table: str, row: dict, first: bool = False) -> dict:
    """The row as it is four times in five; otherwise with one column given an invalid value.

    The first row of a table is never spoilt, so that every case has a loan and a contact to judge.
    """
    if first or not draw(st.sampled_from([False, False, False, False, True]), label="spoilt"):
        return row
    column = draw(st.sampled_from(sorted(SPOILT[table])))
    return {**row, column: draw(st.sampled_from(SPOILT[table][column]))}


def _ts_spelling(draw, allow_null=False):
    """A chooser giving one spelling per copy of one instant (or null)."""
    kind = draw(st.sampled_from(["good", "null", "null"] if allow_null else ["good"]))
    if kind == "good":
        i = draw(st.integers(0, len(INSTANTS) - 1))
        return lambda d: d(st.sampled_from(INSTANTS[i]))
    if kind == "bad":
        bad = draw(st.sampled_from(BAD_TIMESTAMPS))
        return lambda d: bad
    return lambda d: None


def _seq_spelling(n: int):
    return lambda d: d(st.sampled_from([str(n), f"{n}.0"])) if n >= 1 else str(n)


def _enum_spelling(value):
    if value is None:
        return lambda d: None
    return lambda d: d(st.sampled_from([value, value.upper(), value.lower()]))


def _amount_spelling(value):
    if value in ("1000.00", "1000"):
        return lambda d: d(st.sampled_from(["1000.00", "1000", "1000.0"]))
    return lambda d: value


@st.composite
def datasets(draw):
    """{table: [groups]}; a group is a list of copies of one key (identical once parsed, or conflicting)."""
    borrowers = [_spoil(draw, "borrowers", {"borrower_id": b, "timezone": draw(zones),
                                            "phone": draw(st.sampled_from([None, "13812345678"]))}, i == 0)
                 for i, b in enumerate(draw(st.lists(st.sampled_from(BORROWER_IDS), min_size=1, max_size=3,
                                                     unique=True)))]
    known = [b["borrower_id"] for b in borrowers if b["borrower_id"] and b["timezone"] != "Mars/Olympus"]
    loans = [_spoil(draw, "loans", {"loan_id": lid, "borrower_id": draw(st.sampled_from(known)),
                                    "principal": draw(principals)}, i == 0)
             for i, lid in enumerate(draw(st.lists(st.sampled_from(LOAN_IDS), min_size=1, max_size=4, unique=True)))]
    loan_ids = [r["loan_id"] for r in loans]
    emergency = [_spoil(draw, "emergency_contacts", {"borrower_id": b, "contact_id": k, "relationship": "sibling"})
                 for b, k in draw(st.lists(st.tuples(st.sampled_from(known), st.sampled_from(["K1", "K2"])),
                                           max_size=3, unique=True))]

    inst_keys = draw(st.lists(st.tuples(st.sampled_from(loan_ids), st.integers(1, 3)),
                              min_size=1, max_size=6, unique=True))
    installments = []
    for loan_id, seq in inst_keys:
        due, amount = draw(due_dates), draw(amounts)
        paid = _ts_spelling(draw, allow_null=True)
        seq_s, amount_s = _seq_spelling(seq), _amount_spelling(amount)
        copies = draw(st.sampled_from([1, 1, 1, 2, 3]))
        conflict = copies > 1 and draw(st.booleans())
        group = []
        spoilt = _spoil(draw, "installments", {})
        for c in range(copies):
            row = {"loan_id": loan_id, "seq": seq_s(draw), "due_date": due, "amount_due": amount_s(draw),
                   "paid_at": paid(draw), **spoilt}
            if conflict and c > 0:
                row["due_date"] = "2026-12-0" + str(c)
            group.append(row)
        installments.append((conflict, group))

    contacts = []
    for n in range(draw(st.integers(2, 12))):
        rt = draw(recipient_types)
        base = {"event_id": f"e{n}", "loan_id": draw(st.sampled_from(loan_ids[:1] if n == 0 else loan_ids)),
                "recipient_id": draw(recipient_ids) if (rt or "").lower() != "borrower" else None,
                "agent_id": draw(st.sampled_from([None, "A1", "@A2"])),
                "duration_s": draw(durations), "content": draw(contents)}
        ts = _ts_spelling(draw)
        ch, rt, oc = _enum_spelling(draw(channels)), _enum_spelling(rt), _enum_spelling(draw(outcomes))
        copies = draw(st.sampled_from([1, 1, 1, 2, 3]))
        conflict = copies > 1 and n > 0 and draw(st.booleans())
        group = []
        spoilt = _spoil(draw, "contacts", {}, n == 0)
        for c in range(copies):
            row = {**base, "ts": ts(draw), "channel": ch(draw), "recipient_type": rt(draw), "outcome": oc(draw),
                   **spoilt}
            if conflict and c > 0:
                row["content"] = f"version {c}"
            group.append(row)
        contacts.append((conflict, group))
    return {"borrowers": borrowers, "loans": loans, "emergency_contacts": emergency,
            "installments": installments, "contacts": contacts}


# ------------------------------------------------------------------ writing and loading

def write_table(root: Path, table: str, rows: list[dict], fmt: str) -> None:
    """All values as text (or null): what an export hands us, in any of the three formats."""
    names = TABLES[table].names
    rows = [{c: r.get(c) for c in names} for r in rows]
    path = root / f"{table}.{fmt}"
    root.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        return
    df = pl.DataFrame(rows, schema={c: pl.String for c in names})
    df.write_csv(path) if fmt == "csv" else df.write_parquet(path)


def write_batch(root: Path, ds: dict, contacts: list[dict], installments: list[dict], fmts: dict[str, str]) -> Path:
    for table in ("borrowers", "loans", "emergency_contacts"):
        if ds[table]:
            write_table(root, table, ds[table], fmts[table])
    write_table(root, "installments", installments, fmts["installments"])
    write_table(root, "contacts", contacts, fmts["contacts"])
    return root


def all_rows(groups) -> list[dict]:
    return [row for _, group in groups for row in group]


def snapshot(con) -> dict[str, pl.DataFrame]:
    """The five tables' contents, sorted, so two stores compare equal when they hold the same rows."""
    out = {}
    for name, t in TABLES.items():
        df = store.frame(con, f"SELECT * FROM {name}")
        out[name] = df.sort(t.names, nulls_last=True)
    return out


def violations(con) -> pl.DataFrame:
    v = run_audit(con, POLICY).violations
    return v.sort(["rule_id", "event_id"])


def assert_same_store(a: dict, b: dict) -> None:
    for name in TABLES:
        assert a[name].equals(b[name]), f"{name} differs:\n{a[name]}\n{b[name]}"


_CONFLICT = r"(; )?[^;]* appears [0-9]+ times in this load with different values \(all rejected\)"


def rejected_multiset(results, tables=("contacts", "installments")) -> list[tuple]:
    """(table, key, reasons) of every rejected row, without the "appears N times in this load" reason.

    That reason may differ: copies of a row that fails on its own are compared
    as written, so `seq` 2 and 2.0 count as different within one load but are
    never compared across loads. The row is rejected either way.
    """
    rows = []
    for r in results:
        rows += r.rejected.filter(pl.col("table").is_in(list(tables))).select(
            "table", "key", pl.col("reasons").str.replace(_CONFLICT, "")).rows()
    return sorted(rows)


# ------------------------------------------------------------------ properties of loading

def _reached(reach: Reach, result, v: pl.DataFrame) -> None:
    reach.case()
    reach.saw("contacts loaded", result.counts["contacts"].loaded > 0)
    reach.saw("violations", v.height > 0)
    reach.saw("rows rejected", sum(c.rejected for c in result.counts.values()) > 0)
    target(float(v.height), label="violations")


def test_loading_in_one_batch_or_in_random_batches_gives_the_same_store_and_violations():
    reach = Reach("one batch or random batches")

    @settings(max_examples=examples(ci=30, local=8))
    @given(ds=datasets(), data=st.data())
    def check(ds, data):
        with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
            tmp = Path(tmp)
            fmt = data.draw(st.fixed_dictionaries({t: st.sampled_from(FORMATS) for t in TABLES}), label="formats")
            one = store.connect()
            whole = load_dataset(one, write_batch(tmp / "whole", ds, all_rows(ds["contacts"]),
                                                  all_rows(ds["installments"]), fmt), timezone_name=ZONE)

            k = data.draw(st.integers(2, 4), label="batches")
            contacts, installments = [[] for _ in range(k)], [[] for _ in range(k)]
            for table, buckets in (("contacts", contacts), ("installments", installments)):
                for i, (conflict, group) in enumerate(ds[table]):
                    if i == 0:  # the first load must bring rows of every required table
                        buckets[0].extend(group)
                    elif conflict:  # conflicting copies stay together (see the module docstring)
                        buckets[data.draw(st.integers(0, k - 1))].extend(group)
                    else:
                        for row in group:
                            buckets[data.draw(st.integers(0, k - 1))].append(row)
            split = store.connect()
            results = []
            for b in range(k):
                order = data.draw(st.permutations(range(len(contacts[b]))), label="contact order")
                fmts = data.draw(st.fixed_dictionaries({t: st.sampled_from(FORMATS) for t in TABLES}),
                                 label="formats")
                root = write_batch(tmp / f"batch{b}", ds, [contacts[b][i] for i in order], installments[b], fmts)
                results.append(load_dataset(split, root, timezone_name=ZONE))

            assert_same_store(snapshot(one), snapshot(split))
            v = violations(one)
            assert v.equals(violations(split))
            _reached(reach, whole, v)
            # Each contact and instalment row was read once either way, and met the same fate.
            for table in ("contacts", "installments"):
                assert sum(r.counts[table].read for r in results) == whole.counts[table].read
            assert rejected_multiset(results) == rejected_multiset([whole])
            for r in [whole, *results]:
                for c in r.counts.values():
                    assert c.read == c.loaded + c.updated + c.duplicates + c.rejected

    check()
    reach.check(**{"contacts loaded": 0.8, "violations": 0.6})


def test_loading_the_same_files_twice_changes_nothing_and_counts_duplicates():
    reach = Reach("the same files twice")

    @settings(max_examples=examples(ci=15, local=5))
    @given(ds=datasets(), fmt=st.sampled_from(FORMATS))
    def check(ds, fmt):
        with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
            root = write_batch(Path(tmp), ds, all_rows(ds["contacts"]), all_rows(ds["installments"]),
                               dict.fromkeys(TABLES, fmt))
            con = store.connect()
            first = load_dataset(con, root, timezone_name=ZONE)
            before, v_before = snapshot(con), violations(con)
            second = load_dataset(con, root, timezone_name=ZONE)
            assert_same_store(before, snapshot(con))
            assert violations(con).equals(v_before)
            _reached(reach, first, v_before)
            for name, c in second.counts.items():
                assert (c.loaded, c.updated) == (0, 0), name
                assert c.rejected == first.counts[name].rejected, name
                assert c.duplicates == c.read - c.rejected, name

    check()
    reach.check(**{"contacts loaded": 0.8, "violations": 0.6})


def test_the_same_day_again_in_another_format_changes_nothing():
    reach = Reach("the same day in another format")

    @settings(max_examples=examples(ci=15, local=5))
    @given(ds=datasets(), fmts=st.permutations(FORMATS))
    def check(ds, fmts):
        with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
            con = store.connect()
            rows = all_rows(ds["contacts"]), all_rows(ds["installments"])
            first = load_dataset(con, write_batch(Path(tmp) / fmts[0], ds, *rows, dict.fromkeys(TABLES, fmts[0])),
                                 timezone_name=ZONE)
            before, v_before = snapshot(con), violations(con)
            _reached(reach, first, v_before)
            for fmt in fmts[1:]:
                again = load_dataset(con, write_batch(Path(tmp) / fmt, ds, *rows, dict.fromkeys(TABLES, fmt)),
                                     timezone_name=ZONE)
                for name, c in again.counts.items():
                    assert (c.loaded, c.updated, c.rejected) == (0, 0, first.counts[name].rejected), (fmt, name)
                    assert c.duplicates == c.read - c.rejected, (fmt, name)
            assert_same_store(before, snapshot(con))
            assert violations(con).equals(v_before)

    check()
    reach.check(**{"contacts loaded": 0.8, "violations": 0.6})


@st.composite
def nightly(draw):
    """Valid instalments of L1/L2 on day 1; on day 2 a subset comes again, some of them paid or changed."""
    n = draw(st.integers(1, 6))
    valid_due = st.sampled_from(["2026-10-01", "2026-10-25", "2026-11-01", "2026-11-20"])
    day1 = [{"loan_id": f"L{1 + i % 2}", "seq": str(i + 1), "due_date": draw(valid_due), "amount_due": "1000.00",
             "paid_at": None} for i in range(n)]
    again = draw(st.lists(st.integers(0, n - 1), unique=True))
    changed = set(draw(st.lists(st.sampled_from(again), unique=True))) if again else set()
    day2 = []
    for i in again:
        row = dict(day1[i])
        if i in changed:
            if draw(st.booleans()):
                row["paid_at"] = draw(st.sampled_from(INSTANTS))[0]
            else:
                row["amount_due"] = "999.99"
        day2.append(row)
    fmts = draw(st.tuples(st.sampled_from(FORMATS), st.sampled_from(FORMATS)))
    return day1, day2, changed, fmts


@settings(max_examples=examples(ci=25, local=8))
@given(case=nightly())
def test_a_nightly_load_of_changed_installments_updates_exactly_those(case):
    day1, day2, changed, fmts = case
    loans = [{"loan_id": "L1", "borrower_id": "B1", "principal": "100.00"},
             {"loan_id": "L2", "borrower_id": "B1", "principal": "100.00"}]
    ds = {"borrowers": [{"borrower_id": "B1", "timezone": ZONE}], "loans": loans, "emergency_contacts": []}
    contacts = [{"event_id": "e1", "loan_id": "L1", "ts": INSTANTS[2][0], "channel": "sms",
                 "recipient_type": "borrower"}]
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        con = store.connect()
        load_dataset(con, write_batch(Path(tmp) / "d1", ds, contacts, day1, dict.fromkeys(TABLES, fmts[0])))
        result = load_dataset(con, write_batch(Path(tmp) / "d2", ds, [], day2, dict.fromkeys(TABLES, fmts[1])))
        c = result.counts["installments"]
        assert (c.read, c.loaded, c.updated, c.duplicates, c.rejected) == (
            len(day2), 0, len(changed), len(day2) - len(changed), 0)
        expected = {(r["loan_id"], int(r["seq"])): r for r in day1}
        expected.update({(r["loan_id"], int(r["seq"])): r for r in day2})
        stored = store.frame(con, "SELECT loan_id, seq, amount_due::VARCHAR AS amount, paid_at IS NOT NULL AS paid "
                                  "FROM installments").rows()
        assert sorted(stored) == sorted((k[0], k[1], r["amount_due"], r["paid_at"] is not None)
                                        for k, r in expected.items())
        assert store.row_count(con, "contacts") == 1  # a nightly load without contacts keeps the stored ones


# ------------------------------------------------------------------ the engine against the oracle, on generated data

SHIPPED = ["builtin:default", "builtin:cn-gbt-45251", "builtin:us-reg-f",
           *(str(p) for p in sorted((ROOT / "sample_data" / "policies").glob("*.yaml")))]
# Every rule on, with limits small enough that contacts drawn a few hours or days apart break them.
TIGHT = {"policy_id": "tight", "version": "1", "default_timezone": "Asia/Shanghai", "rules": {
    "third_party": {"min_days_past_due": 5, "registered_only": True, "unreachable_after_failed_calls": 2,
                    # Equal thresholds are left out: which tier wins is an open bug (test_rules.py).
                    "amount_tiers": [{"overdue_amount_at_least": 1000, "min_days_past_due": 3},
                                     {"overdue_amount_at_least": 20000, "min_days_past_due": 1}],
                    "escalation": [{"channel": "sms", "at_least": 1},
                                   {"channel": "call", "at_least": 2, "outcomes": ["no_answer", "busy"]}]},
    "contact_hours": {"start": "08:00", "end": "21:00", "end_inclusive": True},
    "frequency": [
        {"id": "F-DAY", "per": "loan", "window": "day", "max": 1},
        {"id": "F-7D", "per": "loan", "window": "7d", "max": 2, "exclude_outcomes": ["failed"]},
        {"id": "F-7-DAYS", "per": "recipient", "window": "7_days", "max": 2, "channels": ["call"]},
        {"id": "F-ALL", "per": "recipient", "window": "all", "max": 6, "outcomes": ["connected", "no_answer"]}],
    "do_not_contact": {},
    "quiet_after_conversation": {"days": 3, "exclude_outcomes": ["busy"]},
    "pii": {}, "disclosure": {"terms": ["逾期"], "amounts": True}}}
# Offsets from an existing contact, at the edges of the windows: a second, an hour, a day, 6 and 7 days, 168 h.
DELTAS = [dt.timedelta(seconds=s) for s in (
    0, 1, -1, 3600, 86399, 86400, -86400, 2 * 86400, 6 * 86400, 6 * 86400 + 86399, 7 * 86400 - 1, 7 * 86400,
    7 * 86400 + 1, -7 * 86400, 3 * 86400)]
SPELL = [lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ"),
         lambda t: t.astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat(),
         lambda t: t.astimezone(dt.timezone(dt.timedelta(hours=-5))).strftime("%Y-%m-%d %H:%M:%S%z")]
CHANNELS = ["call", "call", "sms", "email", "visit"]
RECIPIENTS = ["borrower", "borrower", "emergency_contact", "third_party"]
OUTCOMES = ["no_answer", "connected", "busy", "failed", "delivered", "do_not_contact", None]
CONTENTS = [None, "请尽快还款", "您的亲友已逾期", "欠款 {amount} 元", "call {phone}", "卡号 {card}"]


@st.composite
def sample_cases(draw):
    """(dataset directory, event ids of the drawn contacts): generated data with drawn rows added."""
    seed, loans = draw(st.integers(0, 10**6), label="seed"), draw(st.integers(2, 25), label="loans")
    root = Path(tempfile.mkdtemp(dir="/tmp", prefix="prop-"))
    generate(root, loans=loans, seed=seed, fmt=draw(st.sampled_from(["mixed", "csv", "parquet"])),
             bad_rows=draw(st.booleans()))
    tables = oracle.read_dataset([root])
    contacts = sorted(tables["contacts"], key=lambda c: c["event_id"])
    borrowers = {b["borrower_id"]: b for b in tables["borrowers"]}
    loans_by_id = {r["loan_id"]: r for r in tables["loans"]}
    ec = {}
    for r in tables["emergency_contacts"]:
        ec.setdefault(r["borrower_id"], []).append(r["contact_id"])
    drawn, installments = [], []
    for i in range(draw(st.integers(1, 12), label="drawn contacts")):
        anchor = contacts[draw(st.integers(0, len(contacts) - 1))]
        borrower = borrowers.get(loans_by_id[anchor["loan_id"]]["borrower_id"], {})
        t = anchor["ts"] + draw(st.sampled_from(DELTAS))
        rtype = draw(st.sampled_from(RECIPIENTS))
        rid = None if rtype == "borrower" else draw(st.sampled_from(ec.get(borrower.get("borrower_id"), []) + ["X-1"]))
        content = draw(st.sampled_from(CONTENTS))
        if content:
            content = content.format(amount=loans_by_id[anchor["loan_id"]]["principal"],
                                     phone=borrower.get("phone"), card=borrower.get("bank_card"))
        drawn.append({"event_id": f"H-{i:03d}", "loan_id": anchor["loan_id"], "ts": draw(st.sampled_from(SPELL))(t),
                      "channel": draw(st.sampled_from(CHANNELS)), "recipient_type": rtype, "recipient_id": rid,
                      "outcome": draw(st.sampled_from(OUTCOMES)), "content": content})
        if draw(st.sampled_from([False, False, True]), label="an instalment due before it"):
            local = t.astimezone(dt.timezone(dt.timedelta(hours=8))).date()
            installments.append({"loan_id": anchor["loan_id"], "seq": str(90 + i),
                                 "due_date": str(local - dt.timedelta(days=draw(st.integers(0, 9)))),
                                 "amount_due": draw(st.sampled_from(["1000.00", "50000", "12.5"])),
                                 "paid_at": draw(st.sampled_from([None, SPELL[0](t), SPELL[0](t + DELTAS[1])]))})
    # Copies of stored events: identical (a duplicate) or conflicting (all copies rejected), and invalid rows.
    for c in draw(st.lists(st.sampled_from(contacts[:50]), max_size=2, unique_by=lambda c: c["event_id"])):
        copy = {k: c[k] for k in ("event_id", "loan_id", "channel", "recipient_type", "recipient_id", "agent_id",
                                  "outcome", "duration_s", "content")} | {"ts": SPELL[0](c["ts"])}
        if draw(st.booleans(), label="conflicting copy"):
            copy["content"] = (copy["content"] or "") + " (edited)"
        drawn.append(copy)
    bad = {"event_id": "H-BAD", "loan_id": contacts[0]["loan_id"], "ts": SPELL[0](contacts[0]["ts"]),
           "channel": "call", "recipient_type": "borrower"}
    for column, value in draw(st.lists(st.sampled_from([("ts", "2026-02-30T10:00:00Z"), ("channel", "fax"),
                                                        ("loan_id", "L-404"), ("duration_s", "-1")]), max_size=1)):
        drawn.append({**bad, column: value})
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in drawn)
    (root / "contacts" / "zz-drawn.jsonl").write_text(lines, encoding="utf-8")
    if installments:
        (root / "installments" / "zz-drawn.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in installments), encoding="utf-8")
    return root, {r["event_id"] for r in drawn if r["event_id"].startswith("H-")}


def _typed(v):
    if isinstance(v, dt.datetime):
        return v.astimezone(dt.timezone.utc)
    return v


def _stored(con, table: str) -> list[tuple]:
    names = [n for n, *_ in oracle.SCHEMA[table]]
    return sorted((tuple(_typed(v) for v in r) for r in con.execute(f"SELECT {', '.join(names)} FROM {table}").fetchall()),
                  key=repr)


def test_the_engine_equals_the_oracle_and_the_store_equals_its_reading_of_the_files():
    reach = Reach("engine = oracle on generated data")

    # No shrinking: one example costs about a second and shrinking one took minutes; a failure
    # prints the drawn seed, size, rows and policy, which is enough to rebuild the case.
    @settings(max_examples=examples(ci=40, local=10), phases=[Phase.explicit, Phase.reuse, Phase.generate,
                                                             Phase.target])
    @given(case=sample_cases(), spec=st.sampled_from([*SHIPPED, "tight"]))
    def check(case, spec):
        root, drawn = case
        try:
            con = store.connect()
            result = load_dataset(con, root)
            tables = oracle.read_dataset([root])
            for table in oracle.SCHEMA:  # the loader kept exactly the rows the oracle's reading keeps
                names = [n for n, *_ in oracle.SCHEMA[table]]
                mine = sorted((tuple(_typed(r[n]) for n in names) for r in tables[table]), key=repr)
                assert _stored(con, table) == mine, table
            policy = parse_policy(yaml.safe_dump(TIGHT)) if spec == "tight" else load_policy(spec)
            engine = set(run_audit(con, policy).violations.select("rule_id", "event_id").iter_rows())
            expected = oracle.violations(root, TIGHT if spec == "tight" else spec)
            missing, extra = sorted(expected - engine), sorted(engine - expected)
            assert not missing and not extra, f"missing {missing[:10]} extra {extra[:10]}"
            hit = {e for _, e in engine if e in drawn}
            reach.case()
            reach.saw("contacts loaded", result.counts["contacts"].loaded > 0)
            reach.saw("violations", bool(engine))
            reach.saw("a drawn contact flagged", bool(hit))
            target(float(len(hit)), label="drawn contacts flagged")
        finally:
            import shutil
            shutil.rmtree(root, ignore_errors=True)

    check()
    reach.check(**{"contacts loaded": 0.9, "violations": 0.9, "a drawn contact flagged": 0.6})
