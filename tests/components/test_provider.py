"""The component package for other Pulumi languages (components/provider.py, provider/PulumiPlugin.yaml): the
schema the SDK's analyzer infers from the annotations, the library docs' tables of it, the Pulumi YAML example
(existing log group -> filters -> exporter -> adapter -> rules on Kubernetes) run through the provider's construct
under mocks and the policy pack, and the chain in native mode wired through outputs the way a YAML or TypeScript
program wires it."""

from __future__ import annotations

import copy
import dataclasses
import importlib.util
import json
import re
from pathlib import Path

import pulumi
import pytest
import yaml
from pulumi.provider.experimental.component import ComponentProvider

from components import AlertRulesArgs, CloudWatchExporterArgs, MetricFilterSetArgs, TeamsAdapterArgs, TrailToLogsArgs
from components.args import DETECTION_KEYS, TIMING_KEYS
from components.provider import COMPONENTS, PACKAGE, main
from plan_helpers import OIDC_ARN, SIG, WEBHOOK, plain, plaintext_paths
from trailwatch import __version__
from trailwatch.catalog import load_catalog
from trailwatch.docs import PAGES, component_tables, schema_type
from trailwatch.mockrun import run_program
from trailwatch.naming import exporter_metric_name
from trailwatch.offline_policy import analyze

ROOT = Path(__file__).resolve().parents[2]
YAML_EXAMPLE = ROOT / "examples" / "yaml-byo-log-group" / "Pulumi.yaml"
FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
ARGS = {"TrailToLogs": TrailToLogsArgs, "MetricFilterSet": MetricFilterSetArgs,
        "CloudWatchExporter": CloudWatchExporterArgs, "TeamsAdapter": TeamsAdapterArgs, "AlertRules": AlertRulesArgs}
#: The YAML evaluator the packaging tests run the example with from the wheel (loaded by path: see its docstring).
_SPEC = importlib.util.spec_from_file_location("yaml_program", ROOT / "tests" / "packaging" / "yaml_program.py")
yaml_program = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(yaml_program)


@pytest.fixture(scope="module")
def provider() -> ComponentProvider:
    return ComponentProvider(COMPONENTS, PACKAGE, version=__version__)


@pytest.fixture(scope="module")
def schema(provider) -> dict:
    return json.loads(provider.schema)


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def test_schema_follows_the_args_classes(schema):
    assert set(schema["resources"]) == {f"trailwatch:index:{name}" for name in ARGS}
    assert schema["name"] == PACKAGE and schema["version"] == __version__
    for token, res in schema["resources"].items():
        fields = dataclasses.fields(ARGS[token.rsplit(":", 1)[-1]])
        assert list(res["inputProperties"]) == [camel(f.name) for f in fields]
        required = [camel(f.name) for f in fields
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        assert sorted(res["requiredInputs"]) == sorted(required)
        assert res["isComponent"] is True and res["description"]
        for spec in [*res["inputProperties"].values(), *res["properties"].values()]:
            assert spec["description"].strip() and "\n" not in spec["description"]
    assert {name: sorted(res["requiredInputs"]) for name, res in schema["resources"].items()} == {
        "trailwatch:index:TrailToLogs": ["logGroupName"], "trailwatch:index:MetricFilterSet": ["logGroupName"],
        "trailwatch:index:CloudWatchExporter": ["metrics", "region"],
        "trailwatch:index:TeamsAdapter": ["logGroupArn", "logGroupName", "region", "webhookUrl"],
        "trailwatch:index:AlertRules": ["logGroupName", "region"]}
    # nothing is marked secret: AlertRules and TeamsAdapter wrap webhookUrl as a secret, whatever the caller passes
    assert '"secret"' not in json.dumps(schema)


def test_schema_types_as_documented(schema):
    trail = schema["resources"]["trailwatch:index:TrailToLogs"]
    filters = schema["resources"]["trailwatch:index:MetricFilterSet"]
    inputs = {name: (schema_type(spec), spec.get("plain", False)) for name, spec in trail["inputProperties"].items()}
    assert inputs["createTrail"] == ("boolean", True) and inputs["logRetentionDays"] == ("integer", True)
    assert inputs["eventSelectors"] == ("list of map of any", True)
    inputs = {name: (schema_type(spec), spec.get("plain", False)) for name, spec in filters["inputProperties"].items()}
    assert inputs["logGroupName"] == ("string", False)  # the one input that may be another resource's output
    assert inputs["enableDetections"] == ("list of string", True)
    assert inputs["customDetections"] == ("list of map of any", True)
    assert inputs["detectionOverrides"] == ("map of map of any", True)
    assert schema_type(filters["properties"]["metrics"]) == "list of DetectionMetric"
    assert set(schema["types"]["trailwatch:index:DetectionMetric"]["properties"]) == {
        "namespace", "metric", "detection", "severity", "threshold"}
    assert sorted(trail["required"]) == ["logGroupArn", "logGroupName"]
    exporter = schema["resources"]["trailwatch:index:CloudWatchExporter"]
    inputs = {name: (schema_type(spec), spec.get("plain", False)) for name, spec in exporter["inputProperties"].items()}
    # the filter set's outputs go in as they are
    assert inputs["metrics"] == ("list of DetectionMetric", False)
    assert inputs["exceptedMetrics"] == ("list of ExceptedMetric", False)
    assert inputs["alertWindowMinutes"] == ("integer", True) and inputs["scrapeLabels"] == ("map of string", True)
    rules = schema["resources"]["trailwatch:index:AlertRules"]
    inputs = {name: (schema_type(spec), spec.get("plain", False)) for name, spec in rules["inputProperties"].items()}
    # TeamsAdapter's outputs go in as they are; the rest decides what is rendered, so it is a value
    assert {inputs[k] for k in ("adapterUrl", "adapterTokenSecret", "webhookUrl")} == {("string", False)}
    assert inputs["enableDetections"] == ("list of string", True) and inputs["teamsMode"] == ("string", True)
    adapter = schema["resources"]["trailwatch:index:TeamsAdapter"]
    inputs = {name: (schema_type(spec), spec.get("plain", False)) for name, spec in adapter["inputProperties"].items()}
    # the Workflows URL (a secret) and TrailToLogs' and CloudWatchExporter's outputs go in as they are
    assert {inputs[k] for k in ("webhookUrl", "logGroupArn", "hostRoleName")} == {("string", False)}
    assert inputs["logGroupName"] == ("string", True) and inputs["enableDetections"] == ("list of string", True)
    assert schema_type(adapter["properties"]["tokenSecretName"]) == "string"
    shared = {camel(name) for name in DETECTION_KEYS}  # the detections, given to all three alike
    assert shared <= set(filters["inputProperties"]) & set(rules["inputProperties"]) & set(adapter["inputProperties"])
    for name in shared - {"detectionOverrides"}:  # same meaning, same words
        described = {res["inputProperties"][name]["description"] for res in (filters, rules, adapter)}
        assert len(described) == 1, name
    timings = {camel(name) for name in TIMING_KEYS}  # the read path's, checked together wherever they go
    assert timings <= set(exporter["inputProperties"]) & set(rules["inputProperties"]) & set(adapter["inputProperties"])
    for name in timings | {"groupIntervalSeconds", "repeatIntervalMinutes"}:  # the adapter's follow the rules'
        assert adapter["inputProperties"][name]["description"] == rules["inputProperties"][name]["description"], name


def test_library_docs_hold_the_schema_tables(schema):
    pages = [page for page, parts in PAGES.items() if "component-args" in parts]
    assert pages
    for page in pages:
        assert component_tables(schema) in (ROOT / page).read_text(encoding="utf-8"), page


def test_plugin_entry_point_hosts_the_components():
    plugin = yaml.safe_load((ROOT / "provider" / "PulumiPlugin.yaml").read_text())
    assert plugin["runtime"]["name"] == "python"
    assert "from trailwatch.components.provider import main" in (ROOT / "provider" / "__main__.py").read_text()
    assert callable(main) and COMPONENTS


YAML_CONFIG = {"eksOidcProviderArn": OIDC_ARN, "teamsWebhookUrl": WEBHOOK}


def run_yaml(provider, schema, program: dict):
    return run_program({}, program=lambda: yaml_program.run(program, provider, schema, YAML_CONFIG),
                       project=program["name"], stack="prod")


def test_yaml_example_builds_the_whole_chain_through_the_provider_and_passes_the_pack(provider, schema):
    """Existing log group -> filters -> exporter -> Teams adapter -> rules on Kubernetes, each component built by the
    provider's construct from the previous ones' outputs: nothing of the trail is created, the exporter reads what
    the filters write, every filter has its alert routed to the adapter, the Workflows URL stays a secret, and
    the pack finds nothing."""
    program = yaml.safe_load(YAML_EXAMPLE.read_text())
    assert program["runtime"] == "yaml" and program["packages"] == {"trailwatch": "../../provider"}
    recording = run_yaml(provider, schema, program)
    assert sorted(r.type for r in recording.resources if r.type.startswith("trailwatch:")) == sorted(
        f"trailwatch:index:{name}" for name in ARGS)
    assert not [r for r in recording.resources if r.parent.endswith("::orgTrail")]  # bring your own trail
    filters = recording.of_type(FILTER)
    assert {f.inputs["logGroupName"] for f in filters} == {"/org/cloudtrail"}
    by_id = {f.inputs["name"].removeprefix("platform-security-"): f for f in filters}
    assert {"secret_deletions", "access_denied", "root_usage"} <= set(by_id)
    metrics = {m["detection"]: m for m in recording.outputs["metrics"]}
    assert set(metrics) == set(by_id) and metrics["root_usage"]["severity"] == "critical"
    assert recording.outputs["logGroupArn"] == "arn:aws:logs:us-east-1:123456789012:log-group:/org/cloudtrail"

    reads = yaml.safe_load(plain(next(r for r in recording.of_type("kubernetes:core/v1:ConfigMap")
                                      if "exporter" in r.name).inputs)["data"]["config.yml"])["metrics"]
    assert {r["aws_metric_name"] for r in reads} == {m["metric"] for m in metrics.values()}
    rule = plain(recording.one("kubernetes:monitoring.coreos.com/v1:PrometheusRule").inputs)["spec"]
    alerted = {r["labels"].get("detection") for g in rule["groups"] for r in g["rules"] if "alert" in r}
    assert set(metrics) <= alerted
    card = json.loads(plain(next(r for r in recording.of_type("kubernetes:core/v1:ConfigMap")
                                 if "adapter-config" in r.name).inputs)["data"]["config.json"])
    heartbeats = {d.id for d in load_catalog() if d.heartbeat}
    assert set(card["detections"]) == set(metrics) - heartbeats and card["stack"] == "prod"
    route = plain(recording.one("kubernetes:monitoring.coreos.com/v1alpha1:AlertmanagerConfig").inputs)["spec"]
    (receiver,) = route["receivers"]
    (hook,) = receiver["webhookConfigs"]
    assert hook["url"] == recording.outputs["teamsAdapterUrl"] == (
        "http://secops-teams-adapter.monitoring.svc:8080/alerts")
    for reg in recording.resources:
        assert plaintext_paths(reg.inputs, SIG) == [], reg.name
    violations = analyze(recording, {}, "prod", program["name"])
    assert [v for v in violations if v.level == "mandatory"] == [], [(v.policy, v.message) for v in violations]


def test_the_pack_sees_the_yaml_chain_when_the_rules_miss_a_detection(provider, schema):
    """The same program with AlertRules left without the custom detection: its filter has no alert, and the pack
    says so (so the clean run above is the pack's finding, not its blindness)."""
    program = copy.deepcopy(yaml.safe_load(YAML_EXAMPLE.read_text()))
    del program["resources"]["alerts"]["properties"]["customDetections"]
    found = [v for v in analyze(run_yaml(provider, schema, program), {}, "prod", program["name"])
             if v.level == "mandatory"]
    assert [v.policy for v in found] == ["every-filter-has-one-alert"] and "SecretDeletionCount" in found[0].message


def test_the_yaml_evaluator_refuses_what_pulumi_yaml_refuses(provider, schema):
    program = yaml.safe_load(YAML_EXAMPLE.read_text())
    for broken, expected in (({"logGroupName": "${orgTrail.logGroupName}"}, "an Output where plain ['logGroupName']"),
                             ({"nonsense": 1}, "unknown ['nonsense']")):
        edited = copy.deepcopy(program)
        edited["resources"]["secops"]["properties"].update(broken)
        with pytest.raises(yaml_program.UnsupportedYaml, match=re.escape(expected)):
            run_yaml(provider, schema, edited)


def test_bad_yaml_values_are_one_line_errors_naming_the_property(provider):
    def run() -> None:
        provider.construct("f", "trailwatch:index:MetricFilterSet",
                           {"logGroupName": "/lg", "enableDetections": ["no_such"]}, None)

    with pytest.raises(Exception) as caught:
        run_program({}, program=run)
    text = str(caught.value)
    assert "MetricFilterSet: enable_detections: unknown detection 'no_such'" in text
    assert "trailwatch:" not in text and "enableDetections" not in text


def test_the_chain_composes_through_the_provider_and_passes_the_pack(provider):
    """Filters -> exporter -> rules -> Teams (native mode) on Kubernetes, each component built by the provider's
    construct from the previous one's outputs, as a YAML or TypeScript program would: the exporter reads what
    the filters write, every filter has exactly one alert, and the pack finds nothing mandatory."""
    detections = {"enableDetections": ["access_denied"], "detectionOverrides": {"root_usage": {"threshold": 2}}}

    def run() -> None:
        filters = provider.construct("security", "trailwatch:index:MetricFilterSet",
                                     {"logGroupName": "/org/cloudtrail", "namePrefix": "sec", **detections}, None)
        exporter = provider.construct("exporter", "trailwatch:index:CloudWatchExporter", {
            "metrics": filters.state["metrics"], "exceptedMetrics": filters.state["exceptedMetrics"],
            "region": "us-east-1", "oidcProviderArn": OIDC_ARN, "alertWindowMinutes": 40}, None)
        provider.construct("alerts", "trailwatch:index:AlertRules", {
            "region": "us-east-1", "logGroupName": "/org/cloudtrail", "runtime": "kubernetes",
            "teamsMode": "native", "webhookUrl": pulumi.Output.secret(WEBHOOK), "alertWindowMinutes": 40,
            **detections}, None)
        pulumi.export("metrics", filters.state["metrics"])
        pulumi.export("exporterConfigChecksum", exporter.state["configChecksum"])

    recording = run_program({"aws:region": "us-east-1"}, program=run, project="consumer", stack="prod")
    config = plain(next(r for r in recording.of_type("kubernetes:core/v1:ConfigMap") if "exporter" in r.name)
                   .inputs)["data"]["config.yml"]
    reads = yaml.safe_load(config)["metrics"]
    assert [(r["aws_namespace"], r["aws_metric_name"]) for r in reads] == [
        (m["namespace"], m["metric"]) for m in recording.outputs["metrics"]]
    assert {r["period_seconds"] for r in reads} == {40 * 60, 26 * 60}
    rule = plain(recording.one("kubernetes:monitoring.coreos.com/v1:PrometheusRule").inputs)["spec"]
    exprs = {r["labels"].get("detection"): r["expr"] for g in rule["groups"] for r in g["rules"] if "alert" in r}
    for m in recording.outputs["metrics"]:
        assert exporter_metric_name(m["namespace"], m["metric"], "Sum") + '{trailwatch_stack="prod"}' in \
            exprs[m["detection"]], m["detection"]
    assert exprs["root_usage"].endswith(">= 2")
    monitor = plain(next(r for r in recording.of_type("kubernetes:monitoring.coreos.com/v1:ServiceMonitor")).inputs)
    assert monitor["spec"]["endpoints"][0]["relabelings"] == [
        {"action": "replace", "targetLabel": "trailwatch_stack", "replacement": "prod"}]
    for reg in recording.resources:
        assert plaintext_paths(reg.inputs, SIG) == [], reg.name
    violations = [v for v in analyze(recording, {}, "prod") if v.level == "mandatory"]
    assert violations == [], [(v.policy, v.message) for v in violations]
