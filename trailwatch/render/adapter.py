"""The Teams adapter's config file: everything it needs from the stack, derived from the catalog.

Pure: ``adapter_config(stack)`` is a dict, ``render_adapter_config(stack)`` its JSON text. The adapter never
sees the stack file or the catalog; it reads this file (a ConfigMap or a Docker upload: nothing in it is a
secret; the Workflows URL and the bearer token are separate files).
"""

from __future__ import annotations

import json
from typing import Any

from ..stack import Stack, event_detections, log_group_name

CONFIG_VERSION = 1
#: Bounds of one alert's FilterLogEvents enrichment: pages, events kept, seconds for all of it.
ENRICH_MAX_PAGES = 5
ENRICH_MAX_EVENTS = 200
ENRICH_BUDGET_SECONDS = 5
#: Delivery to Teams (retries included) must finish well before Alertmanager gives up on the webhook call.
DELIVERY_BUDGET_SECONDS = 20


def dedup_seconds(stack: Stack) -> int:
    """How long a delivered notification is remembered: longer than Alertmanager retries one notification
    (about a group_interval), shorter than its repeat_interval, whose reminders must post again."""
    s = stack.settings
    return max(60, min(2 * s.group_interval_seconds, s.repeat_interval_minutes * 60 - 60))


def adapter_config(stack: Stack) -> dict[str, Any]:
    """The adapter's config: where to read events and, per detection id, its title, filter pattern and the
    ``requestParameters`` members a card may show as an event's target. Version 1 still: ``target_parameters``
    is optional, so an adapter reads configs rendered before it (no targets) and an older adapter ignores it."""
    s = stack.settings
    return {
        "version": CONFIG_VERSION,
        "stack": stack.name,
        "region": s.region,
        "log_group": log_group_name(stack),
        "alert_window_seconds": s.alert_window_minutes * 60,
        "dedup_seconds": dedup_seconds(stack),
        "delivery_budget_seconds": min(DELIVERY_BUDGET_SECONDS, max(5, s.group_interval_seconds // 2)),
        "enrichment": {"max_pages": ENRICH_MAX_PAGES, "max_events": ENRICH_MAX_EVENTS,
                       "budget_seconds": ENRICH_BUDGET_SECONDS},
        "detections": {det.id: {"title": det.title, "severity": det.severity, "pattern": det.pattern,
                                "target_parameters": list(det.target_parameters)}
                       for det in event_detections(stack)},
    }


def render_adapter_config(stack: Stack) -> str:
    return json.dumps(adapter_config(stack), indent=2, sort_keys=True) + "\n"
