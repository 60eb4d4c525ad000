"""Stack settings: every configuration key, its type, default and check, in one table.

Pulumi passes config values to a program as strings (objects and arrays as JSON); ``parse_settings`` takes
exactly that form, so the Pulumi program and the offline tools validate the same way. ``Pulumi.yaml``'s
``config:`` block and the README's reference table are checked against this table by the tests.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from .errors import ConfigError

PROJECT = "trailwatch"
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
    metric_namespace: str = setting("metricNamespace", "string", "CloudTrailMetrics",
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
    cis_compliance: bool = setting("cisCompliance", "boolean", False,
                                   "The stack targets CIS / Security Hub: every CIS detection must stay enabled.")
    security_hub_alarms: bool = setting(
        "securityHubAlarms", "boolean", False,
        "Create a KMS-encrypted SNS topic and one CloudWatch alarm per CIS detection (Security Hub CloudWatch.1-14).")
    alarm_emails: tuple = setting("alarmEmails", "array", [], "Email subscriptions to the alarm topic.",
                                  check=_emails)
    alarm_https_endpoints: tuple = setting("alarmHttpsEndpoints", "array", [],
                                           "HTTPS subscriptions to the alarm topic.", check=_https_urls)


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
        raise ConfigError(f"config '{key}': must be a JSON/YAML {kind} (got {type(value).__name__})")
    return tuple(value) if kind == "array" else value


def parse_settings(raw: Mapping[str, str]) -> StackSettings:
    """Validate config strings (keys fully qualified, e.g. ``trailwatch:logRetentionDays``) into settings."""
    known = {qualified(f.metadata["key"]): f for f in declared()}
    for key in sorted(raw):
        if key.startswith(f"{PROJECT}:") and key not in known:
            allowed = ", ".join(sorted(k.split(":", 1)[1] for k in known if k.startswith(PROJECT)))
            raise ConfigError(f"config '{key}': unknown key (allowed: {allowed})")
    values: dict[str, Any] = {}
    for key, f in known.items():
        meta = f.metadata
        if key in raw and raw[key] is not None:
            value = _convert(key, meta["kind"], str(raw[key]))
            if meta["check"]:
                meta["check"](key, value)
            values[f.name] = value
        elif meta["default"] is None:
            raise ConfigError(f"config '{key}': is required ({meta['description']})")
    settings = StackSettings(**values)
    _cross_check(settings)
    return settings


def _cross_check(s: StackSettings) -> None:
    if s.bucket_transition_days and s.bucket_expiration_days and s.bucket_transition_days >= s.bucket_expiration_days:
        raise ConfigError(
            "config 'trailwatch:bucketTransitionDays': must be less than bucketExpirationDays "
            f"({s.bucket_transition_days} >= {s.bucket_expiration_days})"
        )
    if (s.alarm_emails or s.alarm_https_endpoints) and not s.security_hub_alarms:
        raise ConfigError("config 'trailwatch:alarmEmails': subscriptions need securityHubAlarms: true")
    if s.existing_log_group_name and s.organization_trail:
        raise ConfigError("config 'trailwatch:organizationTrail': cannot be set with existingLogGroupName "
                          "(no trail is created)")
