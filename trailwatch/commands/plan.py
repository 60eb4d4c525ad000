"""``plan``: run the Pulumi program under mocks with a stack's config, show what it would create, check policies.

No CLI, no credentials: the program runs against the SDK's mock engine, the same harness the tests use.
Secure config values cannot be decrypted offline; they are replaced by a placeholder and shown as [secret].

Then the policy pack (``policy/``, policies in ``trailwatch.policies``) runs over the recorded resources the
way the engine hands them to a pack during ``pulumi preview`` (see ``trailwatch.offline_policy``), plus the
plan-only checks a pack cannot make: secret config stored in plain text, secret config that lost its secrecy in
a resource or output, and the stack config itself (``trailwatch.plan_checks``). Violations are printed after the tree (table)
or under ``"policy"`` (JSON); any mandatory violation makes the exit code 1. Config errors stay exit 2.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path
from typing import Any

from ..stack import PROJECT_ROOT, load_stack

SECRET = "[secret]"
UNKNOWN = "[unknown]"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", default="dev", help="stack name: reads Pulumi.<stack>.yaml (default: dev)")
    parser.add_argument("--config-dir", type=Path, default=PROJECT_ROOT,
                        help="folder holding Pulumi.<stack>.yaml, like Pulumi's stackConfigDir (default: project root)")
    parser.add_argument("--format", choices=("table", "json"), default="table",
                        help="table (default) to read, json for tools")
    parser.add_argument("--policy-config", type=Path, default=None, metavar="FILE",
                        help="policy pack config, the same JSON file `pulumi preview --policy-pack-config` takes "
                             "(enforcement levels and properties per policy)")


def redact(value: Any) -> Any:
    """Replace every secret with "[secret]" and every unknown with "[unknown]", recursively; whole floats
    become integers (the engine hands every number over as a float: 90.0 is the 90 the program wrote)."""
    from pulumi.output import Unknown
    from pulumi.runtime import rpc

    if rpc.is_rpc_secret(value):
        return SECRET
    if isinstance(value, Unknown) or value is rpc.UNKNOWN or (isinstance(value, str) and value == rpc.UNKNOWN):
        return UNKNOWN  # the mock monitor records a computed value as pulumi.output.Unknown
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if type(value) is float and value.is_integer():
        return int(value)
    return value


def _level_order(violation: dict[str, str]) -> tuple:
    return (violation["level"] != "mandatory", violation["policy"], violation["type"], violation["name"],
            violation["message"])


def plan_document(stack_name: str, config_dir: Path = PROJECT_ROOT, policies: bool = True,
                  policy_config: dict[str, Any] | None = None) -> dict[str, Any]:
    stack = load_stack(stack_name, config_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from ..mockrun import run_program

        recording = run_program(stack.config, stack.secret_keys, stack=stack.name)
    names = {r.urn: f"{r.type}::{r.name}" for r in recording.resources}
    doc: dict[str, Any] = {
        "stack": stack.name,
        "resources": [
            {"type": r.type, "name": r.name, "parent": names.get(r.parent, ""), "inputs": redact(r.inputs)}
            for r in recording.resources
        ],
        "outputs": redact(recording.outputs),
    }
    if policies:
        from ..offline_policy import plan_violations

        found = plan_violations(recording, stack, policy_config)
        doc["policy"] = {"violations": sorted((v.as_dict() for v in found), key=_level_order)}
    return doc


def mandatory_violations(doc: dict[str, Any]) -> list[dict[str, str]]:
    return [v for v in doc.get("policy", {}).get("violations", []) if v["level"] == "mandatory"]


def render_table(doc: dict[str, Any]) -> str:
    children: dict[str, list[dict]] = {}
    for res in doc["resources"]:
        children.setdefault(res["parent"], []).append(res)
    lines = [f"Stack {doc['stack']}: {len(doc['resources'])} resources", ""]

    def walk(parent: str, depth: int) -> None:
        for res in sorted(children.get(parent, []), key=lambda r: (r["type"], r["name"])):
            lines.append(f"{'  ' * depth}+ {res['type']}  {res['name']}")
            walk(f"{res['type']}::{res['name']}", depth + 1)

    walk("", 0)
    lines += ["", "Outputs:"]
    for key, value in sorted(doc["outputs"].items()):
        shown = value if isinstance(value, str) else json.dumps(value)
        lines.append(f"  {key}: {shown if len(shown) <= 100 else shown[:97] + '...'}")
    if "policy" in doc:
        violations = doc["policy"]["violations"]
        mandatory = len(mandatory_violations(doc))
        lines += ["", f"Policy violations: {len(violations)} ({mandatory} mandatory)" if violations
                  else "Policy violations: none"]
        for v in violations:
            lines.append(f"  [{v['level']}] {v['policy']}  {v['type']}  {v['name']}")
            lines.append(f"      {v['message']}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    policy_config = None
    if args.policy_config is not None:
        from ..errors import ConfigError
        from ..offline_policy import load_policy_config

        try:
            text = args.policy_config.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{args.policy_config}: cannot read ({exc.strerror})") from None
        policy_config = load_policy_config(text, str(args.policy_config))
    doc = plan_document(args.stack, args.config_dir, policy_config=policy_config)
    print(json.dumps(doc, indent=2, sort_keys=False) if args.format == "json" else render_table(doc))
    return 1 if mandatory_violations(doc) else 0
