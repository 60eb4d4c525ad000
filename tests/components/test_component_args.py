"""Component arguments a consumer writes by hand: plain data, the stack config's defaults, its checks and its
one-line messages (prefixed with the component's name), raised before anything is registered."""

from __future__ import annotations

import dataclasses

import pulumi
import pytest

from components import MetricFilterSetArgs, TrailToLogsArgs
from components.args import ComponentArgsError, args_of
from stacks import make_stack
from trailwatch.errors import ConfigError, TrailwatchError
from trailwatch.settings import StackSettings

CUSTOM = {"id": "secret_deletions", "title": "Secret deleted", "severity": "high", "metric": "SecretDeletionCount",
          "pattern": '{ $.eventName = "DeleteSecret" }', "description": "d", "runbook": "r"}

# (MetricFilterSetArgs field, stack config key, a bad value)
BAD_FILTER_ARGS = [
    ("enable_detections", "enableDetections", ["no_such_detection"]),
    ("enable_detections", "enableDetections", "root_usage"),
    ("disable_detections", "disableDetections", [""]),
    ("detection_overrides", "detectionOverrides", {"root_usage": {"severity": "urgent"}}),
    ("detection_overrides", "detectionOverrides", {"root_usage": {"window": 5}}),
    ("custom_detections", "customDetections", [dict(CUSTOM, severity="urgent")]),
    ("custom_detections", "customDetections", [dict(CUSTOM, pattern="{ $.a = ")]),
    ("custom_detections", "customDetections", [dict(CUSTOM, id="root_usage")]),
    ("metric_namespace", "metricNamespace", "AWS/Logs"),
    ("suspicious_ips", "suspiciousIps", ["not-an-ip"]),
    ("alarm_emails", "alarmEmails", ["sec@example.com"]),  # needs securityHubAlarms, as in config
]
SETTINGS_KEY = {"enable_detections": "enableDetections", "disable_detections": "disableDetections",
                "detection_overrides": "detectionOverrides", "custom_detections": "customDetections",
                "metric_namespace": "metricNamespace", "suspicious_ips": "suspiciousIps",
                "cis_compliance": "cisCompliance", "security_hub_alarms": "securityHubAlarms",
                "alarm_emails": "alarmEmails", "alarm_https_endpoints": "alarmHttpsEndpoints"}


def config_error(**settings) -> str:
    with pytest.raises(TrailwatchError) as caught:
        make_stack(**settings)
    return str(caught.value)


@pytest.mark.parametrize("field,key,value", BAD_FILTER_ARGS, ids=[f"{c[0]}-{i}" for i, c in enumerate(BAD_FILTER_ARGS)])
def test_bad_filter_args_fail_with_the_config_keys_message(field, key, value):
    with pytest.raises(ComponentArgsError) as caught:
        MetricFilterSetArgs(log_group_name="/lg", **{field: value}).detections()
    message = str(caught.value)
    assert message == f"MetricFilterSet: {config_error(**{key: value})}"
    assert "\n" not in message and isinstance(caught.value, ConfigError)


def test_args_that_are_not_plain_data_are_one_line_errors():
    with pytest.raises(ComponentArgsError, match=r"^MetricFilterSet: config 'trailwatch:customDetections': must "
                                                 r"be plain data: .* \(got Output\)$"):
        MetricFilterSetArgs(log_group_name="/lg", custom_detections=[pulumi.Output.from_input(CUSTOM)]).detections()


def test_filter_args_defaults_are_the_stack_configs_and_none_means_default():
    defaults = StackSettings()
    assert MetricFilterSetArgs(log_group_name="/lg").settings() == defaults
    by_key = {s.metadata["key"]: s.name for s in dataclasses.fields(StackSettings)}
    for f in dataclasses.fields(MetricFilterSetArgs):
        if f.name in SETTINGS_KEY and f.default is not None:
            assert f.default == type(f.default)(getattr(defaults, by_key[SETTINGS_KEY[f.name]])), f.name
    assert set(SETTINGS_KEY) <= {f.name for f in dataclasses.fields(MetricFilterSetArgs)}
    nones = MetricFilterSetArgs(log_group_name="/lg", name_prefix=None, **dict.fromkeys(SETTINGS_KEY))
    assert nones.settings() == defaults
    assert nones.detections() == MetricFilterSetArgs(log_group_name="/lg").detections()


def test_trail_args_none_means_the_default():
    nones = TrailToLogsArgs(log_group_name="/lg", trail_name="t", create_trail=None, log_retention_days=None,
                            multi_region=None, organization_trail=None, bucket_expiration_days=None,
                            bucket_transition_days=None).resolved()
    assert nones == TrailToLogsArgs(log_group_name="/lg", trail_name="t")


def test_args_given_as_a_dict_as_the_component_provider_does():
    assert args_of(TrailToLogsArgs, {"log_group_name": "/lg", "create_trail": False}, "TrailToLogs") == \
        TrailToLogsArgs(log_group_name="/lg", create_trail=False)
    with pytest.raises(ComponentArgsError, match=r"^TrailToLogs: .*unexpected keyword argument 'retention'$"):
        args_of(TrailToLogsArgs, {"log_group_name": "/lg", "retention": 5}, "TrailToLogs")
    with pytest.raises(ComponentArgsError, match=r"^TrailToLogs: args must be TrailToLogsArgs or a mapping \(got str\)$"):
        args_of(TrailToLogsArgs, "/lg", "TrailToLogs")


def test_plain_filter_args_resolve_as_the_same_stack_config_does():
    args = dict(enable_detections=["access_denied"], disable_detections=["vpc_changes"],
                detection_overrides={"root_usage": {"threshold": 3, "severity": "critical"}},
                custom_detections=[CUSTOM], suspicious_ips=["203.0.113.*"], metric_namespace="Sec")
    stack = make_stack(**{SETTINGS_KEY[k]: v for k, v in args.items()})
    assert MetricFilterSetArgs(log_group_name="/lg", **args).detections() == stack.detections
    by_id = {d.id: d for d in stack.detections}
    assert (by_id["root_usage"].threshold, by_id["root_usage"].severity) == (3, "critical")
    assert "secret_deletions" in by_id and "vpc_changes" not in by_id


@pytest.mark.parametrize("args,key,value", [
    (dict(log_retention_days=91), "logRetentionDays", 91),
    (dict(bucket_transition_days=400), "bucketTransitionDays", 400),
    (dict(multi_region="yes"), "multiRegionTrail", "yes"),
    (dict(create_trail=False, organization_trail=True), "organizationTrail", True),
])
def test_bad_trail_args_fail_with_the_config_keys_message(args, key, value):
    with pytest.raises(ComponentArgsError) as caught:
        TrailToLogsArgs(log_group_name="/lg", trail_name="t", **args).resolved()
    extra = {"existingLogGroupName": "/lg"} if args.get("create_trail") is False else {}
    assert str(caught.value) == f"TrailToLogs: {config_error(**{key: value}, **extra)}"


def test_trail_args_need_a_log_group_and_a_trail_name_to_create():
    with pytest.raises(ComponentArgsError, match="^TrailToLogs: trail_name is required when create_trail is true$"):
        TrailToLogsArgs(log_group_name="/lg").resolved()
    with pytest.raises(ComponentArgsError, match="^TrailToLogs: log_group_name must be a non-empty string$"):
        TrailToLogsArgs(log_group_name="", create_trail=False).resolved()
    TrailToLogsArgs(log_group_name="/org/cloudtrail", create_trail=False).resolved()  # bring your own: enough
