"""``render``: write the exporter config, rules, rule tests, Alertmanager, Teams and Grafana files for a stack.

For users who already run Prometheus, Alertmanager and Grafana: the files drop into those, and INDEX.md says
where each one goes. The folder is replaced as a whole and atomically (see ``trailwatch.render.output``): a
folder holding files an earlier render did not write is refused, never emptied.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..contract import ADAPTER_MODE, TEAMS_MODES
from ..render import DEFAULT_ADAPTER_URL, RenderError, check_mode, check_out, render_all, write_render
from ..stack import PROJECT_ROOT, load_stack


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", default="dev", help="stack name: reads Pulumi.<stack>.yaml (default: dev)")
    parser.add_argument("--out", type=Path, help="folder to write into (created if missing, replaced if it holds an "
                                                 "earlier render); required")
    parser.add_argument("--mode", help=f"Teams path: {' or '.join(TEAMS_MODES)} (default: the stack's teamsMode)")
    parser.add_argument("--config-dir", type=Path, default=PROJECT_ROOT,
                        help="folder holding Pulumi.<stack>.yaml (default: project root)")
    parser.add_argument("--account-id", help="AWS account id to show on alerts and Teams cards (12 digits)")
    parser.add_argument("--adapter-url",
                        help=f"adapter mode: URL Alertmanager posts to (default: {DEFAULT_ADAPTER_URL})")
    parser.add_argument("--exporter-target", help="host:port of the exporter for the scrape config")


def run(args: argparse.Namespace) -> int:
    if args.out is None:
        raise RenderError("--out: required (the folder to write the rendered files into)")
    check_out(args.out)  # refuse a folder of other files before any work
    stack = load_stack(args.stack, args.config_dir)
    mode = check_mode(args.mode, stack)
    if args.adapter_url is not None and mode != ADAPTER_MODE:
        raise RenderError(f"--adapter-url: only used in adapter mode (this render is {mode} mode)")
    options = {"account_id": args.account_id, "adapter_url": args.adapter_url}
    if args.exporter_target is not None:
        options["exporter_target"] = args.exporter_target
    files = render_all(stack, mode, **options)
    write_render(args.out, files)
    print(f"Rendered {len(files)} files for stack {stack.name} ({mode} mode) into {args.out}; see "
          f"{args.out / 'INDEX.md'}")
    return 0
