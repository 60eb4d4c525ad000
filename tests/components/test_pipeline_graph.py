"""The whole program per runtime x Teams mode: secret placement, parenting, names, images, plan output."""

import json
import subprocess
import sys
from collections import Counter

import pytest

from plan_helpers import SCENARIOS, SIG, WEBHOOK, holders, plain, plaintext_paths, recording, scenario, walk
from trailwatch.commands import plan_document
from trailwatch.settings import is_pinned_image
from trailwatch.stack import SECRET_PLACEHOLDER, config_strings, secret_placeholder
from stacks import stack_config

COMPONENTS = {"TrailToLogs", "MetricFilterSet", "CloudWatchExporter", "TeamsAdapter", "AlertRules"}
EXPECTED = {
    "k8s-adapter": COMPONENTS,
    "k8s-custom": COMPONENTS,
    "k8s-native": COMPONENTS - {"TeamsAdapter"},
    "docker-adapter": COMPONENTS,
    "docker-native-key": COMPONENTS - {"TeamsAdapter"},
    "none-native": {"TrailToLogs", "MetricFilterSet", "AlertRules"},
    "none-adapter": {"TrailToLogs", "MetricFilterSet", "AlertRules"},
}
# The only places the webhook URL may be: a Kubernetes Secret's stringData, a Docker upload.
ALLOWED_HOLDERS = {("kubernetes:core/v1:Secret", "stringData"), ("docker:index/container:Container", "uploads")}


def component_types(rec):
    return {r.type.split(":")[-1] for r in rec.resources if r.type.startswith("trailwatch:index:")}


def test_components_per_scenario(any_scenario):
    name, rec = any_scenario
    assert component_types(rec) == EXPECTED[name]


def test_webhook_url_is_never_plaintext(any_scenario):
    name, rec = any_scenario
    for reg in rec.resources:
        for needle in (SIG, WEBHOOK):
            assert plaintext_paths(reg.inputs, needle) == [], f"{reg.type} {reg.name}"
    assert not any(SIG in text for _, text, _ in walk(rec.outputs)), "webhook URL in a stack output"


def test_webhook_url_only_in_a_secret_or_an_upload(any_scenario):
    name, rec = any_scenario
    found = holders(rec, SIG)
    assert found <= ALLOWED_HOLDERS, found
    expected = {
        "k8s-adapter": {("kubernetes:core/v1:Secret", "stringData")},
        "k8s-custom": {("kubernetes:core/v1:Secret", "stringData")},
        "k8s-native": {("kubernetes:core/v1:Secret", "stringData")},
        "docker-adapter": {("docker:index/container:Container", "uploads")},
    }.get(name, set())
    assert found == expected  # and it is really there where it must be


def test_secure_config_placeholder_stays_secret():
    """A `secure:` stack value (the plan's placeholder) is handled like a plain one: wrapped everywhere."""
    for base in ("docker-adapter", "k8s-native"):
        rec = recording(**{**SCENARIOS[base], "teamsWebhookUrl": {"secure": "v1:AAAAciphertext"}})
        for reg in rec.resources:
            assert plaintext_paths(reg.inputs, SECRET_PLACEHOLDER) == [], f"{base}: {reg.name}"
        assert plaintext_paths(rec.outputs, SECRET_PLACEHOLDER) == []
        assert holders(rec, SECRET_PLACEHOLDER)


def test_no_duplicate_type_and_name(any_scenario):
    _, rec = any_scenario
    dupes = [k for k, n in Counter((r.type, r.name) for r in rec.resources).items() if n > 1]
    assert dupes == []


def test_every_child_is_parented_to_its_component(any_scenario):
    _, rec = any_scenario
    by_urn = {r.urn: r for r in rec.resources}
    for reg in rec.resources:
        if reg.type.startswith("trailwatch:index:"):
            assert "::pulumi:pulumi:Stack::" in reg.parent, reg.name  # components sit at the top
            continue
        parent = by_urn.get(reg.parent)
        assert parent is not None and parent.type.startswith("trailwatch:index:"), f"{reg.type} {reg.name}"
        assert reg.name.startswith(parent.name), f"{reg.name} not derived from {parent.name}"


def test_default_providers_only(any_scenario):
    _, rec = any_scenario
    assert not [r for r in rec.resources if r.type.startswith("pulumi:providers:")]
    assert all(not r.provider for r in rec.resources)


def test_alerting_waits_for_the_metric_filters(any_scenario):
    _, rec = any_scenario
    filters = {r.urn for r in rec.of_type("aws:cloudwatch/logMetricFilter:LogMetricFilter")}
    assert filters
    for reg in rec.resources:
        if reg.type in ("trailwatch:index:CloudWatchExporter", "trailwatch:index:AlertRules"):
            assert filters <= set(reg.depends_on)  # the SDK expands a component dependency to its children


def images(rec):
    found = []
    for reg in rec.resources:
        if reg.type == "docker:index/remoteImage:RemoteImage":
            found.append(reg.inputs["name"])
        if reg.type == "kubernetes:apps/v1:Deployment":
            found += [c["image"] for c in plain(reg.inputs)["spec"]["template"]["spec"]["containers"]]
    return found


def test_every_image_is_pinned(any_scenario):
    name, rec = any_scenario
    found = images(rec)
    if name.startswith(("k8s", "docker")):
        assert found
    for image in found:
        assert is_pinned_image(image) and not image.endswith(":latest"), image


def test_docker_containers_use_the_pulled_or_built_image():
    rec = scenario("docker-adapter")
    pulled = {r.urn for r in rec.resources if r.type == "docker:index/remoteImage:RemoteImage"}
    built = {r.urn for r in rec.resources if r.type == "docker-build:index:Image"}
    repos = {r.urn for r in rec.resources if r.type == "aws:ecr/repository:Repository"}
    for c in rec.of_type("docker:index/container:Container"):
        deps = set(c.property_dependencies["image"])
        assert deps <= pulled | built | repos and deps & (pulled | built), c.name


def check_plan(doc, runtime):
    types = {r["type"].split(":")[-1] for r in doc["resources"] if r["type"].startswith("trailwatch:index:")}
    assert types == COMPONENTS
    text = json.dumps(doc)
    assert SECRET_PLACEHOLDER not in text and "secret.invalid" not in text
    assert doc["outputs"]["runtime"] == runtime
    assert [v for v in doc.get("policy", {}).get("violations", []) if v["level"] == "mandatory"] == []


def test_dev_stack_plans_on_kubernetes(repo_root):
    check_plan(plan_document("dev", repo_root), "kubernetes")


def test_docker_stack_plans_as_one_json_object(repo_root):
    result = subprocess.run([sys.executable, "-m", "trailwatch", "plan", "--stack", "docker", "--format", "json"],
                            cwd=repo_root, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)  # raises unless stdout is exactly one JSON document
    assert doc["stack"] == "docker" and doc["outputs"]["teamsAdapterUrl"] == "http://127.0.0.1:8080/alerts"
    check_plan(doc, "docker")

def test_policy_pack_passes(any_scenario):
    """The project's own policy pack, run the way `pulumi preview --policy-pack` would, finds nothing."""
    from trailwatch.offline_policy import analyze

    name, rec = any_scenario
    config, _ = config_strings(stack_config(**SCENARIOS[name]))
    found = [v for v in analyze(rec, config, "test") if v.level != "advisory"]
    assert found == [], [(v.policy, v.name, v.message) for v in found]


def test_a_secret_suspicious_ip_list_keeps_the_adapter_config_secret():
    """The program tells TeamsAdapter, as it tells MetricFilterSet, which patterns come from secret config
    (secret_patterns): the adapter's config, which holds the pattern, is then a Secret, never a ConfigMap."""
    rec = recording(**{**SCENARIOS["k8s-adapter"], "enableDetections": ["suspicious_source_ips"],
                       "suspiciousIps": {"secure": "v1:AAAAciphertext"}})
    (ip,) = json.loads(secret_placeholder("trailwatch:suspiciousIps"))
    configs = [r for r in rec.resources if "adapter-config" in r.name]
    assert [r.type for r in configs] == ["kubernetes:core/v1:Secret"]
    assert ip in plain(configs[0].inputs)["stringData"]["config.json"]
    for reg in rec.resources:
        assert plaintext_paths(reg.inputs, ip) == [], f"{reg.type} {reg.name}"
