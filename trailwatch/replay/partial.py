"""Mergeable partial results: what one work unit of a replay (a file, a byte range of one, an S3 object, a
batch of them) counted, so that units can run on other cores or machines and be combined.

:meth:`Partial.absorb` (and :func:`merge`) is associative and commutative: merging the partials of any split
of a record stream, in any order and grouping, gives what one pass over the whole stream gives. Counts,
per-minute series and event minutes add up exactly. Malformed samples carry their unit's position in the
stream (``order``) and their rank in it, so the merge keeps the first ``MALFORMED_SAMPLES`` of the whole
stream. Top-N counters merge as Misra-Gries summaries (:mod:`trailwatch.replay.topn`): exact below the cap,
within their carried error bound above it.

A byte-range unit (the middle of a big JSON-lines file) cannot know how many lines and records precede it,
so its samples say ``file:<line>`` and ``file record #<n>`` counted from the range's start; each range's
partial also carries how many lines and records it held, and :meth:`Partial.malformed_samples` adds those of
the earlier ranges of the same file. Locations therefore read the same as in a one-pass run.

A partial holds plain lists, dicts, ints and strings: it pickles (process pools, Dask) and stays small,
bounded like the engine by the distinct minutes and the counters' cap. Exception counts are per-minute sums
like the series; the per-principal sums of ``replay --suggest-exceptions`` merge as
:meth:`~trailwatch.replay.suggest.Seen.absorb` says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import reduce
from typing import Iterable

from . import topn
from .engine import MALFORMED_SAMPLES, Aggregator, Rule
from .suggest import Seen, merge_seen

_LINE = re.compile(r":(\d+)")  # <file>:<line>[:<column>]: reason
_RECORD = re.compile(r" record #(\d+)")  # <file> record #<n>: reason


@dataclass
class Partial:
    rules: tuple[Rule, ...]
    events: int = 0
    malformed: int = 0
    samples: list[tuple[int, int, str]] = field(default_factory=list)  # (unit order, rank in unit, text), sorted
    event_minutes: dict[str, int] = field(default_factory=dict)
    series: list[dict[str, int]] = field(default_factory=list)  # per detection: minute -> matches
    tops: tuple[list[dict[str, int]], ...] = ()  # principals, source IPs, event names: per detection a counter
    top_error: tuple[list[int], ...] = ()  # same shape: how much each counter's counts may be low
    ranges: dict[int, tuple[str, int, int, int]] = field(default_factory=dict)  # order -> (where, start, lines, records)
    excepted: list[list[dict[str, int]]] = field(default_factory=list)  # per detection, per exception: minute -> n
    by_principal: list[dict[tuple, Seen]] = field(default_factory=list)  # per detection (see suggest.observe)

    @classmethod
    def empty(cls, rules: Iterable[Rule]) -> "Partial":
        rules = tuple(rules)
        n = len(rules)
        return cls(rules, series=[{} for _ in range(n)], tops=tuple([{} for _ in range(n)] for _ in range(3)),
                   top_error=tuple([0] * n for _ in range(3)),
                   excepted=[[{} for _ in r.exceptions] for r in rules], by_principal=[{} for _ in range(n)])

    @classmethod
    def of(cls, agg: Aggregator, *, order: int = 0) -> "Partial":
        """The aggregator's totals (taken, not copied: the aggregator is done); ``order``: the position in
        the whole stream of the unit it read."""
        return cls(tuple(agg.rules), agg.events, agg.malformed,
                   [(order, rank, text) for rank, text in enumerate(agg.malformed_samples)],
                   agg.event_minutes, agg.series, (agg.principals, agg.source_ips, agg.event_names),
                   agg.top_error, excepted=agg.excepted, by_principal=agg.by_principal)

    def absorb(self, other: "Partial") -> "Partial":
        """Merge ``other`` into this partial (in place); returns self."""
        if other.rules != self.rules:
            raise ValueError("partial results of different detections cannot be merged")
        self.events += other.events
        self.malformed += other.malformed
        self.samples = sorted(self.samples + other.samples)[:MALFORMED_SAMPLES]
        _sum(self.event_minutes, other.event_minutes)
        for mine, theirs in zip(self.series, other.series):
            _sum(mine, theirs)
        for group, errors, other_group, other_errors in zip(self.tops, self.top_error, other.tops, other.top_error):
            for i, counter in enumerate(group):
                errors[i] += other_errors[i] + topn.add(counter, other_group[i])
        self.ranges.update(other.ranges)
        for mine_ex, theirs_ex in zip(self.excepted, other.excepted):
            for mine, theirs in zip(mine_ex, theirs_ex):
                _sum(mine, theirs)
        for mine_seen, theirs_seen in zip(self.by_principal, other.by_principal):
            merge_seen(mine_seen, theirs_seen)
        return self

    def malformed_samples(self) -> list[str]:
        """The first malformed records of the whole stream, as ``<where>: <reason>`` lines."""
        return [self._absolute(order, text) if order in self.ranges else text for order, _, text in self.samples]

    def _absolute(self, order: int, text: str) -> str:
        """A byte-range unit's sample with its line or record number counted from the start of the file."""
        where, start, _, _ = self.ranges[order]
        if not text.startswith(where):
            return text
        lines = sum(n for w, s, n, _ in self.ranges.values() if w == where and s < start)
        records = sum(n for w, s, _, n in self.ranges.values() if w == where and s < start)
        rest = text[len(where):]
        for pattern, offset in ((_LINE, lines), (_RECORD, records)):
            found = pattern.match(rest)
            if found:
                return f"{where}{rest[:found.start(1)]}{int(found.group(1)) + offset}{rest[found.end(1):]}"
        return text


def merge(partials: Iterable[Partial]) -> Partial:
    """One partial from several (a fresh object: the inputs are left as they are)."""
    partials = list(partials)
    return reduce(Partial.absorb, partials, Partial.empty(partials[0].rules))


def _sum(into: dict[str, int], other: dict[str, int]) -> None:
    for key, count in other.items():
        into[key] = into.get(key, 0) + count
