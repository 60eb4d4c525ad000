"""The CloudTrail events behind an alert: FilterLogEvents on the stack's log group with the detection's own
pattern, over the alert's window, within fixed bounds (pages, events, seconds).

Only :data:`ALLOWED_FIELDS` leave the log group: request parameters, response elements, session context
and everything else a CloudTrail record holds stay in CloudWatch Logs. A failure never raises: the result
says why details are missing, in words fit for the card.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from .webhook import scrub

#: (card name, path in the CloudTrail record). Nothing else is ever copied out of a log event.
ALLOWED_FIELDS = (
    ("eventTime", ("eventTime",)),
    ("eventName", ("eventName",)),
    ("eventSource", ("eventSource",)),
    ("eventID", ("eventID",)),
    ("principalType", ("userIdentity", "type")),
    ("principalArn", ("userIdentity", "arn")),
    ("invokedBy", ("userIdentity", "invokedBy")),
    ("sourceIPAddress", ("sourceIPAddress",)),
    ("userAgent", ("userAgent",)),
    ("recipientAccountId", ("recipientAccountId",)),
    ("awsRegion", ("awsRegion",)),
    ("errorCode", ("errorCode",)),
)
USER_AGENT_CHARS = 60
VALUE_CHARS = 256


@dataclass
class Enrichment:
    events: list[dict[str, str]] = field(default_factory=list)
    """Allow-listed fields of the matching events, oldest first (at most the configured maximum)."""
    complete: bool = True
    """False when a bound (pages, events, time) stopped the search: there may be more."""
    error: str | None = None
    """Why details are missing or partial, for the card; None when the search ran to its end."""

    def top(self, name: str, n: int = 3) -> list[tuple[str, int]]:
        return Counter(e[name] for e in self.events if e.get(name)).most_common(n)


def short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def _dig(record: Any, path: tuple[str, ...]) -> Any:
    for step in path:
        if not isinstance(record, dict):
            return None
        record = record.get(step)
    return record


def allowed_fields(message: str) -> dict[str, str] | None:
    """The allow-listed fields of one log event's message (a CloudTrail record), or None if it is not one."""
    try:
        record = json.loads(message)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    out = {}
    for name, path in ALLOWED_FIELDS:
        value = _dig(record, path)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            limit = USER_AGENT_CHARS if name == "userAgent" else VALUE_CHARS
            out[name] = short(scrub(str(value)), limit)
    return out


def _error_reason(exc: Exception) -> str:
    """Words for the card; never the exception text (it may carry request details)."""
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    if code in ("ThrottlingException", "Throttling", "TooManyRequestsException"):
        return "CloudWatch Logs throttled the request"
    if code in ("AccessDeniedException", "UnrecognizedClientException"):
        return f"not allowed to read the log group ({code})"
    if code == "ResourceNotFoundException":
        return "the log group does not exist"
    if code:
        return f"CloudWatch Logs answered {code}"
    name = type(exc).__name__
    if "Timeout" in name:
        return "CloudWatch Logs did not answer in time"
    if "Endpoint" in name or "Connection" in name:
        return "CloudWatch Logs could not be reached"
    if "Credential" in name:
        return "no AWS credentials available to the adapter"
    return f"the search failed ({name})"


def error_kind(reason: str) -> str:
    """A bounded metric label for a failure reason."""
    for word, kind in (("throttled", "throttled"), ("not allowed", "denied"), ("does not exist", "not_found"),
                       ("in time", "timeout"), ("reached", "unreachable"), ("credentials", "credentials")):
        if word in reason:
            return kind
    return "other"


def find_events(client: Any, log_group: str, pattern: str, start: datetime, end: datetime, *, max_pages: int,
                max_events: int, budget_seconds: float, clock: Callable[[], float] = time.monotonic) -> Enrichment:
    """FilterLogEvents pages until the end, ``max_pages``, ``max_events`` or ``budget_seconds``."""
    result = Enrichment()
    deadline = clock() + budget_seconds
    request: dict[str, Any] = {"logGroupName": log_group, "filterPattern": pattern,
                               "startTime": int(start.timestamp() * 1000), "endTime": int(end.timestamp() * 1000)}
    try:
        for _ in range(max_pages):
            page = client.filter_log_events(**request)
            for event in page.get("events", []):
                fields = allowed_fields(event.get("message", ""))
                if fields is not None:
                    result.events.append(fields)
            token = page.get("nextToken")
            if not token:
                break
            if len(result.events) >= max_events or clock() >= deadline:
                result.complete = False
                break
            request["nextToken"] = token
        else:
            result.complete = False
    except Exception as exc:  # noqa: BLE001 - any SDK or transport failure: the card goes out without details
        result.error = _error_reason(exc)
        result.complete = False
    if len(result.events) > max_events:
        result.events, result.complete = result.events[:max_events], False
    result.events.sort(key=lambda e: e.get("eventTime", ""))
    return result


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
