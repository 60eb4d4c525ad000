"""Coverage policies (stack policies): every metric filter is alerted on, and CIS stacks keep every CIS filter.

Alert rules are read from wherever the stack puts them: ``PrometheusRule`` resources (Kubernetes), and rule
files carried as text in stack outputs (``prometheusRules`` for the docker/none runtimes), ConfigMaps or
Docker uploads. A metric filter's series name is what cloudwatch_exporter serves for its Sum statistic
(``trailwatch.naming.exporter_metric_name``), which is what the rules must reference.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Iterator, Mapping

import yaml
from pulumi_policy import (
    EnforcementLevel, PolicyConfigSchema, ReportViolation, Severity, StackValidationArgs, StackValidationPolicy,
)

from ..catalog import YAML_LOADER, load_catalog
from ..naming import exporter_metric_name
from ._common import STACK_TYPE, UNKNOWN, as_list, dig, plain, stack_flag

MANDATORY = EnforcementLevel.MANDATORY
LOG_METRIC_FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
DOCKER_CONTAINER = "docker:index/container:Container"


def _rule_file(text: Any) -> list[Mapping] | None:
    """The groups of a Prometheus rule file given as YAML text, or None when ``text`` is not one."""
    if not isinstance(text, str) or "groups" not in text:
        return None
    try:
        doc = yaml.load(text, Loader=YAML_LOADER)  # noqa: S506 (a safe loader: C SafeLoader when available)
    except yaml.YAMLError:
        return None
    groups = doc.get("groups") if isinstance(doc, Mapping) else None
    return [g for g in groups if isinstance(g, Mapping)] if isinstance(groups, list) else None


def rule_groups(resources: list) -> Iterator[tuple[str, list[Mapping]]]:
    """``(source, groups)`` for every place in the stack that carries Prometheus rules."""
    for res in resources:
        rtype = res.resource_type
        if rtype not in (PROMETHEUS_RULE, STACK_TYPE, CONFIG_MAP, DOCKER_CONTAINER):
            continue
        props = plain(res.props)
        if rtype == PROMETHEUS_RULE:
            groups = dig(props, "spec", "groups")
            if isinstance(groups, list):
                yield f"PrometheusRule {res.name}", [g for g in groups if isinstance(g, Mapping)]
        elif rtype == STACK_TYPE:
            for key, value in props.items():
                groups = _rule_file(value)
                if groups is not None:
                    yield f"stack output {key}", groups
        elif rtype == CONFIG_MAP:
            for key, value in (props.get("data") or {}).items() if isinstance(props.get("data"), Mapping) else ():
                groups = _rule_file(value)
                if groups is not None:
                    yield f"ConfigMap {res.name} {key}", groups
        else:
            for upload in as_list(props.get("uploads")):
                groups = _rule_file(dig(upload, "content"))
                if groups is not None:
                    yield f"container {res.name} {dig(upload, 'file')}", groups


def alerts_on(metric_name: str, sources: list[tuple[str, list[Mapping]]]) -> list[str]:
    """The alerting rules (``"<alert> in <source>"``) whose expression references ``metric_name`` as a whole
    series name; a rule deployed twice counts twice."""
    token = re.compile(r"(?<![A-Za-z0-9_:])" + re.escape(metric_name) + r"(?![A-Za-z0-9_:])")
    found = []
    for source, groups in sources:
        for group in groups:
            for rule in as_list(group.get("rules")):
                if isinstance(rule, Mapping) and "alert" in rule and token.search(str(rule.get("expr", ""))):
                    found.append(f"{rule['alert']} in {source}")
    return found


def _filter_metric(props: Mapping) -> tuple[Any, Any]:
    transformation = props.get("metricTransformation")
    if isinstance(transformation, list):  # older schemas: a one-element list
        transformation = transformation[0] if transformation else None
    return dig(transformation, "namespace"), dig(transformation, "name")


def _one_alert_per_filter(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    statistic = (args.get_config() or {}).get("statistic", "Sum")
    filters = [r for r in args.resources if r.resource_type == LOG_METRIC_FILTER]
    if not filters:
        return
    sources = list(rule_groups(args.resources))
    hint = "" if sources else (" No Prometheus rules were found in the stack (a PrometheusRule resource or a "
                               "prometheusRules output).")
    for res in filters:
        namespace, metric = _filter_metric(plain(res.props))
        if not isinstance(namespace, str) or not isinstance(metric, str):
            continue  # unknown during preview
        series = exporter_metric_name(namespace, metric, statistic)
        alerts = alerts_on(series, sources)
        if len(alerts) != 1:
            shown = f": {'; '.join(alerts)}" if alerts else ""
            report_violation(f"metric {namespace}/{metric} (exported as {series}) has {len(alerts)} alert rules"
                             f"{shown}; expected exactly one.{hint}", res.urn)


@lru_cache(maxsize=1)
def _cis_detections() -> tuple:
    return tuple(d for d in load_catalog() if d.is_cis)


def _cis_complete(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    config = args.get_config() or {}
    cis = stack_flag("cisCompliance") or bool(config.get("alwaysRequireCis"))
    alarms = stack_flag("securityHubAlarms")
    if not (cis or alarms):
        return
    stack_urn = next((r.urn for r in args.resources if r.resource_type == STACK_TYPE), None)
    filters: dict[str, tuple[Any, Any]] = {}
    for res in args.resources:
        if res.resource_type == LOG_METRIC_FILTER:
            props = plain(res.props)
            pattern = props.get("pattern")
            if pattern is UNKNOWN:
                return  # cannot compare during preview
            if isinstance(pattern, str):
                filters[pattern] = _filter_metric(props)
    alarmed = set()
    for res in args.resources:
        if res.resource_type == METRIC_ALARM:
            props = plain(res.props)
            if as_list(props.get("alarmActions")):
                alarmed.add((props.get("namespace"), props.get("metricName")))
    why = "cisCompliance" if cis else "securityHubAlarms"
    for det in _cis_detections():
        control = det.security_hub_control or ", ".join(f"CIS {v} {r}" for v, r in sorted(det.cis.items()))
        if det.pattern not in filters:
            report_violation(f"CIS detection {det.id} ({control}) has no metric filter with its exact pattern "
                             f"(Security Hub compares the pattern string), but the stack sets {why}.", stack_urn)
        elif alarms and filters[det.pattern] not in alarmed:
            namespace, metric = filters[det.pattern]
            report_violation(f"CIS detection {det.id} ({control}): no CloudWatch alarm with an action on "
                             f"{namespace}/{metric}, which Security Hub requires.", stack_urn)


POLICIES = [
    StackValidationPolicy(
        name="every-filter-has-one-alert",
        description="Every CloudWatch Logs metric filter has exactly one Prometheus alert rule on the series "
                    "cloudwatch_exporter exports for it, so no detection is silently unalerted or doubly paged.",
        validate=_one_alert_per_filter, enforcement_level=MANDATORY, severity=Severity.HIGH,
        config_schema=PolicyConfigSchema(properties={"statistic": {
            "type": "string", "enum": ["Sum", "SampleCount", "Minimum", "Maximum", "Average"], "default": "Sum",
            "description": "The CloudWatch statistic the exporter is configured to read."}})),
    StackValidationPolicy(
        name="cis-detections-complete",
        description="When the stack targets CIS / Security Hub (trailwatch:cisCompliance or securityHubAlarms), "
                    "every CIS detection of the catalog has its metric filter with the exact pattern, and with "
                    "securityHubAlarms an alarm with an action on its metric.",
        validate=_cis_complete, enforcement_level=MANDATORY, severity=Severity.HIGH,
        config_schema=PolicyConfigSchema(properties={"alwaysRequireCis": {
            "type": "boolean", "default": False,
            "description": "Require the CIS detections even when the stack config does not ask for them."}})),
]
