"""The HTML report's chart data: bin widths by span, and per bin the matches, the most matches in one alert
window and the alert periods, checked against brute-force evaluation minute by minute."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trailwatch.replay import simulate_alerts
from trailwatch.replay.chartdata import MAX_BINS, alert_runs, bin_detection, choose_bins
from trailwatch.replay.report import DetectionReport

T0 = datetime(2024, 5, 1, 10, 7, tzinfo=timezone.utc)  # not on any bin boundary
MINUTE = timedelta(minutes=1)


@pytest.mark.parametrize(("span", "label"), [
    (timedelta(hours=6), "minute"), (timedelta(days=1), "10 minutes"), (timedelta(days=7), "hour"),
    (timedelta(days=366), "day"), (timedelta(days=5 * 365), "week"), (timedelta(days=20 * 365), "3 weeks"),
])
def test_bins_are_the_finest_that_cover_the_span_in_max_bins(span, label):
    bins = choose_bins(T0, T0 + span)
    assert bins.label == label
    assert bins.count <= MAX_BINS
    edges = bins.edges()
    assert edges[0] <= T0 and edges[-1] >= T0 + span  # the whole span is inside
    assert edges[1] - edges[0] == bins.width
    epoch_monday = datetime(1970, 1, 5, tzinfo=timezone.utc)
    assert (edges[0] - epoch_monday) % bins.width == timedelta(0)  # aligned: hours on the hour, weeks on Monday


def test_a_single_minute_is_one_bin():
    bins = choose_bins(T0, T0 + MINUTE)
    assert (bins.label, bins.count, bins.start) == ("minute", 1, T0)


def detection(series: dict[datetime, int], window: int, threshold: int) -> DetectionReport:
    alerts = simulate_alerts(series, window, threshold)
    return DetectionReport("d", threshold, False, sum(series.values()), dict(sorted(series.items())), alerts,
                           [], [], [])


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.integers(0, 4000), st.integers(1, 9), max_size=40), st.integers(1, 120),
       st.integers(1, 12))
def test_bins_agree_with_minute_by_minute_evaluation(offsets, window, threshold):
    series = {T0 + m * MINUTE: n for m, n in offsets.items()}
    det = detection(series, window, threshold)
    end = max([T0 + MINUTE, *(m + MINUTE for m in series), *(a.end for a in det.alerts)])
    bins = choose_bins(T0, end)
    data = bin_detection(det, bins, window)
    assert len(data.matches) == len(data.window_peaks) == bins.count
    firing = {a.start + i * MINUTE for a in det.alerts for i in range((a.end - a.start) // MINUTE)}
    width = bins.width // MINUTE
    # per_minute[k]: matches at bins.start + (k - window) minutes, so a window ending at any binned minute fits
    per_minute = [series.get(bins.start + (k - window) * MINUTE, 0) for k in range(bins.count * width + window)]
    for b in range(bins.count):
        ks = range(window + b * width, window + (b + 1) * width)
        minutes = [bins.start + (k - window) * MINUTE for k in ks]
        assert data.matches[b] == sum(per_minute[k] for k in ks)
        assert data.window_peaks[b] == max(sum(per_minute[k - window + 1:k + 1]) for k in ks)
        shaded = any(first <= b < end for first, end in data.alert_runs)
        assert shaded == any(t in firing for t in minutes)
        # the shading and the threshold line agree: a bin whose window reaches the threshold is firing
        if data.window_peaks[b] >= threshold:
            assert shaded


def test_alert_runs_merge_alerts_that_share_or_touch_bins():
    bins = choose_bins(T0, T0 + timedelta(days=7))  # hours
    hour = bins.start
    alerts = [simulate_alerts({hour + 5 * MINUTE: 1}, 10)[0], simulate_alerts({hour + 40 * MINUTE: 1}, 10)[0],
              simulate_alerts({hour + 70 * MINUTE: 1}, 10)[0], simulate_alerts({hour + 300 * MINUTE: 1}, 10)[0]]
    assert alert_runs(alerts, bins) == [(0, 2), (5, 6)]
