"""MetricFilterSet: one CloudWatch Logs metric filter per enabled detection, optionally with Security Hub alarms,
and one more per (detection, noise exception) counting the matches that exception covers.

Filters write 1 per matching event and a default of 0, so CloudWatch records zeros while events flow: that is
what later lets the rules tell "quiet" from "broken". A detection's own filter never changes with exceptions
(Security Hub compares its pattern verbatim and its alarm keeps counting every event); the exception filters
only feed what pages (:mod:`trailwatch.exceptions`).
"""

import json
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence, TypedDict

import pulumi
import pulumi_aws as aws

from trailwatch import iam_documents as docs
from trailwatch.catalog import Detection, load_catalog
from trailwatch.contract import DEFAULT_METRIC_NAMESPACE
from trailwatch.errors import TrailwatchError
from trailwatch.settings import StackSettings
from trailwatch.stack import ExceptedFilter, excepted_filters, resolve_detections, resolve_exceptions

from .args import DETECTION_KEYS, argument_error, args_of, checked_settings, in_argument_terms
from .aws_context import AwsContext

CIS_ALARM_PERIOD_SECONDS = 300
DEFAULT_PREFIX = "trailwatch"
#: The MetricFilterSetArgs fields checked as stack config keys, and those keys.
FILTER_KEYS = {**DETECTION_KEYS, "security_hub_alarms": "securityHubAlarms", "alarm_emails": "alarmEmails",
               "alarm_https_endpoints": "alarmHttpsEndpoints"}


class ExceptedMetric(TypedDict):
    """The metric one exception filter writes: a detection's matches that one noise exception covers."""
    namespace: str
    """CloudWatch namespace of the metric (the detection's)."""
    metric: str
    """CloudWatch metric name (``<detection metric>Excepted<exception id>``)."""
    detection: str
    """The detection id."""
    exception: str
    """The exception's id (eight hex digits of its match)."""
    owner: str
    """Who answers for the exception."""
    expires: str
    """Its last day, YYYY-MM-DD (UTC)."""


class DetectionMetric(TypedDict):
    """The metric one filter writes, and what alerting on it needs to know."""
    namespace: str
    """CloudWatch namespace of the metric."""
    metric: str
    """CloudWatch metric name."""
    detection: str
    """The detection id."""
    severity: str
    """critical, high, warning or info."""
    threshold: int
    """Matching events within the alert window that make the detection fire."""


@dataclass
class MetricFilterSetArgs:
    """Plain data with the defaults and checks of the stack config keys of the same name (``enableDetections``,
    ...); None (or, through the provider, leaving a property out) means the default. The detection fields decide
    which resources exist, so they take values, not Outputs."""
    log_group_name: pulumi.Input[str]
    """The CloudWatch log group the filters read (TrailToLogs' logGroupName)."""
    name_prefix: Optional[str] = DEFAULT_PREFIX
    """Prefix of the AWS-side filter and alarm names; two sets on one log group or account need different ones."""
    enable_detections: Optional[Sequence[str]] = ()
    """Catalog detection ids to enable that are off by default."""
    disable_detections: Optional[Sequence[str]] = ()
    """Catalog detection ids to turn off."""
    detection_overrides: Optional[Mapping[str, Mapping[str, Any]]] = None
    """Per-detection {id: {threshold: N, severity: critical|high|warning|info}}, reported in the metrics output."""
    custom_detections: Optional[Sequence[Mapping[str, Any]]] = ()
    """Extra detections with the catalog's fields (id, title, severity, pattern, metric, description, runbook)."""
    metric_namespace: Optional[str] = DEFAULT_METRIC_NAMESPACE
    """CloudWatch namespace of the filters' metrics."""
    suspicious_ips: Optional[Sequence[str]] = ()
    """Source IPs (IPv4/IPv6 or wildcard prefixes like 203.0.113.*) for the suspicious_source_ips detection."""
    cis_compliance: Optional[bool] = False
    """Every CIS detection must stay enabled."""
    security_hub_alarms: Optional[bool] = False
    """Create a KMS-encrypted SNS topic and one CloudWatch alarm per CIS detection (Security Hub)."""
    alarm_emails: Optional[Sequence[str]] = ()
    """Email subscriptions to the alarm topic."""
    alarm_https_endpoints: Optional[Sequence[str]] = ()
    """HTTPS subscriptions to the alarm topic (always secret: a URL may carry a credential in its query)."""
    secret_alarm_emails: Optional[bool] = False
    """Register the email subscriptions' endpoints as secrets (the stack config holds alarmEmails as secret)."""
    secret_patterns: Optional[Sequence[str]] = ()
    """Ids of detections whose pattern comes from secret config (e.g. suspiciousIps): registered as secrets."""
    exceptions: Optional[Sequence[Mapping[str, Any]]] = ()
    """Noise exceptions, as the stack key ``exceptions``: {detections, reason, owner, expires, match}."""
    max_exception_days: Optional[int] = None
    """The furthest ahead an exception's expires date may be, in days (default 365)."""

    def settings(self) -> StackSettings:
        """These arguments as checked stack settings (None: the default); ComponentArgsError if one is invalid."""
        return checked_settings("MetricFilterSet", FILTER_KEYS, {name: getattr(self, name) for name in FILTER_KEYS})

    def detections(self) -> tuple[Detection, ...]:
        """The enabled detections, resolved as for a stack with these settings; ComponentArgsError if invalid."""
        settings = self.settings()
        try:
            return resolve_detections(load_catalog(), settings)
        except TrailwatchError as exc:
            raise argument_error("MetricFilterSet", exc, FILTER_KEYS) from None

    def excepted_filters(self, detections: tuple[Detection, ...]) -> list[ExceptedFilter]:
        """The exception filters, every check of the stack key applied (expiry against today, UTC)."""
        try:
            rules, warnings = resolve_exceptions(load_catalog(), self.settings(), detections)
        except TrailwatchError as exc:
            raise argument_error("MetricFilterSet", exc, FILTER_KEYS) from None
        for warning in warnings:
            pulumi.log.warn(f"MetricFilterSet: {in_argument_terms(warning, FILTER_KEYS)}")
        return excepted_filters(detections, rules)


class MetricFilterSet(pulumi.ComponentResource):
    """One CloudWatch Logs metric filter per enabled detection of the catalog (and custom ones), optionally with
    the Security Hub CIS alarms."""
    metrics: pulumi.Output[list[DetectionMetric]]
    """One entry per detection filter: namespace, metric, detection id, severity and threshold."""
    excepted_metrics: pulumi.Output[list[ExceptedMetric]]
    """One entry per exception filter: namespace, metric, detection id, exception id, owner and expiry."""
    alarm_topic_arn: pulumi.Output[Optional[str]]
    """The SNS topic of the Security Hub alarms (none unless securityHubAlarms)."""

    def __init__(self, name: str, args: MetricFilterSetArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = args_of(MetricFilterSetArgs, args, "MetricFilterSet")
        detections, settings = args.detections(), args.settings()
        prefix = args.name_prefix or DEFAULT_PREFIX
        super().__init__("trailwatch:index:MetricFilterSet", name, None, opts)
        secret = set(args.secret_patterns or ())
        excepted = args.excepted_filters(detections)
        for det in detections:
            self._filter(f"{name}-{det.id}", f"{prefix}-{det.id}", args.log_group_name, det.pattern or "",
                         det.id in secret, det.metric, det.namespace or "")
        for f in excepted:
            self._filter(f"{name}-{f.name}", f"{prefix}-{f.name}", args.log_group_name, f.pattern,
                         f.detection.id in secret, f.metric, f.namespace)
        self.metrics = pulumi.Output.from_input(
            [{"namespace": d.namespace, "metric": d.metric, "detection": d.id, "severity": d.severity,
              "threshold": d.threshold} for d in detections])
        self.excepted_metrics = pulumi.Output.from_input(
            [{"namespace": f.namespace, "metric": f.metric, "detection": f.detection.id, "exception": f.rule.id,
              "owner": f.rule.owner, "expires": f.rule.expires.isoformat()} for f in excepted])
        self.alarm_topic_arn = (self._alarms(name, prefix, settings, detections, bool(args.secret_alarm_emails))
                                if settings.security_hub_alarms
                                else pulumi.Output.from_input(None))
        self.register_outputs({"metrics": self.metrics, "exceptedMetrics": self.excepted_metrics,
                               "alarmTopicArn": self.alarm_topic_arn})

    def _filter(self, resource_name: str, aws_name: str, log_group_name: pulumi.Input[str], pattern: str,
                secret: bool, metric: str, namespace: str) -> None:
        """One filter writing 1 per matching event and 0 by default (a pattern from secret config stays secret)."""
        aws.cloudwatch.LogMetricFilter(
            resource_name, name=aws_name, log_group_name=log_group_name,
            pattern=pulumi.Output.secret(pattern) if secret else pattern,
            metric_transformation={"name": metric, "namespace": namespace, "value": "1", "default_value": "0",
                                   "unit": "Count"},
            opts=pulumi.ResourceOptions(parent=self))

    def _alarms(self, name: str, prefix: str, settings: StackSettings, detections: Sequence[Detection],
                secret_emails: bool) -> pulumi.Output[str]:
        child = pulumi.ResourceOptions(parent=self)
        ctx = AwsContext.lookup(self)
        key = aws.kms.Key(
            f"{name}-alarm-key", description="Encrypts the trailwatch Security Hub alarm topic",
            enable_key_rotation=True, deletion_window_in_days=30,
            policy=pulumi.Output.all(ctx.partition, ctx.account_id).apply(
                lambda v: json.dumps(docs.alarm_topic_key_policy(v[0], v[1]))),
            opts=child)
        topic = aws.sns.Topic(f"{name}-alarms", kms_master_key_id=key.arn, opts=child)
        for i, email in enumerate(settings.alarm_emails):
            aws.sns.TopicSubscription(f"{name}-alarms-email-{i}", topic=topic.arn, protocol="email",
                                      endpoint=pulumi.Output.secret(email) if secret_emails else email,
                                      opts=child)
        # A subscription URL may carry a credential (an API key in its query): always secret, in the input
        # and in the endpoint output.
        for i, url in enumerate(settings.alarm_https_endpoints):
            aws.sns.TopicSubscription(f"{name}-alarms-https-{i}", topic=topic.arn, protocol="https",
                                      endpoint=pulumi.Output.secret(url),
                                      opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["endpoint"]))
        for det in (d for d in detections if d.is_cis):
            label = det.security_hub_control or f"CIS-{next(iter(det.cis.values()))}"
            aws.cloudwatch.MetricAlarm(
                f"{name}-{det.id}-alarm", name=f"{prefix}-{label}-{det.metric}",
                alarm_description=f"{det.title} ({label}); created for Security Hub by trailwatch",
                namespace=det.namespace, metric_name=det.metric, statistic="Sum",
                period=CIS_ALARM_PERIOD_SECONDS, evaluation_periods=1, threshold=1,
                comparison_operator="GreaterThanOrEqualToThreshold", treat_missing_data="notBreaching",
                alarm_actions=[topic.arn], opts=child)
        return topic.arn
