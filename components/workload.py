"""What every workload of this package shares: runtimes, non-root identity, security contexts, labels."""

from __future__ import annotations

import hashlib
from typing import Any

from trailwatch.images import is_pinned_image

NOBODY = 65534
RUNTIMES = ("kubernetes", "docker")


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
    if runtime not in RUNTIMES:
        raise ValueError(f"{component}: runtime must be one of {', '.join(RUNTIMES)} (got {runtime!r})")
    if not is_pinned_image(image):
        raise ValueError(f"{component}: image {image!r} must be pinned to a version tag or digest")
