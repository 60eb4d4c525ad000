"""``render``: write the exporter config, rules, rule tests, Alertmanager, Teams and Grafana files for a stack.

For users who already run Prometheus, Alertmanager and Grafana: the files drop into those, and INDEX.md says
where each one goes. Existing files with the same names are replaced; nothing else in the folder is touched.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..render.common import MODES, RenderError, check_mode
from ..render.files import render_all
from ..stack import PROJECT_ROOT, load_stack


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", default="dev", help="stack name: reads Pulumi.<stack>.yaml (default: dev)")
    parser.add_argument("--out", type=Path, help="folder to write into (created if missing); required")
    parser.add_argument("--mode", help=f"Teams path: {' or '.join(MODES)} (default: the stack's teamsMode)")
    parser.add_argument("--config-dir", type=Path, default=PROJECT_ROOT,
                        help="folder holding Pulumi.<stack>.yaml (default: project root)")
    parser.add_argument("--account-id", help="AWS account id to show on alerts and Teams cards (12 digits)")
    parser.add_argument("--adapter-url", help="adapter mode: URL Alertmanager posts to "
                                              "(default: http://trailwatch-adapter:8080/alerts)")
    parser.add_argument("--exporter-target", help="host:port of the exporter for the scrape config")


def write_files(out: Path, files: dict[str, str]) -> None:
    if out.exists() and not out.is_dir():
        raise RenderError(f"--out: {out} exists and is not a folder")
    for relative, text in files.items():
        path = out / relative
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise RenderError(f"--out: cannot write {path} ({exc.strerror})") from None


def run(args: argparse.Namespace) -> int:
    if args.out is None:
        raise RenderError("--out: required (the folder to write the rendered files into)")
    stack = load_stack(args.stack, args.config_dir)
    mode = check_mode(args.mode, stack)
    options = {"account_id": args.account_id, "adapter_url": args.adapter_url}
    if args.exporter_target:
        options["exporter_target"] = args.exporter_target
    files = render_all(stack, mode, **options)
    write_files(args.out, files)
    print(f"Rendered {len(files)} files for stack {stack.name} ({mode} mode) into {args.out}; see "
          f"{args.out / 'INDEX.md'}")
    return 0
