"""Evaluate every detection over a stream of records and aggregate per minute, in one pass.

Per record: one dict lookup to bucket ``eventTime`` by minute (the 16-character prefix of CloudTrail's
canonical ``YYYY-MM-DDTHH:MM:SSZ``; other ISO-8601 forms are parsed and converted to UTC), one
:meth:`PatternSet.matching` call (prefiltered: a catalog costs a few dict lookups per record), and for
each matching detection a count in its per-minute series and its top-N counters. Memory is bounded by
the number of distinct minutes (the time span, not the volume) and by the counters' cap
(:mod:`trailwatch.replay.topn`). The totals leave as a mergeable :class:`~trailwatch.replay.partial.Partial`.
"""

from __future__ import annotations

import gc
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping, Sequence

from ..catalog import Detection
from ..filterpattern import PatternSet
from . import topn
from .readers import Malformed, loads

CHECK_EVERY = 16384  # records between progress/pruning checks
MALFORMED_SAMPLES = 10
PROGRESS_DELAY = 1.0  # seconds before the bar appears (short runs never show it)
PROGRESS_INTERVAL = 0.2  # seconds between redraws


@dataclass(frozen=True)
class Rule:
    """What the replay needs of a detection."""

    id: str
    pattern: str
    threshold: int = 1
    heartbeat: bool = False


def as_rules(detections: Sequence[Detection] | Mapping[str, str] | Iterable[Rule]) -> list[Rule]:
    """Detections (resolved, with patterns), ``{id: pattern}`` (threshold 1) or :class:`Rule` items."""
    if isinstance(detections, Mapping):
        return [Rule(ident, pattern) for ident, pattern in detections.items()]
    rules = []
    for det in detections:
        if isinstance(det, Rule):
            rules.append(det)
        elif not det.pattern:
            raise ValueError(f"detection '{det.id}' has no resolved pattern (pattern_from needs a stack)")
        else:
            rules.append(Rule(det.id, det.pattern, det.threshold, det.heartbeat))
    return rules


def minute_of(value: Any) -> str | None:
    """The UTC minute key ``YYYY-MM-DDTHH:MM`` of an ISO-8601 timestamp string, or None.

    Naive timestamps (no offset, e.g. ``2024-01-01 00:00:00``) are taken as UTC.
    """
    if type(value) is not str:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc)
    return parsed.strftime("%Y-%m-%dT%H:%M")


class Aggregator:
    """Feed records (parsed dicts, raw JSON lines, or :class:`Malformed` markers); read the totals."""

    def __init__(self, detections: Sequence[Detection] | Mapping[str, str] | Iterable[Rule]):
        self.rules = as_rules(detections)
        ids = [r.id for r in self.rules]
        if len(set(ids)) != len(ids):
            raise ValueError("detection ids must be unique")
        self.patterns = PatternSet({r.id: r.pattern for r in self.rules})
        n = len(self.rules)
        self.index = {r.id: i for i, r in enumerate(self.rules)}
        self.events = 0
        self.malformed = 0
        self.malformed_samples: list[str] = []
        self.series: list[dict[str, int]] = [{} for _ in range(n)]
        self.principals: list[dict[str, int]] = [{} for _ in range(n)]
        self.source_ips: list[dict[str, int]] = [{} for _ in range(n)]
        self.event_names: list[dict[str, int]] = [{} for _ in range(n)]
        # per counter group (principals, source IPs, event names) and detection: how much a count may be low
        self.top_error: tuple[list[int], ...] = ([0] * n, [0] * n, [0] * n)
        self.event_minutes: dict[str, int] = {}
        self._minutes: dict[str, bool] = {}  # canonical 16-char prefix -> is a valid minute

    def _bad(self, where: str, reason: str) -> None:
        self.malformed += 1
        if len(self.malformed_samples) < MALFORMED_SAMPLES:
            self.malformed_samples.append(f"{where}: {reason}")

    def feed(self, records: Iterable[Any], tick: Callable[[], None] | None = None,
             locate: Callable[[], str] | None = None) -> None:
        """Consume records. ``tick`` is called every ``CHECK_EVERY`` records (progress display);
        ``locate()`` names where the current record came from (for malformed-record messages)."""
        matching = self.patterns.matching
        # per detection id: the dicts one match updates (pruning edits them in place)
        slots = {r.id: (self.series[i], self.principals[i], self.source_ips[i], self.event_names[i])
                 for i, r in enumerate(self.rules)}
        event_minutes = self.event_minutes
        known = self._minutes
        countdown = CHECK_EVERY
        position = 0
        events = 0
        # Parsed records are trees (no reference cycles) and die one by one: the cyclic collector only
        # burns time re-scanning them (about a fifth of the run), so it is paused while feeding.
        collecting = gc.isenabled()
        gc.disable()
        try:
            for rec in records:
                position += 1
                countdown -= 1
                if not countdown:
                    countdown = CHECK_EVERY
                    self.events += events
                    events = 0
                    self._prune()
                    if tick is not None:
                        tick()
                if type(rec) is not dict:
                    rec = self._coerce(rec, position)
                    if rec is None:
                        continue
                t = rec.get("eventTime")
                if type(t) is str and len(t) == 20 and t[19] == "Z" and t[16] == ":":
                    key = t[:16]  # canonical CloudTrail time: the minute is the prefix
                    ok = known.get(key)
                    if ok is None:
                        ok = known[key] = minute_of(t) == key
                    if not ok:
                        key = minute_of(t)
                else:
                    key = minute_of(t) if t is not None else minute_of(rec.get("@timestamp"))
                if key is None:
                    self._bad((locate() if locate else f"record #{position}") + _id_suffix(rec), _no_time(rec, t))
                    continue
                events += 1
                event_minutes[key] = event_minutes.get(key, 0) + 1
                try:
                    hits = matching(rec)
                except Exception as exc:  # the engine promises never to raise; a record must not end the run
                    events -= 1
                    event_minutes[key] -= 1
                    if not event_minutes[key]:
                        del event_minutes[key]
                    self._bad((locate() if locate else f"record #{position}") + _id_suffix(rec),
                              f"could not be evaluated ({type(exc).__name__}: {exc})")
                    continue
                if not hits:
                    continue
                ident = rec.get("userIdentity")
                if type(ident) is dict:
                    principal = ident.get("arn") or ident.get("invokedBy") or "(none)"
                    if type(principal) is not str:
                        principal = str(principal)
                else:
                    principal = "(none)"
                ip = rec.get("sourceIPAddress")
                if type(ip) is not str:
                    ip = "(none)" if ip is None else str(ip)
                name = rec.get("eventName")
                if type(name) is not str:
                    name = "(none)" if name is None else str(name)
                for hit in hits:
                    s, cp, ci, cn = slots[hit]
                    s[key] = s.get(key, 0) + 1
                    cp[principal] = cp.get(principal, 0) + 1
                    ci[ip] = ci.get(ip, 0) + 1
                    cn[name] = cn.get(name, 0) + 1
        finally:
            if collecting:
                gc.enable()
            self.events += events
            self._prune()

    @property
    def matches(self) -> list[int]:
        return [sum(s.values()) for s in self.series]

    def _coerce(self, rec: Any, position: int) -> dict | None:
        if type(rec) is Malformed:
            self._bad(rec.where, rec.reason)
            return None
        if isinstance(rec, (bytes, bytearray, str)):
            try:
                value = loads(rec)
            except ValueError as exc:
                self._bad(f"record #{position}", f"not JSON ({exc})")
                return None
            if type(value) is dict:
                return value
            rec = value
        if isinstance(rec, dict):
            return dict(rec)
        self._bad(f"record #{position}", f"{type(rec).__name__}, not a JSON object")
        return None

    def _prune(self) -> None:
        for group, errors in zip((self.principals, self.source_ips, self.event_names), self.top_error):
            for i, counter in enumerate(group):
                errors[i] += topn.prune(counter)


def _no_time(rec: dict, t: Any) -> str:
    """Why a record has no minute: a bad time, or (no time, no eventVersion) not CloudTrail at all."""
    if t is not None:
        return f"no usable eventTime ({str(t)[:40]!r})"
    if "eventVersion" in rec or "@timestamp" in rec:
        return "no usable eventTime"
    keys = ", ".join(str(k)[:40] for k in list(rec)[:5]) + (", ..." if len(rec) > 5 else "")
    return f"not a CloudTrail record (an object without eventTime or eventVersion; its keys: {keys or 'none'})"


def _id_suffix(rec: dict) -> str:
    ident = rec.get("eventID")
    return f" (eventID {ident})" if type(ident) is str else ""


class Progress:
    """A one-line progress bar on stderr, shown only when stderr is a terminal and the run is long."""

    def __init__(self, total_bytes: int, done: Callable[[], int], events: Callable[[], int],
                 stream: Any = None, delay: float | None = None, noun: str = "events"):
        self.stream = stream if stream is not None else sys.stderr
        self.total = total_bytes
        self.done = done
        self.events = events
        self.noun = noun  # what ``events()`` counts (a Dask run counts finished tasks)
        self.started = time.monotonic()
        self.delay = PROGRESS_DELAY if delay is None else delay
        self.shown = False
        self.last = float("-inf")
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())

    def __call__(self) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        elapsed = now - self.started
        if elapsed < self.delay or now - self.last < PROGRESS_INTERVAL:
            return
        self.last = now
        done = self.done()
        events = self.events()
        rate = events / elapsed if elapsed > 0 else 0.0
        if self.total:
            frac = min(done / self.total, 1.0)
            bar = "#" * int(frac * 30)
            eta = (elapsed / frac - elapsed) if frac > 0 else 0
            line = (f"replay [{bar:<30}] {frac * 100:5.1f}% {done / 2**20:,.0f}/{self.total / 2**20:,.0f} MiB "
                    f"{events:,} {self.noun} {rate:,.0f}/s ETA {int(eta) // 60}:{int(eta) % 60:02d}")
        else:
            line = f"replay {events:,} {self.noun} {rate:,.0f}/s"
        self.stream.write("\r" + line + "\x1b[K")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
