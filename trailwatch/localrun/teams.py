"""A Teams Workflows stand-in on 127.0.0.1 (EMULATED): accepts the adapter's posts the way a Workflows
"When a Teams webhook request is received" trigger does (202, body kept), so ``demo`` can show every card
without a Teams tenant. It keeps the exact bytes it received: they are what Teams would have been sent.
"""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable

from .loopback import LoopbackServer

#: Shaped like a Workflows trigger URL; the adapter accepts plain http only for loopback hosts.
PATH = "/workflows/trailwatch-demo/triggers/manual/paths/invoke"
MAX_BODY = 1 << 20


class TeamsSink(LoopbackServer):
    """Keeps every POST body in :attr:`bodies` (in arrival order) and calls ``on_post(body)`` for each."""

    def __init__(self, on_post: Callable[[bytes], None] | None = None):
        self.bodies: list[bytes] = []
        self.on_post = on_post
        self.last_post = time.time()  # when the last body arrived (start-up until then)
        super().__init__()

    @property
    def url(self) -> str:
        return self.base_url + PATH

    def _receive(self, body: bytes) -> None:
        with self._lock:
            self.bodies.append(body)
            self.last_post = time.time()
        if self.on_post is not None:
            self.on_post(body)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                if self.path != PATH or not 0 < length <= MAX_BODY:
                    self.send_response(404 if self.path != PATH else 413)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = self.rfile.read(length)
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                sink._receive(body)

        return Handler
