"""TeamsAdapter: trailwatch's own adapter (``python -m trailwatch.adapter``) between Alertmanager and a Teams
Workflows webhook, on Kubernetes or Docker.

Arguments: plain data, the stack config's keys under the argument names a caller writes (the detections, the
timings, the Alertmanager route's intervals, the log group); the adapter's config (which alerts it takes, each
detection's title and pattern, how long a delivery is remembered) is rendered from them here
(``trailwatch.render.adapter``), so any Pulumi language can use this component. They must be AlertRules':
the config names the alerts those rules raise.

Image: a prebuilt one the user names by digest (``image``), or the adapter's Dockerfile built with
pulumi-docker-build and pushed to a private ECR repository this component creates (immutable tags, scan on
push). The Dockerfile, its hash-pinned requirements and its ``.dockerignore`` sit in ``docker/adapter/`` of a
checkout and ship in the installed package (``trailwatch/docker/adapter/``, package data); the build context is
the folder holding the ``trailwatch`` package (the checkout, or site-packages), of which the ``.dockerignore``
lets through only what the image copies. The tag is a hash of those files, by their names in a checkout: an
unchanged adapter never pushes a new tag (which an immutable repository would refuse), a changed one always
does, and a checkout and a wheel of the same sources build the same tag.

Secrets: the Workflows URL (the whole URL is the credential) and the bearer token Alertmanager sends are
files: a Kubernetes Secret volume, or Docker uploads whose content is a secret Output. The token is a
``RandomPassword`` (stable across runs, encrypted in state); the URL and the token never go into a ConfigMap,
an env var, an argument or a stack output. The adapter's config is a ConfigMap / plain upload, or a Secret /
secret upload when it holds a pattern built from secret config (``secret_patterns``).

Restarts: ``--state-file`` keeps the ledger of delivered notifications across a restart (written after the
SIGTERM drain), on a writable volume of its own: an emptyDir on Kubernetes (it survives a container restart, not
a new pod), a named Docker volume (it survives a new container). One replica only: a second one would keep a
ledger of its own.

AWS: exactly ``logs:FilterLogEvents`` on this log group: an IRSA role trusted for this one service account
(Kubernetes), or a policy attached to the Docker host's instance role.

Network (Kubernetes): a NetworkPolicy lets only Alertmanager's pods (posting cards) and Prometheus' pods
(scraping /metrics, which scopes the Teams-failure alert to this stack) reach the adapter's port, and the adapter
reach only DNS and 443; a ServiceMonitor gives the scrape this stack's ``job`` and ``trailwatch_stack``. Docker: the
port is published on 127.0.0.1 only.
"""

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker
import pulumi_docker_build as docker_build
import pulumi_kubernetes as k8s
import pulumi_random as random

from trailwatch.contract import (
    ADAPTER_ALERTS_PATH as ALERTS_PATH, ADAPTER_DRAIN_SECONDS as DRAIN_SECONDS, ADAPTER_PORT as PORT,
    ADAPTER_SCRAPE_JOB, ADAPTER_TOKEN_KEY, DEFAULT_METRIC_NAMESPACE as DEFAULT_NAMESPACE, DOCKER, KUBERNETES,
    STACK_LABEL, WORKLOAD_RUNTIMES,
)
from trailwatch.iam_documents import adapter_policy
from trailwatch.images import is_pinned_image
from trailwatch.paths import DATA_ROOT, PACKAGE_DIR
from trailwatch.render import render_adapter_config
from trailwatch.stack import Stack, event_detections

from .args import (
    DETECTION_KEYS, TIMING_KEYS, ComponentArgsError, args_of, checked_choice, checked_settings, require_strings,
    resolved_stack, stack_name_or_current,
)
from .workload import (
    JOB_LABEL, NOBODY, app_labels, checksum, container_security_context, irsa_service_account,
    network_policy_spec, pod_security_context, service_monitor,
)

#: What the image copies (keep in step with the Dockerfile's COPY lines), by their names in a checkout: the tag
#: is their hash.
IMAGE_SOURCES = ("docker/adapter/Dockerfile", "docker/adapter/requirements.txt", "trailwatch/__init__.py",
                 "trailwatch/errors.py", "trailwatch/contract.py", "trailwatch/filterpattern", "trailwatch/adapter")
#: The adapter's Dockerfile, its requirements and its .dockerignore: docker/adapter/ of a checkout, or
#: trailwatch/docker/adapter/ of the installed package.
BUILD_DIR = DATA_ROOT / "docker" / "adapter"
#: The build context: the folder holding the trailwatch package (a checkout's root, or site-packages).
CONTEXT_DIR = PACKAGE_DIR.parent
CONFIG_DIR = "/etc/trailwatch-adapter"
CONFIG_FILE = "config.json"
SECRETS_DIR = f"{CONFIG_DIR}/secrets"
URL_KEY = "webhook-url"
#: The adapter's only writable folder: its ledger of delivered notifications (``--state-file``).
STATE_DIR = "/var/lib/trailwatch-adapter"
STATE_FILE = "ledger.json"
#: The ledger is at most 1 MB (``trailwatch.adapter.state``), written to a file beside it, then renamed over it.
STATE_SIZE_LIMIT = "4Mi"
#: How long a stop waits after SIGTERM before killing: beyond the adapter's drain, so that it writes its ledger.
STOP_GRACE_SECONDS = DRAIN_SECONDS + 5
#: /metrics is served from memory: a scrape that takes longer than this is a sick adapter.
SCRAPE_TIMEOUT_SECONDS = 10
#: Every TeamsAdapterArgs field checked as a stack config key, and that key.
ADAPTER_KEYS = {
    "region": "aws:region", "log_group_name": "existingLogGroupName", **DETECTION_KEYS, **TIMING_KEYS,
    "group_interval_seconds": "groupIntervalSeconds", "repeat_interval_minutes": "repeatIntervalMinutes",
}


def source_path(entry: str) -> Path:
    """Where an :data:`IMAGE_SOURCES` entry is in this installation (a checkout, or the installed package)."""
    return (DATA_ROOT if entry.startswith("docker/") else CONTEXT_DIR) / entry


def source_hash() -> str:
    """sha256 over the image's source files (names in a checkout and bytes, sorted), first 16 hex digits."""
    digest = hashlib.sha256()
    for entry in IMAGE_SOURCES:
        path = source_path(entry)
        files = sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts) \
            if path.is_dir() else [path]
        for f in files:
            name = f"{entry}/{f.relative_to(path).as_posix()}" if path.is_dir() else entry
            digest.update(name.encode() + b"\0" + f.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def adapter_command(listen: str) -> list[str]:
    return ["--config", f"{CONFIG_DIR}/{CONFIG_FILE}", "--webhook-url-file", f"{SECRETS_DIR}/{URL_KEY}",
            "--token-file", f"{SECRETS_DIR}/{ADAPTER_TOKEN_KEY}", "--listen", listen,
            "--state-file", f"{STATE_DIR}/{STATE_FILE}"]


def check_image(image: str) -> None:
    """A prebuilt image must be pinned by digest; without one, this installation must hold what the build needs."""
    if image:
        if not (is_pinned_image(image) and "@sha256:" in image):
            raise ComponentArgsError(f"TeamsAdapter: image: must be pinned by digest (repo@sha256:<64 hex>), or "
                                     f"empty to build the adapter image (got {image!r})")
    elif missing := [entry for entry in IMAGE_SOURCES if not source_path(entry).exists()]:
        raise ComponentArgsError(f"TeamsAdapter: image: is required: this trailwatch installation lacks the "
                                 f"adapter's build files ({', '.join(missing)}); give a prebuilt adapter image "
                                 f"pinned by digest (repo@sha256:<64 hex>)")


@dataclass
class TeamsAdapterArgs:
    """Plain data with the defaults and checks of the stack config keys of the same meaning (``enable_detections``
    is ``enableDetections``, ``namespace`` is ``kubernetesNamespace``, ...); None (or, through the provider,
    leaving a property out) means the default. The detections, timings and intervals must be AlertRules': the
    adapter's config, rendered from them, names the alerts those rules raise."""
    webhook_url: pulumi.Input[str]
    """The Teams Workflows webhook URL (the whole URL is the credential): made a secret whatever the caller passes."""
    log_group_arn: pulumi.Input[str]
    """The log group the adapter may search, and nothing else (TrailToLogs' logGroupArn)."""
    log_group_name: str
    """The same log group's name, as a value: where the adapter reads each alert's events."""
    region: str
    """AWS region of the log group."""
    stack_name: Optional[str] = None
    """The trailwatch_stack label of the alerts it takes, as AlertRules' stackName (default: the Pulumi stack)."""
    runtime: Optional[str] = KUBERNETES
    """kubernetes or docker."""
    image: Optional[str] = ""
    """A prebuilt adapter image pinned by digest (repo@sha256:...); empty: build the Dockerfile the package ships."""
    enable_detections: Optional[Sequence[str]] = ()
    """Catalog detection ids to enable that are off by default."""
    disable_detections: Optional[Sequence[str]] = ()
    """Catalog detection ids to turn off."""
    detection_overrides: Optional[Mapping[str, Mapping[str, Any]]] = None
    """Per-detection {id: {threshold: N, severity: critical|high|warning|info}}: the severity on the cards."""
    custom_detections: Optional[Sequence[Mapping[str, Any]]] = ()
    """Extra detections with the catalog's fields (id, title, severity, pattern, metric, description, runbook)."""
    metric_namespace: Optional[str] = DEFAULT_NAMESPACE
    """CloudWatch namespace of the filters' metrics."""
    suspicious_ips: Optional[Sequence[str]] = ()
    """Source IPs (IPv4/IPv6 or wildcard prefixes like 203.0.113.*) for the suspicious_source_ips detection."""
    cis_compliance: Optional[bool] = False
    """Every CIS detection must stay enabled."""
    exceptions: Optional[Sequence[Mapping[str, Any]]] = ()
    """Noise exceptions, as the stack key ``exceptions``: {detections, reason, owner, expires, match}."""
    max_exception_days: Optional[int] = None
    """The furthest ahead an exception's expires date may be, in days (default 365)."""
    secret_patterns: Optional[Sequence[str]] = ()
    """Ids of detections whose pattern comes from secret config (e.g. suspiciousIps): the config is then a secret."""
    alert_window_minutes: Optional[int] = 30
    """A detection fires when at least threshold matching events have event times within this many minutes."""
    delivery_lag_tolerance_minutes: Optional[int] = 25
    """CloudTrail -> CloudWatch Logs delivery lag that must still alert; checked against the other timings."""
    heartbeat_missing_minutes: Optional[int] = 26
    """Alert when no event with an event time in this many minutes was delivered; at most alertWindowMinutes."""
    exporter_delay_seconds: Optional[int] = 0
    """How far behind now the exporter's window ends (CloudWatchExporter's exporterDelaySeconds)."""
    scrape_interval_seconds: Optional[int] = 60
    """How often Prometheus scrapes the exporter (CloudWatchExporter's scrapeIntervalSeconds)."""
    group_interval_seconds: Optional[int] = 300
    """Alertmanager group_interval for trailwatch alerts."""
    repeat_interval_minutes: Optional[int] = 60
    """Alertmanager repeat_interval: also the longest a new event during a firing alert waits for a card."""
    # Kubernetes
    namespace: Optional[str] = "monitoring"
    """Kubernetes namespace of the adapter (AlertRules': Alertmanager's route posts there)."""
    oidc_provider_arn: Optional[str] = ""
    """IAM OIDC provider ARN of the EKS cluster (IRSA); required on Kubernetes."""
    alertmanager_pod_labels: Optional[Mapping[str, str]] = field(
        default_factory=lambda: {"app.kubernetes.io/name": "alertmanager"})
    """Labels of the Alertmanager pods (in namespace) the NetworkPolicy lets post to the adapter."""
    prometheus_pod_labels: Optional[Mapping[str, str]] = field(
        default_factory=lambda: {"app.kubernetes.io/name": "prometheus"})
    """Labels of the Prometheus pods (in namespace) the NetworkPolicy lets scrape the adapter's /metrics."""
    service_monitor_labels: Optional[Mapping[str, str]] = field(
        default_factory=lambda: {"release": "kube-prometheus-stack"})
    """Labels the Prometheus Operator selects ServiceMonitors by."""
    scrape_job: Optional[str] = ADAPTER_SCRAPE_JOB
    """The job label Prometheus gives the scrape (AlertRules' Teams-failure alert selects on it)."""
    scrape_labels: Optional[Mapping[str, str]] = None
    """Labels the scrape adds to every series (default: trailwatch_stack, the stack the rules select on)."""
    # Docker
    host_role_name: Optional[pulumi.Input[str]] = None
    """Docker only: the host's instance role that gets the adapter's policy (CloudWatchExporter's hostRoleName)."""

    def stack(self) -> Stack:
        """These arguments as the stack the adapter's config is rendered from, every check of stack config applied;
        ComponentArgsError (one line, naming the argument) before anything is registered."""
        require_strings("TeamsAdapter", self, ("region", "log_group_name"))
        settings = checked_settings("TeamsAdapter", ADAPTER_KEYS, {name: getattr(self, name) for name in ADAPTER_KEYS})
        name = stack_name_or_current("TeamsAdapter", self.stack_name)
        return resolved_stack("TeamsAdapter", ADAPTER_KEYS, name, settings)

    def check(self) -> None:
        """The runtime, the image and the runtime's own requirements; ComponentArgsError naming the argument."""
        checked_choice("TeamsAdapter", "runtime", self.runtime, WORKLOAD_RUNTIMES)
        check_image(self.image)
        if self.runtime == KUBERNETES and not self.oidc_provider_arn:
            raise ComponentArgsError("TeamsAdapter: runtime kubernetes needs oidc_provider_arn (IRSA)")


class TeamsAdapter(pulumi.ComponentResource):
    """trailwatch's Teams adapter between Alertmanager and a Teams Workflows webhook; ``url`` is where Alertmanager
    posts, with the bearer token held in ``token_secret_name`` (Kubernetes) or ``token``."""

    url: pulumi.Output[str]
    """Where Alertmanager posts (AlertRules' adapterUrl)."""
    image_ref: pulumi.Output[str]
    """The adapter image the workload runs (the pushed digest when built here)."""
    policy_arn: pulumi.Output[str]
    """The IAM policy allowing exactly logs:FilterLogEvents on the log group."""
    role_arn: pulumi.Output[Optional[str]]
    """Kubernetes: the IRSA role the adapter runs as."""
    token: pulumi.Output[str]
    """Secret: the bearer token Alertmanager must send (its credentials file on Docker); never export it."""
    token_secret_name: pulumi.Output[Optional[str]]
    """Kubernetes: the Secret holding the token under the key token (AlertRules' adapterTokenSecret)."""

    def __init__(self, name: str, args: TeamsAdapterArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = args_of(TeamsAdapterArgs, args, "TeamsAdapter")
        args.check()
        stack = args.stack()
        super().__init__("trailwatch:index:TeamsAdapter", name, None, opts)
        self._name, self._args = name, args
        self._config = render_adapter_config(stack)
        # A pattern built from secret config (e.g. suspiciousIps held as a secret) is in the config: keep it secret.
        secret = set(args.secret_patterns)
        self._config_secret = any(det.id in secret for det in event_detections(stack))
        self._scrape_interval = stack.settings.scrape_interval_seconds
        self._scrape_labels = dict(args.scrape_labels) if args.scrape_labels is not None else {STACK_LABEL: stack.name}
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
        if args.runtime == KUBERNETES:
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
        repo = aws.ecr.Repository(
            f"{name}-adapter-repo", image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            encryption_configurations=[{"encryption_type": "AES256"}], force_delete=False, opts=self._child)
        auth = aws.ecr.get_authorization_token_output(registry_id=repo.registry_id)
        tag = repo.repository_url.apply(lambda url: f"{url}:src-{source_hash()}")
        image = docker_build.Image(
            f"{name}-adapter-image",
            context={"location": str(CONTEXT_DIR)},
            dockerfile={"location": str(BUILD_DIR / "Dockerfile")},
            # where the requirements are in the context: docker/adapter/ or trailwatch/docker/adapter/
            build_args={"REQUIREMENTS": (BUILD_DIR / "requirements.txt").relative_to(CONTEXT_DIR).as_posix()},
            platforms=[docker_build.Platform.LINUX_AMD64],
            tags=[tag],
            push=True,
            load=args.runtime == DOCKER,  # the Docker host runs what it built; Kubernetes pulls from ECR
            registries=[{"address": repo.repository_url, "username": auth.user_name,
                         "password": pulumi.Output.secret(auth.password)}],
            opts=self._child)
        if args.runtime == DOCKER:  # the loaded tag, once the build finished (the container depends on it)
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
            string_data={URL_KEY: self._webhook, ADAPTER_TOKEN_KEY: self.token}, opts=replace)
        # Alertmanager's copy of the token (AlertmanagerConfig httpConfig.authorization.credentials): a Secret of
        # its own, so the operator never reads the Secret that holds the Workflows URL.
        token_secret = k8s.core.v1.Secret(
            f"{name}-adapter-token", metadata={"namespace": ns, "labels": labels}, type="Opaque",
            string_data={ADAPTER_TOKEN_KEY: self.token}, opts=replace)
        self.token_secret_name = token_secret.metadata.name
        if self._config_secret:
            config = k8s.core.v1.Secret(
                f"{name}-adapter-config", metadata={"namespace": ns, "labels": labels}, type="Opaque",
                string_data={CONFIG_FILE: pulumi.Output.secret(self._config)}, opts=replace)
            config_volume = {"name": "config", "secret": {"secret_name": config.metadata.name}}
        else:
            config = k8s.core.v1.ConfigMap(
                f"{name}-adapter-config", metadata={"namespace": ns, "labels": labels},
                data={CONFIG_FILE: self._config}, opts=replace)
            config_volume = {"name": "config", "config_map": {"name": config.metadata.name}}
        probe = {"http_get": {"path": "/healthz", "port": PORT}, "timeout_seconds": 3, "failure_threshold": 3}
        k8s.apps.v1.Deployment(
            f"{name}-adapter",
            metadata={"name": app, "namespace": ns, "labels": labels},
            spec={
                # One replica: one pacer per Teams channel, and one ledger of delivered notifications. A second
                # replica keeps a ledger of its own, so Alertmanager's retry of a notification the first one
                # delivered (its answer lost) would post the card again from the second.
                "replicas": 1,
                "selector": {"match_labels": selector},
                "template": {
                    "metadata": {"labels": labels, "annotations": {"checksum/config": checksum(self._config)}},
                    "spec": {
                        "service_account_name": account.metadata.name,
                        "termination_grace_period_seconds": STOP_GRACE_SECONDS,  # the drain, then the ledger
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
                                {"name": "state", "mount_path": STATE_DIR},  # the root filesystem stays read-only
                            ],
                        }],
                        "volumes": [
                            config_volume,
                            # 0440 root:65534 (fsGroup): readable by the adapter's group only.
                            {"name": "secrets", "secret": {"secret_name": secret.metadata.name,
                                                           "default_mode": 0o440}},
                            # The ledger (--state-file) outlives a container restart in this pod, not a new pod
                            # (a rollout, an eviction): that one starts with an empty ledger.
                            {"name": "state", "empty_dir": {"size_limit": STATE_SIZE_LIMIT}},
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
            "monitor_labels": args.service_monitor_labels, "interval_seconds": self._scrape_interval,
            "timeout_seconds": SCRAPE_TIMEOUT_SECONDS, "labels": self._scrape_labels}, child)
        return service.metadata.name.apply(lambda svc: f"http://{svc}.{ns}.svc:{PORT}{ALERTS_PATH}")

    # --- Docker -----------------------------------------------------------------------------------------------
    def _docker(self, policy: aws.iam.Policy) -> pulumi.Output[str]:
        name, args, child = self._name, self._args, self._child
        if args.host_role_name is not None:
            aws.iam.RolePolicyAttachment(f"{name}-adapter-host-policy", role=args.host_role_name,
                                         policy_arn=policy.arn, opts=child)
        # Docker refuses uploads into a read-only root filesystem unless the target is a volume.
        volume = docker.Volume(f"{name}-adapter-files", opts=child)
        # The ledger (--state-file) outlives the container: a new one (a replacement, a new image) reads it. The
        # image owns its folder by 65534, which Docker copies into the new volume.
        state = docker.Volume(f"{name}-adapter-state", opts=child)
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
                 "content": pulumi.Output.secret(self._config) if self._config_secret else self._config},
                {"file": f"{SECRETS_DIR}/{URL_KEY}", "content": self._webhook, **secret_file},
                {"file": f"{SECRETS_DIR}/{ADAPTER_TOKEN_KEY}", "content": self.token, **secret_file},
            ],
            volumes=[{"volume_name": volume.name, "container_path": CONFIG_DIR},
                     {"volume_name": state.name, "container_path": STATE_DIR}],
            ports=[{"internal": PORT, "external": PORT, "ip": "127.0.0.1", "protocol": "tcp"}],
            user=f"{NOBODY}:{NOBODY}",
            read_only=True,
            capabilities={"drops": ["ALL"]},
            security_opts=["no-new-privileges:true"],
            memory=128,
            cpus="0.25",
            restart="unless-stopped",
            # A stop (and a replacement's destroy) waits out the drain, so that the adapter writes its ledger.
            stop_timeout=STOP_GRACE_SECONDS,
            destroy_grace_seconds=STOP_GRACE_SECONDS,
            # The image's HEALTHCHECK (GET /healthz) applies.
            labels=[{"label": "trailwatch.component", "value": "teams-adapter"}],
            # the uploads hold the Workflows URL and the token: keep them encrypted in the container's outputs
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["uploads"]))
        return pulumi.Output.from_input(f"http://127.0.0.1:{PORT}{ALERTS_PATH}")
