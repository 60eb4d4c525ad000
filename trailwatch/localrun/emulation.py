"""The CloudWatch side of a local run for one stack (EMULATED): metric filters' datapoints and the exporter.

:class:`StackEmulation` builds, from a stack, what AWS would hold and serve:

* a :class:`MetricStore` with one metric per enabled detection (heartbeat included), as ``MetricFilterSet``
  creates them (value 1 per match, ``default_value 0``);
* steady background CloudTrail traffic (``background_events_per_minute`` records a minute that only the
  heartbeat counts), starting ``history_periods`` periods before slot 0 so the exporter serves a heartbeat
  from the first scrape, as in a live account;
* an :class:`ExporterEmulator` serving the stack's rendered exporter config.

Slots: datapoints live on a grid ``origin + k * period``; slot ``k`` becomes readable by the exporter
(older than ``exporterDelaySeconds``) at :meth:`readable_at` ``(k)``. ``origin`` is chosen so slot 0 is
readable at ``first_readable_at``. :meth:`place` puts replayed CloudTrail minutes on the grid from a given
slot on (see :mod:`.timeline`).
"""

from __future__ import annotations

import math
from typing import Any

from ..render.exporter import render_exporter_config
from ..stack import Stack
from .clock import Clock, SystemClock
from .cloudwatch import FilterMetric, MetricStore
from .exporter import ExporterEmulator
from .timeline import ReplayedMinutes, Timeline


class StackEmulation:
    def __init__(self, stack: Stack, first_readable_at: float, *, clock: Clock | None = None,
                 background_events_per_minute: int = 20, history_periods: int = 5, port: int = 0):
        s = stack.settings
        self.stack = stack
        self.clock = clock or SystemClock()
        self.period = s.exporter_period_seconds
        self.delay = s.exporter_delay_seconds
        self.origin = math.floor(first_readable_at) - self.delay
        self.filters = [FilterMetric(d.namespace or s.metric_namespace, d.metric, d.id, d.heartbeat)
                        for d in stack.detections]  # resolved: every one of them is on
        self.store = MetricStore(self.filters, origin=self.origin, period=self.period)
        if background_events_per_minute:
            self.store.steady_traffic(self.origin - history_periods * self.period, background_events_per_minute)
        self.exporter_config = render_exporter_config(stack)
        self.exporter = ExporterEmulator(self.exporter_config, self.store, self.clock, port=port)
        self.placements: list[dict[Any, int]] = []

    def slot_time(self, slot: int) -> int:
        """The datapoint timestamp of slot ``slot`` (emulator clock, epoch seconds)."""
        return self.origin + slot * self.period

    def readable_at(self, slot: int) -> float:
        """When the exporter first may serve slot ``slot`` (``timestamp < now - delay``; served at the first
        scrape after that)."""
        return self.slot_time(slot) + self.delay

    def slot_readable_after(self, moment: float) -> int:
        """The first slot readable strictly after ``moment``."""
        return max(0, math.floor((moment - self.origin - self.delay) / self.period) + 1)

    def place(self, replayed: ReplayedMinutes, slot: int, max_gap_periods: int | None = 1) -> dict[Any, int]:
        """Record the replayed minutes from slot ``slot`` on; returns ``{event minute: datapoint time}``."""
        timeline = Timeline(replayed.minutes, origin=self.slot_time(slot), period=self.period,
                            max_gap_periods=max_gap_periods)
        placed = timeline.load(self.store, replayed)
        self.placements.append(placed)
        return placed

    def stop_traffic(self, at: float | None = None) -> None:
        """CloudTrail stops delivering: no background datapoints from the first slot at or after ``at``."""
        self.store.stop_traffic(self.clock.now() if at is None else at)

    def first_served(self, series: str, slot_time: int) -> float | None:
        return self.exporter.first_served.get((series, slot_time * 1000))

    def start(self) -> "StackEmulation":
        self.exporter.start()
        return self

    def stop(self) -> None:
        self.exporter.stop()
