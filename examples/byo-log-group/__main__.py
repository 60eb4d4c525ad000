"""trailwatch as a library: the whole chain on the log group an existing organization trail delivers to.

TrailToLogs with ``create_trail=False`` creates nothing and hands the log group on (its ARN resolved for this
account and region); MetricFilterSet puts the catalog's default detections on it, one catalog detection that is
off by default, a severity override and one detection of this team's own, written as a plain dict. On an EKS
cluster running the Prometheus Operator, CloudWatchExporter reads the filters' metrics, TeamsAdapter posts cards to
Teams, and AlertRules alerts on those metrics and routes the alerts to the adapter. The filters, the adapter and
the rules take the same detections: the rules select the series the filters write, and the adapter's cards name
the alerts the rules raise.
"""

import pulumi
import pulumi_aws as aws

from trailwatch.components import (
    AlertRules, AlertRulesArgs, CloudWatchExporter, CloudWatchExporterArgs, MetricFilterSet, MetricFilterSetArgs,
    TeamsAdapter, TeamsAdapterArgs, TrailToLogs, TrailToLogsArgs,
)

SECRET_DELETIONS = {
    "id": "secret_deletions",
    "title": "Secrets Manager secret scheduled for deletion",
    "severity": "high",
    "metric": "SecretDeletionCount",
    "pattern": '{ ($.eventSource = "secretsmanager.amazonaws.com") && ($.eventName = "DeleteSecret") }',
    "description": "A secret was scheduled for deletion; applications reading it fail once it is gone.",
    "runbook": "Check userIdentity.arn against the change calendar; RestoreSecret undoes it within the window.",
}
DETECTIONS = {
    "enable_detections": ["access_denied"],
    "detection_overrides": {"root_usage": {"severity": "critical"}},
    "custom_detections": [SECRET_DELETIONS],
}

config = pulumi.Config()
log_group = config.get("logGroupName") or "/org/cloudtrail"
oidc_provider_arn = config.require("eksOidcProviderArn")
region = aws.get_region().region

logs = TrailToLogs("org-trail", TrailToLogsArgs(log_group_name=log_group, create_trail=False))
filters = MetricFilterSet("security", MetricFilterSetArgs(
    log_group_name=logs.log_group_name, name_prefix="platform-security", **DETECTIONS))
exporter = CloudWatchExporter("security", CloudWatchExporterArgs(
    metrics=filters.metrics, excepted_metrics=filters.excepted_metrics, region=region,
    oidc_provider_arn=oidc_provider_arn))
adapter = TeamsAdapter("security", TeamsAdapterArgs(
    webhook_url=config.require_secret("teamsWebhookUrl"), log_group_arn=logs.log_group_arn,
    log_group_name=log_group, region=region, oidc_provider_arn=oidc_provider_arn, **DETECTIONS))
AlertRules("security", AlertRulesArgs(
    region=region, log_group_name=log_group, runtime="kubernetes", adapter_url=adapter.url,
    adapter_token_secret=adapter.token_secret_name, **DETECTIONS))

pulumi.export("logGroupArn", logs.log_group_arn)
pulumi.export("metrics", filters.metrics)
pulumi.export("exporterUrl", exporter.url)
pulumi.export("teamsAdapterUrl", adapter.url)
