"""Posting a card to the Teams Workflows URL: paced, retried within a budget, and never revealing the URL.

* Pace: at most :data:`RATE_PER_SECOND` posts per second to the channel (Microsoft throttles connector posts
  above 4 per second per channel); concurrent notifications queue for their slot.
* Retry: 429 (after its ``Retry-After``) and 5xx / transport errors, with capped exponential backoff; any
  other status is final at once (a 4xx will not get better by repeating it). Redirects are never followed: a
  3xx is a final failure, never a delivery (a followed redirect turns the POST into a body-less GET).
* Budget: no post starts after ``budget`` seconds; a post that has started gets the full
  :data:`ATTEMPT_TIMEOUT` to be answered (cutting it short would call a card Teams accepts a failure, and
  the retry would post it twice).
* Throttling: a ``Retry-After`` is remembered for the channel, so no post at all starts before that time,
  also not for Alertmanager's later retries; when it ends past the budget the outcome is ``throttled`` with the
  seconds left, and the caller answers a retryable failure.

Posts go through urllib3 (the client botocore uses too): one pool of kept-alive, certificate-verified
connections, with its own retries and redirects turned off so that every decision above is this module's.

Failure reasons are fixed words and HTTP status codes: never the URL, never an exception's text.
"""

from __future__ import annotations

import email.utils
import threading
import time
from dataclasses import dataclass
from typing import Callable

import urllib3

RATE_PER_SECOND = 4
BACKOFF_START = 0.5
BACKOFF_CAP = 4.0
ATTEMPT_TIMEOUT = 30.0
CONNECT_TIMEOUT = 5.0


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    reason: str
    """``delivered``, ``http_<status>``, ``unreachable``, ``timeout`` or ``throttled``: safe as a metric label
    and a log word."""
    attempts: int
    status: int | None = None
    retry_in: float | None = None
    """For ``throttled``: seconds until Teams takes posts again."""


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


#: One pool of kept-alive TLS connections to the Workflows host: a burst of cards does not pay a handshake per
#: card. Certificates are verified (urllib3's default); nothing is retried or redirected by urllib3 itself:
#: :class:`Teams` decides every retry, and a redirect is a failure.
_POOL = urllib3.PoolManager(num_pools=2, maxsize=RATE_PER_SECOND, retries=False,
                            headers={"Content-Type": "application/json", "User-Agent": "trailwatch-adapter"})
#: What is read of Teams' answer (it is a short acknowledgement); a longer body closes the connection.
MAX_ANSWER_BYTES = 65536


def _post_once(url: str, body: bytes, timeout: float) -> tuple[int | None, str | None]:
    """(status, Retry-After) of one POST; status None on a transport error."""
    try:
        response = _POOL.request("POST", url, body=body, redirect=False, preload_content=False,
                                 timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=timeout))
    except (urllib3.exceptions.HTTPError, OSError, ValueError):
        return None, None
    try:
        response.read(MAX_ANSWER_BYTES)
    except (urllib3.exceptions.HTTPError, OSError):
        pass  # the status line decided the outcome; the connection is not reused
    if response.length_remaining == 0 and not response.closed:
        response.release_conn()
    else:
        response.close()
    return response.status, response.headers.get("Retry-After")


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
        self._hold_until = 0.0  # monotonic time before which Teams asked for no post (Retry-After)
        self._hold_lock = threading.Lock()

    def __repr__(self) -> str:  # never show the URL, even in a debugger or a traceback's locals
        return "Teams(<webhook url hidden>)"

    def _hold(self, seconds: float) -> None:
        with self._hold_lock:
            self._hold_until = max(self._hold_until, time.monotonic() + seconds)

    def send(self, body: bytes) -> Outcome:
        deadline = time.monotonic() + self._budget
        backoff = BACKOFF_START
        attempts, reason, status = 0, "timeout", None
        while True:
            held = self._hold_until - time.monotonic()
            if held > 0:
                if time.monotonic() + held >= deadline:
                    return Outcome(False, "throttled", attempts, status, retry_in=held)
                time.sleep(held)
            if not self._pacer.wait(deadline):
                break
            attempts += 1
            status, header = self._post(self._url, body, ATTEMPT_TIMEOUT)
            if status is not None and 200 <= status < 300:
                return Outcome(True, "delivered", attempts, status)
            reason = "unreachable" if status is None else f"http_{status}"
            if status is not None and status != 429 and status < 500:
                return Outcome(False, reason, attempts, status)
            wait = backoff
            if status == 429:
                wait = retry_after(header, time.time()) or backoff
                self._hold(wait)
            if time.monotonic() + wait >= deadline:
                return Outcome(False, "throttled" if status == 429 else reason, attempts, status,
                               retry_in=wait if status == 429 else None)
            self._on_retry(reason)
            if status != 429:  # a 429's wait is the channel's hold, slept at the top of the loop
                time.sleep(wait)
            backoff = min(BACKOFF_CAP, backoff * 2)
        return Outcome(False, reason, attempts, status)
