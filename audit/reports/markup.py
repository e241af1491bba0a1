"""How report.html is written: Jinja2 templates with autoescaping on, and the helpers the page's safety
rests on (masking filter, JSON that cannot leave its <script> block, CSP hashes of the inline code).

Autoescaping is the reason for Jinja2: every `{{ value }}` is HTML-escaped
unless the code marks it safe, so a forgotten escape cannot happen. Masking
is explicit: a template shows any value from the data, the policy or a
waivers file through the `shown` filter (masked, then escaped); what the
tool writes itself (counts, hashes, dates) is only escaped. Hashes never go
through `shown`: a SHA-256 in hex can hold 11 digits in a row.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from importlib import resources

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from .. import pii


def shown(value: object) -> str:
    """A value from the data as the page may show it: masked (the template escapes it)."""
    return "" if value is None else pii.mask_str(value)


def num(value: object, digits: int | None = None) -> str:
    if value is None:
        return ""
    return f"{value:,.{digits}f}" if digits is not None else f"{value:,}"


@functools.lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=PackageLoader("audit.reports", "templates"),
                      autoescape=select_autoescape(["html", "html.j2", "j2"], default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["shown"] = shown
    env.filters["num"] = num
    return env


@functools.lru_cache(maxsize=None)
def asset(name: str) -> Markup:
    """An inline CSS or JS file of the templates directory, as the page embeds it byte for byte."""
    text = resources.files("audit.reports").joinpath("templates", name).read_text(encoding="utf-8")
    return Markup(text.strip())


def csp_hash(code: str) -> str:
    """The CSP source naming one inline block; computed from the exact text the page holds."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(str(code).encode("utf-8")).digest()).decode() + "'"


def json_for_script(data: object) -> Markup:
    """JSON that cannot end its <script> element or open a comment: <, > and & as \\u escapes."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return Markup(text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
                  .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
