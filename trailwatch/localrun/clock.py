"""Clocks for the emulators: the real one, a scaled one for runs that compress CloudWatch time, and a manual
one for tests that pin behaviour.

The emulated CloudWatch and exporter read "now" from their clock; Prometheus and Alertmanager always run on
wall time. With trailwatch's read path the exporter serves no timestamps (``set_timestamp: false``), so the
two may run at different speeds: a :class:`ScaledClock` with factor 60 makes each wall second one CloudWatch
minute, and a stack scraping every second then reads CloudWatch exactly as a production stack scraping every
minute does. ``to_wall``/``from_wall`` convert moments between the two.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch."""

    def to_wall(self, moment: float) -> float:
        """The wall-clock time at which this clock shows ``moment``."""

    def from_wall(self, wall: float) -> float:
        """What this clock shows at wall-clock time ``wall``."""


class _Unscaled:
    def to_wall(self, moment: float) -> float:
        return moment

    def from_wall(self, wall: float) -> float:
        return wall


class SystemClock(_Unscaled):
    """Wall-clock time: what Prometheus and Alertmanager see too."""

    def now(self) -> float:
        return time.time()


class ScaledClock:
    """Time that runs ``factor`` times faster than the wall clock, equal to it at ``origin`` (default: now)."""

    def __init__(self, factor: float, origin: float | None = None):
        if factor <= 0:
            raise ValueError(f"factor must be > 0 (got {factor})")
        self.factor = float(factor)
        self.origin = time.time() if origin is None else float(origin)

    def now(self) -> float:
        return self.from_wall(time.time())

    def to_wall(self, moment: float) -> float:
        return self.origin + (moment - self.origin) / self.factor

    def from_wall(self, wall: float) -> float:
        return self.origin + (wall - self.origin) * self.factor


class ManualClock(_Unscaled):
    """A clock that only moves when told to (unit tests of the emulators)."""

    def __init__(self, start: float = 1_700_000_000.0):
        self._now = float(start)
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def set(self, when: float) -> None:
        with self._lock:
            self._now = float(when)

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._now += seconds
            return self._now
