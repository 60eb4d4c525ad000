"""trailwatch as a library: metric filters on the log group an existing organization trail delivers to.

TrailToLogs with ``create_trail=False`` creates nothing and hands the log group on (its ARN resolved for this
account and region); MetricFilterSet puts the catalog's default detections on it, one catalog detection that
is off by default, a severity override and one detection of this team's own, written as a plain dict.
"""

import pulumi

from trailwatch.components import MetricFilterSet, MetricFilterSetArgs, TrailToLogs, TrailToLogsArgs

SECRET_DELETIONS = {
    "id": "secret_deletions",
    "title": "Secrets Manager secret scheduled for deletion",
    "severity": "high",
    "metric": "SecretDeletionCount",
    "pattern": '{ ($.eventSource = "secretsmanager.amazonaws.com") && ($.eventName = "DeleteSecret") }',
    "description": "A secret was scheduled for deletion; applications reading it fail once it is gone.",
    "runbook": "Check userIdentity.arn against the change calendar; RestoreSecret undoes it within the window.",
}

config = pulumi.Config()
logs = TrailToLogs("org-trail", TrailToLogsArgs(
    log_group_name=config.get("logGroupName") or "/org/cloudtrail", create_trail=False))
filters = MetricFilterSet("security", MetricFilterSetArgs(
    log_group_name=logs.log_group_name,
    name_prefix="platform-security",
    enable_detections=["access_denied"],
    detection_overrides={"root_usage": {"severity": "critical"}},
    custom_detections=[SECRET_DELETIONS],
))

pulumi.export("logGroupArn", logs.log_group_arn)
pulumi.export("metrics", filters.metrics)
