"""Alertmanager's webhook payload (version 4): validation into plain dataclasses, and idempotency.

Alertmanager retries a notification it thinks failed (a timeout, a 5xx) with the very same body, so a
notification is identified by its group, status and each alert's fingerprint, startsAt and endsAt: a retry
has the same key, a later change of the group (a new alert, a resolve) has another.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping

from ..errors import TrailwatchError

STATUSES = ("firing", "resolved")
#: Alertmanager's "no end time" (Go's zero time) on firing alerts.
ZERO_TIME = datetime(1, 1, 1, tzinfo=timezone.utc)


class PayloadError(TrailwatchError):
    """The request body is not an Alertmanager webhook v4 payload."""


@dataclass(frozen=True)
class Alert:
    status: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime | None
    fingerprint: str
    starts_raw: str
    ends_raw: str


@dataclass(frozen=True)
class Notification:
    group_key: str
    status: str
    receiver: str
    common_labels: Mapping[str, str]
    alerts: tuple[Alert, ...]
    truncated_alerts: int

    @property
    def key(self) -> str:
        """Same for Alertmanager's retries of this notification, different for any change of the group."""
        parts = [self.group_key, self.status] + sorted(
            f"{a.fingerprint}|{a.status}|{a.starts_raw}|{a.ends_raw}" for a in self.alerts)
        return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


def parse_time(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise PayloadError(f"{where}: must be an RFC 3339 time string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise PayloadError(f"{where}: not an RFC 3339 time ({value[:40]!r})") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def scrub(value: str) -> str:
    """``value`` with each lone surrogate (valid in JSON's ``\\ud800`` escapes, not encodable as UTF-8) as U+FFFD."""
    return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _str_map(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise PayloadError(f"{where}: must be an object of strings")
    return {scrub(k): scrub(v) for k, v in value.items()}


def _alert(raw: Any, where: str) -> Alert:
    if not isinstance(raw, dict):
        raise PayloadError(f"{where}: must be an object")
    status = raw.get("status")
    if status not in STATUSES:
        raise PayloadError(f"{where}.status: must be firing or resolved")
    fingerprint = raw.get("fingerprint")
    if not isinstance(fingerprint, str) or not fingerprint:
        raise PayloadError(f"{where}.fingerprint: must be a non-empty string")
    starts = parse_time(raw.get("startsAt"), f"{where}.startsAt")
    ends = parse_time(raw.get("endsAt"), f"{where}.endsAt")
    return Alert(status, _str_map(raw.get("labels"), f"{where}.labels"),
                 _str_map(raw.get("annotations", {}), f"{where}.annotations"), starts,
                 None if ends <= ZERO_TIME else ends, scrub(fingerprint), scrub(raw["startsAt"]),
                 scrub(raw["endsAt"]))


def parse_notification(body: Any) -> Notification:
    """The payload as a :class:`Notification`; :class:`PayloadError` (one line, no echo of values) otherwise."""
    if not isinstance(body, dict):
        raise PayloadError("body: must be a JSON object")
    if body.get("version") != "4":
        raise PayloadError('body.version: must be "4" (Alertmanager webhook payload version 4)')
    group_key = body.get("groupKey")
    if not isinstance(group_key, str) or not group_key:
        raise PayloadError("body.groupKey: must be a non-empty string")
    status = body.get("status")
    if status not in STATUSES:
        raise PayloadError("body.status: must be firing or resolved")
    receiver = body.get("receiver")
    if not isinstance(receiver, str):
        raise PayloadError("body.receiver: must be a string")
    alerts = body.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        raise PayloadError("body.alerts: must be a non-empty array")
    truncated = body.get("truncatedAlerts", 0)
    if isinstance(truncated, bool) or not isinstance(truncated, int) or truncated < 0:
        raise PayloadError("body.truncatedAlerts: must be a whole number >= 0")
    return Notification(scrub(group_key), status, scrub(receiver), _str_map(body.get("commonLabels", {}), "body.commonLabels"),
                        tuple(_alert(a, f"body.alerts[{i}]") for i, a in enumerate(alerts)), truncated)


class Attempt:
    """One delivery of a notification in flight: whoever waits on it gets its outcome."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self.outcome: Any = None

    def finish(self, outcome: Any) -> None:
        self.outcome = outcome
        self._done.set()

    def wait(self, seconds: float) -> bool:
        return self._done.wait(max(0.0, seconds))


class DeliveryLedger:
    """Bounded memory of notifications: delivered ones (for ``ttl`` seconds) and the attempts in flight.

    A retry that arrives while an attempt of the same notification is still delivering joins that attempt
    (it waits for the same outcome) instead of starting another, so a slow Teams never gets the card twice.
    """

    def __init__(self, ttl: float, capacity: int = 4096, max_inflight: int = 1024):
        self._ttl = ttl
        self._capacity = capacity
        self._max_inflight = max_inflight
        self._done: OrderedDict[str, float] = OrderedDict()
        self._inflight: dict[str, Attempt] = {}
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)

    def _expire(self, now: float) -> None:
        while self._done and (next(iter(self._done.values())) < now or len(self._done) > self._capacity):
            self._done.popitem(last=False)

    def claim(self, key: str) -> tuple[str, Attempt | None]:
        """``("new", attempt)``: deliver, then :meth:`finish`; ``("joined", attempt)``: another request is
        delivering it, wait for its outcome; ``("duplicate", None)``: delivered already; ``("busy", None)``:
        too many attempts in flight, answer a retryable error."""
        with self._lock:
            self._expire(time.monotonic())
            if key in self._done:
                return "duplicate", None
            attempt = self._inflight.get(key)
            if attempt is not None:
                return "joined", attempt
            if len(self._inflight) >= self._max_inflight:
                return "busy", None
            attempt = self._inflight[key] = Attempt()
            return "new", attempt

    def finish(self, key: str, delivered: bool, outcome: Any) -> None:
        with self._lock:
            if delivered:
                self._done[key] = time.monotonic() + self._ttl
                self._done.move_to_end(key)
                self._expire(time.monotonic())
            attempt = self._inflight.pop(key, None)
            self._idle.notify_all()
        if attempt is not None:
            attempt.finish(outcome)

    def delivered(self) -> dict[str, float]:
        """The delivered keys still remembered, with their expiry as wall-clock time (for the state file)."""
        with self._lock:
            now, wall = time.monotonic(), time.time()
            self._expire(now)
            return {key: wall + (until - now) for key, until in self._done.items()}

    def remember(self, delivered: dict[str, float]) -> None:
        """Take in keys a previous process delivered (``delivered``'s wall-clock expiries), soonest first."""
        with self._lock:
            now, wall = time.monotonic(), time.time()
            for key, until in sorted(delivered.items(), key=lambda item: item[1]):
                self._done[key] = now + (until - wall)
                self._done.move_to_end(key)
            self._expire(now)

    def drain(self, seconds: float) -> int:
        """Wait up to ``seconds`` for every attempt in flight to end; the number still in flight."""
        deadline = time.monotonic() + seconds
        with self._lock:
            while self._inflight and self._idle.wait(max(0.0, deadline - time.monotonic())):
                pass
            return len(self._inflight)
