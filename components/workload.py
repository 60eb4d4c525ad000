"""What every workload of this package shares: runtimes, non-root identity, security contexts, labels."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping, Sequence

import pulumi_aws as aws
import pulumi_kubernetes as k8s

from trailwatch.contract import WORKLOAD_RUNTIMES
from trailwatch.iam_documents import irsa_trust_policy
from trailwatch.images import is_pinned_image

from .args import ComponentArgsError

NOBODY = 65534
#: The Service label whose value becomes the scrape's ``job`` (ServiceMonitor ``jobLabel``).
JOB_LABEL = "trailwatch.io/scrape-job"


def checksum(*texts: str) -> str:
    """sha256 of the texts (NUL-joined): a pod-template annotation that changes exactly when they do."""
    return hashlib.sha256("\0".join(texts).encode("utf-8")).hexdigest()


def pod_security_context() -> dict[str, Any]:
    return {"run_as_user": NOBODY, "run_as_group": NOBODY, "fs_group": NOBODY, "run_as_non_root": True,
            "seccomp_profile": {"type": "RuntimeDefault"}}


def container_security_context() -> dict[str, Any]:
    return {"run_as_user": NOBODY, "run_as_group": NOBODY, "run_as_non_root": True,
            "read_only_root_filesystem": True, "allow_privilege_escalation": False, "privileged": False,
            "capabilities": {"drop": ["ALL"]}, "seccomp_profile": {"type": "RuntimeDefault"}}


def app_labels(app: str, instance: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": app, "app.kubernetes.io/instance": instance,
            "app.kubernetes.io/part-of": "trailwatch", "app.kubernetes.io/managed-by": "pulumi"}


def check_runtime(runtime: str, image: str, component: str) -> None:
    """One line (ComponentArgsError) for a runtime this workload cannot run on or an image not pinned."""
    if runtime not in WORKLOAD_RUNTIMES:
        raise ComponentArgsError(f"{component}: runtime must be one of {', '.join(WORKLOAD_RUNTIMES)} "
                                 f"(got {runtime!r})")
    if not is_pinned_image(image):
        raise ComponentArgsError(f"{component}: image {image!r} must be pinned to a version tag or digest")


#: Egress every trailwatch pod needs: cluster DNS, and HTTPS (AWS APIs incl. STS for IRSA; Teams).
def _egress_dns_and_https() -> list[dict[str, Any]]:
    return [
        {"to": [{"namespace_selector": {}}],
         "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
        {"to": [{"ip_block": {"cidr": "0.0.0.0/0"}}, {"ip_block": {"cidr": "::/0"}}],
         "ports": [{"protocol": "TCP", "port": 443}]},
    ]


def network_policy_spec(selector: dict[str, str], port: int, clients: Sequence[Mapping[str, str]],
                        client_namespace: str) -> dict[str, Any]:
    """Ingress only from pods with one of the ``clients`` label sets in ``client_namespace`` on ``port``; egress
    only DNS and 443."""
    namespace = {"match_labels": {"kubernetes.io/metadata.name": client_namespace}}
    return {
        "pod_selector": {"match_labels": selector},
        "policy_types": ["Ingress", "Egress"],
        "ingress": [{"from": [{"pod_selector": {"match_labels": dict(labels)}, "namespace_selector": namespace}
                              for labels in clients],
                     "ports": [{"protocol": "TCP", "port": port}]}],
        "egress": _egress_dns_and_https(),
    }


def service_monitor(resource_name: str, app: str, namespace: str, labels: Mapping[str, str],
                    selector: Mapping[str, str], scrape: Mapping[str, Any], opts: Any) -> Any:
    """A ServiceMonitor for the Service labelled ``selector`` (port ``http``, ``/metrics``). ``scrape``:
    ``monitor_labels`` (what the Prometheus Operator selects on), ``interval_seconds``, ``timeout_seconds``,
    ``labels`` (added to every series, e.g. ``trailwatch_stack``). The ``job`` is the Service's
    :data:`JOB_LABEL` value, not its name: the alert rules select on it."""
    interval = scrape["interval_seconds"]
    return k8s.apiextensions.CustomResource(
        resource_name,
        api_version="monitoring.coreos.com/v1", kind="ServiceMonitor",
        metadata={"name": app, "namespace": namespace, "labels": {**labels, **dict(scrape["monitor_labels"])}},
        spec={
            "jobLabel": JOB_LABEL,
            "selector": {"matchLabels": dict(selector)},
            "namespaceSelector": {"matchNames": [namespace]},
            "endpoints": [{"port": "http", "path": "/metrics", "interval": f"{interval}s",
                           "scrapeTimeout": f"{min(interval, scrape['timeout_seconds'])}s",
                           "relabelings": [{"action": "replace", "targetLabel": key, "replacement": value}
                                           for key, value in sorted(scrape["labels"].items())]}],
        },
        opts=opts)


def irsa_service_account(prefix: str, namespace: str, app: str, labels: dict[str, str], oidc_provider_arn: str,
                         policy_arn: Any, description: str, opts: Any) -> tuple[Any, Any]:
    """An IAM role only ``namespace/app``'s service account can assume (IRSA), with ``policy_arn`` attached, and
    that ServiceAccount (no automounted token for other pods using it). Returns (role, service account)."""
    trust = irsa_trust_policy(oidc_provider_arn, namespace, app)
    role = aws.iam.Role(f"{prefix}-irsa", description=description, assume_role_policy=json.dumps(trust), opts=opts)
    aws.iam.RolePolicyAttachment(f"{prefix}-irsa-policy", role=role.name, policy_arn=policy_arn, opts=opts)
    account = k8s.core.v1.ServiceAccount(
        f"{prefix}-sa",
        metadata={"name": app, "namespace": namespace, "labels": labels,
                  "annotations": {"eks.amazonaws.com/role-arn": role.arn}},
        automount_service_account_token=False, opts=opts)
    return role, account
