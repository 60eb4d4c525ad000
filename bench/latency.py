#!/usr/bin/env python3
"""Measure the alert path's added latency with production timings (``make latency``), trailwatch vs the guide.

What is measured: scenario 1 of the end-to-end suite (the bundled CloudTrail file, 5 detections) through real
Prometheus 2.53 and Alertmanager 0.28 with the SHIPPED stack settings (60 s scrape and evaluation, group_wait
10 s, exporter delay 600 s, window 30 min), and side by side, fed by the same exporter emulator, the original
guide's pipeline with its rules corrected just enough to fire (the exporter's real names and max_over_time;
its ``for: 2m`` kept) and its Alertmanager ``group_wait: 30s``. For every alert: from the moment the exporter
(emulator) first serves the datapoint to the moment the Teams card reaches the Teams stand-in.

Each round is an independent pair of pipelines (own Prometheus/Alertmanager, own scrape and evaluation phase);
rounds run concurrently, so the wall time is one round's (about 5 minutes). Within a round, alerts from the
same datapoint share one scrape and one evaluation, so rounds are what samples the phases.

Also printed: the modelled end-to-end budget from the CloudTrail API call to the Teams card.

Usage: python bench/latency.py [--rounds 5] [--json out.json] [--check]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for extra in (ROOT, ROOT / "tests", ROOT / "tests" / "e2e"):
    sys.path.insert(0, str(extra))

from harness import (  # noqa: E402
    ACCOUNT_ID, GUIDE_DETECTIONS, GUIDE_FOR, GUIDE_GROUP_WAIT, SCENARIO1_FILE, corrected_guide_rules_text,
    guide_alertmanager_text, notices, status_of,
)
from stacks import make_stack  # noqa: E402
from teams_standin import TeamsStandIn  # noqa: E402

from trailwatch.localrun.emulation import StackEmulation  # noqa: E402
from trailwatch.localrun.pipeline import LocalPipeline  # noqa: E402
from trailwatch.localrun.processes import find_tool  # noqa: E402
from trailwatch.localrun.timeline import ReplayedMinutes  # noqa: E402
from trailwatch.render.common import exported_name  # noqa: E402
from trailwatch.replay import replay_paths, stack_detections  # noqa: E402

GOAL_MEDIAN_SECONDS = 90
#: Modelled AWS-side terms (seconds): typical and worst case considered.
CLOUDTRAIL_DELIVERY = (300, 900)  # CloudTrail -> CloudWatch Logs: ~5 min typical, up to ~15 min
METRIC_FILTER = (30, 60)  # the event's minute datapoint is complete at the end of that minute
NOTIFY = 1  # Prometheus -> Alertmanager -> Teams post, seconds


def production_stack():
    """The shipped timings: nothing but the detections the scenario needs and native Teams mode."""
    return make_stack("latency", enableDetections=GUIDE_DETECTIONS, teamsMode="native")


def run_round(index: int, workdir: Path, stack, replayed: ReplayedMinutes, expected: set[str], out: dict,
              timeout: float) -> None:
    cleanups = []
    try:
        emulation = StackEmulation(stack, first_readable_at=time.time() + 15)
        cleanups.append(emulation.stop)
        placed = emulation.place(replayed, slot=0)
        slot_time = next(iter(placed.values()))
        emulation.start()
        ours_teams, guide_teams = TeamsStandIn().start(), TeamsStandIn().start()
        cleanups += [ours_teams.stop, guide_teams.stop]
        ours = LocalPipeline(stack, workdir / f"round{index}" / "trailwatch", emulation.exporter.address,
                             ours_teams.workflow_url, account_id=ACCOUNT_ID,
                             external_labels={"latency_round": str(index), "pipeline": "trailwatch"})
        cleanups.append(ours.stop)
        guide = LocalPipeline(stack, workdir / f"round{index}" / "guide", emulation.exporter.address,
                              guide_teams.adapter_url, mode="adapter", account_id=ACCOUNT_ID,
                              rules_text=corrected_guide_rules_text(stack, GUIDE_FOR),
                              alertmanager_text=guide_alertmanager_text(guide_teams.adapter_url, GUIDE_GROUP_WAIT),
                              external_labels={"latency_round": str(index), "pipeline": "guide"})
        cleanups.append(guide.stop)
        ours.start()
        guide.start()
        deadline = time.time() + timeout
        results = {}
        for name, teams in (("trailwatch", ours_teams), ("guide", guide_teams)):
            while time.time() < deadline:
                arrived = {n.detection: d.received_at for d in teams.accepted() if status_of(d) == "firing"
                           for n in notices(d)}
                if expected <= set(arrived):
                    break
                time.sleep(0.5)
            else:
                raise TimeoutError(f"round {index}: {name} cards for {sorted(expected - set(arrived))} did not arrive")
            by_id = {d.id: d for d in stack.detections}
            results[name] = {
                ident: arrived[ident] - emulation.first_served(exported_name(stack, by_id[ident]), slot_time)
                for ident in sorted(expected)}
            if teams.rejected:
                raise AssertionError(f"round {index}: {name}: the Teams stand-in rejected {teams.rejected[0].errors}")
        out[index] = results
    except BaseException as exc:  # noqa: BLE001 - reported by the main thread
        out[index] = exc
    finally:
        for fn in reversed(cleanups):
            try:
                fn()
            except Exception:  # noqa: BLE001
                pass


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f", {pages / 2**30:.0f} GiB"
    except (ValueError, OSError):
        memory = ""
    return f"{cpu}, {os.cpu_count()} cores{memory}, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def tool_version(name: str) -> str:
    try:
        out = subprocess.run([find_tool(name), "--version"], capture_output=True, text=True, timeout=10)
        return (out.stdout + out.stderr).split("\n", 1)[0].split(" (")[0]
    except Exception:  # noqa: BLE001
        return f"{name} (version unknown)"


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "max": max(values), "min": min(values), "n": len(values)}


def budget(stack, measured: dict[str, dict[str, float]]) -> list[tuple[str, str, str, str]]:
    """(term, trailwatch, guide, what it is) rows; seconds as 'typical / worst'."""
    s = stack.settings
    scrape = s.scrape_interval_seconds
    ours_wait, guide_wait = s.group_wait_seconds, GUIDE_GROUP_WAIT

    def pair(typical: float, worst: float) -> str:
        return f"{typical:.0f} / {worst:.0f}"

    readable_typ = max(s.exporter_delay_seconds - 30, CLOUDTRAIL_DELIVERY[0] + METRIC_FILTER[0])
    readable_worst = max(s.exporter_delay_seconds, CLOUDTRAIL_DELIVERY[1] + METRIC_FILTER[1])
    rows = [
        ("CloudTrail -> CloudWatch Logs", pair(*CLOUDTRAIL_DELIVERY), pair(*CLOUDTRAIL_DELIVERY),
         "AWS delivers the record to the log group (~5 min typical, up to ~15)"),
        ("metric filter -> datapoint", pair(*METRIC_FILTER), pair(*METRIC_FILTER),
         "the record's minute becomes a CloudWatch datapoint (per-minute Sum)"),
        ("exporter delay", pair(s.exporter_delay_seconds - 30, s.exporter_delay_seconds),
         pair(s.exporter_delay_seconds - 30, s.exporter_delay_seconds),
         f"delay_seconds ({s.exporter_delay_seconds}) counted from the datapoint's minute, not from the call"),
        ("= call -> datapoint readable", pair(readable_typ, readable_worst), pair(readable_typ, readable_worst),
         "max(exporter delay, delivery + filter): the delay absorbs delivery up to ~9 min"),
        ("scrape (readable -> served)", pair(scrape / 2, scrape), pair(scrape / 2, scrape),
         f"Prometheus scrapes every {scrape} s"),
        ("evaluation", pair(scrape / 2, scrape), pair(scrape / 2, scrape),
         f"rules are evaluated every {scrape} s (evaluation_interval)"),
        ("for:", "0 / 0", pair(GUIDE_FOR, GUIDE_FOR + scrape), "pending time before the alert fires"),
        ("group_wait", pair(ours_wait, ours_wait), pair(guide_wait, guide_wait), "Alertmanager's first wait"),
        ("notify", pair(NOTIFY, NOTIFY), pair(NOTIFY, NOTIFY), "Alertmanager -> Teams Workflows POST"),
    ]
    ours_model = (readable_typ + scrape / 2 + scrape / 2 + ours_wait + NOTIFY,
                  readable_worst + scrape + scrape + ours_wait + NOTIFY)
    guide_model = (readable_typ + scrape / 2 + scrape / 2 + GUIDE_FOR + guide_wait + NOTIFY,
                   readable_worst + scrape + scrape + GUIDE_FOR + scrape + guide_wait + NOTIFY)
    ours_m, guide_m = measured["trailwatch"], measured["guide"]
    rows += [
        ("= call -> Teams card (model)", pair(*ours_model), pair(*guide_model),
         "readable + scrape + evaluation + for: + group_wait + notify"),
        ("served -> card (measured)", pair(ours_m["median"], ours_m["max"]), pair(guide_m["median"], guide_m["max"]),
         "median / max, this run"),
        ("= call -> card (model + measured)", f"{readable_typ + scrape / 2 + ours_m['median']:.0f}",
         f"{readable_typ + scrape / 2 + guide_m['median']:.0f}", "typical readable + scrape + measured median"),
    ]
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="independent pipeline pairs (default 5, run concurrently)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds a round may take (default 600)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON to this file")
    parser.add_argument("--check", action="store_true", help=f"exit 1 unless our median <= {GOAL_MEDIAN_SECONDS} s")
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 10:
        parser.error("--rounds must be 1..10")

    stack = production_stack()
    report = replay_paths([SCENARIO1_FILE], stack_detections(stack), stack.settings.alert_window_minutes)
    expected = {ident for ident, det in report.detections.items() if det.alerts and not det.heartbeat}
    replayed = ReplayedMinutes.from_report(report)
    started = dt.datetime.now(dt.timezone.utc)
    print(f"trailwatch latency: {args.rounds} round(s) of {len(expected)} alerts, production timings "
          f"(scrape/evaluation {stack.settings.scrape_interval_seconds} s, group_wait {stack.settings.group_wait_seconds} s)"
          f"; about {int(args.timeout // 60)} minutes at most...", flush=True)
    results: dict[int, object] = {}
    with tempfile.TemporaryDirectory(prefix="trailwatch-latency-") as tmp:
        threads = [threading.Thread(target=run_round, args=(i, Path(tmp), stack, replayed, expected, results,
                                                            args.timeout), daemon=True)
                   for i in range(1, args.rounds + 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(args.timeout + 60)
    failures = {i: r for i, r in results.items() if isinstance(r, BaseException)}
    if failures or len(results) != args.rounds:
        for i, exc in failures.items():
            print(f"round {i} failed: {exc}", file=sys.stderr)
        return 2
    values = {name: [v for r in results.values() for v in r[name].values()] for name in ("trailwatch", "guide")}
    figures = {name: summary(vals) for name, vals in values.items()}
    ours, guide = figures["trailwatch"], figures["guide"]
    ratio_median, ratio_max = guide["median"] / ours["median"], guide["max"] / ours["max"]
    when = started.strftime("%Y-%m-%d %H:%M UTC")
    print(f"\nMeasured {when} on {machine()}; {tool_version('prometheus')}, {tool_version('alertmanager')}")
    print(f"Exporter first serves the datapoint -> Teams card arrives ({ours['n']} alerts per pipeline, "
          f"{args.rounds} independent pipeline pairs):\n")
    label = 50
    print(f"  {'pipeline':<{label}} {'median':>8} {'max':>8} {'min':>8}")
    print(f"  {'trailwatch (no for:, group_wait 10s)':<{label}} {ours['median']:>7.1f}s {ours['max']:>7.1f}s "
          f"{ours['min']:>7.1f}s")
    print(f"  {'guide, rules corrected (for: 2m, group_wait 30s)':<{label}} {guide['median']:>7.1f}s "
          f"{guide['max']:>7.1f}s {guide['min']:>7.1f}s")
    print(f"  {'ratio guide / trailwatch':<{label}} {ratio_median:>7.1f}x {ratio_max:>7.1f}x")
    verdict = "met" if ours["median"] <= GOAL_MEDIAN_SECONDS else "NOT met"
    print(f"\nGoal (trailwatch median <= {GOAL_MEDIAN_SECONDS} s after the datapoint is served): {verdict}.")
    print("\nModelled budget, CloudTrail API call -> Teams card (seconds, typical / worst):\n")
    rows = budget(stack, figures)
    width = max(len(r[0]) for r in rows)
    print(f"  {'term':<{width}}  {'trailwatch':>12}  {'guide':>12}  what")
    for term, a, b, what in rows:
        print(f"  {term:<{width}}  {a:>12}  {b:>12}  {what}")
    print("\n  Model assumption: CloudWatch Logs stamps each CloudTrail record with its event time, and a metric "
          "filter's\n  datapoint carries that minute, so the exporter delay runs from the API call's minute and "
          "covers delivery.")
    if args.json:
        args.json.write_text(json.dumps({
            "measured_at": when, "machine": machine(), "rounds": args.rounds,
            "tools": [tool_version("prometheus"), tool_version("alertmanager")],
            "figures": figures, "ratio": {"median": ratio_median, "max": ratio_max},
            "per_round": {str(i): r for i, r in results.items()},
            "budget": [dict(zip(("term", "trailwatch", "guide", "what"), row)) for row in rows],
        }, indent=2) + "\n")
    return 1 if args.check and ours["median"] > GOAL_MEDIAN_SECONDS else 0


if __name__ == "__main__":
    sys.exit(main())
