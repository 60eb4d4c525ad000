"""Emulated CloudWatch metrics, as metric filters on one log group write them (EMULATOR: no AWS involved).

Each filter trailwatch creates (``MetricFilterSet``) emits ``1`` per matching log event and ``default_value 0``
for every other event, so CloudWatch records, for every minute in which the log group received any event, one
datapoint per filter: ``Sum`` = matches, ``SampleCount`` = events, ``Minimum``/``Maximum`` 0 or 1. Minutes with
no events at all have no datapoint (the exporter then serves nothing for them: absent, not 0).

Timestamps are whole seconds on a grid ``origin + k * period``: CloudWatch datapoints start on period
boundaries, and on the emulator's (shifted) timeline the boundaries are wherever ``origin`` puts them.

``get_metric_statistics`` follows GetMetricStatistics: ``StartTime`` rounded down to a period boundary and
inclusive, ``EndTime`` exclusive.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Iterable, Mapping

#: The unit CloudWatch reports for a metric-filter metric created without one.
NO_UNIT = "None"


@dataclass(frozen=True)
class FilterMetric:
    """The CloudWatch metric one metric filter writes."""

    namespace: str
    metric: str
    detection_id: str
    #: A heartbeat filter matches every CloudTrail record (background traffic included).
    heartbeat: bool = False


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


class MetricStore:
    """The datapoints metric filters would have written to CloudWatch, on the emulator's timeline.

    Thread-safe: the exporter emulator reads while a test records minutes or stops the traffic.
    """

    def __init__(self, filters: Iterable[FilterMetric], origin: int, period: int = 60,
                 default_value: float | None = 0.0):
        self.filters = tuple(filters)
        keys = [(f.namespace, f.metric) for f in self.filters]
        if len(set(keys)) != len(keys):
            raise ValueError("two metric filters write the same namespace/metric")
        ids = [f.detection_id for f in self.filters]
        if len(set(ids)) != len(ids):
            raise ValueError("two metric filters have the same detection id")
        if period < 1:
            raise ValueError(f"period must be >= 1 second (got {period})")
        self.origin = int(origin)
        self.period = int(period)
        self.default_value = default_value
        self._by_id = {f.detection_id: f for f in self.filters}
        self._minutes: dict[int, tuple[int, dict[str, int]]] = {}  # timestamp -> (events, matches by id)
        self._traffic: list[_Traffic] = []
        self._lock = threading.Lock()

    # -- writing -------------------------------------------------------------------------------------------------

    def check_timestamp(self, timestamp: float) -> int:
        ts = int(timestamp)
        if ts != timestamp or (ts - self.origin) % self.period:
            raise ValueError(f"timestamp {timestamp} is not on the store's grid (origin {self.origin}, period "
                             f"{self.period})")
        return ts

    def record_minute(self, timestamp: float, events: int, matches: Mapping[str, int]) -> None:
        """The log group received ``events`` records in the period starting at ``timestamp``; ``matches`` counts
        the records each detection's filter matched (detections not named matched none). Adds to what is there."""
        ts = self.check_timestamp(timestamp)
        unknown = sorted(set(matches) - set(self._by_id))
        if unknown:
            raise ValueError(f"no metric filter for detection {unknown[0]!r}")
        for ident, count in matches.items():
            if count < 0 or count > events:
                raise ValueError(f"detection {ident!r}: {count} matches out of {events} events")
        with self._lock:
            old_events, old_matches = self._minutes.get(ts, (0, {}))
            merged = dict(old_matches)
            for ident, count in matches.items():
                merged[ident] = merged.get(ident, 0) + count
            self._minutes[ts] = (old_events + events, merged)

    def steady_traffic(self, start: float, events_per_minute: int) -> None:
        """Background CloudTrail traffic from ``start`` on: every period gets ``events_per_minute`` records that
        only the heartbeat filters match (a real account's steady stream of API calls)."""
        if events_per_minute < 1:
            raise ValueError("events_per_minute must be >= 1")
        ts = self.check_timestamp(start)
        with self._lock:
            self._traffic.append(_Traffic(ts, events_per_minute, math.inf))

    def stop_traffic(self, at: float) -> None:
        """Background traffic stops: no datapoint from the first period starting at or after ``at``
        (CloudTrail stopped delivering to the log group)."""
        with self._lock:
            self._traffic = [_Traffic(t.start, t.events_per_minute, min(t.until, at)) for t in self._traffic]

    # -- reading -------------------------------------------------------------------------------------------------

    def _events_and_matches(self, ts: int) -> tuple[int, dict[str, int]]:
        events, matches = self._minutes.get(ts, (0, {}))
        background = sum(t.events_per_minute for t in self._traffic if t.start <= ts < t.until)
        if background:
            matches = dict(matches)
            for f in self.filters:
                if f.heartbeat:
                    matches[f.detection_id] = matches.get(f.detection_id, 0) + background
        return events + background, matches

    def _datapoint(self, f: FilterMetric, ts: int) -> Datapoint | None:
        events, matches = self._events_and_matches(ts)
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

    def _grid(self, start: float, end: float) -> range:
        first = self.origin + math.floor((start - self.origin) / self.period) * self.period
        return range(int(first), int(math.ceil(end)), self.period)

    def get_metric_statistics(self, namespace: str, metric: str, start: float, end: float) -> list[Datapoint]:
        """Datapoints with ``start <= timestamp < end``, oldest first (GetMetricStatistics, one period). Like
        CloudWatch for recent data, ``start`` is first rounded down to a period boundary."""
        f = self._filter(namespace, metric)
        if f is None:
            return []
        with self._lock:
            points = [self._datapoint(f, ts) for ts in self._grid(start, end)]
        return [p for p in points if p is not None]

    def newest_before(self, namespace: str, metric: str, before: float) -> Datapoint | None:
        """The newest datapoint with ``timestamp < before``, at any age (ListMetrics' "recently active")."""
        f = self._filter(namespace, metric)
        if f is None:
            return None
        with self._lock:
            candidates = set(self._minutes)
            for t in self._traffic:
                last = min(t.until, before)
                if last > t.start:
                    candidates.add(self.origin + ((math.ceil(last) - 1 - self.origin) // self.period) * self.period)
            for ts in sorted((c for c in candidates if c < before), reverse=True):
                point = self._datapoint(f, ts)
                if point is not None:
                    return point
        return None

    def _filter(self, namespace: str, metric: str) -> FilterMetric | None:
        for f in self.filters:
            if f.namespace == namespace and f.metric == metric:
                return f
        return None
