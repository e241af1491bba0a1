"""The mapping file (SPEC §8): YAML in, a typed and fully validated Mapping out.

A lender's export keeps its own names, values and formats; the mapping says
how each source file becomes a §1 table. It is checked like a policy: every
problem at once, each with its path (`tables.contacts[0].values.outcome.已接通`),
so a user fixes the file in one round instead of one error per run.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from .errors import PolicyError
from .policy import parse_yaml_mapping, problems_of, read_small_file
from .schemas import TABLES, Table
from .timezones import is_zone

STAR = "*"  # in `values`: any other non-empty value

# strptime directives Polars (chrono) parses; %Z (zone names) it cannot.
_DIRECTIVE = re.compile(r"%(?:[-_0^#]?[YCymbBhdeaAwuUWGgVjDxFvHkIlPpMSsTRrXcfnt%]|\.?[369]?f|:{0,2}z|#z)")
_DATE_PART = re.compile(r"%[-_0^#]?[YyCGgmbBhjDFxsc]")
SourceName = Annotated[str, Field(min_length=1, max_length=200, strict=True)]


def format_problem(fmt: str, kind: str) -> str | None:
    """Why `fmt` is no strptime format for a column of this kind, or None when it is one."""
    rest = _DIRECTIVE.sub("", fmt)
    if "%" in rest:
        bad = rest[rest.index("%"):][:2]
        return f"{fmt!r} is not a strptime format: {bad!r} is no directive (e.g. %Y/%m/%d %H:%M:%S)"
    if not _DATE_PART.search(fmt):
        return f"{fmt!r} is not a strptime format of a {kind}: it has no year, month or day (e.g. %Y/%m/%d)"
    return None


class MappingError(PolicyError):
    """A mapping file that does not match SPEC §8: every problem with its path, shown like a policy's (exit 2)."""

    kind = "mapping"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _text_keys(source: dict, where: str) -> tuple[dict, list[str]]:
    """Value-map keys must be text: YAML reads NO as false and 01 as 1, which would never match the export.

    Checked on the raw YAML (and the keys made text) so that the rest of the
    map is still validated and every problem is listed at once.
    """
    values, problems = source.get("values"), []
    if not isinstance(values, dict):
        return source, problems
    fixed = {}
    for col, vmap in values.items():
        if isinstance(vmap, dict):
            for k in vmap:
                if not isinstance(k, str):
                    problems.append(f"{where}.values.{col}.{k}: YAML reads this key as a {type(k).__name__}, "
                                    f"not text; quote it as the export writes it (\"NO\", \"01\")")
            vmap = {str(k): v for k, v in vmap.items()}
        fixed[col] = vmap
    return {**source, "values": fixed}, problems


def _source_model(table: Table) -> type[BaseModel]:
    """A pydantic model of one source of `table`: only the table's own §1 columns are accepted."""
    optional = dict.fromkeys(table.names)

    def enum_or(col, default):
        return Literal[col.enum] if col.enum else default  # type: ignore[valid-type]

    Columns = create_model(f"{table.name}_columns", __base__=_Strict,
                           **{c: (SourceName | None, None) for c in optional})
    def strptime_format(cls, v: str | None, info) -> str | None:
        kind = table.col(info.field_name).kind
        if v is not None and kind not in ("timestamp", "date"):
            raise ValueError(f"formats apply to timestamp and date columns; {info.field_name} is {kind}")
        if v is not None and (why := format_problem(v, kind)) is not None:
            raise ValueError(why)
        return v

    Formats = create_model(
        f"{table.name}_formats", __base__=_Strict,
        __validators__={"fmt": field_validator(*table.names)(classmethod(strptime_format))},
        **{c: (SourceName | None, None) for c in optional})
    Values = create_model(
        f"{table.name}_values", __base__=_Strict,
        **{c.name: (dict[str, enum_or(c, SourceName)] | None, None) for c in table.columns})
    Constants = create_model(
        f"{table.name}_constants", __base__=_Strict,
        **{c.name: (enum_or(c, SourceName | Annotated[int, Field(strict=True)]) | None, None)
           for c in table.columns})

    class Source(_Strict):
        files: SourceName | list[SourceName]
        encoding: SourceName | None = None
        timezone: SourceName | None = None
        columns: Columns  # type: ignore[valid-type]
        formats: Formats = Formats()  # type: ignore[valid-type]
        values: Values = Values()  # type: ignore[valid-type]
        constants: Constants = Constants()  # type: ignore[valid-type]

        @field_validator("files")
        @classmethod
        def _relative(cls, v: str | list[str]) -> str | list[str]:
            for g in [v] if isinstance(v, str) else v:
                p = PurePosixPath(g.replace("\\", "/"))
                if p.is_absolute() or ".." in p.parts or re.match(r"^[A-Za-z]:", g):
                    raise ValueError(f"{g!r} must be a glob relative to DATA_DIR, inside it")
            return v

        @field_validator("encoding")
        @classmethod
        def _codec(cls, v: str | None) -> str | None:
            if v is not None:
                try:
                    codecs.lookup(v)
                except LookupError:
                    raise ValueError(f"{v!r} is not an encoding Python knows (e.g. utf-8, gb18030)") from None
            return v

        @field_validator("timezone")
        @classmethod
        def _zone(cls, v: str | None) -> str | None:
            if v is not None and not is_zone(v):
                raise ValueError(f"{v!r} is not an IANA time zone name")
            return v

    Source.__name__ = f"{table.name}_source"
    return Source


_MODELS = {name: _source_model(t) for name, t in TABLES.items()}


class Source(BaseModel):
    """One source of a table, validated: which files, and how their columns become §1 columns."""

    model_config = ConfigDict(frozen=True)
    table: str
    where: str                       # its path in the mapping file, for messages: tables.contacts[0]
    files: tuple[str, ...]
    encoding: str | None = None
    timezone: str | None = None
    columns: dict[str, str] = {}     # §1 column -> source column, as written in the header
    formats: dict[str, str] = {}
    values: dict[str, dict[str, str]] = {}
    constants: dict[str, str] = {}


class Mapping(BaseModel):
    model_config = ConfigDict(frozen=True)
    tables: dict[str, tuple[Source, ...]]
    source: str = ""
    sha256: str = ""


def _set(model: BaseModel) -> dict[str, Any]:
    return {k: v for k, v in model if v is not None}


def _cross_checks(table: Table, where: str, s: BaseModel) -> list[str]:
    """Rules that tie one source's sections together (each problem with its path)."""
    problems = []
    columns, constants = _set(s.columns), _set(s.constants)
    for c in table.columns:
        if c.required and c.name not in columns and c.name not in constants:
            problems.append(f"{where}.columns: required column {c.name} comes from neither columns nor constants")
        if c.name in columns and c.name in constants:
            problems.append(f"{where}.constants.{c.name}: also read from columns.{c.name}; give one of them")
    for section in ("formats", "values"):
        for name in _set(getattr(s, section)):
            if name not in columns:
                problems.append(f"{where}.{section}.{name}: {name} is not read from a column (columns.{name})")
    for name, vmap in _set(s.values).items():
        if table.col(name).kind == "zone":
            problems += [f"{where}.values.{name}.{k}: {v!r} is not an IANA time zone name"
                         for k, v in vmap.items() if not is_zone(v)]
        problems += [f"{where}.values.{name}: an empty key never matches (empty values stay empty)"
                     for k in vmap if not k.strip()]
    return problems


def parse_mapping(text: str | bytes, source: str = "<mapping>") -> Mapping:
    """Validate a mapping's YAML; every problem with its path, or a Mapping."""
    raw = text.encode("utf-8") if isinstance(text, str) else text
    data = parse_yaml_mapping(raw, source, MappingError, "mapping")
    problems = [f"{k}: unknown key" for k in data if k != "tables"]
    tables = data.get("tables")
    if not isinstance(tables, dict) or not tables:
        problems.append("tables: " + ("required key is missing" if tables is None
                                      else "must map §1 table names to lists of sources"))
        tables = {}
    out: dict[str, list[Source]] = {}
    for name, sources in tables.items():
        if name not in TABLES:
            problems.append(f"tables.{name}: unknown table (known: {', '.join(TABLES)})")
            continue
        if isinstance(sources, dict):
            sources = [sources]  # one source written without the list
        if not isinstance(sources, list) or not sources:
            problems.append(f"tables.{name}: must be a list of sources, each with files and columns")
            continue
        for i, s in enumerate(sources):
            where = f"tables.{name}[{i}]"
            if not isinstance(s, dict):
                problems.append(f"{where}: a source is a mapping with files and columns")
                continue
            s, keys = _text_keys(s, where)
            problems += keys
            try:
                m = _MODELS[name].model_validate(s)
            except pydantic.ValidationError as e:
                problems += [f"{where}.{p}" for p in problems_of(e)]
                continue
            found = _cross_checks(TABLES[name], where, m)
            problems += found
            if not found:
                out.setdefault(name, []).append(Source(
                    table=name, where=where, files=(m.files,) if isinstance(m.files, str) else tuple(m.files),
                    encoding=m.encoding, timezone=m.timezone, columns=_set(m.columns), formats=_set(m.formats),
                    values=_set(m.values), constants={k: str(v) for k, v in _set(m.constants).items()}))
    if problems:
        raise MappingError(source, problems)
    return Mapping(tables={k: tuple(v) for k, v in out.items()}, source=source,
                   sha256=hashlib.sha256(raw).hexdigest())


def load_mapping(path: str | Path) -> Mapping:
    """A mapping file by path: a regular file (not a FIFO or device, which would block) of bounded size."""
    source = str(path)
    raw = read_small_file(Path(path), source, MappingError, "mapping")
    return parse_mapping(raw, source)
