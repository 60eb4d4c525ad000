"""What the HTML report's charts show, computed from a replay report (no plotting library needed here).

Each detection's chart spans that detection's own activity, not the whole input: from its first match's
minute to the end of its last match or alert period (pages with and without exceptions), widened by one alert
window either side as far as the input reaches, so four days of matches in five months of records fill their
chart. A chart of a year of per-minute counts would hold 525,600 points and show no more than a pixel column
can, so a chart's bin width is the finest of 1 minute, 10 minutes, 1 hour, 1 day and 1 week (then whole weeks)
that covers its span in at most ``MAX_BINS`` bins: every chart draws at most that many steps whatever the span.
Bins are aligned to UTC boundaries (weeks start on Monday); the overview, not the charts, compares detections.

Per bin a chart shows the matches, the most matches any alert window ending in that bin held (what the
threshold applies to: a per-hour count says nothing about "N within 30 minutes"; with noise exceptions, the
matches no exception covers, which are what pages), and whether the alert fired at any time during the bin
(with noise exceptions, also whether it would have fired without them); a bin is the finest thing a chart can
show, so an alert of a few minutes still shades its whole bin, while the report's text gives exact times.
"""

from __future__ import annotations

import itertools
from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterator, Sequence

from .alerts import Alert
from .report import DetectionReport, Report

MAX_BINS = 500
MINUTE = timedelta(minutes=1)
WEEK = timedelta(weeks=1)
_LADDER = ((MINUTE, "minute"), (10 * MINUTE, "10 minutes"), (timedelta(hours=1), "hour"),
           (timedelta(days=1), "day"), (WEEK, "week"))
_MONDAY = datetime(1970, 1, 5, tzinfo=timezone.utc)  # bins are aligned to multiples of their width from here


@dataclass(frozen=True)
class Bins:
    """``count`` consecutive bins of ``width`` from ``start``; ``label`` names the width ("hour", "3 weeks")."""

    start: datetime
    width: timedelta
    count: int
    label: str

    def index(self, moment: datetime) -> int:
        return (moment - self.start) // self.width

    def edges(self) -> list[datetime]:
        return [self.start + i * self.width for i in range(self.count + 1)]


@dataclass(frozen=True)
class DetectionBins:
    """One detection's chart: per bin, matches, the most matches in one alert window ending in the bin, and
    the runs of bins ``[first, end)`` during which its alert fired, and, for a detection whose exceptions
    covered matches, would have fired without them (None otherwise: the same runs)."""

    matches: list[int]
    window_peaks: list[int]
    alert_runs: list[tuple[int, int]]
    runs_without_exceptions: list[tuple[int, int]] | None


def _widths() -> Iterator[tuple[timedelta, str]]:
    yield from _LADDER
    weeks = 2
    while True:
        yield weeks * WEEK, f"{weeks} weeks"
        weeks += 1


def choose_bins(start: datetime, end: datetime) -> Bins:
    """The finest bins (see the module docstring) covering the minutes ``[start, end)``."""
    for width, label in _widths():
        first = start - (start - _MONDAY) % width
        count = -(-(end - first) // width)
        if count <= MAX_BINS:
            return Bins(first, width, max(count, 1), label)
    raise AssertionError("unreachable: bin widths grow without bound")


def detection_bins(report: Report, det: DetectionReport) -> Bins:
    """The bins of the chart of ``det``, a detection of ``report`` with matches (see the module docstring):
    the one place a chart's span is decided. The margins stop at the input's first record's minute and at its
    last record's minute; an alert period running past the last record is never cut."""
    margin = report.window_minutes * MINUTE
    end = max([det.last + MINUTE] + [alerts[-1].end for alerts in (det.alerts, det.alerts_without_exceptions)
                                     if alerts])
    input_first, input_last = input_span(report)
    return choose_bins(max(det.first - margin, input_first), max(end, min(end + margin, input_last + MINUTE)))


def input_span(report: Report) -> tuple[datetime, datetime] | None:
    """The minutes of the input's first and last records (event time); None for a report without records."""
    if not report.event_minutes:
        return None
    return next(iter(report.event_minutes)), next(reversed(report.event_minutes))


def bin_detection(det: DetectionReport, bins: Bins, window_minutes: int) -> DetectionBins:
    """Matches and window peaks per bin. The window count at minute ``t`` (matches in ``(t - W, t]``, the
    alert rule's window, see :mod:`trailwatch.replay.alerts`) only rises at a minute with matches, so a bin's
    peak is the count at one of its minutes with matches or at its first minute (a window reaching in from
    before): each is a difference of prefix sums, in integer minutes. One pass over the minutes with matches
    (the window's oldest minute only moves forward) and a bisection per bin, whatever the window and width."""
    width = bins.width // MINUTE
    matches = [0] * bins.count
    for minute, count in det.series.items():
        matches[(minute - bins.start) // bins.width] += count
    paged = det.paged_series
    offsets = [(minute - bins.start) // MINUTE for minute in paged]  # ascending, like the series
    counts = list(paged.values())
    before = [0, *itertools.accumulate(counts)]  # before[i]: matches in the first i minutes with matches
    peaks = [0] * bins.count
    oldest = 0  # the first minute with matches inside the current window
    for i, offset in enumerate(offsets):
        while offsets[oldest] <= offset - window_minutes:
            oldest += 1
        b = offset // width
        peaks[b] = max(peaks[b], before[i + 1] - before[oldest])
    for b in range(1, bins.count):
        first = b * width
        carried = before[bisect_right(offsets, first)] - before[bisect_right(offsets, first - window_minutes)]
        peaks[b] = max(peaks[b], carried)
    without = alert_runs(det.alerts_without_exceptions, bins) if det.excepted_events else None
    return DetectionBins(matches, peaks, alert_runs(det.alerts, bins), without)


def alert_runs(alerts: Sequence[Alert], bins: Bins) -> list[tuple[int, int]]:
    """The bins touched by the (ascending, disjoint) alert periods, merged into runs ``[first, end)``."""
    runs: list[tuple[int, int]] = []
    for alert in alerts:
        first, end = bins.index(alert.start), bins.index(alert.end - MINUTE) + 1
        if runs and first <= runs[-1][1]:
            runs[-1] = (runs[-1][0], max(end, runs[-1][1]))
        else:
            runs.append((first, end))
    return runs


def alert_minutes(det: DetectionReport) -> int:
    """How long the detection's simulated alerts fired in all, in minutes."""
    return sum((a.end - a.start) // MINUTE for a in det.alerts)


def noisiest_first(report: Report) -> list[DetectionReport]:
    """Most alerts (each fires and resolves a card), then longest firing, then most matches."""
    return sorted(report.detections.values(), key=lambda d: (-len(d.alerts), -alert_minutes(d), -d.matches, d.id))
