"""Synthetic datasets in the SPEC §1 format, for demos, tests and benchmarks; and lenders' export shapes.

Two parts:

* a random part, fully vectorised (Polars over uniforms drawn from Python's
  Mersenne Twister, whose stream for a given seed is fixed across Python,
  Polars and platform versions, unlike numpy's or Arrow's generators): loans,
  instalments with on-time, late and defaulted payments, and a collection
  process of reminders, calls and third-party contacts. It yields a few
  percent of violations on its own, as real logs do;
* a fixed set of hand-written edge cases (loan ids `LX..`, event ids
  `X-..`), the same for every seed and size, each placed on a rule boundary;
  `sample_data/README.md` lists them with the rule each one must (or must
  not) trip, plus deliberately bad rows that the loader must reject.

Generation runs in chunks of loans, so memory stays flat as the size grows.
`export` writes the same events as a lender's own systems would (SPEC §8).

Rooms: common (calendar, identifiers, randomness), people, loans, messages
(templates), contacts (the collection process), edge_cases, write (files),
export (lenders' shapes and their mappings).
"""

from .common import FORMATS, TABLE_NAMES, id_check_char, luhn_check_digit
from .write import SAMPLE_MARK, generate

__all__ = ["FORMATS", "SAMPLE_MARK", "TABLE_NAMES", "generate", "id_check_char", "luhn_check_digit"]
