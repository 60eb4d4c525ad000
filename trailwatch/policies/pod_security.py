"""Kubernetes pods against the Pod Security Standards' "restricted" profile, field by field.

Source: Kubernetes documentation, "Pod Security Standards" (https://kubernetes.io/docs/concepts/security/
pod-security-standards/), profiles Baseline and Restricted; each check below names the control it implements.
One addition the standard does not make: group 0 (``runAsGroup``, ``fsGroup``, ``supplementalGroups``), which
gives a non-root process root's group permissions on files. Kubernetes inputs arrive camelCase.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from pulumi_policy import ResourceValidationArgs, Severity

from ._common import UNKNOWN, as_list, dig
from .aws import mandatory_policy
from .workloads import POD_TEMPLATES, pod_template

PROFILE = "the Pod Security Standards 'restricted' profile"
#: Restricted "Volume Types".
ALLOWED_VOLUMES = ("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                   "projected", "secret")
#: Baseline "Sysctls": the safe set.
SAFE_SYSCTLS = ("kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
                "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
                "net.ipv4.tcp_keepalive_probes")
#: Baseline "SELinux" types.
SELINUX_TYPES = ("", "container_t", "container_init_t", "container_kvm_t", "container_engine_t")
SECCOMP_OK = ("RuntimeDefault", "Localhost")
CONTAINER_KINDS = ("initContainers", "containers", "ephemeralContainers")


def _violation(where: str, field: str, value: Any, allowed: str) -> str:
    return f"{where}: {field} is {value!r}; {PROFILE} allows {allowed}."


def _pod_level(base: str, spec: Mapping, annotations: Mapping) -> Iterator[str]:
    for key in ("hostNetwork", "hostPID", "hostIPC"):  # Baseline "Host Namespaces"
        if spec.get(key) is True:
            yield _violation(base, key, True, "false or unset")
    for i, volume in enumerate(as_list(spec.get("volumes"))):
        if not isinstance(volume, Mapping):
            continue
        kinds = [k for k in volume if k != "name" and volume.get(k) is not None]
        for kind in kinds:  # Baseline "HostPath Volumes", Restricted "Volume Types"
            if kind not in ALLOWED_VOLUMES:
                yield _violation(f"{base}.volumes[{i}] ({volume.get('name')})", "the volume type", kind,
                                 ", ".join(ALLOWED_VOLUMES))
    context = spec.get("securityContext")
    context = context if isinstance(context, Mapping) else {}
    for i, sysctl in enumerate(as_list(context.get("sysctls"))):  # Baseline "Sysctls"
        name = dig(sysctl, "name")
        if isinstance(name, str) and name not in SAFE_SYSCTLS:
            yield _violation(f"{base}.securityContext.sysctls[{i}]", "name", name, "the safe set only")
    yield from _context(f"{base}.securityContext", context, pod=True)
    for key, value in annotations.items():  # Baseline "AppArmor" (annotation form)
        if str(key).startswith("container.apparmor.security.beta.kubernetes.io/") and value == "unconfined":
            yield _violation("metadata.annotations", key, value, "runtime/default or localhost/*")
    for key in ("runAsGroup", "fsGroup"):  # group 0 (not in the standard)
        if _is_zero(context.get(key)):
            yield (f"{base}.securityContext.{key} is 0: processes get group root's file permissions; allowed: a "
                   f"non-zero group id (trailwatch uses 65534).")
    if any(_is_zero(g) for g in as_list(context.get("supplementalGroups"))):
        yield f"{base}.securityContext.supplementalGroups contains 0 (root's group); allowed: non-zero group ids."


def _is_zero(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0


def _context(where: str, context: Mapping, pod: bool) -> Iterator[str]:
    """Checks that apply to both the pod's and a container's securityContext."""
    if context.get("windowsOptions") and dig(context, "windowsOptions", "hostProcess") is True:  # "HostProcess"
        yield _violation(where, "windowsOptions.hostProcess", True, "false or unset")
    if dig(context, "seccompProfile", "type") == "Unconfined":  # Baseline/Restricted "Seccomp"
        yield _violation(where, "seccompProfile.type", "Unconfined", "RuntimeDefault or Localhost")
    if dig(context, "appArmorProfile", "type") == "Unconfined":  # Baseline "AppArmor"
        yield _violation(where, "appArmorProfile.type", "Unconfined", "RuntimeDefault or Localhost")
    selinux = context.get("seLinuxOptions")
    if isinstance(selinux, Mapping):  # Baseline "SELinux"
        if selinux.get("type") not in (None, UNKNOWN, *SELINUX_TYPES):
            yield _violation(where, "seLinuxOptions.type", selinux.get("type"), ", ".join(SELINUX_TYPES[1:]))
        for key in ("user", "role"):
            if selinux.get(key) not in (None, "", UNKNOWN):
                yield _violation(where, f"seLinuxOptions.{key}", selinux.get(key), "unset")
    if _is_zero(context.get("runAsUser")):  # Restricted "Running as Non-root user"
        yield _violation(where, "runAsUser", 0, "a non-zero user id")
    if not pod and _is_zero(context.get("runAsGroup")):
        yield f"{where}.runAsGroup is 0: the process gets group root's file permissions; allowed: a non-zero group id."


def _container(where: str, container: Mapping, pod_context: Mapping) -> Iterator[str]:
    context = container.get("securityContext")
    context = context if isinstance(context, Mapping) else {}
    sc = f"{where}.securityContext"
    if context.get("privileged") is True:  # Baseline "Privileged Containers"
        yield _violation(sc, "privileged", True, "false or unset")
    if context.get("allowPrivilegeEscalation") not in (False, UNKNOWN):  # Restricted "Privilege Escalation"
        yield _violation(sc, "allowPrivilegeEscalation", context.get("allowPrivilegeEscalation"), "false (set it)")
    caps = context.get("capabilities") if isinstance(context.get("capabilities"), Mapping) else {}
    added = [c for c in as_list(caps.get("add")) if c not in ("NET_BIND_SERVICE", UNKNOWN)]
    if added:  # Baseline/Restricted "Capabilities"
        yield _violation(sc, "capabilities.add", added, "only NET_BIND_SERVICE")
    if caps.get("drop") is not UNKNOWN and "ALL" not in as_list(caps.get("drop")):
        yield _violation(sc, "capabilities.drop", as_list(caps.get("drop")), "a list containing ALL")
    for i, port in enumerate(as_list(container.get("ports"))):  # Baseline "Host Ports"
        if isinstance(port, Mapping) and port.get("hostPort") not in (None, 0, UNKNOWN):
            yield _violation(f"{where}.ports[{i}]", "hostPort", port.get("hostPort"), "0 or unset")
    if context.get("procMount") not in (None, "Default", UNKNOWN):  # Baseline "/proc Mount Type"
        yield _violation(sc, "procMount", context.get("procMount"), "Default")
    yield from _context(sc, context, pod=False)
    seccomp = dig(context, "seccompProfile", "type") or dig(pod_context, "seccompProfile", "type")
    if seccomp not in (*SECCOMP_OK, UNKNOWN, "Unconfined"):  # Restricted "Seccomp": must be set
        yield _violation(sc, "seccompProfile.type (container or pod)", seccomp, "RuntimeDefault or Localhost")
    non_root = context.get("runAsNonRoot")
    non_root = pod_context.get("runAsNonRoot") if non_root is None else non_root
    if non_root not in (True, UNKNOWN):  # Restricted "Running as Non-root"
        yield _violation(sc, "runAsNonRoot (container or pod)", non_root, "true")


def _restricted(props: dict, args: ResourceValidationArgs) -> Iterator[str]:
    template = pod_template(args.resource_type, props)
    spec = dig(template, "spec")
    if not isinstance(spec, Mapping):
        return
    base = ".".join(POD_TEMPLATES[args.resource_type] + ("spec",))
    annotations = dig(template, "metadata", "annotations")
    yield from _pod_level(base, spec, annotations if isinstance(annotations, Mapping) else {})
    pod_context = spec.get("securityContext") if isinstance(spec.get("securityContext"), Mapping) else {}
    for kind in CONTAINER_KINDS:
        items = spec.get(kind)
        for i, container in enumerate(as_list(items) if items is not UNKNOWN else []):
            if isinstance(container, Mapping):
                name = container.get("name")
                where = f"{base}.{kind}[{i}]" + (f" ({name})" if isinstance(name, str) else "")
                yield from _container(where, container, pod_context)


POLICIES = [
    mandatory_policy("pod-security-restricted",
                     "Kubernetes workloads meet the Pod Security Standards 'restricted' profile field by field (host "
                     "namespaces, privileged, capabilities, hostPath and other volume types, host ports, AppArmor, "
                     "SELinux, /proc mount, seccomp, sysctls, privilege escalation, non-root) and use no group 0.",
                     tuple(POD_TEMPLATES), _restricted, Severity.HIGH),
]
