"""contact-audit: audit a lender's contact logs against a compliance policy.

Library use::

    import audit
    result = audit.audit(data="sample_data", out="out")     # load + audit + reports
    audit.load("exports/2026-11-27", db="store.duckdb")      # nightly load only
    audit.report("store.duckdb", since=..., until=..., out="r")  # a period, from the ledger
"""

__version__ = "0.1.0"

from .api import audit, history, load, report  # noqa: E402
from .policy import Policy, load_policy  # noqa: E402

__all__ = ["__version__", "audit", "history", "load", "report", "Policy", "load_policy"]
