"""``plan``: run the Pulumi program under mocks with a stack's config and show what it would create.

No CLI, no credentials: the program runs against the SDK's mock engine, the same harness the tests use.
Secure config values cannot be decrypted offline; they are replaced by a placeholder and shown as [secret].
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
    parser.add_argument("--format", choices=("table", "json"), default="table")


def redact(value: Any) -> Any:
    """Replace every secret with "[secret]" and every unknown with "[unknown]", recursively."""
    from pulumi.runtime import rpc

    if rpc.is_rpc_secret(value):
        return SECRET
    if value is rpc.UNKNOWN or (isinstance(value, str) and value == rpc.UNKNOWN):
        return UNKNOWN
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value


def plan_document(stack_name: str, config_dir: Path = PROJECT_ROOT) -> dict[str, Any]:
    stack = load_stack(stack_name, config_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from ..mockrun import run_program

        recording = run_program(stack.config, stack.secret_keys, stack=stack.name)
    names = {r.urn: f"{r.type}::{r.name}" for r in recording.resources}
    return {
        "stack": stack.name,
        "resources": [
            {"type": r.type, "name": r.name, "parent": names.get(r.parent, ""), "inputs": redact(r.inputs)}
            for r in recording.resources
        ],
        "outputs": redact(recording.outputs),
    }


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
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    doc = plan_document(args.stack, args.config_dir)
    print(json.dumps(doc, indent=2, sort_keys=False) if args.format == "json" else render_table(doc))
    return 0
