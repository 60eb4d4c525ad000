"""The adapter's HTTP server: ``POST /alerts`` (Alertmanager webhook v4, bearer token), ``GET /metrics``,
``GET /healthz``; every other path is 404, every other method 405.

Answers to Alertmanager: 200 when the card reached Teams (or this notification already had: a retry),
502 when Teams finally refused it or could not be reached (Alertmanager retries and counts a failure),
503 with ``Retry-After`` when the card is still being delivered (a retry joins that attempt and gets its
outcome, it never posts again), when Teams asked for a pause longer than the budget, or when the adapter is
full; 400/401/411/413 for bad requests. Bodies are short fixed words: never the Workflows URL, the token or
an exception's text.

Each notification is delivered by its own attempt (a thread), apart from the request that started it, so
an attempt outlives Alertmanager's webhook timeout and a retry can wait for it. Connections are bounded
(:data:`MAX_CONNECTIONS`, answered 503 beyond it, never reset by a short listen backlog); a client gets
:data:`HEADER_SECONDS` for its headers and :data:`BODY_SECONDS` for its body, in total, not per read.
Anything quoted from a request in a log line is quoted with ``repr``: no raw line breaks or escapes.
"""

from __future__ import annotations

import hmac
import io
import json
import logging
import math
import socket
import sys
import threading
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ..contract import (
    ADAPTER_ALERTS_PATH, ADAPTER_CARDS_FAILED, ADAPTER_NOTIFICATIONS, ADAPTER_REQUESTS_REJECTED, DETECTION_LABEL,
    NOTIFICATION_FAILED,
)
from .card import MAX_ALERTS, TRUNCATION_NOTE, fitted, is_pipeline
from .config import AdapterConfig
from .delivery import Outcome, Teams
from .enrich import LATE, Enrichment, error_kind, find_events, utcnow
from .webhook import Alert, Attempt, DeliveryLedger, Notification, PayloadError, parse_notification

log = logging.getLogger("trailwatch.adapter")
DEFAULT_MAX_BODY = 1024 * 1024
DRAIN_LIMIT = 8 * 1024 * 1024
NOTIFICATION_RESULTS = ("delivered", "duplicate", NOTIFICATION_FAILED, "busy")
REJECTION_REASONS = ("unauthorized", "length_required", "too_large", "invalid", "overloaded", "slow_client")
LISTEN_BACKLOG = 1024
MAX_CONNECTIONS = 128
HEADER_SECONDS = 10.0
BODY_SECONDS = 20.0
WRITE_SECONDS = 10.0
BUSY_RETRY_SECONDS = 5
#: Event searches running at once, across all notifications (each is one FilterLogEvents call at a time):
#: CloudWatch Logs allows 5 FilterLogEvents calls per second per account and region by default.
SEARCH_THREADS = 5
_OVERLOADED = (b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: "
               + str(BUSY_RETRY_SECONDS).encode() + b"\r\nContent-Length: 24\r\nConnection: close\r\n\r\n"
               + b'{"status": "overloaded"}')


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.notifications = Counter(ADAPTER_NOTIFICATIONS, "Alertmanager notifications handled, by "
                                     "result (delivered, duplicate, failed, busy).", ["result"], registry=r)
        self.sent = Counter("trailwatch_adapter_cards_sent", "Cards Teams accepted.", registry=r)
        self.failed = Counter(ADAPTER_CARDS_FAILED, "Cards Teams finally refused or never received, "
                              "by reason (http_<status>, unreachable, timeout).", ["reason"], registry=r)
        self.truncated = Counter("trailwatch_adapter_cards_truncated", "Cards shortened to fit 28 KB.", registry=r)
        self.retries = Counter("trailwatch_adapter_teams_retries", "Retried posts to Teams, by reason.", ["reason"],
                               registry=r)
        self.rejected = Counter(ADAPTER_REQUESTS_REJECTED, "Requests refused, by reason.", ["reason"],
                                registry=r)
        self.enrich_seconds = Histogram("trailwatch_adapter_enrichment_seconds", "Time to fetch one alert's "
                                        "events from CloudWatch Logs.", registry=r,
                                        buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10))
        self.enrich_errors = Counter("trailwatch_adapter_enrichment_errors", "Failed event searches, by reason.",
                                     ["reason"], registry=r)
        # Every value the alert rule reads exists from the start at 0: increase() cannot see a counter's first
        # step when its series appears already at 1, so the first failed card would otherwise not page.
        for result in NOTIFICATION_RESULTS:
            self.notifications.labels(result)
        for reason in REJECTION_REASONS:
            self.rejected.labels(reason)


def wants_events(alert: Alert) -> bool:
    """A firing detection alert: its card lists the CloudTrail events behind it."""
    return alert.status == "firing" and not is_pipeline(alert)


class Adapter:
    """What the handler calls: one notification in, one card out (or none, for a retry)."""

    def __init__(self, config: AdapterConfig, token: str, teams: Teams, logs_client: Any, metrics: Metrics,
                 clock: Callable[[], datetime] = utcnow):
        self.config = config
        self._expected = f"Bearer {token}".encode("utf-8")
        self.teams = teams
        self.logs = logs_client
        self.metrics = metrics
        self.ledger = DeliveryLedger(config.dedup_seconds)
        self._clock = clock
        self._searches = threading.BoundedSemaphore(SEARCH_THREADS)

    def __repr__(self) -> str:
        return "Adapter(<secrets hidden>)"

    def authorized(self, header: str | None) -> bool:
        return hmac.compare_digest((header or "").encode("utf-8", "replace"), self._expected)

    def _enrich_all(self, alerts: tuple[Alert, ...], now: datetime) -> dict[str, Enrichment]:
        """Every alert's events, searched concurrently; a search that has not ended when the notification's
        enrichment budget does goes on the card as "did not answer in time". Searches run on daemon threads
        (at most :data:`SEARCH_THREADS` at once): one stuck on a slow endpoint never holds the card or the
        adapter's exit, and its late result is dropped."""
        deadline = time.monotonic() + self.config.enrich_budget_seconds
        wanted = [a for a in alerts[:MAX_ALERTS] if wants_events(a)]  # the alerts a card can show
        results: dict[str, Enrichment] = {}
        threads = [threading.Thread(target=self._search, args=(a, now, deadline, results), name="enrich",
                                    daemon=True) for a in wanted]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        found: dict[str, Enrichment] = {}
        for alert in wanted:
            done = results.get(alert.fingerprint)
            if done is None:
                self.metrics.enrich_errors.labels("timeout").inc()
                done = Enrichment(complete=False, error=LATE)
            found[alert.fingerprint] = done
        return found

    def _search(self, alert: Alert, now: datetime, deadline: float, results: dict[str, Enrichment]) -> None:
        if not self._searches.acquire(timeout=max(0.0, deadline - time.monotonic())):
            return
        try:
            results[alert.fingerprint] = self._enrich(alert, now, deadline)
        finally:
            self._searches.release()

    def _enrich(self, alert: Alert, now: datetime, deadline: float) -> Enrichment:
        det = self.config.detections.get(alert.labels.get(DETECTION_LABEL, ""))
        if det is None:
            return Enrichment(complete=False, error="this detection is not in the adapter's config")
        start = alert.starts_at - timedelta(seconds=self.config.alert_window_seconds)
        began = time.monotonic()
        found = find_events(self.logs, self.config.log_group, det.pattern, start, now,
                            max_pages=self.config.max_pages, max_events=self.config.max_events,
                            budget_seconds=max(0.0, deadline - began), targets=det.targets)
        self.metrics.enrich_seconds.observe(time.monotonic() - began)
        if found.error:
            self.metrics.enrich_errors.labels(error_kind(found.error)).inc()
            log.warning("enrichment for detection %s failed: %s", alert.labels.get(DETECTION_LABEL), found.error)
        return found

    def handle(self, note: Notification) -> tuple[int, str, dict[str, str]]:
        """(status, word, extra headers) for Alertmanager."""
        claim, attempt = self.ledger.claim(note.key)
        if claim == "new":
            threading.Thread(target=self._deliver, args=(note, attempt), name="delivery", daemon=True).start()
        if attempt is None or not attempt.wait(self.config.delivery_budget_seconds):
            result = "duplicate" if claim == "duplicate" else "busy"
            self.metrics.notifications.labels(result).inc()
            log.info("notification %s for %r: %s, no new card", note.key[:12], note.group_key[:80],
                     "in flight" if attempt else claim)
            if result == "duplicate":
                return 200, "duplicate", {}
            return 503, "in flight" if attempt else "busy", {"Retry-After": str(BUSY_RETRY_SECONDS)}
        outcome: Outcome = attempt.outcome
        if outcome.delivered:
            result = "duplicate" if claim == "joined" else "delivered"
            self.metrics.notifications.labels(result).inc()
            return 200, result, {}
        self.metrics.notifications.labels(NOTIFICATION_FAILED).inc()
        if outcome.retry_in is not None:
            return 503, "teams asked to wait", {"Retry-After": str(max(1, math.ceil(outcome.retry_in)))}
        return 502, f"teams delivery failed: {outcome.reason}", {}

    def _deliver(self, note: Notification, attempt: Attempt) -> None:
        """One attempt: enrich, build, post; its outcome goes to every request waiting on ``attempt``."""
        outcome = Outcome(False, "internal_error", 0)
        try:
            now = self._clock()
            found = self._enrich_all(note.alerts, now)
            body = fitted(note, found, now, self.config.region)
            if TRUNCATION_NOTE.encode() in body:
                self.metrics.truncated.inc()
            outcome = self.teams.send(body)
        except Exception as exc:  # noqa: BLE001 - the attempt must end with an outcome, whatever failed
            log.error("card for %r not built: %s", note.common_labels.get("alertname", "?"), type(exc).__name__)
        finally:
            self.ledger.finish(note.key, outcome.delivered, outcome)
        name = note.common_labels.get("alertname", "?")
        if outcome.delivered:
            self.metrics.sent.inc()
            log.info("card for %r (%s, %d alert(s)) delivered in %d attempt(s)", name, note.status,
                     len(note.alerts), outcome.attempts)
        else:
            self.metrics.failed.labels(outcome.reason).inc()
            log.error("card for %r (%s) not delivered: %s after %d attempt(s)", name, note.status, outcome.reason,
                      outcome.attempts)


class _DeadlineReader(io.RawIOBase):
    """A socket's reads, all of them ending by :attr:`until` (a monotonic time): a client dripping one byte at
    a time cannot hold its connection past it. ``on_expiry`` is called once when it passes."""

    def __init__(self, sock: socket.socket, seconds: float, on_expiry: Callable[[], None]):
        self._sock = sock
        self.until = time.monotonic() + seconds
        self._on_expiry: Callable[[], None] | None = on_expiry

    def readable(self) -> bool:
        return True

    def _expired(self) -> TimeoutError:
        if self._on_expiry:
            self._on_expiry()
            self._on_expiry = None
        return TimeoutError("client too slow")

    def readinto(self, buffer: Any) -> int:
        left = self.until - time.monotonic()
        if left <= 0:
            raise self._expired()
        self._sock.settimeout(left)
        try:
            return self._sock.recv_into(buffer)
        except TimeoutError:
            raise self._expired() from None


def make_handler(adapter: Adapter, max_body: int) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "trailwatch-adapter"
        sys_version = ""
        timeout = WRITE_SECONDS  # for answers; reads end by the request's deadline (_DeadlineReader)

        def setup(self) -> None:
            super().setup()
            self.rfile.close()
            self.reader = _DeadlineReader(self.connection, HEADER_SECONDS, self._too_slow)
            self.rfile = io.BufferedReader(self.reader)

        def _too_slow(self) -> None:
            adapter.metrics.rejected.labels("slow_client").inc()
            log.warning("request from %s cut off: not sent within its deadline", self.address_string())

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler's name
            log.debug("%s %r", self.address_string(), format % args)

        def _reply(self, status: int, word: str, content_type: str = "application/json",
                   body: bytes | None = None, headers: dict[str, str] | None = None) -> None:
            data = body if body is not None else json.dumps({"status": word}).encode("utf-8")
            try:
                self.connection.settimeout(WRITE_SECONDS)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                # Alertmanager gave up waiting (its webhook timeout); its retry gets the outcome instead.
                log.info("client %s left before the answer (%d %s)", self.address_string(), status, word)

        def _reject(self, status: int, reason: str, word: str) -> None:
            adapter.metrics.rejected.labels(reason).inc()
            log.warning("request from %s refused: %r", self.address_string(), word)
            self.close_connection = True
            self._reply(status, word)

        def _drain(self, length: int) -> None:
            """Read (and drop) a too-large body of moderate size, so the client reads the 413 instead of a
            reset connection; past :data:`DRAIN_LIMIT` the connection is simply closed after the answer."""
            left = length if length <= DRAIN_LIMIT else 0
            while left > 0:
                chunk = self.rfile.read(min(65536, left))
                if not chunk:
                    break
                left -= len(chunk)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path == "/healthz":
                self._reply(200, "ok")
            elif self.path == "/metrics":
                self._reply(200, "", CONTENT_TYPE_LATEST, generate_latest(adapter.metrics.registry))
            else:
                self._reply(404, "not found")

        def do_POST(self) -> None:  # noqa: N802
            if self.path != ADAPTER_ALERTS_PATH:
                self._reply(404, "not found")
                return
            if not adapter.authorized(self.headers.get("Authorization")):
                self._reject(401, "unauthorized", "unauthorized")
                return
            length = self.headers.get("Content-Length")
            if length is None or not length.isdigit():
                self._reject(411, "length_required", "Content-Length required")
                return
            if int(length) > max_body:
                self._drain(int(length))
                self._reject(413, "too_large", f"body larger than {max_body} bytes")
                return
            self.reader.until = time.monotonic() + BODY_SECONDS
            data = self.rfile.read(int(length))
            try:
                note = parse_notification(json.loads(data))
            except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
                self._reject(400, "invalid", "body is not JSON (or nested too deep)")
                return
            except PayloadError as exc:
                self._reject(400, "invalid", str(exc))
                return
            status, word, headers = adapter.handle(note)
            self._reply(status, word, headers=headers)

        def _not_allowed(self) -> None:
            self._reply(405, "method not allowed")

        do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _not_allowed  # noqa: N815

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], adapter: Adapter,
                 max_connections: int):
        self.adapter = adapter
        self._max_connections = max_connections
        self._active = 0
        self._changed = threading.Condition()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._changed:
            full = self._active >= self._max_connections
            self._active += not full
        if full:
            self._overloaded(request, client_address)
        else:
            super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._changed:
                self._active -= 1
                self._changed.notify_all()

    def _overloaded(self, request: socket.socket, client_address: Any) -> None:
        """503 with Retry-After from the accepting thread, without waiting on the client: what it has sent is
        read first (so closing does not reset the connection), never more."""
        self.adapter.metrics.rejected.labels("overloaded").inc()
        log.warning("request from %s refused: %d connections open", client_address[0], self._max_connections)
        try:
            request.setblocking(False)
            try:
                request.recv(65536)
            except OSError:
                pass
            request.sendall(_OVERLOADED)
        except OSError:
            pass
        self.shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One line instead of socketserver's traceback on stderr; the connection is closed unanswered."""
        log.error("request from %s failed: %s", client_address[0], sys.exc_info()[0].__name__)

    def drain(self, seconds: float) -> int:
        """After :meth:`shutdown` and :meth:`server_close` (nothing new is accepted): wait up to ``seconds`` for
        the deliveries in flight and the requests being answered; how many of them are left."""
        deadline = time.monotonic() + seconds
        attempts = self.adapter.ledger.drain(seconds)
        with self._changed:
            while self._active and self._changed.wait(max(0.0, deadline - time.monotonic())):
                pass
            return attempts + self._active


def serve(adapter: Adapter, host: str, port: int, max_body: int = DEFAULT_MAX_BODY,
          max_connections: int = MAX_CONNECTIONS) -> _Server:
    return _Server((host, port), make_handler(adapter, max_body), adapter, max_connections)
