"""MetricFilterSet: one CloudWatch Logs metric filter per enabled detection, optionally with Security Hub alarms.

Filters write 1 per matching event and a default of 0, so CloudWatch records zeros while events flow: that is
what later lets the rules tell "quiet" from "broken".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from trailwatch import aws_policies as docs
from trailwatch.catalog import DEFAULT_NAMESPACE, Detection, load_catalog
from trailwatch.errors import TrailwatchError
from trailwatch.stack import resolve_detections

from .args import ComponentArgsError, checked_settings
from .aws_context import AwsContext

CIS_ALARM_PERIOD_SECONDS = 300


@dataclass
class MetricFilterSetArgs:
    """Plain data, checked as the stack config keys of the same name (``enableDetections``, ...), with their
    defaults. The detection fields decide which resources exist, so they take values, not Outputs."""
    log_group_name: pulumi.Input[str]
    name_prefix: str = "trailwatch"
    """Prefix of the AWS-side filter and alarm names: they share one namespace per log group / account and
    region, so two stacks must not use the same prefix."""
    enable_detections: Sequence[str] = ()
    """Catalog ids to enable that are off by default (``trailwatch.catalog.list_detections()`` lists them)."""
    disable_detections: Sequence[str] = ()
    detection_overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """``{id: {"threshold": N, "severity": "high"}}``: not part of a filter, reported in the ``metrics`` output
    for the alerting built on it."""
    custom_detections: Sequence[Mapping[str, Any]] = ()
    """Extra detections as dicts with the catalog's fields (id, title, severity, pattern, metric, ...)."""
    metric_namespace: str = DEFAULT_NAMESPACE
    suspicious_ips: Sequence[str] = ()
    cis_compliance: bool = False
    security_hub_alarms: bool = False
    alarm_emails: Sequence[str] = ()
    alarm_https_endpoints: Sequence[str] = ()

    def detections(self) -> tuple[Detection, ...]:
        """The enabled detections, resolved as for a stack with these settings; ComponentArgsError if invalid."""
        settings = checked_settings("MetricFilterSet", {
            "enableDetections": self.enable_detections, "disableDetections": self.disable_detections,
            "detectionOverrides": self.detection_overrides, "customDetections": self.custom_detections,
            "metricNamespace": self.metric_namespace, "suspiciousIps": self.suspicious_ips,
            "cisCompliance": self.cis_compliance, "securityHubAlarms": self.security_hub_alarms,
            "alarmEmails": self.alarm_emails, "alarmHttpsEndpoints": self.alarm_https_endpoints,
        })
        try:
            return resolve_detections(load_catalog(), settings)
        except TrailwatchError as exc:
            raise ComponentArgsError(f"MetricFilterSet: {exc}") from None


class MetricFilterSet(pulumi.ComponentResource):
    metrics: pulumi.Output[list]
    alarm_topic_arn: pulumi.Output[Optional[str]]

    def __init__(self, name: str, args: MetricFilterSetArgs, opts: Optional[pulumi.ResourceOptions] = None):
        detections = args.detections()
        super().__init__("trailwatch:index:MetricFilterSet", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        for det in detections:
            aws.cloudwatch.LogMetricFilter(
                f"{name}-{det.id}", name=f"{args.name_prefix}-{det.id}", log_group_name=args.log_group_name,
                pattern=det.pattern,
                metric_transformation={"name": det.metric, "namespace": det.namespace, "value": "1",
                                       "default_value": "0", "unit": "Count"},
                opts=child)
        self.metrics = pulumi.Output.from_input(
            [{"namespace": d.namespace, "metric": d.metric, "detection": d.id, "severity": d.severity,
              "threshold": d.threshold} for d in detections])
        self.alarm_topic_arn = (self._alarms(name, args, detections) if args.security_hub_alarms
                                else pulumi.Output.from_input(None))
        self.register_outputs({"metrics": self.metrics, "alarmTopicArn": self.alarm_topic_arn})

    def _alarms(self, name: str, args: MetricFilterSetArgs, detections: Sequence[Detection]) -> pulumi.Output[str]:
        child = pulumi.ResourceOptions(parent=self)
        ctx = AwsContext.lookup(self)
        key = aws.kms.Key(
            f"{name}-alarm-key", description="Encrypts the trailwatch Security Hub alarm topic",
            enable_key_rotation=True, deletion_window_in_days=30,
            policy=pulumi.Output.all(ctx.partition, ctx.account_id).apply(
                lambda v: json.dumps(docs.alarm_topic_key_policy(v[0], v[1]))),
            opts=child)
        topic = aws.sns.Topic(f"{name}-alarms", kms_master_key_id=key.arn, opts=child)
        for i, email in enumerate(args.alarm_emails):
            aws.sns.TopicSubscription(f"{name}-alarms-email-{i}", topic=topic.arn, protocol="email",
                                      endpoint=email, opts=child)
        for i, url in enumerate(args.alarm_https_endpoints):
            aws.sns.TopicSubscription(f"{name}-alarms-https-{i}", topic=topic.arn, protocol="https",
                                      endpoint=url, opts=child)
        for det in (d for d in detections if d.is_cis):
            label = det.security_hub_control or f"CIS-{next(iter(det.cis.values()))}"
            aws.cloudwatch.MetricAlarm(
                f"{name}-{det.id}-alarm", name=f"{args.name_prefix}-{label}-{det.metric}",
                alarm_description=f"{det.title} ({label}); created for Security Hub by trailwatch",
                namespace=det.namespace, metric_name=det.metric, statistic="Sum",
                period=CIS_ALARM_PERIOD_SECONDS, evaluation_periods=1, threshold=1,
                comparison_operator="GreaterThanOrEqualToThreshold", treat_missing_data="notBreaching",
                alarm_actions=[topic.arn], opts=child)
        return topic.arn
