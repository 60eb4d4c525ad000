"""Workload policies for the exporter and the Teams adapter: Kubernetes pods and Docker containers.

Kubernetes inputs arrive camelCase (``securityContext``, ``readOnlyRootFilesystem``) whatever case the program
used. A Docker container's ``image`` is usually the RemoteImage's ``imageId`` (a ``sha256:`` id, unknown during
preview), so image pinning is checked on the RemoteImage's ``name`` and on any literal image reference.
"""

from __future__ import annotations

import re
from typing import Any, Iterator, Mapping

from pulumi_policy import (
    EnforcementLevel, PolicyConfigSchema, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy,
    Severity, StackValidationArgs, StackValidationPolicy,
)

from ..images import DEFAULT_TAG_PATTERN, image_problem
from ._common import UNKNOWN, as_list, dig, is_true, plain, resource_policy, shown_number
from .docker import docker_user_problem

MANDATORY = EnforcementLevel.MANDATORY
DOCKER_CONTAINER = "docker:index/container:Container"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
SERVICE = "kubernetes:core/v1:Service"
INGRESSES = ("kubernetes:networking.k8s.io/v1:Ingress", "kubernetes:networking.k8s.io/v1beta1:Ingress",
             "kubernetes:extensions/v1beta1:Ingress")
_TEMPLATE = ("spec", "template")
POD_TEMPLATES: dict[str, tuple[str, ...]] = {
    "kubernetes:apps/v1:Deployment": _TEMPLATE,
    "kubernetes:apps/v1:StatefulSet": _TEMPLATE,
    "kubernetes:apps/v1:DaemonSet": _TEMPLATE,
    "kubernetes:apps/v1:ReplicaSet": _TEMPLATE,
    "kubernetes:core/v1:ReplicationController": _TEMPLATE,
    "kubernetes:batch/v1:Job": _TEMPLATE,
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template"),
    "kubernetes:core/v1:Pod": (),
}
WORKLOAD_TYPES = tuple(POD_TEMPLATES) + (DOCKER_CONTAINER,)
LOOPBACK = ("127.0.0.1", "::1", "localhost")
DEFAULT_ADAPTER_IMAGES = ("trailwatch-adapter",)


def pod_template(resource_type: str, props: Mapping) -> Any:
    """The pod template (``{metadata, spec}``) of a Kubernetes workload; the Pod itself for a Pod."""
    path = POD_TEMPLATES[resource_type]
    return dig(props, *path) if path else props


def containers(resource_type: str, props: Mapping) -> Iterator[tuple[str, Mapping, Mapping]]:
    """``(where, container, pod spec)`` for every container and init container of a Kubernetes workload."""
    spec = dig(pod_template(resource_type, props), "spec")
    if not isinstance(spec, Mapping):
        return
    for kind in ("initContainers", "containers"):
        items = spec.get(kind)
        if items is UNKNOWN:
            continue
        for i, container in enumerate(as_list(items)):
            if isinstance(container, Mapping):
                name = container.get("name")
                yield f"{kind}[{i}]" + (f" ({name})" if isinstance(name, str) else ""), container, spec


# --- images ------------------------------------------------------------------------------------------------

def _image_refs(props: dict, args: ResourceValidationArgs) -> Iterator[tuple[str, Any]]:
    """``(field, image reference)`` of a RemoteImage, a Docker container or every container of a pod."""
    if args.resource_type == REMOTE_IMAGE:
        yield "name", props.get("name")
    elif args.resource_type == DOCKER_CONTAINER:
        image = props.get("image")
        if not (isinstance(image, str) and image.startswith("sha256:")):  # a RemoteImage's image id
            yield "image", image
    else:
        for where, container, _ in containers(args.resource_type, props):
            yield f"{where}.image", container.get("image")


def _pinned(props: dict, args: ResourceValidationArgs) -> Iterator[str]:
    pattern = (args.get_config() or {}).get("allowedTagPattern", DEFAULT_TAG_PATTERN)
    try:
        re.compile(pattern)
    except (re.error, TypeError) as exc:
        yield (f"policy config images-pinned.allowedTagPattern {pattern!r} is not a regular expression ({exc}); "
               f"allowed: a Python regular expression matched against the whole tag.")
        return
    for field, image in _image_refs(props, args):
        if image is UNKNOWN or (image is None and args.resource_type == DOCKER_CONTAINER):
            continue
        problem = image_problem(image, pattern)
        if problem:
            yield f"{field}: image {image!r} {problem}."


# --- non-root ----------------------------------------------------------------------------------------------

def _k8s_non_root(container: Mapping, pod_spec: Mapping) -> bool | None:
    def pick(key: str) -> Any:
        own = dig(container, "securityContext", key)
        return own if own is not None else dig(pod_spec, "securityContext", key)

    user, non_root = pick("runAsUser"), pick("runAsNonRoot")
    if user is UNKNOWN or non_root is UNKNOWN:
        return None
    if isinstance(user, (int, float)) and not isinstance(user, bool):
        return user > 0
    return non_root is True


def _non_root(props: dict, args: ResourceValidationArgs) -> Iterator[str]:
    if args.resource_type == DOCKER_CONTAINER:
        problem = docker_user_problem(props.get("user"))
        if problem:
            yield f"{problem}; allowed: a non-zero uid and gid such as user='65534:65534'."
        return
    for where, container, spec in containers(args.resource_type, props):
        if _k8s_non_root(container, spec) is False:
            yield (f"{where}: does not run as non-root; allowed: securityContext.runAsNonRoot: true and a "
                   f"non-zero runAsUser (container or pod level).")


# --- read-only root filesystem -----------------------------------------------------------------------------

def _read_only_root(props: dict, args: ResourceValidationArgs) -> Iterator[str]:
    if args.resource_type == DOCKER_CONTAINER:
        value = props.get("readOnly")
        if value is not UNKNOWN and value is not True:
            yield "readOnly is not true: the container can modify its root filesystem. Set read_only=True."
        return
    for where, container, _ in containers(args.resource_type, props):
        value = dig(container, "securityContext", "readOnlyRootFilesystem")
        if value is not UNKNOWN and value is not True:
            yield f"{where}: securityContext.readOnlyRootFilesystem is not true."


# --- resource limits ---------------------------------------------------------------------------------------

def _limits(props: dict, args: ResourceValidationArgs) -> Iterator[str]:
    require_cpu = (args.get_config() or {}).get("requireCpuLimit", True)
    if args.resource_type == DOCKER_CONTAINER:
        memory = props.get("memory")
        if memory is not UNKNOWN and not (isinstance(memory, (int, float)) and memory > 0):
            yield "memory (MB) is not set: the container can exhaust the host's memory."
        cpu = [props.get(k) for k in ("cpus", "cpuQuota")]
        if require_cpu and not any(v is UNKNOWN or (v not in (None, "", 0)) for v in cpu):
            yield "no CPU limit (cpus or cpu_quota): the container can starve the host."
        return
    for where, container, _ in containers(args.resource_type, props):
        limits = dig(container, "resources", "limits")
        if limits is UNKNOWN:
            continue
        limits = limits if isinstance(limits, Mapping) else {}
        missing = [k for k in (("memory", "cpu") if require_cpu else ("memory",)) if limits.get(k) in (None, "")]
        if missing:
            yield f"{where}: resources.limits has no {' or '.join(missing)}."


# --- the adapter stays inside the cluster / on the host's loopback ----------------------------------------

def _is_adapter_image(image: Any, markers: tuple[str, ...]) -> bool:
    return isinstance(image, str) and any(m in image.split("@")[0] for m in markers)


def _labels_match(selector: Any, labels: Any) -> bool:
    return (isinstance(selector, Mapping) and bool(selector) and isinstance(labels, Mapping)
            and all(labels.get(k) == v for k, v in selector.items()))


def _adapter_not_exposed(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    markers = tuple((args.get_config() or {}).get("adapterImages", DEFAULT_ADAPTER_IMAGES))
    pod_labels: list[Mapping] = []
    for res in args.resources:
        rtype = res.resource_type
        if rtype in POD_TEMPLATES:
            props = plain(res.props)
            found = [(w, c, s) for w, c, s in containers(rtype, props) if _is_adapter_image(c.get("image"), markers)]
            if not found:
                continue
            labels = dig(pod_template(rtype, props), "metadata", "labels")
            if isinstance(labels, Mapping):
                pod_labels.append(labels)
            spec = found[0][2]
            if is_true(spec.get("hostNetwork")):
                report_violation("the Teams adapter pod uses hostNetwork: its port (which serves the webhook URLs "
                                 "on GET /config) is reachable on the node's addresses.", res.urn)
            for where, container, _ in found:
                for port in as_list(container.get("ports")):
                    if isinstance(port, Mapping) and port.get("hostPort") not in (None, 0):
                        report_violation(f"{where}: hostPort publishes the Teams adapter on the node.", res.urn)
        elif rtype == DOCKER_CONTAINER:
            props = plain(res.props)
            image_deps = res.property_dependencies.get("image", [])
            images = [props.get("image")] + [plain(d.props).get("name") for d in image_deps
                                             if d.resource_type == REMOTE_IMAGE]
            if not any(_is_adapter_image(i, markers) for i in images):
                continue
            if props.get("networkMode") == "host":
                report_violation("the Teams adapter container uses network_mode host: its port is reachable on "
                                 "every host address.", res.urn)
            if is_true(props.get("publishAllPorts")):
                report_violation("publish_all_ports exposes the Teams adapter on every host address.", res.urn)
            for port in as_list(props.get("ports")):
                if not isinstance(port, Mapping) or port.get("ip") is UNKNOWN:
                    continue
                if port.get("ip") not in LOOPBACK:
                    report_violation(
                        f"port {shown_number(port.get('internal'))} is published on "
                        f"{port.get('ip') or '0.0.0.0 (all addresses)'}: the adapter serves the webhook URLs on "
                        f"GET /config. Allowed: 127.0.0.1 (loopback).", res.urn)
    adapter_services: set[str] = set()
    for res in args.resources:
        if res.resource_type != SERVICE:
            continue
        props = plain(res.props)
        selector = dig(props, "spec", "selector")
        if not any(_labels_match(selector, labels) for labels in pod_labels):
            continue
        name = dig(props, "metadata", "name")
        if isinstance(name, str):
            adapter_services.add(name)
        svc_type = dig(props, "spec", "type") or "ClusterIP"
        if svc_type is not UNKNOWN and svc_type != "ClusterIP":
            report_violation(f"Service type {svc_type} exposes the Teams adapter outside the cluster; use "
                             f"ClusterIP.", res.urn)
        if as_list(dig(props, "spec", "externalIPs")):
            report_violation("Service externalIPs expose the Teams adapter outside the cluster.", res.urn)
    for res in args.resources:
        if res.resource_type not in INGRESSES:
            continue
        text = repr(plain(res.props))
        for name in adapter_services:
            if f"'{name}'" in text:
                report_violation(f"Ingress routes to the Teams adapter Service {name}: its GET /config returns "
                                 f"the webhook URLs.", res.urn)


POLICIES = [
    ResourceValidationPolicy(
        name="images-pinned",
        description="Container images are pinned: a tag of the allowed shape (default vX.Y.Z / X.Y.Z) or a "
                    "sha256 digest with 64 hex digits; no ':latest', ':main', ':LATEST', empty digest or untagged "
                    "image.",
        validate=resource_policy("images-pinned", WORKLOAD_TYPES + (REMOTE_IMAGE,), _pinned),
        enforcement_level=MANDATORY, severity=Severity.HIGH,
        config_schema=PolicyConfigSchema(properties={"allowedTagPattern": {
            "type": "string", "default": DEFAULT_TAG_PATTERN,
            "description": "Regular expression (full match) a tag must match when the image has no digest."}}),
        remediation_steps="Set trailwatch:exporterImage / adapterImage to e.g. prom/cloudwatch-exporter:v0.18.0."),
    ResourceValidationPolicy(
        name="containers-non-root",
        description="Containers run as a non-root user (Kubernetes runAsNonRoot / non-zero runAsUser; Docker "
                    "user set, with uid and gid non-zero as Docker parses them: '00', '+0' are root).",
        validate=resource_policy("containers-non-root", WORKLOAD_TYPES, _non_root),
        enforcement_level=MANDATORY, severity=Severity.HIGH),
    ResourceValidationPolicy(
        name="containers-read-only-root-fs",
        description="Containers have a read-only root filesystem (Kubernetes readOnlyRootFilesystem; Docker "
                    "read_only).",
        validate=resource_policy("containers-read-only-root-fs", WORKLOAD_TYPES, _read_only_root),
        enforcement_level=MANDATORY, severity=Severity.MEDIUM),
    ResourceValidationPolicy(
        name="containers-resource-limits",
        description="Containers have memory and CPU limits (Kubernetes resources.limits; Docker memory and "
                    "cpus/cpu_quota).",
        validate=resource_policy("containers-resource-limits", WORKLOAD_TYPES, _limits),
        enforcement_level=MANDATORY, severity=Severity.MEDIUM,
        config_schema=PolicyConfigSchema(properties={"requireCpuLimit": {
            "type": "boolean", "default": True, "description": "Also require a CPU limit, not only memory."}})),
    StackValidationPolicy(
        name="adapter-not-exposed",
        description="The Teams adapter (it holds the webhook URL and posts cards to Teams) is "
                    "reachable only inside the cluster (ClusterIP, no Ingress, no host ports) or on the Docker "
                    "host's loopback.",
        validate=_adapter_not_exposed, enforcement_level=MANDATORY, severity=Severity.CRITICAL,
        config_schema=PolicyConfigSchema(properties={"adapterImages": {
            "type": "array", "items": {"type": "string"}, "default": list(DEFAULT_ADAPTER_IMAGES),
            "description": "Image name fragments that identify the Teams adapter."}})),
]
