"""``python -m trailwatch <command>``: the offline tools. Each command lives in its own module.

A command module provides ``add_arguments(parser)`` and ``run(args) -> int``. Bad input from the user ends
in one ``error: ...`` line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .errors import TrailwatchError

COMMANDS = {
    "plan": ("trailwatch.commands.plan", "show what `pulumi preview` would create, offline, and check policies"),
    "replay": ("trailwatch.commands.replay", "replay CloudTrail logs through the stack's metric filters and alert rules"),
    "match": ("trailwatch.commands.match", "evaluate one filter pattern over lines: prints 1 or 0 per line"),
    "render": ("trailwatch.commands.render", "write Prometheus, Alertmanager, Teams and Grafana files for a stack"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m trailwatch", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module).add_arguments(command)
        command.set_defaults(module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return importlib.import_module(args.module).run(args)
    except TrailwatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
