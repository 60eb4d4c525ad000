"""The adapter's HTTP server: ``POST /alerts`` (Alertmanager webhook v4, bearer token), ``GET /metrics``,
``GET /healthz``; every other path is 404, every other method 405.

Answers to Alertmanager: 200 when the card reached Teams (or this notification already had: a retry),
502 when Teams finally refused it or could not be reached (Alertmanager retries and counts a failure),
503 when another attempt of the same notification is still delivering, 400/401/411/413 for bad requests.
Bodies are short fixed words: never the Workflows URL, the token or an exception's text.
"""

from __future__ import annotations

import hmac
import json
import logging
import sys
import time
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from . import ALERTS_PATH
from .card import fitted, is_pipeline
from .config import AdapterConfig
from .delivery import Teams
from .enrich import Enrichment, error_kind, find_events, utcnow
from .webhook import Alert, DeliveryLedger, Notification, PayloadError, parse_notification

log = logging.getLogger("trailwatch.adapter")
DEFAULT_MAX_BODY = 1024 * 1024
DRAIN_LIMIT = 8 * 1024 * 1024
NOTIFICATION_RESULTS = ("delivered", "duplicate", "failed", "busy")
REJECTION_REASONS = ("unauthorized", "length_required", "too_large", "invalid")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.notifications = Counter("trailwatch_adapter_notifications", "Alertmanager notifications handled, by "
                                     "result (delivered, duplicate, failed, busy).", ["result"], registry=r)
        self.sent = Counter("trailwatch_adapter_cards_sent", "Cards Teams accepted.", registry=r)
        self.failed = Counter("trailwatch_adapter_cards_failed", "Cards Teams finally refused or never received, "
                              "by reason (http_<status>, unreachable, timeout).", ["reason"], registry=r)
        self.truncated = Counter("trailwatch_adapter_cards_truncated", "Cards shortened to fit 28 KB.", registry=r)
        self.retries = Counter("trailwatch_adapter_teams_retries", "Retried posts to Teams, by reason.", ["reason"],
                               registry=r)
        self.rejected = Counter("trailwatch_adapter_requests_rejected", "Requests refused, by reason.", ["reason"],
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

    def __repr__(self) -> str:
        return "Adapter(<secrets hidden>)"

    def authorized(self, header: str | None) -> bool:
        return hmac.compare_digest((header or "").encode("utf-8", "replace"), self._expected)

    def _enrich(self, alert: Alert, now: datetime) -> Enrichment | None:
        if alert.status != "firing" or is_pipeline(alert):
            return None
        det = self.config.detections.get(alert.labels.get("detection", ""))
        if det is None:
            return Enrichment(complete=False, error="this detection is not in the adapter's config")
        start = alert.starts_at - timedelta(seconds=self.config.alert_window_seconds)
        began = time.monotonic()
        found = find_events(self.logs, self.config.log_group, det.pattern, start, now,
                            max_pages=self.config.max_pages, max_events=self.config.max_events,
                            budget_seconds=self.config.enrich_budget_seconds)
        self.metrics.enrich_seconds.observe(time.monotonic() - began)
        if found.error:
            self.metrics.enrich_errors.labels(error_kind(found.error)).inc()
            log.warning("enrichment for detection %s failed: %s", alert.labels.get("detection"), found.error)
        return found

    def handle(self, note: Notification) -> tuple[int, str]:
        claim = self.ledger.claim(note.key, wait=self.config.delivery_budget_seconds)
        if claim != "new":
            self.metrics.notifications.labels(claim).inc()
            log.info("notification %s for %s: %s, no new card", note.key[:12], note.group_key[:80], claim)
            return (200, "duplicate") if claim == "duplicate" else (503, "busy")
        delivered = False
        try:
            now = self._clock()
            found = {a.fingerprint: self._enrich(a, now) for a in note.alerts}
            body = fitted(note, found, now, self.config.region)
            if b"28 KB limit" in body:
                self.metrics.truncated.inc()
            outcome = self.teams.send(body)
            delivered = outcome.delivered
        finally:
            self.ledger.finish(note.key, delivered)
        if delivered:
            self.metrics.sent.inc()
            self.metrics.notifications.labels("delivered").inc()
            log.info("card for %s (%s, %d alert(s)) delivered in %d attempt(s)", note.common_labels.get(
                "alertname", "?"), note.status, len(note.alerts), outcome.attempts)
            return 200, "delivered"
        self.metrics.failed.labels(outcome.reason).inc()
        self.metrics.notifications.labels("failed").inc()
        log.error("card for %s (%s) not delivered: %s after %d attempt(s)", note.common_labels.get("alertname", "?"),
                  note.status, outcome.reason, outcome.attempts)
        return 502, f"teams delivery failed: {outcome.reason}"


def make_handler(adapter: Adapter, max_body: int) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "trailwatch-adapter"
        sys_version = ""
        timeout = 15  # a client that stops sending mid-request does not hold a thread

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - BaseHTTPRequestHandler's name
            log.debug("%s %s", self.address_string(), format % args)

        def _reply(self, status: int, word: str, content_type: str = "application/json",
                   body: bytes | None = None) -> None:
            data = body if body is not None else json.dumps({"status": word}).encode("utf-8")
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                # Alertmanager gave up waiting (its webhook timeout); its retry gets the outcome instead.
                log.info("client %s left before the answer (%d %s)", self.address_string(), status, word)

        def _reject(self, status: int, reason: str, word: str) -> None:
            adapter.metrics.rejected.labels(reason).inc()
            log.warning("request from %s refused: %s", self.address_string(), word)
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
            if self.path != ALERTS_PATH:
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
            try:
                note = parse_notification(json.loads(self.rfile.read(int(length))))
            except ValueError:
                self._reject(400, "invalid", "body is not JSON")
                return
            except PayloadError as exc:
                self._reject(400, "invalid", str(exc))
                return
            status, word = adapter.handle(note)
            self._reply(status, word)

        def _not_allowed(self) -> None:
            self._reply(405, "method not allowed")

        do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _not_allowed  # noqa: N815

    return Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One line instead of socketserver's traceback on stderr; the connection is closed unanswered."""
        log.error("request from %s failed: %s", client_address[0], sys.exc_info()[0].__name__)


def serve(adapter: Adapter, host: str, port: int, max_body: int = DEFAULT_MAX_BODY) -> ThreadingHTTPServer:
    server = _Server((host, port), make_handler(adapter, max_body))
    return server
