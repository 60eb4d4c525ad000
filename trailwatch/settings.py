"""Stack settings: every configuration key, its type, default and check, in one table.

Pulumi passes config values to a program as strings (objects and arrays as JSON); ``parse_settings`` takes
exactly that form, so the Pulumi program and the offline tools validate the same way. ``Pulumi.yaml``'s
``config:`` block and docs/configuration.md's reference table are checked against this table by the tests.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from . import readpath
from .contract import (
    ADAPTER_MODE, DEFAULT_METRIC_NAMESPACE, KUBERNETES, NATIVE_MODE, NO_RUNTIME, PROJECT, RUNTIMES, TEAMS_MODES,
)
from .errors import ConfigError, raise_config_errors
from .exceptions import check_entries
from .images import is_pinned_image

RETENTION_DAYS = (0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                  3288, 3653)
KINDS = ("string", "integer", "boolean", "array", "object")

_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d\Z")
_WILDCARD_V4 = re.compile(r"(\d{1,3}\.){1,3}\*\Z")
_WILDCARD_V6 = re.compile(r"[0-9a-fA-F:]+:\*\Z")


def setting(key: str, kind: str, default: Any, description: str, *, secret: bool = False,
            check: Callable[[str, Any], None] | None = None) -> Any:
    meta = {"key": key, "kind": kind, "description": description, "secret": secret, "check": check,
            "default": default}
    if isinstance(default, (list, dict)):
        frozen = tuple(default) if isinstance(default, list) else dict(default)
        return field(default_factory=lambda: frozen if isinstance(frozen, tuple) else dict(frozen), metadata=meta)
    return field(default=default, metadata=meta)


def _one_of(*allowed: Any) -> Callable[[str, Any], None]:
    def check(key: str, value: Any) -> None:
        if value not in allowed:
            raise ConfigError(f"config '{key}': must be one of {', '.join(map(str, allowed))} (got {value!r})")
    return check


def _at_least(low: int) -> Callable[[str, Any], None]:
    def check(key: str, value: Any) -> None:
        if value < low:
            raise ConfigError(f"config '{key}': must be >= {low} (got {value})")
    return check


def _region(key: str, value: Any) -> None:
    if not _REGION.match(value):
        raise ConfigError(f"config '{key}': must be an AWS region such as us-east-1 (got {value!r})")


def _strings(key: str, value: Any) -> None:
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item:
            raise ConfigError(f"config '{key}'[{i}]: must be a non-empty string (got {item!r})")


def _ips(key: str, value: Any) -> None:
    _strings(key, value)
    for i, item in enumerate(value):
        if not is_ip_or_wildcard(item):
            raise ConfigError(
                f"config '{key}'[{i}]: {item!r} is not an IPv4/IPv6 address or a CloudWatch wildcard prefix "
                f"such as 203.0.113.* or 2001:db8:*"
            )


def _emails(key: str, value: Any) -> None:
    _strings(key, value)
    for i, item in enumerate(value):
        if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", item):
            raise ConfigError(f"config '{key}'[{i}]: {item!r} is not an email address")


def _https_urls(key: str, value: Any) -> None:
    _strings(key, value)
    for i, item in enumerate(value):
        if urlsplit(item).scheme != "https" or not urlsplit(item).hostname:
            raise ConfigError(f"config '{key}'[{i}]: must be an https:// URL")


def is_ip_or_wildcard(text: str) -> bool:
    """An IPv4/IPv6 address, or a CloudWatch wildcard prefix like ``203.0.113.*`` / ``2001:db8:*``."""
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        pass
    if _WILDCARD_V4.match(text):
        return all(0 <= int(part) <= 255 for part in text[:-2].split("."))
    return bool(_WILDCARD_V6.match(text)) and text.count(":") <= 8


@dataclass(frozen=True)
class StackSettings:
    region: str = setting("aws:region", "string", None, "AWS region for the trail's home, log group and filters.",
                          check=_region)
    existing_log_group_name: str = setting(
        "existingLogGroupName", "string", "",
        "Bring your own trail: the CloudWatch log group it already delivers to. When set, no trail, bucket, key, "
        "log group or delivery role is created.")
    log_retention_days: int = setting(
        "logRetentionDays", "integer", 90,
        "Retention of the CloudTrail log group in days (AWS's allowed values only; 0 = never expire).",
        check=_one_of(*RETENTION_DAYS))
    multi_region_trail: bool = setting("multiRegionTrail", "boolean", True,
                                       "Record API calls in every region, not just the home region.")
    organization_trail: bool = setting("organizationTrail", "boolean", False,
                                       "Create an organization trail (run from the management account).")
    bucket_expiration_days: int = setting("bucketExpirationDays", "integer", 365,
                                          "Delete trail objects in S3 after this many days (0 = keep forever).",
                                          check=_at_least(0))
    bucket_transition_days: int = setting("bucketTransitionDays", "integer", 90,
                                          "Move trail objects to S3 Glacier after this many days (0 = never).",
                                          check=_at_least(0))
    metric_namespace: str = setting("metricNamespace", "string", DEFAULT_METRIC_NAMESPACE,
                                    "CloudWatch namespace of the metric filters' metrics.")
    suspicious_ips: tuple = setting(
        "suspiciousIps", "array", [],
        "Source IPs (IPv4/IPv6 or wildcard prefixes like 203.0.113.*) for the suspicious_source_ips detection.",
        check=_ips)
    enable_detections: tuple = setting("enableDetections", "array", [],
                                       "Catalog detection ids to enable that are off by default.", check=_strings)
    disable_detections: tuple = setting("disableDetections", "array", [],
                                        "Catalog detection ids to turn off for this stack.", check=_strings)
    detection_overrides: dict = setting(
        "detectionOverrides", "object", {},
        "Per-detection overrides: {id: {threshold: N, severity: critical|high|warning|info}}.")
    custom_detections: tuple = setting(
        "customDetections", "array", [],
        "Extra detections with the catalog's fields (id, title, severity, pattern, metric, description, runbook, ...).")
    exceptions: tuple = setting(
        "exceptions", "array", [],
        "Noise exceptions: [{detections, reason, owner, expires: YYYY-MM-DD, match: {field path: value(s)}}]; "
        "excepted events are counted, not paged (docs/tuning.md).", check=check_entries)
    max_exception_days: int = setting("maxExceptionDays", "integer", 365,
                                      "The furthest ahead an exception's expires date may be, in days.",
                                      check=_at_least(1))
    cis_compliance: bool = setting("cisCompliance", "boolean", False,
                                   "The stack targets CIS / Security Hub: every CIS detection must stay enabled.")
    security_hub_alarms: bool = setting(
        "securityHubAlarms", "boolean", False,
        "Create a KMS-encrypted SNS topic and one CloudWatch alarm per CIS detection (Security Hub CloudWatch.1-14).")
    alarm_emails: tuple = setting("alarmEmails", "array", [], "Email subscriptions to the alarm topic.",
                                  check=_emails)
    alarm_https_endpoints: tuple = setting("alarmHttpsEndpoints", "array", [],
                                           "HTTPS subscriptions to the alarm topic.", check=_https_urls)

    # Prometheus half: where the exporter, adapter and rules run, and the timings of the alert path.
    runtime: str = setting(
        "runtime", "string", NO_RUNTIME,
        "Where the exporter and Teams adapter run: kubernetes, docker, or none (render rules/configs as outputs "
        "for a Prometheus you already run).", check=_one_of(*RUNTIMES))
    teams_mode: str = setting(
        "teamsMode", "string", ADAPTER_MODE,
        "adapter: Alertmanager -> trailwatch's Teams adapter (cards with the events' principal, IP, account, "
        "region) -> Teams Workflows; native: Alertmanager >= 0.28 msteamsv2_configs straight to the Workflows URL "
        "(on Kubernetes needs prometheus-operator >= v0.82.0 for msteamsv2Configs).",
        check=_one_of(*TEAMS_MODES))
    teams_webhook_url: str = setting(
        "teamsWebhookUrl", "string", "",
        "Teams Workflows webhook URL. Secret: set with `pulumi config set --secret`.", secret=True)
    kubernetes_namespace: str = setting("kubernetesNamespace", "string", "monitoring",
                                        "Namespace for the exporter, adapter, rules and dashboard.")
    prometheus_selector_labels: dict = setting(
        "prometheusSelectorLabels", "object", {"release": "kube-prometheus-stack"},
        "Labels the Prometheus Operator selects PrometheusRules and ServiceMonitors by.")
    grafana_dashboard_labels: dict = setting(
        "grafanaDashboardLabels", "object", {"grafana_dashboard": "1"},
        "Labels the Grafana sidecar picks dashboard ConfigMaps up by.")
    grafana_datasource_labels: dict = setting(
        "grafanaDatasourceLabels", "object", {"grafana_datasource": "1"},
        "Labels the Grafana sidecar picks datasource ConfigMaps up by (the CloudWatch datasource the dashboard's "
        "Logs Insights panels query; Grafana's role needs logs:StartQuery, GetQueryResults, StopQuery and "
        "DescribeLogGroups).")
    eks_oidc_provider_arn: str = setting(
        "eksOidcProviderArn", "string", "",
        "IAM OIDC provider ARN of the EKS cluster (IRSA for the exporter); required with runtime kubernetes.")
    exporter_image: str = setting("exporterImage", "string", "prom/cloudwatch-exporter:v0.18.0",
                                  "cloudwatch_exporter image, pinned to a version tag or digest.")
    adapter_image: str = setting(
        "adapterImage", "string", "",
        "Prebuilt trailwatch Teams adapter image, pinned by digest (repo@sha256:...); empty: build "
        "docker/adapter/Dockerfile into a private ECR repository the stack creates.")
    exporter_access_key: bool = setting(
        "exporterAccessKey", "boolean", False,
        "Docker runtime only: create an IAM user and access key for the exporter (default: instance role).")
    alert_window_minutes: int = setting(
        "alertWindowMinutes", "integer", 30,
        "A detection fires when at least `threshold` matching events have event times within this many minutes; "
        "also the CloudWatch period of the exporter's sliding-window read.", check=_at_least(2))
    delivery_lag_tolerance_minutes: int = setting(
        "deliveryLagToleranceMinutes", "integer", 25,
        "CloudTrail -> CloudWatch Logs delivery lag that must still alert; validated against the window, delay "
        "and scrape interval.", check=_at_least(0))
    heartbeat_missing_minutes: int = setting(
        "heartbeatMissingMinutes", "integer", 26,
        "Alert when no CloudTrail event with an event time in this many minutes was delivered (delivery stopped, "
        "or flows later than the tolerance); at most alertWindowMinutes.", check=_at_least(2))
    exporter_delay_seconds: int = setting(
        "exporterDelaySeconds", "integer", 0,
        "How far behind now the exporter's window ends; each second adds a second of latency and of tolerance.",
        check=_at_least(0))
    scrape_interval_seconds: int = setting("scrapeIntervalSeconds", "integer", 60,
                                           "How often Prometheus scrapes the exporter.", check=_at_least(1))
    group_wait_seconds: int = setting("groupWaitSeconds", "integer", 10,
                                      "Alertmanager group_wait for trailwatch alerts (short: security alerts).",
                                      check=_at_least(0))
    group_interval_seconds: int = setting("groupIntervalSeconds", "integer", 300,
                                          "Alertmanager group_interval for trailwatch alerts.", check=_at_least(1))
    repeat_interval_minutes: int = setting(
        "repeatIntervalMinutes", "integer", 60,
        "Alertmanager repeat_interval for trailwatch alerts: also the longest a new event during a firing alert "
        "waits for a card.", check=_at_least(1))


def declared() -> list:
    """The settings table: dataclass fields with their config metadata."""
    return [f for f in fields(StackSettings)]


def qualified(key: str) -> str:
    return key if ":" in key else f"{PROJECT}:{key}"


def _convert(key: str, kind: str, text: str) -> Any:
    if kind == "string":
        return text
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"config '{key}': must be a whole number (got {text!r})") from None
    if kind == "boolean":
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise ConfigError(f"config '{key}': must be true or false (got {text!r})")
    try:
        value = json.loads(text)
    except ValueError:
        raise ConfigError(f"config '{key}': must be a YAML/JSON {kind}") from None
    expected = list if kind == "array" else dict
    if not isinstance(value, expected):
        raise ConfigError(f"config '{key}': must be a YAML/JSON {kind} (got {type(value).__name__})")
    return tuple(value) if kind == "array" else value


def parse_settings(raw: Mapping[str, str], *, partial: bool = False) -> StackSettings:
    """Validate config strings (keys fully qualified, e.g. ``trailwatch:logRetentionDays``) into settings.

    ``partial``: only the keys given are required (a component's arguments, not a whole stack); the others
    keep their defaults, and the cross-key rules run on the result all the same (every broken one reported).
    """
    settings = settings_of(raw, partial=partial)
    raise_config_errors(cross_key_errors(settings))
    return settings


def settings_of(raw: Mapping[str, str], *, partial: bool = False,
                reported: frozenset[str] = frozenset()) -> StackSettings:
    """Each key converted and checked on its own (the first bad one raises), no cross-key rule.
    ``reported``: keys whose errors the caller has already collected; they keep their defaults, so that the
    cross-key rules and the catalog can still run on every other value in the same pass."""
    known = {qualified(f.metadata["key"]): f for f in declared()}
    for key in sorted(raw):
        if key.startswith(f"{PROJECT}:") and key not in known and key not in reported:
            allowed = ", ".join(sorted(k.split(":", 1)[1] for k in known if k.startswith(PROJECT)))
            raise ConfigError(f"config {key!r}: unknown key (allowed: {allowed})")
    values: dict[str, Any] = {}
    for key, f in known.items():
        meta = f.metadata
        if key in reported:
            continue
        if key in raw and raw[key] is not None:
            value = _convert(key, meta["kind"], str(raw[key]))
            if meta["check"]:
                meta["check"](key, value)
            values[f.name] = value
        elif meta["default"] is None and not partial:
            raise ConfigError(f"config '{key}': is required ({meta['description']})")
    return StackSettings(**values)


def settings_from_values(values: Mapping[str, Any]) -> StackSettings:
    """Settings from Python values keyed by config key (``{"enableDetections": ["access_denied"]}``), e.g.
    a component's arguments: each value is checked exactly as the same key in stack config, with the same
    one-line message; keys not given, or None, keep their defaults."""
    return parse_settings({qualified(key): _as_config_string(qualified(key), value)
                           for key, value in values.items() if value is not None}, partial=True)


def _as_config_string(key: str, value: Any) -> str:
    """The string the Pulumi CLI would hand over for ``value`` (JSON for arrays and objects)."""
    def refuse(item: Any) -> Any:
        raise ConfigError(f"config '{key}': must be plain data: strings, numbers, booleans, lists and dicts "
                          f"(got {type(item).__name__})")

    return value if isinstance(value, str) else json.dumps(value, default=refuse)


def cross_key_errors(s: StackSettings) -> list[str]:
    """One line per rule that two or more settings break together (every rule is checked)."""
    errors: list[str] = []
    if s.bucket_transition_days and s.bucket_expiration_days and s.bucket_transition_days >= s.bucket_expiration_days:
        errors.append(
            "config 'trailwatch:bucketTransitionDays': must be less than bucketExpirationDays "
            f"({s.bucket_transition_days} >= {s.bucket_expiration_days})"
        )
    if (s.alarm_emails or s.alarm_https_endpoints) and not s.security_hub_alarms:
        errors.append("config 'trailwatch:alarmEmails': subscriptions need securityHubAlarms: true")
    if s.runtime != NO_RUNTIME and s.teams_mode == ADAPTER_MODE and not s.teams_webhook_url:
        errors.append("config 'trailwatch:teamsWebhookUrl': is required to deploy the Teams adapter; set it "
                      "with `pulumi config set --secret trailwatch:teamsWebhookUrl <url>`")
    if s.runtime == KUBERNETES and s.teams_mode == NATIVE_MODE and not s.teams_webhook_url:
        errors.append("config 'trailwatch:teamsWebhookUrl': is required for native mode on Kubernetes "
                      "(stored in a Secret for msteamsv2Configs)")
    if s.teams_webhook_url and (urlsplit(s.teams_webhook_url).scheme != "https"
                                or not urlsplit(s.teams_webhook_url).hostname):
        errors.append("config 'trailwatch:teamsWebhookUrl': must be an https:// URL (value not shown: secret)")
    if s.runtime == KUBERNETES and not s.eks_oidc_provider_arn:
        errors.append("config 'trailwatch:eksOidcProviderArn': is required with runtime kubernetes (IRSA for "
                      "the exporter), e.g. arn:aws:iam::123456789012:oidc-provider/oidc.eks.<region>.amazonaws.com/id/<ID>")
    if s.eks_oidc_provider_arn and ":oidc-provider/" not in s.eks_oidc_provider_arn:
        errors.append("config 'trailwatch:eksOidcProviderArn': must be an IAM OIDC provider ARN "
                      "(arn:<partition>:iam::<account>:oidc-provider/<issuer host/path>)")
    try:
        readpath.check(s.alert_window_minutes, s.delivery_lag_tolerance_minutes, s.heartbeat_missing_minutes,
                       s.exporter_delay_seconds, s.scrape_interval_seconds)
    except ConfigError as exc:
        errors.append(str(exc))
    if not is_pinned_image(s.exporter_image):
        errors.append(f"config 'trailwatch:exporterImage': {s.exporter_image!r} must be pinned to a version tag "
                      f"such as v1.2.3 or a digest @sha256:<64 hex> (not 'latest', 'main' or untagged)")
    if s.adapter_image and not (is_pinned_image(s.adapter_image) and "@sha256:" in s.adapter_image):
        errors.append(f"config 'trailwatch:adapterImage': {s.adapter_image!r} must be pinned by digest "
                      f"(repo@sha256:<64 hex>), or empty to build the adapter image")
    if s.existing_log_group_name and s.organization_trail:
        errors.append("config 'trailwatch:organizationTrail': cannot be set with existingLogGroupName "
                      "(no trail is created)")
    return errors
