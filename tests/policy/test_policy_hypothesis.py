"""Property tests: random valid stack configs pass; random weakened ones are caught by exactly the right policies;
no policy crashes on any shape of input (a crashing policy fails the user's whole preview)."""

from __future__ import annotations

from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pulumi.runtime.proto import analyzer_pb2 as proto
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer

from policy_helpers import OIDC_ARN, SECURE, WEBHOOK, check, names, program_for, stack_with
from trailwatch.offline_policy import policy_config_request, properties
from trailwatch.policies import POLICIES
from trailwatch.settings import RETENTION_DAYS

FAST = settings(max_examples=6, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def valid_configs(draw) -> dict:
    runtime = draw(st.sampled_from(["none", "docker", "kubernetes"]))
    config = {
        "aws:region": draw(st.sampled_from(["us-east-1", "eu-west-1", "ap-southeast-2"])),
        "logRetentionDays": draw(st.sampled_from([d for d in RETENTION_DAYS if d == 0 or d >= 90])),
        "multiRegionTrail": True,
        "runtime": runtime,
        "teamsMode": draw(st.sampled_from(["adapter", "native"])),
        "cisCompliance": draw(st.booleans()),
        "securityHubAlarms": draw(st.booleans()),
    }
    if runtime != "none" or draw(st.booleans()):
        config["teamsWebhookUrl"] = SECURE
    if runtime == "kubernetes":
        config["eksOidcProviderArn"] = OIDC_ARN
    if runtime == "docker":
        config["exporterAccessKey"] = draw(st.booleans())
    return config


WEAKENINGS = {
    "retention": "log-group-retention",
    "single-region": "cloudtrail-multi-region",
    "plaintext-webhook": "webhook-url-is-secret-config",
    "latest-image": "images-pinned",
}


@FAST
@given(valid_configs())
def test_random_valid_configs_pass(config):
    found = check(config)
    assert [(v.policy, v.name, v.message) for v in found if v.mandatory] == []


@FAST
@given(valid_configs(), st.sets(st.sampled_from(sorted(WEAKENINGS)), min_size=1),
       st.sampled_from([d for d in RETENTION_DAYS if 0 < d < 90]), st.sampled_from(["exporter", "adapter"]))
def test_random_weakened_configs_are_caught(config, weakenings, short_retention, which_image):
    config = dict(config)
    if "latest-image" in weakenings and config["runtime"] == "none":
        config.update(runtime="docker", teamsWebhookUrl=SECURE)  # images exist only with a runtime
    if "retention" in weakenings:
        config["logRetentionDays"] = short_retention
    if "single-region" in weakenings:
        config["multiRegionTrail"] = False
    if "plaintext-webhook" in weakenings:
        config["teamsWebhookUrl"] = WEBHOOK
    program = None
    if "latest-image" in weakenings:
        # Config validation and the components both refuse unpinned images; the policy is the last line, so
        # the test removes the components' guard and passes the image as a component argument.
        field = "exporter_image" if which_image == "exporter" or config["teamsMode"] == "native" else "adapter_image"
        image = ("prom/cloudwatch-exporter:latest" if field == "exporter_image"
                 else "registry.example.com/trailwatch-adapter")
        program = program_for(stack_with(config, **{field: image}))
    with mock.patch("components.workload.is_pinned_image", lambda image: True), \
            mock.patch("components.teams_adapter.check_image", lambda image: None):
        found = check(config, program)
    assert names(found) == {WEAKENINGS[w] for w in weakenings}
    assert all(WEBHOOK not in v.message for v in found)


# --- robustness: any input shape ------------------------------------------------------------------------------

TYPES = sorted({
    "aws:cloudtrail/trail:Trail", "aws:cloudwatch/logGroup:LogGroup", "aws:kms/key:Key", "aws:iam/role:Role",
    "aws:iam/policy:Policy", "aws:iam/rolePolicy:RolePolicy", "aws:iam/accessKey:AccessKey",
    "aws:s3/bucketPolicy:BucketPolicy", "kubernetes:apps/v1:Deployment", "kubernetes:batch/v1:CronJob",
    "kubernetes:core/v1:ConfigMap", "kubernetes:core/v1:Pod", "docker:index/container:Container",
    "docker:index/remoteImage:RemoteImage", "aws:sns/topicSubscription:TopicSubscription",
    "aws:kms/keyPolicy:KeyPolicy", "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "kubernetes:apps/v1:DaemonSet",
})
KEYS = ["isMultiRegionTrail", "enableLogFileValidation", "kmsKeyId", "cloudWatchLogsGroupArn", "retentionInDays",
        "enableKeyRotation", "keySpec", "policy", "assumeRolePolicy", "inlinePolicies", "spec", "template",
        "containers", "securityContext", "image", "env", "data", "binaryData", "ports", "user", "readOnly",
        "memory", "cpus", "name", "uploads", "Statement", "Action", "Resource", "Principal", "Condition",
        "enableLogging", "includeGlobalServiceEvents", "eventSelectors", "advancedEventSelectors", "fieldSelectors",
        "field", "equals", "notEquals", "readWriteType", "securityOpts", "capabilities", "adds", "add", "drop",
        "volumes", "mounts", "hostPath", "source", "privileged", "hostNetwork", "networkMode", "protocol", "endpoint",
        "managedPolicyArns", "policyArn", "seccompProfile", "type", "sysctls", "seLinuxOptions", "AWS", "Federated"]
json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.sampled_from(["*", "sha256:abc", "root", "0", "logs:*", WEBHOOK, "04da6b54-80e4-46f7-96ec-b56ff0331ba9",
                       "Management", "eventSource", "host", "seccomp=unconfined", "00:00", "https", "iam:*",
                       "arn:aws:iam::aws:policy/AdministratorAccess", "arn:aws:iam::999999999999:root",
                       '{"Statement": [{"Effect": "Allow", "Action": "*", "Principal": {"Service": "x"}}]}',
                       '{"Statement": {"Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": "*"}}'])
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=4),
    max_leaves=12)


SERVICER = _PolicyAnalyzerServicer("trailwatch", "0.0.0", POLICIES, EnforcementLevel.ADVISORY)
SERVICER.Configure(policy_config_request(POLICIES), None)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(st.sampled_from(TYPES), st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6))
def test_no_policy_crashes_on_any_input(resource_type, props):
    servicer = SERVICER
    urn = f"urn:pulumi:test::trailwatch::trailwatch:index:CloudWatchExporter${resource_type}::r"
    request = proto.AnalyzeRequest(type=resource_type, properties=properties(props), urn=urn, name="r")
    servicer.Analyze(request, None)  # must not raise
    stack = proto.AnalyzeStackRequest()
    stack.resources.append(proto.AnalyzerResource(type=resource_type, properties=properties(props), urn=urn,
                                                  name="r"))
    stack.resources.append(proto.AnalyzerResource(type="pulumi:pulumi:Stack", properties=properties(props),
                                                  urn="urn:pulumi:test::trailwatch::pulumi:pulumi:Stack::s",
                                                  name="s"))
    servicer.AnalyzeStack(stack, None)
