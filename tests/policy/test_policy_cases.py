"""Every policy: a compliant example from the real program, and a violating one from changed config or args.

``CASES`` maps each policy of the pack (and plan's config check) to: the compliant baseline scenario where it
has something to check (asserted: its resource types are present), and a function producing violations from
the real program with the stack config, a component argument, or one resource's arguments changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Callable

import pulumi
import pulumi_aws as aws
import pytest

from policy_helpers import (
    OIDC_ARN, SCENARIOS, SECURE, SIG, TUNED, WEBHOOK, check, edit_document, edit_props, names, program_for, record,
    set_opts, set_props, stack_with,
)
from stacks import deployer_exception, stack_config
from trailwatch.plan_checks import CHECKS, PLAN_ONLY
from trailwatch.offline_policy import analyze, engine_config, plan_violations
from trailwatch.policies import POLICIES
from trailwatch.stack import config_strings, stack_from_config
from weakenings import WEAKENINGS, violations_of as weakened

K8S, DOCKER = SCENARIOS["k8s"], SCENARIOS["docker"]
TRAIL = "aws:cloudtrail/trail:Trail"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CONTAINER = "docker:index/container:Container"
FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"


def _container(props: dict, index: int = 0) -> dict:
    return props["spec"]["template"]["spec"]["containers"][index]


def _drop_tls_deny(doc: dict) -> None:
    doc["Statement"] = [s for s in doc["Statement"] if s.get("Sid") != "DenyInsecureTransport"]


def _grant(action, resource="*"):
    def edit(doc: dict) -> None:
        doc["Statement"].append({"Effect": "Allow", "Action": action, "Resource": resource})
    return edit


def _strip_conditions(doc: dict) -> None:
    for st in doc["Statement"]:
        st.pop("Condition", None)


def _wildcard_subject(doc: dict) -> None:
    cond = doc["Statement"][0]["Condition"]
    equals = cond.pop("StringEquals")
    cond["StringLike"] = {k: (v.rsplit(":", 1)[0] + ":*" if k.endswith(":sub") else v) for k, v in equals.items()}


def _orphan_filter(stack, outputs) -> None:
    aws.cloudwatch.LogMetricFilter(
        "orphan-filter", log_group_name=outputs["logGroupName"], pattern='{ $.eventName = "CreateUser" }',
        metric_transformation={"name": "OrphanCount", "namespace": "CloudTrailMetrics", "value": "1"})


def _second_alert_rules(stack, outputs) -> None:
    from components.alert_rules import AlertRules, AlertRulesArgs
    from components.args import DETECTION_KEYS, TIMING_KEYS
    from components.pipeline import same_named
    from trailwatch.stack import log_group_name

    s = stack.settings
    AlertRules("trailwatch-copy", AlertRulesArgs(
        region=s.region, log_group_name=log_group_name(stack), stack_name=stack.name, runtime="kubernetes",
        teams_mode="adapter", namespace=s.kubernetes_namespace, adapter_url=outputs["teamsAdapterUrl"],
        adapter_token_secret="trailwatch-adapter-token", rule_labels=s.prometheus_selector_labels,
        **same_named(s, [*DETECTION_KEYS, *TIMING_KEYS])))


def _export_webhook(stack, outputs) -> None:
    outputs["teamsWebhook"] = pulumi.Output.secret(WEBHOOK)


def _latest_image(monkeypatch):
    import components.workload as workload

    monkeypatch.setattr(workload, "is_pinned_image", lambda image: True)  # the component's own guard removed
    stack = stack_with(K8S, exporter_image="prom/cloudwatch-exporter:latest")
    return check(K8S, program_for(stack))


def _access_key_not_enabled(monkeypatch):
    stack = stack_with(DOCKER, exporter_access_key=True)  # the component is asked for a key...
    return check(DOCKER, program_for(stack))               # ...while the stack config does not enable one


def _without_root_usage(stack, monkeypatch):
    """``stack`` and the program as if root_usage were not a detection: no filter (MetricFilterSet resolves
    its detections from the stack's settings; AlertRules, from the same settings, still alerts on it)."""
    from components.metric_filter_set import MetricFilterSetArgs

    resolve = MetricFilterSetArgs.detections
    monkeypatch.setattr(MetricFilterSetArgs, "detections",
                        lambda self: tuple(d for d in resolve(self) if d.id != "root_usage"))
    return replace(stack, detections=tuple(d for d in stack.detections if d.id != "root_usage"))


def _cis_filter_missing(monkeypatch):
    settings = SCENARIOS["cis"]
    stack = _without_root_usage(stack_with(settings), monkeypatch)
    return check(settings, program_for(stack))


@dataclass(frozen=True)
class Case:
    baseline: str
    applies_to: tuple[str, ...]
    violate: Callable


def _settings(scenario: str, **changes) -> Callable:
    return lambda mp: check({**SCENARIOS[scenario], **changes})


def _transformed(scenario: str, *transforms, extra=None) -> Callable:
    return lambda mp: check(SCENARIOS[scenario], program_for(transforms=transforms, extra=extra))


def _exception_config(*entries) -> Callable:
    """The pack over the untuned program, given a stack config whose exceptions the config check refuses."""
    def violate(mp):
        rec, _, _ = record(SCENARIOS["none"])
        bad, _ = config_strings(stack_config(**TUNED, exceptions=list(entries)))
        return analyze(rec, engine_config(bad), "test")
    return violate


def _tuned(entries: list, *transforms) -> Callable:
    return lambda mp: check({**TUNED, "exceptions": entries},
                            program_for(transforms=transforms))


CASES: dict[str, Case] = {
    "cloudtrail-multi-region": Case("none", (TRAIL,), _settings("none", multiRegionTrail=False)),
    "cloudtrail-log-file-validation": Case("none", (TRAIL,), _transformed(
        "none", set_props(TRAIL, enable_log_file_validation=False))),
    "cloudtrail-kms-encrypted": Case("none", (TRAIL,), _transformed("none", set_props(TRAIL, kms_key_id=None))),
    "cloudtrail-delivers-to-cloudwatch-logs": Case("none", (TRAIL,), _transformed("none", edit_props(
        TRAIL, lambda p: p.update(cloud_watch_logs_group_arn=p["cloud_watch_logs_group_arn"].apply(
            lambda arn: arn[:-2]))))),
    "log-group-retention": Case("none", (LOG_GROUP,), _settings("none", logRetentionDays=30)),
    "log-group-kms-encrypted": Case("none", (LOG_GROUP,), _transformed("none", set_props(LOG_GROUP, kms_key_id=None))),
    "kms-key-rotation": Case("cis", ("aws:kms/key:Key",), _transformed(
        "cis", set_props("aws:kms/key:Key", "alarm", enable_key_rotation=False))),
    "iam-no-wildcard-action": Case("none", (ROLE_POLICY,), _transformed(
        "none", edit_document(ROLE_POLICY, "policy", _grant("*")))),
    "iam-no-wildcard-logs-write": Case("none", (ROLE_POLICY,), _transformed(  # the original guide's grant
        "none", edit_document(ROLE_POLICY, "policy", _grant(["logs:CreateLogStream", "logs:PutLogEvents"],
                                                            "arn:aws:logs:*:*:*")))),
    "iam-no-access-keys": Case("docker-key", ("aws:iam/accessKey:AccessKey",), _access_key_not_enabled),
    "iam-trust-policy-scoped": Case("k8s", ("aws:iam/role:Role",), _transformed(
        "k8s", edit_document("aws:iam/role:Role", "assume_role_policy", _strip_conditions, "delivery"),
        edit_document("aws:iam/role:Role", "assume_role_policy", _wildcard_subject, "irsa"))),
    "exporter-read-only-cloudwatch": Case("docker", ("aws:iam/policy:Policy",), _transformed(
        "docker", edit_document("aws:iam/policy:Policy", "policy", _grant("cloudwatch:PutMetricData"),
                                "exporter"))),
    "s3-public-access-blocked": Case("none", ("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",),
                                     _transformed("none", set_props(
                                         "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
                                         restrict_public_buckets=False))),
    "s3-kms-encryption": Case(
        "none", ("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",),
        _transformed("none", set_props(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}]))),
    "s3-versioning": Case("none", ("aws:s3/bucketVersioning:BucketVersioning",), _transformed("none", set_props(
        "aws:s3/bucketVersioning:BucketVersioning", versioning_configuration={"status": "Suspended"}))),
    "s3-tls-only": Case("none", ("aws:s3/bucketPolicy:BucketPolicy",), _transformed(
        "none", edit_document("aws:s3/bucketPolicy:BucketPolicy", "policy", _drop_tls_deny))),
    "no-plaintext-teams-webhook": Case("k8s", ("kubernetes:core/v1:Secret",), _transformed(
        "k8s", edit_props(DEPLOYMENT, lambda p: _container(p).update(
            env=[{"name": "TEAMS_WEBHOOK_URL", "value": WEBHOOK}]), "adapter"))),
    "no-teams-webhook-in-outputs": Case("none", (), _transformed("none", extra=_export_webhook)),
    "images-pinned": Case("k8s", (DEPLOYMENT,), _latest_image),
    "containers-non-root": Case("k8s", (DEPLOYMENT,), _transformed("k8s", edit_props(
        DEPLOYMENT, lambda p: _container(p)["security_context"].update(run_as_non_root=False, run_as_user=0),
        "exporter"))),
    "containers-read-only-root-fs": Case("docker", (CONTAINER,), _transformed(
        "docker", set_props(CONTAINER, "exporter", read_only=False))),
    "containers-resource-limits": Case("k8s", (DEPLOYMENT,), _transformed("k8s", edit_props(
        DEPLOYMENT, lambda p: _container(p)["resources"].pop("limits"), "adapter"))),
    "adapter-not-exposed": Case("k8s", ("kubernetes:core/v1:Service",), _transformed("k8s", edit_props(
        "kubernetes:core/v1:Service", lambda p: p["spec"].update(type="LoadBalancer"), "adapter"))),
    "network-policies-required": Case("k8s", (DEPLOYMENT,), _transformed("k8s", edit_props(
        "kubernetes:networking.k8s.io/v1:NetworkPolicy",
        lambda p: p["spec"]["egress"].append({"ports": [{"protocol": "TCP", "port": 80}]}), "adapter-netpol"))),
    "every-filter-has-one-alert": Case("none", ("aws:cloudwatch/logMetricFilter:LogMetricFilter",),
                                       _transformed("none", extra=_orphan_filter)),
    "cis-detections-complete": Case("cis", ("aws:cloudwatch/metricAlarm:MetricAlarm",), _cis_filter_missing),
    "webhook-url-is-secret-config": Case("k8s", (), _settings("k8s", teamsWebhookUrl=WEBHOOK)),
    "exceptions-guarded": Case("none", (), _exception_config(deployer_exception(["root_usage"]))),
    "exceptions-expiring-soon": Case("none", (), _tuned([deployer_exception(["iam_policy_changes"], days=3)])),
    "exception-filters-exact": Case("none", (), _tuned([deployer_exception(["iam_policy_changes"])], edit_props(
        FILTER, lambda p: p.update(pattern='{ $.userAgent = "*pulumi-aws/*" }'), "-x-"))),
}

#: Resource types each newer policy checks; their violating example is the first weakening caught by them.
_APPLIES_TO = {
    "cloudtrail-logging-enabled": (TRAIL,), "cloudtrail-all-management-events": (TRAIL,),
    "cloudtrail-global-service-events": (TRAIL,), "iam-no-service-wildcard": (ROLE_POLICY,),
    "iam-no-admin-managed-policy": ("aws:iam/role:Role",),
    "resource-policy-no-public-or-foreign-principal": ("aws:s3/bucketPolicy:BucketPolicy", "aws:kms/key:Key"),
    "resource-policy-service-source-condition": ("aws:s3/bucketPolicy:BucketPolicy", "aws:kms/key:Key"),
    "sns-url-subscription-endpoint-secret": ("aws:sns/topicSubscription:TopicSubscription",),
    "pod-security-restricted": (DEPLOYMENT,), "docker-container-hardened": (CONTAINER,),
    "secret-config-stays-secret": ("aws:sns/topicSubscription:TopicSubscription",),
    "cis-detections-alert-thresholds": ("aws:cloudwatch/logMetricFilter:LogMetricFilter",),
    "heartbeat-enabled": ("aws:cloudwatch/logMetricFilter:LogMetricFilter",),
    "alert-timings-bounded": (),
}
for _policy, _types in _APPLIES_TO.items():
    _first = next(w for w in WEAKENINGS if _policy in w.caught_by)
    CASES[_policy] = Case(_first.scenario, _types, lambda mp, w=_first: weakened(w))

_baselines: dict[str, tuple] = {}


def baseline(name: str):
    if name not in _baselines:
        rec, config, secrets = record(SCENARIOS[name])
        _baselines[name] = rec, plan_violations(rec, stack_from_config("test", config, secrets))
    return _baselines[name]


def test_recordings_of_the_unchanged_program_are_reused():
    assert record(SCENARIOS["none"])[0] is record(SCENARIOS["none"])[0]


def test_every_policy_has_a_case():
    assert set(CASES) == {p.name for p in POLICIES} | {"webhook-url-is-secret-config"} | set(CHECKS) | set(PLAN_ONLY)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_baselines_are_compliant(scenario):
    _, violations = baseline(scenario)
    assert [(v.policy, v.type, v.name, v.message) for v in violations] == []


@pytest.mark.parametrize("policy", sorted(CASES))
def test_compliant_example_passes(policy):
    case = CASES[policy]
    rec, violations = baseline(case.baseline)
    for type_ in case.applies_to:
        assert rec.of_type(type_), f"{policy}: baseline {case.baseline} has no {type_} to check"
    assert policy not in names(violations, level=None)


#: Each pack policy's level (plan-only checks are mandatory by default).
LEVELS = {p.name: p.enforcement_level.value for p in POLICIES}

_violations: dict[str, list] = {}


def violations_of(policy: str, monkeypatch=None) -> list:
    """The violating example's violations (computed once; the monkeypatching cases are not cached)."""
    if policy in _violations:
        return _violations[policy]
    found = CASES[policy].violate(monkeypatch)
    if monkeypatch is None or CASES[policy].violate not in (_latest_image, _access_key_not_enabled,
                                                           _cis_filter_missing):
        _violations[policy] = found
    return found


@pytest.mark.parametrize("policy", sorted(CASES))
def test_violating_example_is_caught(policy, monkeypatch):
    violations = violations_of(policy, monkeypatch)
    caught = [v for v in violations if v.policy == policy]
    assert caught, f"{policy} not reported; got {sorted(names(violations, None))}"
    assert all(v.level == LEVELS.get(policy, "mandatory") for v in caught)
    for v in violations:  # messages name places, never the secret
        assert SIG not in v.message and "secret.invalid" not in v.message


# --- more violating variants of some policies -----------------------------------------------------------------

def test_trust_policy_messages_name_each_weakened_role():
    found = [v for v in violations_of("iam-trust-policy-scoped") if v.policy == "iam-trust-policy-scoped"]
    by_name: dict[str, str] = {}
    for v in found:
        by_name[v.name] = by_name.get(v.name, "") + v.message
    assert "aws:SourceArn or aws:SourceAccount" in by_name["trailwatch-delivery-role"]
    assert "not pinned to one subject" in by_name["trailwatch-exporter-irsa"]


def test_guide_logs_grant_is_reported_on_the_resource_with_the_pattern():
    (v,) = [v for v in violations_of("iam-no-wildcard-logs-write") if v.policy == "iam-no-wildcard-logs-write"]
    assert v.type == ROLE_POLICY and "arn:aws:logs:*:*:*" in v.message


def test_retention_threshold_comes_from_policy_config():
    strict = {"log-group-retention": {"minimumRetentionDays": 365}}
    (v,) = [v for v in check({}, policy_config=strict) if v.policy == "log-group-retention"]
    assert "below the required minimum of 365 days" in v.message
    assert "log-group-retention" not in names(check({"logRetentionDays": 400}, policy_config=strict))
    assert "log-group-retention" not in names(check({"logRetentionDays": 0}))  # never expires


def test_enforcement_level_comes_from_policy_config():
    found = check({"logRetentionDays": 30}, policy_config={"log-group-retention": "advisory"})
    assert [v.level for v in found if v.policy == "log-group-retention"] == ["advisory"]
    found = check({"logRetentionDays": 30}, policy_config={"log-group-retention": {"enforcementLevel": "disabled"}})
    assert "log-group-retention" not in names(found, None)


def test_docker_adapter_upload_needs_additional_secret_outputs():
    found = check(DOCKER, program_for(transforms=[set_opts(CONTAINER, "adapter", additional_secret_outputs=[])]))
    (v,) = [v for v in found if v.policy == "no-plaintext-teams-webhook"]
    assert v.name == "trailwatch-adapter" and v.message.startswith("uploads[1].content ")


def test_docker_adapter_published_beyond_loopback():
    def widen(props):
        props["ports"] = [{**port, "ip": "0.0.0.0"} for port in props["ports"]]
    found = check(DOCKER, program_for(transforms=[edit_props(CONTAINER, widen, "adapter")]))
    assert [v.name for v in found if v.policy == "adapter-not-exposed"] == ["trailwatch-adapter"]


def test_docker_container_running_as_root():
    found = check(DOCKER, program_for(transforms=[set_props(CONTAINER, "exporter", user="root")]))
    assert [v.name for v in found if v.policy == "containers-non-root"] == ["trailwatch-exporter"]


def test_duplicate_alert_rules_are_reported_per_filter():
    found = check(K8S, program_for(extra=_second_alert_rules))
    dup = [v for v in found if v.policy == "every-filter-has-one-alert"]
    assert dup and all("has 2 alert rules" in v.message for v in dup)


def test_security_hub_alarm_without_action():
    found = check(SCENARIOS["cis"], program_for(transforms=[set_props(
        "aws:cloudwatch/metricAlarm:MetricAlarm", "root_usage", alarm_actions=[])]))
    (v,) = [v for v in found if v.policy == "cis-detections-complete"]
    assert "root_usage" in v.message and "alarm" in v.message


def test_no_cis_requirement_without_cis_config(monkeypatch):
    stack = _without_root_usage(stack_with({}), monkeypatch)
    found = check({}, program_for(stack))
    assert "cis-detections-complete" not in names(found) and "every-filter-has-one-alert" not in names(found)


def test_webhook_in_other_plaintext_config_key():
    found = check({"securityHubAlarms": True, "alarmHttpsEndpoints": [WEBHOOK]})
    config = [v for v in found if v.policy == "webhook-url-is-secret-config"]
    assert [v.name for v in config] == ["trailwatch:alarmHttpsEndpoints"]
    # and the SNS subscription carrying it is caught by the pack itself
    subs = [v for v in found if v.policy == "no-plaintext-teams-webhook"]
    assert [v.type for v in subs] == ["aws:sns/topicSubscription:TopicSubscription"]
    assert all(SIG not in v.message for v in found)


def test_secure_webhook_is_not_a_config_violation():
    assert "webhook-url-is-secret-config" not in names(check({**K8S, "teamsWebhookUrl": SECURE}))


def test_native_k8s_keeps_the_webhook_in_a_secret_only():
    _, violations = baseline("k8s-native")
    assert violations == []
    rec, _ = baseline("k8s-native")
    assert rec.of_type("kubernetes:core/v1:Secret")


def test_plaintext_and_json_stack_outputs_both_checked():
    found = check({}, program_for(extra=lambda s, o: o.update(notes=json.dumps({"url": WEBHOOK}))))
    assert [v.name for v in found if v.policy == "no-teams-webhook-in-outputs"] == ["trailwatch-test"]


def test_oidc_arn_used_in_scenarios_is_an_eks_provider():
    assert ":oidc-provider/oidc.eks." in OIDC_ARN


@pytest.mark.parametrize("image", ["prom/cloudwatch-exporter:main", "prom/cloudwatch-exporter:LATEST",
                                   "prom/cloudwatch-exporter@sha256:"])
def test_mutable_image_forms_are_caught(image, monkeypatch):
    import components.workload as workload

    monkeypatch.setattr(workload, "is_pinned_image", lambda image: True)  # the component's own guard removed
    found = check(K8S, program_for(stack_with(K8S, exporter_image=image)))
    caught = [v for v in found if v.policy == "images-pinned"]
    assert {v.type for v in caught} == {DEPLOYMENT}
    assert all(image in v.message and "allowed" in v.message for v in caught)


def test_image_tag_pattern_comes_from_policy_config(monkeypatch):
    import components.workload as workload

    monkeypatch.setattr(workload, "is_pinned_image", lambda image: True)
    program = program_for(stack_with(K8S, exporter_image="prom/cloudwatch-exporter:2024-06-01"))
    assert "images-pinned" in names(check(K8S, program))
    dated = {"images-pinned": {"allowedTagPattern": r"v?\d+\.\d+\.\d+|\d{4}-\d{2}-\d{2}"}}
    assert "images-pinned" not in names(check(K8S, program, policy_config=dated))


def test_secret_https_endpoint_stays_secret_in_input_and_output():
    rec, _, secrets = record(SCENARIOS["cis-secret"])
    assert "trailwatch:alarmHttpsEndpoints" in secrets
    subs = {r.name: r for r in rec.of_type("aws:sns/topicSubscription:TopicSubscription")}
    for name, sub in subs.items():
        assert pulumi.runtime.rpc.is_rpc_secret(sub.inputs["endpoint"]), name
    https = next(r for n, r in subs.items() if "https" in n)
    assert https.additional_secret_outputs == ["endpoint"]


def test_plain_https_endpoint_is_still_kept_secret():
    rec, _, secrets = record(SCENARIOS["cis-https"])
    assert not secrets
    (sub,) = rec.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert pulumi.runtime.rpc.is_rpc_secret(sub.inputs["endpoint"])


def test_plan_only_checks_take_levels_and_limits_from_policy_config():
    weak = {"groupWaitSeconds": 86400}
    assert [v.level for v in check(weak) if v.policy == "alert-timings-bounded"] == ["mandatory"]
    assert [v.level for v in check(weak, policy_config={"alert-timings-bounded": "advisory"})
            if v.policy == "alert-timings-bounded"] == ["advisory"]
    assert "alert-timings-bounded" not in names(check(weak, policy_config={
        "alert-timings-bounded": {"maxGroupWaitSeconds": 86400}}), None)
    from trailwatch.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown property 'maxWait'"):
        check(weak, policy_config={"alert-timings-bounded": {"maxWait": 1}})


def test_secret_suspicious_ips_stay_secret_in_the_filter_pattern():
    rec, violations = baseline("k8s-secret-ips")
    (filt,) = [r for r in rec.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter") if "suspicious" in r.name]
    assert pulumi.runtime.rpc.is_rpc_secret(filt.inputs["pattern"])
    assert "192.0.2.254" in filt.inputs["pattern"]["value"]  # plan's placeholder, traced through
    assert violations == []
def test_missing_network_policy_is_reported_for_each_workload():
    def unselect(props):
        props["spec"] = {**props["spec"], "pod_selector": {"match_labels": {"app.kubernetes.io/name": "other"}}}
    found = check(K8S, program_for(transforms=[edit_props("kubernetes:networking.k8s.io/v1:NetworkPolicy", unselect)]))
    hits = [v for v in found if v.policy == "network-policies-required"]
    assert sorted(v.name for v in hits) == ["trailwatch-adapter", "trailwatch-exporter"]
    assert all("no NetworkPolicy selecting its pods" in v.message for v in hits)
