"""`replay --format html`: each detection's chart spans its own matches and alert periods (pages with and
without exceptions), with one alert window either side as far as the input reaches, not the whole input; its
axis says that span and the input's."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from replay_helpers import record
from stacks import in_days
from test_replay_html import chart_of, page_of
from trailwatch.exceptions import parse_exceptions
from trailwatch.replay import replay_records
from trailwatch.replay.chartdata import bin_detection, detection_bins
from trailwatch.replay.engine import Rule
from trailwatch.replay.html import render_html

WINDOW = 30
MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
UNAUTHORIZED = '{ $.errorCode = "*UnauthorizedOperation" }'
CI = "arn:aws:iam::111122223333:user/ci"
BURST = datetime(2024, 3, 10, 9, 0, tzinfo=timezone.utc)
APRIL = datetime(2024, 4, 1, 12, 0, tzinfo=timezone.utc)


def at(moment: datetime, **fields) -> dict:
    return record(f"{moment:%Y-%m-%dT%H:%M}", **fields)


def edges(bins) -> tuple[datetime, datetime]:
    every = bins.edges()
    return every[0], every[-1]


@pytest.fixture(scope="module")
def months():
    """Five months of records. burst: unauthorized calls for four days in March (Stratus' detonation shape),
    3 in a row every 3 hours; daily: a DeleteTrail a day for ten days in April; never: no match."""
    recs = [record("2024-01-01T00:00"), record("2024-06-01T00:00")]
    recs += [at(BURST + h * HOUR + k * MINUTE, errorCode="Client.UnauthorizedOperation")
             for h in range(0, 96, 3) for k in range(3)]
    recs += [at(APRIL + d * DAY, eventName="DeleteTrail") for d in range(10)]
    return replay_records(recs, {"burst": UNAUTHORIZED, "daily": '{ $.eventName = "DeleteTrail" }',
                                 "never": '{ $.eventName = "NoSuchCall" }'}, WINDOW)


def test_four_days_in_five_months_fill_their_chart(months):
    burst, daily = months.detections["burst"], months.detections["daily"]
    bins = detection_bins(months, burst)
    start, end = edges(bins)
    margin = WINDOW * MINUTE
    # from the first match less one window to the last alert's end plus one window, rounded out to whole bins
    assert burst.first - margin - bins.width < start <= burst.first - margin
    assert burst.alerts[-1].end + margin <= end < burst.alerts[-1].end + margin + bins.width
    assert (bins.label, start, end) == ("hour", BURST - HOUR, datetime(2024, 3, 14, 8, 0, tzinfo=timezone.utc))
    # the other detection's chart is its own ten days in April, nothing of March
    assert edges(detection_bins(months, daily)) == (APRIL - HOUR, APRIL + 9 * DAY + HOUR)
    assert daily.alerts[-1].end + margin == APRIL + 9 * DAY + HOUR


def test_the_axis_says_the_span_and_where_the_input_is(months):
    text = render_html(months)
    page = page_of(text)
    assert page.svgs == {"Overview": 1, "burst": 1, "daily": 1}  # no chart for the detection without matches
    assert "Without matches: never." in page.words("Overview")
    of_input = "of events from 2024-01-01 00:00 to 2024-06-01 00:00"
    assert f"2024-03-10 08:00 to 2024-03-14 08:00 UTC, {of_input}" in chart_of(text, "burst")
    assert f"2024-04-01 11:00 to 2024-04-10 13:00 UTC, {of_input}" in chart_of(text, "daily")
    assert "matches per hour" in chart_of(text, "burst") and "matches per hour" in chart_of(text, "daily")
    assert "events from 2024-01-01 00:00 to 2024-06-01 00:00 UTC" in page.words("")  # the header: the whole input


def test_margins_stop_at_the_input_and_alert_periods_are_never_cut():
    """Records from 09:00 to 12:00. edges: matches at the first and last record, alerting on each, so its
    chart starts at the first record (no margin before the input) and ends with the last alert (past the
    input, but no margin after it); middle: one match at 10:30, under its threshold, one window either side."""
    recs = [record("2024-05-01T09:00", eventName="DeleteTrail"), record("2024-05-01T10:30", eventName="StopLogging"),
            record("2024-05-01T12:00", eventName="DeleteTrail")]
    rep = replay_records(recs, [Rule("edges", '{ $.eventName = "DeleteTrail" }'),
                                Rule("middle", '{ $.eventName = "StopLogging" }', threshold=5)], WINDOW)
    assert rep.detections["middle"].alerts == []
    edges_det = rep.detections["edges"]
    assert edges_det.alerts[-1].end == datetime(2024, 5, 1, 12, 30, tzinfo=timezone.utc)
    bins = detection_bins(rep, edges_det)
    assert (bins.label, *edges(bins)) == ("minute", datetime(2024, 5, 1, 9, 0, tzinfo=timezone.utc),
                                          datetime(2024, 5, 1, 12, 30, tzinfo=timezone.utc))
    assert edges(detection_bins(rep, rep.detections["middle"])) == (
        datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc), datetime(2024, 5, 1, 11, 1, tzinfo=timezone.utc))


@pytest.fixture(scope="module")
def excepted():
    """unauth: alice's calls page for one day; the CI user's, excepted, go on for three more days, so the
    alerts without exceptions reach days past the last page."""
    recs = [record("2024-01-01T00:00"), record("2024-06-01T00:00")]
    recs += [at(BURST + h * HOUR, errorCode="Client.UnauthorizedOperation") for h in range(0, 24, 4)]
    recs += [at(BURST + DAY + h * HOUR, errorCode="Client.UnauthorizedOperation",
                userIdentity={"type": "IAMUser", "arn": CI}) for h in range(0, 72, 6)]
    exceptions = parse_exceptions([{"detections": ["unauth"], "reason": "</svg><script>alert(1)</script>",
                                    "owner": "platform-team", "expires": in_days(30),
                                    "match": {"userIdentity.arn": CI}}])
    return replay_records(recs, {"unauth": UNAUTHORIZED}, WINDOW, exceptions=exceptions)


def test_pages_with_and_without_exceptions_are_drawn_on_the_detections_axis(excepted):
    det = excepted.detections["unauth"]
    assert (len(det.alerts), len(det.alerts_without_exceptions)) == (6, 18)
    assert det.alerts_without_exceptions[-1].end > det.alerts[-1].end + DAY  # the axis must reach these too
    bins = detection_bins(excepted, det)
    start, end = edges(bins)
    assert start <= BURST - WINDOW * MINUTE and end >= det.alerts_without_exceptions[-1].end + WINDOW * MINUTE
    assert end - start < 5 * DAY and bins.label == "hour"
    data = bin_detection(det, bins, excepted.window_minutes)
    assert len(data.alert_runs) == 6 and len(data.runs_without_exceptions) == 18
    assert data.runs_without_exceptions[-1][1] <= bins.count
    text = render_html(excepted)
    chart = chart_of(text, "unauth")
    assert chart.count("fill: #e45756; fill-opacity: 0.25") == 6 + 1  # pages, and the legend's swatch
    assert chart.count("fill: #888888; fill-opacity: 0.2") == 18 + 1  # pages without exceptions
    assert "would fire without exceptions" in chart
    assert "<script" not in text.lower()
    assert "</svg><script>alert(1)</script>" in page_of(text).words("unauth")  # shown as text, inert
