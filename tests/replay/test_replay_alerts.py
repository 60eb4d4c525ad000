"""Alert start/end on synthetic timelines with known answers, and against a brute-force evaluator of the
pipeline's rule: the exporter serves the sum of the minutes in (t-W, t]; the rule fires while the max of that
sum over the last ``hold`` minutes reaches the threshold."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replay_helpers import record
from trailwatch.replay import Alert, replay_records, simulate_alerts
from trailwatch.replay.engine import Rule

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def spans(alerts: list[Alert]) -> list[tuple[int, int]]:
    return [(int((a.start - T0).total_seconds() // 60), int((a.end - T0).total_seconds() // 60)) for a in alerts]


def test_one_event_fires_for_exactly_the_window():
    assert spans(simulate_alerts({at(5): 1}, 30)) == [(5, 35)]


def test_events_closer_than_the_window_make_one_alert():
    assert spans(simulate_alerts({at(0): 1, at(29): 1}, 30)) == [(0, 59)]


def test_touching_periods_merge_and_a_one_minute_gap_splits():
    # datapoint at 30 enters the window at t=30, exactly when the one at 0 leaves it: no gap
    assert spans(simulate_alerts({at(0): 1, at(30): 1}, 30)) == [(0, 60)]
    # at t=30 nothing is in (0, 30]: resolved for one minute, then a new alert
    assert spans(simulate_alerts({at(0): 1, at(31): 1}, 30)) == [(0, 30), (31, 61)]


def test_threshold_counts_events_over_the_window():
    # 2 + 2 events: the window reaches 3 at minute 1 and holds 4 until minute 0 leaves it (t = 30)
    series = {at(0): 2, at(1): 2, at(10): 2}
    assert spans(simulate_alerts(series, 30, threshold=3)) == [(1, 31)]
    assert spans(simulate_alerts(series, 30, threshold=7)) == []
    # one attempt a minute for 5 minutes reaches 5 at the fifth (the old per-minute rule never fired)
    steady = {at(m): 1 for m in range(5)}
    assert spans(simulate_alerts(steady, 30, threshold=5)) == [(4, 30)]
    # 4 in one minute and 1 in the next reach 5; spread over more than the window they do not
    assert spans(simulate_alerts({at(0): 4, at(1): 1}, 30, threshold=5)) == [(1, 30)]
    assert simulate_alerts({at(0): 4, at(30): 1}, 30, threshold=5) == []


def test_hold_extends_every_alert_and_bridges_short_gaps():
    assert spans(simulate_alerts({at(5): 1}, 30, hold_minutes=10)) == [(5, 45)]
    # resolved for 5 minutes without hold; one alert with a 10-minute hold
    assert spans(simulate_alerts({at(0): 1, at(35): 1}, 30)) == [(0, 30), (35, 65)]
    assert spans(simulate_alerts({at(0): 1, at(35): 1}, 30, hold_minutes=10)) == [(0, 75)]
    with pytest.raises(ValueError):
        simulate_alerts({at(0): 1}, 30, hold_minutes=-1)


def test_zeros_and_order_do_not_matter():
    assert spans(simulate_alerts({at(9): 1, at(0): 0, at(3): 0}, 10)) == [(9, 19)]
    assert simulate_alerts({}, 30) == []
    with pytest.raises(ValueError):
        simulate_alerts({at(0): 1}, 0)


def brute_force(series: dict[int, int], window: int, threshold: int, hold: int) -> list[tuple[int, int]]:
    if not series:
        return []

    def window_sum(t: int) -> int:
        return sum(v for m, v in series.items() if t - window < m <= t)

    active = []
    for t in range(min(series), max(series) + window + hold + 2):
        active.append((t, max(window_sum(u) for u in range(t - hold, t + 1)) >= threshold))
    out, start = [], None
    for t, on in active:
        if on and start is None:
            start = t
        elif not on and start is not None:
            out.append((start, t))
            start = None
    return out


@settings(max_examples=200, deadline=None)
@given(series=st.dictionaries(st.integers(0, 300), st.integers(0, 6), max_size=25),
       window=st.integers(1, 60), threshold=st.integers(1, 12), hold=st.integers(0, 12))
def test_agrees_with_brute_force_evaluation(series, window, threshold, hold):
    got = spans(simulate_alerts({at(m): v for m, v in series.items()}, window, threshold, hold))
    assert got == brute_force(series, window, threshold, hold)


def test_replay_end_to_end_on_a_synthetic_timeline():
    """Records -> per-minute Sum -> alerts, threshold 1 and 3, window 30; heartbeat never alerts."""
    denied = {"errorCode": "AccessDenied"}
    timeline = (
        [record("2024-05-01T10:00", s, **denied) for s in (1, 2)]  # 2 at 10:00
        + [record("2024-05-01T10:20", 0, **denied)]               # 1 at 10:20
        + [record("2024-05-01T11:05", s, **denied) for s in range(4)]  # 4 at 11:05
        + [record("2024-05-01T11:06", s) for s in range(3)]        # noise: matches only the heartbeat
    )
    rules = [Rule("denied", '{ $.errorCode = "AccessDenied" }'),
             Rule("denied3", '{ $.errorCode = "AccessDenied" }', threshold=3),
             Rule("beat", '{ $.eventVersion = "*" }', heartbeat=True)]
    report = replay_records(iter(timeline), rules, window_minutes=30)
    d1, d3, beat = (report.detections[k] for k in ("denied", "denied3", "beat"))
    assert d1.matches == d3.matches == 7 and beat.matches == 10
    assert [(a.start.strftime("%H:%M"), a.end.strftime("%H:%M")) for a in d1.alerts] == [("10:00", "10:50"),
                                                                                          ("11:05", "11:35")]
    # threshold 3 over the window: 10:00 (2) + 10:20 (1) reach it at 10:20 until 10:00 leaves at 10:30
    assert [(a.start.strftime("%H:%M"), a.end.strftime("%H:%M")) for a in d3.alerts] == [("10:20", "10:30"),
                                                                                          ("11:05", "11:35")]
    assert beat.alerts == []
    assert d1.peak_per_minute == 4 and d1.first.strftime("%H:%M") == "10:00" and d1.last.strftime("%H:%M") == "11:05"
    doc = report.to_dict()["detections"]["denied3"]
    assert doc["alerts"] == [{"start": "2024-05-01T10:20:00Z", "end": "2024-05-01T10:30:00Z"},
                             {"start": "2024-05-01T11:05:00Z", "end": "2024-05-01T11:35:00Z"}]
    assert doc["threshold"] == 3
    # the series another engineer feeds into the exporter emulator
    assert {m.strftime("%H:%M"): n for m, n in report.series["denied"].items()} == {"10:00": 2, "10:20": 1, "11:05": 4}
    assert {m.strftime("%H:%M"): n for m, n in report.datapoints("denied").items()} == {
        "10:00": 2, "10:20": 1, "11:05": 4, "11:06": 0}  # default_value 0 where records arrived
