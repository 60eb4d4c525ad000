"""Helpers for the policy tests: run the real program (optionally changed) and the pack over it, as plan does.

Violating examples come from the real program with changed stack config, changed component arguments, or a
stack transformation that changes the arguments a component passes to one resource (how a user or a
regression would weaken it), never from hand-built property dicts alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional

import grpc
import pulumi
from pulumi.runtime.proto import analyzer_pb2_grpc

from stacks import make_stack, stack_config
from trailwatch.mockrun import Recording, run_program
from trailwatch.offline_policy import Violation, plan_violations, policy_config_request, requests, to_violations
from trailwatch.policies import POLICIES
from trailwatch.stack import Stack, config_strings, stack_from_config

OIDC_ARN = ("arn:aws:iam::123456789012:oidc-provider/"
            "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE")
SIG = "sigPOLICYtestDoNotLeak42"
WEBHOOK = ("https://prod-00.westeurope.environment.api.powerplatform.com/powerautomate/automations/direct/"
           f"workflows/0123abcd/triggers/manual/paths/invoke?api-version=1&sv=1.0&sig={SIG}")
SECURE = {"secure": "v1:cGxhY2Vob2xkZXI="}

# Compliant baselines (each must pass every policy).
SCENARIOS: dict[str, dict[str, Any]] = {
    "none": {},
    "k8s": dict(runtime="kubernetes", eksOidcProviderArn=OIDC_ARN, teamsWebhookUrl=SECURE),
    "k8s-native": dict(runtime="kubernetes", teamsMode="native", eksOidcProviderArn=OIDC_ARN,
                       teamsWebhookUrl=SECURE),
    "docker": dict(runtime="docker", teamsWebhookUrl=SECURE),
    "docker-key": dict(runtime="docker", exporterAccessKey=True, teamsWebhookUrl=SECURE),
    "cis": dict(cisCompliance=True, securityHubAlarms=True, alarmEmails=["secops@example.com"]),
    "cis-https": dict(cisCompliance=True, securityHubAlarms=True, alarmHttpsEndpoints=[
        "https://alerts.example.com/sns?apikey=0123456789abcdef"]),
    "cis-secret": dict(cisCompliance=True, securityHubAlarms=True, alarmEmails=SECURE, alarmHttpsEndpoints=SECURE),
    "k8s-secret-ips": dict(runtime="kubernetes", eksOidcProviderArn=OIDC_ARN, teamsWebhookUrl=SECURE,
                           enableDetections=["suspicious_source_ips"], suspiciousIps=SECURE),
}

#: A tuned stack's settings beside its exceptions: the window leaves room for the exception guard at the default
#: delivery-lag tolerance.
TUNED: dict[str, Any] = {"alertWindowMinutes": 31}


Transform = Callable[[pulumi.ResourceTransformationArgs], Optional[pulumi.ResourceTransformationResult]]


def program_for(stack: Optional[Stack] = None, transforms: Iterable[Transform] = (),
                extra: Optional[Callable[[Stack, dict], None]] = None) -> Callable[[], None]:
    """The project's program (``build_pipeline`` of ``stack``, default: the stack config's), with stack
    transformations registered first and ``extra(stack, outputs)`` run after the pipeline is built."""
    transforms = list(transforms)

    def program() -> None:
        from components.pipeline import build_pipeline, export_all
        from components.program import load_current_stack

        for transform in transforms:
            pulumi.runtime.register_stack_transformation(transform)
        the_stack = stack or load_current_stack()
        outputs = build_pipeline(the_stack)
        if extra is not None:
            extra(the_stack, outputs)
        export_all(outputs)

    return program


_recordings: dict[str, tuple] = {}


def record(settings: Mapping[str, Any], program: Optional[Callable[[], None]] = None, name: str = "test"
           ) -> tuple[Recording, dict[str, str], tuple[str, ...]]:
    """Run the program; runs of the unchanged program are cached per (config, stack name)."""
    config, secrets = config_strings(stack_config(**settings))
    key = json.dumps([config, secrets, name], sort_keys=True)
    if program is None and key in _recordings:
        return _recordings[key]
    result = run_program(config, secrets, stack=name, program=program), config, secrets
    if program is None:
        _recordings[key] = result
    return result


def check(settings: Mapping[str, Any], program: Optional[Callable[[], None]] = None,
          policy_config: Optional[Mapping[str, Any]] = None, name: str = "test") -> list[Violation]:
    """Every violation plan would report for this stack config (and program)."""
    rec, config, secrets = record(settings, program, name)
    return plan_violations(rec, stack_from_config(name, config, secrets), policy_config)


def stack_with(settings: Mapping[str, Any], **changes: Any) -> Stack:
    """The validated stack for ``settings``, then settings fields replaced without validation (component args)."""
    stack = make_stack(**settings)
    return replace(stack, settings=replace(stack.settings, **changes)) if changes else stack


def names(violations: Iterable[Violation], level: Optional[str] = "mandatory") -> set[str]:
    return {v.policy for v in violations if level is None or v.level == level}


# --- the real pack process -------------------------------------------------------------------------------------

def start_pack(directory: Path, config: dict[str, str]):
    """Start the pack exactly as the Pulumi CLI starts a Python pack (``python -m pulumi.policy <engine> .`` in
    its directory, a clean ``PYTHONPATH``, the stack config in ``PULUMI_CONFIG``); returns (process, channel,
    stub)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PULUMI_CONFIG")}
    env["PULUMI_CONFIG"] = json.dumps(config)
    proc = subprocess.Popen([sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:0", "."], cwd=directory,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    port = proc.stdout.readline().strip()
    if not port.isdigit():
        proc.kill()
        raise AssertionError(f"policy pack did not start: {port!r} {proc.stderr.read()}")
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    return proc, channel, analyzer_pb2_grpc.AnalyzerStub(channel)


def stop_pack(proc, channel) -> None:
    channel.close()
    proc.kill()  # the pack serves until killed, as under the CLI
    proc.wait(timeout=10)
    proc.stdout.close()
    proc.stderr.close()


def process_violations(stub, rec: Recording, stack: str = "test") -> list[Violation]:
    """What a started pack reports for ``rec``: the engine's Analyze and AnalyzeStack calls, as Violations."""
    stub.Configure(policy_config_request(POLICIES))
    resource_requests, stack_request = requests(rec, stack)
    diagnostics = [(d, r.urn) for r in resource_requests for d in stub.Analyze(r).diagnostics]
    diagnostics += [(d, "") for d in stub.AnalyzeStack(stack_request).diagnostics]
    return to_violations(diagnostics, rec, stack)


# --- stack transformations: change what a component passes to one resource -------------------------------

def set_props(type_: str, name_part: str = "", **changes: Any) -> Transform:
    def transform(args: pulumi.ResourceTransformationArgs):
        if args.type_ != type_ or name_part not in args.name:
            return None
        return pulumi.ResourceTransformationResult({**args.props, **changes}, args.opts)
    return transform


def edit_props(type_: str, edit: Callable[[dict], None], name_part: str = "") -> Transform:
    """``edit(props)`` changes the (snake_case, as the component wrote them) props in place."""
    def transform(args: pulumi.ResourceTransformationArgs):
        if args.type_ != type_ or name_part not in args.name:
            return None
        props = dict(args.props)
        edit(props)
        return pulumi.ResourceTransformationResult(props, args.opts)
    return transform


def edit_document(type_: str, key: str, edit: Callable[[dict], None], name_part: str = "") -> Transform:
    """Change a JSON policy document input (an Output of json.dumps) through ``edit(doc)``."""
    def apply(text: str) -> str:
        doc = json.loads(text)
        edit(doc)
        return json.dumps(doc)

    def change(props: dict) -> None:
        props[key] = pulumi.Output.from_input(props[key]).apply(apply)
    return edit_props(type_, change, name_part)


def set_opts(type_: str, name_part: str = "", **changes: Any) -> Transform:
    def transform(args: pulumi.ResourceTransformationArgs):
        if args.type_ != type_ or name_part not in args.name:
            return None
        opts = pulumi.ResourceOptions.merge(args.opts, None)  # a copy
        for key, value in changes.items():
            setattr(opts, key, value)
        return pulumi.ResourceTransformationResult(args.props, opts)
    return transform
