"""TeamsAdapter: prometheus-msteams between Alertmanager and a Teams Workflows webhook.

The connector config holds the webhook URL, and the whole URL is the credential (its ``sig=`` parameter): it
lives only in a Kubernetes Secret (``string_data`` from a secret Output) or in a Docker upload whose content is
a secret Output, never in a ConfigMap, an env var or a stack output. prometheus-msteams serves the URLs back
on ``GET /config`` (and pprof on ``/debug/pprof``), so its port stays inside the cluster (ClusterIP) or on the
host's loopback (Docker).

``url`` is what Alertmanager's webhook receiver calls: ``http://<svc>.<ns>.svc:2000/<connector>`` or
``http://127.0.0.1:2000/<connector>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import pulumi
import pulumi_docker as docker
import pulumi_kubernetes as k8s

from trailwatch.render.msteams import CONNECTOR_NAME, card_template, connector_config

from .workload import (
    NOBODY, app_labels, check_runtime, checksum, container_security_context, pod_security_context,
)

PORT = 2000
CONFIG_DIR = "/etc/msteams"
CONNECTORS_FILE = "connectors.yaml"
TEMPLATE_DIR = "/etc/msteams-template"
TEMPLATE_FILE = "card.tmpl"


@dataclass
class TeamsAdapterArgs:
    webhook_url: pulumi.Input[str]
    """Teams Workflows webhook URL; wrapped with ``pulumi.Output.secret`` whatever the caller passes."""
    image: str = "quay.io/prometheusmsteams/prometheus-msteams:v1.5.4"
    runtime: str = "kubernetes"
    namespace: str = "monitoring"
    workflow: bool = True
    """Workflows (Adaptive Card) mode; False only for a legacy Office 365 connector URL."""
    connector_name: str = CONNECTOR_NAME


def adapter_args(workflow: bool, config_file: str, template_file: str) -> list[str]:
    flags = [f"-config-file={config_file}", f"-template-file={template_file}", f"-http-addr=:{PORT}"]
    if workflow:
        flags.append("-workflow-webhook=true")  # same as env WORKFLOW_WEBHOOK=true; not secret
    return flags


class TeamsAdapter(pulumi.ComponentResource):
    """prometheus-msteams in Workflows mode; ``url`` is the endpoint Alertmanager posts alerts to."""

    url: pulumi.Output[str]
    connector_name: pulumi.Output[str]

    def __init__(self, name: str, args: TeamsAdapterArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("trailwatch:index:TeamsAdapter", name, None, opts)
        check_runtime(args.runtime, args.image, "TeamsAdapter")
        self._name = name
        self._args = args
        webhook = pulumi.Output.secret(args.webhook_url)
        connectors = pulumi.Output.secret(webhook.apply(lambda url: connector_config(args.connector_name, url)))
        template = card_template()
        self.connector_name = pulumi.Output.from_input(args.connector_name)
        if args.runtime == "kubernetes":
            self.url = self._kubernetes(connectors, template)
        else:
            self.url = self._docker(connectors, template)
        self.register_outputs({"url": self.url, "connectorName": self.connector_name})

    def _kubernetes(self, connectors: pulumi.Output[str], template: str) -> pulumi.Output[str]:
        name, args = self._name, self._args
        ns = args.namespace
        app = f"{name}-prometheus-msteams"
        labels = app_labels("prometheus-msteams", name)
        selector = {"app.kubernetes.io/name": "prometheus-msteams", "app.kubernetes.io/instance": name}
        # Auto-named and replaced on any change: a new webhook URL gets a new Secret name, which rolls the pod
        # (prometheus-msteams reads its config once at start-up) without putting anything derived from the
        # URL into the pod template.
        replace = pulumi.ResourceOptions(parent=self, replace_on_changes=["stringData", "data"])
        secret = k8s.core.v1.Secret(
            f"{name}-msteams-connectors",
            metadata={"namespace": ns, "labels": labels},
            type="Opaque",
            string_data={CONNECTORS_FILE: connectors},
            opts=replace)
        card = k8s.core.v1.ConfigMap(
            f"{name}-msteams-template",
            metadata={"namespace": ns, "labels": labels},
            data={TEMPLATE_FILE: template},
            opts=replace)
        # GET /metrics is the one endpoint that says the server is up without returning the webhook URLs.
        probe = {"http_get": {"path": "/metrics", "port": PORT}, "timeout_seconds": 3, "failure_threshold": 3}
        k8s.apps.v1.Deployment(
            f"{name}-msteams",
            metadata={"name": app, "namespace": ns, "labels": labels},
            spec={
                "replicas": 1,
                "selector": {"match_labels": selector},
                "template": {
                    "metadata": {"labels": labels, "annotations": {"checksum/card-template": checksum(template)}},
                    "spec": {
                        "automount_service_account_token": False,  # never talks to the Kubernetes API
                        "security_context": pod_security_context(),
                        "containers": [{
                            "name": "prometheus-msteams",
                            "image": args.image,
                            "image_pull_policy": "IfNotPresent",
                            "args": adapter_args(args.workflow, f"{CONFIG_DIR}/{CONNECTORS_FILE}",
                                                 f"{TEMPLATE_DIR}/{TEMPLATE_FILE}"),
                            "ports": [{"name": "http", "container_port": PORT, "protocol": "TCP"}],
                            "liveness_probe": {**probe, "initial_delay_seconds": 10, "period_seconds": 20},
                            "readiness_probe": {**probe, "initial_delay_seconds": 2, "period_seconds": 10},
                            "resources": {"requests": {"cpu": "10m", "memory": "32Mi"},
                                          "limits": {"cpu": "200m", "memory": "64Mi"}},
                            "security_context": container_security_context(),
                            "volume_mounts": [
                                {"name": "connectors", "mount_path": CONFIG_DIR, "read_only": True},
                                {"name": "template", "mount_path": TEMPLATE_DIR, "read_only": True},
                            ],
                        }],
                        "volumes": [
                            # 0440 root:65534 (fsGroup): readable by the adapter's group only.
                            {"name": "connectors", "secret": {"secret_name": secret.metadata.name,
                                                              "default_mode": 0o440}},
                            {"name": "template", "config_map": {"name": card.metadata.name}},
                        ],
                    },
                },
            },
            opts=pulumi.ResourceOptions(parent=self))
        service = k8s.core.v1.Service(
            f"{name}-msteams-svc",
            metadata={"name": app, "namespace": ns, "labels": labels},
            # ClusterIP only: GET /config would hand the webhook URL to anyone who can reach the port.
            spec={"type": "ClusterIP", "selector": selector,
                  "ports": [{"name": "http", "port": PORT, "target_port": "http", "protocol": "TCP"}]},
            opts=pulumi.ResourceOptions(parent=self))
        return service.metadata.name.apply(lambda svc: f"http://{svc}.{ns}.svc:{PORT}/{args.connector_name}")

    def _docker(self, connectors: pulumi.Output[str], template: str) -> pulumi.Output[str]:
        name, args = self._name, self._args
        child = pulumi.ResourceOptions(parent=self)
        image = docker.RemoteImage(f"{name}-msteams-image", name=args.image, keep_locally=True, opts=child)
        # Docker refuses uploads into a read-only root filesystem unless the target is a volume.
        volume = docker.Volume(f"{name}-msteams-config", opts=child)
        owner = str(NOBODY)
        docker.Container(
            f"{name}-msteams",
            name=f"{name}-prometheus-msteams",
            image=image.image_id,
            command=adapter_args(args.workflow, f"{CONFIG_DIR}/{CONNECTORS_FILE}", f"{CONFIG_DIR}/{TEMPLATE_FILE}"),
            uploads=[
                {"file": f"{CONFIG_DIR}/{CONNECTORS_FILE}", "content": connectors,
                 "owner": owner, "group": owner, "permissions": "0400"},
                {"file": f"{CONFIG_DIR}/{TEMPLATE_FILE}", "content": template, "permissions": "0444"},
            ],
            volumes=[{"volume_name": volume.name, "container_path": CONFIG_DIR}],
            # Loopback only: GET /config returns the webhook URL.
            ports=[{"internal": PORT, "external": PORT, "ip": "127.0.0.1", "protocol": "tcp"}],
            user=f"{NOBODY}:{NOBODY}",
            read_only=True,
            capabilities={"drops": ["ALL"]},
            security_opts=["no-new-privileges:true"],
            memory=64,
            cpus="0.25",
            restart="unless-stopped",
            # No Docker healthcheck: the image is FROM scratch (no shell, no curl/wget) and a check must run
            # inside the container. The restart policy covers crashes; probe /metrics from the host if needed.
            labels=[{"label": "trailwatch.component", "value": "prometheus-msteams"}],
            # the connector config holds the webhook URL: keep it encrypted in the container's outputs too
            opts=pulumi.ResourceOptions(parent=self, additional_secret_outputs=["uploads"]))
        return pulumi.Output.from_input(f"http://127.0.0.1:{PORT}/{args.connector_name}")
