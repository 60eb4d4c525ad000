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


def _str_map(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise PayloadError(f"{where}: must be an object of strings")
    return value


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
                 None if ends <= ZERO_TIME else ends, fingerprint, raw["startsAt"], raw["endsAt"])


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
    return Notification(group_key, status, receiver, _str_map(body.get("commonLabels", {}), "body.commonLabels"),
                        tuple(_alert(a, f"body.alerts[{i}]") for i, a in enumerate(alerts)), truncated)


class DeliveryLedger:
    """Bounded memory of notifications: delivered ones (for ``ttl`` seconds) and ones being delivered now.

    A retry that arrives while the first attempt is still posting waits for it and shares its outcome, so
    two concurrent attempts never make two cards either.
    """

    def __init__(self, ttl: float, capacity: int = 4096):
        self._ttl = ttl
        self._capacity = capacity
        self._done: OrderedDict[str, float] = OrderedDict()
        self._inflight: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def _expire(self, now: float) -> None:
        while self._done and (next(iter(self._done.values())) < now or len(self._done) > self._capacity):
            self._done.popitem(last=False)

    def claim(self, key: str, wait: float) -> str:
        """``"new"`` (deliver, then :meth:`finish`), ``"duplicate"`` (delivered already) or ``"busy"`` (another
        attempt is still delivering after ``wait`` seconds: answer a retryable error)."""
        deadline = time.monotonic() + wait
        while True:
            with self._lock:
                now = time.monotonic()
                self._expire(now)
                if key in self._done:
                    return "duplicate"
                event = self._inflight.get(key)
                if event is None:
                    self._inflight[key] = threading.Event()
                    return "new"
            if not event.wait(max(0.0, deadline - time.monotonic())):
                return "busy"

    def finish(self, key: str, delivered: bool) -> None:
        with self._lock:
            if delivered:
                self._done[key] = time.monotonic() + self._ttl
                self._done.move_to_end(key)
                self._expire(time.monotonic())
            event = self._inflight.pop(key, None)
        if event is not None:
            event.set()
