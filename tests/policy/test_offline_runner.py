"""The offline runner hands resources to policies the way the engine does, and agrees with the real pack process.

The pack process is started exactly as the Pulumi CLI starts a Python policy pack (``python -m pulumi.policy
<engine> .`` in ``policy/``, stack config in ``PULUMI_CONFIG``), driven over gRPC with the requests the
offline runner builds; both must report the same violations.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pytest
from google.protobuf import empty_pb2
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import (
    EnforcementLevel, PolicyResource, ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs,
    StackValidationPolicy,
)

from policy_helpers import SCENARIOS, WEBHOOK, process_violations, program_for, record, start_pack, stop_pack
from trailwatch.offline_policy import (
    analyze, engine_config, policy_config_request, stack_urn,
)
from trailwatch.policies import PACK_NAME, POLICIES

ROOT = Path(__file__).resolve().parents[2]
K8S = SCENARIOS["k8s"]
WEAK = {**K8S, "logRetentionDays": 30, "multiRegionTrail": False}


def probe(types: tuple[str, ...]):
    seen: list[ResourceValidationArgs] = []

    def validate(args, report_violation):
        if args.resource_type in types:
            seen.append(args)
    return ResourceValidationPolicy("probe", "records what it is given", validate,
                                    enforcement_level=EnforcementLevel.ADVISORY), seen


def test_resource_policies_get_engine_shaped_inputs():
    policy, seen = probe(("aws:cloudwatch/logGroup:LogGroup", "kubernetes:core/v1:Secret"))
    rec, config, _ = record(K8S)
    assert analyze(rec, config, "test", policies=[policy]) == []
    by_type = {a.resource_type: a for a in seen if a.resource_type != "kubernetes:core/v1:Secret"
               or a.name == "trailwatch-adapter-secrets"}
    group = by_type["aws:cloudwatch/logGroup:LogGroup"]
    assert isinstance(group, ResourceValidationArgs)
    assert group.props["retentionInDays"] == 90.0 and isinstance(group.props["retentionInDays"], float)
    assert "retention_in_days" not in group.props  # camelCase, as the engine sends them
    assert group.opts.parent.endswith("trailwatch:index:TrailToLogs::trailwatch")
    assert group.urn.endswith("aws:cloudwatch/logGroup:LogGroup::trailwatch-logs") and group.name == "trailwatch-logs"
    secret = by_type["kubernetes:core/v1:Secret"]
    # recorded wrapped as a secret; handed over unwrapped, like the engine does
    (recorded,) = [r for r in rec.of_type("kubernetes:core/v1:Secret") if r.name == "trailwatch-adapter-secrets"]
    assert recorded.inputs["stringData"]["4dabf18193072939515e22adb298388d"]
    assert "webhook-url" in secret.props["stringData"]
    assert set(secret.opts.additional_secret_outputs) == {"data", "stringData"}


def test_stack_policies_get_linked_resources():
    seen: list[StackValidationArgs] = []
    policy = StackValidationPolicy("probe-stack", "records the stack", lambda args, report: seen.append(args),
                                   enforcement_level=EnforcementLevel.ADVISORY)
    rec, config, _ = record({})
    analyze(rec, config, "test", policies=[policy])
    (args,) = seen
    by_type = {r.resource_type: r for r in args.resources}
    assert all(isinstance(r, PolicyResource) for r in args.resources)
    bucket_policy = by_type["aws:s3/bucketPolicy:BucketPolicy"]
    assert [d.urn for d in bucket_policy.property_dependencies["bucket"]] == [by_type["aws:s3/bucket:Bucket"].urn]
    assert bucket_policy.parent is by_type["trailwatch:index:TrailToLogs"]
    assert by_type["aws:s3/bucketPolicy:BucketPolicy"] in by_type["aws:cloudtrail/trail:Trail"].dependencies
    stack = by_type["pulumi:pulumi:Stack"]
    assert stack.urn == stack_urn("test") and stack.props["logGroupName"] == "/aws/cloudtrail/trailwatch-test"


def _unknown() -> pulumi.Output:
    loop = asyncio.get_event_loop()
    futures = [loop.create_future() for _ in range(3)]
    futures[0].set_result(None)
    futures[1].set_result(False)  # not known: serialized as the engine's unknown sentinel during preview
    futures[2].set_result(False)
    return pulumi.Output(set(), futures[0], futures[1], futures[2])


def test_unknown_values_raise_in_policies_and_are_uncheckable_in_ours():
    def extra(stack, outputs):
        aws.cloudwatch.LogGroup("computed", retention_in_days=_unknown(), kms_key_id="arn:aws:kms:x")

    rec, config, _ = record({}, program_for(extra=extra))

    def touch(args, report_violation):
        if args.name == "computed":
            return args.props["retentionInDays"]  # raises UnknownValueError, as under the engine

    strict = ResourceValidationPolicy("touch", "reads a computed value", touch,
                                      enforcement_level=EnforcementLevel.MANDATORY)
    found = analyze(rec, config, "test", policies=[strict, *POLICIES])
    (diag,) = [v for v in found if v.policy == "touch"]
    assert diag.level == "advisory" and "can't be known during preview" in diag.message
    assert not [v for v in found if v.name == "computed" and v.policy != "touch"]


def test_policy_config_request_fills_schema_defaults_and_overrides():
    request = policy_config_request(POLICIES, {"log-group-retention": {"minimumRetentionDays": 180},
                                               "s3-versioning": "advisory"})
    retention = request.policyConfig["log-group-retention"]
    assert retention.properties["minimumRetentionDays"] == 180
    assert request.policyConfig["s3-versioning"].enforcementLevel == analyzer_pb2.ADVISORY
    assert request.policyConfig["iam-trust-policy-scoped"].properties["exemptServices"] == ["ec2.amazonaws.com"]


def test_policy_config_rejects_unknown_policies():
    from trailwatch.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown policy 'no-such-policy'"):
        policy_config_request(POLICIES, {"no-such-policy": "mandatory"})


# --- the real pack process, started as the Pulumi CLI starts it --------------------------------------------

@pytest.fixture(scope="module")
def weak_run():
    rec, config, _ = record(WEAK)
    return rec, config


def test_pack_process_and_offline_runner_agree(weak_run):
    rec, config = weak_run
    proc, channel, stub = start_pack(ROOT / "policy", engine_config(config))
    try:
        info = stub.GetAnalyzerInfo(empty_pb2.Empty())
        assert info.name == PACK_NAME
        assert [p.name for p in info.policies] == [p.name for p in POLICIES]
        from_process = process_violations(stub, rec)
    finally:
        stop_pack(proc, channel)
    offline = analyze(rec, config, "test")
    assert sorted(from_process, key=repr) == sorted(offline, key=repr)
    assert {v.policy for v in offline} == {"log-group-retention", "cloudtrail-multi-region"}


def test_pack_process_and_offline_runner_agree_on_every_weakening():
    """Every weakening and harmless change of the catalogue, through the real pack process and offline."""
    from weakenings import HARMLESS, WEAKENINGS, recording_of

    by_config: dict[str, list] = {}
    for change in WEAKENINGS + HARMLESS:
        rec, config, _ = recording_of(change)
        by_config.setdefault(json.dumps(engine_config(config), sort_keys=True), []).append((change, rec, config))
    compared = 0
    for config_json, runs in by_config.items():
        proc, channel, stub = start_pack(ROOT / "policy", json.loads(config_json))
        try:
            for change, rec, config in runs:
                from_process = process_violations(stub, rec)
                offline = analyze(rec, config, "test")
                assert sorted(from_process, key=repr) == sorted(offline, key=repr), change.name
                pack_policies = change.caught_by & {p.name for p in POLICIES}
                assert {v.policy for v in offline if v.mandatory} == pack_policies, change.name
                compared += 1
        finally:
            stop_pack(proc, channel)
    assert compared == len(WEAKENINGS) + len(HARMLESS)


def test_bundled_pack_runs_without_the_repository(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "policy" / "bundle.py"), str(tmp_path / "pack")], check=True,
                   capture_output=True, timeout=120)
    assert (tmp_path / "pack" / "trailwatch" / "policies" / "aws.py").is_file()
    assert (tmp_path / "pack" / "configs" / "detections.yaml").is_file()
    assert not (tmp_path / "trailwatch").exists()  # nothing to fall back on: the bundle must be complete
    proc, channel, stub = start_pack(tmp_path / "pack", {"trailwatch:cisCompliance": "true"})
    try:
        assert len(stub.GetAnalyzerInfo(empty_pb2.Empty()).policies) == len(POLICIES)
        stub.Configure(policy_config_request(POLICIES))
        # a stack with no metric filters at all: the CIS policy (which reads the bundled catalog) fires
        response = stub.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest())
        assert {d.policyName for d in response.diagnostics} == {"cis-detections-complete"}
    finally:
        stop_pack(proc, channel)


def test_pack_main_only_constructs_the_pack():
    text = (ROOT / "policy" / "__main__.py").read_text()
    assert text.count("PolicyPack(") == 1 and "def " not in text
    yaml_text = (ROOT / "policy" / "PulumiPolicy.yaml").read_text()
    assert "name: python" in yaml_text and "virtualenv: .venv" in yaml_text and "version:" in yaml_text


def test_webhook_literal_comes_from_the_stack_config():
    # A URL on no recognised host is still caught when it is the stack's configured webhook value.
    custom = "https://alerts.example.net/hooks/teams-relay/0123456789abcdef"
    settings = {**K8S, "teamsWebhookUrl": {"secure": "v1:x"}}
    rec, config, _ = record(settings, program_for(extra=lambda s, o: o.update(relay=custom)))
    assert not [v for v in analyze(rec, config, "test") if v.policy == "no-teams-webhook-in-outputs"]
    config = {**config, "trailwatch:teamsWebhookUrl": custom}  # what the engine would decrypt
    assert [v.policy for v in analyze(rec, config, "test") if v.policy == "no-teams-webhook-in-outputs"]
    assert WEBHOOK not in json.dumps([v.message for v in analyze(rec, config, "test")])


from trailwatch.mockrun import TrailwatchMocks  # noqa: E402


class _PreviewMocks:
    """Mocks that, like a real first preview, know nothing a provider computes (ids, ARNs, names)."""

    def __init__(self, region: str):
        self._invokes = TrailwatchMocks(region)  # invokes (account, region, partition) are known in a preview

    def new_resource(self, args):
        return "", {}

    def call(self, args):
        return self._invokes.call(args)


@pytest.mark.parametrize("scenario", ["k8s", "docker-key", "cis"])
def test_first_preview_unknowns_give_no_false_verdicts(scenario, monkeypatch):
    import trailwatch.mockrun as mockrun
    from pulumi.runtime.mocks import Mocks

    monkeypatch.setattr(mockrun, "TrailwatchMocks", type("PreviewMocks", (_PreviewMocks, Mocks), {}))
    rec, config, _ = record(SCENARIOS[scenario], program_for())  # program given: bypasses the cache
    unknown = [k for r in rec.resources for k, v in r.inputs.items() if type(v).__name__ == "Unknown"]
    assert len(unknown) > 20  # ARNs, ids, JSON documents built from them...
    assert analyze(rec, config, "test") == []  # ...are neither violations nor "can't run" diagnostics
