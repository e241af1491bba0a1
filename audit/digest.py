"""The counts every report reads, apart from the violation rows themselves.

A run on DuckDB holds its violations in memory and counts them here; a run on
Spark counts them on the executors (audit/spark/digest.py) and hands the
driver only these small tables, so the reports are the same whichever engine
judged and the driver's memory does not grow with the violations. Each table
is bounded by its keys (rules, statuses, days, channels, agents, waivers),
never by the rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from . import pii

BY_RULE = {"rule_id": pl.String, "severity": pl.String, "status": pl.String, "n": pl.Int64}
BY_DAY = {"local_date": pl.Date, "rule_id": pl.String, "n": pl.Int64}
BY_CHANNEL = {"channel": pl.String, "n": pl.Int64}
BY_AGENT = {"agent_id": pl.String, "rule_id": pl.String, "severity": pl.String, "status": pl.String, "n": pl.Int64}
BY_WAIVER = {"waiver_id": pl.String, "n": pl.Int64}
KEYS = {"by_rule": BY_RULE, "by_day": BY_DAY, "by_channel": BY_CHANNEL, "by_agent": BY_AGENT,
        "by_waiver": BY_WAIVER}


@dataclass(frozen=True)
class Digest:
    total: int
    by_rule: pl.DataFrame      # rule_id, severity, status, n: summary, statuses, --fail-on, JUnit
    by_day: pl.DataFrame       # local_date, rule_id, n: the trend and the day chart
    by_channel: pl.DataFrame   # channel, n
    by_agent: pl.DataFrame     # agent_id, rule_id, severity, status, n: scorecards and the agent x rule matrix
    by_waiver: pl.DataFrame    # waiver_id, n: which waivers applied, how often

    def masked(self) -> Digest:
        """Keys masked as the report rows are, counts summed again where two keys mask alike."""
        def again(df: pl.DataFrame) -> pl.DataFrame:
            keys = [c for c in df.columns if c != "n"]
            return pii.mask_frame(df).group_by(keys).agg(pl.col("n").sum()).cast({"n": pl.Int64})
        return Digest(self.total, **{name: again(getattr(self, name)) for name in KEYS})

    def counts(self, column: str, frame: str = "by_rule") -> pl.DataFrame:
        """column, n: summed over the other keys (a null key stays null)."""
        return getattr(self, frame).group_by(column).agg(pl.col("n").sum())

    def statuses(self, rule_ids: list[str], gone: dict[str, int]) -> dict[str, dict[str, int]]:
        from .ledger import STATUSES

        out = {r: dict.fromkeys(STATUSES, 0) for r in dict.fromkeys([*rule_ids, *gone])}
        for rule, status, n in self.by_rule.group_by("rule_id", "status").agg(pl.col("n").sum()).iter_rows():
            out.setdefault(rule, dict.fromkeys(STATUSES, 0))[status] = n
        for rule, n in gone.items():
            out[rule]["gone"] = n
        return out

    def waivers_used(self) -> dict[str, int]:
        return {w: n for w, n in self.by_waiver.iter_rows() if w is not None and n}

    def trend(self) -> pl.DataFrame:
        """Violations per local date and rule (the report's trend chart)."""
        return self.by_day.sort("local_date", "rule_id").cast({"n": pl.UInt32})

    def unwaived_severities(self) -> set[str]:
        return set(self.by_rule.filter(pl.col("status") != "waived")["severity"].to_list())


def local_date(column: str = "local_time") -> pl.Expr:
    """The contact's local date: the first ten characters of its ISO local time."""
    return pl.col(column).str.slice(0, 10).str.to_date("%Y-%m-%d")


def of_frame(v: pl.DataFrame) -> Digest:
    """The digest of violation rows held in memory (a row without status is new, as a run's rows are)."""
    if "status" not in v.columns:
        v = v.with_columns(pl.lit("new").alias("status"))
    if "waiver_id" not in v.columns:
        v = v.with_columns(pl.lit(None, pl.String).alias("waiver_id"))

    def count(keys, schema):
        if v.is_empty():
            return pl.DataFrame(schema=schema)
        return v.group_by(keys).agg(pl.len().alias("n")).cast(schema)

    return Digest(
        total=v.height,
        by_rule=count(["rule_id", "severity", "status"], BY_RULE),
        by_day=count([local_date().alias("local_date"), "rule_id"], BY_DAY),
        by_channel=count(["channel"], BY_CHANNEL),
        by_agent=count(["agent_id", "rule_id", "severity", "status"], BY_AGENT),
        by_waiver=count(["waiver_id"], BY_WAIVER),
    )
