"""GitHub Actions annotations (SPEC §9): `::error file=PATH,line=N::message` lines for CI logs.

A policy author sees the problem on the line of the YAML at fault in the pull
request, so each problem's path (`rules.frequency[1].max: ...`) is mapped back
to the line of its node in the file as written.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import yaml

from .errors import PolicyError
from .policy import BUILTIN_PREFIX, _NoAliasLoader, read_small_file

_YAML_LINE = re.compile(r"^not valid YAML at line (\d+)")
_INDEX = re.compile(r"\[(\d+)\]")


def escape_data(text: str) -> str:
    """A message the runner shows as written, newlines included."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A property value (file, title): `:` and `,` would end it early."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(message: str, *, file: str, line: int, title: str | None = None, level: str = "error") -> str:
    props = [f"file={escape_property(file)}", f"line={line}"]
    if title:
        props.append(f"title={escape_property(title)}")
    return f"::{level} {','.join(props)}::{escape_data(message)}"


def yaml_tree(text: str | bytes, loader: type = _NoAliasLoader) -> yaml.Node | None:
    """The node tree of a YAML document (with line marks), or None when it does not parse."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        return yaml.compose(text, Loader=loader)  # noqa: S506 - SafeLoader subclasses only
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError, ValueError, OverflowError):
        return None


def line_of(root: yaml.Node | None, problem: str) -> int:
    """The 1-based line of the node a problem's path names (`a.b[2].c: message`).

    The path is matched against the keys actually in the tree, so a key with
    a dot or a space in it is still found; a missing key (or any step that
    does not match) falls back to the nearest existing parent; a path that
    matches nothing, or a file that does not parse, is line 1. A YAML syntax
    error carries its own line.
    """
    m = _YAML_LINE.match(problem)
    if m:
        return int(m.group(1))
    node, line, rest = root, 1, problem
    while node is not None:
        if isinstance(node, yaml.MappingNode):
            if node is not root:
                if not rest.startswith("."):
                    break
                rest = rest[1:]
            best = None
            for key, value in node.value:
                k = key.value if isinstance(key, yaml.ScalarNode) else None
                if k and rest.startswith(k) and rest[len(k):len(k) + 1] in ("", ".", "[", ":"):
                    if best is None or len(k) > len(best[0]):
                        best = (k, key, value)
            if best is None:
                break
            k, key, node = best
            line, rest = key.start_mark.line + 1, rest[len(k):]
        elif isinstance(node, yaml.SequenceNode):
            m = _INDEX.match(rest)
            if not m or int(m.group(1)) >= len(node.value):
                break
            node = node.value[int(m.group(1))]
            line, rest = node.start_mark.line + 1, rest[m.end():]
        else:
            break
    return line


def policy_problem_lines(source: str, problems: list[str]) -> list[int]:
    """The line of each problem of a policy (a path or builtin:NAME), reading its text once more."""
    try:
        if source.startswith(BUILTIN_PREFIX):
            raw = resources.files("audit.policies").joinpath(source.removeprefix(BUILTIN_PREFIX) + ".yaml").read_bytes()
        else:
            raw = read_small_file(Path(source), source)
    except (PolicyError, OSError):
        raw = b""
    root = yaml_tree(raw)
    return [line_of(root, p) for p in problems]
