"""Docker containers: the host stays out of reach (no privileged mode, capabilities, unconfined profiles, host
namespaces, Docker socket or host-wide port), and the user string is read the way Docker reads it.

Docker (moby/sys/user ``GetExecUser``) splits ``user[:group]`` on ``:`` and resolves each part against the
image's /etc/passwd and /etc/group: a part that Go's ``strconv.Atoi`` accepts (an optional sign, then decimal
digits) is always taken as a numeric id, anything else as a name. So ``"00"``, ``"+0"`` and ``"-0"`` are all
uid 0. An empty user part means the image's USER, usually root.
"""

from __future__ import annotations

import re
from typing import Any, Iterator, Mapping

from pulumi_policy import PolicyConfigSchema, ResourceValidationArgs, Severity

from ._common import UNKNOWN, as_list, dig, is_true, shown_number
from .aws import mandatory_policy

DOCKER_CONTAINER = "docker:index/container:Container"
DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")
DEFAULT_BIND_ADDRESSES = ("127.0.0.1", "::1")
_ATOI = re.compile(r"[+-]?[0-9]+\Z")
_UNCONFINED = re.compile(r"(seccomp|apparmor)[=:]unconfined\Z", re.IGNORECASE)


def docker_id(field: str) -> int | None:
    """The numeric id Docker takes a user/group field for (Go ``strconv.Atoi``), or None for a name."""
    return int(field) if _ATOI.match(field) else None


def is_root(field: str, root_name: str) -> bool:
    return field == root_name or docker_id(field) == 0


def docker_user_problem(user: Any) -> str | None:
    """Why a container ``user`` runs as root (uid or gid 0), or None. ``UNKNOWN`` is not checkable."""
    if user is UNKNOWN:
        return None
    if not isinstance(user, str) or user == "":
        return "user is not set: the container runs as the image's user, usually root"
    fields = user.split(":")  # Docker's parseLine: the first two ':'-separated fields are user and group
    name, group = fields[0], fields[1] if len(fields) > 1 else ""
    if name == "":
        return f"user {user!r} has no user part: the container runs as the image's user, usually root"
    if is_root(name, "root"):
        return f"user {user!r} is uid 0 (Docker reads {name!r} as {'root' if name == 'root' else 'the number 0'})"
    if group and is_root(group, "root"):
        return f"user {user!r} has gid 0 (Docker reads {group!r} as group root)"
    return None


def _host_paths(props: Mapping) -> Iterator[tuple[str, str]]:
    for i, volume in enumerate(as_list(props.get("volumes"))):
        path = dig(volume, "hostPath")
        if isinstance(path, str):
            yield f"volumes[{i}].hostPath", path
    for i, mount in enumerate(as_list(props.get("mounts"))):
        source = dig(mount, "source")
        if isinstance(source, str) and dig(mount, "type") in (None, "bind"):
            yield f"mounts[{i}].source", source


def _hardened(props: dict, args: ResourceValidationArgs) -> Iterator[str]:
    allowed_ips = tuple((args.get_config() or {}).get("allowedBindAddresses", DEFAULT_BIND_ADDRESSES))
    if is_true(props.get("privileged")):
        yield "privileged is true: the container has every capability and every host device. Allowed: false."
    added = [c for c in as_list(dig(props, "capabilities", "adds")) if c is not UNKNOWN]
    if added:
        yield f"capabilities.adds is {added!r}; allowed: none added (drops ALL)."
    for opt in as_list(props.get("securityOpts")):
        if isinstance(opt, str) and _UNCONFINED.match(opt.strip()):
            yield (f"securityOpts contains {opt!r}: the container runs without the default "
                   f"{opt.split('=')[0].split(':')[0]} profile. Allowed: the default profiles (no =unconfined).")
    for key in ("networkMode", "pidMode", "ipcMode", "usernsMode"):
        if props.get(key) == "host":
            yield f"{key} is 'host': the container shares the host's namespace. Allowed: unset (private)."
    for where, path in _host_paths(props):
        if path.rstrip("/") in DOCKER_SOCKETS or path.rstrip("/") in ("", "/var/run", "/run"):
            yield (f"{where} mounts {path or '/'} (the Docker socket): full control of the host. Allowed: named "
                   f"volumes, no host socket.")
    if is_true(props.get("publishAllPorts")):
        yield "publishAllPorts is true: every exposed port is published on every host address. Allowed: false."
    for i, port in enumerate(as_list(props.get("ports"))):
        if not isinstance(port, Mapping) or port.get("ip") is UNKNOWN:
            continue
        if port.get("ip") not in allowed_ips:
            yield (f"ports[{i}] (internal {shown_number(port.get('internal'))}) is published on "
                   f"{port.get('ip') or '0.0.0.0 (every address)'}; allowed: {', '.join(allowed_ips)}.")


POLICIES = [
    mandatory_policy("docker-container-hardened",
                     "Docker containers are not privileged, add no capabilities, keep the default seccomp and AppArmor "
                     "profiles, share no host namespace, do not mount the Docker socket and publish ports on loopback "
                     "only.",
                     (DOCKER_CONTAINER,), _hardened, Severity.CRITICAL,
                     config_schema=PolicyConfigSchema(properties={"allowedBindAddresses": {
                         "type": "array", "items": {"type": "string"}, "default": list(DEFAULT_BIND_ADDRESSES),
                         "description": "Host addresses a container port may be published on."}})),
]
