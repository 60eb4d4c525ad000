"""The component package for other Pulumi languages (components/provider.py, provider/PulumiPlugin.yaml): the
schema the SDK's analyzer infers from the annotations, the README's tables of it, the Pulumi YAML example
run through the provider's construct under mocks, and the filters -> exporter -> rules chain wired through
outputs the way a YAML or TypeScript program wires it."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from pulumi.provider.experimental.component import ComponentProvider

from components import AlertRulesArgs, CloudWatchExporterArgs, MetricFilterSetArgs, TrailToLogsArgs
from components.args import DETECTION_KEYS
from components.provider import COMPONENTS, PACKAGE, main
from plan_helpers import OIDC_ARN, SIG, WEBHOOK, plain, plaintext_paths
from trailwatch import __version__
from trailwatch.mockrun import run_program
from trailwatch.naming import exporter_metric_name
from trailwatch.offline_policy import analyze

ROOT = Path(__file__).resolve().parents[2]
YAML_EXAMPLE = ROOT / "examples" / "yaml-byo-log-group" / "Pulumi.yaml"
FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
ARGS = {"TrailToLogs": TrailToLogsArgs, "MetricFilterSet": MetricFilterSetArgs,
        "CloudWatchExporter": CloudWatchExporterArgs, "AlertRules": AlertRulesArgs}
_REF = re.compile(r"\$\{(\w+)(?:\.(\w+))?\}\Z")


@pytest.fixture(scope="module")
def provider() -> ComponentProvider:
    return ComponentProvider(COMPONENTS, PACKAGE, version=__version__)


@pytest.fixture(scope="module")
def schema(provider) -> dict:
    return json.loads(provider.schema)


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def type_of(spec: dict) -> str:
    if "$ref" in spec:
        return "any" if spec["$ref"].endswith("/Any") else spec["$ref"].rsplit(":", 1)[-1]
    if spec["type"] == "array":
        return f"list of {type_of(spec['items'])}"
    if spec["type"] == "object" and "additionalProperties" in spec:
        return f"map of {type_of(spec['additionalProperties'])}"
    return spec["type"]


def schema_tables(schema: dict) -> str:
    """The README's tables, made from the schema: inputs (Output accepted where not plain), then outputs."""
    rows = ["| component | input | type | required | description |", "|---|---|---|---|---|"]
    for token, res in schema["resources"].items():
        for prop, spec in res["inputProperties"].items():
            kind = type_of(spec) + ("" if spec.get("plain") else ", Output accepted")
            rows.append(f"| {token.rsplit(':', 1)[-1]} | `{prop}` | {kind} | "
                        f"{'yes' if prop in res.get('requiredInputs', []) else 'no'} | {spec['description']} |")
    rows += ["", "| component | output | type | description |", "|---|---|---|---|"]
    for token, res in schema["resources"].items():
        for prop, spec in res["properties"].items():
            rows.append(f"| {token.rsplit(':', 1)[-1]} | `{prop}` | {type_of(spec)} | {spec['description']} |")
    return "\n".join(rows)


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
        "trailwatch:index:AlertRules": ["logGroupName", "region"]}
    # nothing is marked secret: AlertRules wraps webhookUrl as a secret itself, whatever the caller passes
    assert '"secret"' not in json.dumps(schema)


def test_schema_types_as_documented(schema):
    trail = schema["resources"]["trailwatch:index:TrailToLogs"]
    filters = schema["resources"]["trailwatch:index:MetricFilterSet"]
    inputs = {name: (type_of(spec), spec.get("plain", False)) for name, spec in trail["inputProperties"].items()}
    assert inputs["createTrail"] == ("boolean", True) and inputs["logRetentionDays"] == ("integer", True)
    assert inputs["eventSelectors"] == ("list of map of any", True)
    inputs = {name: (type_of(spec), spec.get("plain", False)) for name, spec in filters["inputProperties"].items()}
    assert inputs["logGroupName"] == ("string", False)  # the one input that may be another resource's output
    assert inputs["enableDetections"] == ("list of string", True)
    assert inputs["customDetections"] == ("list of map of any", True)
    assert inputs["detectionOverrides"] == ("map of map of any", True)
    assert type_of(filters["properties"]["metrics"]) == "list of DetectionMetric"
    assert set(schema["types"]["trailwatch:index:DetectionMetric"]["properties"]) == {
        "namespace", "metric", "detection", "severity", "threshold"}
    assert sorted(trail["required"]) == ["logGroupArn", "logGroupName"]
    exporter = schema["resources"]["trailwatch:index:CloudWatchExporter"]
    inputs = {name: (type_of(spec), spec.get("plain", False)) for name, spec in exporter["inputProperties"].items()}
    # the filter set's outputs go in as they are
    assert inputs["metrics"] == ("list of DetectionMetric", False)
    assert inputs["exceptedMetrics"] == ("list of ExceptedMetric", False)
    assert inputs["alertWindowMinutes"] == ("integer", True) and inputs["scrapeLabels"] == ("map of string", True)
    rules = schema["resources"]["trailwatch:index:AlertRules"]
    inputs = {name: (type_of(spec), spec.get("plain", False)) for name, spec in rules["inputProperties"].items()}
    # TeamsAdapter's outputs go in as they are; the rest decides what is rendered, so it is a value
    assert {inputs[k] for k in ("adapterUrl", "adapterTokenSecret", "webhookUrl")} == {("string", False)}
    assert inputs["enableDetections"] == ("list of string", True) and inputs["teamsMode"] == ("string", True)
    shared = {camel(name) for name in DETECTION_KEYS}  # the detections, given to both alike
    assert shared <= set(filters["inputProperties"]) & set(rules["inputProperties"])
    for name in shared - {"detectionOverrides"}:  # same meaning, same words
        assert filters["inputProperties"][name]["description"] == rules["inputProperties"][name]["description"], name
    timings = set(exporter["inputProperties"]) & set(rules["inputProperties"])
    assert {"alertWindowMinutes", "deliveryLagToleranceMinutes", "heartbeatMissingMinutes", "exporterDelaySeconds",
            "scrapeIntervalSeconds"} <= timings


def test_readme_documents_the_schema(schema):
    assert schema_tables(schema) in (ROOT / "README.md").read_text(encoding="utf-8")


def test_plugin_entry_point_hosts_the_components():
    plugin = yaml.safe_load((ROOT / "provider" / "PulumiPlugin.yaml").read_text())
    assert plugin["runtime"]["name"] == "python"
    assert "from trailwatch.components.provider import main" in (ROOT / "provider" / "__main__.py").read_text()
    assert callable(main) and COMPONENTS


def resolve(value: Any, scope: dict[str, Any]) -> Any:
    """Pulumi YAML's ``${config}`` and ``${resource.property}`` references (all this example uses)."""
    if isinstance(value, str) and (ref := _REF.match(value)):
        name, prop = ref.groups()
        return scope[name] if prop is None else scope[name][prop]
    if isinstance(value, dict):
        return {k: resolve(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, scope) for v in value]
    return value


def test_yaml_example_runs_through_the_provider_under_mocks(provider, schema):
    program = yaml.safe_load(YAML_EXAMPLE.read_text())
    assert program["runtime"] == "yaml" and program["packages"] == {"trailwatch": "../../provider"}
    scope: dict[str, Any] = {key: spec["default"] for key, spec in program["config"].items()}

    def run() -> None:
        for name, res in program["resources"].items():
            spec = schema["resources"][res["type"]]
            assert set(res["properties"]) <= set(spec["inputProperties"]) and set(spec["requiredInputs"]) <= set(
                res["properties"]), name
            scope[name] = provider.construct(name, res["type"], resolve(res["properties"], scope), None).state
        for key, value in program["outputs"].items():
            pulumi.export(key, resolve(value, scope))

    recording = run_program({}, program=run)
    assert sorted(r.type for r in recording.resources if r.type.startswith("trailwatch:")) == [
        "trailwatch:index:MetricFilterSet", "trailwatch:index:TrailToLogs"]
    filters = recording.of_type(FILTER)
    assert len(filters) == len(recording.resources) - 2  # bring your own trail: nothing else is created
    assert {f.inputs["logGroupName"] for f in filters} == {"/org/cloudtrail"}
    by_id = {f.inputs["name"].removeprefix("platform-security-"): f for f in filters}
    assert {"secret_deletions", "access_denied", "root_usage"} <= set(by_id)
    assert by_id["secret_deletions"].inputs["pattern"].startswith(
        '{ ($.eventSource = "secretsmanager.amazonaws.com")')
    metrics = {m["detection"]: m for m in recording.outputs["metrics"]}
    assert set(metrics) == set(by_id) and metrics["root_usage"]["severity"] == "critical"
    assert recording.outputs["logGroupArn"] == "arn:aws:logs:us-east-1:123456789012:log-group:/org/cloudtrail"


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
