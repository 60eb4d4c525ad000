"""When a detection's alert rule would have fired and resolved, from its per-minute Sum series.

The rendered Prometheus rule is ``sum(max_over_time(<series>[W])) >= threshold`` (``> 0`` when the
threshold is 1) with no ``for:``, over the gauge cloudwatch_exporter serves: one sample per CloudWatch
period (one minute) that has a datapoint, carrying the datapoint's own timestamp. At evaluation time
``t`` the range selector sees the samples with timestamps in ``(t - W, t]``, so the alert is active at
``t`` exactly when some minute ``m`` with ``Sum(m) >= threshold`` lies in that range, i.e. when
``m <= t < m + W``. The active time is the union of those half-open intervals; overlapping or touching
ones form one alert.

Times here are in **datapoint time** (the minute of ``eventTime``). The live pipeline is later:
CloudTrail delivers to CloudWatch Logs about 5 minutes after the call, cloudwatch_exporter reads
CloudWatch ``exporterDelaySeconds`` (600 s by default) behind real time, and Prometheus scrapes every
``scrapeIntervalSeconds``; the rule is evaluated every evaluation interval on top. A datapoint at
minute ``m`` therefore starts the live alert roughly at ``m`` + 5 min + exporter delay + scrape, while
it still leaves the window at ``m + W`` (the sample keeps its own timestamp), so the live alert lasts
correspondingly less than the span reported here. Prometheus 2.x range selectors also include the
left edge ``t - W``; 3.x does not (the half-open form above), which only matters at that exact instant.

Non-integral thresholds do not occur (the catalog requires a whole number >= 1); the heartbeat
detection alerts on absence, not on counts, and is not simulated here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Mapping


@dataclass(frozen=True)
class Alert:
    """One firing period: active from ``start`` (inclusive) until ``end`` (exclusive: the first
    minute it is no longer active), both in datapoint time."""

    start: datetime
    end: datetime


def simulate_alerts(series: Mapping[datetime, float], window_minutes: int, threshold: float = 1) -> list[Alert]:
    """Firing periods of ``max_over_time(series[window]) >= threshold`` over a per-minute series.

    ``series`` maps minute timestamps to the Sum datapoint of that minute (absent minutes have no
    datapoint; zeros may be present and never fire a threshold >= 1).
    """
    if window_minutes < 1:
        raise ValueError(f"window_minutes must be >= 1 (got {window_minutes})")
    window = timedelta(minutes=window_minutes)
    alerts: list[Alert] = []
    start = end = None
    for minute in sorted(m for m, value in series.items() if value >= threshold):
        if end is not None and minute <= end:  # overlaps or touches the current period
            end = minute + window
            continue
        if start is not None:
            alerts.append(Alert(start, end))
        start, end = minute, minute + window
    if start is not None:
        alerts.append(Alert(start, end))
    return alerts
