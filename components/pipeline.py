"""The whole pipeline as one function of a validated stack, shared by ``__main__.py`` and the Automation API.

Built from the public components and their plain-data arguments, wired through their outputs (the filter
set's metrics feed the exporter, the adapter's URL and token feed the rules): the program is the library's first
consumer. The stack config's keys and the arguments of the same meaning share their names, so a group of them
passes over as it is (:func:`same_named`).
"""

from __future__ import annotations

from typing import Any, Iterable

import pulumi

from trailwatch.contract import ADAPTER_MODE, DOCKER, EXPORTER_PORT, KUBERNETES, MAX_SCRAPE_TIMEOUT_SECONDS, NO_RUNTIME
from trailwatch.settings import StackSettings, qualified
from trailwatch.stack import Stack, log_group_name, secret_pattern_ids, trail_name

from .alert_rules import AlertRules, AlertRulesArgs
from .args import DETECTION_KEYS, TIMING_KEYS
from .cloudwatch_exporter import CloudWatchExporter, CloudWatchExporterArgs
from .metric_filter_set import MetricFilterSet, MetricFilterSetArgs
from .teams_adapter import TeamsAdapter, TeamsAdapterArgs
from .trail_to_logs import TrailToLogs, TrailToLogsArgs

COMPONENT_NAME = "trailwatch"
#: Docker: the exporter and adapter ports are published on the host's loopback only.
DOCKER_BIND_ADDRESS = "127.0.0.1"
#: The Alertmanager timings AlertRules takes under their settings' names; TeamsAdapter takes the last two (how long
#: it remembers a delivery follows them).
ROUTING_KEYS = ("group_wait_seconds", "group_interval_seconds", "repeat_interval_minutes")


def same_named(settings: StackSettings, names: Iterable[str]) -> dict[str, Any]:
    """The settings ``names`` as keyword arguments: a component argument and its setting share the name."""
    return {name: getattr(settings, name) for name in names}


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
        name_prefix=trail_name(stack.name),
        security_hub_alarms=s.security_hub_alarms,
        alarm_emails=s.alarm_emails,
        alarm_https_endpoints=s.alarm_https_endpoints,
        secret_alarm_emails=qualified("alarmEmails") in stack.secret_keys,
        secret_patterns=sorted(secret_pattern_ids(stack)),
        **same_named(s, DETECTION_KEYS),
    ))
    outputs: dict[str, Any] = {
        "trailArn": logs.trail_arn,
        "bucketName": logs.bucket_name,
        "logGroupName": logs.log_group_name,
        "logGroupArn": logs.log_group_arn,
        "kmsKeyArn": logs.kms_key_arn,
        "metrics": filters.metrics,
        "exceptedMetrics": filters.excepted_metrics,
        "alarmTopicArn": filters.alarm_topic_arn,
    }
    outputs.update(build_alerting(stack, logs.log_group_arn, filters))
    return outputs


def build_alerting(stack: Stack, log_group_arn: pulumi.Input[str], filters: MetricFilterSet) -> dict[str, Any]:
    """Exporter, Teams adapter and alert rules for ``stack.settings.runtime`` on ``filters``' metrics; returns
    their stack outputs.

    runtime none: only AlertRules, whose outputs are the documents to load into an existing Prometheus and
    Alertmanager. The webhook URL is wrapped as a secret here, whatever the config marked it as.
    """
    s = stack.settings
    runtime = s.runtime
    webhook = pulumi.Output.secret(s.teams_webhook_url) if s.teams_webhook_url else None
    opts = pulumi.ResourceOptions(depends_on=[filters])
    outputs: dict[str, Any] = {"runtime": runtime, "teamsMode": s.teams_mode}
    adapter_url = token_secret = None
    if runtime != NO_RUNTIME:
        exporter = CloudWatchExporter(COMPONENT_NAME, CloudWatchExporterArgs(
            metrics=filters.metrics,
            excepted_metrics=filters.excepted_metrics,
            region=s.region,
            stack_name=stack.name,
            image=s.exporter_image,
            runtime=runtime,
            namespace=s.kubernetes_namespace,
            oidc_provider_arn=s.eks_oidc_provider_arn,
            service_monitor_labels=s.prometheus_selector_labels,
            scrape_timeout_seconds=MAX_SCRAPE_TIMEOUT_SECONDS,
            bind_address=DOCKER_BIND_ADDRESS,
            access_key=s.exporter_access_key and runtime == DOCKER,
            **same_named(s, TIMING_KEYS),
        ), opts=opts)
        outputs.update({"exporterUrl": exporter.url, "exporterPolicyArn": exporter.policy_arn,
                        "exporterRoleArn": exporter.role_arn, "exporterConfigChecksum": exporter.config_checksum})
        if runtime == DOCKER:
            outputs.update({"exporterInstanceProfile": exporter.instance_profile_name,
                            "exporterAccessKeyId": exporter.access_key_id})
        if s.teams_mode == ADAPTER_MODE:
            adapter = TeamsAdapter(COMPONENT_NAME, TeamsAdapterArgs(
                webhook_url=webhook,
                log_group_arn=log_group_arn,
                log_group_name=log_group_name(stack),
                region=s.region,
                stack_name=stack.name,
                runtime=runtime,
                image=s.adapter_image,
                secret_patterns=sorted(secret_pattern_ids(stack)),
                namespace=s.kubernetes_namespace,
                oidc_provider_arn=s.eks_oidc_provider_arn,
                service_monitor_labels=s.prometheus_selector_labels,
                host_role_name=exporter.host_role_name if runtime == DOCKER and not s.exporter_access_key else None,
                **same_named(s, [*DETECTION_KEYS, *TIMING_KEYS, *ROUTING_KEYS[1:]]),
            ), opts=opts)
            adapter_url, token_secret = adapter.url, adapter.token_secret_name
            outputs.update({"teamsAdapterUrl": adapter.url, "teamsAdapterImage": adapter.image_ref,
                            "teamsAdapterPolicyArn": adapter.policy_arn})
    rules = AlertRules(COMPONENT_NAME, AlertRulesArgs(
        region=s.region,
        log_group_name=log_group_name(stack),
        stack_name=stack.name,
        runtime=runtime,
        teams_mode=s.teams_mode,
        namespace=s.kubernetes_namespace,
        adapter_url=adapter_url,
        adapter_token_secret=token_secret,
        webhook_url=webhook,
        exporter_target=f"{DOCKER_BIND_ADDRESS}:{EXPORTER_PORT}" if runtime == DOCKER else None,
        rule_labels=s.prometheus_selector_labels,
        dashboard_labels=s.grafana_dashboard_labels,
        datasource_labels=s.grafana_datasource_labels,
        **same_named(s, [*DETECTION_KEYS, *TIMING_KEYS, *ROUTING_KEYS]),
    ), opts=opts)
    if runtime != KUBERNETES:
        outputs.update({"prometheusRules": rules.prometheus_rules,
                        "alertmanagerConfig": rules.alertmanager_config,
                        "grafanaDashboard": rules.grafana_dashboard,
                        "prometheusScrapeConfig": rules.prometheus_scrape_config})
    return outputs


def export_all(outputs: dict[str, Any]) -> None:
    for key, value in outputs.items():
        pulumi.export(key, value)
