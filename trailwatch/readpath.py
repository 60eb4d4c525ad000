"""The read path from CloudWatch to Prometheus: how the exporter must read so that no delivered event is lost.

cloudwatch_exporter exports only the NEWEST datapoint of each GetMetricStatistics answer over
``[now - delay - range, now - delay)``. Read per minute (period 60), a minute whose event CloudTrail delivers
after that minute's one "newest" scrape is never exported, and one failed scrape loses a minute.

trailwatch therefore reads every detection as a **sliding-window sum**: ``period_seconds`` = the alert window
W, ``range_seconds`` = W - 60, ``set_timestamp: false``. GetMetricStatistics rounds StartTime down to the whole
minute and aggregates in Period-long buckets counted from there (AWS API reference, GetMetricStatistics), so a
query range shorter than one period yields exactly ONE datapoint: the Sum of every matching event ingested so
far whose event minute lies in the last W minutes, however late it arrived. Every scrape re-reads the whole
window: a failed scrape loses nothing, and ``threshold`` means "N matching events within W".

What is guaranteed (all in seconds; f = ``FILTER_LATENCY_SECONDS``, i = the scrape interval, d = the delay):
an event delivered L after its event time is counted by at least one successful scrape when
``L + (time without a successful scrape) <= W - 60 + d - f - i`` (:func:`lag_budget_seconds`). The stack's
``deliveryLagToleranceMinutes`` must fit in that budget; the rest is the outage the path absorbs at that lag.

Assumptions AWS does not document (docs/read-path.md, with commands to check them):

* Buckets of a period >= 60 s start at the rounded StartTime, not at multiples of the period. If CloudWatch
  aligned them to the period instead, a query would straddle two buckets and the exporter would export the
  newer, partial one: events would then be seen only while their own bucket is the newest (a tolerance anywhere
  between 0 and W). The heartbeat alert still fires when the whole read path goes blind.
* A metric-filter datapoint carries the log event's timestamp (CloudTrail's event time). If it carried the
  ingestion time instead, every event would land in the newest minute and be read at once (nothing lost), and
  the staleness alert would only see a total stop.

The heartbeat (every CloudTrail record) is read the same way over ``heartbeatMissingMinutes``: its window sum
is 0 exactly when no record with an event time in that window has been delivered, i.e. when the newest
delivered event is older than the window: delivery stopped, or flows later than the window.
"""

from __future__ import annotations

from .errors import ConfigError

#: Log event ingested -> metric-filter datapoint visible to GetMetricStatistics (budgeted, not documented).
FILTER_LATENCY_SECONDS = 60
#: CloudWatch's granularity for metric-filter metrics (standard resolution) and GetMetricStatistics rounding.
MINUTE = 60
#: Detection alerts take the max over this many scrapes: a firing alert survives an exporter outage of up to
#: this many missed scrapes without resolving and firing again (which would post a second card).
DETECTION_HOLD_SCRAPES = 10
#: The heartbeat alert waits this many scrapes (a fresh Prometheus evaluates before its first scrape; one
#: failed scrape marks the series stale).
HEARTBEAT_FOR_SCRAPES = 3
#: ``up == 0`` must hold this many scrapes before the exporter counts as down.
EXPORTER_DOWN_FOR_SCRAPES = 5
#: Never hold for less than this (Prometheus may start scraping a few seconds late).
MIN_HOLD_SECONDS = 30


def window_read(window_minutes: int, delay_seconds: int) -> dict[str, int | bool]:
    """The exporter's read of one sliding-window sum (the keys of a cloudwatch_exporter metric entry)."""
    period = window_minutes * MINUTE
    return {"period_seconds": period, "range_seconds": period - MINUTE, "delay_seconds": delay_seconds,
            "set_timestamp": False}


def lag_budget_seconds(window_minutes: int, delay_seconds: int, scrape_interval_seconds: int) -> int:
    """The longest delivery lag plus read outage for which an event still reaches a successful scrape."""
    return window_minutes * MINUTE - MINUTE + delay_seconds - FILTER_LATENCY_SECONDS - scrape_interval_seconds


def hold_seconds(scrapes: int, scrape_interval_seconds: int) -> int:
    return max(MIN_HOLD_SECONDS, scrapes * scrape_interval_seconds)


def exception_guard_scrapes(scrape_interval_seconds: int) -> int:
    """How many consecutive scrapes a tuned detection's ``matches - excepted`` must hold before it pages.

    The two counts come from different metric filters and different GetMetricStatistics calls. Within one
    scrape, cloudwatch_exporter computes every rule's window from one ``now`` (``CloudWatchCollector.scrape``)
    and reads the rules in config order, where each detection's matches come before its exceptions: the
    excepted count is read later over the same window, so it can only hold *more* of what matches holds, and
    ``matches - excepted`` never exceeds the true count. That holds under this module's model, in which an
    event's datapoints in all the log group's filters become visible together (``FILTER_LATENCY_SECONDS``
    after ingestion).

    AWS does not document that the filters publish together. The guard is the defence if they do not: an
    excepted event's two datapoints then become visible up to ``FILTER_LATENCY_SECONDS`` apart, so at most
    ``ceil(f / i)`` scrapes, plus one whose two reads straddle the later one, see it in ``matches`` only;
    requiring one scrape more than that keeps a burst of excepted events (a deploy) from paging. A steady
    stream of excepted events published apart would keep the difference up and page: noise, never a missed
    event. The guard costs a real match ``guard - 1`` scrapes of delay."""
    return -(-FILTER_LATENCY_SECONDS // scrape_interval_seconds) + 2


def exception_guard_seconds(scrape_interval_seconds: int) -> int:
    """The guard as the range of the rule's ``min_over_time`` subquery (one point per scrape interval)."""
    return exception_guard_scrapes(scrape_interval_seconds) * scrape_interval_seconds


def check_guard(window_minutes: int, tolerance_minutes: int, delay_seconds: int, scrape_interval_seconds: int) -> None:
    """With exceptions, a late event must be seen by the guard's scrapes, not just by one: that many more
    scrapes minus one must fit in the lag budget beside the tolerance. Raise :class:`ConfigError` otherwise."""
    extra = (exception_guard_scrapes(scrape_interval_seconds) - 1) * scrape_interval_seconds
    budget = lag_budget_seconds(window_minutes, delay_seconds, scrape_interval_seconds) - extra
    if budget < tolerance_minutes * MINUTE:
        shortfall = -(-(tolerance_minutes * MINUTE - budget) // MINUTE)
        raise ConfigError(
            f"config 'trailwatch:deliveryLagToleranceMinutes': {tolerance_minutes} min cannot be honoured once "
            f"exceptions apply (a tuned detection pages only when {exception_guard_scrapes(scrape_interval_seconds)} "
            f"scrapes in a row see the event): set alertWindowMinutes to at least {window_minutes + shortfall} or "
            f"lower the tolerance to {tolerance_minutes - shortfall}")


def detection_hold_seconds(scrape_interval_seconds: int) -> int:
    """No floor here: the hold only bridges failed scrapes, it is not about a fresh Prometheus."""
    return DETECTION_HOLD_SCRAPES * scrape_interval_seconds


def heartbeat_for_seconds(scrape_interval_seconds: int) -> int:
    return hold_seconds(HEARTBEAT_FOR_SCRAPES, scrape_interval_seconds)


def exporter_down_for_seconds(scrape_interval_seconds: int) -> int:
    return hold_seconds(EXPORTER_DOWN_FOR_SCRAPES, scrape_interval_seconds)


def check(window_minutes: int, tolerance_minutes: int, heartbeat_minutes: int, delay_seconds: int,
          scrape_interval_seconds: int) -> None:
    """Raise :class:`ConfigError` when the settings cannot honour the delivery-lag tolerance."""
    fixed = FILTER_LATENCY_SECONDS + MINUTE
    budget = lag_budget_seconds(window_minutes, delay_seconds, scrape_interval_seconds)
    if budget < tolerance_minutes * MINUTE:
        needed = -(-(tolerance_minutes * MINUTE + fixed + scrape_interval_seconds - delay_seconds) // MINUTE)
        raise ConfigError(
            f"config 'trailwatch:deliveryLagToleranceMinutes': {tolerance_minutes} min cannot be honoured: "
            f"alertWindowMinutes ({window_minutes}) - 2 min + exporterDelaySeconds - scrapeIntervalSeconds leaves "
            f"{max(budget, 0) / MINUTE:g} min; set alertWindowMinutes to at least {needed} or lower the tolerance")
    if lag_budget_seconds(heartbeat_minutes, delay_seconds, scrape_interval_seconds) < MINUTE:
        least = -(-(MINUTE + fixed + scrape_interval_seconds - delay_seconds) // MINUTE)
        raise ConfigError(f"config 'trailwatch:heartbeatMissingMinutes': must be at least {least} with these "
                          f"timings (got {heartbeat_minutes}) or the heartbeat alert fires while CloudTrail is fine")
    if heartbeat_minutes > window_minutes:
        raise ConfigError(f"config 'trailwatch:heartbeatMissingMinutes': must not exceed alertWindowMinutes "
                          f"({heartbeat_minutes} > {window_minutes}): late delivery must page before events can "
                          f"fall out of the detections' window")
