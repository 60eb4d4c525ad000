"""Run the policy pack over a mock-run Recording exactly the way the Pulumi engine hands resources to it.

No CLI, no credentials. For every recorded registration this builds the engine's gRPC request
(``AnalyzeRequest`` / ``AnalyzeStackRequest``: inputs marshalled with secrets kept as secret objects and
unknowns as the engine's sentinels, internal ``__`` keys dropped, options, parent, dependencies, property
dependencies) and calls pulumi_policy's own analyzer servicer, the code a policy pack runs inside
``pulumi preview``. So the policies see what they see under the engine: camelCase inputs, numbers as floats,
secrets unwrapped, unknowns raising ``UnknownValueError`` (reported as an advisory "can't run during preview"
diagnostic, as the engine shows it), through pulumi_policy's ``ResourceValidationArgs`` / ``StackValidationArgs``.

Like the engine, the runner gives the pack the stack's configuration (all keys; secrets decrypted - offline,
secure values are plan's placeholder) through pulumi's runtime config, without secret flags.

Differences from a real ``pulumi preview`` (documented, deliberate):

* resource policies see the inputs the program registered; the engine passes provider-*checked* inputs, which
  may add provider defaults. Policies treat a missing property as the provider default.
* stack policies see the inputs as each resource's state (what the engine has for a resource being created
  during preview); after ``pulumi up`` they see provider outputs.
* the mocks do not register default providers, so ``args.provider`` is None (no policy here reads it).

Plan-only checks: :func:`secret_leaks` reports a secret config value in plain text in any recorded input or
output (``secret-config-stays-secret``), :mod:`trailwatch.plan_checks` the stack config itself, and
:func:`config_violations` reports a webhook URL in *plaintext* stack config as
``webhook-url-is-secret-config``. A policy pack cannot see that (it receives config decrypted, without secret
flags); ``pulumi preview`` refuses such a stack itself because Pulumi.yaml declares the key ``secret: true``.
"""

from __future__ import annotations

import json
from typing import Any, Iterable, Mapping, Optional, Sequence

import pulumi.runtime
from google.protobuf import json_format, struct_pb2
from pulumi.output import Unknown
from pulumi.runtime import rpc
from pulumi.runtime.proto import analyzer_pb2 as proto
from pulumi_policy import EnforcementLevel, Policy
from pulumi_policy.policy import _PolicyAnalyzerServicer

from .contract import PROJECT
from .errors import ConfigError
from .mockrun import Recording, Registration
from .plan_checks import level_and_properties, split_policy_config, stack_config_violations
from .policies import PACK_NAME, PACK_VERSION, POLICIES
from .policies import contains_webhook
from .settings import declared, qualified
from .stack import Stack
from .violations import Violation

STACK_TYPE = "pulumi:pulumi:Stack"
CONFIG_TYPE = "pulumi:config"
LEVELS = {proto.ADVISORY: "advisory", proto.MANDATORY: "mandatory", proto.REMEDIATE: "remediate",
          proto.DISABLED: "disabled"}
_LEVEL_NAMES = {"advisory": proto.ADVISORY, "mandatory": proto.MANDATORY, "remediate": proto.REMEDIATE,
                "disabled": proto.DISABLED}
_RPC_SECRET = rpc._special_sig_key, rpc._special_secret_sig


def stack_urn(stack: str, project: str = PROJECT) -> str:
    return f"urn:pulumi:{stack}::{project}::{STACK_TYPE}::{project}-{stack}"


# --- marshalling, as the engine does (MarshalProperties with KeepSecrets, KeepUnknowns, SkipInternalKeys) ------

def _wire(value: Any) -> Any:
    """A recorded (deserialized) value back in wire form: secrets as secret objects, unknowns as sentinels."""
    if rpc.is_rpc_secret(value):
        return {_RPC_SECRET[0]: _RPC_SECRET[1], "value": _wire(value["value"])}
    if isinstance(value, Unknown):  # the mock monitor's form of a computed value; the engine sends the sentinel
        return rpc.UNKNOWN
    if isinstance(value, Mapping):
        return {str(k): _wire(v) for k, v in value.items() if not str(k).startswith("__")}
    if isinstance(value, (list, tuple)):
        return [_wire(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    return str(value)


def properties(values: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(_wire(dict(values)))
    return struct


def _options(reg: Registration) -> proto.AnalyzerResourceOptions:
    return proto.AnalyzerResourceOptions(
        protect=reg.protect, ignoreChanges=list(reg.ignore_changes),
        additionalSecretOutputs=list(dict.fromkeys(reg.additional_secret_outputs)), parent=reg.parent or "")


def _provider(reg: Registration, by_urn: Mapping[str, Registration]) -> Optional[proto.AnalyzerProviderResource]:
    urn = reg.provider.split("::")[0:-1]
    provider = by_urn.get("::".join(urn)) if urn else None
    if provider is None:
        return None
    return proto.AnalyzerProviderResource(type=provider.type, properties=properties(provider.inputs),
                                          urn=provider.urn, name=provider.name)


# --- policy config, as `pulumi preview --policy-pack-config` / the pack's schema defaults --------------------

def policy_config_request(policies: Sequence[Policy], overrides: Mapping[str, Any] | None = None
                          ) -> proto.ConfigureAnalyzerRequest:
    """Each policy's enforcement level and properties: schema defaults, then ``overrides``.

    ``overrides`` has the format of ``pulumi preview --policy-pack-config FILE``:
    ``{"<policy>": "mandatory" | {"enforcementLevel": ..., "<property>": value}}``.
    """
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - {p.name for p in policies} - {"all"})
    if unknown:
        raise ConfigError(f"policy config: unknown policy {unknown[0]!r} (known: "
                          f"{', '.join(sorted(p.name for p in policies))})")
    request = proto.ConfigureAnalyzerRequest()
    everything = overrides.get("all")
    for policy in policies:
        level = (policy.enforcement_level or EnforcementLevel.ADVISORY).value
        props = {k: v["default"] for k, v in (policy.config_schema.properties.items() if policy.config_schema
                                              else ()) if "default" in v}
        for override in (everything, overrides.get(policy.name)):
            if isinstance(override, str):
                level = override
            elif isinstance(override, Mapping):
                level = override.get("enforcementLevel", level)
                props.update({k: v for k, v in override.items() if k != "enforcementLevel"})
        if level not in _LEVEL_NAMES:
            raise ConfigError(f"policy config '{policy.name}': enforcementLevel must be one of "
                              f"{', '.join(_LEVEL_NAMES)} (got {level!r})")
        config = proto.PolicyConfig(enforcementLevel=_LEVEL_NAMES[level])
        config.properties.update(_wire(props))
        request.policyConfig[policy.name].CopyFrom(config)
    return request


# --- running -------------------------------------------------------------------------------------------------

def requests(recording: Recording, stack: str, project: str = PROJECT
             ) -> tuple[list[proto.AnalyzeRequest], proto.AnalyzeStackRequest]:
    """The engine's requests for ``recording``: one ``AnalyzeRequest`` per registration (its inputs), and one
    ``AnalyzeStackRequest`` with every resource (inputs as preview state) plus the root stack and its outputs."""
    by_urn = {r.urn: r for r in recording.resources}
    root = stack_urn(stack, project)
    resource_requests = []
    for reg in recording.resources:
        request = proto.AnalyzeRequest(type=reg.type, properties=properties(reg.inputs), urn=reg.urn, name=reg.name,
                                       options=_options(reg))
        provider = _provider(reg, by_urn) if reg.provider else None
        if provider is not None:
            request.provider.CopyFrom(provider)
        resource_requests.append(request)

    stack_request = proto.AnalyzeStackRequest()
    stack_request.resources.append(proto.AnalyzerResource(
        type=STACK_TYPE, properties=properties(recording.outputs), urn=root, name=f"{project}-{stack}",
        options=proto.AnalyzerResourceOptions()))
    for reg in recording.resources:
        resource = proto.AnalyzerResource(
            type=reg.type, properties=properties(reg.inputs), urn=reg.urn, name=reg.name, options=_options(reg),
            parent=reg.parent or root, dependencies=list(reg.depends_on))
        for key, urns in reg.property_dependencies.items():
            if urns:
                resource.propertyDependencies[key].urns.extend(urns)
        provider = _provider(reg, by_urn) if reg.provider else None
        if provider is not None:
            resource.provider.CopyFrom(provider)
        stack_request.resources.append(resource)
    return resource_requests, stack_request


def engine_config(config: Mapping[str, str]) -> dict[str, str]:
    """The stack config as the engine gives it to a policy pack (PULUMI_CONFIG): every key, no secret flags."""
    return {str(k): str(v) for k, v in config.items()}


def to_violations(diagnostics: Iterable[Any], recording: Recording, stack: str, project: str = PROJECT
                  ) -> list[Violation]:
    """``(AnalyzeDiagnostic, urn of the analyzed resource)`` pairs as Violations (type/name from the URN)."""
    root = stack_urn(stack, project)
    names = {r.urn: (r.type, r.name) for r in recording.resources}
    names[root] = (STACK_TYPE, f"{project}-{stack}")
    out = []
    for diag, urn in diagnostics:
        urn = diag.urn or urn or root
        rtype, name = names.get(urn, names[root])
        message = diag.message
        if diag.description and message.startswith(diag.description):
            message = message[len(diag.description):].lstrip("\n") or diag.description
        out.append(Violation(diag.policyName, LEVELS.get(diag.enforcementLevel, "advisory"), rtype, name,
                             message, urn))
    return out


def analyze(recording: Recording, config: Mapping[str, str], stack: str, project: str = PROJECT,
            policies: Sequence[Policy] | None = None, policy_config: Mapping[str, Any] | None = None
            ) -> list[Violation]:
    """Run the pack's resource and stack policies over ``recording``; return every diagnostic as a Violation.

    Uses pulumi_policy's analyzer servicer (what ``PolicyPack`` serves to the engine) in-process: Configure,
    then Analyze per resource, then AnalyzeStack, exactly the calls the engine makes during a preview.
    """
    policies = list(POLICIES if policies is None else policies)
    servicer = _PolicyAnalyzerServicer(PACK_NAME, PACK_VERSION, policies, EnforcementLevel.ADVISORY)
    servicer.Configure(policy_config_request(policies, policy_config), None)
    pulumi.runtime.set_all_config(engine_config(config), [])
    resource_requests, stack_request = requests(recording, stack, project)
    diagnostics: list[Any] = []
    for request in resource_requests:
        diagnostics += [(d, request.urn) for d in servicer.Analyze(request, None).diagnostics]
    diagnostics += [(d, "") for d in servicer.AnalyzeStack(stack_request, None).diagnostics]
    return to_violations(diagnostics, recording, stack, project)


def config_violations(config: Mapping[str, str], secret_keys: Iterable[str]) -> list[Violation]:
    """Plan-only: a webhook URL (or a key declared secret) in plaintext stack config.

    ``pulumi preview`` rejects a plaintext value for a key Pulumi.yaml declares ``secret: true`` before the
    program runs; a webhook URL in any *other* plaintext key is caught nowhere else, so it is reported too.
    """
    secret_keys = set(secret_keys)
    declared_secret = {qualified(f.metadata["key"]) for f in declared() if f.metadata["secret"]}
    out = []
    for key in sorted(config):
        if key in secret_keys:
            continue
        value = str(config[key])
        if key in declared_secret and value:
            why = "is declared secret in Pulumi.yaml"
        elif contains_webhook(value):
            why = "holds a Teams/Power Automate webhook URL"
        else:
            continue
        out.append(Violation(
            "webhook-url-is-secret-config", "mandatory", CONFIG_TYPE, key,
            f"config '{key}' {why} but is stored in plain text in the stack file (value not shown): set it with "
            f"`pulumi config set --secret {key} <url>`. `pulumi preview` rejects a plaintext value for a "
            f"secret-declared key before any policy runs."))
    return out


MIN_SECRET_LENGTH = 8


def _secret_needles(config: Mapping[str, str], secret_keys: Iterable[str]) -> dict[str, str]:
    """needle -> key: each secret config value's strings (JSON array/object values taken apart)."""
    needles: dict[str, str] = {}
    for key in secret_keys:
        text = str(config.get(key, ""))
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text
        for leaf in _strings(parsed):
            if len(leaf) >= MIN_SECRET_LENGTH:
                needles.setdefault(leaf, key)
    return needles


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _plaintext(value: Any, needles: Mapping[str, str], path: str) -> list[tuple[str, str]]:
    """``(path, key)`` of every plain (not secret-wrapped) string in ``value`` that holds a secret needle."""
    if rpc.is_rpc_secret(value):
        return []
    if isinstance(value, str):
        return [(path or ".", key) for needle, key in needles.items() if needle in value][:1]
    if isinstance(value, Mapping):
        return [hit for k, v in value.items() for hit in _plaintext(v, needles, f"{path}.{k}" if path else str(k))]
    if isinstance(value, (list, tuple)):
        return [hit for i, v in enumerate(value) for hit in _plaintext(v, needles, f"{path}[{i}]")]
    return []


def secret_leaks(recording: Recording, config: Mapping[str, str], secret_keys: Iterable[str], stack: str,
                 level: str = "mandatory", project: str = PROJECT) -> list[Violation]:
    """Plan-only: every resource input and stack output holding a secret config value in plain text.

    The program recorded secrets wrapped; a config value set with ``--secret`` that shows up unwrapped has lost
    its secrecy on the way (it would be stored in plain text in the state). A pack cannot see this (it gets
    secrets unwrapped). Offline the values are plan's per-key placeholders, so the check still traces them.
    """
    needles = _secret_needles(config, secret_keys)
    if level == "disabled" or not needles:
        return []
    out = []
    places = [(r.type, r.name, r.urn, r.inputs) for r in recording.resources]
    places.append((STACK_TYPE, f"{project}-{stack}", stack_urn(stack, project), recording.outputs))
    for rtype, name, urn, values in places:
        for path, key in _plaintext(values, needles, ""):
            what = "stack output" if rtype == STACK_TYPE else "input"
            out.append(Violation(
                "secret-config-stays-secret", level, rtype, name,
                f"{what} {path} holds the value of config '{key}', which is secret, in plain text (value not "
                f"shown); allowed: only as a secret (pulumi.Output.secret, additional_secret_outputs).", urn))
    return out


def plan_violations(recording: Recording, stack: Stack, policy_config: Mapping[str, Any] | None = None
                    ) -> list[Violation]:
    """Everything ``plan`` reports: the pack over the recording, and the plan-only checks.

    ``policy_config`` is one ``--policy-config`` document; entries naming plan-only checks configure those.
    """
    pack_config, plan_config = split_policy_config(policy_config)
    found = analyze(recording, stack.config, stack.name, policy_config=pack_config)
    found += config_violations(stack.config, stack.secret_keys)
    found += stack_config_violations(stack, plan_config)
    level, _ = level_and_properties("secret-config-stays-secret", {}, plan_config)
    return found + secret_leaks(recording, stack.config, stack.secret_keys, stack.name, level)


def load_policy_config(text: str, source: str = "policy config") -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{source}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: must be a JSON object keyed by policy name")
    return data
