"""The trailwatch policy pack's policies, as plain pulumi_policy objects.

``policy/__main__.py`` (the pack the Pulumi CLI runs with ``--policy-pack policy``) constructs a ``PolicyPack``
from :data:`POLICIES`; ``python -m trailwatch plan`` runs the same objects offline through
:mod:`trailwatch.offline_policy`. Importing this package imports pulumi_policy (never construct the pack here:
``PolicyPack(...)`` starts a gRPC server and blocks).
"""

from __future__ import annotations

from pulumi_policy import Policy

from . import (
    aws, coverage, docker, exceptions, iam, network, pod_security, resource_policies, secrets, trail, workloads,
)
from .docker import docker_user_problem
from .webhooks import contains_webhook

PACK_NAME = "trailwatch"
PACK_VERSION = "0.1.0"
PACK_DESCRIPTION = ("trailwatch: CloudTrail -> CloudWatch Logs -> Prometheus -> Teams, hardened: trail, logs, "
                    "S3, KMS, IAM, webhook secrecy, workloads, alert coverage and noise exceptions.")

POLICIES: list[Policy] = [*aws.POLICIES, *trail.POLICIES, *iam.POLICIES, *resource_policies.POLICIES, *secrets.POLICIES,
                          *workloads.POLICIES, *pod_security.POLICIES, *docker.POLICIES, *coverage.POLICIES,
                          *exceptions.POLICIES, *network.POLICIES]


def policy_by_name(name: str) -> Policy:
    for policy in POLICIES:
        if policy.name == name:
            return policy
    raise KeyError(name)


__all__ = ["PACK_DESCRIPTION", "PACK_NAME", "PACK_VERSION", "POLICIES", "contains_webhook", "docker_user_problem",
           "policy_by_name"]
