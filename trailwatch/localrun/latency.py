"""A model of the alert path from the CloudTrail API call to the Teams card, for one event at a time.

It answers "is this event ever paged, and when?" for a given exporter config, delivery lag and scrape phase,
using the emulators' own code for the AWS side (:class:`MetricStore` for CloudWatch, :class:`ExporterEmulator`
for cloudwatch_exporter's read and newest-datapoint choice) and a small model of the Prometheus side:

* scrapes every ``scrape_interval`` from a phase; a failed scrape stores nothing;
* storage: with ``set_timestamp: true`` a sample carries the datapoint's time and Prometheus keeps it only if
  that time is newer than the series' last sample (same time, other value: ``ErrDuplicateSampleForTimestamp``;
  older: out of order); with ``set_timestamp: false`` every scrape's sample is stored at the scrape time;
* the detection rule ``max_over_time(<series>[range]) >= threshold``, evaluated every ``eval_interval``; for a
  detection with noise exceptions (``guard`` > 0), ``max_over_time(min_over_time(<series>[guard:step])[range:step])``
  with the step the scrape interval and Prometheus' five-minute lookback (the event is not excepted);
* the card: the first firing evaluation + ``group_wait`` + the post.

A second region's traffic fills every minute with zeros (``default_value: 0``) at no lag, as in a multi-region
trail where one region is fast and another late. ``make latency`` runs the shipped settings and the previous
ones side by side on a delivery-lag distribution; the e2e suite checks the shipped ones with real binaries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from ..contract import DEFAULT_METRIC_NAMESPACE
from .clock import ManualClock
from .cloudwatch import CloudWatchError, FilterMetric, MetricStore
from .exporter import ExporterEmulator

DETECTION = FilterMetric(DEFAULT_METRIC_NAMESPACE, "RootAccountUsage", "root_usage")
#: Records a minute of the fast region (only the heartbeat would match them; here they make the zeros).
BACKGROUND_PER_MINUTE = 20


@dataclass(frozen=True)
class PromSide:
    """The Prometheus/Alertmanager side, in seconds."""

    scrape_interval: int
    eval_interval: int
    rule_range: int          # the detection rule's max_over_time range
    group_wait: int
    notify: float = 1.0
    threshold: int = 1
    guard: int = 0           # a tuned detection's min_over_time subquery range (0: untuned)


@dataclass(frozen=True)
class Outcome:
    event_time: float
    lag: float
    card_at: float | None    # None: never paged

    @property
    def latency(self) -> float | None:
        return None if self.card_at is None else self.card_at - self.event_time


def detection_config(exporter_metric: Mapping[str, Any]) -> dict[str, Any]:
    """An exporter config with one metric entry shaped like ``exporter_metric`` (period, range, delay,
    set_timestamp taken from it) for the model's detection."""
    keys = ("period_seconds", "range_seconds", "delay_seconds", "set_timestamp")
    return {"region": "us-east-1", "metrics": [{
        "aws_namespace": DETECTION.namespace, "aws_metric_name": DETECTION.metric, "aws_statistics": ["Sum"],
        **{k: exporter_metric[k] for k in keys if k in exporter_metric}}]}


def simulate(config: Mapping[str, Any], prom: PromSide, event_offset: float, lag: float, scrape_phase: float,
             eval_phase: float, *, horizon: float, failed_scrapes: frozenset[int] = frozenset(),
             alignment: str = "start", event_minute: int = 0) -> Outcome:
    """One event ``event_offset`` seconds into the minute starting at ``event_minute`` (seconds on a grid from
    0), ingested ``lag`` later; scrapes and evaluations from their phases (seconds after 0) to ``horizon``.

    ``failed_scrapes``: indices of scrapes (counted from the first one after time 0) that fail. Everything is
    deterministic: callers vary phases and lags."""
    origin = 0
    store = MetricStore([DETECTION], origin=origin, alignment=alignment)
    store.steady_traffic(-3600, BACKGROUND_PER_MINUTE)  # the fast region: zeros every minute
    event_time = origin + event_minute + event_offset
    store.record_minute(origin + event_minute, 1, {DETECTION.detection_id: 1}, ingested_at=event_time + lag)
    clock = ManualClock(0)
    exporter = ExporterEmulator(config, store, clock)
    (rule,) = exporter.rules
    samples: list[tuple[float, float]] = []  # (sample timestamp, value) as stored
    stored_at: list[float] = []              # when each stored sample became queryable
    last_ts = -math.inf
    scrape = scrape_phase
    index = 0
    evaluation = eval_phase
    while evaluation <= horizon:
        while scrape <= evaluation:
            if index not in failed_scrapes:
                clock.set(scrape)
                try:
                    ((_, point),) = exporter.read_all(scrape)
                except CloudWatchError:
                    point = None
                if point is not None:
                    ts = point.timestamp if rule.set_timestamp else scrape
                    if ts > last_ts:
                        samples.append((ts, point.sum))
                        stored_at.append(scrape)
                        last_ts = ts
            index += 1
            scrape += prom.scrape_interval
        known = [(ts, v) for (ts, v), at in zip(samples, stored_at) if at <= evaluation]
        if _fires(known, evaluation, prom):
            return Outcome(event_time, lag, evaluation + prom.group_wait + prom.notify)
        evaluation += prom.eval_interval
    return Outcome(event_time, lag, None)


#: Prometheus' default lookback: an instant query sees the newest sample at most this old.
LOOKBACK = 300


def _fires(samples: list[tuple[float, float]], at: float, prom: PromSide) -> bool:
    """Whether the detection rule is active at evaluation time ``at`` over the stored ``samples``."""
    if not prom.guard:
        window = [v for ts, v in samples if at - prom.rule_range < ts <= at]
        return bool(window) and max(window) >= prom.threshold

    def value(x: float) -> float | None:
        seen = [v for ts, v in samples if x - LOOKBACK < ts <= x]
        return seen[-1] if seen else None

    def grid(end: float, span: float) -> list[float]:
        step = prom.scrape_interval
        last = math.floor(end / step) * step
        return [last - k * step for k in range(int(span // step)) if last - k * step > end - span]

    def guarded(x: float) -> float | None:
        values = [v for v in map(value, grid(x, prom.guard)) if v is not None]
        return min(values) if values else None

    held = [v for v in map(guarded, grid(at, prom.rule_range)) if v is not None]
    return bool(held) and max(held) >= prom.threshold
