"""An independent, loop-based reading of SPEC §1, §2, §3, §4 and §4b.

It shares no code with the tool: it reads the dataset's files itself (the
`csv`, `json`, `gzip` modules and pyarrow for Parquet), judges every row as
§1 and docs/decisions.md say, parses the policy YAML itself with the §3
defaults, and then judges one contact at a time in plain Python, with
`zoneinfo` for local time and `re` (look-around included) for numbers. So a
bug in the loader (a row wrongly rejected or kept, a value misread) or in the
policy model (a wrong default) shows as a difference from the engine. Slow on
purpose; it only has to be obviously right. The identifier oracle is
tests/pii_reference.py, written the same way.

    violations(source, policy, timezone=None) -> {(rule_id, event_id)}

`source` is a dataset directory, or a store connection: then the directories
its loads came from (the store's `loads` table) are read again, in order, so
the tool's stored rows are never used. `policy` is a YAML file path,
`builtin:NAME`, YAML text, an already-read YAML mapping, or a policy object
of the tool (its file is read again by `source`; its parsed values are not
used).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo, available_timezones

import yaml

from pii_reference import find_identifiers

THIRD = ("emergency_contact", "third_party")
NUMBER = re.compile(r"(?<![0-9])[0-9]+(?:,[0-9]{3})*(?:\.[0-9]+)?(?![0-9])")
CHANNELS = {"call", "sms", "email", "app_push", "im", "letter", "visit"}
RECIPIENT_TYPES = {"borrower", "emergency_contact", "third_party"}
OUTCOMES = {"connected", "no_answer", "busy", "voicemail", "refused", "failed", "delivered", "read",
            "do_not_contact"}
UTC = dt.timezone.utc
TS_MIN, TS_MAX = dt.datetime(1, 1, 2, tzinfo=UTC), dt.datetime(9999, 12, 30, tzinfo=UTC)


def nfkc(s: str | None) -> str | None:
    return None if s is None else unicodedata.normalize("NFKC", s)


# ================================================================== SPEC §1: the files, read again

# (column, kind, required, extra check); kinds: str, content, enum set, int, decimal, date, ts, zone.
SCHEMA = {
    "borrowers": [("borrower_id", "str", True, None), ("name", "str", False, None),
                  ("id_number", "str", False, None), ("phone", "str", False, None),
                  ("bank_card", "str", False, None), ("address", "str", False, None),
                  ("timezone", "zone", False, None)],
    "loans": [("loan_id", "str", True, None), ("borrower_id", "str", True, None),
              ("principal", "decimal", False, lambda v: v >= 0)],
    "installments": [("loan_id", "str", True, None), ("seq", "int", True, lambda v: v >= 1),
                     ("due_date", "date", True, None), ("amount_due", "decimal", True, lambda v: v > 0),
                     ("paid_at", "ts", False, None)],
    "emergency_contacts": [("borrower_id", "str", True, None), ("contact_id", "str", True, None),
                           ("relationship", "str", False, None), ("phone", "str", False, None)],
    "contacts": [("event_id", "str", True, None), ("loan_id", "str", True, None), ("ts", "ts", True, None),
                 ("channel", CHANNELS, True, None), ("recipient_type", RECIPIENT_TYPES, True, None),
                 ("recipient_id", "str", False, None), ("agent_id", "str", False, None),
                 ("outcome", OUTCOMES, False, None), ("duration_s", "int", False, lambda v: v >= 0),
                 ("content", "content", False, None)],
}
KEYS = {"borrowers": ("borrower_id",), "loans": ("loan_id",), "installments": ("loan_id", "seq"),
        "emergency_contacts": ("borrower_id", "contact_id"), "contacts": ("event_id",)}
REFS = {"loans": ("borrower_id", "borrowers", "borrower_id"), "installments": ("loan_id", "loans", "loan_id"),
        "emergency_contacts": ("borrower_id", "borrowers", "borrower_id"),
        "contacts": ("loan_id", "loans", "loan_id")}
ORDER = ("borrowers", "loans", "installments", "emergency_contacts", "contacts")
EVENT_LOG = {"contacts"}  # a stored event never changes; the other tables are snapshots
ENDINGS = (".csv", ".jsonl", ".parquet", ".csv.gz", ".jsonl.gz", ".csv.zst", ".jsonl.zst")
NOT_OBJECT = object()  # a JSONL line that is not an object: a row, rejected
ZONES = available_timezones()

_TS = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2})(?::([0-5][0-9])(?:\.([0-9]{1,6}))?)?"
                 r"(Z|[+-][0-9]{2}:?[0-9]{2})?$")


def _ending(name: str) -> str | None:
    return next((e for e in ENDINGS if name.lower().endswith(e) and len(name) > len(e)), None)


def table_files(root: Path) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for table in SCHEMA:
        d = root / table
        if d.is_dir():
            out[table] = sorted(p for p in d.rglob("*") if p.is_file() and _ending(p.name)
                                and not any(part.startswith((".", "_")) for part in p.relative_to(d).parts))
        else:
            found = [p for p in sorted(root.iterdir()) if p.is_file() and _ending(p.name)
                     and p.name[: -len(_ending(p.name))] == table]
            if found:
                out[table] = found
    return out


def _text_of(path: Path, encoding: str) -> str:
    raw = path.read_bytes()
    if path.name.lower().endswith(".gz"):
        raw = gzip.decompress(raw)
    elif path.name.lower().endswith(".zst"):
        import pyarrow
        raw = pyarrow.input_stream(pyarrow.py_buffer(raw), compression="zstd").read()
    text = raw.decode(encoding)
    return text.removeprefix("\ufeff")


def read_rows(path: Path, encoding: str = "utf-8") -> list[dict | object]:
    """The file's records as {lower-case column: value as written, or as Parquet types it}."""
    ending = _ending(path.name)
    if ending == ".parquet":
        import pyarrow.parquet as pq
        return [{k.lower(): v for k, v in r.items()} for r in pq.read_table(path).to_pylist()]
    text = _text_of(path, encoding)
    if ending.startswith(".jsonl"):
        rows = []
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                obj = json.loads(line, object_pairs_hook=lambda pairs: dict(reversed(pairs)))  # first value wins
            except ValueError:
                obj = None
            rows.append({k.lower(): v for k, v in obj.items()} if isinstance(obj, dict) else NOT_OBJECT)
        return rows
    text = text.replace("\x00", "")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.lower() for h in next(reader, [])]
    return [dict(zip(header, rec + [None] * (len(header) - len(rec)))) for rec in reader]


def _as_text(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    return str(v)


def _stripped(v) -> str | None:
    t = _as_text(v)
    if t is None:
        return None
    t = t.strip()
    return t or None


def _instant(v, zone: str | None):
    """A UTC datetime, or raise ValueError; naive values are wall-clock time in `zone`."""
    if isinstance(v, dt.datetime):
        wall = v
    else:
        m = _TS.match(_stripped(v) or "")
        if not m:
            raise ValueError("not a timestamp")
        y, mo, d, h, mi, s, frac, off = m.groups()
        wall = dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0), int((frac or "0").ljust(6, "0")))
        if off:
            if off == "Z":
                wall = wall.replace(tzinfo=UTC)
            else:
                sign = -1 if off[0] == "-" else 1
                hh, mm = int(off[1:3]), int(off[-2:])
                wall = wall.replace(tzinfo=dt.timezone(sign * dt.timedelta(hours=hh, minutes=mm)))
    if wall.tzinfo is None:
        if zone is None:
            raise NaiveTimestamp(str(v))
        local = wall.replace(tzinfo=ZoneInfo(zone), fold=0)  # an ambiguous wall time: its first occurrence
        if local.astimezone(UTC).astimezone(ZoneInfo(zone)).replace(tzinfo=None) != wall:
            raise ValueError("does not exist in the zone (clock change)")
        wall = local
    t = wall.astimezone(UTC)
    if not TS_MIN <= t <= TS_MAX:
        raise ValueError("outside the years 0001-9999")
    return t


class NaiveTimestamp(Exception):
    """A timestamp without an offset and no zone given: the whole load stops (SPEC §1)."""


def _value(kind, v, zone):
    """The typed value (None when empty), or raise ValueError."""
    if kind == "content":
        t = _as_text(v)
        return None if t is None or not t.strip() else t
    if kind == "ts":
        if v is None or (isinstance(v, str) and not v.strip()):
            return None
        return _instant(v, zone)
    if kind == "date" and isinstance(v, dt.date):
        return v
    if kind == "int" and isinstance(v, int) and not isinstance(v, bool):
        return v
    t = _stripped(v)
    if t is None:
        return None
    if isinstance(kind, set):
        return t.lower()  # membership is judged with the other value checks
    if kind == "str":
        return t
    if kind == "zone":
        if t not in ZONES:
            raise ValueError("not a zone")
        return t
    if kind == "int":
        if not re.fullmatch(r"[+-]?[0-9]{1,18}(\.0+)?", t):
            raise ValueError("not an integer")
        return int(t.split(".")[0])
    if kind == "decimal":
        if not re.fullmatch(r"[+-]?[0-9]{1,15}(\.[0-9]{1,2}0*)?", t):
            raise ValueError("not an amount")
        return Decimal(t).quantize(Decimal("0.01"))
    if kind == "date":
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", t):
            raise ValueError("not a date")
        return dt.date.fromisoformat(t)
    raise AssertionError(kind)


def judge_row(table: str, raw, zone: str | None) -> dict | None:
    """The row's typed values, or None when it fails on its own (type, enum, required, bounds)."""
    if raw is NOT_OBJECT:
        return None
    row, ok = {}, True
    for name, kind, required, check in SCHEMA[table]:
        try:
            v = _value(kind, raw.get(name), zone)
        except ValueError:
            ok, v = False, None
        if v is None and required:
            ok = False
        if v is not None and isinstance(kind, set) and v not in kind:
            ok = False
        if v is not None and check is not None and not check(v):
            ok = False
        row[name] = v
    if table == "contacts" and row["recipient_type"] in THIRD and row["recipient_id"] is None:
        ok = False
    return row if ok else None


def _key_value(table: str, name: str, v):
    """A key column's value as parsed (`seq` 2 and 2.0 are one key), or as written when it does not parse."""
    kind = next(k for n, k, *_ in SCHEMA[table] if n == name)
    try:
        return _value(kind, v, None)
    except ValueError:
        return _stripped(v)


def _written(table: str, raw) -> tuple:
    return ("raw",) if raw is NOT_OBJECT else ("raw", *(_as_text(raw.get(n)) for n, *_ in SCHEMA[table]))


def load(stored: dict[str, dict], root: Path, zone: str | None = None, encoding: str = "utf-8") -> None:
    """One load of a dataset directory into `stored` ({table: {key: row}}), as SPEC §1 says."""
    files = table_files(Path(root))
    has_borrowers = "borrowers" in files or bool(stored["borrowers"])
    for table in ORDER:
        if table not in files:
            continue
        raws = [r for p in files[table] for r in read_rows(p, encoding)]
        judged = [judge_row(table, r, zone) for r in raws]
        ref = REFS.get(table)
        if ref and (ref[1] != "borrowers" or has_borrowers):
            col, target, _ = ref
            judged = [r if r is None or (r[col],) in stored[target] else None for r in judged]
        groups: dict[tuple, list[int]] = defaultdict(list)
        for i, raw in enumerate(raws):
            if raw is NOT_OBJECT:
                continue
            key = tuple(_key_value(table, k, raw.get(k)) for k in KEYS[table])
            if all(k is not None for k in key):
                groups[key].append(i)
        skip = set()
        for members in groups.values():
            if len(members) < 2:
                continue
            signatures = {tuple(judged[i].values()) if judged[i] is not None else _written(table, raws[i])
                          for i in members}
            skip |= set(members) if len(signatures) > 1 else set(members[1:])  # conflicting: all rejected
        for i, row in enumerate(judged):
            if row is None or i in skip:
                continue
            key = tuple(row[k] for k in KEYS[table])
            if table in EVENT_LOG and key in stored[table]:
                continue  # the stored event is kept (same: a duplicate; different: rejected)
            stored[table][key] = row


def read_dataset(roots, zone: str | None = None, encoding: str = "utf-8") -> dict[str, list[dict]]:
    stored: dict[str, dict] = {t: {} for t in SCHEMA}
    for root in roots:
        load(stored, Path(root), zone, encoding)
    return {t: list(rows.values()) for t, rows in stored.items()}


# ================================================================== SPEC §3: the policy, read again

def _times(v) -> dt.time:
    if isinstance(v, int):  # YAML 1.1 reads 08:00 unquoted as 480 (minutes, base 60)
        return dt.time(v // 60, v % 60)
    parts = [int(p) for p in str(v).split(":")]
    return dt.time(*parts)


def read_policy(policy) -> SimpleNamespace:
    """The policy's rules with the §3 defaults, from the YAML itself."""
    if isinstance(policy, dict):
        doc = policy
    else:
        text = policy
        source = getattr(policy, "source", None)
        if getattr(policy, "text", ""):  # a policy object of the tool keeps the YAML it was read from
            source = None
            text = policy.text
        if source is not None:  # an older policy object: read its file again
            if not source or source.startswith("<"):
                raise ValueError("the oracle needs the policy's YAML; this policy object was parsed from text")
            text = source
        text = str(text)
        if text.startswith("builtin:"):
            text = resources.files("audit.policies").joinpath(text.removeprefix("builtin:") + ".yaml").read_text("utf-8")
        elif "\n" not in text and Path(text).is_file():
            text = Path(text).read_text("utf-8")
        doc = yaml.safe_load(text)
    rules = doc.get("rules") or {}
    ns = SimpleNamespace(default_timezone=doc["default_timezone"], third_party=None, contact_hours=None,
                         frequency=[], pii=None, disclosure=None, do_not_contact=None, quiet=None)
    if "third_party" in rules:
        tp = rules["third_party"] or {}
        ns.third_party = SimpleNamespace(
            min_days_past_due=tp.get("min_days_past_due", 0),
            amount_tiers=[(Decimal(str(t["overdue_amount_at_least"])), t["min_days_past_due"])
                          for t in tp.get("amount_tiers") or []],
            escalation=[(s["channel"], s["at_least"], s.get("outcomes")) for s in tp.get("escalation") or []],
            registered_only=tp.get("registered_only", False),
            unreachable=tp.get("unreachable_after_failed_calls"))
    if "contact_hours" in rules:
        h = rules["contact_hours"]
        ns.contact_hours = SimpleNamespace(start=_times(h["start"]), end=_times(h["end"]),
                                           channels=h.get("channels"), end_inclusive=h.get("end_inclusive", False))
    for f in rules.get("frequency") or []:
        ns.frequency.append(SimpleNamespace(
            id=f["id"], recipient_types=f.get("recipient_types"), channels=f.get("channels"),
            outcomes=f.get("outcomes"), exclude=f.get("exclude_outcomes"), per=f["per"], window=f["window"],
            max=f["max"]))
    if "pii" in rules:
        p = rules["pii"] or {}
        ns.pii = SimpleNamespace(
            protected=p.get("third_party_protected", ["id_number", "bank_card", "phone", "address"]),
            forbidden=p.get("unmasked_forbidden", ["id_number", "bank_card", "mobile"]),
            channels=p.get("unmasked_channels"))
    if "disclosure" in rules:
        d = rules["disclosure"] or {}
        ns.disclosure = SimpleNamespace(terms=[str(t) for t in d.get("terms") or []], amounts=d.get("amounts", False))
    if "do_not_contact" in rules:
        ns.do_not_contact = SimpleNamespace(recipient_types=(rules["do_not_contact"] or {}).get("recipient_types"))
    if "quiet_after_conversation" in rules:
        q = rules["quiet_after_conversation"] or {}
        ns.quiet = SimpleNamespace(days=q.get("days", 7), exclude=q.get("exclude_outcomes"))
    return ns


# ================================================================== SPEC §2: the derived facts

class Store:
    """The tables, as Python objects, with the derived facts of SPEC §2 per contact."""

    def __init__(self, tables: dict[str, list[dict]], default_zone: str):
        self.loans = {r["loan_id"]: r for r in tables["loans"]}
        self.borrowers = {r["borrower_id"]: r for r in tables["borrowers"]}
        self.ec = {(r["borrower_id"], r["contact_id"]) for r in tables["emergency_contacts"]}
        self.inst = defaultdict(list)
        for r in tables["installments"]:
            self.inst[r["loan_id"]].append(r)
        self.contacts = [dict(c) for c in tables["contacts"]]
        for c in self.contacts:
            loan = self.loans[c["loan_id"]]
            b = self.borrowers.get(loan["borrower_id"]) or {}
            zone = b.get("timezone") or default_zone
            local = c["ts"].astimezone(ZoneInfo(zone))
            c["borrower_id"] = loan["borrower_id"]
            c["local"] = local
            c["d"] = local.date()
            overdue = [i for i in self.inst[c["loan_id"]]
                       if i["due_date"] < c["d"] and (i["paid_at"] is None or i["paid_at"] > c["ts"])]
            c["dpd"] = max(((c["d"] - i["due_date"]).days for i in overdue), default=0)
            c["amount"] = sum((i["amount_due"] for i in overdue), Decimal(0))
            c["E"] = c["d"] - dt.timedelta(days=c["dpd"]) if c["dpd"] else None
            c["recipient"] = c["borrower_id"] if c["recipient_type"] == "borrower" else c["recipient_id"]
        self.by_loan = defaultdict(list)
        for c in self.contacts:
            self.by_loan[c["loan_id"]].append(c)


def _key(c: dict) -> tuple:
    return (c["ts"], c["event_id"])


def _in(values, v) -> bool:
    return values is None or v in values


def _tables_of(source, timezone: str | None, encoding: str) -> dict[str, list[dict]]:
    if isinstance(source, (str, Path)):
        return read_dataset([source], timezone, encoding)
    roots = [r[0] for r in source.execute("SELECT data_dir FROM loads ORDER BY load_id").fetchall()]
    if not roots:
        raise ValueError("the store records no load to read again")
    return read_dataset(roots, timezone, encoding)


def violations(source, policy, timezone: str | None = None, encoding: str = "utf-8") -> set[tuple[str, str]]:
    """(rule_id, event_id) for every violation the spec implies."""
    p = read_policy(policy)
    return judge(Store(_tables_of(source, timezone, encoding), p.default_timezone), p)


# ================================================================== SPEC §4 and §4b: the rules

def judge(s: Store, p: SimpleNamespace) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    tp = p.third_party
    for c in s.contacts:
        third = c["recipient_type"] in THIRD
        earlier = [x for x in s.by_loan[c["loan_id"]] if x["ts"] < c["ts"]]
        if tp is not None and third:
            required = tp.min_days_past_due
            tiers = [(at, days) for at, days in tp.amount_tiers if at <= c["amount"]]
            if tiers:  # the largest threshold wins; of equal ones, the one listed last (docs/decisions.md)
                best = max(at for at, _ in tiers)
                required = [days for at, days in tiers if at == best][-1]
            if c["dpd"] < required:
                out.add(("TP-DPD", c["event_id"]))
            if tp.escalation and c["dpd"] >= 1:
                for channel, at_least, outcomes in tp.escalation:
                    n = sum(1 for x in earlier
                            if x["recipient_type"] == "borrower" and x["channel"] == channel
                            and (x["outcome"] in outcomes if outcomes is not None else x["outcome"] != "failed")
                            and x["d"] > c["E"])
                    if n < at_least:
                        out.add(("TP-ESCALATION", c["event_id"]))
            if tp.unreachable and c["dpd"] >= 1:
                n = tp.unreachable
                calls = sorted((x for x in earlier if x["channel"] == "call" and x["recipient_type"] == "borrower"),
                               key=_key, reverse=True)[:n]
                if len(calls) < n or any(x["d"] <= c["E"] or x["outcome"] == "connected" for x in calls):
                    out.add(("TP-REACHABLE", c["event_id"]))
        if tp is not None and tp.registered_only:
            if c["recipient_type"] == "third_party" or (
                    c["recipient_type"] == "emergency_contact" and s.ec
                    and (c["borrower_id"], c["recipient_id"]) not in s.ec):
                out.add(("TP-UNREGISTERED", c["event_id"]))
        h = p.contact_hours
        if h is not None and _in(h.channels, c["channel"]):
            t = c["local"].time().replace(tzinfo=None)
            before_end = t <= h.end if h.end_inclusive else t < h.end
            inside = h.start <= t and before_end if h.start < h.end else (t >= h.start or before_end)
            if not inside:
                out.add(("HOURS", c["event_id"]))
        q = p.quiet
        if (q is not None and c["channel"] == "call" and c["recipient_type"] == "borrower"
                and not (q.exclude and c["outcome"] in q.exclude)):
            for x in earlier:
                if (x["channel"] == "call" and x["recipient_type"] == "borrower" and x["outcome"] == "connected"
                        and (c["d"] - x["d"]).days <= q.days - 1):
                    out.add(("QUIET-AFTER-CONVERSATION", c["event_id"]))
                    break
    if p.do_not_contact is not None:
        by_recipient = defaultdict(list)
        for c in s.contacts:
            by_recipient[c["recipient"]].append(c)
        for c in s.contacts:
            if c["recipient"] is None or not _in(p.do_not_contact.recipient_types, c["recipient_type"]):
                continue
            if any(x["ts"] < c["ts"] and x["outcome"] == "do_not_contact" for x in by_recipient[c["recipient"]]):
                out.add(("DNC", c["event_id"]))
    for f in p.frequency:
        groups = defaultdict(list)
        for c in s.contacts:
            excluded = f.exclude is not None and c["outcome"] in f.exclude
            if (_in(f.recipient_types, c["recipient_type"]) and _in(f.channels, c["channel"])
                    and _in(f.outcomes, c["outcome"]) and not excluded):
                groups[c["loan_id"] if f.per == "loan" else c["recipient"]].append(c)
        for members in groups.values():
            members.sort(key=_key)
            for i, c in enumerate(members):
                upto = members[: i + 1]
                if f.window == "day":
                    n = sum(1 for x in upto if x["d"] == c["d"])
                elif f.window == "7d":
                    n = sum(1 for x in upto if c["ts"] - dt.timedelta(hours=168) < x["ts"] <= c["ts"])
                elif f.window == "7_days":
                    n = sum(1 for x in upto if c["d"] - dt.timedelta(days=6) <= x["d"] <= c["d"])
                else:
                    n = len(upto)
                if n > f.max:
                    out.add((f.id, c["event_id"]))
    _text_rules(s, p, out)
    return out


def _squash(s: str, pattern: str) -> str:
    return re.sub(pattern, "", nfkc(s)).upper()


def _same_number(token: str, amount: Decimal) -> bool:
    return amount > 0 and Decimal(token.replace(",", "")) == amount


def _text_rules(s: Store, p: SimpleNamespace, out: set) -> None:
    for c in s.contacts:
        text = nfkc(c["content"])
        if not text:
            continue
        third = c["recipient_type"] in THIRD
        b = s.borrowers.get(c["borrower_id"]) or {}
        if p.pii is not None and third:
            for attr in p.pii.protected:
                value = b.get(attr)
                if not value:
                    continue
                if attr == "address":
                    hit = _squash(value, r"\s") and _squash(value, r"\s") in _squash(text, r"\s")
                else:
                    hit = _squash(value, r"[\s-]") and _squash(value, r"[\s-]") in _squash(text, r"[\s-]")
                if hit:
                    out.add(("PII-THIRD-PARTY", c["event_id"]))
        if p.pii is not None and _in(p.pii.channels, c["channel"]):
            kinds = set(p.pii.forbidden)
            if any(k in kinds for k, *_ in find_identifiers(c["content"], c["d"])):
                out.add(("PII-UNMASKED", c["event_id"]))
        if p.disclosure is not None and third:
            low = text.lower()
            if any(nfkc(t).lower() in low for t in p.disclosure.terms):
                out.add(("TP-DISCLOSURE", c["event_id"]))
            elif p.disclosure.amounts:
                principal = s.loans[c["loan_id"]]["principal"] or Decimal(0)
                for m in NUMBER.finditer(text):
                    if _same_number(m.group(), c["amount"]) or _same_number(m.group(), principal):
                        out.add(("TP-DISCLOSURE", c["event_id"]))
                        break
