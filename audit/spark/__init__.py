"""The Spark engine's own load and outputs: read, check, account, judge texts and write on the executors.

`audit run --engine spark --data URI` never passes a contact row through the
tool's process: the driver plans, and receives counts, the (capped) rejected
rows and the report rows. The checks are rendered from `audit.schemas.TABLES`,
the same definition the DuckDB load validates with, and word their reasons
the same way.
"""
