"""A CloudWatch Logs endpoint on 127.0.0.1 (EMULATED) speaking the service's JSON protocol (``X-Amz-Target:
Logs_20140328.FilterLogEvents``), for a real boto3 client: the Teams adapter's enrichment in ``demo`` and in
the adapter's tests, with no AWS account.

Why not moto's server: moto's FilterLogEvents matches every event for JSON patterns, so a test could not
tell the detection's pattern from no pattern. Here the pattern is evaluated with trailwatch.filterpattern
(the engine the catalog tests check against AWS's documented examples); time range, pagination
(``nextToken``, a small page size so paging is exercised) and errors follow the API reference.

Faults: ``mode = "slow"`` sleeps ``delay`` seconds before answering, ``"throttled"`` answers
``ThrottlingException`` (HTTP 400), as the service does.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

from ..filterpattern import compile_pattern
from .loopback import LoopbackServer

TARGET = "Logs_20140328.FilterLogEvents"


class LogsEmulator(LoopbackServer):
    """Log groups of CloudTrail records in memory; :meth:`put` stores them, FilterLogEvents reads them."""

    def __init__(self, page_size: int = 3):
        self.page_size = page_size
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.requests: list[dict[str, Any]] = []
        self.mode = "ok"
        self.delay = 0.0
        super().__init__()

    @property
    def url(self) -> str:
        return self.base_url

    def put(self, log_group: str, records: list[dict[str, Any]], timestamp_ms: int | None = None) -> None:
        """Store CloudTrail records as log events, timestamped ``timestamp_ms`` (epoch milliseconds) or, by
        default, with their eventTime (what CloudTrail's delivery to CloudWatch Logs does)."""
        with self._lock:
            group = self.events.setdefault(log_group, [])
            for rec in records:
                ts = timestamp_ms if timestamp_ms is not None else int(
                    datetime.fromisoformat(rec["eventTime"].replace("Z", "+00:00")).timestamp() * 1000)
                group.append({"timestamp": ts, "message": json.dumps(rec)})
            group.sort(key=lambda e: e["timestamp"])

    def _filter(self, req: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        group = req.get("logGroupName")
        if group not in self.events:
            return 400, {"__type": "ResourceNotFoundException", "message": "The specified log group does not exist."}
        pattern = compile_pattern(req.get("filterPattern", ""))
        start, end = req.get("startTime", 0), req.get("endTime", 2 ** 62)
        matching = [e for e in self.events[group] if start <= e["timestamp"] <= end and pattern.matches(e["message"])]
        offset = int(req.get("nextToken") or 0)
        page = matching[offset:offset + self.page_size]
        body: dict[str, Any] = {"events": [{"logStreamName": "123456789012_CloudTrail_us-east-1",
                                            "timestamp": e["timestamp"], "message": e["message"],
                                            "ingestionTime": e["timestamp"], "eventId": f"{e['timestamp']}{i}"}
                                           for i, e in enumerate(page)], "searchedLogStreams": []}
        if offset + self.page_size < len(matching):
            body["nextToken"] = str(offset + self.page_size)
        return 200, body

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                req = json.loads(raw or b"{}")
                with emulator._lock:
                    emulator.requests.append({"target": self.headers.get("X-Amz-Target"), **req,
                                              "signed": "Signature=" in (self.headers.get("Authorization") or "")})
                    mode, delay = emulator.mode, emulator.delay
                if mode == "slow":
                    time.sleep(delay)
                if self.headers.get("X-Amz-Target") != TARGET:
                    status, body = 400, {"__type": "UnknownOperationException", "message": "not emulated"}
                elif mode == "throttled":
                    status, body = 400, {"__type": "ThrottlingException", "message": "Rate exceeded"}
                else:
                    status, body = emulator._filter(req)
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/x-amz-json-1.1")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeout test)

        return Handler
