"""Component arguments a consumer writes by hand: plain data, the stack config's defaults, its checks and its
one-line messages, prefixed with the component's name and naming the argument the caller wrote
(``enable_detections``), never the config key it stands for (``trailwatch:enableDetections``); raised before
anything is registered."""

from __future__ import annotations

import dataclasses
import re

import pulumi
import pytest

from components import AlertRulesArgs, CloudWatchExporterArgs, MetricFilterSetArgs, TrailToLogsArgs
from components.alert_rules import ALERT_KEYS
from components.args import ComponentArgsError, args_of
from components.cloudwatch_exporter import EXPORTER_KEYS
from components.metric_filter_set import FILTER_KEYS
from stacks import deployer_exception, make_stack
from trailwatch.errors import ConfigError, TrailwatchError
from trailwatch.render import render_all
from trailwatch.settings import StackSettings

CUSTOM = {"id": "secret_deletions", "title": "Secret deleted", "severity": "high", "metric": "SecretDeletionCount",
          "pattern": '{ $.eventName = "DeleteSecret" }', "description": "d", "runbook": "r"}

# (MetricFilterSetArgs field, stack config key, a bad value, where the message says the problem is)
BAD_FILTER_ARGS = [
    ("enable_detections", "enableDetections", ["no_such_detection"], "enable_detections"),
    ("enable_detections", "enableDetections", "root_usage", "enable_detections"),
    ("disable_detections", "disableDetections", [""], "disable_detections[0]"),
    ("detection_overrides", "detectionOverrides", {"root_usage": {"severity": "urgent"}},
     "detection_overrides.root_usage.severity"),
    ("detection_overrides", "detectionOverrides", {"root_usage": {"window": 5}}, "detection_overrides.root_usage"),
    ("custom_detections", "customDetections", [dict(CUSTOM, severity="urgent")],
     "custom_detections[0] 'secret_deletions'"),
    ("custom_detections", "customDetections", [dict(CUSTOM, pattern="{ $.a = ")],
     "custom_detections[0] 'secret_deletions'"),
    ("custom_detections", "customDetections", [dict(CUSTOM, id="root_usage")], "custom_detections"),
    ("metric_namespace", "metricNamespace", "AWS/Logs", "metric_namespace"),
    ("suspicious_ips", "suspiciousIps", ["not-an-ip"], "suspicious_ips[0]"),
    ("alarm_emails", "alarmEmails", ["sec@example.com"], "alarm_emails"),  # needs securityHubAlarms, as in config
]
SETTINGS_KEY = {"enable_detections": "enableDetections", "disable_detections": "disableDetections",
                "detection_overrides": "detectionOverrides", "custom_detections": "customDetections",
                "metric_namespace": "metricNamespace", "suspicious_ips": "suspiciousIps",
                "cis_compliance": "cisCompliance", "security_hub_alarms": "securityHubAlarms",
                "alarm_emails": "alarmEmails", "alarm_https_endpoints": "alarmHttpsEndpoints"}
#: The config keys component arguments stand for that are not spelled like an argument (``enableDetections``).
CAMEL_KEYS = {key.split(":", 1)[-1] for keys in (FILTER_KEYS, ALERT_KEYS, EXPORTER_KEYS) for key in keys.values()
              if not key.islower()}


def config_terms(message: str) -> list[str]:
    """The config keys (``trailwatch:...``, or a bare ``enableDetections``) a component's message names."""
    return ["trailwatch:"] * ("trailwatch:" in message) + sorted(
        key for key in CAMEL_KEYS if re.search(rf"\b{key}\b", message))


def problem(config_message: str) -> str:
    """What a stack config message says after its location (``config 'trailwatch:x'[0] 'id': ``)."""
    return re.sub(r"^config '[^']*'[^:]*: ", "", config_message)


def config_error(**settings) -> str:
    with pytest.raises(TrailwatchError) as caught:
        make_stack(**settings)
    return str(caught.value)


@pytest.mark.parametrize("field,key,value,where", BAD_FILTER_ARGS,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(BAD_FILTER_ARGS)])
def test_bad_filter_args_fail_with_the_config_keys_message_naming_the_argument(field, key, value, where):
    with pytest.raises(ComponentArgsError) as caught:
        MetricFilterSetArgs(log_group_name="/lg", **{field: value}).detections()
    message = str(caught.value)
    stated = problem(config_error(**{key: value})).replace("securityHubAlarms", "security_hub_alarms")
    assert message == f"MetricFilterSet: {where}: {stated}"
    assert config_terms(message) == [], message
    assert "\n" not in message and isinstance(caught.value, ConfigError)


def test_a_key_named_inside_the_message_is_the_argument_too():
    with pytest.raises(ComponentArgsError) as caught:
        MetricFilterSetArgs(log_group_name="/lg", alarm_emails=["sec@example.com"]).detections()
    assert str(caught.value) == "MetricFilterSet: alarm_emails: subscriptions need security_hub_alarms: true"
    with pytest.raises(ComponentArgsError) as caught:
        MetricFilterSetArgs(log_group_name="/lg", enable_detections=["root_usage"],
                            disable_detections=["root_usage"]).detections()
    assert str(caught.value) == "MetricFilterSet: disable_detections: 'root_usage' is also in enable_detections"


def test_args_that_are_not_plain_data_are_one_line_errors():
    with pytest.raises(ComponentArgsError, match=r"^MetricFilterSet: custom_detections: must be plain data: .* "
                                                 r"\(got Output\)$"):
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


@pytest.mark.parametrize("args,key,value,where", [
    (dict(log_retention_days=91), "logRetentionDays", 91, "log_retention_days"),
    (dict(bucket_transition_days=400), "bucketTransitionDays", 400, "bucket_transition_days"),
    (dict(multi_region="yes"), "multiRegionTrail", "yes", "multi_region"),
])
def test_bad_trail_args_fail_with_the_config_keys_message_naming_the_argument(args, key, value, where):
    with pytest.raises(ComponentArgsError) as caught:
        TrailToLogsArgs(log_group_name="/lg", trail_name="t", **args).resolved()
    stated = problem(config_error(**{key: value})).replace("bucketExpirationDays", "bucket_expiration_days")
    assert str(caught.value) == f"TrailToLogs: {where}: {stated}"
    assert config_terms(str(caught.value)) == []


def test_an_organization_trail_needs_a_trail_to_create():
    with pytest.raises(ComponentArgsError) as caught:
        TrailToLogsArgs(log_group_name="/lg", create_trail=False, organization_trail=True).resolved()
    assert str(caught.value) == ("TrailToLogs: organization_trail: cannot be set with create_trail false "
                                 "(no trail is created)")


def test_trail_args_need_a_log_group_and_a_trail_name_to_create():
    with pytest.raises(ComponentArgsError, match="^TrailToLogs: trail_name is required when create_trail is true$"):
        TrailToLogsArgs(log_group_name="/lg").resolved()
    with pytest.raises(ComponentArgsError, match="^TrailToLogs: log_group_name must be a non-empty string$"):
        TrailToLogsArgs(log_group_name="", create_trail=False).resolved()
    TrailToLogsArgs(log_group_name="/org/cloudtrail", create_trail=False).resolved()  # bring your own: enough


OIDC = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"
ALERTS = dict(region="us-east-1", log_group_name="/org/cloudtrail", stack_name="prod")


def defaults_differing_from_stack_config(cls: type, keys: dict[str, str]) -> list[str]:
    """Fields of ``cls`` standing for a config key whose declared default is not that key's default."""
    by_key = {s.metadata["key"]: s.name for s in dataclasses.fields(StackSettings)}
    defaults = StackSettings()
    found = []
    for f in dataclasses.fields(cls):
        declared = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if f.name in keys and declared not in (None, dataclasses.MISSING):
            setting = getattr(defaults, by_key[keys[f.name]])
            if declared != type(declared)(setting):
                found.append(f.name)
    return found


def test_alert_and_exporter_defaults_are_the_stack_configs():
    assert defaults_differing_from_stack_config(AlertRulesArgs, ALERT_KEYS) == []
    assert defaults_differing_from_stack_config(CloudWatchExporterArgs, EXPORTER_KEYS) == []
    assert AlertRulesArgs(**ALERTS).runtime == StackSettings().runtime
    exporter = CloudWatchExporterArgs(metrics=[], region="us-east-1")
    assert exporter.image == StackSettings().exporter_image
    nones = args_of(CloudWatchExporterArgs, {"metrics": [], "region": "us-east-1", "image": None, "runtime": None,
                                             "scrape_interval_seconds": None, "scrape_labels": None}, "x")
    assert nones == exporter  # the provider's left-out properties: the defaults (scrape_labels: derived later)


def test_alert_args_make_the_stack_that_stack_config_makes():
    """The same detections, exceptions and timings given as arguments and as stack config render the same
    documents: the rules, routes, tests and dashboard the program deploys."""
    shared = dict(enable_detections=["access_denied"], disable_detections=["vpc_changes"],
                  detection_overrides={"root_usage": {"threshold": 2, "severity": "critical"}},
                  custom_detections=[CUSTOM], metric_namespace="Sec", suspicious_ips=["203.0.113.*"],
                  exceptions=[deployer_exception(["unauthorized_api_calls"])], alert_window_minutes=40,
                  delivery_lag_tolerance_minutes=30, heartbeat_missing_minutes=20, exporter_delay_seconds=60,
                  scrape_interval_seconds=30, group_wait_seconds=5, group_interval_seconds=120,
                  repeat_interval_minutes=30)
    camel = {**SETTINGS_KEY, **{k: v for k, v in ALERT_KEYS.items() if k in shared}}
    stack = make_stack("prod", runtime="kubernetes", eksOidcProviderArn=OIDC, kubernetesNamespace="secops",
                       teamsMode="native", teamsWebhookUrl="https://example.com/hook",
                       existingLogGroupName="/org/cloudtrail", **{camel[k]: v for k, v in shared.items()})
    made = AlertRulesArgs(**ALERTS, runtime="kubernetes", namespace="secops", teams_mode="native",
                          webhook_url="https://example.com/hook", **shared).stack()
    assert (made.name, made.detections, made.exceptions) == (stack.name, stack.detections, stack.exceptions)
    assert render_all(made) == render_all(stack)


@pytest.mark.parametrize("args,message", [
    (dict(alert_window_minutes=1), "alert_window_minutes: must be >= 2 (got 1)"),
    (dict(delivery_lag_tolerance_minutes=40), "delivery_lag_tolerance_minutes: 40 min cannot be honoured: "
                                              "alert_window_minutes (30) - 2 min + exporter_delay_seconds - "
                                              "scrape_interval_seconds leaves"),
    (dict(heartbeat_missing_minutes=31), "heartbeat_missing_minutes: must not exceed alert_window_minutes"),
    (dict(teams_mode="email"), "teams_mode: must be one of adapter, native (got 'email')"),
    (dict(runtime="nomad"), "runtime: must be one of kubernetes, docker, none (got 'nomad')"),
    (dict(stack_name='prod"}'), "stack_name: must be letters, digits, '-', '_' and '.' (got 'prod\"}')"),
    (dict(exporter_target="exporter"), "exporter_target: must be host:port"),
    (dict(region=""), "region must be a non-empty string"),
    (dict(log_group_name=None), "log_group_name must be a non-empty string"),
    (dict(rule_labels=["release"]), "rule_labels: must be a YAML/JSON object (got list)"),
    (dict(enable_detections=["nope"]), "enable_detections: unknown detection 'nope'"),
    (dict(exceptions=[deployer_exception(["nope"])]), "exceptions[0].detections: "),
    (dict(runtime="kubernetes", teams_mode="native"), "native mode on Kubernetes needs webhook_url"),
    (dict(runtime="kubernetes", adapter_url="http://a:8080/alerts"),
     "adapter mode on Kubernetes needs adapter_url and adapter_token_secret"),
])
def test_bad_alert_args_are_one_line_naming_the_argument(args, message):
    with pytest.raises(ComponentArgsError) as caught:
        AlertRulesArgs(**{**ALERTS, **args}).stack()
    text = str(caught.value)
    assert text.startswith(f"AlertRules: {message}"), text
    assert "\n" not in text and config_terms(text) == [], text


@pytest.mark.parametrize("args,message", [
    (dict(region="mars"), "region: must be an AWS region such as us-east-1 (got 'mars')"),
    (dict(heartbeat_missing_minutes=31), "heartbeat_missing_minutes: must not exceed alert_window_minutes (31 > 30)"),
    (dict(exporter_delay_seconds=-1), "exporter_delay_seconds: must be >= 0 (got -1)"),
])
def test_bad_exporter_args_are_one_line_naming_the_argument(args, message):
    with pytest.raises(ComponentArgsError) as caught:
        CloudWatchExporterArgs(**{"metrics": [], "region": "us-east-1", **args}).settings()
    assert str(caught.value).startswith(f"CloudWatchExporter: {message}"), str(caught.value)
    assert config_terms(str(caught.value)) == []


def test_exporter_and_alert_args_check_the_read_path_alike():
    """Both take the read path's timings and refuse the same combinations, in their own names."""
    timings = dict(alert_window_minutes=10, heartbeat_missing_minutes=10)
    with pytest.raises(ComponentArgsError) as exporter:
        CloudWatchExporterArgs(metrics=[], region="us-east-1", **timings).settings()
    with pytest.raises(ComponentArgsError) as rules:
        AlertRulesArgs(**ALERTS, **timings).stack()
    assert str(exporter.value).startswith("CloudWatchExporter: delivery_lag_tolerance_minutes: 25 min cannot be "
                                          "honoured: alert_window_minutes (10)")
    assert str(exporter.value).removeprefix("CloudWatchExporter") == str(rules.value).removeprefix("AlertRules")
    settings = CloudWatchExporterArgs(metrics=[], region="us-east-1", delivery_lag_tolerance_minutes=5,
                                      **timings).settings()
    assert (settings.alert_window_minutes, settings.delivery_lag_tolerance_minutes) == (10, 5)


def test_several_problems_are_one_line_each_naming_the_component():
    late = deployer_exception(["unauthorized_api_calls"], days=900)
    with pytest.raises(ComponentArgsError) as caught:
        AlertRulesArgs(**ALERTS, exceptions=[deployer_exception(["nope"]), late]).stack()
    lines = str(caught.value).splitlines()
    assert len(lines) == 2 and all(line.startswith("AlertRules: exceptions[") for line in lines), lines
    assert "more than max_exception_days (365) ahead" in lines[1]
