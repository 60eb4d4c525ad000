#!/usr/bin/env python3
"""Pages on the busy day (tests/fixtures/busy-day) without and with the exceptions of its stack.

    .venv/bin/python bench/busy_day.py

Builds the day into a temporary folder (CloudTrail's S3 layout), replays it with ``Pulumi.busyday.yaml`` and
prints, per detection, the pages (alerts) without exceptions, those benign automation alone causes, and the pages
left with the exceptions; the events each exception covered; then each attack step and whether it pages a new
alert (one that starts at its minute), without and with them. Every number is replay's own (``replay_paths`` with
the stack's exceptions; the benign records alone through ``replay_records``).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "tests" / "fixtures" / "busy-day")]

import busyday  # noqa: E402
from trailwatch.replay import alert_hold_minutes, replay_paths, replay_records  # noqa: E402
from trailwatch.stack import load_stack  # noqa: E402


def main() -> int:
    day = busyday.build()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = busyday.write_logs(day, folder / "trail")
        busyday.write_stack(folder)
        stack = load_stack(busyday.STACK_NAME, folder)
        window, hold = stack.settings.alert_window_minutes, alert_hold_minutes(stack)
        report = replay_paths([folder / "trail"], stack.detections, window, hold_minutes=hold,
                              exceptions=stack.exceptions)
    benign = replay_records(day.benign, stack.detections, window, hold_minutes=hold).detections
    rated = [det for det in report.detections.values() if not det.heartbeat]
    print(f"busy day {busyday.DAY}: {report.events:,} events in {files} files, {len(day.steps)} attack steps, "
          f"{len(stack.exceptions)} exceptions; alert window {window} min, hold {hold} min")
    rows = [(det.id, len(det.alerts_without_exceptions), len(benign[det.id].alerts), len(det.alerts))
            for det in rated if det.alerts_without_exceptions or det.alerts]
    rows.append(("total", *(sum(r[i] for r in rows) for i in (1, 2, 3))))
    print(f"\n{'detection':<28}{'pages':>7}{'benign':>8}{'with exceptions':>17}")
    for ident, before, alone, after in rows:
        print(f"{ident:<28}{before:>7}{alone:>8}{after:>17}")

    print("\nexcepted events")
    for det in rated:
        for e in det.excepted:
            print(f"{det.id:<28}{e.events:>7}  by {e.rule.id} ({e.rule.reason}, owner {e.rule.owner})")

    by_id = {d.id: d for d in stack.detections}
    print(f"\n{'attack step':<34} new alert without / with exceptions")
    new = [0, 0]
    for step in day.steps:
        minute = busyday.step_minute(step, by_id[step.detection])
        det = report.detections[step.detection]
        paged = [any(a.start == minute for a in alerts) for alerts in (det.alerts_without_exceptions, det.alerts)]
        new = [n + p for n, p in zip(new, paged)]
        print(f"{minute:%H:%M} {step.detection:<28} {'yes' if paged[0] else 'NO':>3} / {'yes' if paged[1] else 'NO':<3}"
              f"  {step.name}")
    print(f"\n{new[0]} of {len(day.steps)} attack steps page a new alert without exceptions, {new[1]} with them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
