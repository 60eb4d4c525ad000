"""Emulated CloudWatch metrics, as metric filters on one log group write them (EMULATOR: no AWS involved).

Each filter trailwatch creates (``MetricFilterSet``) emits ``1`` per matching log event and ``default_value 0``
for every other event, so CloudWatch records, for every minute in which the log group received any event, one
datapoint per filter: ``Sum`` = matches, ``SampleCount`` = events, ``Minimum``/``Maximum`` 0 or 1. Minutes with
no events at all have no datapoint (the exporter then serves nothing for them: absent, not 0).

Delivery lag: every recorded minute carries the time its events were ingested (CloudTrail's delivery to
CloudWatch Logs); a datapoint counts only what was ingested ``filter_latency`` seconds (plus the filter's own
``latency``) or more before the read.
A datapoint keeps its event minute (assumed, see :mod:`trailwatch.readpath`), so a late event lands in the past.
Background traffic streams (one per region / log stream) have their own lag.

Timestamps are whole seconds on a grid ``origin + k * period``: CloudWatch datapoints start on minute
boundaries, and on the emulator's (shifted) timeline the boundaries are wherever ``origin`` puts them.

``get_metric_statistics`` follows GetMetricStatistics (AWS API reference): ``StartTime`` rounded down to the
minute and inclusive, ``EndTime`` exclusive, datapoints aggregated in ``Period``-long buckets counted from the
rounded start (``alignment="start"``; ``"period"`` aligns buckets to multiples of the period instead, the
alternative AWS does not rule out, to show what the read path does if that were true), at most 1,440 buckets.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Iterable, Mapping

#: The unit CloudWatch reports for a metric-filter metric created without one.
NO_UNIT = "None"
MAX_DATAPOINTS = 1440
ALIGNMENTS = ("start", "period")


class CloudWatchError(ValueError):
    """A request CloudWatch would refuse (InvalidParameterCombination and the like)."""


@dataclass(frozen=True)
class FilterMetric:
    """The CloudWatch metric one metric filter writes."""

    namespace: str
    metric: str
    #: The id its matches are recorded under: the detection's, or ``<detection>-x-<exception id>`` for the
    #: filter counting one exception's share of a detection (``ExceptedFilter.name``).
    detection_id: str
    #: A heartbeat filter matches every CloudTrail record (background traffic included).
    heartbeat: bool = False
    #: The filter pattern (what replaying records with it counts); None where a test records counts directly.
    pattern: str | None = None
    #: Seconds this filter's datapoints become visible after the store's ``filter_latency``: two filters
    #: reading one log event need not publish at the same moment.
    latency: float = 0.0


@dataclass(frozen=True)
class Datapoint:
    timestamp: int
    sum: float
    sample_count: float
    minimum: float
    maximum: float
    unit: str = NO_UNIT

    @property
    def average(self) -> float:
        return self.sum / self.sample_count if self.sample_count else 0.0

    def statistic(self, name: str) -> float:
        return {"Sum": self.sum, "SampleCount": self.sample_count, "Minimum": self.minimum,
                "Maximum": self.maximum, "Average": self.average}[name]


@dataclass(frozen=True)
class _Traffic:
    start: int
    events_per_minute: int
    until: float  # exclusive; math.inf while running
    lag: float = 0.0  # seconds from a minute's start to its ingestion


@dataclass(frozen=True)
class _Delivery:
    ingested_at: float
    events: int
    matches: Mapping[str, int]


def _combine(points: list[Datapoint], timestamp: int) -> Datapoint:
    return Datapoint(timestamp, sum(p.sum for p in points), sum(p.sample_count for p in points),
                     min(p.minimum for p in points), max(p.maximum for p in points))


class MetricStore:
    """The datapoints metric filters would have written to CloudWatch, on the emulator's timeline.

    Thread-safe: the exporter emulator reads while a test records minutes or stops the traffic.
    """

    def __init__(self, filters: Iterable[FilterMetric], origin: int, period: int = 60,
                 default_value: float | None = 0.0, filter_latency: float = 0.0, alignment: str = "start"):
        self.filters = tuple(filters)
        keys = [(f.namespace, f.metric) for f in self.filters]
        if len(set(keys)) != len(keys):
            raise ValueError("two metric filters write the same namespace/metric")
        ids = [f.detection_id for f in self.filters]
        if len(set(ids)) != len(ids):
            raise ValueError("two metric filters have the same detection id")
        if period < 1:
            raise ValueError(f"period must be >= 1 second (got {period})")
        if any(f.latency < 0 for f in self.filters):
            raise ValueError("a metric filter's latency must be >= 0")
        if alignment not in ALIGNMENTS:
            raise ValueError(f"alignment must be one of {', '.join(ALIGNMENTS)} (got {alignment!r})")
        self.origin = int(origin)
        self.period = int(period)
        self.default_value = default_value
        self.filter_latency = float(filter_latency)
        self.alignment = alignment
        self._by_id = {f.detection_id: f for f in self.filters}
        self._minutes: dict[int, list[_Delivery]] = {}  # timestamp -> deliveries of that minute
        self._traffic: list[_Traffic] = []
        self._lock = threading.Lock()

    # -- writing -------------------------------------------------------------------------------------------------

    def check_timestamp(self, timestamp: float) -> int:
        ts = int(timestamp)
        if ts != timestamp or (ts - self.origin) % self.period:
            raise ValueError(f"timestamp {timestamp} is not on the store's grid (origin {self.origin}, period "
                             f"{self.period})")
        return ts

    def record_minute(self, timestamp: float, events: int, matches: Mapping[str, int],
                      ingested_at: float | None = None) -> None:
        """The log group received ``events`` records with event times in the period starting at ``timestamp``,
        ingested at ``ingested_at`` (default: ``timestamp``, no lag); ``matches`` counts the records each
        detection's filter matched (detections not named matched none). Adds to what is there."""
        ts = self.check_timestamp(timestamp)
        when = float(ts if ingested_at is None else ingested_at)
        if when < ts:
            raise ValueError(f"ingested at {when} before its event minute {ts}")
        unknown = sorted(set(matches) - set(self._by_id))
        if unknown:
            raise ValueError(f"no metric filter for detection {unknown[0]!r}")
        for ident, count in matches.items():
            if count < 0 or count > events:
                raise ValueError(f"detection {ident!r}: {count} matches out of {events} events")
        with self._lock:
            self._minutes.setdefault(ts, []).append(_Delivery(when, int(events), dict(matches)))

    def steady_traffic(self, start: float, events_per_minute: int, lag: float = 0.0) -> None:
        """Background CloudTrail traffic from ``start`` on: every period gets ``events_per_minute`` records that
        only the heartbeat filters match (a real account's steady stream of API calls), each minute ingested
        ``lag`` seconds after it starts (one region's log stream)."""
        if events_per_minute < 1:
            raise ValueError("events_per_minute must be >= 1")
        if lag < 0:
            raise ValueError("lag must be >= 0")
        ts = self.check_timestamp(start)
        with self._lock:
            self._traffic.append(_Traffic(ts, events_per_minute, math.inf, float(lag)))

    def stop_traffic(self, at: float) -> None:
        """Background traffic stops: no datapoint from the first period starting at or after ``at``
        (CloudTrail stopped delivering to the log group)."""
        with self._lock:
            self._traffic = [_Traffic(t.start, t.events_per_minute, min(t.until, at), t.lag) for t in self._traffic]

    # -- reading -------------------------------------------------------------------------------------------------

    def _events_and_matches(self, ts: int, now: float) -> tuple[int, dict[str, int]]:
        """Records and matches of minute ``ts`` that a read at ``now`` sees (ingested, plus filter latency)."""
        visible_until = now - self.filter_latency
        events, matches = 0, {}
        for delivery in self._minutes.get(ts, ()):
            if delivery.ingested_at <= visible_until:
                events += delivery.events
                for ident, count in delivery.matches.items():
                    matches[ident] = matches.get(ident, 0) + count
        background = sum(t.events_per_minute for t in self._traffic
                         if t.start <= ts < t.until and ts + t.lag <= visible_until)
        if background:
            for f in self.filters:
                if f.heartbeat:
                    matches[f.detection_id] = matches.get(f.detection_id, 0) + background
        return events + background, matches

    def _datapoint(self, f: FilterMetric, ts: int, now: float = math.inf) -> Datapoint | None:
        events, matches = self._events_and_matches(ts, now - f.latency)
        hits = matches.get(f.detection_id, 0)
        if self.default_value is None:
            if not hits:
                return None
            return Datapoint(ts, float(hits), float(hits), 1.0, 1.0)
        if not events:
            return None
        default = float(self.default_value)
        total = hits + default * (events - hits)
        low = min(1.0 if hits else default, default if events > hits else 1.0)
        high = max(1.0 if hits else default, default if events > hits else 1.0)
        return Datapoint(ts, float(total), float(events), low, high)

    def _bucket_starts(self, start: float, end: float, period: int) -> list[int]:
        rounded = self.origin + math.floor((start - self.origin) / self.period) * self.period
        if self.alignment == "period":
            rounded = math.floor(rounded / period) * period
        starts = list(range(int(rounded), int(math.ceil(end)), period))
        if len(starts) > MAX_DATAPOINTS:
            raise CloudWatchError(f"InvalidParameterCombination: {len(starts)} datapoints requested; the maximum "
                                  f"is {MAX_DATAPOINTS}")
        return starts

    def get_metric_statistics(self, namespace: str, metric: str, start: float, end: float,
                              period: int | None = None, now: float = math.inf) -> list[Datapoint]:
        """GetMetricStatistics at time ``now``: one datapoint per ``period``-long bucket (default: the store's
        minute) that holds data, oldest first, counting minutes with ``start <= timestamp < end`` after
        ``start`` is rounded down to the minute; each datapoint is stamped with its bucket's start."""
        period = self.period if period is None else int(period)
        if period < self.period or period % self.period:
            raise CloudWatchError(f"InvalidParameterValue: period {period} is not a multiple of {self.period}")
        f = self._filter(namespace, metric)
        if f is None:
            return []
        starts = self._bucket_starts(start, end, period)
        points: list[Datapoint] = []
        with self._lock:
            for bucket in starts:
                stop = int(min(bucket + period, math.ceil(end)))
                minutes = [self._datapoint(f, ts, now) for ts in range(bucket, stop, self.period)]
                present = [p for p in minutes if p is not None]
                if present:
                    points.append(_combine(present, bucket))
        return points

    def newest_before(self, namespace: str, metric: str, before: float) -> Datapoint | None:
        """The newest datapoint with ``timestamp < before``, at any age (ListMetrics' "recently active")."""
        f = self._filter(namespace, metric)
        if f is None:
            return None
        with self._lock:
            candidates = set(self._minutes)
            for t in self._traffic:
                last = min(t.until, before - t.lag)
                if last > t.start:
                    candidates.add(self.origin + ((math.ceil(last) - 1 - self.origin) // self.period) * self.period)
            for ts in sorted((c for c in candidates if c < before), reverse=True):
                point = self._datapoint(f, ts, before)
                if point is not None:
                    return point
        return None

    def _filter(self, namespace: str, metric: str) -> FilterMetric | None:
        for f in self.filters:
            if f.namespace == namespace and f.metric == metric:
                return f
        return None
