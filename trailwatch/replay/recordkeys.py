"""The keys a CloudTrail record is counted under: its minute, its principal, and the text of a field.

Both ways of counting a record agree on them because both call these: :class:`~.engine.Aggregator` on a
parsed record, :class:`~.linescan.LineScanner` on the members it captured from a line's bytes.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

SECONDS = frozenset(f"{s:02d}" for s in range(60))


def event_minute(t: Any, known: dict[str, bool]) -> str | None:
    """The minute key of an ``eventTime`` value: for CloudTrail's canonical ``YYYY-MM-DDTHH:MM:SSZ`` its
    first 16 characters, once ``known`` (a cache shared by the caller) says they are a real minute;
    anything else goes through :func:`minute_of`. The seconds are checked on every value, so the answer
    never depends on which record of a minute came first."""
    if type(t) is str and len(t) == 20 and t[19] == "Z" and t[16] == ":" and t[17:19] in SECONDS:
        key = t[:16]
        ok = known.get(key)
        if ok is None:
            ok = known[key] = minute_of(t) == key
        if ok:
            return key
    return minute_of(t)


def principal_of(rec: dict) -> str:
    """Who made the call, as the top-N counts it: ``userIdentity.arn``, else ``invokedBy``, else (none)."""
    ident = rec.get("userIdentity")
    if type(ident) is not dict:
        return "(none)"
    principal = ident.get("arn") or ident.get("invokedBy") or "(none)"
    return principal if type(principal) is str else str(principal)


def text_of(value: Any) -> str:
    """A top-N key for a field value: strings as they are, (none) for a missing or null field."""
    if type(value) is str:
        return value
    return "(none)" if value is None else str(value)


def minute_of(value: Any) -> str | None:
    """The UTC minute key ``YYYY-MM-DDTHH:MM`` of an ISO-8601 timestamp string, or None.

    Naive timestamps (no offset, e.g. ``2024-01-01 00:00:00``) are taken as UTC.
    """
    if type(value) is not str:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc)
    return parsed.strftime("%Y-%m-%dT%H:%M")
