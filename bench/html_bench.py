#!/usr/bin/env python3
"""Benchmark: how long `replay --format html` takes to draw its page, for a day and for a year of minutes.

    .venv/bin/python bench/html_bench.py [--detections 19] [--days 1 365]

For each span, builds a replay report directly (no log parsing: this times the page alone) with
``--detections`` detections; detection i matches in a share (i + 1) / (n + 1) of the span's minutes, 1-5
events each, with thresholds rising with i, so the page holds quiet and very noisy detections and many
alert periods. Prints per span: the bin width the charts use, the minutes with matches and the alerts
charted, the time to render the page (matplotlib already imported, its import time printed once) and the
page's size. Not a test: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from trailwatch.replay import DetectionReport, Report, simulate_alerts  # noqa: E402

SEED = 20240601
START = datetime(2024, 1, 1, tzinfo=timezone.utc)
WINDOW = 30


def synthetic_report(days: int, detections: int) -> Report:
    rng = random.Random(SEED)
    minutes = [START + timedelta(minutes=i) for i in range(days * 1440)]
    dets = {}
    for i in range(detections):
        share, threshold = (i + 1) / (detections + 1), 5 + 5 * i
        series = {m: rng.randint(1, 5) for m in minutes if rng.random() < share}
        ident = f"detection_{i:02d}"
        dets[ident] = DetectionReport(ident, threshold, False, sum(series.values()), series,
                                      simulate_alerts(series, WINDOW, threshold, 10),
                                      [(f"arn:aws:iam::123456789012:user/user-{i}", 1)], [("192.0.2.1", 1)],
                                      [("DescribeInstances", 1)])
    return Report(sum(d.matches for d in dets.values()), 0, WINDOW, dets, {m: 1 for m in minutes})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detections", type=int, default=19)
    parser.add_argument("--days", type=int, nargs="+", default=[1, 365])
    args = parser.parse_args()
    began = time.perf_counter()
    from trailwatch.replay import detection_bins, render_html
    print(f"import of the html report (matplotlib): {time.perf_counter() - began:.2f} s")
    print(f"{'span':>9} {'bins':>11} {'minutes with matches':>21} {'alerts':>8} {'render':>8} {'page':>9}")
    for days in args.days:
        report = synthetic_report(days, args.detections)
        began = time.perf_counter()
        page = render_html(report)
        took = time.perf_counter() - began
        bins = detection_bins(report, max(report.detections.values(), key=lambda d: len(d.series)))
        print(f"{days:>5} day {bins.label:>11} {sum(len(d.series) for d in report.detections.values()):>21,} "
              f"{sum(len(d.alerts) for d in report.detections.values()):>8,} {took:>6.2f} s "
              f"{len(page) / 1024:>5,.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
