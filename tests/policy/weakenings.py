"""Weakenings of the real program a security reviewer would try, each with the policies that must catch it.

Each ``Weakening`` changes the program the way a user or a regression would: stack config, or a stack
transformation changing what a component passes to one resource. ``caught_by`` is known by construction (the
change was written to break exactly those rules). ``HARMLESS`` are changes of the same fields that stay within
what the policies allow; they must pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import pulumi

from policy_helpers import SECURE, edit_document, edit_props, set_opts, set_props

TRAIL = "aws:cloudtrail/trail:Trail"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
KMS_KEY = "aws:kms/key:Key"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CONTAINER = "docker:index/container:Container"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
FOREIGN = "arn:aws:iam::999999999999:root"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


@dataclass(frozen=True)
class Weakening:
    name: str
    scenario: str          # the compliant baseline (policy_helpers.SCENARIOS) it applies to
    caught_by: frozenset   # the policies that must report it (and no other mandatory policy)
    transforms: tuple = ()
    settings: dict = field(default_factory=dict)


def _w(name: str, scenario: str, caught_by: str | tuple, *transforms: Callable, **settings: Any) -> Weakening:
    policies = (caught_by,) if isinstance(caught_by, str) else caught_by
    return Weakening(name, scenario, frozenset(policies), tuple(transforms), settings)


# --- document edits -------------------------------------------------------------------------------------------

def _append(statement: dict) -> Callable[[dict], None]:
    return lambda doc: doc["Statement"].append(statement)


def _edit_statement(sid: str, edit: Callable[[dict], None]) -> Callable[[dict], None]:
    def apply(doc: dict) -> None:
        for st in doc["Statement"]:
            if st.get("Sid") == sid:
                edit(st)
    return apply


def _set_condition(key: str, value: Any) -> Callable[[dict], None]:
    def edit(st: dict) -> None:
        for body in st["Condition"].values():
            if key in body:
                body[key] = value
    return edit


def _trust(edit: Callable[[dict], None]) -> Callable[[dict], None]:
    return lambda doc: edit(doc["Statement"][0])


def _drop_aud(st: dict) -> None:
    equals = st["Condition"]["StringEquals"]
    for key in [k for k in equals if k.endswith(":aud")]:
        del equals[key]


# --- pod and container edits ------------------------------------------------------------------------------------

def _pod(edit: Callable[[dict], None]) -> Callable[[dict], None]:
    return lambda props: edit(props["spec"]["template"]["spec"])


def _ctr(edit: Callable[[dict], None]) -> Callable[[dict], None]:
    return _pod(lambda spec: edit(spec["containers"][0]))


def _ctx(**changes: Any) -> Callable[[dict], None]:
    return _ctr(lambda c: c["security_context"].update(changes))


def _k8s(name: str, caught_by, edit: Callable[[dict], None], part: str = "exporter") -> Weakening:
    return _w(name, "k8s", caught_by, edit_props(DEPLOYMENT, edit, part))


def _docker(name: str, caught_by, part: str = "exporter", **changes: Any) -> Weakening:
    return _w(name, "docker", caught_by, set_props(CONTAINER, part, **changes))


def _ports(ip: str) -> Callable[[dict], None]:
    def edit(props: dict) -> None:
        props["ports"] = [{**p, "ip": ip} for p in props["ports"]]
    return edit


def _unsecret(props: dict) -> None:
    props["endpoint"] = pulumi.Output.unsecret(pulumi.Output.from_input(props["endpoint"]))


PSS = "pod-security-restricted"
DOCKER = "docker-container-hardened"
RESOURCE = "resource-policy-no-public-or-foreign-principal"
SERVICE = "resource-policy-service-source-condition"
TRUST = "iam-trust-policy-scoped"
MGMT = "cloudtrail-all-management-events"
CIS_SECRET = {"cisCompliance": True, "securityHubAlarms": True, "alarmEmails": SECURE, "alarmHttpsEndpoints": SECURE}

WEAKENINGS: list[Weakening] = [
    # trail
    _w("trail-logging-off", "none", "cloudtrail-logging-enabled", set_props(TRAIL, enable_logging=False)),
    _w("trail-no-management-events", "none", MGMT, set_props(TRAIL, event_selectors=[
        {"include_management_events": False, "read_write_type": "All"}])),
    _w("trail-read-only", "none", MGMT, set_props(TRAIL, event_selectors=[{"read_write_type": "ReadOnly"}])),
    _w("trail-excludes-kms", "none", MGMT, set_props(TRAIL, event_selectors=[
        {"exclude_management_event_sources": ["kms.amazonaws.com"]}])),
    _w("trail-advanced-drops-iam", "none", MGMT, set_props(TRAIL, advanced_event_selectors=[{
        "name": "mgmt", "field_selectors": [{"field": "eventCategory", "equals": ["Management"]},
                                            {"field": "eventSource", "not_equals": ["iam.amazonaws.com"]}]}])),
    _w("trail-advanced-only-s3", "none", MGMT, set_props(TRAIL, advanced_event_selectors=[{
        "name": "mgmt", "field_selectors": [{"field": "eventCategory", "equals": ["Management"]},
                                            {"field": "eventSource", "equals": ["s3.amazonaws.com"]}]}])),
    _w("trail-advanced-drops-ec2", "none", MGMT, set_props(TRAIL, advanced_event_selectors=[{
        "name": "mgmt", "field_selectors": [{"field": "eventCategory", "equals": ["Management"]},
                                            {"field": "eventSource", "not_equals": ["ec2.amazonaws.com"]}]}])),
    _w("trail-advanced-read-only", "none", MGMT, set_props(TRAIL, advanced_event_selectors=[{
        "name": "mgmt", "field_selectors": [{"field": "eventCategory", "equals": ["Management"]},
                                            {"field": "readOnly", "equals": ["true"]}]}])),
    _w("trail-advanced-data-only", "none", MGMT, set_props(TRAIL, advanced_event_selectors=[{
        "name": "data", "field_selectors": [{"field": "eventCategory", "equals": ["Data"]},
                                            {"field": "resources.type", "equals": ["AWS::S3::Object"]}]}])),
    _w("trail-no-global-events", "none", "cloudtrail-global-service-events",
       set_props(TRAIL, include_global_service_events=False)),
    # resource policies
    _w("bucket-public-read", "none", RESOURCE, edit_document(BUCKET_POLICY, "policy", _append(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::x/*"}))),
    _w("bucket-foreign-account", "none", RESOURCE, edit_document(BUCKET_POLICY, "policy", _append(
        {"Effect": "Allow", "Principal": {"AWS": FOREIGN}, "Action": "s3:GetObject", "Resource": "*"}))),
    _w("key-foreign-account", "none", RESOURCE, edit_document(KMS_KEY, "policy", _append(
        {"Effect": "Allow", "Principal": {"AWS": FOREIGN}, "Action": "kms:Decrypt", "Resource": "*"}))),
    _w("key-public-decrypt", "none", RESOURCE, edit_document(KMS_KEY, "policy", _edit_statement(
        "AccountDecryptsTrailLogs", lambda st: st["Condition"].pop("StringEquals")))),
    _w("key-caller-account-wildcard", "none", RESOURCE, edit_document(KMS_KEY, "policy", _edit_statement(
        "AccountDecryptsTrailLogs", _set_condition("kms:CallerAccount", "*")))),
    _w("bucket-cloudtrail-no-source-arn", "none", SERVICE, edit_document(BUCKET_POLICY, "policy", _edit_statement(
        "AWSCloudTrailAclCheck", lambda st: st.pop("Condition")))),
    _w("bucket-cloudtrail-source-arn-wildcard", "none", SERVICE, edit_document(
        BUCKET_POLICY, "policy", _edit_statement("AWSCloudTrailWrite", _set_condition(
            "aws:SourceArn", "arn:aws:cloudtrail:*:*:trail/*")))),
    _w("key-cloudtrail-no-source-arn", "none", SERVICE, edit_document(KMS_KEY, "policy", _edit_statement(
        "CloudTrailDescribesKey", lambda st: st.pop("Condition")))),
    _w("key-logs-no-context", "none", SERVICE, edit_document(KMS_KEY, "policy", _edit_statement(
        "CloudWatchLogsEncryptsLogGroup", lambda st: st.pop("Condition")))),
    # IAM
    *[_w(f"role-policy-{svc}-star", "none", "iam-no-service-wildcard", edit_document(ROLE_POLICY, "policy", _append(
        {"Effect": "Allow", "Action": f"{svc}:*", "Resource": "*"}))) for svc in ("iam", "kms", "s3", "sts")],
    _w("admin-on-delivery-role", "none", "iam-no-admin-managed-policy",
       set_props(ROLE, "delivery", managed_policy_arns=[ADMIN])),
    _w("trust-source-account-wildcard", "none", TRUST, edit_document(ROLE, "assume_role_policy", _trust(
        lambda st: st["Condition"].update(StringLike={"aws:SourceArn": "*", "aws:SourceAccount": "*"})
        or st["Condition"].pop("StringEquals")), "delivery")),
    _w("trust-foreign-account", "none", TRUST, edit_document(ROLE, "assume_role_policy", _append(
        {"Effect": "Allow", "Principal": {"AWS": FOREIGN}, "Action": "sts:AssumeRole"}), "delivery")),
    _w("irsa-without-aud", "k8s", TRUST, edit_document(ROLE, "assume_role_policy", _trust(_drop_aud), "irsa")),
    # Kubernetes, Pod Security Standards "restricted" field by field
    _k8s("pod-privileged", PSS, _ctx(privileged=True)),
    _k8s("pod-privilege-escalation", PSS, _ctx(allow_privilege_escalation=True)),
    _k8s("pod-privilege-escalation-unset", PSS, _ctr(lambda c: c["security_context"].pop("allow_privilege_escalation"))),
    _k8s("pod-cap-sys-admin", PSS, _ctx(capabilities={"drop": ["ALL"], "add": ["SYS_ADMIN"]})),
    _k8s("pod-caps-not-dropped", PSS, _ctx(capabilities={"drop": ["NET_RAW"]})),
    _k8s("pod-host-network", PSS, _pod(lambda s: s.update(host_network=True))),
    _k8s("pod-host-pid", PSS, _pod(lambda s: s.update(host_pid=True))),
    _k8s("pod-host-ipc", PSS, _pod(lambda s: s.update(host_ipc=True))),
    _k8s("pod-host-path", PSS, _pod(lambda s: s["volumes"].append(
        {"name": "host", "host_path": {"path": "/var/run/docker.sock"}}))),
    _k8s("pod-host-port", PSS, _ctr(lambda c: c["ports"][0].update(host_port=9106))),
    _k8s("pod-seccomp-unconfined", PSS, _ctx(seccomp_profile={"type": "Unconfined"})),
    _k8s("pod-level-seccomp-unconfined", PSS, _pod(lambda s: s["security_context"].update(
        seccomp_profile={"type": "Unconfined"}))),
    _k8s("pod-apparmor-unconfined", PSS, _ctx(app_armor_profile={"type": "Unconfined"})),
    _k8s("pod-selinux-spc", PSS, _ctx(se_linux_options={"type": "spc_t"})),
    _k8s("pod-proc-mount-unmasked", PSS, _ctx(proc_mount="Unmasked")),
    _k8s("pod-unsafe-sysctl", PSS, _pod(lambda s: s["security_context"].update(
        sysctls=[{"name": "kernel.core_pattern", "value": "|/x"}]))),
    _k8s("pod-run-as-group-0", PSS, _ctx(run_as_group=0)),
    _k8s("pod-fs-group-0", PSS, _pod(lambda s: s["security_context"].update(fs_group=0))),
    _k8s("pod-supplemental-group-0", PSS, _pod(lambda s: s["security_context"].update(supplemental_groups=[0]))),
    _k8s("pod-root-user", (PSS, "containers-non-root"), _ctx(run_as_user=0, run_as_non_root=False), "adapter"),
    # Docker
    *[_docker(f"docker-user-{user}", "containers-non-root", user=user)
      for user in ("root", "0", "00:00", "+0", "-0", "0:65534", "65534:0", "65534:+00", "nobody:root", "",
                   ":65534")],
    _docker("docker-privileged", DOCKER, privileged=True),
    _docker("docker-cap-add", DOCKER, capabilities={"drops": ["ALL"], "adds": ["NET_ADMIN"]}),
    _docker("docker-seccomp-unconfined", DOCKER, security_opts=["no-new-privileges:true", "seccomp=unconfined"]),
    _docker("docker-apparmor-unconfined", DOCKER, security_opts=["apparmor=unconfined"]),
    _docker("docker-host-network", DOCKER, network_mode="host"),
    _docker("docker-host-pid", DOCKER, pid_mode="host"),
    _w("docker-socket", "docker", DOCKER, edit_props(CONTAINER, lambda p: p["volumes"].append(
        {"host_path": "/var/run/docker.sock", "container_path": "/var/run/docker.sock"}), "exporter")),
    _w("docker-socket-mount", "docker", DOCKER, edit_props(CONTAINER, lambda p: p.update(mounts=[
        {"source": "/run/docker.sock", "target": "/run/docker.sock", "type": "bind"}]), "exporter")),
    _w("docker-exporter-all-addresses", "docker", DOCKER, edit_props(CONTAINER, _ports("0.0.0.0"), "exporter")),
    _w("docker-adapter-all-addresses", "docker", (DOCKER, "adapter-not-exposed"),
       edit_props(CONTAINER, _ports("0.0.0.0"), "adapter")),
    # secrets
    _w("https-endpoint-not-secret-output", "cis-https", "sns-url-subscription-endpoint-secret",
       set_opts(SUBSCRIPTION, "https", additional_secret_outputs=[])),
    _w("secret-endpoint-unwrapped", "cis-secret", "secret-config-stays-secret",
       edit_props(SUBSCRIPTION, _unsecret, "https")),
    _w("secret-email-unwrapped", "cis-secret", "secret-config-stays-secret",
       edit_props(SUBSCRIPTION, _unsecret, "email")),
    _w("secret-ip-pattern-unwrapped", "k8s-secret-ips", "secret-config-stays-secret",
       edit_props(FILTER, lambda p: p.update(pattern=pulumi.Output.unsecret(p["pattern"])), "suspicious")),
    # stack config (plan-only)
    _w("cis-threshold-absurd", "cis", "cis-detections-alert-thresholds",
       detectionOverrides={"root_usage": {"threshold": 100000}}),
    _w("cis-severity-info", "cis", "cis-detections-alert-thresholds",
       detectionOverrides={"iam_policy_changes": {"severity": "info"}}),
    _w("heartbeat-disabled", "none", "heartbeat-enabled", disableDetections=["cloudtrail_heartbeat"]),
    _w("heartbeat-after-a-week", "none", "heartbeat-enabled", heartbeatMissingMinutes=10080, alertWindowMinutes=10080),
    _w("group-wait-a-day", "none", "alert-timings-bounded", groupWaitSeconds=86400),
]

#: Changes of the same fields that stay allowed: none may be reported.
HARMLESS: list[Weakening] = [
    _w("trail-explicit-all", "none", (), set_props(TRAIL, event_selectors=[
        {"read_write_type": "All", "include_management_events": True}])),
    _w("trail-advanced-management", "none", (), set_props(TRAIL, advanced_event_selectors=[{
        "name": "mgmt", "field_selectors": [{"field": "eventCategory", "equals": ["Management"]}]}])),
    _w("role-policy-narrow-read", "none", (), edit_document(ROLE_POLICY, "policy", _append(
        {"Effect": "Allow", "Action": "logs:DescribeLogGroups", "Resource": "*"}))),
    _w("bucket-deny-everyone-delete", "none", (), edit_document(BUCKET_POLICY, "policy", _append(
        {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteBucket", "Resource": "*"}))),
    _k8s("pod-net-bind-service", (), _ctx(capabilities={"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]})),
    _k8s("pod-seccomp-localhost", (), _ctx(seccomp_profile={"type": "Localhost", "localhost_profile": "p.json"})),
    _k8s("pod-safe-sysctl", (), _pod(lambda s: s["security_context"].update(
        sysctls=[{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}]))),
    *[_docker(f"docker-user-{user}", (), user=user) for user in ("1000", "65534:65534", "nobody", "1000:1000", "010")],
    _docker("docker-no-new-privileges", (), security_opts=["no-new-privileges:true"]),
    _w("docker-exporter-ipv6-loopback", "docker", (), edit_props(CONTAINER, _ports("::1"), "exporter")),
    _w("cis-threshold-tuned", "cis", (), detectionOverrides={"unauthorized_api_calls": {"threshold": 5}}),
    _w("group-wait-a-minute", "none", (), groupWaitSeconds=60),
]


_found: dict[str, list] = {}
_recorded: dict[str, tuple] = {}


def settings_of(w: Weakening) -> dict:
    from policy_helpers import SCENARIOS

    return {**SCENARIOS[w.scenario], **w.settings}


def program_of(changes: list[Weakening]):
    """The real program with every transformation of ``changes`` (None when they only change config)."""
    from policy_helpers import program_for

    transforms = [t for w in changes for t in w.transforms]
    return program_for(transforms=transforms) if transforms else None


def recording_of(w: Weakening) -> tuple:
    """``(recording, config, secret keys)`` of the program with ``w`` applied (recorded once per weakening)."""
    from policy_helpers import record

    if w.name not in _recorded:
        _recorded[w.name] = record(settings_of(w), program_of([w]))
    return _recorded[w.name]


def violations_of(w: Weakening) -> list:
    """What plan reports for the program with ``w`` applied (computed once per weakening)."""
    from trailwatch.offline_policy import plan_violations
    from trailwatch.stack import stack_from_config

    if w.name not in _found:
        rec, config, secrets = recording_of(w)
        _found[w.name] = plan_violations(rec, stack_from_config("test", config, secrets))
    return _found[w.name]
