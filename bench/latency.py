#!/usr/bin/env python3
"""API call -> Teams card latency and share of events paged, shipped settings vs the previous ones (``make
latency``), from one run on the same events.

Events: ``--events`` CloudTrail API calls at random seconds of their minute, each delivered to CloudWatch Logs
after a lag drawn from a log-normal distribution (median 5 minutes, about 1 in 10 past 10 minutes and 1 in 40
past 15: CloudTrail documents "an average of about 5 minutes", "not guaranteed"), while a second, fast region
fills every minute with zeros. Scrape and evaluation phases are random per event. Each event goes through the
model in ``trailwatch.localrun.latency`` (the emulators' CloudWatch and exporter code, a minimal Prometheus):

* shipped: the exporter config ``render`` writes for the default stack (sliding-window read), the rendered rule's
  hold, 60 s scrape and evaluation, group_wait 10 s;
* tuned: the same, for a detection with a noise exception: the rule pages on ``matches - excepted`` only once
  it has held for the exception guard (``readpath.exception_guard_seconds``); the events here are not excepted;
* previous: period 60 s, delay 600 s, range 600 s, ``set_timestamp: true`` and ``max_over_time([30m])``, the
  same Prometheus and Alertmanager timings.

The same events, lags and phases feed both. Real Prometheus and Alertmanager are exercised by the e2e suite
(``tests/e2e``: lags 0-25 minutes, failed scrapes, outages); this script measures the distribution.

Usage: python bench/latency.py [--events 5000] [--seed 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from trailwatch.localrun import Outcome, PromSide, detection_config, simulate  # noqa: E402
from trailwatch.readpath import exception_guard_seconds  # noqa: E402
from trailwatch.render import detection_hold, exporter_config  # noqa: E402
from trailwatch.stack import load_stack  # noqa: E402

LAG_MEDIAN_SECONDS = 300.0
LAG_SIGMA = 0.65   # log-normal shape: P(lag > 10 min) ~ 14 %, P(> 15 min) ~ 5 %, P(> 25 min) ~ 0.7 %
HORIZON = 4 * 3600
PREVIOUS = {"period_seconds": 60, "range_seconds": 600, "delay_seconds": 600, "set_timestamp": True}
PREVIOUS_RULE_RANGE = 30 * 60


def pipelines() -> dict[str, tuple[dict, PromSide]]:
    stack = load_stack("dev")
    s = stack.settings
    shipped = detection_config(exporter_config(stack)["metrics"][0])
    timings = dict(scrape_interval=s.scrape_interval_seconds, eval_interval=s.scrape_interval_seconds,
                   group_wait=s.group_wait_seconds)
    guard = exception_guard_seconds(s.scrape_interval_seconds)
    return {"shipped": (shipped, PromSide(rule_range=detection_hold(s), **timings)),
            "tuned": (shipped, PromSide(rule_range=detection_hold(s), guard=guard, **timings)),
            "previous": (detection_config(PREVIOUS), PromSide(rule_range=PREVIOUS_RULE_RANGE, **timings))}


def draw(count: int, seed: int) -> list[tuple[float, float, float, float]]:
    """(offset in the minute, lag, scrape phase, evaluation phase) per event."""
    rng = random.Random(seed)
    return [(rng.uniform(0, 60), rng.lognormvariate(math.log(LAG_MEDIAN_SECONDS), LAG_SIGMA),
             rng.uniform(0, 60), rng.uniform(0, 60)) for _ in range(count)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def figures(outcomes: list[Outcome], tolerance: float) -> dict[str, float]:
    paged = [o for o in outcomes if o.card_at is not None]
    within = [o for o in outcomes if o.lag <= tolerance]
    over_lag = [o.card_at - (o.event_time + o.lag) for o in paged]
    return {
        "events": len(outcomes),
        "paged_share": len(paged) / len(outcomes),
        "paged_share_within_tolerance": sum(o.card_at is not None for o in within) / max(1, len(within)),
        "p50_seconds": percentile([o.latency for o in paged], 0.5) if paged else math.nan,
        "p99_seconds": percentile([o.latency for o in paged], 0.99) if paged else math.nan,
        "p50_after_delivery_seconds": percentile(over_lag, 0.5) if paged else math.nan,
        "max_after_delivery_seconds": max(over_lag) if paged else math.nan,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000, help="events to simulate (default 5000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON to this file")
    args = parser.parse_args(argv)
    if args.events < 1:
        parser.error("--events must be >= 1")
    tolerance = load_stack("dev").settings.delivery_lag_tolerance_minutes * 60
    events = draw(args.events, args.seed)
    lags = [lag for _, lag, _, _ in events]
    results = {}
    for name, (config, prom) in pipelines().items():
        outcomes = [simulate(config, prom, offset, lag, scrape, evaluation, horizon=HORIZON)
                    for offset, lag, scrape, evaluation in events]
        results[name] = figures(outcomes, tolerance)
    lag_p50, lag_p99 = statistics.median(lags), percentile(lags, 0.99)
    print(f"{args.events} events; delivery lag median {lag_p50 / 60:.1f} min, p99 {lag_p99 / 60:.1f} min, "
          f"{sum(lag > 900 for lag in lags) / len(lags):.1%} past 15 min, "
          f"{sum(lag > tolerance for lag in lags) / len(lags):.1%} past the {tolerance / 60:.0f}-minute tolerance")
    print()
    rows = [("events paged", "paged_share", "{:.1%}"),
            (f"events paged, lag <= {tolerance / 60:.0f} min", "paged_share_within_tolerance", "{:.1%}"),
            ("API call -> card, p50", "p50_seconds", "{:.0f} s"), ("API call -> card, p99", "p99_seconds", "{:.0f} s"),
            ("delivery -> card, p50", "p50_after_delivery_seconds", "{:.0f} s"),
            ("delivery -> card, max", "max_after_delivery_seconds", "{:.0f} s")]
    print("| | " + " | ".join(results) + " |\n|---|" + "---|" * len(results))
    for label, key, fmt in rows:
        print(f"| {label} | " + " | ".join(fmt.format(r[key]) for r in results.values()) + " |")
    goal = results["shipped"]["paged_share_within_tolerance"] == 1.0 and \
        results["shipped"]["p50_seconds"] <= lag_p50 + 120
    print(f"\ngoal (100% paged up to the tolerance, p50 <= median lag + 120 s): {'met' if goal else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps({"lag_p50": lag_p50, "lag_p99": lag_p99, **results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
