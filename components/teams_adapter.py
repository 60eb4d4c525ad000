"""TeamsAdapter: trailwatch's own adapter (``python -m trailwatch.adapter``) between Alertmanager and a Teams
Workflows webhook, on Kubernetes or Docker.

Image: a prebuilt one the user names by digest (``image``), or ``docker/adapter/Dockerfile`` built with
pulumi-docker-build and pushed to a private ECR repository this component creates (immutable tags, scan on
push). The tag is a hash of the files the image copies, so an unchanged adapter never pushes a new tag (which
an immutable repository would refuse) and a changed one always does.

Secrets: the Workflows URL (the whole URL is the credential) and the bearer token Alertmanager sends are
files: a Kubernetes Secret volume, or Docker uploads whose content is a secret Output. The token is a
``RandomPassword`` (stable across runs, encrypted in state); the URL and the token never go into a ConfigMap,
an env var, an argument or a stack output. The adapter's config (no secret) is a ConfigMap / plain upload.

AWS: exactly ``logs:FilterLogEvents`` on this log group: an IRSA role trusted for this one service account
(Kubernetes), or a policy attached to the Docker host's instance role.

Network (Kubernetes): a NetworkPolicy lets only Alertmanager's pods (posting cards) and Prometheus' pods
(scraping /metrics, which scopes the Teams-failure alert to this stack) reach the adapter's port, and the adapter
reach only DNS and 443; a ServiceMonitor gives the scrape this stack's ``job`` and ``trailwatch_stack``. Docker: the port is published on 127.0.0.1 only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker
import pulumi_docker_build as docker_build
import pulumi_kubernetes as k8s
import pulumi_random as random

from trailwatch.adapter import ALERTS_PATH, PORT
from trailwatch.aws_policies import adapter_policy

from .workload import (
    JOB_LABEL, NOBODY, RUNTIMES, app_labels, checksum, container_security_context, irsa_service_account,
    network_policy_spec, pod_security_context, service_monitor,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = "docker/adapter/Dockerfile"
#: What the image copies (keep in step with the Dockerfile's COPY lines): the tag is their hash.
IMAGE_SOURCES = ("docker/adapter/Dockerfile", "docker/adapter/requirements.txt", "trailwatch/__init__.py",
                 "trailwatch/errors.py", "trailwatch/filterpattern", "trailwatch/adapter")
CONFIG_DIR = "/etc/trailwatch-adapter"
CONFIG_FILE = "config.json"
SECRETS_DIR = f"{CONFIG_DIR}/secrets"
URL_KEY = "webhook-url"
TOKEN_KEY = "token"
#: /metrics is served from memory: a scrape that takes longer than this is a sick adapter.
SCRAPE_TIMEOUT_SECONDS = 10


def source_hash(root: Path = REPO_ROOT) -> str:
    """sha256 over the image's source files (paths and bytes, sorted), first 16 hex digits."""
    digest = hashlib.sha256()
    for entry in IMAGE_SOURCES:
        path = root / entry
        files = sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts) \
            if path.is_dir() else [path]
        for f in files:
            digest.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def adapter_command(listen: str) -> list[str]:
    return ["--config", f"{CONFIG_DIR}/{CONFIG_FILE}", "--webhook-url-file", f"{SECRETS_DIR}/{URL_KEY}",
            "--token-file", f"{SECRETS_DIR}/{TOKEN_KEY}", "--listen", listen]


def check_image(image: str) -> None:
    if image and "@sha256:" not in image:
        raise ValueError(f"TeamsAdapter: image {image!r} must be pinned by digest (repo@sha256:...), or empty to "
                         "build docker/adapter/Dockerfile into ECR")


@dataclass
class TeamsAdapterArgs:
    config_json: str
    """The adapter's config (``trailwatch.render.adapter.render_adapter_config``)."""
    webhook_url: pulumi.Input[str]
    """Teams Workflows webhook URL; wrapped with ``pulumi.Output.secret`` whatever the caller passes."""
    log_group_arn: pulumi.Input[str]
    """The log group the adapter may search (and nothing else)."""
    region: str
    image: str = ""
    """A prebuilt adapter image pinned by digest; empty: build the repository's Dockerfile into ECR."""
    runtime: str = "kubernetes"
    config_secret: bool = False
    """The config holds a filter pattern built from secret stack config (e.g. secret ``suspiciousIps``): it is
    then kept in a Secret (Kubernetes) or a secret upload (Docker), never in a ConfigMap or plain state."""
    # Kubernetes
    namespace: str = "monitoring"
    oidc_provider_arn: str = ""
    alertmanager_pod_labels: Mapping[str, str] = field(
        default_factory=lambda: {"app.kubernetes.io/name": "alertmanager"})
    """Labels of the Alertmanager pods (in ``namespace``) allowed to reach the adapter (prometheus-operator's)."""
    prometheus_pod_labels: Mapping[str, str] = field(
        default_factory=lambda: {"app.kubernetes.io/name": "prometheus"})
    """Labels of the Prometheus pods (in ``namespace``) allowed to scrape the adapter's /metrics."""
    service_monitor_labels: Mapping[str, str] = field(default_factory=lambda: {"release": "kube-prometheus-stack"})
    scrape_interval_seconds: int = 60
    scrape_job: str = "trailwatch-teams-adapter"
    """The ``job`` label of the scrape (this stack's Teams-failure alert selects on it)."""
    scrape_labels: Mapping[str, str] = field(default_factory=dict)
    """Labels the scrape adds to every series (``trailwatch_stack``)."""
    # Docker
    host_role_name: Optional[pulumi.Input[str]] = None
    """Docker only: the host's instance role that gets the adapter's policy (the exporter's host role)."""


class TeamsAdapter(pulumi.ComponentResource):
    """The adapter; ``url`` is where Alertmanager posts, with the bearer token in ``token_secret_*``."""

    url: pulumi.Output[str]
    image_ref: pulumi.Output[str]
    policy_arn: pulumi.Output[str]
    role_arn: pulumi.Output[Optional[str]]
    token: pulumi.Output[str]
    """Secret Output: the bearer token (for Alertmanager's credentials file); never export it."""
    token_secret_name: pulumi.Output[Optional[str]]
    token_secret_key: str = TOKEN_KEY

    def __init__(self, name: str, args: TeamsAdapterArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("trailwatch:index:TeamsAdapter", name, None, opts)
        if args.runtime not in RUNTIMES:
            raise ValueError(f"TeamsAdapter: runtime must be one of {', '.join(RUNTIMES)} (got {args.runtime!r})")
        check_image(args.image)
        if args.runtime == "kubernetes" and not args.oidc_provider_arn:
            raise ValueError("TeamsAdapter: runtime kubernetes needs oidc_provider_arn (IRSA)")
        self._name, self._args = name, args
        self._child = pulumi.ResourceOptions(parent=self)
        self._webhook = pulumi.Output.secret(args.webhook_url)
        password = random.RandomPassword(f"{name}-adapter-token", length=48, special=False, opts=self._child)
        self.token = pulumi.Output.secret(password.result)
        self.role_arn = pulumi.Output.from_input(None)
        self.token_secret_name = pulumi.Output.from_input(None)
        policy = aws.iam.Policy(
            f"{name}-adapter-policy", description="trailwatch Teams adapter: search this trail's log group",
            policy=pulumi.Output.from_input(args.log_group_arn).apply(lambda arn: json.dumps(adapter_policy(arn))),
            opts=self._child)
        self.policy_arn = policy.arn
        self.image_ref = self._image()
        if args.runtime == "kubernetes":
            self.url = self._kubernetes(policy)
        else:
            self.url = self._docker(policy)
        self.register_outputs({"url": self.url, "imageRef": self.image_ref, "policyArn": self.policy_arn,
                               "roleArn": self.role_arn, "tokenSecretName": self.token_secret_name})

    # --- image ------------------------------------------------------------------------------------------------
    def _image(self) -> pulumi.Output[str]:
        name, args = self._name, self._args
        if args.image:
            return pulumi.Output.from_input(args.image)
        if not (REPO_ROOT / DOCKERFILE).is_file():
            raise ValueError(f"TeamsAdapter: building the adapter image needs the trailwatch repository "
                             f"({DOCKERFILE}); with the installed package, set image (trailwatch:adapterImage) to a "
                             f"prebuilt image pinned by digest")
        repo = aws.ecr.Repository(
            f"{name}-adapter-repo", image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            encryption_configurations=[{"encryption_type": "AES256"}], force_delete=False, opts=self._child)
        auth = aws.ecr.get_authorization_token_output(registry_id=repo.registry_id)
        tag = repo.repository_url.apply(lambda url: f"{url}:src-{source_hash()}")
        image = docker_build.Image(
            f"{name}-adapter-image",
            context={"location": str(REPO_ROOT)},
            dockerfile={"location": str(REPO_ROOT / DOCKERFILE)},
            platforms=[docker_build.Platform.LINUX_AMD64],
            tags=[tag],
            push=True,
            load=args.runtime == "docker",  # the Docker host runs what it built; Kubernetes pulls from ECR
            registries=[{"address": repo.repository_url, "username": auth.user_name,
                         "password": pulumi.Output.secret(auth.password)}],
            opts=self._child)
        if args.runtime == "docker":  # the loaded tag, once the build finished (the container depends on it)
            return pulumi.Output.all(tag, image.digest).apply(lambda v: v[0])
        return pulumi.Output.all(repo.repository_url, image.digest).apply(lambda v: f"{v[0]}@{v[1]}")

    # --- Kubernetes -------------------------------------------------------------------------------------------
    def _kubernetes(self, policy: aws.iam.Policy) -> pulumi.Output[str]:
        name, args, child = self._name, self._args, self._child
        ns = args.namespace
        app = f"{name}-teams-adapter"
        labels = app_labels("trailwatch-adapter", name)
        selector = {"app.kubernetes.io/name": "trailwatch-adapter", "app.kubernetes.io/instance": name}

        role, account = irsa_service_account(
            f"{name}-adapter", ns, app, labels, args.oidc_provider_arn, policy.arn,
            f"IRSA: {ns}/{app} searches the trail's log group (trailwatch)", child)
        self.role_arn = role.arn
        # Auto-named and replaced on change: a new URL gets a new Secret name, which rolls the pod (the adapter
        # reads its files at start-up) without anything derived from the URL in the pod template.
        replace = pulumi.ResourceOptions(parent=self, replace_on_changes=["stringData", "data"])
        secret = k8s.core.v1.Secret(
            f"{name}-adapter-secrets", metadata={"namespace": ns, "labels": labels}, type="Opaque",
            string_data={URL_KEY: self._webhook, TOKEN_KEY: self.token}, opts=replace)
        # Alertmanager's copy of the token (AlertmanagerConfig httpConfig.authorization.credentials): a Secret of
        # its own, so the operator never reads the Secret that holds the Workflows URL.
        token_secret = k8s.core.v1.Secret(
            f"{name}-adapter-token", metadata={"namespace": ns, "labels": labels}, type="Opaque",
            string_data={TOKEN_KEY: self.token}, opts=replace)
        self.token_secret_name = token_secret.metadata.name
        if args.config_secret:
            config = k8s.core.v1.Secret(
                f"{name}-adapter-config", metadata={"namespace": ns, "labels": labels}, type="Opaque",
                string_data={CONFIG_FILE: pulumi.Output.secret(args.config_json)}, opts=replace)
            config_volume = {"name": "config", "secret": {"secret_name": config.metadata.name}}
        else:
            config = k8s.core.v1.ConfigMap(
                f"{name}-adapter-config", metadata={"namespace": ns, "labels": labels},
                data={CONFIG_FILE: args.config_json}, opts=replace)
            config_volume = {"name": "config", "config_map": {"name": config.metadata.name}}
        probe = {"http_get": {"path": "/healthz", "port": PORT}, "timeout_seconds": 3, "failure_threshold": 3}
        k8s.apps.v1.Deployment(
            f"{name}-adapter",
            metadata={"name": app, "namespace": ns, "labels": labels},
            spec={
                "replicas": 1,  # one pacer per Teams channel; Alertmanager retries cover a restart
                "selector": {"match_labels": selector},
                "template": {
                    "metadata": {"labels": labels, "annotations": {"checksum/config": checksum(args.config_json)}},
                    "spec": {
                        "service_account_name": account.metadata.name,
                        "automount_service_account_token": True,  # IRSA's web-identity token
                        "security_context": pod_security_context(),
                        "containers": [{
                            "name": "adapter",
                            "image": self.image_ref,
                            "image_pull_policy": "IfNotPresent",
                            "args": adapter_command(f"0.0.0.0:{PORT}"),
                            "env": [{"name": "AWS_REGION", "value": args.region}],
                            "ports": [{"name": "http", "container_port": PORT, "protocol": "TCP"}],
                            "liveness_probe": {**probe, "initial_delay_seconds": 5, "period_seconds": 20},
                            "readiness_probe": {**probe, "initial_delay_seconds": 2, "period_seconds": 10},
                            "resources": {"requests": {"cpu": "20m", "memory": "64Mi"},
                                          "limits": {"cpu": "250m", "memory": "128Mi"}},
                            "security_context": container_security_context(),
                            "volume_mounts": [
                                {"name": "config", "mount_path": CONFIG_DIR, "read_only": True},
                                {"name": "secrets", "mount_path": SECRETS_DIR, "read_only": True},
                            ],
                        }],
                        "volumes": [
                            config_volume,
                            # 0440 root:65534 (fsGroup): readable by the adapter's group only.
                            {"name": "secrets", "secret": {"secret_name": secret.metadata.name,
                                                           "default_mode": 0o440}},
                        ],
                    },
                },
            },
            opts=child)
        service = k8s.core.v1.Service(
            f"{name}-adapter-svc", metadata={"name": app, "namespace": ns,
                                             "labels": {**labels, JOB_LABEL: args.scrape_job}},
            spec={"type": "ClusterIP", "selector": selector,
                  "ports": [{"name": "http", "port": PORT, "target_port": "http", "protocol": "TCP"}]},
            opts=child)
        k8s.networking.v1.NetworkPolicy(
            f"{name}-adapter-netpol", metadata={"name": app, "namespace": ns, "labels": labels},
            spec=network_policy_spec(selector, PORT, [args.alertmanager_pod_labels, args.prometheus_pod_labels], ns),
            opts=child)
        service_monitor(f"{name}-adapter-monitor", app, ns, labels, selector, {
            "monitor_labels": args.service_monitor_labels, "interval_seconds": args.scrape_interval_seconds,
            "timeout_seconds": SCRAPE_TIMEOUT_SECONDS, "labels": args.scrape_labels}, child)
        return service.metadata.name.apply(lambda svc: f"http://{svc}.{ns}.svc:{PORT}{ALERTS_PATH}")

    # --- Docker -----------------------------------------------------------------------------------------------
    def _docker(self, policy: aws.iam.Policy) -> pulumi.Output[str]:
        name, args, child = self._name, self._args, self._child
        if args.host_role_name is not None:
            aws.iam.RolePolicyAttachment(f"{name}-adapter-host-policy", role=args.host_role_name,
                                         policy_arn=policy.arn, opts=child)
        # Docker refuses uploads into a read-only root filesystem unless the target is a volume.
        volume = docker.Volume(f"{name}-adapter-files", opts=child)
        owner = str(NOBODY)
        secret_file = {"owner": owner, "group": owner, "permissions": "0400"}
        docker.Container(
            f"{name}-adapter",
            name=f"{name}-teams-adapter",
            image=self.image_ref,
            command=adapter_command(f"0.0.0.0:{PORT}"),
            envs=[f"AWS_REGION={args.region}"],
            uploads=[
                {"file": f"{CONFIG_DIR}/{CONFIG_FILE}", "permissions": "0444",
                 "content": pulumi.Output.secret(args.config_json) if args.config_secret else args.config_json},
                {"file": f"{SECRETS_DIR}/{URL_KEY}", "content": self._webhook, **secret_file},
                {"file": f"{SECRETS_DIR}/{TOKEN_KEY}", "content": self.token, **secret_file},
            ],
            volumes=[{"volume_name": volume.name, "container_path": CONFIG_DIR}],
            ports=[{"internal": PORT, "external": PORT, "ip": "127.0.0.1", "protocol": "tcp"}],
            user=f"{NOBODY}:{NOBODY}",
            read_only=True,
            capabilities={"drops": ["ALL"]},
            security_opts=["no-new-privileges:true"],
            memory=128,
            cpus="0.25",
            restart="unless-stopped",
            # The image's HEALTHCHECK (GET /healthz) applies.
            labels=[{"label": "trailwatch.component", "value": "teams-adapter"}],
            # the uploads hold the Workflows URL and the token: keep them encrypted in the container's outputs
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["uploads"]))
        return pulumi.Output.from_input(f"http://127.0.0.1:{PORT}{ALERTS_PATH}")
