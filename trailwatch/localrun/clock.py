"""Clocks for the emulators: the real one for live runs, a manual one for tests that pin behaviour."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the Unix epoch."""


class SystemClock:
    """Wall-clock time: what Prometheus and Alertmanager see too. Use it whenever real binaries are involved."""

    def now(self) -> float:
        return time.time()


class ManualClock:
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
