"""The CloudWatch side of a local run for one stack (EMULATED): metric filters' datapoints and the exporter.

:class:`StackEmulation` builds, from a stack, what AWS would hold and serve:

* a :class:`MetricStore` with one metric per metric filter the stack deploys (:func:`stack_filters`): one per
  enabled detection (heartbeat included) and one per (detection, exception) pair, as ``MetricFilterSet``
  creates them (value 1 per match, ``default_value 0``);
* steady background CloudTrail traffic (``background_events_per_minute`` records a minute that only the
  heartbeat counts, ingested at once: a fast region filling every minute with zeros), starting early enough
  that the heartbeat's window is full from the first scrape, as in a live account;
* an :class:`ExporterEmulator` serving the stack's rendered exporter config.

Slots: datapoints live on a minute grid ``origin + k * 60`` of the emulation's clock (a :class:`ScaledClock`
compresses CloudWatch time; see :mod:`.clock`). :meth:`place` puts replayed CloudTrail minutes on the grid from
a given slot on (see :mod:`.timeline`), ingested ``lag`` seconds after their minute; :meth:`readable_at` says
when (wall clock) the exporter can first serve them.
"""

from __future__ import annotations

import math
from typing import Any

from ..readpath import MINUTE
from ..render import render_exporter_config
from ..replay import Rule
from ..stack import Stack, stack_excepted_filters
from .clock import Clock, SystemClock
from .cloudwatch import FilterMetric, MetricStore
from .exporter import ExporterEmulator
from .timeline import ReplayedMinutes, Timeline


def stack_filters(stack: Stack, exception_lag: float = 0.0) -> list[FilterMetric]:
    """Every metric filter the stack puts on its log group, each with the metric it writes and its pattern: the
    enabled detections (resolved: every one is on) and :func:`trailwatch.stack.stack_excepted_filters` (recorded
    under ``<detection>-x-<exception id>``, in the detection's namespace). ``exception_lag``: seconds the
    exception filters publish after the detections' (the worst case the rules' exception guard absorbs)."""
    s = stack.settings
    filters = [FilterMetric(d.namespace or s.metric_namespace, d.metric, d.id, d.heartbeat, d.pattern)
               for d in stack.detections]
    filters += [FilterMetric(f.namespace or s.metric_namespace, f.metric, f.name, pattern=f.pattern,
                             latency=exception_lag) for f in stack_excepted_filters(stack)]
    return filters


def filter_rules(stack: Stack) -> list[Rule]:
    """The stack's metric filters as replay rules: replaying records with them counts, per minute and id, what
    each filter's metric records (feed the report to :meth:`ReplayedMinutes.from_report`). Thresholds are
    the alert rules' business (they page on matches minus excepted), so each rule keeps the default."""
    return [Rule(f.detection_id, f.pattern or "", heartbeat=f.heartbeat) for f in stack_filters(stack)]


class StackEmulation:
    def __init__(self, stack: Stack, *, clock: Clock | None = None, background_events_per_minute: int = 20,
                 filter_latency: float = 0.0, exception_lag: float = 0.0, alignment: str = "start",
                 port: int = 0):
        s = stack.settings
        self.stack = stack
        self.clock = clock or SystemClock()
        self.period = MINUTE
        self.delay = s.exporter_delay_seconds
        self.filter_latency = float(filter_latency)
        self.origin = math.floor(self.clock.now())
        self.filters = stack_filters(stack, exception_lag)
        self.store = MetricStore(self.filters, origin=self.origin, period=self.period,
                                 filter_latency=filter_latency, alignment=alignment)
        if background_events_per_minute:
            history = max(s.heartbeat_missing_minutes, s.alert_window_minutes) + 1
            self.store.steady_traffic(self.origin - history * self.period, background_events_per_minute)
        self.exporter_config = render_exporter_config(stack)
        self.exporter = ExporterEmulator(self.exporter_config, self.store, self.clock, port=port)
        self.placements: list[dict[Any, int]] = []

    def slot_time(self, slot: int) -> int:
        """The datapoint timestamp of slot ``slot`` (emulation clock, epoch seconds)."""
        return self.origin + slot * self.period

    def readable_at(self, slot: int, lag: float = 0.0) -> float:
        """Wall time from which the exporter may serve slot ``slot`` delivered ``lag`` seconds late: ingested
        and through the metric filter, and older than the exporter's delay (served at the next scrape)."""
        moment = self.slot_time(slot) + max(lag + self.filter_latency, self.delay)
        return self.clock.to_wall(moment)

    def slot_readable_after(self, wall: float) -> int:
        """The first slot readable (without lag) strictly after the wall time ``wall``."""
        moment = self.clock.from_wall(wall)
        return max(0, math.floor((moment - self.origin - max(self.delay, self.filter_latency)) / self.period) + 1)

    def place(self, replayed: ReplayedMinutes, slot: int, max_gap_periods: int | None = 1,
              lag: float = 0.0) -> dict[Any, int]:
        """Record the replayed minutes from slot ``slot`` on, each ingested ``lag`` seconds (emulation clock)
        after its minute; returns ``{event minute: datapoint time}``."""
        timeline = Timeline(replayed.minutes, origin=self.slot_time(slot), period=self.period,
                            max_gap_periods=max_gap_periods)
        placed = timeline.load(self.store, replayed, lag=lag)
        self.placements.append(placed)
        return placed

    def stop_traffic(self, wall: float | None = None) -> None:
        """CloudTrail stops delivering: no background datapoints from the first slot at or after the wall time
        ``wall`` (default: now)."""
        self.store.stop_traffic(self.clock.now() if wall is None else self.clock.from_wall(wall))

    def start(self) -> "StackEmulation":
        self.exporter.start()
        return self

    def stop(self) -> None:
        self.exporter.stop()
