"""What the driver reads back of the violations: counts and the report table's rows, never all of them.

The executors give every violation its report row, status and waiver
(`mark`); the driver then receives the digest (audit/digest.py: counts per
rule, day, channel, agent and waiver, bounded by those keys) and at most the
rows report.html embeds, chosen as the HTML report chooses them. So the
driver's memory does not grow with the contacts or the violations.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from ..digest import KEYS, Digest
from ..ledger import REPORT_COLUMNS
from ..policy import SEVERITY_RANK, Policy
from ..reports.html import MAX_TABLE_ROWS
from ..waivers import Waivers

ORDER = ("ts_us", "event_id", "rule_id")  # queries/violations.sql's order: SPEC §5
MARKED_SCHEMA = ", ".join([*(f"`{c}` string" for c in (*REPORT_COLUMNS, "base_status")), "`ts_us` bigint"])


def mark(located, policy: Policy, waivers: Waivers | None, as_of: date):
    """Report rows with status and waiver (ledger.marked) on the executors, batch by batch; ts_us kept
    for the order. Rows are independent, so batches judged apart give what one frame would."""

    def rows(batches):
        import pyarrow as pa

        from audit.engine import report_rows
        from audit.ledger import marked

        for batch in batches:
            df = pl.from_arrow(batch)
            if not isinstance(df, pl.DataFrame) or df.height == 0:
                continue
            out = marked(report_rows(df, policy).with_columns(df["ts_us"]), waivers, as_of, keep=("ts_us",))
            yield from out.to_arrow().cast(pa.schema(
                [(c, pa.int64() if c == "ts_us" else pa.string()) for c in out.columns])).to_batches()

    return located.mapInArrow(rows, MARKED_SCHEMA)


def digest(spark, marked, total: int) -> Digest:
    """The digest counted on the executors: five small group-bys, each bounded by its keys."""
    from pyspark.sql import functions as F

    from ..spark_engine import blocking

    keys = {"by_rule": ["rule_id", "severity", "status"],
            "by_day": [F.to_date(F.substring("local_time", 1, 10)).alias("local_date"), "rule_id"],
            "by_channel": ["channel"],
            "by_agent": ["agent_id", "rule_id", "severity", "status"],
            "by_waiver": ["waiver_id"]}
    frames = {}
    for name, by in keys.items():
        counted = marked.groupBy(*by).agg(F.count(F.lit(1)).alias("n"))
        frames[name] = pl.from_arrow(blocking(spark, f"counting the violations ({name})", counted.toArrow)) \
            .cast(KEYS[name]).select(list(KEYS[name]))
    return Digest(total=total, **frames)


def table_rows(spark, marked) -> pl.DataFrame:
    """The rows report.html embeds: all of them up to MAX_TABLE_ROWS, else the most severe first, then
    the earliest (reports/html.py's choice), in the report's order."""
    from pyspark.sql import functions as F

    from ..spark_engine import blocking

    rank = F.create_map(*[F.lit(x) for kv in SEVERITY_RANK.items() for x in kv])[F.col("severity")]
    head = marked.orderBy(rank.desc(), *ORDER).limit(MAX_TABLE_ROWS)
    rows = pl.from_arrow(blocking(spark, "reading the report table's rows", head.toArrow))
    return rows.sort(list(ORDER)).select(*REPORT_COLUMNS, "base_status")
