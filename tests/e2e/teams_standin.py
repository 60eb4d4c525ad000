"""A Microsoft Teams stand-in: a real HTTP server on 127.0.0.1 (pytest-httpserver / werkzeug) that checks
every POST the way the receiving end would, records what arrived, and can be told to fail.

Two endpoints:

* ``workflow_url`` (native mode) plays a Teams Workflows "When a Teams webhook request is received" trigger.
  The ``sig`` query parameter is the credential (wrong or missing: 401, as Workflows answers). The body must be
  the message envelope ``{"type": "message", "attachments": [{"contentType":
  "application/vnd.microsoft.card.adaptive", "content": <AdaptiveCard>}]}``; the card must have
  ``type: AdaptiveCard``, a ``version`` Teams renders (1.0-1.5) and a non-empty ``body`` whose elements carry
  their required fields (TextBlock ``text``, Container ``items``, FactSet ``facts`` of title/value, ActionSet
  ``actions`` with ``Action.OpenUrl`` ``url``...); at most 28 KB (Teams' message limit). Accepted: 202.
* ``adapter_url`` (adapter mode) plays the Teams adapter's ``POST /alerts`` input: the body must be an
  Alertmanager webhook payload, version 4, with every field the webhook format defines (version, groupKey,
  truncatedAlerts, status, receiver, groupLabels, commonLabels, commonAnnotations, externalURL, alerts with
  status, labels, annotations, startsAt, endsAt, generatorURL, fingerprint). Accepted: 200.

An invalid request is answered 400 and kept in :attr:`TeamsStandIn.rejected`; tests assert that list is empty.

Faults: :meth:`fail_next` answers the next N valid requests with a status (500, 429...), :meth:`refuse_for`
stops listening for a while (connections refused) and listens again on the same port; :meth:`then_refuse_for`
starts such a refusal right after the queued faults. A request that arrives while the server is being stopped
for a refusal (it stops within half a second) has its connection dropped unanswered and is recorded with status
0: no request is ever answered during a refusal.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable
from urllib.parse import parse_qs

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
TEAMS_MAX_BYTES = 28 * 1024
SUPPORTED_CARD_VERSIONS = ("1.0", "1.1", "1.2", "1.3", "1.4", "1.5")
WORKFLOW_PATH = "/workflows/0123456789abcdef0123456789abcdef/triggers/manual/paths/invoke"
WORKFLOW_SIG = "trailwatch-e2e-signature"
CONNECTOR_PATH = "/trailwatch"
_FINGERPRINT = re.compile(r"[0-9a-f]{16}\Z")
logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log lines in test output

# Required fields per Adaptive Card element type (schema 1.5), for the element types Teams renders.
_ELEMENTS: dict[str, tuple[str, ...]] = {
    "TextBlock": ("text",), "RichTextBlock": ("inlines",), "Image": ("url",), "ImageSet": ("images",),
    "Media": ("sources",), "Container": ("items",), "ColumnSet": (), "Column": (), "FactSet": ("facts",),
    "ActionSet": ("actions",), "Table": (),
}
_ACTIONS: dict[str, tuple[str, ...]] = {"Action.OpenUrl": ("url",), "Action.Submit": (), "Action.ShowCard": ("card",),
                                        "Action.ToggleVisibility": ("targetElements",), "Action.Execute": ()}


@dataclass
class Delivery:
    """One POST that reached the stand-in."""

    received_at: float
    path: str
    kind: str  # "card" (native) or "webhook" (adapter)
    status: int  # what the stand-in answered
    payload: Any
    errors: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300

    # -- native cards ------------------------------------------------------------------------------------------
    @property
    def card(self) -> dict[str, Any]:
        return self.payload["attachments"][0]["content"]

    def texts(self) -> list[str]:
        """Every text in the card (TextBlocks and facts), in order."""
        out: list[str] = []

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                if node.get("type") == "TextBlock":
                    out.append(str(node.get("text", "")))
                if node.get("type") == "FactSet":
                    out.extend(f"{f.get('title')}: {f.get('value')}" for f in node.get("facts", []))
                for value in node.values():
                    if isinstance(value, (dict, list)):
                        walk(value)
            elif isinstance(node, list):
                for item in node:
                    walk(item)

        walk(self.card.get("body", []))
        return out

    @property
    def title(self) -> str:
        texts = self.texts()
        return texts[0] if texts else ""

    @property
    def text(self) -> str:
        return "\n".join(self.texts())


def _check_element(node: Any, where: str, errors: list[str]) -> None:
    if not isinstance(node, dict):
        errors.append(f"{where}: element is not an object")
        return
    kind = node.get("type")
    if kind not in _ELEMENTS:
        errors.append(f"{where}: unknown element type {kind!r}")
        return
    for key in _ELEMENTS[kind]:
        if key not in node:
            errors.append(f"{where} ({kind}): missing required '{key}'")
    if kind == "TextBlock" and not isinstance(node.get("text"), str):
        errors.append(f"{where} (TextBlock): 'text' must be a string")
    if kind == "Container":
        items = node.get("items")
        if not isinstance(items, list):
            errors.append(f"{where} (Container): 'items' must be a list")
        else:
            for i, item in enumerate(items):
                _check_element(item, f"{where}.items[{i}]", errors)
    if kind == "ColumnSet":
        for i, column in enumerate(node.get("columns", [])):
            for j, item in enumerate(column.get("items", []) if isinstance(column, dict) else []):
                _check_element(item, f"{where}.columns[{i}].items[{j}]", errors)
    if kind == "FactSet":
        facts = node.get("facts")
        if not isinstance(facts, list) or not facts:
            errors.append(f"{where} (FactSet): 'facts' must be a non-empty list")
        else:
            for i, fact in enumerate(facts):
                if not (isinstance(fact, dict) and isinstance(fact.get("title"), str)
                        and isinstance(fact.get("value"), str)):
                    errors.append(f"{where}.facts[{i}]: needs string 'title' and 'value'")
    if kind == "ActionSet":
        actions = node.get("actions")
        if not isinstance(actions, list) or not actions:
            errors.append(f"{where} (ActionSet): 'actions' must be a non-empty list")
        else:
            for i, action in enumerate(actions):
                atype = action.get("type") if isinstance(action, dict) else None
                if atype not in _ACTIONS:
                    errors.append(f"{where}.actions[{i}]: unknown action type {atype!r}")
                    continue
                for key in _ACTIONS[atype]:
                    if key not in action:
                        errors.append(f"{where}.actions[{i}] ({atype}): missing required '{key}'")


def validate_workflow_message(body: Any) -> list[str]:
    """Problems Teams Workflows would reject (or fail to render) in a posted message; empty if fine."""
    errors: list[str] = []
    if not isinstance(body, dict):
        return ["body is not a JSON object"]
    if body.get("type") != "message":
        errors.append(f"'type' must be 'message' (got {body.get('type')!r})")
    attachments = body.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        return errors + ["'attachments' must be a non-empty list"]
    for i, att in enumerate(attachments):
        where = f"attachments[{i}]"
        if not isinstance(att, dict):
            errors.append(f"{where}: not an object")
            continue
        if att.get("contentType") != ADAPTIVE_CARD:
            errors.append(f"{where}: contentType must be {ADAPTIVE_CARD} (got {att.get('contentType')!r})")
        card = att.get("content")
        if not isinstance(card, dict):
            errors.append(f"{where}: 'content' must be the Adaptive Card object")
            continue
        if card.get("type") != "AdaptiveCard":
            errors.append(f"{where}.content: 'type' must be 'AdaptiveCard' (got {card.get('type')!r})")
        if card.get("version") not in SUPPORTED_CARD_VERSIONS:
            errors.append(f"{where}.content: 'version' must be one of {', '.join(SUPPORTED_CARD_VERSIONS)} "
                          f"(got {card.get('version')!r})")
        content_body = card.get("body")
        if not isinstance(content_body, list) or not content_body:
            errors.append(f"{where}.content: 'body' must be a non-empty list")
        else:
            for j, element in enumerate(content_body):
                _check_element(element, f"{where}.content.body[{j}]", errors)
    return errors


def _is_time(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", value.replace("Z", "+00:00")))
        return True
    except ValueError:
        return False


def _str_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


def validate_webhook_v4(body: Any) -> list[str]:
    """Problems in an Alertmanager webhook payload (version 4); empty if fine."""
    if not isinstance(body, dict):
        return ["body is not a JSON object"]
    errors: list[str] = []
    if body.get("version") != "4":
        errors.append(f"'version' must be \"4\" (got {body.get('version')!r})")
    for key in ("groupKey", "receiver", "externalURL"):
        if not isinstance(body.get(key), str):
            errors.append(f"'{key}' must be a string")
    if not isinstance(body.get("truncatedAlerts"), int) or body.get("truncatedAlerts", -1) < 0:
        errors.append("'truncatedAlerts' must be a whole number >= 0")
    if body.get("status") not in ("firing", "resolved"):
        errors.append(f"'status' must be firing or resolved (got {body.get('status')!r})")
    for key in ("groupLabels", "commonLabels", "commonAnnotations"):
        if not _str_map(body.get(key)):
            errors.append(f"'{key}' must map strings to strings")
    alerts = body.get("alerts")
    if not isinstance(alerts, list) or not alerts:
        return errors + ["'alerts' must be a non-empty list"]
    for i, alert in enumerate(alerts):
        where = f"alerts[{i}]"
        if not isinstance(alert, dict):
            errors.append(f"{where}: not an object")
            continue
        if alert.get("status") not in ("firing", "resolved"):
            errors.append(f"{where}: 'status' must be firing or resolved")
        if not _str_map(alert.get("labels")) or "alertname" not in alert.get("labels", {}):
            errors.append(f"{where}: 'labels' must map strings to strings and hold alertname")
        if not _str_map(alert.get("annotations")):
            errors.append(f"{where}: 'annotations' must map strings to strings")
        for key in ("startsAt", "endsAt"):
            if not _is_time(alert.get(key)):
                errors.append(f"{where}: '{key}' must be an RFC 3339 time")
        if not isinstance(alert.get("generatorURL"), str):
            errors.append(f"{where}: 'generatorURL' must be a string")
        if not isinstance(alert.get("fingerprint"), str) or not _FINGERPRINT.match(alert.get("fingerprint", "")):
            errors.append(f"{where}: 'fingerprint' must be 16 hex digits")
    return errors


class TeamsStandIn:
    """The Teams side of the pipeline for tests: validates, records, and misbehaves on request."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        if host != "127.0.0.1":
            raise ValueError("the Teams stand-in listens on 127.0.0.1 only")
        self.server = HTTPServer(host=host, port=port, threaded=True)
        self.deliveries: list[Delivery] = []
        self.rejected: list[Delivery] = []
        self._faults: list[list[int]] = []  # [[status, remaining], ...]
        self._refuse_after_faults: float | None = None
        self._refusing = False  # set the moment a refusal is decided, cleared when listening again
        self._lock = threading.Lock()
        self._timers: list[threading.Timer] = []
        self.refusals: list[tuple[float, float]] = []  # (stopped at, listening again at)
        self.server.expect_request(WORKFLOW_PATH, method="POST").respond_with_handler(self._native)
        self.server.expect_request(CONNECTOR_PATH, method="POST").respond_with_handler(self._adapter)
        # Playing the adapter, it is scraped like one (adapter mode renders that job): an empty /metrics, so
        # the adapter's Teams-failure rule sees a healthy target and no failures.
        self.server.expect_request("/metrics", method="GET").respond_with_data("", content_type="text/plain")

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def start(self) -> "TeamsStandIn":
        if not self.server.is_running():
            self.server.start()
        return self

    def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        if self.server.is_running():
            self.server.stop()

    def __enter__(self) -> "TeamsStandIn":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def workflow_url(self) -> str:
        return self.server.url_for(WORKFLOW_PATH) + f"?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={WORKFLOW_SIG}"

    @property
    def adapter_url(self) -> str:
        return self.server.url_for(CONNECTOR_PATH)

    # -- faults ------------------------------------------------------------------------------------------------
    def fail_next(self, count: int, status: int) -> None:
        """Answer the next ``count`` valid requests with ``status`` (after any faults already queued)."""
        with self._lock:
            self._faults.append([status, count])

    def then_refuse_for(self, seconds: float) -> None:
        """Once the queued faults are all served, refuse connections for ``seconds`` (see :meth:`refuse_for`)."""
        if not 0 < seconds <= 600:
            raise ValueError("then_refuse_for: 0 < seconds <= 600")
        with self._lock:
            self._refuse_after_faults = seconds

    def pending_faults(self) -> int:
        with self._lock:
            return sum(n for _, n in self._faults)

    def refuse_for(self, seconds: float) -> None:
        """Stop listening now (connections refused) and listen again on the same port after ``seconds``."""
        if not 0 < seconds <= 600:
            raise ValueError("refuse_for: 0 < seconds <= 600")
        stopped = time.time()
        with self._lock:
            self._refusing = True
        if self.server.is_running():
            self.server.stop()

        def resume() -> None:
            self.server.start()
            with self._lock:
                self._refusing = False
            self.refusals.append((stopped, time.time()))

        timer = threading.Timer(seconds, resume)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    @property
    def listening(self) -> bool:
        return self.server.is_running()

    # -- handlers ----------------------------------------------------------------------------------------------
    def _drop_if_refusing(self, request: Request, kind: str) -> Response | None:
        """A request that slipped in while the server is being stopped for a refusal: drop the connection
        without an answer (what the client sees is a network error, like a refused connection)."""
        with self._lock:
            refusing = self._refusing
        if not refusing:
            return None
        with self._lock:  # recorded before the client can notice
            self.deliveries.append(Delivery(time.time(), request.path, kind, 0, None))
        sock = request.environ.get("werkzeug.socket")
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return Response("", status=503)  # never reaches the client: the connection is gone

    def _answer(self, request: Request, kind: str, validate: Callable[[Any], list[str]], ok: int) -> Response:
        dropped = self._drop_if_refusing(request, kind)
        if dropped is not None:
            return dropped
        errors: list[str] = []
        if request.mimetype != "application/json":
            errors.append(f"Content-Type must be application/json (got {request.content_type!r})")
        raw = request.get_data()
        if kind == "card" and len(raw) > TEAMS_MAX_BYTES:
            errors.append(f"message is {len(raw)} bytes; Teams accepts at most {TEAMS_MAX_BYTES}")
        try:
            payload = json.loads(raw)
        except ValueError as exc:
            payload, errors = None, errors + [f"body is not JSON ({exc})"]
        if payload is not None:
            errors += validate(payload)
        status = 400 if errors else ok
        if not errors:
            with self._lock:
                if self._faults:
                    status = self._faults[0][0]
                    self._faults[0][1] -= 1
                    if self._faults[0][1] <= 0:
                        self._faults.pop(0)
                    if not self._faults and self._refuse_after_faults:
                        seconds, self._refuse_after_faults = self._refuse_after_faults, None
                        self._refusing = True
                        # Not from this request's thread: stopping the server waits for its serving loop.
                        threading.Thread(target=self.refuse_for, args=(seconds,), daemon=True).start()
        delivery = Delivery(time.time(), request.path, kind, status, payload, errors)
        with self._lock:
            (self.rejected if errors else self.deliveries).append(delivery)
        body = json.dumps({"error": errors}) if errors else ""
        headers = {"Retry-After": "1"} if status == 429 else {}
        return Response(body, status=status, headers=headers, content_type="application/json")

    def _native(self, request: Request) -> Response:
        sig = parse_qs(request.query_string.decode()).get("sig", [None])[0]
        if sig != WORKFLOW_SIG:
            delivery = Delivery(time.time(), request.path, "card", 401, None, ["missing or wrong sig"])
            with self._lock:
                self.rejected.append(delivery)
            return Response('{"error": "DirectApiAuthorizationRequired"}', status=401, content_type="application/json")
        return self._answer(request, "card", validate_workflow_message, 202)

    def _adapter(self, request: Request) -> Response:
        return self._answer(request, "webhook", validate_webhook_v4, 200)

    # -- what arrived ------------------------------------------------------------------------------------------
    def accepted(self, kind: str | None = None) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if d.accepted and (kind is None or d.kind == kind)]

    def attempts(self) -> list[Delivery]:
        with self._lock:
            return list(self.deliveries)

    def wait_for(self, predicate: Callable[[list[Delivery]], Any], timeout: float, interval: float = 0.2) -> Any:
        """Poll ``predicate(accepted deliveries)`` until truthy; AssertionError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate(self.accepted())
            if value:
                return value
            if time.monotonic() >= deadline:
                raise AssertionError(f"Teams stand-in: condition not met within {timeout:g} s; accepted so far: "
                                     f"{[summary(d) for d in self.accepted()]}; rejected: "
                                     f"{[d.errors for d in self.rejected]}")
            time.sleep(interval)


def summary(delivery: Delivery) -> str:
    if delivery.kind == "card":
        return delivery.title
    p = delivery.payload
    return f"{p.get('status')} {p.get('groupLabels')} ({len(p.get('alerts', []))} alerts)"
