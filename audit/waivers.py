"""Waivers (SPEC §7): signed-off exceptions that keep their violation rows but stop failing the run.

A waivers file is reviewed like the policy, so it is validated like one:
every problem with its path, exit 2. Applying it is a handful of
vectorised passes over the violations, one per waiver in file order (the
first applying waiver that matches a row wins), never a loop over rows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated

import polars as pl
import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .errors import WaiversError
from .policy import parse_yaml_mapping, problems_of, read_small_file

MATCH_KEYS = ("event_id", "loan_id", "borrower_id", "agent_id", "recipient_id")
Text = Annotated[str, Field(min_length=1, max_length=2000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Match(_Strict):
    event_id: Text | None = None
    loan_id: Text | None = None
    borrower_id: Text | None = None
    agent_id: Text | None = None
    recipient_id: Text | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> "Match":
        if not self.keys():
            raise ValueError(f"give at least one of {', '.join(MATCH_KEYS)}")
        return self

    def keys(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in MATCH_KEYS if getattr(self, k) is not None}


class Waiver(_Strict):
    id: Text
    rule: Text
    match: Match
    from_: date | None = Field(default=None, alias="from")
    until: date | None = None
    reason: Text
    approved_by: Text
    expires: date

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("from_", "until", "expires", mode="before")
    @classmethod
    def _iso_date(cls, v: object) -> object:
        if isinstance(v, str):
            try:
                return date.fromisoformat(v)
            except ValueError:
                raise ValueError(f"{v!r} is not a date YYYY-MM-DD") from None
        if not isinstance(v, date):
            raise ValueError(f"{v!r} is not a date YYYY-MM-DD")
        return v

    @model_validator(mode="after")
    def _window(self) -> "Waiver":
        if self.from_ and self.until and self.from_ > self.until:
            raise ValueError(f"from {self.from_} is after until {self.until}")
        return self

    def applies_on(self, as_of: date) -> bool:
        return as_of <= self.expires


class WaiverFile(_Strict):
    waivers: list[Waiver]

    @field_validator("waivers")
    @classmethod
    def _unique(cls, v: list[Waiver]) -> list[Waiver]:
        ids = [w.id for w in v]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"waiver id(s) used more than once: {', '.join(dup)}")
        return v


@dataclass(frozen=True)
class Waivers:
    waivers: tuple[Waiver, ...]
    source: str
    sha256: str


def parse_waivers(raw: bytes, source: str = "<waivers>") -> Waivers:
    data = parse_yaml_mapping(raw, source, WaiversError, "waivers")
    try:
        parsed = WaiverFile.model_validate(data)
    except pydantic.ValidationError as e:
        raise WaiversError(source, [p.replace(".from_", ".from") for p in problems_of(e)]) from None
    return Waivers(tuple(parsed.waivers), source, hashlib.sha256(raw).hexdigest())


def load_waivers(path: str | Path | None) -> Waivers | None:
    if path is None:
        return None
    return parse_waivers(read_small_file(Path(path), str(path), WaiversError, "waivers file"), str(path))


def apply(violations: pl.DataFrame, waivers: Waivers | None, as_of: date) -> pl.DataFrame:
    """`waiver_id` set where the first waiver in file order that applies on `as_of` matches, and
    `status` 'waived' there (the status column must exist: new or seen)."""
    v = violations.with_columns(pl.lit(None, pl.String).alias("waiver_id"))
    if waivers is None or v.is_empty():
        return v
    local_date = pl.col("local_time").str.slice(0, 10).str.to_date("%Y-%m-%d")
    for w in waivers.waivers:
        if not w.applies_on(as_of):
            continue
        hit = pl.col("waiver_id").is_null()
        if w.rule != "*":
            hit &= pl.col("rule_id") == w.rule
        for key, value in w.match.keys().items():
            hit &= pl.col(key) == value
        if w.from_ is not None:
            hit &= local_date >= w.from_
        if w.until is not None:
            hit &= local_date <= w.until
        v = v.with_columns(pl.when(hit).then(pl.lit(w.id)).otherwise(pl.col("waiver_id")).alias("waiver_id"))
    return v.with_columns(
        pl.when(pl.col("waiver_id").is_not_null()).then(pl.lit("waived")).otherwise(pl.col("status")).alias("status"))


def tally(used: dict[str, int], waivers: Waivers | None, as_of: date) -> dict:
    """What summary.json and the report say about the waivers file: used (violations per waiver id,
    counted by whichever engine judged), expired, unused."""
    if waivers is None:
        return {}
    expired = [w for w in waivers.waivers if not w.applies_on(as_of)]
    unused = [w for w in waivers.waivers if w.applies_on(as_of) and not used.get(w.id)]
    return {
        "source": waivers.source, "sha256": waivers.sha256, "as_of": as_of.isoformat(),
        "applied": {w.id: used[w.id] for w in waivers.waivers if used.get(w.id)},
        "expired": [{"id": w.id, "expires": w.expires.isoformat()} for w in expired],
        "unused": [w.id for w in unused],
        "details": {w.id: {"rule": w.rule, "reason": w.reason, "approved_by": w.approved_by,
                           "expires": w.expires.isoformat()} for w in waivers.waivers},
    }
