"""Noise exceptions: exact, visible, expiring and guarded carve-outs from what a detection pages for.

A stack's ``trailwatch:exceptions`` lists entries such as::

    - detections: [security_group_changes, iam_policy_changes]
      reason: Pulumi deploys from GitHub Actions
      owner: platform-team
      expires: "2027-05-31"                 # UTC end of that day
      match:                                # every key must hold (AND); a list is any of its values (OR)
        userIdentity.sessionContext.sessionIssuer.arn: arn:aws:iam::111122223333:role/gha-deployer
        sourceIPAddress: [4.175.114.0/24, 20.57.79.0/24]
        userAgent: "*pulumi-aws/*"

**Semantics.** An event is excepted from a detection iff it matches the detection's pattern and every key of
one of that detection's exceptions *holds*: the field exists, is a string (or a number, by its text) and equals
one of the key's values. A field the event lacks never holds. Values are exact, a CloudWatch ``*`` wildcard at
either end, or (``sourceIPAddress`` only) an IPv4 CIDR.

**How it is deployed (why it is exact and fits AWS's limits).** The detection's own filter is left exactly as it
is (the Security Hub string, still counting every event, still behind its CloudWatch alarm). Each (detection,
exception) pair gets one more filter, ``{ (<detection>) && (<exception>) }``, writing its own metric: only
positive comparisons, so an absent field can never be mistaken for a match (the ``!=`` trap), and the length is
the detection's pattern plus one exception, never the sum of all of them. What pages is the difference,
``matches - sum(excepted)``. That difference is exact only if no event is excepted twice, so two exceptions of one
detection must be provably disjoint (:func:`disjoint`); otherwise the configuration is refused, naming both:
an undercount would hide an attack. The two metrics reach Prometheus through separate reads, so the rule only
pages on a difference that holds for :func:`trailwatch.readpath.exception_guard_seconds` (see
:mod:`trailwatch.render.rules`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable, Mapping, Sequence

from .errors import ConfigError, raise_config_errors
from .filterpattern import number_text

KEY = "trailwatch:exceptions"
#: Days ahead of expiry at which plan and preview start warning.
WARN_DAYS = 14
#: Detections no exception may touch: a root sign-in is never routine, and the heartbeat is the pipeline's own.
UNTUNABLE = ("root_usage",)
FIELDS = ("detections", "reason", "owner", "expires", "match")
MAX_TEXT = 256
MAX_VALUES = 16
MIN_LITERAL = 4

#: Fields that name who or what made the call: at least one of these must be in every ``match``.
PRINCIPAL_FIELDS = (
    "userIdentity.arn", "userIdentity.principalId", "userIdentity.userName", "userIdentity.accessKeyId",
    "userIdentity.sessionContext.sessionIssuer.arn", "userIdentity.sessionContext.sessionIssuer.principalId",
    "userIdentity.sessionContext.sessionIssuer.userName",
)
NAMING_FIELDS = PRINCIPAL_FIELDS + ("sourceIPAddress", "userAgent", "userIdentity.invokedBy")
#: Fields whose values are ARNs: matched whole, account included.
ARN_FIELDS = ("userIdentity.arn", "userIdentity.sessionContext.sessionIssuer.arn")
IP_FIELD = "sourceIPAddress"
#: The narrowest IPv4 prefix an exception may name (a /8 is a cloud provider, not a CI runner pool).
MIN_PREFIX = 16

_PATH = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\Z")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_ARN = re.compile(r"arn:aws[a-z-]*:(iam|sts)::\d{12}:[A-Za-z0-9+=,.@_/-]+\*?\Z")
_FORBIDDEN = re.compile(r'["\\\x00-\x1f\x7f]')


@dataclass(frozen=True)
class Condition:
    """One ``match`` key: the field path and the values (as written) any of which must hold."""
    field: str
    values: tuple[str, ...]

    @property
    def globs(self) -> tuple[str, ...]:
        """The values as CloudWatch text comparisons (a CIDR becomes its octet-aligned wildcards)."""
        return tuple(g for v in self.values for g in _globs(self.field, v))

    def holds(self, event: Mapping[str, Any]) -> bool:
        text = text_at(event, self.field)
        return text is not None and any(_glob_match(g, text) for g in self.globs)

    def clause(self) -> str:
        comparisons = [f'$.{self.field} = "{g}"' for g in self.globs]
        return comparisons[0] if len(comparisons) == 1 else "(" + " || ".join(comparisons) + ")"


@dataclass(frozen=True)
class ExceptionRule:
    """One checked ``trailwatch:exceptions`` entry."""
    index: int
    detections: tuple[str, ...]
    reason: str
    owner: str
    expires: dt.date
    match: tuple[Condition, ...]

    @property
    def id(self) -> str:
        """Stable across reordering and rewording: eight hex digits of the match alone."""
        canon = json.dumps([[c.field, sorted(c.values)] for c in sorted(self.match, key=lambda c: c.field)])
        return hashlib.sha256(canon.encode()).hexdigest()[:8]

    @property
    def label(self) -> str:
        return f"exception {self.index} ({self.id}, {self.reason!r})"

    @property
    def expires_at(self) -> dt.datetime:
        """The first instant it no longer applies: the day after ``expires``, 00:00 UTC."""
        return dt.datetime.combine(self.expires + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc)

    def holds(self, event: Mapping[str, Any]) -> bool:
        return all(c.holds(event) for c in self.match)

    def clause(self) -> str:
        return " && ".join(c.clause() for c in self.match)


def text_at(event: Mapping[str, Any], path: str) -> str | None:
    """The field's text if it is a value node (string, or number by its text); None otherwise."""
    node: Any = event
    for step in path.split("."):
        if not isinstance(node, Mapping) or step not in node:
            return None
        node = node[step]
    if isinstance(node, str):
        return node
    if isinstance(node, (int, float)) and not isinstance(node, bool):
        return number_text(node)
    return None


@lru_cache(maxsize=4096)
def _glob_regex(glob: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(p) for p in glob.split("*")), re.DOTALL)


def _glob_match(glob: str, text: str) -> bool:
    return _glob_regex(glob).fullmatch(text) is not None


def _globs(field: str, value: str) -> tuple[str, ...]:
    if field == IP_FIELD and "/" in value:
        return cidr_globs(value)
    return (value,)


def cidr_globs(cidr: str) -> tuple[str, ...]:
    """An IPv4 CIDR as CloudWatch text comparisons: one ``a.b.c.*`` per /24 (or ``a.b.*`` per /16) it covers,
    or the exact addresses of a range narrower than a /24. ValueError if it needs more than MAX_VALUES."""
    net = ipaddress.IPv4Network(cidr, strict=True)
    octets = 4 if net.prefixlen > 24 else (net.prefixlen + 7) // 8
    if octets == 4:
        parts = [str(a) for a in net] if net.prefixlen < 32 else [str(net.network_address)]
    else:
        parts = [".".join(str(sub.network_address).split(".")[:octets]) + ".*" for sub in net.subnets(new_prefix=octets * 8)]
    if len(parts) > MAX_VALUES:
        raise ValueError(f"{cidr} spans {len(parts)} CloudWatch comparisons (at most {MAX_VALUES}; a prefix of "
                         f"/16, /24, /32 or within 4 bits of those)")
    return tuple(parts)


# --- parsing and the per-entry guard rails -------------------------------------------------------------------

def _check_value(where: str, field: str, value: Any) -> list[str]:
    if not isinstance(value, str) or not value:
        return [f"{where}: must be a non-empty string (got {value!r})"]
    if len(value) > MAX_TEXT:
        return [f"{where}: at most {MAX_TEXT} characters (got {len(value)})"]
    if _FORBIDDEN.search(value):
        return [f"{where}: {value!r} holds a quote, backslash or control character, which a filter pattern "
                f"cannot compare exactly"]
    if set(value) == {"*"}:
        return [f"{where}: {value!r} matches every value; name the principal, range or agent"]
    if "*" in value.strip("*"):
        return [f"{where}: {value!r} has a '*' inside; CloudWatch wildcards are allowed only at the start or end"]
    if field == IP_FIELD:
        return _check_ip(where, value)
    if field in ARN_FIELDS and not _ARN.match(value):
        return [f"{where}: {value!r} must be a whole IAM/STS ARN with its 12-digit account "
                f"(arn:aws:iam::111122223333:role/name; a trailing '*' only after the resource type)"]
    if field in ARN_FIELDS and value.endswith("*") and value.count("/") < 1:
        return [f"{where}: {value!r} must name the resource type before the '*'"]
    if field in NAMING_FIELDS and len(value.replace("*", "")) < MIN_LITERAL:
        return [f"{where}: {value!r} is too broad (at least {MIN_LITERAL} literal characters)"]
    return []


def _check_ip(where: str, value: str) -> list[str]:
    if "/" in value:
        try:
            net = ipaddress.ip_network(value, strict=True)
        except ValueError as exc:
            return [f"{where}: {value!r} is not a valid CIDR ({exc})"]
        if net.version == 6:
            return [f"{where}: {value!r}: IPv6 ranges cannot be compared exactly as text (CloudTrail compresses "
                    f"IPv6 addresses); list the addresses"]
        if net.prefixlen < MIN_PREFIX:
            return [f"{where}: {value!r} is too broad (at most a /{MIN_PREFIX})"]
        try:
            cidr_globs(value)
        except ValueError as exc:
            return [f"{where}: {exc}"]
        return []
    if value.endswith("*"):
        head = value[:-1].rstrip(".").split(".")
        if len(head) < 2 or not all(p.isdigit() and int(p) <= 255 for p in head) or not value.endswith(".*"):
            return [f"{where}: {value!r} must be an IPv4 prefix such as 203.0.113.* (at least two octets), an "
                    f"address, a CIDR, or an AWS service name"]
        return []
    try:
        ipaddress.ip_address(value)
    except ValueError:
        if "*" in value or "." not in value:
            return [f"{where}: {value!r} is not an IP address, a CIDR or an AWS service name"]
    return []


def _check_match(where: str, match: Any) -> tuple[list[str], tuple[Condition, ...]]:
    if not isinstance(match, Mapping) or not match:
        return [f"{where}: must be a non-empty mapping of CloudTrail field paths to values"], ()
    errors: list[str] = []
    conditions = []
    for field, raw in match.items():
        here = f"{where}.{field}"
        if not isinstance(field, str) or not _PATH.match(field):
            errors.append(f"{where}: key {field!r} must be a dotted CloudTrail field path such as "
                          f"userIdentity.arn (no '$.', no [index])")
            continue
        values = list(raw) if isinstance(raw, (list, tuple)) else [raw]
        if not values:
            errors.append(f"{here}: an empty list holds for no event; give at least one value")
            continue
        if len(values) > MAX_VALUES:
            errors.append(f"{here}: at most {MAX_VALUES} values (got {len(values)})")
            continue
        problems = [p for i, v in enumerate(values)
                    for p in _check_value(f"{here}[{i}]" if isinstance(raw, (list, tuple)) else here, field, v)]
        errors += problems
        if not problems:
            conditions.append(Condition(field, tuple(values)))
    if not errors and not any(c.field in NAMING_FIELDS for c in conditions):
        errors.append(f"{where}: names only broad classes ({', '.join(c.field for c in conditions)}); it must name "
                      f"a principal, an IP range, a user agent or an invokedBy service "
                      f"({', '.join(NAMING_FIELDS)})")
    return errors, tuple(conditions)


def parse_entry(index: int, raw: Any, where: str = KEY) -> tuple[list[str], ExceptionRule | None]:
    """Check one entry on its own (shape, required fields, values): every problem as one line."""
    here = f"config '{where}'[{index}]"
    if not isinstance(raw, Mapping):
        return [f"{here}: must be a mapping with keys {', '.join(FIELDS)}"], None
    errors = [f"{here}: unknown key {k!r} (allowed: {', '.join(FIELDS)})" for k in raw if k not in FIELDS]
    for key in ("reason", "owner"):
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            errors.append(f"{here}.{key}: is required (a non-empty string)")
        elif len(value) > MAX_TEXT:
            errors.append(f"{here}.{key}: at most {MAX_TEXT} characters")
    dets = raw.get("detections")
    if not isinstance(dets, (list, tuple)) or not dets or not all(isinstance(d, str) and d for d in dets):
        errors.append(f"{here}.detections: is required (a list of at least one detection id)")
        dets = ()
    elif len(set(dets)) != len(dets):
        errors.append(f"{here}.detections: lists a detection twice")
    expires = raw.get("expires")
    day = None
    if isinstance(expires, dt.date) and not isinstance(expires, dt.datetime):
        day = expires
    elif isinstance(expires, str) and _DATE.match(expires):
        try:
            day = dt.date.fromisoformat(expires)
        except ValueError:
            pass
    if day is None:
        errors.append(f"{here}.expires: is required, a date YYYY-MM-DD (got {expires!r})")
    match_errors, match = _check_match(f"{here}.match", raw.get("match"))
    errors += match_errors
    if errors:
        return errors, None
    return [], ExceptionRule(index, tuple(dets), raw["reason"].strip(), raw["owner"].strip(), day, match)


def entry_errors(raw: Any, where: str = KEY) -> list[str]:
    """Every per-entry problem of a raw ``exceptions`` list (the stack-config check)."""
    if not isinstance(raw, (list, tuple)):
        return [f"config '{where}': must be a list of exception entries"]
    return [e for i, item in enumerate(raw) for e in parse_entry(i, item, where)[0]]


def check_entries(key: str, value: Any) -> None:
    """The settings table's check for ``exceptions``: every per-entry problem, one line each."""
    errors = entry_errors(value, key)
    raise_config_errors(errors)


def parse_exceptions(raw: Sequence[Any], where: str = KEY) -> tuple[ExceptionRule, ...]:
    errors = entry_errors(raw, where)
    if errors:
        raise ConfigError(errors[0])
    return tuple(parse_entry(i, item, where)[1] for i, item in enumerate(raw))  # type: ignore[misc]


# --- checks against the stack: detections, dates, overlap, capacity ------------------------------------------

def today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def date_errors(rules: Iterable[ExceptionRule], max_days: int, on: dt.date, where: str = KEY) -> list[str]:
    """Past expiry, or further ahead than ``maxExceptionDays``."""
    errors = []
    for r in rules:
        here = f"config '{where}'[{r.index}].expires"
        if r.expires < on:
            errors.append(f"{here}: {r.label} expired on {r.expires} (owner {r.owner}); renew it with a new date "
                          f"or remove it")
        elif (r.expires - on).days > max_days:
            errors.append(f"{here}: {r.expires} is more than maxExceptionDays ({max_days}) ahead; exceptions must "
                          f"be reviewed at least that often")
    return errors


def expiry_warnings(rules: Iterable[ExceptionRule], on: dt.date, where: str = KEY) -> list[str]:
    return [f"config '{where}'[{r.index}].expires: {r.label} expires on {r.expires}, in "
            f"{(r.expires - on).days} day(s) (owner {r.owner})"
            for r in rules if 0 <= (r.expires - on).days <= WARN_DAYS]


def detection_errors(rules: Iterable[ExceptionRule], known: Mapping[str, Any], enabled: Iterable[str],
                     where: str = KEY) -> list[str]:
    """Unknown ids, untunable detections and detections whose pattern is not a JSON pattern."""
    on = set(enabled)
    errors = []
    for r in rules:
        for ident in r.detections:
            here = f"config '{where}'[{r.index}].detections"
            det = known.get(ident)
            if det is None:
                errors.append(f"{here}: unknown detection {ident!r} (known: {', '.join(sorted(known))})")
            elif ident in UNTUNABLE or getattr(det, "heartbeat", False):
                errors.append(f"{here}: {ident!r} takes no exceptions (root use and the heartbeat always page)")
            elif ident not in on:
                errors.append(f"{here}: {ident!r} is not enabled in this stack")
            elif not (det.pattern or "").lstrip().startswith("{"):
                errors.append(f"{here}: {ident!r} has a non-JSON pattern; exceptions need a JSON pattern")
    return errors


def _globs_meet(a: str, b: str) -> bool:
    """Whether two ``*``-wildcard texts can match one common string."""
    @lru_cache(maxsize=None)
    def meet(i: int, j: int) -> bool:
        if i == len(a) and j == len(b):
            return True
        if i < len(a) and a[i] == "*":
            return meet(i + 1, j) or (j < len(b) and meet(i, j + 1))
        if j < len(b) and b[j] == "*":
            return meet(i, j + 1) or (i < len(a) and meet(i + 1, j))
        return i < len(a) and j < len(b) and a[i] == b[j] and meet(i + 1, j + 1)
    return meet(0, 0)


def disjoint(a: ExceptionRule, b: ExceptionRule) -> bool:
    """True when no event can satisfy both: some field both name has values that cannot meet."""
    theirs = {c.field: c for c in b.match}
    for c in a.match:
        other = theirs.get(c.field)
        if other and not any(_globs_meet(x, y) for x in c.globs for y in other.globs):
            return True
    return False


def overlap_errors(rules: Sequence[ExceptionRule], where: str = KEY) -> list[str]:
    errors = []
    for i, a in enumerate(rules):
        for b in rules[i + 1:]:
            shared = sorted(set(a.detections) & set(b.detections))
            if shared and not disjoint(a, b):
                errors.append(
                    f"config '{where}': {a.label} and {b.label} can both match one event of {shared[0]!r} (no field "
                    f"both name has values that exclude each other), so its excepted count could be counted twice "
                    f"and hide a real page; merge them into one entry or make them name the same field with "
                    f"different values")
    return errors


def excepted_pattern(detection_pattern: str, rule: ExceptionRule) -> str:
    """The filter counting a detection's events this exception covers: only positive comparisons."""
    inner = detection_pattern.strip()[1:-1].strip()
    return "{ (" + inner + ") && (" + rule.clause() + ") }"


def applying(rules: Iterable[ExceptionRule], detection: str) -> tuple[ExceptionRule, ...]:
    return tuple(r for r in rules if detection in r.detections)


def excepted_by(rules: Sequence[ExceptionRule], detection: str, event: Mapping[str, Any]) -> ExceptionRule | None:
    """The exception (of this detection) that excepts an event already matching its pattern, or None."""
    return next((r for r in applying(rules, detection) if r.holds(event)), None)
