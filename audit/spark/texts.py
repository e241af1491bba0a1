"""The text rules on the executors: the same Polars detector, per Arrow batch, through mapInArrow.

Each message is judged on its own (text_rules.judge_texts), so judging a
partition's batches one by one gives what judging them all at once would.
pyspark needs pandas installed to run mapInArrow, which is why the `spark`
extra lists it; the detector itself never uses pandas.
"""

from __future__ import annotations

from datetime import date

from ..policy import Policy
from ..rules import query_text
from ..text_rules import OUT, texts_params

SCHEMA = ", ".join(f"{c} string" for c in OUT)


def _judge(policy: Policy):
    def judge(batches):
        import polars as pl
        import pyarrow as pa

        from audit.text_rules import judge_texts

        schema = pa.schema([(c, pa.string()) for c in OUT])
        for batch in batches:
            texts = pl.from_arrow(batch)
            if not isinstance(texts, pl.DataFrame) or texts.height == 0:
                continue
            for part in judge_texts(texts, policy):
                if part.height:
                    yield from part.select(pl.col(c).cast(pl.String) for c in OUT).to_arrow().cast(schema).to_batches()
    return judge


def text_violations(spark, policy: Policy, since: date | None, until: date | None):
    """A DataFrame of (rule_id, event_id, detail, evidence) from the text rules, computed where the texts are."""
    from ..transpile import to_spark

    texts = spark.sql(to_spark(query_text("texts"), texts_params(policy, since, until)))
    return texts.mapInArrow(_judge(policy), SCHEMA)
