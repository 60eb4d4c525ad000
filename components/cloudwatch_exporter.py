"""CloudWatchExporter: prometheus/cloudwatch_exporter reading the detections' metrics, on Kubernetes or Docker.

Kubernetes: IRSA role (trusted by the cluster's OIDC provider for this one service account), ServiceAccount,
ConfigMap, hardened Deployment, ClusterIP Service and a ServiceMonitor the Prometheus Operator selects.
Docker: the pinned image, a config volume, a hardened container bound to 127.0.0.1, and AWS credentials from
the host's instance role (default) or from an IAM user's access key (``access_key=True``).

The config is rendered here by ``trailwatch.render.exporter`` (pure) from plain data: MetricFilterSet's
``metrics`` and ``excepted_metrics`` outputs, the region and the read windows.
"""

import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker
import pulumi_kubernetes as k8s

from trailwatch.catalog import Detection, load_catalog
from trailwatch.contract import (
    EXPORTER_COMPONENT_TYPE, EXPORTER_PORT, EXPORTER_SCRAPE_JOB, KUBERNETES, MAX_SCRAPE_TIMEOUT_SECONDS, STACK_LABEL,
)
from trailwatch.iam_documents import ec2_trust_policy, exporter_policy
from trailwatch.render import render_exporter_config
from trailwatch.settings import StackSettings
from trailwatch.stack import Stack

from .args import TIMING_KEYS, ComponentArgsError, args_of, checked_settings, stack_name_or_current
from .metric_filter_set import DetectionMetric, ExceptedMetric
from .workload import (
    JOB_LABEL, NOBODY, app_labels, check_runtime, checksum, container_security_context, irsa_service_account,
    network_policy_spec, pod_security_context, service_monitor,
)

CONFIG_DIR = "/config"
CONFIG_FILE = "config.yml"


def healthcheck_command(port: int = EXPORTER_PORT) -> list[str]:
    """Docker HEALTHCHECK for the exporter: GET /-/healthy over bash's /dev/tcp, healthy on an HTTP 200.

    prom/cloudwatch-exporter is built FROM eclipse-temurin:<n>-jre-noble, which installs neither curl nor wget
    (wget is purged after the JDK download), so a ``curl`` check could never pass.
    """
    request = r"printf 'GET /-/healthy HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3"
    return ["CMD", "bash", "-c",
            f"exec 3<>/dev/tcp/127.0.0.1/{port} && {request} && head -n 1 <&3 | grep -q ' 200 '"]


#: The CloudWatchExporterArgs fields checked as stack config keys, and those keys.
EXPORTER_KEYS = {"region": "aws:region", **TIMING_KEYS}


@dataclass
class CloudWatchExporterArgs:
    """What to read (MetricFilterSet's outputs) and how (the read path's timings), as plain data or Outputs of
    it; None (or, through the provider, leaving a property out) means the default. The timings must be
    AlertRules': its rules assume this read."""
    metrics: pulumi.Input[Sequence[DetectionMetric]]
    """MetricFilterSet's metrics: each read as a sum over the alert window (the heartbeat's: its own window)."""
    region: str
    """AWS region of the metrics (the filters' log group's)."""
    excepted_metrics: Optional[pulumi.Input[Sequence[ExceptedMetric]]] = None
    """MetricFilterSet's exceptedMetrics: each read over the alert window, like its detection's."""
    stack_name: Optional[str] = None
    """The trailwatch_stack label the scrape adds and AlertRules selects on (default: the Pulumi stack)."""
    alert_window_minutes: Optional[int] = 30
    """The detections' window in minutes (AlertRules' alertWindowMinutes)."""
    heartbeat_missing_minutes: Optional[int] = 26
    """The heartbeat's window in minutes (AlertRules' heartbeatMissingMinutes); at most alertWindowMinutes."""
    delivery_lag_tolerance_minutes: Optional[int] = 25
    """CloudTrail -> CloudWatch Logs delivery lag the read must still count; checked against the other timings."""
    exporter_delay_seconds: Optional[int] = 0
    """How far behind now each read window ends (AlertRules' exporterDelaySeconds)."""
    image: Optional[str] = "prom/cloudwatch-exporter:v0.18.0"
    """The cloudwatch_exporter image, pinned to a version tag or digest."""
    runtime: Optional[str] = KUBERNETES
    """kubernetes or docker."""
    # Kubernetes
    namespace: Optional[str] = "monitoring"
    """Kubernetes namespace of the exporter."""
    oidc_provider_arn: Optional[str] = ""
    """IAM OIDC provider ARN of the EKS cluster (IRSA); required on Kubernetes."""
    service_monitor_labels: Optional[Mapping[str, str]] = field(
        default_factory=lambda: {"release": "kube-prometheus-stack"})
    """Labels the Prometheus Operator selects ServiceMonitors by."""
    scrape_interval_seconds: Optional[int] = 60
    """How often Prometheus scrapes the exporter (AlertRules' scrapeIntervalSeconds)."""
    scrape_timeout_seconds: Optional[int] = MAX_SCRAPE_TIMEOUT_SECONDS
    """Upper bound of the scrape timeout (one CloudWatch call per metric per scrape); never above the interval."""
    prometheus_pod_labels: Optional[Mapping[str, str]] = field(
        default_factory=lambda: {"app.kubernetes.io/name": "prometheus"})
    """Labels of the Prometheus pods (in namespace) the NetworkPolicy lets scrape the exporter."""
    scrape_job: Optional[str] = EXPORTER_SCRAPE_JOB
    """The job label Prometheus gives the scrape (the exporter-health alerts select on it)."""
    scrape_labels: Optional[Mapping[str, str]] = None
    """Labels the scrape adds to every series (default: trailwatch_stack, the stack the rules select on)."""
    # Docker
    access_key: Optional[bool] = False
    """Docker only: create an IAM user + access key instead of relying on the host's instance role."""
    bind_address: Optional[str] = "127.0.0.1"
    """Docker only: host address the exporter port is published on (loopback: /-/reload is unauthenticated)."""

    def settings(self) -> StackSettings:
        """The region and timings checked as stack config checks them; ComponentArgsError naming the argument."""
        if not isinstance(self.region, str) or not self.region:
            raise ComponentArgsError("CloudWatchExporter: region must be a non-empty string")
        return checked_settings("CloudWatchExporter", EXPORTER_KEYS,
                                {name: getattr(self, name) for name in EXPORTER_KEYS})


def metric_entries(value: Any, argument: str) -> list[tuple[str, str, str]]:
    """(namespace, metric, detection) of each entry of a metrics output; one line naming the entry if not."""
    if not isinstance(value, (list, tuple)):
        raise ComponentArgsError(f"CloudWatchExporter: {argument}: must be a list (MetricFilterSet's {argument})")
    out = []
    for i, entry in enumerate(value):
        if not isinstance(entry, Mapping) or not all(isinstance(entry.get(k), str) and entry.get(k)
                                                     for k in ("namespace", "metric", "detection")):
            raise ComponentArgsError(f"CloudWatchExporter: {argument}[{i}]: must have a namespace, metric and "
                                     f"detection (MetricFilterSet's {argument})")
        out.append((entry["namespace"], entry["metric"], entry["detection"]))
    return out


def read_stack(name: str, settings: StackSettings, metrics: Any, excepted: Any) -> Stack:
    """The stack ``render_exporter_config`` renders these metrics from. The exporter's config depends only on
    each metric's namespace and name and on its window: the heartbeat's (a catalog detection marked heartbeat)
    or the alert window; an exception's metric is read like its detection's. So each metric stands in as one
    detection, exceptions' after the detections', in their outputs' order: the config is byte for byte the
    one the whole stack renders."""
    heartbeats = {d.id for d in load_catalog() if d.heartbeat}
    entries = [(ns, metric, det in heartbeats) for ns, metric, det in metric_entries(metrics, "metrics")]
    entries += [(ns, metric, False) for ns, metric, _ in metric_entries(excepted or [], "excepted_metrics")]
    detections = tuple(Detection(id=metric, title=metric, severity="info", metric=metric, description="",
                                 runbook="", namespace=ns, heartbeat=heartbeat) for ns, metric, heartbeat in entries)
    return Stack(name, settings, detections, {}, ())


class CloudWatchExporter(pulumi.ComponentResource):
    """cloudwatch_exporter with least-privilege AWS access; ``url`` is where Prometheus scrapes it."""

    url: pulumi.Output[str]
    """Where Prometheus scrapes the exporter."""
    policy_arn: pulumi.Output[str]
    """The IAM policy reading CloudWatch metrics (three read actions)."""
    role_arn: pulumi.Output[Optional[str]]
    """The role the exporter runs as: IRSA on Kubernetes, the host's instance role on Docker (none with accessKey)."""
    instance_profile_name: pulumi.Output[Optional[str]]
    """Docker with the instance role: the profile to attach to the Docker host."""
    host_role_name: pulumi.Output[Optional[str]]
    """Docker with the instance role: the role's name (the Teams adapter attaches its policy to it too)."""
    access_key_id: pulumi.Output[Optional[str]]
    """Docker with accessKey: the IAM user's access key id (secret)."""
    config_checksum: pulumi.Output[str]
    """sha256 of the exporter's config: changes exactly when what it reads does."""

    def __init__(self, name: str, args: CloudWatchExporterArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = args_of(CloudWatchExporterArgs, args, "CloudWatchExporter")
        check_runtime(args.runtime, args.image, "CloudWatchExporter")
        if args.runtime == KUBERNETES and not args.oidc_provider_arn:
            raise ComponentArgsError("CloudWatchExporter: runtime kubernetes needs oidc_provider_arn (IRSA)")
        settings = args.settings()
        stack_name = stack_name_or_current("CloudWatchExporter", args.stack_name)
        super().__init__(EXPORTER_COMPONENT_TYPE, name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        self._scrape_labels = dict(args.scrape_labels) if args.scrape_labels is not None else {STACK_LABEL: stack_name}
        self._scrape_interval = settings.scrape_interval_seconds
        config = pulumi.Output.all(args.metrics, args.excepted_metrics).apply(
            lambda v: render_exporter_config(read_stack(stack_name, settings, v[0], v[1])))
        self.config_checksum = config.apply(checksum)
        self.role_arn = pulumi.Output.from_input(None)
        self.instance_profile_name = pulumi.Output.from_input(None)
        self.host_role_name = pulumi.Output.from_input(None)
        self.access_key_id = pulumi.Output.from_input(None)

        policy = aws.iam.Policy(
            f"{name}-exporter-policy", description="cloudwatch_exporter: read CloudWatch metrics (trailwatch)",
            policy=json.dumps(exporter_policy()), opts=self._child)
        self.policy_arn = policy.arn

        if args.runtime == KUBERNETES:
            self.url = self._kubernetes(policy, config)
        else:
            self.url = self._docker(policy, config)
        self.register_outputs({
            "url": self.url, "policyArn": self.policy_arn, "roleArn": self.role_arn,
            "instanceProfileName": self.instance_profile_name, "accessKeyId": self.access_key_id,
            "configChecksum": self.config_checksum,
        })

    # --- Kubernetes -------------------------------------------------------------------------------------------
    def _kubernetes(self, policy: aws.iam.Policy, config_yaml: pulumi.Output[str]) -> pulumi.Output[str]:
        name, args, child = self._name, self._args, self._child
        ns = args.namespace
        app = f"{name}-cloudwatch-exporter"
        labels = app_labels("cloudwatch-exporter", name)
        selector = {"app.kubernetes.io/name": "cloudwatch-exporter", "app.kubernetes.io/instance": name}
        service_labels = {**labels, JOB_LABEL: args.scrape_job}

        # Only the exporter pod needs a token (for IRSA); nothing else using its account gets one.
        role, account = irsa_service_account(
            f"{name}-exporter", ns, app, labels, args.oidc_provider_arn, policy.arn,
            f"IRSA: {ns}/{app} reads CloudWatch metrics (trailwatch)", child)
        self.role_arn = role.arn
        # Auto-named: a config change replaces the ConfigMap under a new name, and the checksum annotation
        # below changes too, so the Deployment rolls either way.
        config = k8s.core.v1.ConfigMap(
            f"{name}-exporter-config",
            metadata={"namespace": ns, "labels": labels},
            data={CONFIG_FILE: config_yaml}, opts=child)

        probe = {"initial_delay_seconds": 30, "period_seconds": 20, "timeout_seconds": 5, "failure_threshold": 3}
        k8s.apps.v1.Deployment(
            f"{name}-exporter",
            metadata={"name": app, "namespace": ns, "labels": labels},
            spec={
                "replicas": 1,  # two replicas would double the (billed) CloudWatch API calls
                "selector": {"match_labels": selector},
                "strategy": {"type": "Recreate"},
                "template": {
                    "metadata": {"labels": labels, "annotations": {"checksum/config": self.config_checksum}},
                    "spec": {
                        "service_account_name": account.metadata.name,
                        # The EKS pod identity webhook projects the web-identity token next to the service
                        # account token; keep automount on for this pod so IRSA works on every setup.
                        "automount_service_account_token": True,
                        "security_context": pod_security_context(),
                        "containers": [{
                            "name": "cloudwatch-exporter",
                            "image": args.image,
                            "image_pull_policy": "IfNotPresent",
                            "args": [f"{CONFIG_DIR}/{CONFIG_FILE}"],
                            "ports": [{"name": "http", "container_port": EXPORTER_PORT, "protocol": "TCP"}],
                            "liveness_probe": {"http_get": {"path": "/-/healthy", "port": EXPORTER_PORT}, **probe},
                            "readiness_probe": {"http_get": {"path": "/-/ready", "port": EXPORTER_PORT},
                                                **probe, "initial_delay_seconds": 10, "period_seconds": 10},
                            "resources": {"requests": {"cpu": "50m", "memory": "256Mi"},
                                          "limits": {"cpu": "500m", "memory": "512Mi"}},
                            "security_context": container_security_context(),
                            "volume_mounts": [
                                {"name": "config", "mount_path": CONFIG_DIR, "read_only": True},
                                {"name": "tmp", "mount_path": "/tmp"},  # the JVM writes hsperfdata here
                            ],
                        }],
                        "volumes": [
                            {"name": "config", "config_map": {"name": config.metadata.name}},
                            {"name": "tmp", "empty_dir": {"size_limit": "64Mi"}},
                        ],
                    },
                },
            },
            opts=child)
        service = k8s.core.v1.Service(
            f"{name}-exporter-svc",
            metadata={"name": app, "namespace": ns, "labels": service_labels},
            spec={"type": "ClusterIP", "selector": selector,
                  "ports": [{"name": "http", "port": EXPORTER_PORT, "target_port": "http", "protocol": "TCP"}]},
            opts=child)
        # Only Prometheus may scrape (and POST /-/reload); the exporter talks only to DNS and AWS (443).
        k8s.networking.v1.NetworkPolicy(
            f"{name}-exporter-netpol", metadata={"name": app, "namespace": ns, "labels": labels},
            spec=network_policy_spec(selector, EXPORTER_PORT, [args.prometheus_pod_labels], ns), opts=child)
        service_monitor(f"{name}-exporter-monitor", app, ns, labels, selector, {
            "monitor_labels": args.service_monitor_labels, "interval_seconds": self._scrape_interval,
            "timeout_seconds": args.scrape_timeout_seconds, "labels": self._scrape_labels}, child)
        return service.metadata.name.apply(lambda svc: f"http://{svc}.{ns}.svc:{EXPORTER_PORT}/metrics")

    # --- Docker -----------------------------------------------------------------------------------------------
    def _docker(self, policy: aws.iam.Policy, config_yaml: pulumi.Output[str]) -> pulumi.Output[str]:
        name, args, child = self._name, self._args, self._child
        envs: pulumi.Input[list] = []
        if args.access_key:
            # Opt-in for hosts without an instance role. The key pair lives in Pulumi state (encrypted as a
            # secret) and in the container's environment: rotate it with `pulumi up --replace`.
            user = aws.iam.User(f"{name}-exporter-user", path="/trailwatch/", opts=child)
            aws.iam.UserPolicyAttachment(f"{name}-exporter-user-policy", user=user.name, policy_arn=policy.arn,
                                         opts=child)
            key = aws.iam.AccessKey(
                f"{name}-exporter-key", user=user.name,
                opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["secret", "sesSmtpPasswordV4"]))
            self.access_key_id = pulumi.Output.secret(key.id)
            envs = pulumi.Output.secret(pulumi.Output.all(key.id, key.secret).apply(
                lambda v: [f"AWS_ACCESS_KEY_ID={v[0]}", f"AWS_SECRET_ACCESS_KEY={v[1]}"]))
        else:
            # Default: no long-lived keys. The AWS SDK in the container picks up the EC2 instance role
            # (attach this profile to the Docker host, or attach policy_arn to the host's existing role).
            # From a bridge-network container IMDSv2 needs an instance metadata hop limit of 2.
            role = aws.iam.Role(f"{name}-exporter-host-role",
                                description="Docker host running cloudwatch_exporter (trailwatch)",
                                assume_role_policy=json.dumps(ec2_trust_policy()), opts=child)
            aws.iam.RolePolicyAttachment(f"{name}-exporter-host-policy", role=role.name, policy_arn=policy.arn,
                                         opts=child)
            profile = aws.iam.InstanceProfile(f"{name}-exporter-host-profile", role=role.name, opts=child)
            self.role_arn = role.arn
            self.host_role_name = role.name
            self.instance_profile_name = profile.name

        image = docker.RemoteImage(f"{name}-exporter-image", name=args.image, keep_locally=True, opts=child)
        # Docker refuses to copy uploads into a read-only root filesystem unless the target is a volume.
        volume = docker.Volume(f"{name}-exporter-config", opts=child)
        docker.Container(
            f"{name}-exporter",
            name=f"{name}-cloudwatch-exporter",
            image=image.image_id,
            command=[f"{CONFIG_DIR}/{CONFIG_FILE}"],
            envs=envs,
            uploads=[{"file": f"{CONFIG_DIR}/{CONFIG_FILE}", "content": config_yaml,
                      "permissions": "0444"}],
            volumes=[{"volume_name": volume.name, "container_path": CONFIG_DIR}],
            ports=[{"internal": EXPORTER_PORT, "external": EXPORTER_PORT, "ip": args.bind_address, "protocol": "tcp"}],
            user=f"{NOBODY}:{NOBODY}",
            read_only=True,
            tmpfs={"/tmp": "rw,noexec,nosuid,size=64m"},
            capabilities={"drops": ["ALL"]},
            security_opts=["no-new-privileges:true"],
            memory=512,
            cpus="0.5",
            restart="unless-stopped",
            # The image (eclipse-temurin:*-jre-noble base) has no curl or wget; bash, head and grep are there.
            healthcheck={"tests": healthcheck_command(),
                         "interval": "30s", "timeout": "5s", "retries": 3, "start_period": "30s"},
            labels=[{"label": "trailwatch.component", "value": "cloudwatch-exporter"}],
            # the access key pair (when used) stays encrypted in the container's state outputs too
            opts=pulumi.ResourceOptions(parent=self,
                                        additional_secret_outputs=["envs"] if args.access_key else None))
        return pulumi.Output.from_input(f"http://{args.bind_address}:{EXPORTER_PORT}/metrics")
