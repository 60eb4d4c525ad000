"""The whole pipeline as one function of a validated stack, shared by ``__main__.py`` and the Automation API."""

from __future__ import annotations

from typing import Any

import pulumi

from trailwatch.stack import Stack, log_group_name, trail_name

from .metric_filter_set import MetricFilterSet, MetricFilterSetArgs
from .trail_to_logs import TrailToLogs, TrailToLogsArgs

COMPONENT_NAME = "trailwatch"


def build_pipeline(stack: Stack) -> dict[str, Any]:
    """Create every component for ``stack`` and return the stack outputs (not yet exported)."""
    s = stack.settings
    logs = TrailToLogs(COMPONENT_NAME, TrailToLogsArgs(
        trail_name=trail_name(stack.name),
        log_group_name=log_group_name(stack),
        create_trail=not s.existing_log_group_name,
        log_retention_days=s.log_retention_days,
        multi_region=s.multi_region_trail,
        organization_trail=s.organization_trail,
        bucket_expiration_days=s.bucket_expiration_days,
        bucket_transition_days=s.bucket_transition_days,
    ))
    filters = MetricFilterSet(COMPONENT_NAME, MetricFilterSetArgs(
        log_group_name=logs.log_group_name,
        detections=stack.detections,
        security_hub_alarms=s.security_hub_alarms,
        alarm_emails=s.alarm_emails,
        alarm_https_endpoints=s.alarm_https_endpoints,
    ))
    return {
        "trailArn": logs.trail_arn,
        "bucketName": logs.bucket_name,
        "logGroupName": logs.log_group_name,
        "logGroupArn": logs.log_group_arn,
        "kmsKeyArn": logs.kms_key_arn,
        "metrics": filters.metrics,
        "alarmTopicArn": filters.alarm_topic_arn,
    }


def export_all(outputs: dict[str, Any]) -> None:
    for key, value in outputs.items():
        pulumi.export(key, value)
