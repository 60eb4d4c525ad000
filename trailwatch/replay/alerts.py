"""When a detection's alert rule would have fired and resolved, from its per-minute match counts.

This is the pipeline's own semantics (:mod:`trailwatch.readpath`, :mod:`trailwatch.render.rules`): the exporter
serves, at every scrape, the number of matching events whose event minute lies in the last ``W`` minutes (the
alert window); the rule fires while the max of that value over the last ``hold`` minutes reaches the threshold.
At minute ``t`` the window holds the minutes ``t - W + 1 .. t``, so the alert is active at ``t`` when some
``t'`` in ``t - hold .. t`` has ``sum(count[t' - W + 1 .. t']) >= threshold``. A threshold of N therefore means N
matching events within W minutes, wherever they fall in that window.

Times here are in **event time** (the minute of ``eventTime``), assuming every event is delivered within the
stack's ``deliveryLagToleranceMinutes``. Live, an alert starts when the event that completes the threshold has
been delivered and scraped (CloudTrail's delivery lag plus up to a scrape and an evaluation), and ends at the
same event-time bound as here (late events shorten the live alert, they never lengthen it).

The heartbeat detection alerts on absence, not on counts, and is not simulated here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Mapping


@dataclass(frozen=True)
class Alert:
    """One firing period: active from ``start`` (inclusive) until ``end`` (exclusive: the first
    minute it is no longer active), both in event time."""

    start: datetime
    end: datetime


def minute_time(key: str) -> datetime:
    """A ``YYYY-MM-DDTHH:MM`` minute key (the engine's) as an aware UTC datetime (fromisoformat: strptime cost
    a third of a second per million series entries)."""
    return datetime.fromisoformat(key).replace(tzinfo=timezone.utc)


def _qualifying(series: Mapping[datetime, float], window: timedelta, threshold: float) -> list[tuple[datetime, datetime]]:
    """Half-open intervals of minutes ``t`` whose window ``(t - W, t]`` holds at least ``threshold`` matches.

    The window sum only changes where a minute with matches enters (at ``m``) or leaves (at ``m + W``), so it
    is evaluated at those points only: linear in the number of minutes with matches."""
    counts = {m: v for m, v in series.items() if v > 0}
    points = sorted(set(counts) | {m + window for m in counts})
    minutes = sorted(counts)
    intervals: list[tuple[datetime, datetime]] = []
    total, enter, leave = 0.0, 0, 0
    for i, point in enumerate(points):
        while enter < len(minutes) and minutes[enter] <= point:
            total += counts[minutes[enter]]
            enter += 1
        while leave < enter and minutes[leave] + window <= point:
            total -= counts[minutes[leave]]
            leave += 1
        if total >= threshold and i + 1 < len(points):
            intervals.append((point, points[i + 1]))
    return intervals


def simulate_alerts(series: Mapping[datetime, float], window_minutes: int, threshold: float = 1,
                    hold_minutes: int = 0) -> list[Alert]:
    """Firing periods of the detection rule over a per-minute match series (minutes without matches may be
    absent or 0). ``hold_minutes``: the rule's ``max_over_time`` look-back, which keeps an alert active that
    long after its window drops below the threshold."""
    if window_minutes < 1:
        raise ValueError(f"window_minutes must be >= 1 (got {window_minutes})")
    if hold_minutes < 0:
        raise ValueError(f"hold_minutes must be >= 0 (got {hold_minutes})")
    hold = timedelta(minutes=hold_minutes)
    alerts: list[Alert] = []
    for start, end in _qualifying(series, timedelta(minutes=window_minutes), threshold):
        end += hold
        if alerts and start <= alerts[-1].end:
            alerts[-1] = Alert(alerts[-1].start, max(end, alerts[-1].end))
        else:
            alerts.append(Alert(start, end))
    return alerts
