"""The read path's tolerance, proved on the model of :mod:`trailwatch.localrun.latency` (the emulators' own
CloudWatch and exporter code, a minimal Prometheus): every event delivered within the stack's tolerance is paged,
through any single failed scrape; the previous settings lose events delivered ~10 minutes late; and what happens
if CloudWatch aligned buckets to the period instead of the start time (the README's assumption)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stacks import make_stack

from trailwatch.localrun import (
    ExporterEmulator, FilterMetric, ManualClock, MetricStore, PromSide, detection_config, simulate,
)
from trailwatch.readpath import exception_guard_scrapes, exception_guard_seconds, lag_budget_seconds
from trailwatch.render import detection_hold, exporter_config

STACK = make_stack()
S = STACK.settings
NEW = detection_config(exporter_config(STACK)["metrics"][0])
NEW_PROM = PromSide(S.scrape_interval_seconds, S.scrape_interval_seconds, detection_hold(S), S.group_wait_seconds)
#: trailwatch's settings before the read path was made lag-tolerant.
OLD = detection_config({"period_seconds": 60, "range_seconds": 600, "delay_seconds": 600, "set_timestamp": True})
OLD_PROM = PromSide(60, 60, 30 * 60, 10)
HORIZON = 3 * 3600
HB = FilterMetric("CloudTrailMetrics", "CloudTrailEventCount", "cloudtrail_heartbeat", heartbeat=True)
TOLERANCE = S.delivery_lag_tolerance_minutes * 60


def test_the_shipped_settings_leave_a_margin_over_the_tolerance():
    budget = lag_budget_seconds(S.alert_window_minutes, S.exporter_delay_seconds, S.scrape_interval_seconds)
    assert (S.alert_window_minutes, S.delivery_lag_tolerance_minutes, budget) == (30, 25, 27 * 60)


@settings(max_examples=150, deadline=None)
@given(lag=st.floats(0, TOLERANCE), offset=st.floats(0, 59.9), scrape=st.floats(0, 59.9), evaluation=st.floats(0, 59.9),
       failed=st.integers(0, 40))
def test_every_event_within_the_tolerance_is_paged_even_with_one_failed_scrape(lag, offset, scrape, evaluation,
                                                                                failed):
    out = simulate(NEW, NEW_PROM, offset, lag, scrape, evaluation, horizon=HORIZON, failed_scrapes=frozenset({failed}))
    assert out.card_at is not None, f"lost: lag {lag:.0f} s, failed scrape #{failed}"
    # delivery + (filter) + one scrape (+ one if it failed) + an evaluation + group_wait + post
    assert out.card_at - (out.event_time + lag) <= 60 + 2 * 60 + 60 + S.group_wait_seconds + 1


def test_a_five_minute_outage_at_the_tolerated_lag_of_20_minutes_loses_nothing():
    arrives = 30 + 20 * 60
    for phase in (0, 17, 42, 59):
        first = math.ceil((arrives - phase) / 60)  # the first scrape that could see it, and the 4 after it
        out = simulate(NEW, NEW_PROM, 30, 20 * 60, phase, phase, horizon=HORIZON,
                       failed_scrapes=frozenset(range(first, first + 5)))
        assert out.card_at is not None, phase


def test_past_the_window_an_event_is_never_paged():
    # the window sum no longer holds the event's minute when it arrives: the staleness alert's job
    out = simulate(NEW, NEW_PROM, 30, (S.alert_window_minutes + 1) * 60, 5, 5, horizon=HORIZON)
    assert out.card_at is None


@pytest.mark.parametrize("lag_minutes", [12, 15, 20])
def test_the_previous_settings_never_page_an_event_delivered_more_than_ten_minutes_late(lag_minutes):
    for phase in (0, 20, 40):
        out = simulate(OLD, OLD_PROM, 30, lag_minutes * 60, phase, phase, horizon=HORIZON)
        assert out.card_at is None, (lag_minutes, phase)
    assert simulate(OLD, OLD_PROM, 30, 60, 0, 0, horizon=HORIZON).card_at is not None  # a prompt one is paged


def test_one_failed_scrape_loses_a_prompt_event_with_the_previous_settings_but_not_now():
    # the one scrape at which minute 0 is the newest datapoint (t = 600 + a few seconds) fails
    lost = simulate(OLD, OLD_PROM, 0, 30, 5, 5, horizon=HORIZON, failed_scrapes=frozenset({10}))
    assert lost.card_at is None
    kept = simulate(NEW, NEW_PROM, 0, 30, 5, 5, horizon=HORIZON, failed_scrapes=frozenset({1}))
    assert kept.card_at is not None


def test_if_buckets_were_aligned_to_the_period_late_events_near_a_bucket_end_would_be_lost():
    # The event's minute is the last of a 30-minute bucket counted from the epoch; it arrives 20 minutes late,
    # when the newest bucket (the one the exporter exports) no longer holds it. Start-aligned buckets page it.
    offset_minute = 29 * 60
    start_aligned = simulate(NEW, NEW_PROM, 30, 20 * 60, 5, 5, horizon=HORIZON)
    assert start_aligned.card_at is not None
    config = detection_config(exporter_config(STACK)["metrics"][0])
    shifted = simulate(config, NEW_PROM, 30, 20 * 60, 5, 5, horizon=HORIZON, alignment="period",
                       event_minute=offset_minute)
    assert shifted.card_at is None


def heartbeat_read(lag_minutes: float) -> float | None:
    """The heartbeat's window sum at a scrape when every region delivers ``lag_minutes`` late."""
    heartbeat = next(m for m in exporter_config(STACK)["metrics"] if m["aws_metric_name"] == "CloudTrailEventCount")
    store = MetricStore([HB], origin=0)
    store.steady_traffic(-6 * 3600, 20, lag=lag_minutes * 60)
    clock = ManualClock(3 * 3600 + 7)
    emulator = ExporterEmulator({"metrics": [{**heartbeat, "aws_namespace": HB.namespace}]}, store, clock)
    ((_, point),) = emulator.read_all(clock.now())
    return None if point is None else point.sum


def test_delivery_that_keeps_flowing_later_than_the_heartbeat_window_empties_it():
    # The heartbeat rule fires on an empty window (absent series): late delivery pages, not only a stop.
    window = S.heartbeat_missing_minutes
    assert heartbeat_read(0) == 20 * window          # every minute of the window delivered
    assert heartbeat_read(S.delivery_lag_tolerance_minutes - 5) > 0
    assert heartbeat_read(window) is None            # nothing with an event time in the window has arrived
    assert heartbeat_read(window + 10) is None


TUNED_PROM = PromSide(S.scrape_interval_seconds, S.scrape_interval_seconds, detection_hold(S), S.group_wait_seconds,
                      guard=exception_guard_seconds(S.scrape_interval_seconds))


@settings(max_examples=150, deadline=None)
@given(lag=st.floats(0, TOLERANCE), offset=st.floats(0, 59.9), scrape=st.floats(0, 59.9), evaluation=st.floats(0, 59.9),
       failed=st.integers(0, 40))
def test_a_tuned_detection_still_pages_every_event_within_the_tolerance(lag, offset, scrape, evaluation, failed):
    """With exceptions, the rule pages once the guard's scrapes in a row saw the event: check_guard keeps the
    default tolerance, at the cost of the guard's extra scrapes (one failed scrape is bridged by the lookback)."""
    out = simulate(NEW, TUNED_PROM, offset, lag, scrape, evaluation, horizon=HORIZON,
                   failed_scrapes=frozenset({failed}))
    assert out.card_at is not None, f"lost: lag {lag:.0f} s, failed scrape #{failed}"
    guard_extra = (exception_guard_scrapes(S.scrape_interval_seconds) - 1) * S.scrape_interval_seconds
    assert out.card_at - (out.event_time + lag) <= 60 + 2 * 60 + guard_extra + 60 + 60 + S.group_wait_seconds + 1


def test_the_guard_delays_a_tuned_page_by_its_extra_scrapes_and_no_more():
    plain = simulate(NEW, NEW_PROM, 30, 300, 10, 20, horizon=HORIZON)
    tuned = simulate(NEW, TUNED_PROM, 30, 300, 10, 20, horizon=HORIZON)
    extra = (exception_guard_scrapes(S.scrape_interval_seconds) - 1) * S.scrape_interval_seconds
    assert plain.card_at is not None and tuned.card_at is not None
    assert extra <= tuned.card_at - plain.card_at <= extra + S.scrape_interval_seconds


def test_a_steady_stream_of_only_excepted_events_never_shows_a_difference():
    """The read-path model for two metrics: every 20 s an excepted event, each with its own delivery lag (the
    bench's log-normal), counted by the detection's filter and by the exception's (published together, as the
    model has it). The exporter computes both windows from one ``now`` and reads the matches first; the
    exception's read may come up to two seconds later. ``matches - excepted`` is never above 0, at any scrape."""
    import random

    rng = random.Random(7)
    matches = FilterMetric("CloudTrailMetrics", "IAMPolicyChanges", "iam_policy_changes")
    excepted = FilterMetric("CloudTrailMetrics", "IAMPolicyChangesExcepted0ae71890", "iam_policy_changes-x-0ae71890")
    store = MetricStore([matches, excepted], origin=0, filter_latency=60)
    store.steady_traffic(-3600, 20)
    for second in range(0, 3 * 3600, 20):
        lag = rng.lognormvariate(math.log(300), 0.65)
        store.record_minute(second // 60 * 60, 1, {matches.detection_id: 1, excepted.detection_id: 1},
                            ingested_at=second + lag)
    read = exporter_config(STACK)["metrics"][0]
    period, span, delay = read["period_seconds"], read["range_seconds"], read["delay_seconds"]

    def window_sum(f: FilterMetric, at: float, now: float) -> float:
        points = store.get_metric_statistics(f.namespace, f.metric, now - delay - span, now - delay, period, at)
        return max(points, key=lambda p: p.timestamp).sum if points else 0.0

    differences = []
    for scrape in range(0, 4 * 3600, 60):
        now = scrape + rng.uniform(0, 60)
        differences.append(window_sum(matches, now, now) - window_sum(excepted, now + rng.uniform(0, 2), now))
    assert max(differences) <= 0 and min(differences) > -5  # never a page; at most a moment's undercount
    assert sum(d < 0 for d in differences) < len(differences) // 10
