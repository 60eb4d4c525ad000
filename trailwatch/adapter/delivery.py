"""Posting a card to the Teams Workflows URL: paced, retried within a budget, and never revealing the URL.

* Pace: at most :data:`RATE_PER_SECOND` posts per second to the channel (Microsoft throttles connector posts
  above 4 per second per channel); concurrent notifications queue for their slot.
* Retry: 429 (after its ``Retry-After``, if that fits the budget) and 5xx / transport errors, with capped
  exponential backoff; any other status is final at once (a 4xx will not get better by repeating it).
* Budget: everything, waits included, ends within ``budget`` seconds, below Alertmanager's webhook timeout,
  so Alertmanager gets an answer (and counts a failure) instead of timing out.

Failure reasons are fixed words and HTTP status codes: never the URL, never an exception's text.
"""

from __future__ import annotations

import email.utils
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Callable

RATE_PER_SECOND = 4
BACKOFF_START = 0.5
BACKOFF_CAP = 4.0
ATTEMPT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    reason: str
    """``delivered``, ``http_<status>``, ``unreachable`` or ``timeout``: safe as a metric label and a log word."""
    attempts: int
    status: int | None = None


class Pacer:
    """Hands out send slots at most ``rate`` per second, in arrival order."""

    def __init__(self, rate: float = RATE_PER_SECOND, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self._interval = 1.0 / rate
        self._next = 0.0
        self._lock = threading.Lock()
        self._clock, self._sleep = clock, sleep

    def wait(self, deadline: float) -> bool:
        """Sleep until this caller's slot; False (no slot taken) if it would come after ``deadline``."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            if slot > deadline:
                return False
            self._next = slot + self._interval
        if slot > now:
            self._sleep(slot - now)
        return True


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


def _post_once(url: str, body: bytes, timeout: float) -> tuple[int | None, str | None]:
    """(status, Retry-After) of one POST; status None on a transport error."""
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "trailwatch-adapter"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - https URL, checked at start
            response.read(65536)
            return response.status, None
    except urllib.error.HTTPError as exc:
        header = exc.headers.get("Retry-After") if exc.headers else None
        exc.close()
        return exc.code, header
    except (urllib.error.URLError, OSError, ValueError):
        return None, None


class Teams:
    """The one Teams channel the adapter posts to."""

    def __init__(self, url: str, budget: float, pacer: Pacer | None = None,
                 post: Callable[[str, bytes, float], tuple[int | None, str | None]] = _post_once,
                 on_retry: Callable[[str], None] = lambda reason: None):
        self._url = url
        self._budget = budget
        self._pacer = pacer or Pacer()
        self._post = post
        self._on_retry = on_retry

    def __repr__(self) -> str:  # never show the URL, even in a debugger or a traceback's locals
        return "Teams(<webhook url hidden>)"

    def send(self, body: bytes) -> Outcome:
        deadline = time.monotonic() + self._budget
        backoff = BACKOFF_START
        attempts, reason, status = 0, "timeout", None
        while self._pacer.wait(deadline):
            attempts += 1
            left = deadline - time.monotonic()
            if left <= 0:
                break
            status, header = self._post(self._url, body, min(ATTEMPT_TIMEOUT, left))
            if status is not None and 200 <= status < 300:
                return Outcome(True, "delivered", attempts, status)
            reason = "unreachable" if status is None else f"http_{status}"
            if status is not None and status != 429 and status < 500:
                return Outcome(False, reason, attempts, status)
            wait = backoff
            if status == 429:
                wait = retry_after(header, time.time()) or backoff
            if time.monotonic() + wait >= deadline:
                break
            self._on_retry(reason)
            time.sleep(wait)
            backoff = min(BACKOFF_CAP, backoff * 2)
        return Outcome(False, reason, attempts, status)
