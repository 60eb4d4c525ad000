"""The CloudTrail events behind an alert: FilterLogEvents on the stack's log group with the detection's own
pattern, over a stated window, within fixed bounds (pages, events, seconds).

Only :data:`ALLOWED_FIELDS` and the detection's own target members (:mod:`.targets`: names and ids from
``requestParameters``) leave the log group: policy documents, response elements, session context and
everything else a CloudTrail record holds stay in CloudWatch Logs. The result says which window it searched
and, when a bound stopped it early, how far it got, so a card's count says what it counts. A failure never
raises: the result says why details are missing, in words fit for the card.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

from .targets import dig, target_values
from .webhook import scrub

#: (card name, path in the CloudTrail record). Nothing else is ever copied out of a log event, but for the
#: detection's target members (card name ``target``).
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
#: The card's words for a search that did not end within its time.
LATE = "CloudWatch Logs did not answer in time"
VALUE_CHARS = 256


@dataclass
class Enrichment:
    events: list[dict[str, str]] = field(default_factory=list)
    """Allow-listed fields of the matching events, oldest first (at most the configured maximum)."""
    complete: bool = True
    """False when a bound (pages, events, time) or a failure stopped the search: there may be more."""
    error: str | None = None
    """Why details are missing or partial, for the card; None when the search ran to its end."""
    start: datetime | None = None
    """The window searched (log event times, FilterLogEvents' startTime and endTime); None: no search ran."""
    end: datetime | None = None
    reached: datetime | None = None
    """When the search stopped early: the newest log event time it read (its events cover start..reached)."""
    stopped_by: str | None = None
    """Which bound stopped the search early, in words (a failure is :attr:`error`)."""

    def top(self, name: str, n: int = 3) -> list[tuple[str, int]]:
        return Counter(e[name] for e in self.events if e.get(name)).most_common(n)


def short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def allowed_fields(message: str, targets: Sequence[str] = ()) -> dict[str, str] | None:
    """The allow-listed fields of one log event's message (a CloudTrail record), or None if it is not one;
    ``target`` holds the ``targets`` members it names (``member: value``, '; '-joined), if any."""
    try:
        record = json.loads(message)
    except (ValueError, RecursionError):
        return None
    if not isinstance(record, dict):
        return None
    out = {}
    for name, path in ALLOWED_FIELDS:
        value = dig(record, path)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            limit = USER_AGENT_CHARS if name == "userAgent" else VALUE_CHARS
            out[name] = short(scrub(str(value)), limit)
    named = target_values(record.get("requestParameters"), targets)
    if named:
        out["target"] = short("; ".join(f"{member}: {value}" for member, value in named), VALUE_CHARS)
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
        return LATE
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
                max_events: int, budget_seconds: float, targets: Sequence[str] = (),
                clock: Callable[[], float] = time.monotonic) -> Enrichment:
    """FilterLogEvents pages until the end, ``max_pages``, ``max_events`` or ``budget_seconds``; ``targets``
    are the detection's target members (:func:`allowed_fields`)."""
    result = Enrichment(start=start, end=end)
    found: list[tuple[int, dict[str, str]]] = []  # (log event time in ms, fields), in the order read
    deadline = clock() + budget_seconds
    request: dict[str, Any] = {"logGroupName": log_group, "filterPattern": pattern,
                               "startTime": _ms(start), "endTime": _ms(end)}
    try:
        for _ in range(max_pages):
            page = client.filter_log_events(**request)
            for event in page.get("events", []):
                fields = allowed_fields(event.get("message", ""), targets)
                if fields is not None:
                    found.append((_stamp(event, start), fields))
            token = page.get("nextToken")
            if not token:
                break
            if len(found) >= max_events:
                result.stopped_by = f"the {max_events}-event limit"
                break
            if clock() >= deadline:
                result.stopped_by = "the enrichment time limit"
                break
            request["nextToken"] = token
        else:
            result.stopped_by = f"the {max_pages}-page limit"
    except Exception as exc:  # noqa: BLE001 - any SDK or transport failure: the card goes out without details
        result.error = _error_reason(exc)
    if len(found) > max_events:
        found, result.stopped_by = found[:max_events], f"the {max_events}-event limit"
    if result.error or result.stopped_by:
        result.complete = False
        result.reached = datetime.fromtimestamp(max((ms for ms, _ in found), default=_ms(start)) / 1000, timezone.utc)
    result.events = sorted((fields for _, fields in found), key=lambda e: e.get("eventTime", ""))
    return result


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def _stamp(event: dict[str, Any], default: datetime) -> int:
    """A FilterLogEvents event's time (epoch ms), or ``default``'s when it carries none."""
    stamp = event.get("timestamp")
    return stamp if isinstance(stamp, int) and not isinstance(stamp, bool) else _ms(default)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
