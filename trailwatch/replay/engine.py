"""Evaluate every detection over a stream of records and aggregate per minute, in one pass.

Per record: one dict lookup to bucket ``eventTime`` by minute (the 16-character prefix of CloudTrail's
canonical ``YYYY-MM-DDTHH:MM:SSZ``; other ISO-8601 forms are parsed and converted to UTC), one
:meth:`PatternSet.matching` call (prefiltered: a catalog costs a few dict lookups per record), and for
each matching detection a count in its per-minute series and its top-N counters. Memory is bounded by
the number of distinct minutes (the time span, not the volume) and by the counters' cap
(:mod:`trailwatch.replay.topn`). The totals leave as a mergeable :class:`~trailwatch.replay.partial.Partial`.

Blocks of JSON lines (:class:`~.readers.LineBlock`, what the reader hands over when ``prefilter`` is on)
go to :class:`~.linescan.LineScanner`, which parses only the lines a detection may match and counts
the rest from their bytes; an S3 document's records (:class:`~.readers.RecordBatch`) go to
:class:`~.docscan.DocumentScanner`, which counts them column by column. The results are the same as feeding
every record (see those modules for the exact conditions). ``Aggregator(..., prefilter=False)`` is that
record-by-record reference: it takes a batch's records one by one (blocks come only from a reader asked for them).

A detection with noise exceptions (:mod:`trailwatch.exceptions`) still counts every match in its series (what
its metric filter records); a match that one of its exceptions holds for is also counted, by the first such
exception (:func:`~trailwatch.exceptions.excepted_by`), in that exception's series, so what pages is the
difference. Deciding that reads the whole record, so such a detection's matches are always counted from the
parsed record (the prefilter parses its lines instead of deciding them from their bytes). With
``Rule.principals`` the matches no exception holds for are also summed per principal
(:mod:`~trailwatch.replay.suggest`), for ``replay --suggest-exceptions``.
"""

from __future__ import annotations

import gc
import sys
import time
from dataclasses import dataclass, replace
from itertools import repeat
from operator import add
from typing import Any, Callable, Iterable, Mapping, Sequence

from ..catalog import Detection
from ..exceptions import ExceptionRule, applying, excepted_by
from ..filterpattern import PatternSet
from . import suggest, topn
from .docscan import DocumentScanner
from .linescan import LineScanner
from .readers import LineBlock, Malformed, RecordBatch, loads
from .recordkeys import event_minute, minute_of, principal_of, text_of

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
    exceptions: tuple[ExceptionRule, ...] = ()  # this detection's, in config order
    principals: bool = False  # sum its unexcepted matches per principal (for suggestions)

    @property
    def reads_records(self) -> bool:
        """Whether its matches are counted from the parsed record (an exception or a principal must be read)."""
        return bool(self.exceptions) or self.principals


def tuned(rules: Iterable[Rule], exceptions: Sequence[ExceptionRule] = (),
          principals: Iterable[str] = ()) -> list[Rule]:
    """The rules with the exceptions that name each attached, and per-principal sums for the ids in
    ``principals``."""
    collect = set(principals)
    return [replace(r, exceptions=applying(exceptions, r.id), principals=r.id in collect) for r in rules]


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


class Aggregator:
    """Feed records (parsed dicts, raw JSON lines, or :class:`Malformed` markers); read the totals.

    It is also the :class:`~.tally.Tally` its scanners count blocks and batches into: ``add_events``,
    ``add_matches``, ``count`` and ``one`` are the only ways in, for every path."""

    def __init__(self, detections: Sequence[Detection] | Mapping[str, str] | Iterable[Rule], *,
                 prefilter: bool = True):
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
        # per detection index: the dicts one match updates (pruning edits them in place)
        self.slots = [(self.series[i], self.principals[i], self.source_ips[i], self.event_names[i]) for i in range(n)]
        # per detection, per exception of it: minute -> matches it excepted; per detection: principal sums
        self.excepted: list[list[dict[str, int]]] = [[{} for _ in r.exceptions] for r in self.rules]
        self.by_principal: list[dict[tuple, list]] = [{} for _ in range(n)]
        self.reading = frozenset(i for i, r in enumerate(self.rules) if r.reads_records)
        self.prefilter = prefilter
        self._scanner: Any = None
        self._documents: Any = None

    def _bad(self, where: str, reason: str) -> None:
        self.malformed += 1
        if len(self.malformed_samples) < MALFORMED_SAMPLES:
            self.malformed_samples.append(f"{where}: {reason}")

    def feed(self, records: Iterable[Any], tick: Callable[[], None] | None = None,
             locate: Callable[..., str] | None = None) -> None:
        """Consume records (and :class:`LineBlock` and :class:`RecordBatch` items). ``tick`` is called every
        ``CHECK_EVERY`` records and after every block or batch (progress display); ``locate()`` names where the
        current record came from, ``locate(k)`` the k-th record of the current block or batch (for
        malformed-record messages)."""
        countdown = CHECK_EVERY
        position = 0
        # Parsed records are trees (no reference cycles) and die one by one: the cyclic collector only
        # burns time re-scanning them (about a fifth of the run), so it is paused while feeding.
        collecting = gc.isenabled()
        gc.disable()
        try:
            for rec in records:
                if type(rec) is LineBlock:
                    position = self._block(rec, position, locate)
                    countdown = 0
                elif type(rec) is RecordBatch:
                    position = self._batch(rec, position, locate)
                    countdown = 0
                else:
                    position += 1
                    countdown -= 1
                    self.one(rec, position, locate)
                if countdown <= 0:
                    countdown = CHECK_EVERY
                    self._prune()
                    if tick is not None:
                        tick()
        finally:
            if collecting:
                gc.enable()
            self._prune()

    def _block(self, block: LineBlock, position: int, locate: Callable[..., str] | None) -> int:
        if self._scanner is None:
            self._scanner = LineScanner(self, self.patterns.patterns, self.reading)
        where = (lambda k: locate(k)) if locate is not None else (lambda k: f"record #{position + k}")
        self._scanner.scan(block, position, where)
        return position + block.records

    def _batch(self, batch: RecordBatch, position: int, locate: Callable[..., str] | None) -> int:
        where = (lambda k: locate(k)) if locate is not None else (lambda k: f"record #{position + k}")
        if not self.prefilter:
            for k, item in enumerate(batch.items(), 1):
                self.one(item, position + k, lambda k=k: where(k))
        else:
            if self._documents is None:
                self._documents = DocumentScanner(self, self.patterns.patterns, self.reading)
            self._documents.scan(batch, position, where)
        return position + batch.records

    def one(self, rec: Any, position: int, locate: Callable[[], str] | None) -> None:
        """One record (a dict, a raw JSON line or a Malformed marker), the ``position``-th fed."""
        if type(rec) is not dict:
            rec = self._coerce(rec, position)
            if rec is None:
                return
        t = rec.get("eventTime")
        key = event_minute(t, self._minutes) if t is not None else minute_of(rec.get("@timestamp"))
        if key is None:
            self._bad((locate() if locate else f"record #{position}") + _id_suffix(rec), _no_time(rec, t))
            return
        try:
            hits = self.patterns.matching(rec)
        except Exception as exc:  # the engine promises never to raise; a record must not end the run
            self._bad((locate() if locate else f"record #{position}") + _id_suffix(rec),
                      f"could not be evaluated ({type(exc).__name__}: {exc})")
            return
        self.events += 1
        self.event_minutes[key] = self.event_minutes.get(key, 0) + 1
        if hits:
            index = self.index
            self.count([index[h] for h in hits], key, principal_of(rec), text_of(rec.get("sourceIPAddress")),
                       text_of(rec.get("eventName")), rec)

    def add_events(self, minutes: Mapping[str, int]) -> None:
        """Records counted in bulk, matched or not: how many in each minute."""
        self.events += sum(minutes.values())
        _add(self.event_minutes, minutes)

    def add_matches(self, hit: int, minutes: Mapping[str, int], principals: Mapping[str, int],
                    source_ips: Mapping[str, int], event_names: Mapping[str, int]) -> None:
        """Matches of detection ``hit`` (an index) counted in bulk, by minute, principal, source IP and event
        name. A detection that :attr:`~Rule.reads_records` cannot come this way: its matches need their record."""
        if hit in self.reading:
            raise AssertionError(f"detection {self.rules[hit].id!r} has exceptions; its matches need their records")
        for into, counted in zip(self.slots[hit], (minutes, principals, source_ips, event_names)):
            _add(into, counted)

    def count(self, hits: Iterable[int], minute: str, principal: str, ip: str, name: str,
              rec: dict | None = None) -> None:
        """One record matched by the detections ``hits`` (indexes); ``rec``, the record, is needed when one
        of them :attr:`~Rule.reads_records`."""
        slots = self.slots
        reading = self.reading
        for hit in hits:
            s, cp, ci, cn = slots[hit]
            s[minute] = s.get(minute, 0) + 1
            cp[principal] = cp.get(principal, 0) + 1
            ci[ip] = ci.get(ip, 0) + 1
            cn[name] = cn.get(name, 0) + 1
            if hit in reading:
                self._tune(hit, minute, rec)

    def _tune(self, hit: int, minute: str, rec: dict | None) -> None:
        """Which exception of the detection excepts the match (the first that holds), or whose it is."""
        if rec is None:
            raise AssertionError(f"detection {self.rules[hit].id!r} has exceptions; its match needs its record")
        rule = self.rules[hit]
        found = excepted_by(rule.exceptions, rule.id, rec)
        if found is not None:
            counts = self.excepted[hit][rule.exceptions.index(found)]
            counts[minute] = counts.get(minute, 0) + 1
        elif rule.principals:
            suggest.observe(self.by_principal[hit], rec, minute)

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


def _add(into: dict[str, int], counts: Mapping[str, int]) -> None:
    """``into[k] += c`` for each of ``counts``, without a Python step per key."""
    keys = counts.keys()
    sums = list(map(add, map(into.get, keys, repeat(0)), counts.values()))
    into.update(zip(keys, sums))


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
