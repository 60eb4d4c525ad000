"""The part of Pulumi YAML the YAML examples use, evaluated over trailwatch's component provider: a YAML program
runs under mocks without the Pulumi CLI, its components built by the provider's ``construct`` as the engine would.

Config (defaults, given values, ``secret: true`` as secrets), variables (values and ``fn::invoke`` of a package's
index function), resources in file order with their properties checked against the package schema as Pulumi YAML
checks them (no unknown property, every required one, no Output where the schema wants a plain value),
``${name}`` and ``${name.property}`` references, outputs. Anything else is an error, never skipped.

Loaded by its file path: by ``run_example.py`` in a consumer's venv (run isolated, ``python -I``), and by the
component tests from the checkout.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import pulumi

_REF = re.compile(r"\$\{([\w-]+)(?:\.(\w+))?\}\Z")


class UnsupportedYaml(ValueError):
    """A construct of Pulumi YAML this evaluator does not implement."""


def invoke_token(function: str) -> str:
    """``aws:getRegion`` as the engine's token, ``aws:index/getRegion:getRegion``."""
    package, name = function.split(":")
    return f"{package}:index/{name}:{name}"


def resolve(value: Any, scope: Mapping[str, Any]) -> Any:
    """``value`` with its references and functions evaluated in ``scope`` (config, variables, resources)."""
    if isinstance(value, str):
        if ref := _REF.match(value):
            name, prop = ref.groups()
            return scope[name] if prop is None else scope[name][prop]
        if "${" in value:
            raise UnsupportedYaml(f"interpolation inside a string: {value!r}")
        return value
    if isinstance(value, dict):
        functions = [key for key in value if key.startswith("fn::")]
        if not functions:
            return {key: resolve(item, scope) for key, item in value.items()}
        if functions != ["fn::invoke"] or len(value) != 1:
            raise UnsupportedYaml(f"function {functions}")
        call = value["fn::invoke"]
        result = pulumi.runtime.invoke(invoke_token(call["function"]), resolve(call.get("arguments", {}), scope))
        return result.value[call["return"]] if "return" in call else result.value
    if isinstance(value, list):
        return [resolve(item, scope) for item in value]
    return value


def check_properties(name: str, properties: Mapping[str, Any], spec: Mapping[str, Any]) -> None:
    """What Pulumi YAML refuses before it constructs ``name``: an unknown or missing property, an Output given
    where the schema wants a plain value."""
    inputs = spec["inputProperties"]
    unknown = sorted(set(properties) - set(inputs))
    missing = sorted(set(spec.get("requiredInputs", [])) - set(properties))
    not_plain = sorted(key for key, value in properties.items()
                       if inputs.get(key, {}).get("plain") and isinstance(value, pulumi.Output))
    if unknown or missing or not_plain:
        raise UnsupportedYaml(f"{name}: unknown {unknown}, missing {missing}, an Output where plain {not_plain}")


def run(program: Mapping[str, Any], provider: Any, schema: Mapping[str, Any], config: Mapping[str, Any]) -> None:
    """Evaluate ``program`` (a parsed Pulumi.yaml) inside a Pulumi program; ``config`` gives its config keys'
    values (a key without a value takes its default; none: KeyError, as the CLI refuses to run)."""
    scope: dict[str, Any] = {}
    for key, spec in program.get("config", {}).items():
        value = config[key] if key in config else spec["default"]
        scope[key] = pulumi.Output.secret(value) if spec.get("secret") else value
    for name, value in program.get("variables", {}).items():
        scope[name] = resolve(value, scope)
    for name, resource in program["resources"].items():
        properties = resolve(resource.get("properties", {}), scope)
        check_properties(name, properties, schema["resources"][resource["type"]])
        scope[name] = provider.construct(name, resource["type"], properties, None).state
    for key, value in program.get("outputs", {}).items():
        pulumi.export(key, resolve(value, scope))
