"""Escaping for the HTML report's modules: `esc` for what the tool writes itself (counts, hashes,
markup), `shown` for any value from the data, the policy or a waivers file (masked, then escaped)."""

from __future__ import annotations

from html import escape

from .. import pii


def esc(value: object) -> str:
    return "" if value is None else escape(str(value), quote=True)


def shown(value: object) -> str:
    return esc(pii.mask_str(value))
