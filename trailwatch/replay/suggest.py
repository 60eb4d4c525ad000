"""``replay --suggest-exceptions``: exception entries for the principals behind the most pages, ready to paste.

**What is summed.** For each detection a stack could tune, every match no exception of the stack holds for is
summed per principal: ``userIdentity.sessionContext.sessionIssuer.arn`` for a session of a role, else
``userIdentity.arn``, together with ``userIdentity.type`` (:class:`Seen`: the per-minute counts, whether one
user agent or a common product prefix covers all its events, and the /24 ranges of its addresses). A root
identity is never summed: root use is never routine.

**Why a suggestion removes exactly what its comment says.** The entry it prints holds for an event of the
detection exactly when the event is one of that principal's summed matches:

- its ``match`` names the principal's field and ``userIdentity.type`` as they were read, and its user agent and
  address conditions were built to cover every one of the principal's events (or are left out);
- a principal named by ``userIdentity.arn`` is not suggested when one of its events also named a role
  session's issuer (``shadowed``): such events are summed under the issuer, yet the entry would hold for them;
- every entry is checked, with the stack's own exceptions, by the stack's own rules
  (:func:`trailwatch.stack.resolve_exceptions`: guard rails, expiry, capacity, and provable disjointness), so
  pasted entries are accepted and no event is excepted twice; an entry that would be refused is narrowed
  (fewer conditions, fewer detections) or left out.

The pages an entry removes are therefore the alerts of the detection's unexcepted series minus those of the
same series without the principal's counts, and the pages after pasting every entry are those of the series
without all of them.

**Which principals.** Per detection, greedily: the principal with events in the most of the pages left (an
alert's period holds one of its event minutes), as long as that is at least ``MIN_PAGES`` (noise recurs; a
principal behind one page is something to look at, not to tune out), until ``MAX_PER_DETECTION`` are chosen.
Removing one principal alone may not remove a page (another's events keep the merged alert firing), which is
why presence, not the pages its removal removes, ranks them. A chosen principal whose removal turns out not to
matter once the others are removed is dropped again, and none is suggested if all of them together remove
nothing. Chosen principals are merged into one entry each, over every detection they were chosen for.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Iterable, Mapping

import yaml

from .. import exceptions as exc
from ..catalog import load_catalog
from ..errors import ConfigError
from ..exceptions import text_at
from ..stack import resolve_exceptions
from .alerts import Alert, minute_time, simulate_alerts

ISSUER = "userIdentity.sessionContext.sessionIssuer.arn"
ARN = "userIdentity.arn"
TYPE = "userIdentity.type"
AGENT = "userAgent"
#: At most this many /24 ranges make an address condition; more and the principal's addresses are left out.
MAX_RANGES = 3
MAX_PER_DETECTION = 5
MIN_PAGES = 2
EXPIRY_DAYS = 30
OWNER = "unassigned-review-me"
NAME_CHARS = 64  # of the principal's name in the reason


@dataclass
class Seen:
    """One principal's unexcepted matches of one detection (mergeable: :meth:`absorb`)."""

    minutes: dict[str, int] = field(default_factory=dict)  # minute -> matches
    agents: tuple[str, ...] = ()  # distinct user agents, sorted, at most two (one means: all the same)
    prefix: str | None = None  # the common prefix of all user agents; None once an event had none
    ranges: tuple[str, ...] | None = ()  # the /24s of all addresses; None once one is not IPv4 or too many
    shadowed: bool = False  # a principal by userIdentity.arn whose events also named an issuer

    @property
    def events(self) -> int:
        return sum(self.minutes.values())

    def absorb(self, other: "Seen") -> "Seen":
        if other.minutes:
            if not self.minutes:
                self.agents, self.prefix, self.ranges = other.agents, other.prefix, other.ranges
            else:
                self.agents = tuple(sorted(set(self.agents) | set(other.agents)))[:2]
                self.prefix = (None if self.prefix is None or other.prefix is None
                               else os.path.commonprefix([self.prefix, other.prefix]))
                self.ranges = (None if self.ranges is None or other.ranges is None
                               else _capped(set(self.ranges) | set(other.ranges)))
            for minute, n in other.minutes.items():
                self.minutes[minute] = self.minutes.get(minute, 0) + n
        self.shadowed = self.shadowed or other.shadowed
        return self


def _capped(ranges: set[str]) -> tuple[str, ...] | None:
    return tuple(sorted(ranges)) if len(ranges) <= MAX_RANGES else None


def _range(address: str | None) -> str | None:
    try:
        return str(ipaddress.IPv4Network(f"{ipaddress.IPv4Address(address)}/24", strict=False))
    except ValueError:
        return None


def observe(seen: dict[tuple, Seen], rec: Mapping[str, Any], minute: str) -> None:
    """Sum one unexcepted match into its principal's :class:`Seen` (keyed ``(field, value, type)``)."""
    kind = text_at(rec, TYPE)
    if kind is None or kind == "Root":
        return
    issuer, arn = text_at(rec, ISSUER), text_at(rec, ARN)
    if issuer is not None:
        key = (ISSUER, issuer, kind)
        if arn is not None:
            seen.setdefault((ARN, arn, kind), Seen()).shadowed = True
    elif arn is not None:
        key = (ARN, arn, kind)
    else:
        return
    agent = text_at(rec, AGENT)
    net = _range(text_at(rec, exc.IP_FIELD))
    one = Seen({minute: 1}, (agent,) if agent is not None else (), agent, (net,) if net else None)
    seen.setdefault(key, Seen()).absorb(one)


def merge_seen(into: dict[tuple, Seen], other: dict[tuple, Seen]) -> None:
    for key, theirs in other.items():
        mine = into.get(key)
        if mine is None:
            into[key] = Seen(dict(theirs.minutes), theirs.agents, theirs.prefix, theirs.ranges, theirs.shadowed)
        else:
            mine.absorb(theirs)


# --- choosing --------------------------------------------------------------------------------------------

@dataclass
class Target:
    """One detection to suggest for: its unexcepted per-minute series and how its rule pages."""

    id: str
    series: dict[datetime, int]
    seen: dict[tuple, Seen]
    threshold: int
    window: int
    hold: int

    def alerts(self, without: Iterable[Seen] = ()) -> list[Alert]:
        series = dict(self.series)
        for s in without:
            for key, n in s.minutes.items():
                minute = minute_time(key)
                series[minute] = series.get(minute, 0) - n
        return simulate_alerts(series, self.window, self.threshold, self.hold)

    def pages(self, without: Iterable[Seen] = ()) -> int:
        return len(self.alerts(without))

    def choose(self) -> list[tuple]:
        """The principals behind its pages (see the module docstring)."""
        candidates = {k: s for k, s in self.seen.items() if s.minutes and not (k[0] == ARN and s.shadowed)}
        chosen: list[tuple] = []
        while len(chosen) < min(MAX_PER_DETECTION, len(candidates)):
            alerts = self.alerts(candidates[k] for k in chosen)
            presence = {k: sum(any(a.start <= minute_time(m) < a.end for m in s.minutes) for a in alerts)
                        for k, s in candidates.items() if k not in chosen}
            best = min(presence, key=lambda k: (-presence[k], -candidates[k].events, k[0] != ISSUER, k))
            if presence[best] < MIN_PAGES:
                break
            chosen.append(best)
        final = self.pages(candidates[k] for k in chosen)
        for k in list(reversed(chosen)):
            rest = [candidates[o] for o in chosen if o != k]
            if self.pages(rest) <= final:
                chosen.remove(k)
                final = self.pages(rest)
        return chosen if final < self.pages() else []


# --- entries ----------------------------------------------------------------------------------------------

@dataclass
class Entry:
    """A suggested exception: one principal over the detections it was chosen for."""

    key: tuple  # (field, value, type)
    seen: dict[str, Seen]  # detection -> that principal's matches there
    detections: tuple[str, ...]
    agent: str | None = None
    ranges: tuple[str, ...] = ()

    @property
    def events(self) -> int:
        return sum(self.seen[d].events for d in self.detections)

    def raw(self, expires: dt.date) -> dict[str, Any]:
        """The entry as a user writes it under ``trailwatch:exceptions``."""
        field_, value, kind = self.key
        match: dict[str, Any] = {field_: value, TYPE: kind}
        if self.agent is not None:
            match[AGENT] = self.agent
        if self.ranges:
            match[exc.IP_FIELD] = list(self.ranges)
        return {"detections": list(self.detections), "reason": self.reason(), "owner": OWNER,
                "expires": expires.isoformat(), "match": match}

    def reason(self) -> str:
        """What was observed, so a reviewer knows what the entry stands for."""
        field_, value, kind = self.key
        name = value.rsplit("/", 1)[-1] if "/" in value else value.rsplit(":", 1)[-1]
        name = name if len(name) <= NAME_CHARS else name[:NAME_CHARS - 3] + "..."
        minutes = sorted(m for d in self.detections for m in self.seen[d].minutes)
        days = minutes[0][:10] if minutes[0][:10] == minutes[-1][:10] else f"{minutes[0][:10]} to {minutes[-1][:10]}"
        ranges = f" from {len(self.ranges)} /24 range{'s' if len(self.ranges) != 1 else ''}" if self.ranges else ""
        return (f"auto-suggested: {self.events} matches by {kind} {name}{ranges} on {days} "
                f"(review, then write why)")

    def narrowed(self) -> Iterable["Entry"]:
        """This entry, then with fewer conditions (a long match may not fit beside a long pattern)."""
        yield self
        if self.ranges:
            yield replace(self, ranges=())
        if self.agent is not None:
            yield replace(self, agent=None, ranges=())


def agent_value(seen: Seen) -> str | None:
    """One user agent, or a common product prefix with a trailing ``*``, that covers every event; or None."""
    if seen.prefix is None or not seen.agents or "*" in seen.prefix:  # a '*' read from the logs would widen it
        return None
    if len(seen.agents) == 1 and _valid_agent(seen.agents[0]):
        return seen.agents[0]
    prefix = seen.prefix[:exc.MAX_TEXT - 1]
    cut = prefix.rfind("/")
    value = prefix[:cut + 1] + "*"
    return value if cut >= 0 and _valid_agent(value) else None


def _valid_agent(value: str) -> bool:
    """Whether the guard rails take ``value`` as a user agent (checked as a one-key entry)."""
    return not exc.entry_errors([{"detections": ["any"], "reason": "check", "owner": "check",
                                  "expires": "2000-01-01", "match": {AGENT: value}}])


def _entries(targets: list[Target]) -> list[Entry]:
    """One entry per chosen principal, over its detections; first those a detection chose first."""
    by_key: dict[tuple, dict[str, Seen]] = {}
    rank: dict[tuple, int] = {}  # the earliest a detection chose the principal
    for target in targets:
        for position, key in enumerate(target.choose()):
            by_key.setdefault(key, {})[target.id] = target.seen[key]
            rank[key] = min(rank.get(key, position), position)
    entries = []
    for key, seen in by_key.items():
        union = Seen()
        for s in seen.values():
            union.absorb(s)
        ranges = union.ranges if union.ranges else ()
        entries.append(Entry(key, seen, tuple(seen), agent_value(union), ranges))
    return sorted(entries, key=lambda e: (rank[e.key], -e.events, e.key))


def accepted(stack: Any, entries: list[Entry], on: dt.date) -> tuple[list[Entry], list[str]]:
    """The entries (narrowed where needed) that the stack's own checks accept beside its exceptions and each
    other, in rank order; and the first line of each refusal met on the way."""
    catalog = load_catalog()
    expires = on + dt.timedelta(days=min(EXPIRY_DAYS, stack.settings.max_exception_days))
    kept: list[Entry] = []
    refusals: list[str] = []

    def fine(more: Entry) -> bool:
        raw = tuple(stack.settings.exceptions) + tuple(e.raw(expires) for e in kept + [more])
        try:
            resolve_exceptions(catalog, replace(stack.settings, exceptions=raw), stack.detections, on)
        except ConfigError as err:
            refusals.append(str(err).splitlines()[0])
            return False
        return True

    for entry in entries:
        if "*" in entry.key[1]:  # a wildcard in a name read from the logs would widen the entry
            continue
        for option in entry.narrowed():
            dets = tuple(d for d in option.detections if fine(replace(option, detections=(d,))))
            if dets and fine(replace(option, detections=dets)):
                kept.append(replace(option, detections=dets))
                break
    return kept, refusals


def tunable(stack: Any) -> list[str]:
    """The stack's detections an exception may name (never root use or the heartbeat): whose principals to sum."""
    return [d.id for d in stack.detections if d.id not in exc.UNTUNABLE and not d.heartbeat]


def suggestions(report: Any, stack: Any, on: dt.date | None = None) -> str:
    """The YAML ``replay --suggest-exceptions`` prints for a replay of the stack's detections (replayed with
    ``principals=tunable(stack)``)."""
    day = on or exc.today()
    ids = set(tunable(stack))
    targets = [Target(det.id, det.paged_series, det.principals, det.threshold, report.window_minutes,
                      report.hold_minutes)
               for det in report.detections.values() if det.id in ids and det.principals]
    targets = [t for t in targets if t.pages()]
    by_id = {t.id: t for t in targets}
    candidates = _entries(targets)
    entries, refusals = accepted(stack, candidates, day)
    expires = day + dt.timedelta(days=min(EXPIRY_DAYS, stack.settings.max_exception_days))
    if not entries:
        paging = ", ".join(f"{t.id} ({t.pages()})" for t in targets)
        if not targets:
            why = "no detection that takes exceptions paged on these logs"
        elif not candidates:
            why = (f"no principal named by an ARN is behind {MIN_PAGES} or more of the pages of {paging} "
                   f"(a single page is something to look at, not noise)")
        elif not refusals:
            why = f"the principals behind the pages of {paging} hold a '*' in their ARN: no entry could name them exactly"
        else:
            why = f"the stack would refuse every entry for the pages of {paging}; the first refusal: {refusals[0]}"
        return f"# replay --suggest-exceptions: nothing to suggest: {why}"
    after = {t.id: t.pages([e.seen[t.id] for e in entries if t.id in e.detections]) for t in targets}
    touched = [t for t in targets if any(t.id in e.detections for e in entries)]
    lines = [
        f"# replay --suggest-exceptions: {len(entries)} entr{'ies' if len(entries) != 1 else 'y'} for the "
        f"principals behind the most pages on these logs.",
        "# Paste under trailwatch:exceptions: in the stack's config, after reviewing each: every one expires "
        f"on {expires} and names the owner {OWNER}.",
        "# Pages on these logs, now -> with every entry below: "
        + ", ".join(f"{t.id} {t.pages()} -> {after[t.id]}" for t in touched),
    ]
    for entry in entries:
        removed = ", ".join(f"{d} {by_id[d].pages()} -> {by_id[d].pages([entry.seen[d]])}"
                            for d in entry.detections)
        lines.append(f"# pages with this entry alone: {removed}")
        text = yaml.safe_dump([entry.raw(expires)], sort_keys=False, default_flow_style=False, width=1 << 16)
        lines += ["    " + line for line in text.splitlines()]
    return "\n".join(lines)
