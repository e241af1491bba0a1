"""Which zone names are valid: the ones the engine that converts times knows."""

from functools import lru_cache

import duckdb


@lru_cache(maxsize=1)
def known_zones() -> frozenset[str]:
    """IANA names DuckDB's ICU can convert with, so a zone accepted at load never fails at audit."""
    rows = duckdb.connect().execute("SELECT name FROM pg_timezone_names()").fetchall()
    return frozenset(r[0] for r in rows)


def is_zone(name: str) -> bool:
    return name in known_zones()
