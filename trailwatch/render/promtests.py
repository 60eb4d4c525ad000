"""A promtool unit-test file for the rendered rules, so ``promtool test rules`` proves they fire.

Series are written the way a default scrape stores the exporter's output: the exporter's exact name, its
``job`` label renamed to ``exported_job`` (``honor_labels: false``), ``job``/``instance`` of the scrape, one
sample per minute (the metric filters' ``default_value: 0`` records zeros while the log group receives
events) and the event's count at the event's CloudWatch time (``set_timestamp: true``).

Evaluation times are derived from the settings and kept clear of window edges, because promtool 2.x and
3.x disagree exactly at the edge (closed vs left-open range selectors). With defaults: event at minute 5,
firing at minute 16 (when delay + scrape have passed and the sample could have arrived), gone at 45.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..catalog import Detection
from ..settings import StackSettings
from ..stack import Stack
from .common import (
    ALERT_EXPORTER_DOWN, ALERT_HEARTBEAT_MISSING, ALERT_SCRAPE_ERRORS, ALERT_TEAMS_FAILING, EXAMPLE_EXPORTER_TARGET,
    EXPORTER_SCRAPE_JOB, TEAMS_INTEGRATION, detection_alert_name, dump_yaml, event_detections, exported_job,
    exported_name, generated_header, heartbeat_detections,
)
from .rules import (
    TEAMS_FAILING_FOR, TEAMS_FAILING_WINDOW, detection_annotations, detection_labels,
    exporter_down_for, heartbeat_annotations, heartbeat_for, heartbeat_labels, pipeline_rules, scrape_errors_for,
)

#: Minutes between clearing the window edge and the evaluation, either side.
MARGIN = 10
EVENT_MINUTE = 5


def _minutes(seconds: int) -> int:
    return math.ceil(seconds / 60)


@dataclass(frozen=True)
class EvalTimes:
    """Evaluation minutes of the generated tests, all derived from the stack's timings."""

    event: int
    firing: int          # the sample has arrived (delay + one scrape after the event)
    resolved: int        # well past event + alert window
    heartbeat_stop: int  # last heartbeat sample
    heartbeat_quiet: int  # still inside heartbeat_missing after the stop: no alert yet
    heartbeat_firing: int
    length: int          # minutes of input series


def eval_times(settings: StackSettings) -> EvalTimes:
    window = settings.alert_window_minutes
    arrival = _minutes(settings.exporter_delay_seconds + settings.scrape_interval_seconds)
    # Settings guarantee window > delay + scrape; stay at least a minute inside the window anyway.
    firing = EVENT_MINUTE + min(arrival, max(window - 1, 0))
    resolved = EVENT_MINUTE + window + MARGIN
    hb, hold = settings.heartbeat_missing_minutes, _minutes(heartbeat_for(settings))
    heartbeat_stop = resolved + MARGIN
    heartbeat_quiet = heartbeat_stop + hb // 2
    heartbeat_firing = heartbeat_stop + hb + hold + MARGIN // 2
    return EvalTimes(EVENT_MINUTE, firing, resolved, heartbeat_stop, heartbeat_quiet, heartbeat_firing,
                     heartbeat_firing + MARGIN)


def scrape_labels() -> dict[str, str]:
    """``job``/``instance`` a default scrape of the exporter adds (the exporter's own ``instance`` is empty)."""
    return {"job": EXPORTER_SCRAPE_JOB, "instance": EXAMPLE_EXPORTER_TARGET}


def detection_series_labels(stack: Stack, det: Detection) -> dict[str, str]:
    return {"exported_job": exported_job(stack, det), **scrape_labels()}


def selector(name: str, labels: dict[str, str]) -> str:
    inner = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return f"{name}{{{inner}}}"


def _values(points: list[tuple[int, int | None]]) -> str:
    """promtool's expanded notation from (run length, value) pairs; None is a missing sample."""
    out = []
    for count, value in points:
        if count <= 0:
            continue
        if value is None:
            out.append(f"_x{count}")
        elif count == 1:
            out.append(str(value))
        else:
            out.append(f"{value}x{count - 1}")
    return " ".join(out)


def event_values(times: EvalTimes, count: int) -> str:
    """Zeros every minute with ``count`` events at the event minute."""
    return _values([(times.event, 0), (1, count), (times.length - times.event, 0)])


def heartbeat_values(times: EvalTimes) -> str:
    """One or more CloudTrail records every minute until the stop, then nothing."""
    return _values([(times.heartbeat_stop + 1, 3)])


def _alert(labels: dict[str, str], annotations: dict[str, str]) -> dict[str, Any]:
    return {"exp_labels": labels, "exp_annotations": annotations}


def _check(alertname: str, minute: int, alerts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"eval_time": f"{minute}m", "alertname": alertname, "exp_alerts": alerts}


def timeline_tests(stack: Stack, times: EvalTimes, account_id: str | None) -> dict[str, Any] | None:
    """One timeline for all detections and the heartbeat: each alert only reads its own series, and one
    group evaluates every rule once per minute, so a shared timeline keeps ``promtool test`` fast."""
    series, checks = [], []
    for det in event_detections(stack):
        name, alert = exported_name(stack, det), detection_alert_name(det)
        series.append({"series": selector(name, detection_series_labels(stack, det)),
                       "values": event_values(times, det.threshold)})
        expected = _alert(detection_labels(stack, det),
                          detection_annotations(stack, det, str(det.threshold), account_id, template=False))
        checks += [_check(alert, times.event - 1, []), _check(alert, times.firing, [expected]),
                   _check(alert, times.resolved, [])]
    for det in heartbeat_detections(stack):
        series.append({"series": selector(exported_name(stack, det), detection_series_labels(stack, det)),
                       "values": heartbeat_values(times)})
        expected = _alert(heartbeat_labels(stack, det), heartbeat_annotations(stack, det, account_id, template=False))
        checks += [_check(ALERT_HEARTBEAT_MISSING, times.firing, []),
                   _check(ALERT_HEARTBEAT_MISSING, times.heartbeat_quiet, []),
                   _check(ALERT_HEARTBEAT_MISSING, times.heartbeat_firing, [expected])]
    if not series:
        return None
    return {"name": (f"one event per detection at minute {times.event} fires at {times.firing} and is gone at "
                     f"{times.resolved}; the heartbeat stops at {times.heartbeat_stop} and alerts at "
                     f"{times.heartbeat_firing}"),
            "interval": "1m", "input_series": series, "alert_rule_test": checks}


def below_threshold_tests(stack: Stack, times: EvalTimes) -> dict[str, Any] | None:
    dets = [d for d in event_detections(stack) if d.threshold > 1]
    if not dets:
        return None
    return {
        "name": "fewer events than the threshold do not fire",
        "interval": "1m",
        "input_series": [{"series": selector(exported_name(stack, d), detection_series_labels(stack, d)),
                          "values": event_values(times, d.threshold - 1)} for d in dets],
        "alert_rule_test": [_check(detection_alert_name(d), times.firing, []) for d in dets],
    }


def heartbeat_edge_tests(stack: Stack, account_id: str | None) -> list[dict[str, Any]]:
    """The heartbeat alert also fires on zeros only and when the series never existed (nothing scraped),
    but only after its ``for:``, so the first evaluations of a fresh Prometheus stay quiet."""
    groups = []
    hold = _minutes(heartbeat_for(stack.settings))
    fires_at = hold + MARGIN // 2
    for det in heartbeat_detections(stack):
        expected = [_alert(heartbeat_labels(stack, det), heartbeat_annotations(stack, det, account_id,
                                                                               template=False))]
        series = selector(exported_name(stack, det), detection_series_labels(stack, det))
        groups.append({
            "name": f"{det.id}: only zeros (the log group receives no CloudTrail records) alerts",
            "interval": "1m",
            "input_series": [{"series": series, "values": _values([(fires_at + 1, 0)])}],
            "alert_rule_test": [_check(ALERT_HEARTBEAT_MISSING, fires_at, expected)],
        })
        groups.append({
            "name": f"{det.id}: no series at all (exporter never scraped) alerts",
            "interval": "1m",
            "input_series": [],
            "alert_rule_test": [_check(ALERT_HEARTBEAT_MISSING, 1, []),
                                _check(ALERT_HEARTBEAT_MISSING, fires_at, expected)],
        })
    return groups


def pipeline_tests(stack: Stack, account_id: str | None) -> dict[str, Any]:
    """Exporter down, scrape errors and Teams failures on one timeline: healthy until minute 10, broken after."""
    rules = {r["alert"]: r for r in pipeline_rules(stack, account_id)}
    target = scrape_labels()
    start = 10
    down_hold, errors_hold = _minutes(exporter_down_for(stack)), _minutes(scrape_errors_for(stack))
    rising, window, teams_hold = 20, _minutes(TEAMS_FAILING_WINDOW), _minutes(TEAMS_FAILING_FOR)
    end = start + rising
    length = max(start + down_hold, start + errors_hold, end + window) + MARGIN
    series, checks = [], []
    for alert, metric, healthy, broken, hold in (
        (ALERT_EXPORTER_DOWN, "up", 1, 0, down_hold),
        (ALERT_SCRAPE_ERRORS, "cloudwatch_exporter_scrape_error", 0, 1, errors_hold),
    ):
        rule = rules[alert]
        series.append({"series": selector(metric, target),
                       "values": _values([(start, healthy), (length - start + 1, broken)])})
        checks += [_check(alert, start - 1, [])]
        if hold >= 2:
            checks.append(_check(alert, start + hold // 2, []))  # pending, not yet firing
        checks.append(_check(alert, start + hold + MARGIN // 2, [_alert({**target, **rule["labels"]},
                                                                        rule["annotations"])]))
    # The failure counter of this mode's integration rises for `rising` minutes, then stays flat; another
    # integration failing the same way must not raise the Teams alert.
    integration = TEAMS_INTEGRATION[stack.settings.teams_mode]
    other = next(v for v in TEAMS_INTEGRATION.values() if v != integration)
    counter = f"0x{start} 1+1x{rising - 1} {rising}x{length - end}"
    am = {"job": "alertmanager", "instance": "alertmanager:9093"}
    for name in (integration, other):
        series.append({"series": selector("alertmanager_notifications_failed_total", {**am, "integration": name}),
                       "values": counter})
    rule = rules[ALERT_TEAMS_FAILING]
    checks += [
        _check(ALERT_TEAMS_FAILING, start - 1, []),
        _check(ALERT_TEAMS_FAILING, start + teams_hold + MARGIN // 2,
               [_alert({"integration": integration, **rule["labels"]}, rule["annotations"])]),
        _check(ALERT_TEAMS_FAILING, end + window + MARGIN // 2, []),
    ]
    return {"name": f"pipeline health: exporter down, scrape errors, {integration} notifications failing",
            "interval": "1m", "input_series": series, "alert_rule_test": checks}


def rule_tests(stack: Stack, rules_filename: str, account_id: str | None = None) -> dict[str, Any]:
    times = eval_times(stack.settings)
    tests = [timeline_tests(stack, times, account_id), below_threshold_tests(stack, times)]
    tests += heartbeat_edge_tests(stack, account_id)
    tests.append(pipeline_tests(stack, account_id))
    return {"rule_files": [rules_filename], "evaluation_interval": "1m", "tests": [t for t in tests if t]}


def render_rule_tests(stack: Stack, rules_filename: str, account_id: str | None = None) -> str:
    header = generated_header(stack, f"promtool unit tests for {rules_filename}: promtool test rules <this file>")
    return dump_yaml(rule_tests(stack, rules_filename, account_id), header)
