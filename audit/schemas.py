"""The five input tables and the violations output, as data and as pandera schemas.

`TABLES` is the one description of SPEC §1 that ingest, store and docs use;
the pandera schemas are built from it, so a column's rules live in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandera.polars as pa
import polars as pl

CHANNELS = ("call", "sms", "email", "app_push", "im", "letter", "visit")
RECIPIENT_TYPES = ("borrower", "emergency_contact", "third_party")
OUTCOMES = (
    "connected", "no_answer", "busy", "voicemail", "refused",
    "failed", "delivered", "read", "do_not_contact",
)
THIRD_PARTY_TYPES = ("emergency_contact", "third_party")

# Column kinds: how a raw string is parsed, and the SQL type it is stored as.
SQL_TYPE = {
    "str": "VARCHAR",
    "enum": "VARCHAR",
    "zone": "VARCHAR",
    "int": "BIGINT",
    "decimal": "DECIMAL(18,2)",
    "date": "DATE",
    "timestamp": "TIMESTAMPTZ",
}
POLARS_TYPE = {
    "str": pl.String,
    "enum": pl.String,
    "zone": pl.String,
    "int": pl.Int64,
    "decimal": pl.Decimal(18, 2),
    "date": pl.Date,
    "timestamp": pl.Datetime("us", "UTC"),
}


@dataclass(frozen=True)
class Col:
    name: str
    kind: str = "str"
    required: bool = False
    enum: tuple[str, ...] = ()
    min: int | None = None          # inclusive lower bound
    gt: int | None = None           # exclusive lower bound


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Col, ...]
    key: tuple[str, ...]
    required_table: bool
    append_only: bool = False        # contacts: an event never changes
    references: tuple[tuple[str, str, str], ...] = field(default=())  # (column, table, column)
    # (column, other column, values): the column is required where the other one holds one of the values
    required_when: tuple[tuple[str, str, tuple[str, ...]], ...] = field(default=())

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def col(self, name: str) -> Col:
        return next(c for c in self.columns if c.name == name)


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "borrowers",
            (
                Col("borrower_id", required=True),
                Col("name"), Col("id_number"), Col("phone"), Col("bank_card"), Col("address"),
                Col("timezone", "zone"),
            ),
            key=("borrower_id",),
            required_table=False,
        ),
        Table(
            "loans",
            (Col("loan_id", required=True), Col("borrower_id", required=True), Col("principal", "decimal", min=0)),
            key=("loan_id",),
            required_table=True,
            references=(("borrower_id", "borrowers", "borrower_id"),),
        ),
        Table(
            "installments",
            (
                Col("loan_id", required=True),
                Col("seq", "int", required=True, min=1),
                Col("due_date", "date", required=True),
                Col("amount_due", "decimal", required=True, gt=0),
                Col("paid_at", "timestamp"),
            ),
            key=("loan_id", "seq"),
            required_table=True,
            references=(("loan_id", "loans", "loan_id"),),
        ),
        Table(
            "emergency_contacts",
            (Col("borrower_id", required=True), Col("contact_id", required=True), Col("relationship"), Col("phone")),
            key=("borrower_id", "contact_id"),
            required_table=False,
            references=(("borrower_id", "borrowers", "borrower_id"),),
        ),
        Table(
            "contacts",
            (
                Col("event_id", required=True),
                Col("loan_id", required=True),
                Col("ts", "timestamp", required=True),
                Col("channel", "enum", required=True, enum=CHANNELS),
                Col("recipient_type", "enum", required=True, enum=RECIPIENT_TYPES),
                Col("recipient_id"),
                Col("agent_id"),
                Col("outcome", "enum", enum=OUTCOMES),
                Col("duration_s", "int", min=0),
                Col("content"),
            ),
            key=("event_id",),
            required_table=True,
            append_only=True,
            references=(("loan_id", "loans", "loan_id"),),
            required_when=(("recipient_id", "recipient_type", THIRD_PARTY_TYPES),),
        ),
    )
}
# Load order: a table's references are loaded (and in the store) before it.
LOAD_ORDER = ("borrowers", "loans", "installments", "emergency_contacts", "contacts")


def value_schema(table: Table) -> pa.DataFrameSchema:
    """Value checks on the typed frame: required, enums, bounds.

    Type checks are not here: a value that does not parse is already a
    rejection reason from the parser, and is null in the typed frame.
    """
    cols = {}
    for c in table.columns:
        checks = []
        if c.enum:
            checks.append(pa.Check.isin(list(c.enum), name="enum"))
        if c.min is not None:
            checks.append(pa.Check.ge(c.min, name="min"))
        if c.gt is not None:
            checks.append(pa.Check.gt(c.gt, name="gt"))
        cols[c.name] = pa.Column(POLARS_TYPE[c.kind], checks=checks, nullable=not c.required, coerce=False)
    return pa.DataFrameSchema(cols, strict=False)


VIOLATION_COLUMNS = [
    "rule_id", "severity", "event_id", "loan_id", "borrower_id", "ts", "local_time",
    "channel", "recipient_type", "recipient_id", "agent_id", "reference", "detail",
    "evidence", "policy_id", "policy_version",
]

VIOLATIONS_SCHEMA = pa.DataFrameSchema(
    {
        "rule_id": pa.Column(pl.String, nullable=False),
        "severity": pa.Column(pl.String, pa.Check.isin(["low", "medium", "high", "critical"]), nullable=False),
        "event_id": pa.Column(pl.String, nullable=False),
        "loan_id": pa.Column(pl.String, nullable=False),
        "borrower_id": pa.Column(pl.String, nullable=True),
        "ts": pa.Column(pl.String, pa.Check.str_matches(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$"), nullable=False),
        "local_time": pa.Column(
            pl.String, pa.Check.str_matches(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+[+-][0-9]{2}:[0-9]{2}$"),
            nullable=False,
        ),
        "channel": pa.Column(pl.String, pa.Check.isin(list(CHANNELS)), nullable=False),
        "recipient_type": pa.Column(pl.String, pa.Check.isin(list(RECIPIENT_TYPES)), nullable=False),
        "recipient_id": pa.Column(pl.String, nullable=True),
        "agent_id": pa.Column(pl.String, nullable=True),
        "reference": pa.Column(pl.String, nullable=False),
        "detail": pa.Column(pl.String, nullable=False),
        "evidence": pa.Column(pl.String, nullable=True),
        "policy_id": pa.Column(pl.String, nullable=False),
        "policy_version": pa.Column(pl.String, nullable=False),
    },
    strict=True,
    ordered=True,
    unique=["rule_id", "event_id"],
)
