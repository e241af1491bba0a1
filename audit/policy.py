"""The policy file: YAML in, a typed and fully validated Policy out.

Validation is declarative (pydantic models that forbid unknown keys), so
every problem in a file is reported at once, each with its path in the
spec's notation (`rules.frequency[1].max`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from datetime import time
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

from .errors import PolicyError
from .timezones import is_zone

Channel = Literal["call", "sms", "email", "app_push", "im", "letter", "visit"]
RecipientType = Literal["borrower", "emergency_contact", "third_party"]
Outcome = Literal[
    "connected", "no_answer", "busy", "voicemail", "refused",
    "failed", "delivered", "read", "do_not_contact",
]
Severity = Literal["low", "medium", "high", "critical"]
SEVERITY_RANK = {"low": 1, "medium": 2, "high": 3, "critical": 4}
PiiAttribute = Literal["id_number", "bank_card", "phone", "address"]
IdentifierKind = Literal["id_number", "bank_card", "mobile"]

# Default severities of SPEC §4 / §4b; frequency limits take FREQUENCY_SEVERITY.
DEFAULT_SEVERITY: dict[str, str] = {
    "TP-DPD": "high",
    "TP-ESCALATION": "high",
    "TP-UNREGISTERED": "critical",
    "TP-REACHABLE": "high",
    "HOURS": "medium",
    "DNC": "high",
    "QUIET-AFTER-CONVERSATION": "medium",
    "PII-THIRD-PARTY": "critical",
    "PII-UNMASKED": "high",
    "TP-DISCLOSURE": "high",
}
FREQUENCY_SEVERITY = "medium"

MAX_POLICY_BYTES = 1_000_000  # a policy is a page of YAML; refuse anything near a DoS size
MAX_INT_CHARS = 30  # an integer literal longer than this is beyond every bound a policy has
_TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])(:([0-5][0-9]))?$")
_RULE_ID_RE = re.compile(r"^[A-Z][A-Z0-9_-]{0,63}$")

# Bounds keep every value inside what the engine's integer and decimal columns hold.
NonNegInt = Annotated[int, Field(ge=0, le=1_000_000, strict=True)]
PosInt = Annotated[int, Field(ge=1, le=1_000_000, strict=True)]
Amount = Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=2)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AmountTier(_Strict):
    overdue_amount_at_least: Amount
    min_days_past_due: NonNegInt


class EscalationStep(_Strict):
    channel: Channel
    at_least: PosInt
    outcomes: list[Outcome] | None = None


class ThirdParty(_Strict):
    min_days_past_due: NonNegInt = 0
    amount_tiers: list[AmountTier] = []
    escalation: list[EscalationStep] = []
    registered_only: bool = False
    unreachable_after_failed_calls: PosInt | None = None


class ContactHours(_Strict):
    start: time
    end: time
    channels: list[Channel] | None = None
    end_inclusive: StrictBool = False  # Regulation F: only times *after* 9 p.m. are inconvenient

    @field_validator("start", "end", mode="before")
    @classmethod
    def _hhmm(cls, v: object) -> time:
        if isinstance(v, _LongInt):
            raise ValueError(f"{v!r} is not a time of day HH:MM")
        if isinstance(v, int) and not isinstance(v, bool):  # YAML 1.1 reads 08:00 unquoted as 480
            v = f"{v // 60:02d}:{v % 60:02d}"
        if not isinstance(v, str) or not _TIME_RE.match(v):
            raise ValueError(f"{v!r} is not a time of day HH:MM")
        return time.fromisoformat(v if v.count(":") == 2 else v + ":00")

    @model_validator(mode="after")
    def _not_empty(self) -> "ContactHours":
        if self.start == self.end:
            raise ValueError("start and end are equal: the allowed window would be empty")
        return self


class FrequencyLimit(_Strict):
    id: str
    recipient_types: list[RecipientType] | None = None
    channels: list[Channel] | None = None
    outcomes: list[Outcome] | None = None
    exclude_outcomes: list[Outcome] | None = None
    per: Literal["loan", "recipient"]
    window: Literal["day", "7d", "7_days", "all"]
    max: NonNegInt

    @model_validator(mode="after")
    def _one_outcome_filter(self) -> "FrequencyLimit":
        if self.outcomes is not None and self.exclude_outcomes is not None:
            raise ValueError("outcomes and exclude_outcomes together: give one of them")
        return self

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not _RULE_ID_RE.match(v):
            raise ValueError(f"{v!r} is not a rule id (upper-case letters, digits, '-' or '_')")
        return v


class Pii(_Strict):
    third_party_protected: list[PiiAttribute] = ["id_number", "bank_card", "phone", "address"]
    unmasked_forbidden: list[IdentifierKind] = ["id_number", "bank_card", "mobile"]
    unmasked_channels: list[Channel] | None = None


class Disclosure(_Strict):
    terms: list[Annotated[str, Field(min_length=1)]] = []
    amounts: bool = False


class DoNotContact(_Strict):
    recipient_types: list[RecipientType] | None = None


class QuietAfterConversation(_Strict):
    days: PosInt = 7
    # Calls with these outcomes were not placed (Regulation F 1006.14(b)(3)(ii): not connected to the
    # dialed number), so they are not flagged; an extension of SPEC §4b, see docs/decisions.md.
    exclude_outcomes: list[Outcome] | None = None


class Rules(_Strict):
    third_party: ThirdParty | None = None
    contact_hours: ContactHours | None = None
    frequency: list[FrequencyLimit] | None = None
    pii: Pii | None = None
    disclosure: Disclosure | None = None
    do_not_contact: DoNotContact | None = None
    quiet_after_conversation: QuietAfterConversation | None = None

    @field_validator("frequency")
    @classmethod
    def _unique_ids(cls, v: list[FrequencyLimit] | None) -> list[FrequencyLimit] | None:
        ids = [f.id for f in v or []]
        dup = sorted({i for i in ids if ids.count(i) > 1} | (set(ids) & set(DEFAULT_SEVERITY)))
        if dup:
            raise ValueError(f"duplicate or reserved frequency id: {', '.join(dup)}")
        return v


class Policy(_Strict):
    policy_id: Annotated[str, Field(min_length=1)]
    version: Annotated[str, Field(min_length=1, strict=True)]
    default_timezone: str
    severity: dict[str, Severity] = {}
    references: dict[str, str] = {}
    rules: Rules = Rules()
    # Not part of the YAML: where it came from and its fingerprint.
    source: str = Field(default="", exclude=True)
    sha256: str = Field(default="", exclude=True)
    text: str = Field(default="", exclude=True)  # the YAML as read: the ledger keeps it, so a period
    # report can describe the policy a run applied without the file

    @field_validator("default_timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        if not is_zone(v):
            raise ValueError(f"{v!r} is not an IANA time zone name")
        return v

    @model_validator(mode="after")
    def _known_rule_ids(self) -> "Policy":
        known = set(DEFAULT_SEVERITY) | {f.id for f in self.rules.frequency or []}
        unknown = sorted((set(self.severity) | set(self.references)) - known)
        if unknown:
            raise ValueError(f"severity/references name unknown rule ids: {', '.join(unknown)}")
        return self

    def rule_ids(self) -> list[str]:
        """Ids of the rules this policy switches on, in report order."""
        r = self.rules
        ids: list[str] = []
        if r.third_party is not None:
            ids += ["TP-DPD"]
            if r.third_party.escalation:
                ids.append("TP-ESCALATION")
            if r.third_party.registered_only:
                ids.append("TP-UNREGISTERED")
            if r.third_party.unreachable_after_failed_calls:
                ids.append("TP-REACHABLE")
        if r.contact_hours is not None:
            ids.append("HOURS")
        ids += [f.id for f in r.frequency or []]
        if r.do_not_contact is not None:
            ids.append("DNC")
        if r.quiet_after_conversation is not None:
            ids.append("QUIET-AFTER-CONVERSATION")
        if r.pii is not None:
            ids += ["PII-THIRD-PARTY", "PII-UNMASKED"]
        if r.disclosure is not None:
            ids.append("TP-DISCLOSURE")
        return ids

    def severity_of(self, rule_id: str) -> str:
        return self.severity.get(rule_id) or DEFAULT_SEVERITY.get(rule_id, FREQUENCY_SEVERITY)

    def reference_of(self, rule_id: str) -> str:
        return self.references.get(rule_id, "")


def _path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-after", "function-before") or "[" in str(part):
            continue  # pydantic's internal validator / union-branch labels
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def problems_of(err: pydantic.ValidationError) -> list[str]:
    """Every problem pydantic found, one line each, with its path in the spec's notation."""
    seen: list[str] = []
    for e in err.errors(include_url=False):
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        elif e["type"] == "missing":
            msg = "required key is missing"
        elif e["type"] == "literal_error":
            msg = f"{e.get('input')!r} is not allowed: {msg.removeprefix('Input should be ')}"
        line = f"{_path(e['loc'])}: {msg}"
        if line not in seen:
            seen.append(line)
    return seen


class _LongInt(int):
    """Stands in for an integer literal too long for a policy.

    Python refuses to convert a decimal string of more than 4,300 digits
    (ValueError), and a long one is slow to convert; this value is larger in
    magnitude than every bound of the model, so validation reports the key's
    path ("less than or equal to ...") instead of the tool failing.
    """

    digits: int

    def __new__(cls, negative: bool, digits: int) -> "_LongInt":
        self = super().__new__(cls, -(10**MAX_INT_CHARS) if negative else 10**MAX_INT_CHARS)
        self.digits = digits
        return self

    def __repr__(self) -> str:
        return f"an integer of {self.digits} digits"

    __str__ = __repr__


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without anchors/aliases (billion laughs) and without repeated keys (the last would win silently)."""

    def construct_mapping(self, node, deep=False):  # type: ignore[override]
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} appears twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def compose_node(self, parent, index):  # type: ignore[override]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in a policy", event.start_mark
            )
        return super().compose_node(parent, index)

    def construct_yaml_int(self, node):  # type: ignore[override]
        text = str(self.construct_scalar(node)).replace("_", "")
        body = text.lstrip("+-")
        body = body[2:] if body[:2].lower() in ("0x", "0b", "0o") else body
        long = _LongInt(text.startswith("-"), sum(c.isalnum() for c in body))
        if len(text) > MAX_INT_CHARS:
            return long
        try:
            value = super().construct_yaml_int(node)
        except ValueError:
            return long
        return long if abs(value) >= 10**MAX_INT_CHARS else value

    def construct_yaml_timestamp(self, node):  # type: ignore[override]
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError):  # 2026-13-45: the shape of a date, not a date
            raise yaml.constructor.ConstructorError(
                None, None, f"{self.construct_scalar(node)!r} is not a valid date; quote it if it is text",
                node.start_mark) from None


_NoAliasLoader.add_constructor("tag:yaml.org,2002:int", _NoAliasLoader.construct_yaml_int)
_NoAliasLoader.add_constructor("tag:yaml.org,2002:timestamp", _NoAliasLoader.construct_yaml_timestamp)


def parse_yaml_mapping(raw: bytes, source: str, error=PolicyError, what: str = "policy") -> dict:
    """A YAML document that must be a mapping, read safely (no aliases, no repeated keys, a size
    limit); every way it can fail is an `error(source, problems)`. Policies and waivers share it."""
    if len(raw) > MAX_POLICY_BYTES:
        raise error(source, [f"file is {len(raw)} bytes; a {what} may be at most {MAX_POLICY_BYTES}"])
    try:
        data = yaml.load(raw.decode("utf-8"), Loader=_NoAliasLoader)  # noqa: S506 - SafeLoader subclass
    except UnicodeDecodeError:
        raise error(source, ["file is not UTF-8 text"]) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        text = str(getattr(e, "problem", None) or e).strip().splitlines()[0]
        raise error(source, [f"not valid YAML{where}: {text}"]) from None
    except RecursionError:
        raise error(source, [f"the YAML is nested too deeply to be a {what} file"]) from None
    except (ValueError, OverflowError) as e:  # a scalar the YAML reader cannot convert
        text = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise error(source, [f"not valid YAML: {text}"]) from None
    if not isinstance(data, dict):
        raise error(source, [f"(top level): a {what} is a mapping of keys"])
    return data


def parse_policy(text: str | bytes, source: str = "<policy>") -> Policy:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    data = parse_yaml_mapping(raw, source)
    try:
        policy = Policy.model_validate(data)
    except pydantic.ValidationError as e:
        raise PolicyError(source, problems_of(e)) from None
    return policy.model_copy(update={"source": source, "sha256": hashlib.sha256(raw).hexdigest(),
                                     "text": raw.decode("utf-8")})


BUILTIN_PREFIX = "builtin:"


def builtin_names() -> list[str]:
    files = resources.files("audit.policies")
    return sorted(p.name.removesuffix(".yaml") for p in files.iterdir() if p.name.endswith(".yaml"))


def load_policy(spec: str | Path | None = None) -> Policy:
    """A path, `builtin:NAME`, or None for the built-in default policy."""
    if spec is None:
        spec = BUILTIN_PREFIX + "default"
    spec = str(spec)
    if spec.startswith(BUILTIN_PREFIX):
        name = spec.removeprefix(BUILTIN_PREFIX)
        if name not in builtin_names():
            raise PolicyError(spec, [f"no built-in policy {name!r}; built-in: {', '.join(builtin_names())}"])
        raw = resources.files("audit.policies").joinpath(name + ".yaml").read_bytes()
        return parse_policy(raw, spec)
    return parse_policy(read_small_file(Path(spec), spec), spec)


def read_small_file(path: Path, source: str, error=PolicyError, what: str = "policy") -> bytes:
    """The bytes of a regular file of at most MAX_POLICY_BYTES.

    A device (/dev/zero), a FIFO or a directory is refused before it is
    read: the open does not block (O_NONBLOCK) and the type is checked on
    the opened file; the read itself stops one byte past the limit.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise error(source, [f"cannot read the file: {e.strerror}"]) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(source, [f"not a regular file ({_file_kind(st.st_mode)}); a {what} is a YAML file"])
        if st.st_size > MAX_POLICY_BYTES:
            raise error(source, [f"file is {st.st_size} bytes; a {what} may be at most {MAX_POLICY_BYTES}"])
        chunks: list[bytes] = []
        left = MAX_POLICY_BYTES + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as e:
        raise error(source, [f"cannot read the file: {e.strerror}"]) from None
    finally:
        os.close(fd)
    raw = b"".join(chunks)
    if len(raw) > MAX_POLICY_BYTES:  # the file grew while it was read
        raise error(source, [f"file is over {MAX_POLICY_BYTES} bytes; a {what} may be at most {MAX_POLICY_BYTES}"])
    return raw


def _file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "an unknown kind"


def _canonical(value: object) -> object:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")  # 50000 and 50000.00 are the same amount
    if isinstance(value, time):
        return value.isoformat()
    raise TypeError(f"no canonical form for {type(value).__name__}")


def content_sha256(policy: Policy) -> str:
    """A fingerprint of what the policy means, not of its bytes.

    Comments, layout, key order, quoting and defaults written out or left
    out do not change it; a rule, a value, a severity (as it applies) or a
    reference does. (`Policy.sha256` is over the file's bytes: it names the
    exact file a report was made with.)
    """
    doc = policy.model_dump(mode="python", exclude={"severity"})
    doc["severity"] = {rule_id: policy.severity_of(rule_id) for rule_id in policy.rule_ids()}
    text = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_canonical)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def builtin_namesake(policy: Policy) -> str | None:
    """`builtin:NAME` of a built-in preset with this policy's id and version but other content, or None.

    Two different policies must not share an id and version: reports name a
    policy by them.
    """
    mine = content_sha256(policy)
    for name in builtin_names():
        preset = load_policy(BUILTIN_PREFIX + name)
        if (preset.policy_id, preset.version) == (policy.policy_id, policy.version) and content_sha256(preset) != mine:
            return BUILTIN_PREFIX + name
    return None
