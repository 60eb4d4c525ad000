"""A promtool unit-test file for the rendered rules, so ``promtool test rules`` proves they fire.

Series are written the way a default scrape stores the exporter's output: the exporter's exact name, its
``job`` label renamed to ``exported_job`` (``honor_labels: false``), ``job``/``instance`` of the scrape, the
stack's ``trailwatch_stack`` label, and one sample per scrape (the tests scrape once a minute) holding the
sliding-window sum the exporter serves (:mod:`trailwatch.readpath`): the matching events delivered so far whose
event time lies in the last ``alertWindowMinutes``.

What the generated tests pin: one event fires and resolves by itself; an event delivered late (the window sum
only rises when it arrives, and falls at the same event-time bound) still fires; failed scrapes while firing do
not resolve the alert; ``threshold`` counts events over the whole window (one a minute reaches it); another
stack's series never fire this stack's alerts; the heartbeat fires when its window sum drops to 0 or the series
vanishes, only after its ``for:``.

Evaluation times are derived from the settings and kept clear of window edges, because promtool 2.x and
3.x disagree exactly at the edge (closed vs left-open range selectors).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..catalog import Detection
from ..contract import (
    ADAPTER_MODE, ADAPTER_NOTIFICATIONS, ADAPTER_REQUESTS_REJECTED, ADAPTER_SCRAPE_JOB, ALERT_EXCEPTION_EXPIRED,
    ALERT_EXPORTER_DOWN, ALERT_HEARTBEAT_MISSING, ALERT_SCRAPE_ERRORS, ALERT_TEAMS_FAILING, EXPORTER_SCRAPE_JOB,
    NATIVE_MODE, NOTIFICATION_FAILED, STACK_LABEL, TEAMS_INTEGRATION, detection_alert_name,
)
from ..settings import StackSettings
from .. import readpath
from ..series import excepted_name, exported_job, exported_name, stack_labels
from ..stack import Stack, event_detections, heartbeat_detections
from .options import DEFAULT_ADAPTER_URL, EXAMPLE_EXPORTER_TARGET, adapter_target
from .rules import (
    TEAMS_FAILING_FOR, TEAMS_FAILING_WINDOW, detection_annotations, detection_hold, detection_labels,
    expired_rule, exporter_down_for, heartbeat_annotations, heartbeat_for, heartbeat_labels, pipeline_rules,
    scrape_errors_for, tuned_filters,
)
from .yaml_text import dump_yaml, generated_header

#: Minutes between clearing the window edge and the evaluation, either side.
MARGIN = 10
EVENT_MINUTE = 5
#: Consecutive failed scrapes placed inside a firing alert (fewer than the rules' hold).
FAILED_SCRAPES = 3


def _minutes(seconds: int) -> int:
    return math.ceil(seconds / 60)


@dataclass(frozen=True)
class EvalTimes:
    """Evaluation minutes of the generated tests, all derived from the stack's timings."""

    event: int           # event minute of the prompt event (delivered and scraped the next minute)
    firing: int          # inside the window, after the sample arrived
    gap: int             # first of FAILED_SCRAPES missing scrapes while firing
    resolved: int        # past event + window + hold
    late_lag: int        # minutes the late event is delivered after its event minute
    heartbeat_stop: int  # last minute CloudTrail delivers
    heartbeat_quiet: int  # events still in the heartbeat window: no alert yet
    heartbeat_firing: int
    length: int          # minutes of input series


def eval_times(settings: StackSettings) -> EvalTimes:
    window, hold = settings.alert_window_minutes, _minutes(detection_hold(settings))
    firing = EVENT_MINUTE + 1 + max(1, (window - 2) // 4)
    gap = firing + 1
    resolved = EVENT_MINUTE + window + hold + MARGIN
    late_lag = max(1, min(settings.delivery_lag_tolerance_minutes, window - 3))
    hb, hb_for = settings.heartbeat_missing_minutes, _minutes(heartbeat_for(settings))
    heartbeat_stop = resolved + MARGIN
    heartbeat_quiet = heartbeat_stop + max(1, hb // 2)
    heartbeat_firing = heartbeat_stop + hb + hb_for + MARGIN // 2
    return EvalTimes(EVENT_MINUTE, firing, gap, resolved, late_lag, heartbeat_stop, heartbeat_quiet,
                     heartbeat_firing, heartbeat_firing + MARGIN)


def guard_delay(stack: Stack, det: Detection) -> int:
    """Minutes a tuned detection pages later than an untuned one (its exception guard); 0 untuned."""
    if not tuned_filters(stack, det):
        return 0
    return _minutes(readpath.exception_guard_seconds(stack.settings.scrape_interval_seconds))


def scrape_labels(stack: Stack) -> dict[str, str]:
    """``job``/``instance``/``trailwatch_stack`` the stack's scrape of the exporter adds (the exporter's own
    ``instance`` is empty)."""
    return {"job": EXPORTER_SCRAPE_JOB, "instance": EXAMPLE_EXPORTER_TARGET, **stack_labels(stack)}


def adapter_scrape_labels(stack: Stack) -> dict[str, str]:
    """``job``/``instance``/``trailwatch_stack`` the stack's scrape of its Teams adapter adds."""
    return {"job": ADAPTER_SCRAPE_JOB, "instance": adapter_target(DEFAULT_ADAPTER_URL), **stack_labels(stack)}


def adapter_tests(stack: Stack, account_id: str | None) -> list[dict[str, Any]]:
    """Adapter mode: ONE failed card pages (its counter exists at 0 from the adapter's start, so increase()
    sees the step), and so does an adapter Prometheus cannot scrape."""
    if stack.settings.teams_mode != ADAPTER_MODE:
        return []
    rule = next(r for r in pipeline_rules(stack, account_id) if r["alert"] == ALERT_TEAMS_FAILING)
    labels = adapter_scrape_labels(stack)
    hold, window = _minutes(TEAMS_FAILING_FOR), _minutes(TEAMS_FAILING_WINDOW)
    start, length = 10, 40
    failing = [_alert(dict(rule["labels"]), rule["annotations"])]
    return [{
        "name": "Teams adapter: one failed card pages, then the alert resolves",
        "interval": "1m",
        "input_series": [
            {"series": selector(f"{ADAPTER_NOTIFICATIONS}_total", {**labels, "result": NOTIFICATION_FAILED}),
             "values": _values([(start, 0), (length - start, 1)])},
            {"series": selector(f"{ADAPTER_REQUESTS_REJECTED}_total", {**labels, "reason": "unauthorized"}),
             "values": f"0x{length}"},
            {"series": selector("up", labels), "values": f"1x{length}"},
        ],
        "alert_rule_test": [_check(ALERT_TEAMS_FAILING, start - 1, []),
                            _check(ALERT_TEAMS_FAILING, start + hold + 1, failing),
                            _check(ALERT_TEAMS_FAILING, start + window + MARGIN, [])],
    }, {
        "name": "Teams adapter: unreachable for Prometheus pages (Alertmanager cannot reach it either)",
        "interval": "1m",
        "input_series": [{"series": selector("up", labels), "values": _values([(start, 1), (length - start, 0)])}],
        "alert_rule_test": [_check(ALERT_TEAMS_FAILING, start + hold // 2, []),
                            _check(ALERT_TEAMS_FAILING, start + hold + 1,
                                   [_alert({**labels, **rule["labels"]}, rule["annotations"])])],
    }]


def detection_series_labels(stack: Stack, det: Detection) -> dict[str, str]:
    return {"exported_job": exported_job(stack, det), **scrape_labels(stack)}


def other_stack_labels(stack: Stack, det: Detection) -> dict[str, str]:
    """The same series as another stack sharing this Prometheus would have it."""
    return {**detection_series_labels(stack, det), STACK_LABEL: f"{stack.name}-other"}


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


def window_values(times: EvalTimes, count: int, window: int, arrives: int, gap: bool = False) -> str:
    """The exporter's window sum for ``count`` events at minute ``times.event`` delivered at minute ``arrives``:
    0 until the first scrape after delivery, ``count`` while the event minute is in the window, 0 after;
    ``gap``: FAILED_SCRAPES missing samples from ``times.gap`` on (failed scrapes)."""
    leaves = times.event + window  # first minute whose window no longer holds the event minute
    first = min(arrives + 1, leaves)
    points: list[tuple[int, int | None]] = [(first, 0)]
    if gap and first <= times.gap < leaves - FAILED_SCRAPES:
        points += [(times.gap - first, count), (FAILED_SCRAPES, None), (leaves - times.gap - FAILED_SCRAPES, count)]
    else:
        points.append((leaves - first, count))
    points.append((times.length - leaves + 1, 0))
    return _values(points)


def event_values(times: EvalTimes, count: int, window: int) -> str:
    """``count`` events at the event minute, delivered at once."""
    return window_values(times, count, window, times.event)


def spread_values(times: EvalTimes, per_minute: int, minutes: int, window: int) -> str:
    """``per_minute`` events in each of ``minutes`` consecutive minutes from the event minute on, each delivered
    at once: the window sum climbs by ``per_minute`` a minute, then falls as the minutes leave the window."""
    points: list[tuple[int, int | None]] = [(times.event + 1, 0)]
    points += [(1, per_minute * k) for k in range(1, minutes + 1)]
    points.append((window - minutes, per_minute * minutes))
    points += [(1, per_minute * (minutes - k)) for k in range(1, minutes)]
    used = sum(n for n, _ in points)
    points.append((times.length - used + 1, 0))
    return _values(points)


def heartbeat_values(times: EvalTimes, window: int) -> str:
    """Records every minute until the stop; the window sum stays positive until the last one leaves the
    heartbeat window, then the series is absent (no datapoint in the window at all)."""
    return _values([(times.heartbeat_stop + window, 60)])


def _alert(labels: dict[str, str], annotations: dict[str, str]) -> dict[str, Any]:
    return {"exp_labels": labels, "exp_annotations": annotations}


def _check(alertname: str, minute: int, alerts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"eval_time": f"{minute}m", "alertname": alertname, "exp_alerts": alerts}


def timeline_tests(stack: Stack, times: EvalTimes, account_id: str | None) -> dict[str, Any] | None:
    """One timeline for all detections and the heartbeat: each alert only reads its own series, and one
    group evaluates every rule once per minute, so a shared timeline keeps ``promtool test`` fast. Every
    detection's series has failed scrapes while its alert fires."""
    s = stack.settings
    series, checks = [], []
    for det in event_detections(stack):
        name, alert = exported_name(stack, det), detection_alert_name(det)
        series.append({"series": selector(name, detection_series_labels(stack, det)),
                       "values": window_values(times, det.threshold, s.alert_window_minutes, times.event, gap=True)})
        expected = _alert(detection_labels(stack, det),
                          detection_annotations(stack, det, str(det.threshold), account_id, template=False))
        delay = guard_delay(stack, det)
        checks += [_check(alert, times.event, []), _check(alert, times.firing + delay, [expected]),
                   _check(alert, times.gap + FAILED_SCRAPES - 1 + delay, [expected]), _check(alert, times.resolved, [])]
    for det in heartbeat_detections(stack):
        series.append({"series": selector(exported_name(stack, det), detection_series_labels(stack, det)),
                       "values": heartbeat_values(times, s.heartbeat_missing_minutes)})
        expected = _alert(heartbeat_labels(stack, det), heartbeat_annotations(stack, det, account_id, template=False))
        checks += [_check(ALERT_HEARTBEAT_MISSING, times.firing, []),
                   _check(ALERT_HEARTBEAT_MISSING, times.heartbeat_quiet, []),
                   _check(ALERT_HEARTBEAT_MISSING, times.heartbeat_firing, [expected])]
    if not series:
        return None
    return {"name": (f"one event per detection at minute {times.event} fires at {times.firing}, survives "
                     f"{FAILED_SCRAPES} failed scrapes and is gone at {times.resolved}; the heartbeat stops at "
                     f"{times.heartbeat_stop} and alerts at {times.heartbeat_firing}"),
            "interval": "1m", "input_series": series, "alert_rule_test": checks}


def late_delivery_tests(stack: Stack, times: EvalTimes, account_id: str | None) -> dict[str, Any] | None:
    """Each detection's event delivered ``late_lag`` minutes late: quiet until it arrives, then firing."""
    s = stack.settings
    dets = event_detections(stack)
    if not dets:
        return None
    arrives = times.event + times.late_lag
    series, checks = [], []
    for det in dets:
        series.append({"series": selector(exported_name(stack, det), detection_series_labels(stack, det)),
                       "values": window_values(times, det.threshold, s.alert_window_minutes, arrives)})
        expected = _alert(detection_labels(stack, det),
                          detection_annotations(stack, det, str(det.threshold), account_id, template=False))
        alert = detection_alert_name(det)
        checks += [_check(alert, arrives, []), _check(alert, arrives + 2 + guard_delay(stack, det), [expected]),
                   _check(alert, times.resolved, [])]
    return {"name": f"an event delivered {times.late_lag} minutes late fires when it arrives",
            "interval": "1m", "input_series": series, "alert_rule_test": checks}


def threshold_tests(stack: Stack, times: EvalTimes, account_id: str | None) -> dict[str, Any] | None:
    """Thresholds count the window: one event a minute reaches N after N minutes (not before); N - 1 events
    never fire; another stack's series above the threshold never fire this stack's alert."""
    s = stack.settings
    window = s.alert_window_minutes
    spread = [d for d in event_detections(stack) if 1 < d.threshold < window]
    series, checks = [], []
    for det in spread:
        expected = _alert(detection_labels(stack, det),
                          detection_annotations(stack, det, str(det.threshold), account_id, template=False))
        series.append({"series": selector(exported_name(stack, det), detection_series_labels(stack, det)),
                       "values": spread_values(times, 1, det.threshold, window)})
        reached = times.event + det.threshold  # scrape after the threshold-th minute
        checks += [_check(detection_alert_name(det), reached - 1, []),
                   _check(detection_alert_name(det), reached + 1 + guard_delay(stack, det), [expected])]
    quiet = [d for d in event_detections(stack) if d not in spread]
    for det in quiet:
        if det.threshold > 1:
            series.append({"series": selector(exported_name(stack, det), detection_series_labels(stack, det)),
                           "values": event_values(times, det.threshold - 1, window)})
        series.append({"series": selector(exported_name(stack, det), other_stack_labels(stack, det)),
                       "values": event_values(times, det.threshold + 5, window)})
        checks.append(_check(detection_alert_name(det), times.firing, []))
    if not checks:
        return None
    return {"name": "thresholds count events over the window; other stacks' series never fire this stack",
            "interval": "1m", "input_series": series, "alert_rule_test": checks}


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
            "name": f"{det.id}: a window sum of 0 (no CloudTrail record delivered in the window) alerts",
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
    target = scrape_labels(stack)
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
    # Teams failures rise for `rising` minutes, then stay flat; the same failures elsewhere (another stack's
    # adapter, or in native mode another integration) must not raise this stack's Teams alert.
    rule = rules[ALERT_TEAMS_FAILING]
    counter = f"0x{start} 1+1x{rising - 1} {rising}x{length - end}"
    flat = f"0x{length}"
    if stack.settings.teams_mode == ADAPTER_MODE:
        own, other = adapter_scrape_labels(stack), {**adapter_scrape_labels(stack), STACK_LABEL: f"{stack.name}-other"}
        for labels in (own, other):
            series.append({"series": selector(f"{ADAPTER_NOTIFICATIONS}_total",
                                              {**labels, "result": NOTIFICATION_FAILED}),
                           "values": counter})
            series.append({"series": selector(f"{ADAPTER_REQUESTS_REJECTED}_total",
                                              {**labels, "reason": "unauthorized"}), "values": flat})
            series.append({"series": selector("up", labels), "values": f"1x{length}"})
        failing = [_alert(dict(rule["labels"]), rule["annotations"])]
        what = "Teams adapter failures"
    else:
        integration = TEAMS_INTEGRATION[NATIVE_MODE]
        am = {"job": "alertmanager", "instance": "alertmanager:9093"}
        for name in TEAMS_INTEGRATION.values():
            series.append({"series": selector("alertmanager_notifications_failed_total", {**am, "integration": name}),
                           "values": counter})
        failing = [_alert({"integration": integration, **rule["labels"]}, rule["annotations"])]
        what = f"{integration} notifications failing"
    checks += [
        _check(ALERT_TEAMS_FAILING, start - 1, []),
        _check(ALERT_TEAMS_FAILING, start + teams_hold + MARGIN // 2, failing),
        _check(ALERT_TEAMS_FAILING, end + window + MARGIN // 2, []),
    ]
    return {"name": f"pipeline health: exporter down, scrape errors, {what}",
            "interval": "1m", "input_series": series, "alert_rule_test": checks}


def exception_tests(stack: Stack, times: EvalTimes, account_id: str | None) -> list[dict[str, Any]]:
    """Tuned detections, under the read path's worst case for two metrics read apart: each excepted event reaches
    the excepted series ``lag`` minutes after the matches series (the longest the guard must absorb, see
    :func:`trailwatch.readpath.exception_guard_scrapes`) and leaves it one minute early (two reads straddling a minute boundary). Excepted events alone never page; one real event among
    them pages, and the card counts the excepted ones."""
    s = stack.settings
    window = s.alert_window_minutes
    # The longest a difference from excepted events alone can show, in the tests' one-minute samples.
    lag = max(1, (readpath.exception_guard_scrapes(s.scrape_interval_seconds) - 1) * s.scrape_interval_seconds // 60)
    quiet_series, quiet_checks, mixed_series, mixed_checks = [], [], [], []
    for det in event_detections(stack):
        filters = tuned_filters(stack, det)
        if not filters:
            continue
        alert, n = detection_alert_name(det), det.threshold
        labels = detection_series_labels(stack, det)
        early = window_values(times, n, window - 1, times.event + lag)  # arrives late, leaves a scrape early
        quiet_series.append({"series": selector(exported_name(stack, det), labels),
                             "values": event_values(times, n, window)})
        quiet_series.append({"series": selector(excepted_name(stack, filters[0]), labels), "values": early})
        quiet_checks += [_check(alert, minute, []) for minute in
                         (times.event + 1, times.event + lag, times.event + lag + 1, times.firing + guard_delay(stack, det),
                          times.event + window - 1, times.event + window, times.event + window + 1)]
        mixed_series.append({"series": selector(exported_name(stack, det), labels),
                             "values": event_values(times, 2 * n, window)})
        mixed_series.append({"series": selector(excepted_name(stack, filters[0]), labels), "values": early})
        expected = _alert(detection_labels(stack, det),
                          detection_annotations(stack, det, str(n), account_id, template=False,
                                                excepted={filters[0].rule.id: n}))
        mixed_checks += [_check(alert, times.firing + guard_delay(stack, det), [expected])]
    if not quiet_checks:
        return []
    return [{"name": f"excepted events alone never page, even read {lag} scrapes apart",
             "interval": "1m", "input_series": quiet_series, "alert_rule_test": quiet_checks},
            {"name": "a real event among excepted ones pages, and the card counts the excepted",
             "interval": "1m", "input_series": mixed_series, "alert_rule_test": mixed_checks}]


#: The expiry tests step this many days at a time: an exception's date is decades from promtool's epoch 0, and
#: every step evaluates every rule (a step a day costs promtool minutes).
EXPIRY_STEP_DAYS = 30


def _expiry_steps(rule_expires_at: Any) -> tuple[int, int]:
    """The last step before an expiry instant and the first at or after it, in steps of EXPIRY_STEP_DAYS."""
    day = int(rule_expires_at.timestamp()) // 86400  # the midnight that ends the exception's last day
    return (day - 1) // EXPIRY_STEP_DAYS, -(-day // EXPIRY_STEP_DAYS)


def expiry_tests(stack: Stack, rules_filename: str, account_id: str | None = None) -> dict[str, Any] | None:
    """``TrailwatchExceptionExpired`` is quiet before an exception's expiry instant (the midnight, UTC, after its
    ``expires`` day) and fires after it; from then on the exception no longer subtracts: its excepted events page
    again. promtool's clock starts at 1970-01-01, so the steps are coarse; the rule's constant is pinned to the
    exact instant by the Python tests."""
    if not stack.exceptions:
        return None
    series, checks = [], []

    def expired_alerts(step: int) -> list[dict[str, Any]]:
        return [_alert(rule["labels"], rule["annotations"]) for rule in
                (expired_rule(stack, r, template=False) for r in stack.exceptions
                 if _expiry_steps(r.expires_at)[1] <= step)]

    for r in stack.exceptions:
        before, after = _expiry_steps(r.expires_at)
        checks += [_check(ALERT_EXCEPTION_EXPIRED, before, expired_alerts(before)),
                   _check(ALERT_EXCEPTION_EXPIRED, after, expired_alerts(after))]
    for det in event_detections(stack):
        filters = tuned_filters(stack, det)
        if not filters:
            continue
        labels = detection_series_labels(stack, det)
        first = min(filters, key=lambda f: f.rule.expires_at)
        before, after = _expiry_steps(first.rule.expires_at)
        # Samples only at the two steps checked: decades of samples would make promtool's queries crawl.
        values = _values([(before, None), (after - before + 1, det.threshold)])
        series.append({"series": selector(exported_name(stack, det), labels), "values": values})
        series.append({"series": selector(excepted_name(stack, first), labels), "values": values})
        fired = _alert(detection_labels(stack, det),
                       detection_annotations(stack, det, str(det.threshold), account_id, template=False,
                                             excepted={first.rule.id: det.threshold}))
        checks += [_check(detection_alert_name(det), before, []), _check(detection_alert_name(det), after, [fired])]
    for check in checks:
        check["eval_time"] = f"{int(check['eval_time'][:-1]) * EXPIRY_STEP_DAYS}d"
    interval = f"{EXPIRY_STEP_DAYS}d"
    return {"rule_files": [rules_filename], "evaluation_interval": interval,
            "tests": [{"name": "an exception expires after its day: it alerts and stops hiding events",
                       "interval": interval, "input_series": series, "alert_rule_test": checks}]}


def rule_tests(stack: Stack, rules_filename: str, account_id: str | None = None) -> dict[str, Any]:
    times = eval_times(stack.settings)
    tests = [timeline_tests(stack, times, account_id), late_delivery_tests(stack, times, account_id),
             threshold_tests(stack, times, account_id)]
    tests += exception_tests(stack, times, account_id)
    tests += heartbeat_edge_tests(stack, account_id)
    tests.append(pipeline_tests(stack, account_id))
    tests += adapter_tests(stack, account_id)
    return {"rule_files": [rules_filename], "evaluation_interval": "1m", "tests": [t for t in tests if t]}


def render_rule_tests(stack: Stack, rules_filename: str, account_id: str | None = None) -> str:
    header = generated_header(stack, f"promtool unit tests for {rules_filename}: promtool test rules <this file>")
    return dump_yaml(rule_tests(stack, rules_filename, account_id), header)


def render_expiry_tests(stack: Stack, rules_filename: str, account_id: str | None = None) -> str | None:
    tests = expiry_tests(stack, rules_filename, account_id)
    if tests is None:
        return None
    header = generated_header(stack, f"promtool unit tests of exception expiry for {rules_filename}: promtool test "
                                     "rules <this file>")
    return dump_yaml(tests, header)
