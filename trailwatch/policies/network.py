"""Network policies for trailwatch's own pods: the Teams adapter and the exporter each need a NetworkPolicy.

Why: without one, any pod in the cluster can post forged "security" cards to the adapter or reload the
exporter, and a compromised pod of ours can talk to anything. A Deployment of a ``TeamsAdapter`` or
``CloudWatchExporter`` component must be selected by a NetworkPolicy in its namespace that restricts both
directions: ingress only from named peers on named ports, egress only to DNS (53) and HTTPS (443).
"""

from __future__ import annotations

from typing import Any, Mapping

from pulumi_policy import EnforcementLevel, ReportViolation, Severity, StackValidationArgs, StackValidationPolicy

from ..contract import ADAPTER_COMPONENT_TYPE, EXPORTER_COMPONENT_TYPE
from ._common import UNKNOWN, as_list, dig, in_component, plain

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
COMPONENTS = {ADAPTER_COMPONENT_TYPE: "Teams adapter", EXPORTER_COMPONENT_TYPE: "exporter"}
EGRESS_PORTS = {53, 443}


def _selects(policy: Mapping, namespace: Any, labels: Mapping) -> bool:
    if dig(policy, "metadata", "namespace") != namespace:
        return False
    wanted = dig(policy, "spec", "podSelector", "matchLabels")
    return isinstance(wanted, Mapping) and bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


def _problems(policy: Mapping) -> list[str]:
    """What makes a selecting NetworkPolicy too open; empty when it restricts both directions."""
    spec = dig(policy, "spec", default={})
    if spec is UNKNOWN:
        return []
    out = []
    types = as_list(spec.get("policyTypes"))
    if not {"Ingress", "Egress"} <= set(types):
        out.append(f"policyTypes {types} must include Ingress and Egress")
    for i, rule in enumerate(as_list(spec.get("ingress"))):
        if not as_list(dig(rule, "from")) or not as_list(dig(rule, "ports")):
            out.append(f"ingress[{i}] must name its peers (from) and ports")
    for i, rule in enumerate(as_list(spec.get("egress"))):
        ports = {p.get("port") for p in as_list(dig(rule, "ports")) if isinstance(p, Mapping)}
        if not ports or not ports <= EGRESS_PORTS | {UNKNOWN}:
            out.append(f"egress[{i}] allows ports {sorted(map(str, ports)) or 'all'}; only 53 (DNS) and 443")
    return out


def _network_policies_required(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    policies = [plain(r.props) for r in args.resources if r.resource_type == NETWORK_POLICY]
    for res in args.resources:
        if res.resource_type != DEPLOYMENT:
            continue
        what = next((label for comp, label in COMPONENTS.items() if in_component(res.urn, comp)), None)
        if what is None:
            continue
        props = plain(res.props)
        namespace = dig(props, "metadata", "namespace")
        labels = dig(props, "spec", "template", "metadata", "labels", default={})
        if namespace is UNKNOWN or not isinstance(labels, Mapping):
            continue
        selecting = [p for p in policies if _selects(p, namespace, labels)]
        if not selecting:
            report_violation(f"the {what} Deployment has no NetworkPolicy selecting its pods: any pod in the cluster "
                             f"can reach it and it can reach anything.", res.urn)
        elif all(_problems(p) for p in selecting):
            report_violation(f"the {what}'s NetworkPolicy is too open: {'; '.join(_problems(selecting[0]))}.",
                             res.urn)


POLICIES = [
    StackValidationPolicy(
        name="network-policies-required",
        description="The Teams adapter and the exporter pods are selected by a NetworkPolicy that allows ingress "
                    "only from named peers on named ports and egress only to DNS (53) and HTTPS (443).",
        validate=_network_policies_required, enforcement_level=EnforcementLevel.MANDATORY, severity=Severity.HIGH),
]
