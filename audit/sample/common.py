"""What every part of the generator shares: the fixed calendar, identifiers with valid check digits,
the seeded randomness, and the helpers that turn uniforms into values, dates and times."""

from __future__ import annotations

import random
import sys
from array import array
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

import polars as pl
import pyarrow as pa

FORMATS = ("mixed", "parquet", "csv")
TABLE_NAMES = ("borrowers", "loans", "installments", "emergency_contacts", "contacts")

NOW = date(2026, 11, 27)                 # the last day of the log
ORIG_FROM, ORIG_TO = date(2026, 4, 20), date(2026, 10, 20)
CHUNK_LOANS = 20_000                     # fixed: output bytes must not depend on the machine
ZONES = ("Asia/Shanghai", "", "America/New_York", "Europe/London")
CN = ZoneInfo("Asia/Shanghai")
EPOCH = date(1970, 1, 1)
BRAND = "恒信金融"
HOTLINE = "400-820-6688"

# ---------------------------------------------------------------- identifiers

_ID_W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_check_char(body17: str) -> str:
    """GB 11643-1999 check character of the first 17 digits of a resident ID."""
    return _ID_CHECK[sum(int(d) * w for d, w in zip(body17, _ID_W)) % 11]


def luhn_check_digit(body: str) -> str:
    """The digit that makes `body + digit` pass the Luhn check."""
    s = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        s += d
    return str((10 - s % 10) % 10)


def _id_check_expr(body: pl.Expr) -> pl.Expr:
    s = pl.sum_horizontal([body.str.slice(i, 1).cast(pl.Int32) * w for i, w in enumerate(_ID_W)]) % 11
    return s.replace_strict(dict(enumerate(_ID_CHECK)), return_dtype=pl.String)


def _luhn_expr(body18: pl.Expr) -> pl.Expr:
    """Check digit of a card body left-padded with zeros to 18 digits (padding does not change Luhn)."""
    terms = []
    for j in range(18):
        d = body18.str.slice(j, 1).cast(pl.Int32)
        if (17 - j) % 2 == 0:
            d = pl.when(d > 4).then(d * 2 - 9).otherwise(d * 2)
        terms.append(d)
    return ((10 - pl.sum_horizontal(terms) % 10) % 10).cast(pl.String)


# ---------------------------------------------------------------- randomness


class _Rng:
    """Uniforms in [0, 1) as Polars Series, 32 bits each, from a string-seeded Mersenne Twister."""

    def __init__(self, *key: object) -> None:
        self._r = random.Random(":".join(map(str, key)))

    def u(self, n: int) -> pl.Series:
        if n == 0:
            return pl.Series([], dtype=pl.Float64)
        b = self._r.randbytes(4 * n)
        if sys.byteorder == "big":  # keep the stream identical on every platform
            a = array("I", b)
            a.byteswap()
            b = a.tobytes()
        arr = pa.Array.from_buffers(pa.uint32(), n, [None, pa.py_buffer(b)])
        return pl.from_arrow(arr).cast(pl.Float64) / 4294967296.0


def _cum(weights: list[float]) -> list[float]:
    tot = float(sum(weights))
    out, acc = [], 0.0
    for w in weights:
        acc += w / tot
        out.append(acc)
    out[-1] = 1.0
    return out


def _pick(u: pl.Series, weights: list[float]) -> pl.Series:
    """Index of the weighted choice for each uniform."""
    return pl.Series(_cum(weights)).search_sorted(u, side="right").cast(pl.Int64)


@dataclass
class _Pools:
    """Several weighted lists flattened into one, so one binary search picks for every row at once."""

    values: list = field(default_factory=list)
    cum: list[float] = field(default_factory=list)
    index: dict = field(default_factory=dict)

    def add(self, key: object, items: list[tuple[float, object]]) -> None:
        p = len(self.index)
        self.index[key] = p
        self.values.extend(v for _, v in items)
        self.cum.extend(p + c for c in _cum([w for w, _ in items]))

    def pick(self, pool: pl.Series, u: pl.Series, dtype: pl.DataType = pl.String, index: bool = False) -> pl.Series:
        idx = pl.Series(self.cum).search_sorted(pool.cast(pl.Float64) + u, side="right")
        return idx.cast(pl.Int64) if index else pl.Series(self.values, dtype=dtype).gather(idx)


def _digits(u: pl.Series | pl.Expr, k: int) -> pl.Expr:
    e = u if isinstance(u, pl.Expr) else pl.lit(u)
    return (e * 10**k).floor().cast(pl.Int64).cast(pl.String).str.zfill(k)


def _money(cents: pl.Expr) -> pl.Expr:
    return pl.format("{}.{}", cents // 100, (cents % 100).cast(pl.String).str.zfill(2))


def _money_commas(cents: pl.Expr) -> pl.Expr:
    ip = cents // 100
    z3 = lambda e: e.cast(pl.String).str.zfill(3)  # noqa: E731
    head = (pl.when(ip >= 1_000_000).then(pl.format("{},{},{}", ip // 1_000_000, z3(ip // 1000 % 1000), z3(ip % 1000)))
            .when(ip >= 1000).then(pl.format("{},{}", ip // 1000, z3(ip % 1000)))
            .otherwise(ip.cast(pl.String)))
    return pl.format("{}.{}", head, (cents % 100).cast(pl.String).str.zfill(2))


# ---------------------------------------------------------------- dates and times


def _day_to_date(e: pl.Expr) -> pl.Expr:
    return e.cast(pl.Int32).cast(pl.Date)


def _date_days(d: date) -> int:
    return d.toordinal() - EPOCH.toordinal()


def _to_utc(lt: pl.Expr, zone: pl.Expr) -> pl.Expr:
    """Naive local wall time in the borrower's zone (code into ZONES; empty means Shanghai) -> naive UTC."""
    def conv(z: str) -> pl.Expr:
        return (lt.dt.replace_time_zone(z, ambiguous="earliest", non_existent="null")
                .dt.convert_time_zone("UTC").dt.replace_time_zone(None))
    return (pl.when(zone == 2).then(conv(ZONES[2])).when(zone == 3).then(conv(ZONES[3]))
            .otherwise(lt - pl.duration(hours=8)))


def _render_ts(lt: pl.Expr, utc: pl.Expr, zone: pl.Expr, u_style: pl.Expr, u_sep: pl.Expr) -> pl.Expr:
    """ISO-8601 text as lenders' systems write it: mostly Beijing time (+08:00), some UTC (Z), some the
    borrower's own offset, a few with a space instead of T."""
    style = (pl.when(zone <= 1).then(pl.when(u_style < 0.9).then(0).otherwise(1))
             .otherwise(pl.when(u_style < 0.45).then(0).when(u_style < 0.65).then(1).otherwise(2)))
    wall = pl.when(style == 0).then(utc + pl.duration(hours=8)).when(style == 1).then(utc).otherwise(lt)
    off = (lt - utc).dt.total_minutes()
    local_off = pl.format("{}{}:{}", pl.when(off < 0).then(pl.lit("-")).otherwise(pl.lit("+")),
                          (off.abs() // 60).cast(pl.String).str.zfill(2), (off.abs() % 60).cast(pl.String).str.zfill(2))
    suffix = pl.when(style == 0).then(pl.lit("+08:00")).when(style == 1).then(pl.lit("Z")).otherwise(local_off)
    text = wall.dt.strftime("%Y-%m-%dT%H:%M:%S") + suffix
    return pl.when(u_sep < 0.06).then(text.str.replace("T", " ", literal=True)).otherwise(text)


# ---------------------------------------------------------------- the random part
