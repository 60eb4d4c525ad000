"""Helpers for the component tests: the real ``__main__.py`` under mocks, run once per configuration, and
walkers that find where a value sits in the recorded inputs (inside a secret or not)."""

from __future__ import annotations

import json
from typing import Any, Iterator

from pulumi.runtime import rpc

from stacks import make_stack, run_stack

OIDC_ARN = ("arn:aws:iam::123456789012:oidc-provider/"
            "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE")
OIDC_ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
# Shaped like a Teams Workflows URL; the sig= part is the credential the tests hunt for.
SIG = "sigTESTdoNOTleak0123456789"
WEBHOOK = ("https://prod-00.westeurope.environment.api.powerplatform.com/powerautomate/automations/direct/"
           f"workflows/0123abcd/triggers/manual/paths/invoke?api-version=1&sv=1.0&sig={SIG}")

SCENARIOS: dict[str, dict[str, Any]] = {
    "k8s-adapter": dict(runtime="kubernetes", eksOidcProviderArn=OIDC_ARN, teamsWebhookUrl=WEBHOOK),
    "k8s-native": dict(runtime="kubernetes", teamsMode="native", eksOidcProviderArn=OIDC_ARN,
                       teamsWebhookUrl=WEBHOOK),
    "docker-adapter": dict(runtime="docker", teamsWebhookUrl=WEBHOOK),
    "docker-native-key": dict(runtime="docker", teamsMode="native", exporterAccessKey=True, teamsWebhookUrl=WEBHOOK),
    "none-native": dict(runtime="none", teamsMode="native", teamsWebhookUrl=WEBHOOK),
    "none-adapter": dict(runtime="none"),
}
EXPORTER_DIGEST = "prom/cloudwatch-exporter@sha256:" + "a" * 64
ADAPTER_DIGEST = "registry.example.com/trailwatch-adapter@sha256:" + "b" * 64
# Every Kubernetes-side setting away from its default, in one run (keeps the suite fast).
SCENARIOS["k8s-custom"] = dict(
    SCENARIOS["k8s-adapter"], kubernetesNamespace="secops",
    prometheusSelectorLabels={"release": "prom-stack", "team": "sec"},
    grafanaDashboardLabels={"grafana_dashboard": "yes", "team": "sec"},
    exporterImage=EXPORTER_DIGEST, adapterImage=ADAPTER_DIGEST, exporterAccessKey=True)

_cache: dict[str, Any] = {}


def recording(**settings: Any):
    """The recording of one program run; identical configurations run once per session."""
    key = json.dumps(settings, sort_keys=True)
    if key not in _cache:
        _cache[key] = run_stack(**settings)
    return _cache[key]


def scenario(name: str):
    return recording(**SCENARIOS[name])


def stack_of(name: str):
    return make_stack(**SCENARIOS[name])


def plain(value: Any) -> Any:
    """Unwrap every secret marker (for asserting on values; use ``plaintext_paths`` for placement)."""
    if rpc.is_rpc_secret(value):
        return plain(value["value"])
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def walk(value: Any, path: str = "", secret: bool = False) -> Iterator[tuple[str, str, bool]]:
    """Every string leaf as (path, text, is-inside-a-secret)."""
    if rpc.is_rpc_secret(value):
        yield from walk(value["value"], path, True)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from walk(v, f"{path}.{k}", secret)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from walk(v, f"{path}[{i}]", secret)
    elif isinstance(value, str):
        yield path, value, secret


def plaintext_paths(value: Any, needle: str) -> list[str]:
    """Where ``needle`` occurs outside any secret wrapper."""
    return [path for path, text, secret in walk(value) if needle in text and not secret]


def holders(rec, needle: str) -> set[tuple[str, str]]:
    """(type, top-level input) of every registration whose inputs contain ``needle`` (wrapped or not)."""
    found = set()
    for reg in rec.resources:
        for key, value in reg.inputs.items():
            if any(needle in text for _, text, _ in walk(value)):
                found.add((reg.type, key))
    return found


def k8s(rec, kind: str, name_part: str = ""):
    """The one Kubernetes resource of ``kind`` whose resource name contains ``name_part``."""
    found = [r for r in rec.resources if r.type.startswith("kubernetes:") and r.type.endswith(f":{kind}")
             and name_part in r.name]
    assert len(found) == 1, f"expected one {kind} named *{name_part}*, found {[r.name for r in found]}"
    return found[0]


def containers(deployment) -> list[dict]:
    return plain(deployment.inputs)["spec"]["template"]["spec"]["containers"]
