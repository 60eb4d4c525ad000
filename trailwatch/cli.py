"""``trailwatch <command>`` (the console script; ``python -m trailwatch`` runs the same): the offline tools. Each
command lives in its own module.

A command module provides ``add_arguments(parser)`` and ``run(args) -> int``. Bad input from the user ends
in one ``error: ...`` line on stderr (one per error when a stack file has several) and exit code 2, never a
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .adapter import Parser, without_urls
from .errors import TrailwatchError

DESCRIPTION = "Trailwatch offline tools: preview a stack, render its files, and test filter patterns on your logs."
EPILOG = ("Run `{prog} COMMAND --help` for a command's options. Exit codes: 0 success, 1 policy violations (plan) "
          "or nothing usable read (replay), 2 bad input.")
VALUE_OPTIONS = ("--pattern", "-p")  # their value may start with '-' (a pattern such as -ERROR)

COMMANDS = {
    "plan": ("trailwatch.commands.plan", "show what `pulumi preview` would create, offline, and check policies"),
    "replay": ("trailwatch.commands.replay", "replay CloudTrail logs through the stack's metric filters and alert rules"),
    "match": ("trailwatch.commands.match", "test one filter pattern on log events: prints 1 or 0 per event"),
    "render": ("trailwatch.commands.render", "write Prometheus, Alertmanager, Teams and Grafana files for a stack"),
    "demo": ("trailwatch.commands.demo", "run the alert path locally on a CloudTrail sample and print its Teams cards"),
}


def build_parser(prog: str = "trailwatch", only: str | None = None) -> argparse.ArgumentParser:
    """``prog`` is how the user ran it, for usage lines: the console script, or ``python -m trailwatch``.
    ``only``: the one command whose options are added (its module imported); the others are listed without
    theirs, so that a command does not pay for importing every other one (the demo's local runner and the HTTP
    client it brings)."""
    parser = Parser(prog=prog, description=DESCRIPTION, epilog=EPILOG.format(prog=prog))
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    for name, (module, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        if only is None or name == only:
            importlib.import_module(module).add_arguments(command)
        command.set_defaults(module=module)
    return parser


def command_of(argv: list[str]) -> str | None:
    """The command ``argv`` names (its first argument, the top-level parser having no options but --help), if it
    is one."""
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    return first if first in COMMANDS else None


def join_option_values(argv: list[str]) -> list[str]:
    """``--pattern -ERROR`` as ``--pattern=-ERROR``: argparse would take a value starting with '-' for an
    option (its documented workaround is the ``=`` form, which this applies); nothing after ``--`` changes."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return out + argv[i:]
        if arg in VALUE_OPTIONS and i + 1 < len(argv) and argv[i + 1].startswith("-"):
            out.append(f"{arg}={argv[i + 1]}" if arg.startswith("--") else f"{arg}{argv[i + 1]}")
            i += 2
            continue
        out.append(arg)
        i += 1
    return out


def main(argv: list[str] | None = None, prog: str = "trailwatch") -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(prog, command_of(argv)).parse_args(join_option_values(argv))
    try:
        return importlib.import_module(args.module).run(args)
    except TrailwatchError as exc:
        for line in str(exc).splitlines() or [type(exc).__name__]:  # several config errors: one line each
            print(f"error: {without_urls(line)}", file=sys.stderr)
        return getattr(exc, "exit_code", 2)
    except BrokenPipeError:
        return 0
