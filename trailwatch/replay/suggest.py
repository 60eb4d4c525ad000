"""``replay --suggest-exceptions``: exception entries for the principals behind the most pages, ready to paste.

**What is summed.** For each detection a stack could tune, every match no exception of the stack holds for is
summed per principal: ``userIdentity.sessionContext.sessionIssuer.arn`` for a session of a role, else
``userIdentity.arn``, together with ``userIdentity.type`` (:class:`Seen`). Within a principal the matches are
summed per *cell* (:class:`Cell`): the /24 range of the source address (``None`` when it is not IPv4-shaped or
absent) and the user agent's product (its text up to the first ``/``, or all of it; ``None`` when absent), each
cell with its per-minute counts. A principal keeps at most ``MAX_CELLS`` cells per detection; past that its cells
are dropped (memory stays bounded) and it is never suggested for that detection: what calls from that many
ranges and tools has no stable shape to name. A root identity is never summed: root use is never routine.

**Stable, never one-off.** The detection's *alert periods* are its pages (the alerts of its unexcepted series)
cut into window-long stretches from each alert's start, so that an alert firing all day is not one period. Some
matches *recur* when they fall in at least ``MIN_PAGES`` alert periods, two adjacent stretches of one alert
counting once (a burst shorter than the window can touch two): one burst never recurs. A range (or an agent
product) of the principal is *stable* when its matches recur. An entry names the principal, its type, and per
dimension (source range, user agent) the stable values (at most ``MAX_VALUES``, the most active first; an agent
value is the product's one agent, or its agents' longest common prefix cut after a ``/``, with a trailing
``*``), unless the dimension *churns*: its other values (not stable, or not nameable: no IPv4-shaped address, no
agent, a ``*`` or quote in it) together recur, as a Lambda's addresses do. A dimension that churns is left out.
So a cell from a range seen in one burst, with an agent product seen in one burst, is never taken in: a stable
dimension excludes its range or its product, and neither of its values is part of a churn. The events of cells
an entry does not take in are not counted as removed: they keep paging. When both dimensions are left out, the
entry (only the principal's ARN and type) is suggested only if every one of the principal's cells recurs on its
own.

**Why a suggestion removes exactly what its comment says.** The entry it prints holds for an event of the
detection exactly when the event is one of that principal's summed matches in the cells the entry takes in:

- its ``match`` names the principal's field and ``userIdentity.type`` as they were read; a /24 condition holds
  for an address exactly when the address falls in that range's cell (the CIDR is compared as ``a.b.c.*``, and
  a cell's range is read from the address's first three dot-separated parts the same way); an agent value holds
  exactly for the agents of its product, and no other product's;
- a principal named by ``userIdentity.arn`` is not suggested when one of its events also named a role
  session's issuer (``shadowed``): such events are summed under the issuer, yet the entry would hold for them;
- every entry is checked, with the stack's own exceptions, by the stack's own rules
  (:func:`trailwatch.stack.resolve_exceptions`: guard rails, expiry, capacity, and provable disjointness), so
  pasted entries are accepted and no event is excepted twice; an entry that would be refused for a detection is
  suggested without that detection (never with fewer conditions: that would take in more cells), or left out.

The pages an entry removes are therefore the alerts of the detection's unexcepted series minus those of the
same series without the cells it takes in, and the pages after pasting every entry are those of the series
without all of them.

**Which principals.** Per detection, greedily: the principal whose removable matches (those of the cells its
entry would take in) recur in the most of the alert periods left, as long as they recur at all (noise recurs; a
principal behind one page is something to look at, not to tune out), until ``MAX_PER_DETECTION`` are chosen.
Removing one principal alone may not remove a page (another's events keep the merged alert firing), which is
why presence, not the pages its removal removes, ranks them. A chosen principal whose removal turns out not to
matter once the others are removed is dropped again, and none is suggested if all of them together do not
shorten how long the detection pages (:meth:`Target.firing`: an all-day alert stays one page as it shrinks).
Chosen principals are merged into one entry each over the detections they were chosen for where the entry's
conditions are the same (one per set of conditions otherwise).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from bisect import bisect_right
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
#: At most this many (range, agent product) cells per principal and detection; past it the principal is not
#: suggested for that detection.
MAX_CELLS = 256
#: At most this many ranges, and this many agent values, make a condition; more and the least active stable
#: cells are left out.
MAX_VALUES = 3
MAX_PER_DETECTION = 5
MIN_PAGES = 2
EXPIRY_DAYS = 30
OWNER = "unassigned-review-me"
NAME_CHARS = 64  # of the principal's name in the reason

CellKey = tuple  # (range "a.b.c.0/24" or None, agent product or None)


@dataclass
class Cell:
    """One principal's matches from one /24 range with one agent product (mergeable: :meth:`absorb`)."""

    minutes: dict[str, int] = field(default_factory=dict)  # minute -> matches
    agents: tuple[str, ...] = ()  # distinct user agents, sorted, at most two (one means: all the same)
    prefix: str | None = None  # the common prefix of its user agents; None for a cell without agent

    def absorb(self, other: "Cell") -> "Cell":
        if not self.minutes:
            self.agents, self.prefix = other.agents, other.prefix
        elif other.minutes:
            self.agents = tuple(sorted(set(self.agents) | set(other.agents)))[:2]
            if self.prefix is not None and other.prefix is not None:
                self.prefix = os.path.commonprefix([self.prefix, other.prefix])
        for minute, n in other.minutes.items():
            self.minutes[minute] = self.minutes.get(minute, 0) + n
        return self


@dataclass
class Seen:
    """One principal's unexcepted matches of one detection, per cell (mergeable: :meth:`absorb`)."""

    cells: dict[CellKey, Cell] = field(default_factory=dict)
    overflow: bool = False  # more than MAX_CELLS cells: the cells are dropped, the principal is not suggested
    shadowed: bool = False  # a principal by userIdentity.arn whose events also named an issuer

    def add(self, key: CellKey, cell: Cell) -> None:
        if self.overflow:
            return
        mine = self.cells.get(key)
        if mine is not None:
            mine.absorb(cell)
        elif len(self.cells) < MAX_CELLS:
            self.cells[key] = Cell().absorb(cell)
        else:
            self.overflow, self.cells = True, {}

    def absorb(self, other: "Seen") -> "Seen":
        """Exact and order-free: ``overflow`` ends up set iff the merged cells would exceed MAX_CELLS."""
        if other.overflow:
            self.overflow, self.cells = True, {}
        for key, cell in other.cells.items():
            self.add(key, cell)
        self.shadowed = self.shadowed or other.shadowed
        return self


def _range(address: str | None) -> str | None:
    """The /24 whose ``a.b.c.*`` comparison holds for the address's text, or None."""
    parts = address.split(".", 3) if address is not None else []
    if len(parts) < 4:
        return None
    net = ".".join(parts[:3]) + ".0/24"
    try:
        return net if str(ipaddress.IPv4Network(net)) == net else None
    except ValueError:
        return None


def _product(agent: str) -> str:
    """An agent's product: its text through the first ``/``, or all of it."""
    cut = agent.find("/")
    return agent if cut < 0 else agent[:cut + 1]


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
    cell = Cell({minute: 1}, (agent,), agent) if agent is not None else Cell({minute: 1})
    seen.setdefault(key, Seen()).add((_range(text_at(rec, exc.IP_FIELD)), None if agent is None else _product(agent)),
                                     cell)


def merge_seen(into: dict[tuple, Seen], other: dict[tuple, Seen]) -> None:
    for key, theirs in other.items():
        into.setdefault(key, Seen()).absorb(theirs)


# --- stable cells -----------------------------------------------------------------------------------------

def recurrence(minutes: Iterable[str], alerts: list[Alert], window: int) -> int:
    """In how many alert periods the minutes fall (see the module docstring: adjacent stretches count once)."""
    starts = [a.start for a in alerts]
    stretch = dt.timedelta(minutes=window)
    occupied: dict[int, set[int]] = {}
    for key in minutes:
        t = minute_time(key)
        i = bisect_right(starts, t) - 1
        if i >= 0 and t < alerts[i].end:
            occupied.setdefault(i, set()).add((t - alerts[i].start) // stretch)
    count = 0
    for stretches in occupied.values():
        last = None
        for k in sorted(stretches):
            if last is None or k > last + 1:
                count, last = count + 1, k
    return count


def _sum(minutes: Iterable[Mapping[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for m in minutes:
        for key, n in m.items():
            out[key] = out.get(key, 0) + n
    return out


@dataclass(frozen=True)
class Cover:
    """What an entry for one principal of one detection names, and the matches it takes in."""

    ranges: tuple[str, ...]  # () : no address condition
    agents: tuple[str, ...]  # () : no agent condition
    minutes: dict[str, int] = field(hash=False, compare=False)

    @property
    def events(self) -> int:
        return sum(self.minutes.values())


def agent_value(cell: Cell) -> str | None:
    """One user agent, or a common prefix cut after a ``/`` with a trailing ``*``, that covers every agent of the
    (product's) cell and no other product's; or None."""
    if cell.prefix is None or not cell.agents or "*" in cell.prefix:  # a '*' read from the logs would widen it
        return None
    if len(cell.agents) == 1 and _valid_agent(cell.agents[0]):
        return cell.agents[0]
    prefix = cell.prefix[:exc.MAX_TEXT - 1]
    cut = prefix.rfind("/")
    value = prefix[:cut + 1] + "*"
    return value if cut >= 0 and _valid_agent(value) else None


def _valid_agent(value: str) -> bool:
    """Whether the guard rails take ``value`` as a user agent (checked as a one-key entry)."""
    return not exc.entry_errors([{"detections": ["any"], "reason": "check", "owner": "check",
                                  "expires": "2000-01-01", "match": {AGENT: value}}])


def cover(seen: Seen, alerts: list[Alert], window: int) -> Cover | None:
    """The entry's conditions, the principal's recurring ranges and agent products, and the cells they take in
    (module docstring); or None."""
    cells = seen.cells
    by_range: dict[str | None, list[CellKey]] = {}
    by_product: dict[str | None, list[CellKey]] = {}
    for key in cells:
        by_range.setdefault(key[0], []).append(key)
        by_product.setdefault(key[1], []).append(key)

    def events(keys: list[CellKey]) -> int:
        return sum(n for k in keys for n in cells[k].minutes.values())

    def recurs(keys: list[CellKey]) -> bool:
        return recurrence(_sum(cells[k].minutes for k in keys), alerts, window) >= MIN_PAGES

    values = {}
    for product, keys in by_product.items():
        if product is not None:
            union = Cell()
            for k in keys:
                union.absorb(cells[k])
            values[product] = agent_value(union)
    ranges = sorted((r for r, keys in by_range.items() if r is not None and recurs(keys)),
                    key=lambda r: (-events(by_range[r]), r))[:MAX_VALUES]
    products = sorted((p for p, keys in by_product.items() if p is not None and values[p] is not None and recurs(keys)),
                      key=lambda p: (-events(by_product[p]), p))[:MAX_VALUES]
    # a dimension whose other values (not recurring, or not nameable) together recur is churn: left out
    rs = [] if recurs([k for k in cells if k[0] not in ranges]) else ranges
    ps = [] if recurs([k for k in cells if k[1] not in products]) else products
    if not rs and not ps and not all(recurs([k]) for k in cells):
        return None
    taken = [k for k in cells if (not rs or k[0] in rs) and (not ps or k[1] in ps)]
    if not taken:
        return None
    return Cover(tuple(sorted(rs)), tuple(sorted(values[p] for p in ps)), _sum(cells[k].minutes for k in taken))


# --- choosing --------------------------------------------------------------------------------------------

@dataclass
class Target:
    """One detection to suggest for: its unexcepted per-minute series, how its rule pages, and per principal
    what an entry could take in."""

    id: str
    series: dict[datetime, int]
    seen: dict[tuple, Seen]
    threshold: int
    window: int
    hold: int
    covers: dict[tuple, Cover] = field(init=False)

    def __post_init__(self) -> None:
        now = self.alerts()
        found = {k: cover(s, now, self.window) for k, s in self.seen.items() if not (k[0] == ARN and s.shadowed)}
        self.covers = {k: c for k, c in found.items() if c is not None}

    def alerts(self, without: Iterable[Mapping[str, int]] = ()) -> list[Alert]:
        series = dict(self.series)
        for minutes in without:
            for key, n in minutes.items():
                minute = minute_time(key)
                series[minute] = series.get(minute, 0) - n
        return simulate_alerts(series, self.window, self.threshold, self.hold)

    def pages(self, without: Iterable[Mapping[str, int]] = ()) -> int:
        return len(self.alerts(without))

    def firing(self, without: Iterable[Mapping[str, int]] = ()) -> dt.timedelta:
        """How long it pages in all (an alert firing all day is one page, yet removing the noise shortens it)."""
        return sum((a.end - a.start for a in self.alerts(without)), dt.timedelta())

    def choose(self) -> list[tuple]:
        """The principals behind its pages (see the module docstring)."""
        candidates = self.covers
        chosen: list[tuple] = []
        while len(chosen) < min(MAX_PER_DETECTION, len(candidates)):
            alerts = self.alerts(candidates[k].minutes for k in chosen)
            presence = {k: recurrence(c.minutes, alerts, self.window) for k, c in candidates.items() if k not in chosen}
            best = min(presence, key=lambda k: (-presence[k], -candidates[k].events, k[0] != ISSUER, k))
            if presence[best] < MIN_PAGES:
                break
            chosen.append(best)
        final = self.firing(candidates[k].minutes for k in chosen)
        for k in list(reversed(chosen)):
            rest = [candidates[o].minutes for o in chosen if o != k]
            if self.firing(rest) <= final:
                chosen.remove(k)
                final = self.firing(rest)
        return chosen if final < self.firing() else []


# --- entries ----------------------------------------------------------------------------------------------

@dataclass
class Entry:
    """A suggested exception: one principal, with one set of conditions, over the detections it was chosen for."""

    key: tuple  # (field, value, type)
    removed: dict[str, dict[str, int]]  # detection -> the matches it takes in there (minute -> n)
    detections: tuple[str, ...]
    agents: tuple[str, ...] = ()
    ranges: tuple[str, ...] = ()

    @property
    def events(self) -> int:
        return sum(n for d in self.detections for n in self.removed[d].values())

    def raw(self, expires: dt.date) -> dict[str, Any]:
        """The entry as a user writes it under ``trailwatch:exceptions``."""
        field_, value, kind = self.key
        match: dict[str, Any] = {field_: value, TYPE: kind}
        if self.agents:
            match[AGENT] = self.agents[0] if len(self.agents) == 1 else list(self.agents)
        if self.ranges:
            match[exc.IP_FIELD] = list(self.ranges)
        return {"detections": list(self.detections), "reason": self.reason(), "owner": OWNER,
                "expires": expires.isoformat(), "match": match}

    def reason(self) -> str:
        """What was observed, so a reviewer knows what the entry stands for."""
        field_, value, kind = self.key
        name = value.rsplit("/", 1)[-1] if "/" in value else value.rsplit(":", 1)[-1]
        name = name if len(name) <= NAME_CHARS else name[:NAME_CHARS - 3] + "..."
        minutes = sorted(m for d in self.detections for m in self.removed[d])
        days = minutes[0][:10] if minutes[0][:10] == minutes[-1][:10] else f"{minutes[0][:10]} to {minutes[-1][:10]}"
        ranges = f" from {len(self.ranges)} /24 range{'s' if len(self.ranges) != 1 else ''}" if self.ranges else ""
        return (f"auto-suggested: {self.events} matches by {kind} {name}{ranges} on {days} "
                f"(review, then write why)")


def _entries(targets: list[Target]) -> list[Entry]:
    """One entry per chosen principal and set of conditions, over its detections; first those a detection chose
    first."""
    grouped: dict[tuple, dict[str, dict[str, int]]] = {}  # (principal, ranges, agents) -> detection -> minutes
    rank: dict[tuple, int] = {}  # the earliest a detection chose the principal
    for target in targets:
        for position, key in enumerate(target.choose()):
            found = target.covers[key]
            grouped.setdefault((key, found.ranges, found.agents), {})[target.id] = found.minutes
            rank[key] = min(rank.get(key, position), position)
    entries = [Entry(key, removed, tuple(removed), agents, ranges)
               for (key, ranges, agents), removed in grouped.items()]
    return sorted(entries, key=lambda e: (rank[e.key], -e.events, e.key, e.ranges, e.agents))


def accepted(stack: Any, entries: list[Entry], on: dt.date) -> tuple[list[Entry], list[str]]:
    """The entries (without the detections the stack refuses them for) that the stack's own checks accept beside
    its exceptions and each other, in rank order; and the first line of each refusal met on the way."""
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
        dets = tuple(d for d in entry.detections if fine(replace(entry, detections=(d,))))
        if dets and fine(replace(entry, detections=dets)):
            kept.append(replace(entry, detections=dets))
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
            why = (f"no principal named by an ARN, from stable ranges and agents, is behind {MIN_PAGES} or more "
                   f"of the alert periods of {paging} (one burst is something to look at, not noise)")
        elif not refusals:
            why = f"the principals behind the pages of {paging} hold a '*' in their ARN: no entry could name them exactly"
        else:
            why = f"the stack would refuse every entry for the pages of {paging}; the first refusal: {refusals[0]}"
        return f"# replay --suggest-exceptions: nothing to suggest: {why}"
    after = {t.id: t.pages([e.removed[t.id] for e in entries if t.id in e.detections]) for t in targets}
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
        removed = ", ".join(f"{d} {by_id[d].pages()} -> {by_id[d].pages([entry.removed[d]])}"
                            for d in entry.detections)
        lines.append(f"# pages with this entry alone: {removed}")
        text = yaml.safe_dump([entry.raw(expires)], sort_keys=False, default_flow_style=False, width=1 << 16)
        lines += ["    " + line for line in text.splitlines()]
    return "\n".join(lines)
