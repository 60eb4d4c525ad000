"""CloudWatchExporter: prometheus/cloudwatch_exporter reading the detections' metrics, on Kubernetes or Docker.

Kubernetes: IRSA role (trusted by the cluster's OIDC provider for this one service account), ServiceAccount,
ConfigMap, hardened Deployment, ClusterIP Service and a ServiceMonitor the Prometheus Operator selects.
Docker: the pinned image, a config volume, a hardened container bound to 127.0.0.1, and AWS credentials from
the host's instance role (default) or from an IAM user's access key (``access_key=True``).

The config text comes from ``trailwatch.render.exporter`` (pure); this component only places it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Mapping, Optional

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker
import pulumi_kubernetes as k8s

from trailwatch.aws_policies import ec2_trust_policy, exporter_policy

from .workload import (
    JOB_LABEL, NOBODY, app_labels, check_runtime, checksum, container_security_context, irsa_service_account,
    network_policy_spec, pod_security_context, service_monitor,
)

PORT = 9106
CONFIG_DIR = "/config"
CONFIG_FILE = "config.yml"


def healthcheck_command(port: int = PORT) -> list[str]:
    """Docker HEALTHCHECK for the exporter: GET /-/healthy over bash's /dev/tcp, healthy on an HTTP 200.

    prom/cloudwatch-exporter is built FROM eclipse-temurin:<n>-jre-noble, which installs neither curl nor wget
    (wget is purged after the JDK download), so a ``curl`` check could never pass.
    """
    request = r"printf 'GET /-/healthy HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3"
    return ["CMD", "bash", "-c",
            f"exec 3<>/dev/tcp/127.0.0.1/{port} && {request} && head -n 1 <&3 | grep -q ' 200 '"]


@dataclass
class CloudWatchExporterArgs:
    config_yaml: str
    """The exporter's config.yml (``trailwatch.render.exporter.render_exporter_config``)."""
    image: str = "prom/cloudwatch-exporter:v0.18.0"
    runtime: str = "kubernetes"
    # Kubernetes
    namespace: str = "monitoring"
    oidc_provider_arn: str = ""
    service_monitor_labels: Mapping[str, str] = field(default_factory=lambda: {"release": "kube-prometheus-stack"})
    scrape_interval_seconds: int = 60
    scrape_timeout_seconds: int = 30
    """Upper bound of the scrape timeout (one CloudWatch call per metric per scrape); never above the interval."""
    prometheus_pod_labels: Mapping[str, str] = field(
        default_factory=lambda: {"app.kubernetes.io/name": "prometheus"})
    """Labels of the Prometheus pods (in ``namespace``) the NetworkPolicy lets scrape the exporter."""
    scrape_job: str = "trailwatch-cloudwatch-exporter"
    """The ``job`` label Prometheus gives the scrape (the exporter-health alerts select on it)."""
    scrape_labels: Mapping[str, str] = field(default_factory=dict)
    """Labels the scrape adds to every series (``trailwatch_stack``: the rules of one stack select on it)."""
    # Docker
    access_key: bool = False
    """Docker only: create an IAM user + access key instead of relying on the host's instance role."""
    bind_address: str = "127.0.0.1"
    """Docker only: host address the exporter port is published on (loopback: /-/reload is unauthenticated)."""


class CloudWatchExporter(pulumi.ComponentResource):
    """cloudwatch_exporter with least-privilege AWS access; ``url`` is where Prometheus scrapes it."""

    url: pulumi.Output[str]
    policy_arn: pulumi.Output[str]
    role_arn: pulumi.Output[Optional[str]]
    instance_profile_name: pulumi.Output[Optional[str]]
    host_role_name: pulumi.Output[Optional[str]]
    """Docker with the instance role: the role's name (the Teams adapter attaches its policy to it too)."""
    access_key_id: pulumi.Output[Optional[str]]
    config_checksum: pulumi.Output[str]

    def __init__(self, name: str, args: CloudWatchExporterArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("trailwatch:index:CloudWatchExporter", name, None, opts)
        check_runtime(args.runtime, args.image, "CloudWatchExporter")
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        digest = checksum(args.config_yaml)
        self.config_checksum = pulumi.Output.from_input(digest)
        self.role_arn = pulumi.Output.from_input(None)
        self.instance_profile_name = pulumi.Output.from_input(None)
        self.host_role_name = pulumi.Output.from_input(None)
        self.access_key_id = pulumi.Output.from_input(None)

        policy = aws.iam.Policy(
            f"{name}-exporter-policy", description="cloudwatch_exporter: read CloudWatch metrics (trailwatch)",
            policy=json.dumps(exporter_policy()), opts=self._child)
        self.policy_arn = policy.arn

        if args.runtime == "kubernetes":
            self.url = self._kubernetes(policy, digest)
        else:
            self.url = self._docker(policy)
        self.register_outputs({
            "url": self.url, "policyArn": self.policy_arn, "roleArn": self.role_arn,
            "instanceProfileName": self.instance_profile_name, "accessKeyId": self.access_key_id,
            "configChecksum": self.config_checksum,
        })

    # --- Kubernetes -------------------------------------------------------------------------------------------
    def _kubernetes(self, policy: aws.iam.Policy, digest: str) -> pulumi.Output[str]:
        name, args, child = self._name, self._args, self._child
        if not args.oidc_provider_arn:
            raise ValueError("CloudWatchExporter: runtime kubernetes needs oidc_provider_arn (IRSA)")
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
            data={CONFIG_FILE: args.config_yaml}, opts=child)

        probe = {"initial_delay_seconds": 30, "period_seconds": 20, "timeout_seconds": 5, "failure_threshold": 3}
        k8s.apps.v1.Deployment(
            f"{name}-exporter",
            metadata={"name": app, "namespace": ns, "labels": labels},
            spec={
                "replicas": 1,  # two replicas would double the (billed) CloudWatch API calls
                "selector": {"match_labels": selector},
                "strategy": {"type": "Recreate"},
                "template": {
                    "metadata": {"labels": labels, "annotations": {"checksum/config": digest}},
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
                            "ports": [{"name": "http", "container_port": PORT, "protocol": "TCP"}],
                            "liveness_probe": {"http_get": {"path": "/-/healthy", "port": PORT}, **probe},
                            "readiness_probe": {"http_get": {"path": "/-/ready", "port": PORT},
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
                  "ports": [{"name": "http", "port": PORT, "target_port": "http", "protocol": "TCP"}]},
            opts=child)
        # Only Prometheus may scrape (and POST /-/reload); the exporter talks only to DNS and AWS (443).
        k8s.networking.v1.NetworkPolicy(
            f"{name}-exporter-netpol", metadata={"name": app, "namespace": ns, "labels": labels},
            spec=network_policy_spec(selector, PORT, [args.prometheus_pod_labels], ns), opts=child)
        service_monitor(f"{name}-exporter-monitor", app, ns, labels, selector, {
            "monitor_labels": args.service_monitor_labels, "interval_seconds": args.scrape_interval_seconds,
            "timeout_seconds": args.scrape_timeout_seconds, "labels": args.scrape_labels}, child)
        return service.metadata.name.apply(lambda svc: f"http://{svc}.{ns}.svc:{PORT}/metrics")

    # --- Docker -----------------------------------------------------------------------------------------------
    def _docker(self, policy: aws.iam.Policy) -> pulumi.Output[str]:
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
            uploads=[{"file": f"{CONFIG_DIR}/{CONFIG_FILE}", "content": args.config_yaml,
                      "permissions": "0444"}],
            volumes=[{"volume_name": volume.name, "container_path": CONFIG_DIR}],
            ports=[{"internal": PORT, "external": PORT, "ip": args.bind_address, "protocol": "tcp"}],
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
        return pulumi.Output.from_input(f"http://{args.bind_address}:{PORT}/metrics")
