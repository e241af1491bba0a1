"""No report carries a full ID, card or phone number, whatever column or file name it sits in.

The dataset's key columns are identifiers themselves (a borrower id that is
an ID number, a loan id that is a mobile, an event id that is a card number),
so the rules still join on them in the store while every output masks them.
Everything runs through the real command line, as a nightly job would.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import polars as pl
import pytest
import yaml

from helpers import contact, write_dataset

ID_NUMBER = "11010519491231002X"   # valid GB 11643 check character
RECIPIENT_ID = "320106198506151231"  # valid too
MOBILE_LOAN = "13812345678"
CARD_EVENT = "6222021234567894"    # Luhn-valid
DOTTED_AGENT = "139.8765.4321"
PHONE_FILE = "13912345678"         # a partition file named after a phone
UNKNOWN_LOAN = "13700001111"       # the rejected row's loan: not in loans
POLICY_FILE = "13612345678"        # a policy file named after a phone
HIDDEN_FILE = "13512345678"        # a hidden file in the table directory: skipped, with a note

RAW_VALUES = [ID_NUMBER, RECIPIENT_ID, MOBILE_LOAN, CARD_EVENT, DOTTED_AGENT, PHONE_FILE, UNKNOWN_LOAN,
              POLICY_FILE, HIDDEN_FILE, "138.1234.5678", "13812345679"]

OUTPUTS = ["violations.csv", "violations.parquet", "rejected.csv", "report.html", "summary.json", "agents.csv",
           "manifest.json", "audit.xml", "diff.text", "diff.json", "diff.markdown"]
SCANNED = OUTPUTS

# What counts as a separator inside a number, written here without the code under test.
_SEPARATOR_CHARS = set("\t._()/\u2212")
# Hashes the tool writes (SHA-256 of files and policies, table digests, CSP script hashes) are not data.
_HASHES = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])|sha256 `[0-9a-f]{12}`|'sha256-[A-Za-z0-9+/=]{44}'"
                     r'|"digest": "[0-9a-f]{16}"')


def long_digit_runs(text: str) -> list[str]:
    """Runs of 11+ digits once separators are dropped (NFKC first, as a reader's eye would).

    The digits a masked number still shows next to its asterisks (at most six
    before, four after) are not counted: with them, a masked id and the date
    written after it in a line of text would look like one long number.
    """
    text = unicodedata.normalize("NFKC", _HASHES.sub("#", text))
    kept = "".join(c for c in text
                   if not (c in _SEPARATOR_CHARS or unicodedata.category(c) in ("Zs", "Pd", "Cf")))
    return re.findall(r"[0-9]{11,}", re.sub(r"[0-9]{0,6}\*+[0-9]{0,4}", "*", kept))


def _policy(end: str) -> dict:
    return {"policy_id": "masking-test", "version": "1", "default_timezone": "Asia/Shanghai",
            "rules": {"contact_hours": {"start": "08:00", "end": end},
                      "third_party": {"min_days_past_due": 7, "registered_only": True},
                      "pii": {"third_party_protected": ["id_number", "phone"],
                              "unmasked_forbidden": ["id_number", "bank_card", "mobile"]}}}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("masking")
    data = root / "data"
    write_dataset(
        data,
        loans=[{"loan_id": MOBILE_LOAN, "borrower_id": ID_NUMBER, "principal": "10000.00"},
               {"loan_id": "L0000109", "borrower_id": "B000001", "principal": "5000.00"}],
        installments=[{"loan_id": MOBILE_LOAN, "seq": 1, "due_date": "2026-11-01", "amount_due": "1000.00",
                       "paid_at": None},
                      {"loan_id": "L0000109", "seq": 1, "due_date": "2026-11-01", "amount_due": "500.00",
                       "paid_at": None}],
        borrowers=[{"borrower_id": ID_NUMBER, "phone": MOBILE_LOAN, "timezone": "Asia/Shanghai"},
                   {"borrower_id": "B000001", "timezone": "Asia/Shanghai"}],
        emergency_contacts=[{"borrower_id": ID_NUMBER, "contact_id": "EC1", "relationship": "spouse"}],
        contacts=[
            # 21:30 local: allowed until 22:00 (old policy), an HOURS violation from 21:00 (new policy)
            contact(CARD_EVENT, "2026-11-27T21:30:00+08:00", loan_id=MOBILE_LOAN),
            # 23:00: HOURS under both, and an unregistered emergency contact whose id is an ID number
            contact("E000000089", "2026-11-27T23:00:00+08:00", loan_id=MOBILE_LOAN, channel="sms",
                    recipient_type="emergency_contact", recipient_id=RECIPIENT_ID, agent_id=DOTTED_AGENT,
                    outcome="delivered", content=f"请转告借款人,卡号{CARD_EVENT}, 回电 138.1234.5678"),
            # a plain contact: its ids must come out exactly as written
            contact("E000000088", "2026-11-27T23:30:00+08:00", loan_id="L0000109"),
        ],
    )
    # contacts as a directory: the rows above, a partition named after a phone holding a bad row,
    # and a hidden file the loader skips with a note naming it
    (data / "contacts").mkdir()
    (data / "contacts.jsonl").rename(data / "contacts" / "part-0.jsonl")
    bad = contact("E000000090", "2026-11-27T10:00:00+08:00", loan_id=UNKNOWN_LOAN, channel="call")
    pl.DataFrame([bad]).with_columns(pl.all().cast(pl.String)).write_csv(data / "contacts" / f"{PHONE_FILE}.csv")
    (data / "contacts" / f".{HIDDEN_FILE}.csv").write_text("ignored\n", encoding="utf-8")

    old, new = root / "old.yaml", root / f"{POLICY_FILE}.yaml"
    old.write_text(yaml.safe_dump(_policy("22:00")), encoding="utf-8")
    new.write_text(yaml.safe_dump(_policy("21:00")), encoding="utf-8")

    def cli(*args: object) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "audit.cli", *map(str, args)], capture_output=True,
                              text=True, cwd=Path(__file__).parent.parent, timeout=300)

    out, junit = root / "out", root / "junit" / "audit.xml"
    run = cli("run", "--data", data, "--policy", new, "--out", out, "--junit", junit)
    assert run.returncode == 0, run.stderr
    texts = {p.name: p.read_text(encoding="utf-8") for p in sorted(out.iterdir()) if p.suffix != ".parquet"}
    parquet = pl.read_parquet(out / "violations.parquet")
    texts["violations.parquet"] = parquet.write_csv()
    texts[junit.name] = junit.read_text(encoding="utf-8")
    for fmt in ("text", "json", "markdown"):
        diff = cli("policy", "diff", old, new, "--data", data, "--format", fmt)
        assert diff.returncode == 0, diff.stderr
        texts[f"diff.{fmt}"] = diff.stdout
    return {"texts": texts, "violations": parquet, "csv": pl.read_csv(out / "violations.csv", infer_schema=False),
            "rejected": pl.read_csv(out / "rejected.csv", infer_schema=False),
            "diff": json.loads(texts["diff.json"])}


def test_every_output_is_scanned(outputs):
    assert sorted(outputs["texts"]) == sorted(OUTPUTS)  # a new report file must join the scan


@pytest.mark.parametrize("name", SCANNED)
def test_output_holds_no_raw_identifier(outputs, name):
    text = outputs["texts"][name]
    runs = long_digit_runs(text)
    leaks = [v for v in RAW_VALUES if v in text or any(re.sub(r"[^0-9]", "", v) in r for r in runs)]
    assert leaks == []


@pytest.mark.parametrize("name", SCANNED)
def test_output_holds_no_eleven_digits_in_a_row_once_separators_are_ignored(outputs, name):
    assert long_digit_runs(outputs["texts"][name]) == []


def test_violations_are_still_found_on_identifier_keys_and_come_out_masked(outputs):
    for v in (outputs["violations"], outputs["csv"]):
        hours = v.filter(pl.col("rule_id") == "HOURS")
        card = hours.filter(pl.col("event_id") == "6222********7894")
        assert card.height == 1  # the card-named event joined to its loan and borrower in the store
        assert card.select("loan_id", "borrower_id").rows() == [("138****5678", "110105********002X")]
        ec = v.filter(pl.col("event_id") == "E000000089")
        assert {"HOURS", "TP-UNREGISTERED", "PII-UNMASKED"} <= set(ec["rule_id"])
        assert set(ec["recipient_id"]) == {"320106********1231"}
        assert set(ec["agent_id"]) == {"139.****.4321"}
        evidence = ec.filter(pl.col("rule_id") == "PII-UNMASKED")["evidence"].item()
        assert "6222********7894" in evidence and "138.****.5678" in evidence


def test_plain_ids_come_out_exactly_as_written(outputs):
    plain = outputs["violations"].filter(pl.col("event_id") == "E000000088")
    assert plain.select("rule_id", "loan_id", "borrower_id").rows() == [("HOURS", "L0000109", "B000001")]
    assert "E000000088" in outputs["texts"]["report.html"] and "L0000109" in outputs["texts"]["audit.xml"]


def test_rejected_row_from_a_phone_named_partition_is_kept_masked(outputs):
    rej = outputs["rejected"]
    assert rej.height == 1
    row = rej.row(0, named=True)
    assert row["source_file"].endswith("contacts/139****5678.csv")
    assert "137****1111" in row["values"] and "137****1111" in row["reasons"]


def test_policy_diff_lists_the_added_violation_masked(outputs):
    hours = next(r for r in outputs["diff"]["rules"] if r["rule_id"] == "HOURS")
    assert hours["added"] == 1 and hours["removed"] == 0
    assert [e["event_id"] for e in hours["examples_added"]] == ["6222********7894"]
    assert hours["examples_added"][0]["loan_id"] == "138****5678"
    assert outputs["diff"]["new"]["source"].endswith("136****5678.yaml")
    for fmt in ("text", "markdown"):
        assert "6222" in outputs["texts"][f"diff.{fmt}"] and "7894" in outputs["texts"][f"diff.{fmt}"]


def test_junit_failures_name_the_masked_event(outputs):
    xml = outputs["texts"]["audit.xml"]
    assert 'message="6222********7894: ' in xml
    assert "136****5678.yaml" in xml  # the policy source property


def test_independent_digit_check_sees_separated_and_full_width_numbers():
    assert long_digit_runs("call 138.1234.5678 or (138)1234-5678") == ["13812345678", "13812345678"]
    assert long_digit_runs("１３８\u30001234\u20135678") == ["13812345678"]
    assert long_digit_runs("138.****.5678, 2026-11-30, 5,000.00, 09:15:00") == []
    assert long_digit_runs("loan 138****5678 2026-11-27T21:30:00+08:00") == []  # a masked id, then a date
    assert long_digit_runs("138****5678 13912345678") == ["13912345678"]
