"""MetricFilterSet: one CloudWatch Logs metric filter per enabled detection, optionally with Security Hub alarms.

Filters write 1 per matching event and a default of 0, so CloudWatch records zeros while events flow: that is
what later lets the rules tell "quiet" from "broken".
"""

import json
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Sequence, TypedDict

import pulumi
import pulumi_aws as aws

from trailwatch import aws_policies as docs
from trailwatch.catalog import DEFAULT_NAMESPACE, Detection, load_catalog
from trailwatch.errors import TrailwatchError
from trailwatch.settings import StackSettings
from trailwatch.stack import resolve_detections

from .args import ComponentArgsError, args_of, checked_settings
from .aws_context import AwsContext

CIS_ALARM_PERIOD_SECONDS = 300
DEFAULT_PREFIX = "trailwatch"


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
    metric_namespace: Optional[str] = DEFAULT_NAMESPACE
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

    def settings(self) -> StackSettings:
        """These arguments as checked stack settings (None: the default); ComponentArgsError if one is invalid."""
        return checked_settings("MetricFilterSet", {
            "enableDetections": self.enable_detections, "disableDetections": self.disable_detections,
            "detectionOverrides": self.detection_overrides, "customDetections": self.custom_detections,
            "metricNamespace": self.metric_namespace, "suspiciousIps": self.suspicious_ips,
            "cisCompliance": self.cis_compliance, "securityHubAlarms": self.security_hub_alarms,
            "alarmEmails": self.alarm_emails, "alarmHttpsEndpoints": self.alarm_https_endpoints,
        })

    def detections(self) -> tuple[Detection, ...]:
        """The enabled detections, resolved as for a stack with these settings; ComponentArgsError if invalid."""
        settings = self.settings()
        try:
            return resolve_detections(load_catalog(), settings)
        except TrailwatchError as exc:
            raise ComponentArgsError(f"MetricFilterSet: {exc}") from None


class MetricFilterSet(pulumi.ComponentResource):
    """One CloudWatch Logs metric filter per enabled detection of the catalog (and custom ones), optionally with
    the Security Hub CIS alarms."""
    metrics: pulumi.Output[list[DetectionMetric]]
    """One entry per filter: namespace, metric, detection id, severity and threshold."""
    alarm_topic_arn: pulumi.Output[Optional[str]]
    """The SNS topic of the Security Hub alarms (none unless securityHubAlarms)."""

    def __init__(self, name: str, args: MetricFilterSetArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = args_of(MetricFilterSetArgs, args, "MetricFilterSet")
        detections, settings = args.detections(), args.settings()
        prefix = args.name_prefix or DEFAULT_PREFIX
        super().__init__("trailwatch:index:MetricFilterSet", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        for det in detections:
            aws.cloudwatch.LogMetricFilter(
                f"{name}-{det.id}", name=f"{prefix}-{det.id}", log_group_name=args.log_group_name,
                pattern=pulumi.Output.secret(det.pattern) if det.id in (args.secret_patterns or ()) else det.pattern,
                metric_transformation={"name": det.metric, "namespace": det.namespace, "value": "1",
                                       "default_value": "0", "unit": "Count"},
                opts=child)
        self.metrics = pulumi.Output.from_input(
            [{"namespace": d.namespace, "metric": d.metric, "detection": d.id, "severity": d.severity,
              "threshold": d.threshold} for d in detections])
        self.alarm_topic_arn = (self._alarms(name, prefix, settings, detections, bool(args.secret_alarm_emails))
                                if settings.security_hub_alarms
                                else pulumi.Output.from_input(None))
        self.register_outputs({"metrics": self.metrics, "alarmTopicArn": self.alarm_topic_arn})

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
