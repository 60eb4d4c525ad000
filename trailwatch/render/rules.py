"""The Prometheus rule file: one alert per enabled detection, plus the pipeline's own health alerts.

The exporter serves each detection as a sliding-window sum (:mod:`trailwatch.readpath`): at every scrape, the
number of matching events delivered so far whose event time lies in the last ``alertWindowMinutes``, stamped
with the scrape time. So the detection expression is
``sum(max_over_time(<name>{trailwatch_stack="<stack>"}[hold])) >= threshold`` with no ``for:``: the current value
already is "events in the window"; ``max_over_time`` over a few scrapes (``hold``) only keeps a firing alert
from resolving and firing again (a second card) while scrapes fail. ``rate()`` would be wrong on this gauge.

A detection with noise exceptions (:mod:`trailwatch.exceptions`) pages on its matches minus each exception's
count, and only once that difference has held for the exception guard (:func:`detection_expr`); its alert says
what was excepted, and each exception gets a ``TrailwatchExceptionExpired`` alert for after its date.

Every selector carries ``trailwatch_stack``: the scrape adds it (``render.scrape`` / the ServiceMonitor), so
stacks sharing a Prometheus never fire on each other's series, and each heartbeat watches its own trail.

The heartbeat gets no event alert: it counts every delivered CloudTrail record over ``heartbeatMissingMinutes``
and fires when that sum is 0 (``or vector(0)`` makes "no series at all" count too, so a blind pipeline
alerts): delivery stopped, or flows later than the window. A short ``for:`` keeps a Prometheus that has not
scraped yet from paging.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Mapping

from ..catalog import Detection
from .. import readpath
from ..contract import (
    ADAPTER_CARDS_FAILED, ADAPTER_MODE, ADAPTER_NOTIFICATIONS, ADAPTER_REQUESTS_REJECTED, ADAPTER_SCRAPE_JOB,
    ALERT_EXCEPTION_EXPIRED, ALERT_EXPORTER_DOWN, ALERT_HEARTBEAT_MISSING, ALERT_SCRAPE_ERRORS, ALERT_TEAMS_FAILING,
    COMPONENT_ALERTMANAGER, COMPONENT_CLOUDTRAIL, COMPONENT_EXCEPTIONS, COMPONENT_EXPORTER, COMPONENT_LABEL,
    DETECTION_LABEL, EXPORTER_PORT, EXPORTER_SCRAPE_JOB, KUBERNETES, NAMESPACE_LABEL, NATIVE_MODE, NOTIFICATION_FAILED,
    PIPELINE_ALERTS, PIPELINE_SEVERITIES, SEVERITY_LABEL, STACK_LABEL, TEAMS_INTEGRATION, TRAILWATCH_LABEL,
    TRAILWATCH_VALUE, detection_alert_name,
)
from ..errors import CatalogError
from ..settings import StackSettings
from ..exceptions import ExceptionRule
from ..series import excepted_name, exported_name, stack_selector
from ..stack import (
    ExceptedFilter, Stack, event_detections, heartbeat_detections, log_group_name, secret_pattern_ids,
    stack_excepted_filters,
)
from .durations import duration
from .insights import MIN_LOOKBACK_SECONDS, logs_insights_url, query_for
from .options import check_account_id
from .yaml_text import dump_yaml, generated_header

DETECTION_GROUP = "trailwatch-detections"
PIPELINE_GROUP = "trailwatch-pipeline"
#: ``$value`` as Prometheus expands it in annotation templates.
VALUE = "{{ $value }}"
HEARTBEAT_QUERY = "fields @timestamp, eventSource, eventName, awsRegion\n| sort @timestamp desc\n| limit 50"


def as_written(text: str) -> str:
    return text


def text_of(template: bool) -> Callable[[str], str]:
    """How catalog and config text goes into an annotation: protected for Prometheus' templating, or (for the
    expanded text promtool expects) as written."""
    return literal if template else as_written


def literal(text: str) -> str:
    """Catalog text placed in an annotation template verbatim, even if it contains ``{{`` or ``}}``."""
    if "{{" not in text and "}}" not in text:
        return text
    return "{{ " + json.dumps(text) + " }}"


def _lookback(stack: Stack) -> int:
    s = stack.settings
    return max(MIN_LOOKBACK_SECONDS, 2 * s.alert_window_minutes * 60 + s.delivery_lag_tolerance_minutes * 60)


def base_labels(stack: Stack, severity: str) -> dict[str, str]:
    """Labels on every trailwatch alert. ``namespace`` only on Kubernetes: an AlertmanagerConfig only sees
    alerts whose ``namespace`` equals its own. This is the one place that adds it (AlertRules deploys these
    rules as they are)."""
    labels = {SEVERITY_LABEL: severity, TRAILWATCH_LABEL: TRAILWATCH_VALUE, STACK_LABEL: stack.name}
    if stack.settings.runtime == KUBERNETES:
        labels[NAMESPACE_LABEL] = stack.settings.kubernetes_namespace
    return labels


def pipeline_labels(stack: Stack, alert: str, component: str) -> dict[str, str]:
    """Labels of a pipeline alert: its severity from the contract's table, and the part of the pipeline it is
    about (the adapter's card says what is broken from it)."""
    return {**base_labels(stack, PIPELINE_SEVERITIES[alert]), COMPONENT_LABEL: component}


def compliance_text(det: Detection) -> str:
    parts = []
    if det.security_hub_control:
        parts.append(f"Security Hub {det.security_hub_control}")
    if det.cis:
        parts.append("CIS " + ", ".join(f"{v} {rec}" for v, rec in sorted(det.cis.items(), key=_version_key)))
    return "; ".join(parts)


def _version_key(item: tuple[str, str]) -> tuple:
    return tuple(int(p) if p.isdigit() else 0 for p in item[0].lstrip("v").split("."))


def latest_cis(det: Detection) -> str:
    """The newest benchmark's recommendation, e.g. ``v6.0.0 5.3``; labels stay short and stable."""
    version, rec = max(det.cis.items(), key=_version_key)
    return f"{version} {rec}"


def detection_labels(stack: Stack, det: Detection) -> dict[str, str]:
    labels = base_labels(stack, det.severity)
    labels[DETECTION_LABEL] = det.id
    if det.security_hub_control:
        labels["security_hub_control"] = det.security_hub_control
    if det.cis:
        labels["cis"] = latest_cis(det)
    return labels


def _common_annotations(stack: Stack, account_id: str | None) -> dict[str, str]:
    out = {"aws_region": stack.settings.region, "log_group": log_group_name(stack)}
    if account_id:
        out["aws_account_id"] = account_id
    return out


def detection_annotations(stack: Stack, det: Detection, value: str = VALUE, account_id: str | None = None,
                          template: bool = True, excepted: Mapping[str, int] | None = None) -> dict[str, str]:
    """Annotations of a detection alert. ``value``/``template=False``/``excepted`` (exception id -> count) give
    the expanded text promtool expects."""
    s = stack.settings
    text = text_of(template)
    tuned = bool(tuned_filters(stack, det))
    description = (f"{value} matching CloudTrail event(s){' not covered by an exception' if tuned else ''} with "
                   f"event times within {duration(s.alert_window_minutes * 60)} (alert threshold {det.threshold}). ")
    out = {
        "summary": text(det.title),
        "description": description + text(det.description),
        "runbook": text(det.runbook),
        "logs_insights_url": logs_insights_url(s.region, log_group_name(stack), query_for(det, det.id in secret_pattern_ids(stack)),
                                             _lookback(stack)),
    }
    compliance = compliance_text(det)
    if compliance:
        out["compliance"] = compliance
    if tuned:
        out["excepted"] = excepted_annotation(stack, det, None if template else (excepted or {}))
    out.update(_common_annotations(stack, account_id))
    return out


def detection_hold(settings: StackSettings) -> int:
    """Seconds a detection's max_over_time looks back: bridges failed scrapes without resolving the alert."""
    return readpath.detection_hold_seconds(settings.scrape_interval_seconds)


def tuned_filters(stack: Stack, det: Detection) -> list[ExceptedFilter]:
    return [f for f in stack_excepted_filters(stack) if f.detection.id == det.id]


def excepted_expr(stack: Stack, f: ExceptedFilter) -> str:
    """One exception's count while it applies: 0 when its series is absent (fail open: never blind), and 0 once
    its expiry has passed (an expired exception no longer hides anything)."""
    return (f"(sum({excepted_name(stack, f)}{stack_selector(stack)}) or vector(0)) "
            f"* (vector(time()) < bool {int(f.rule.expires_at.timestamp())})")


def paged_expr(stack: Stack, det: Detection) -> str:
    """Matches minus excepted events, in the window: what a tuned detection pages on."""
    parts = [f"sum({exported_name(stack, det)}{stack_selector(stack)})"]
    parts += [f"({excepted_expr(stack, f)})" for f in tuned_filters(stack, det)]
    return " - ".join(parts)


def detection_expr(stack: Stack, det: Detection) -> str:
    """Untuned: the window sum, held over failed scrapes. Tuned: ``matches - excepted`` must hold for the
    exception guard (:func:`trailwatch.readpath.exception_guard_seconds`) before the hold applies, so a
    difference left by excepted events whose two counts were read at different times never pages."""
    s = stack.settings
    hold = duration(detection_hold(s))
    if not tuned_filters(stack, det):
        return f"sum(max_over_time({exported_name(stack, det)}{stack_selector(stack)}[{hold}])) >= {det.threshold}"
    step = duration(s.scrape_interval_seconds)
    guard = duration(readpath.exception_guard_seconds(s.scrape_interval_seconds))
    return (f"max_over_time(min_over_time(({paged_expr(stack, det)})[{guard}:{step}])[{hold}:{step}]) "
            f">= {det.threshold}")


def _count_template(query: str) -> str:
    return "{{ with query `" + query + "` }}{{ range . }}{{ .Value | printf \"%.0f\" }}{{ end }}{{ else }}0{{ end }}"


def excepted_annotation(stack: Stack, det: Detection, counts: Mapping[str, int] | None = None) -> str:
    """What the card says about the noise it did not page for: per exception, its count in the window.
    ``counts`` (exception id -> count) gives the expanded text promtool expects; None gives the template."""
    parts = []
    for f in tuned_filters(stack, det):
        query = f"sum({excepted_name(stack, f)}{stack_selector(stack)})"
        count = _count_template(query) if counts is None else str(counts.get(f.rule.id, 0))
        text = text_of(counts is None)
        parts.append(f"{count} by {text(repr(f.rule.reason))} (owner {text(f.rule.owner)}, exception {f.rule.id}, "
                     f"until {f.rule.expires})")
    return "; ".join(parts)


def detection_rule(stack: Stack, det: Detection, account_id: str | None = None) -> dict[str, Any]:
    return {
        "alert": detection_alert_name(det),
        "expr": detection_expr(stack, det),
        "labels": detection_labels(stack, det),
        "annotations": detection_annotations(stack, det, account_id=account_id),
    }


def expired_rule(stack: Stack, rule: ExceptionRule, template: bool = True) -> dict[str, Any]:
    """Fires from the first second after an exception's expiry day until the stack is redeployed without it.
    ``template=False``: the expanded annotation text promtool expects."""
    text = text_of(template)
    return {
        "alert": ALERT_EXCEPTION_EXPIRED,
        "expr": f"vector(time()) >= {int(rule.expires_at.timestamp())}",
        "labels": {**pipeline_labels(stack, ALERT_EXCEPTION_EXPIRED, COMPONENT_EXCEPTIONS), "exception": rule.id},
        "annotations": {
            "summary": f"Noise exception {rule.id} expired on {rule.expires}",
            "description": (f"Exception {rule.id} of stack {stack.name} ({text(repr(rule.reason))}, owner "
                            f"{text(rule.owner)}) on {', '.join(rule.detections)} expired on {rule.expires} (UTC "
                            "end of day). It no longer hides anything: its events page again."),
            "runbook": ("Review the exception with its owner: renew it with a new expires date or remove it from "
                        "trailwatch:exceptions, then redeploy the stack."),
            "owner": text(rule.owner),
        },
    }


def heartbeat_expr(stack: Stack, det: Detection) -> str:
    return f"(sum({exported_name(stack, det)}{stack_selector(stack)}) or vector(0)) < 1"


def heartbeat_labels(stack: Stack, det: Detection) -> dict[str, str]:
    labels = base_labels(stack, det.severity)
    labels.update({DETECTION_LABEL: det.id, COMPONENT_LABEL: COMPONENT_CLOUDTRAIL})
    return labels


def heartbeat_annotations(stack: Stack, det: Detection, account_id: str | None = None,
                          template: bool = True) -> dict[str, str]:
    s = stack.settings
    text = text_of(template)
    out = {
        "summary": "CloudTrail events stopped arriving",
        "description": (f"No CloudTrail event with an event time in the last "
                        f"{duration(s.heartbeat_missing_minutes * 60)} has reached {log_group_name(stack)} (counted by "
                        f"the {det.metric} metric filter): the trail stopped logging, delivery to CloudWatch Logs "
                        "broke or runs later than that, or the exporter cannot read CloudWatch. Events delivered "
                        f"more than {s.delivery_lag_tolerance_minutes} minutes late may never alert."),
        "runbook": text(det.runbook),
        "logs_insights_url": logs_insights_url(s.region, log_group_name(stack), HEARTBEAT_QUERY, _lookback(stack)),
    }
    out.update(_common_annotations(stack, account_id))
    return out


def heartbeat_for(settings: StackSettings) -> int:
    """Seconds the heartbeat must stay missing: a Prometheus that has not scraped the exporter yet (fresh
    start) evaluates the rule on no data at all, and one failed scrape marks the series stale; neither must
    page anyone. A few scrapes, never under 30 s (Prometheus starts scraping up to 5 s late)."""
    return readpath.heartbeat_for_seconds(settings.scrape_interval_seconds)


def heartbeat_rule(stack: Stack, det: Detection, account_id: str | None = None) -> dict[str, Any]:
    return {
        "alert": ALERT_HEARTBEAT_MISSING,
        "expr": heartbeat_expr(stack, det),
        "for": duration(heartbeat_for(stack.settings)),
        "labels": heartbeat_labels(stack, det),
        "annotations": heartbeat_annotations(stack, det, account_id=account_id),
    }


def exporter_down_for(stack: Stack) -> int:
    """Seconds ``up == 0`` must hold: five missed scrapes (5 minutes at the shipped interval), at least 30 s."""
    return readpath.exporter_down_for_seconds(stack.settings.scrape_interval_seconds)


def scrape_errors_for(stack: Stack) -> int:
    """Seconds scrape errors must persist. Every scrape re-reads the whole window, so errors lose nothing while
    the delivery lag plus the error time stays within the lag budget; at the tolerated lag, the budget's
    margin over the tolerance is what an error burst may last (never less than three scrapes)."""
    s = stack.settings
    margin = readpath.lag_budget_seconds(s.alert_window_minutes, s.exporter_delay_seconds,
                                         s.scrape_interval_seconds) - s.delivery_lag_tolerance_minutes * 60
    return max(margin, 3 * s.scrape_interval_seconds, readpath.MIN_HOLD_SECONDS)


TEAMS_FAILING_WINDOW = 600
TEAMS_FAILING_FOR = 300


def pipeline_rules(stack: Stack, account_id: str | None = None) -> list[dict[str, Any]]:
    """Exporter down, exporter scrape errors and Teams notifications failing."""
    job = stack_selector(stack, job=EXPORTER_SCRAPE_JOB)
    common = _common_annotations(stack, account_id)
    return [
        {
            "alert": ALERT_EXPORTER_DOWN,
            "expr": f"up{job} == 0",
            "for": duration(exporter_down_for(stack)),
            "labels": pipeline_labels(stack, ALERT_EXPORTER_DOWN, COMPONENT_EXPORTER),
            "annotations": {
                "summary": "cloudwatch_exporter is down: CloudTrail detections are blind",
                "description": (f"Prometheus cannot scrape the {EXPORTER_SCRAPE_JOB} target. No detection can "
                                "fire until it is back."),
                "runbook": (f"Check the exporter's pod/container logs and /-/healthy on port {EXPORTER_PORT}, the "
                            "scrape target's address, and network policy between Prometheus and the exporter."),
                **common,
            },
        },
        {
            "alert": ALERT_SCRAPE_ERRORS,
            "expr": f"cloudwatch_exporter_scrape_error{job} > 0",
            "for": duration(scrape_errors_for(stack)),
            "labels": pipeline_labels(stack, ALERT_SCRAPE_ERRORS, COMPONENT_EXPORTER),
            "annotations": {
                "summary": "cloudwatch_exporter cannot read CloudWatch",
                "description": (f"Every scrape for {duration(scrape_errors_for(stack))} reported an error: events "
                                f"delivered close to the {stack.settings.delivery_lag_tolerance_minutes}-minute "
                                "tolerance may leave the read window before a scrape succeeds."),
                "runbook": ("Read the exporter logs: usually missing cloudwatch:GetMetricStatistics / "
                            "ListMetrics permission, expired credentials, a wrong region or API throttling."),
                **common,
            },
        },
        teams_failing_rule(stack, common),
    ]


def teams_failing_expr(stack: Stack) -> str:
    """Adapter mode: this stack's adapter failed a card or refused a request (a wrong token, an oversized or
    invalid body: Alertmanager's notification is lost either way), or cannot be scraped. Native mode:
    Alertmanager's msteamsv2 failures, which carry no receiver label, so any msteamsv2 receiver counts."""
    window = duration(TEAMS_FAILING_WINDOW)
    if stack.settings.teams_mode == ADAPTER_MODE:
        own = stack_selector(stack, job=ADAPTER_SCRAPE_JOB)
        failed = stack_selector(stack, job=ADAPTER_SCRAPE_JOB, result=NOTIFICATION_FAILED)
        return (f"sum(increase({ADAPTER_NOTIFICATIONS}_total{failed}[{window}])) "
                f"+ sum(increase({ADAPTER_REQUESTS_REJECTED}_total{own}[{window}])) > 0 "
                f"or up{own} == 0")
    return (f'sum by (integration) (increase(alertmanager_notifications_failed_total'
            f'{{integration="{TEAMS_INTEGRATION[NATIVE_MODE]}"}}[{window}])) > 0')


def teams_failing_rule(stack: Stack, common: dict[str, str]) -> dict[str, Any]:
    adapter = stack.settings.teams_mode == ADAPTER_MODE
    return {
        "alert": ALERT_TEAMS_FAILING,
        "expr": teams_failing_expr(stack),
        "for": duration(TEAMS_FAILING_FOR),
        "labels": pipeline_labels(stack, ALERT_TEAMS_FAILING, COMPONENT_ALERTMANAGER),
        "annotations": {
            "summary": "Alertmanager cannot deliver notifications to Microsoft Teams",
            "description": (("This stack's Teams adapter failed to deliver cards, refused Alertmanager's requests "
                             "or cannot be scraped" if adapter else
                             "alertmanager_notifications_failed_total"
                             f"{{integration=\"{TEAMS_INTEGRATION[NATIVE_MODE]}\"}}"
                             " keeps increasing")
                            + ": security alerts are not reaching Teams. This alert itself may not reach Teams "
                              "either: watch for it in Alertmanager or route it elsewhere."),
            "runbook": (("Check the trailwatch Teams adapter's logs, its /metrics "
                         f"({ADAPTER_CARDS_FAILED}_total and {ADAPTER_REQUESTS_REJECTED}_total by "
                         "reason: unauthorized means Alertmanager's credentials_file does not hold the adapter's "
                         "token) and its Teams Workflows URL." if adapter else
                         "Check Alertmanager's logs for msteamsv2 errors and that webhook_url_file holds a "
                         "valid Teams Workflows URL.")
                        + " A 4xx from Teams usually means the workflow was deleted or its URL rotated."),
            **common,
        },
    }


def check_alert_names(stack: Stack) -> None:
    seen = {name: "the pipeline" for name in PIPELINE_ALERTS}
    for det in event_detections(stack):
        name = detection_alert_name(det)
        if name in seen:
            raise CatalogError(f"detection '{det.id}': alert name {name} is already used by {seen[name]}; "
                               f"choose another id")
        seen[name] = f"detection '{det.id}'"


def rule_groups(stack: Stack, account_id: str | None = None) -> dict[str, Any]:
    """``{groups: [...]}``: detections in one group, heartbeat and pipeline health in another."""
    check_account_id(account_id)
    check_alert_names(stack)
    detections = [detection_rule(stack, det, account_id) for det in event_detections(stack)]
    pipeline = [heartbeat_rule(stack, det, account_id) for det in heartbeat_detections(stack)]
    pipeline += pipeline_rules(stack, account_id)
    pipeline += [expired_rule(stack, rule) for rule in stack.exceptions]
    groups = []
    if detections:
        groups.append({"name": DETECTION_GROUP, "rules": detections})
    groups.append({"name": PIPELINE_GROUP, "rules": pipeline})
    return {"groups": groups}


def render_rules(stack: Stack, account_id: str | None = None) -> str:
    header = generated_header(stack, "Prometheus alerting rules for trailwatch (rule_files: in prometheus.yml).")
    return dump_yaml(rule_groups(stack, account_id), header)
