"""The component package for other Pulumi languages (components/provider.py, provider/PulumiPlugin.yaml): the
schema the SDK's analyzer infers from the annotations, the README's tables of it, and the Pulumi YAML example
run through the provider's construct under mocks."""

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

from components import MetricFilterSetArgs, TrailToLogsArgs
from components.provider import COMPONENTS, PACKAGE, main
from trailwatch import __version__
from trailwatch.mockrun import run_program

ROOT = Path(__file__).resolve().parents[2]
YAML_EXAMPLE = ROOT / "examples" / "yaml-byo-log-group" / "Pulumi.yaml"
FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
ARGS = {"TrailToLogs": TrailToLogsArgs, "MetricFilterSet": MetricFilterSetArgs}
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
    assert set(schema["resources"]) == {"trailwatch:index:TrailToLogs", "trailwatch:index:MetricFilterSet"}
    assert schema["name"] == PACKAGE and schema["version"] == __version__
    for token, res in schema["resources"].items():
        fields = dataclasses.fields(ARGS[token.rsplit(":", 1)[-1]])
        assert list(res["inputProperties"]) == [camel(f.name) for f in fields]
        required = [camel(f.name) for f in fields
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        assert res["requiredInputs"] == required == ["logGroupName"]
        assert res["isComponent"] is True and res["description"]
        for spec in [*res["inputProperties"].values(), *res["properties"].values()]:
            assert spec["description"].strip() and "\n" not in spec["description"]
    assert '"secret"' not in json.dumps(schema)  # no secret inputs or outputs in these two components


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


def test_bad_yaml_values_are_the_config_keys_one_line_errors(provider):
    def run() -> None:
        provider.construct("f", "trailwatch:index:MetricFilterSet",
                           {"logGroupName": "/lg", "enableDetections": ["no_such"]}, None)

    with pytest.raises(Exception) as caught:
        run_program({}, program=run)
    text = str(caught.value)
    assert "MetricFilterSet: config 'trailwatch:enableDetections': unknown detection 'no_such'" in text
