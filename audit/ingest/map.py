"""The mapping step (SPEC §8), between reading and parsing: a lender's export becomes §1 columns.

Each chunk is renamed, value-mapped and (where a format is given) parsed in
one pass of Polars expressions, so a mapped load costs about what an
unmapped one does; parse.py and check.py then judge the result exactly as
they judge a §1 file. The source's own columns ride along (`src:<name>`)
so that a rejected row is shown as the export wrote it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ..errors import LoadError
from ..mapping import STAR, Mapping, Source
from ..schemas import Table
from .parse import IDX, NO_REASONS, _quoted
from .read import FILE, ROW, UNPARSED, _as_text, _file_chunks, _skipped, read_chunks

SRC = "src:"  # a source column as written, kept for rejected.csv
POS = "_pos"
UNMAPPED = {POS: pl.Int64, "column": pl.String, "reason": pl.String}


@dataclass(frozen=True)
class Input:
    """One file to read for a table: how to decode it, its zone, and the mapping source it comes through."""
    path: Path
    encoding: str
    zone: str | None
    source: Source | None = None


def source_files(root: Path, source: Source) -> list[Path]:
    """The files a source's globs match under DATA_DIR (hidden and _marker files skipped), in name order.

    A source that matches nothing stops the load: a mistyped glob would
    otherwise audit a log with a whole channel missing.
    """
    found: dict[Path, None] = {}
    for pattern in source.files:
        for p in sorted(root.glob(pattern)):
            if p.is_file() and not any(_skipped(part) for part in p.relative_to(root).parts):
                found.setdefault(p)
    if not found:
        raise LoadError(f"{source.where}.files ({', '.join(source.files)}) matches no file in {root}")
    return list(found)


def plan(root: Path, discovered: dict[str, list[Path]], mapping: Mapping | None, *, encoding: str,
         zone: str | None) -> dict[str, list[Input]]:
    """Every table's inputs: the mapping's sources for the tables it names, the others as §1 finds them."""
    out = {name: [Input(p, encoding, zone) for p in paths] for name, paths in discovered.items()}
    for name, sources in (mapping.tables if mapping else {}).items():
        out[name] = [Input(p, s.encoding or encoding, s.timezone or zone, s)
                     for s in sources for p in source_files(root, s)]
    return out


def chunks(table: Table, inp: Input, root: Path) -> Iterator[tuple[pl.DataFrame, pl.DataFrame | None]]:
    """A file's chunks with the table's §1 columns, FILE and ROW; with a mapping, also its unmapped values."""
    if inp.source is None:
        for chunk in _file_chunks(table, inp.path, root, inp.encoding):
            yield chunk, None
        return
    name = str(inp.path.relative_to(root))
    for raw in read_chunks(inp.path, inp.encoding, as_written=True):
        yield apply(table, inp.source, raw, name)


def _header(source: Source, columns: list[str], name: str) -> dict[str, str | None]:
    """Each mapped §1 column's column in this file: as written, else the one that differs only in case."""
    folded: dict[str, list[str]] = {}
    for c in columns:
        folded.setdefault(c.casefold(), []).append(c)
    out: dict[str, str | None] = {}
    for col, wanted in source.columns.items():
        if wanted in columns:
            out[col] = wanted
        elif len(folded.get(wanted.casefold(), [])) == 1:
            out[col] = folded[wanted.casefold()][0]
        elif UNPARSED in columns:  # only lines that are not JSON objects: each is rejected as such
            out[col] = None
        else:
            raise LoadError(f"{name}: column {wanted!r} is not in the file's header "
                            f"({source.where}.columns.{col} names it)")
    return out


def _blank_null(e: pl.Expr) -> pl.Expr:
    t = e.cast(pl.String).str.strip_chars()
    return pl.when(t == "").then(None).otherwise(t)


def apply(table: Table, source: Source, raw: pl.DataFrame, name: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One chunk of a source as §1 columns, and (position, column, reason) for each value with no mapping."""
    header = _header(source, [c for c in raw.columns if c != ROW], name)
    exprs, flags, formatted = [], {}, {}
    for col in table.columns:
        c, src = col.name, header.get(col.name)
        if c in source.constants:
            exprs.append(pl.lit(source.constants[c], pl.String).alias(c))
            continue
        if src is None:
            exprs.append(pl.lit(None, pl.String).alias(c))
            continue
        e, temporal = pl.col(src), raw.schema[src].is_temporal()
        if c in source.values:
            vmap = source.values[c]
            keys = [k for k in vmap if k != STAR]
            text = _blank_null(e)
            default = pl.lit(vmap[STAR], pl.String) if STAR in vmap else None
            e = pl.when(text.is_null()).then(None).otherwise(
                text.replace_strict(keys, [vmap[k] for k in keys], default=default, return_dtype=pl.String))
            if STAR not in vmap:
                flags[c] = (src, text.is_not_null() & e.is_null())
            temporal = False
        if c in source.formats and not temporal:
            text = _blank_null(e)
            kind = pl.Datetime("us") if col.kind == "timestamp" else pl.Date
            formatted[c] = text.is_not_null() & text.str.strptime(kind, source.formats[c], strict=False).is_null()
            e = text.str.strptime(kind, source.formats[c], strict=False)
            exprs.append(text.alias(f"_text:{c}"))
        exprs.append(e.alias(c))
    kept = [pl.col(c).alias(SRC + c) for c in raw.columns if c not in (ROW, UNPARSED)]
    df = raw.select(*exprs, *[f.alias(f"_bad:{c}") for c, f in formatted.items()],
                    *[f.alias(f"_unmapped:{c}") for c, (_, f) in flags.items()],
                    pl.lit(name).alias(FILE), ROW, *kept, *([UNPARSED] if UNPARSED in raw.columns else []))
    fixes = []
    for c in formatted:
        # A value that does not match the format stays as written, so that parse.py rejects it and says so.
        if df.get_column(f"_bad:{c}").any():
            fixes.append(pl.when(pl.col(f"_bad:{c}")).then(pl.col(f"_text:{c}")).otherwise(
                pl.lit(_as_text(df.select(c)).to_series())).alias(c))
    unmapped = [df.filter(pl.col(f"_unmapped:{c}")).select(
        pl.col(ROW).alias(POS), pl.lit(c).alias("column"),
        (pl.lit(f"{c} ") + _quoted(pl.col(SRC + src).cast(pl.String).str.strip_chars())
         + pl.lit(f" (column {src}) has no mapping in {source.where}.values.{c}")).alias("reason"))
        for c, (src, _) in flags.items() if df.get_column(f"_unmapped:{c}").any()]
    helpers = [c for c in df.columns if c.startswith(("_text:", "_bad:", "_unmapped:"))]
    df = df.with_columns(fixes).drop(helpers)
    first = df.get_column(ROW).first() if df.height else 0
    reasons = pl.concat(unmapped).with_columns(pl.col(POS) - first) if unmapped else pl.DataFrame(schema=UNMAPPED)
    return df, reasons


def settle(found: pl.DataFrame, unmapped: pl.DataFrame | None, offset: int) -> pl.DataFrame:
    """A chunk's reasons with its unmapped values added; "X is empty" dropped where X had an unmapped value."""
    if unmapped is None or unmapped.is_empty():
        return found
    unmapped = unmapped.with_columns((pl.col(POS) + offset).alias(IDX))
    empty = unmapped.select(IDX, (pl.col("column") + pl.lit(" is empty")).alias("reason"))
    kept = found.join(empty, on=[IDX, "reason"], how="anti")
    return pl.concat([unmapped.select(IDX, "reason"), kept.select(IDX, "reason")]).cast(NO_REASONS)
