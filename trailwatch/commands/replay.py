"""``replay``: run CloudTrail logs through a stack's metric filters and alert rules, offline.

Reports per detection how many events matched, the per-minute Sum series CloudWatch would record, when
the alert would have fired and resolved (same window and threshold as the rendered rules), and who/what
was behind the matches, so a team sees which detection would be noisy before turning it on.

Exit codes: 0 after a replay that read at least one usable record; 1 when nothing usable was read (no
files matched, no records in them, or every record malformed), with one line saying what the input looks
like and no report; 2 for bad options or config.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..replay import alert_hold_minutes, render_table, replay_paths, stack_detections
from ..replay.readers import FOLDER_SUFFIXES, SKIPPED_FOLDERS, ReplayError, walk
from ..stack import PROJECT_ROOT, load_stack


class NothingToReplay(ReplayError):
    """The input held no usable record: the replay would report zeros that mean nothing."""

    exit_code = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="CloudTrail files or folders (S3 .json/.json.gz, JSON lines, CloudWatch Logs "
                             "exports; folders are walked recursively; - reads stdin)")
    parser.add_argument("--stack", default="dev", help="stack name: reads Pulumi.<stack>.yaml (default: dev)")
    parser.add_argument("--config-dir", type=Path, default=PROJECT_ROOT,
                        help="folder holding Pulumi.<stack>.yaml (default: project root)")
    parser.add_argument("--format", choices=("table", "json"), default="table",
                        help="table (default) to read, json for tools")
    parser.add_argument("--include-disabled", action="store_true",
                        help="also replay the catalog's detections the stack has not enabled")
    parser.add_argument("--detection", action="append", default=[], metavar="ID",
                        help="only this detection (repeatable)")
    parser.add_argument("--window", type=int, metavar="MINUTES",
                        help="alert window (default: the stack's alertWindowMinutes)")
    parser.add_argument("--top", type=int, default=5, metavar="N",
                        help="how many top principals/IPs/event names to show (default: 5)")


def run(args: argparse.Namespace) -> int:
    stack = load_stack(args.stack, args.config_dir)
    detections = stack_detections(stack, include_disabled=args.include_disabled or bool(args.detection))
    if args.detection:
        known = {d.id for d in detections}
        for ident in args.detection:
            if ident not in known:
                raise ReplayError(f"--detection {ident}: unknown detection (known: {', '.join(sorted(known))})")
        detections = [d for d in detections if d.id in set(args.detection)]
    window = stack.settings.alert_window_minutes if args.window is None else args.window
    if window < 1:
        raise ReplayError(f"--window: must be >= 1 minute (got {window})")
    if args.top < 0:
        raise ReplayError(f"--top: must be >= 0 (got {args.top})")
    files = list(walk(args.paths))
    if not files:
        raise NothingToReplay(
            f"nothing to replay: no CloudTrail files under {', '.join(args.paths)} (folders are searched for "
            f"{', '.join(FOLDER_SUFFIXES)} files; hidden entries and {', '.join(SKIPPED_FOLDERS)} folders are skipped)")
    report = replay_paths(files, detections, window, top=args.top, progress=True,
                          hold_minutes=alert_hold_minutes(stack))
    if not report.events:
        raise NothingToReplay(nothing_usable(len(files), report.malformed, report.malformed_samples))
    out = report.to_json() if args.format == "json" else render_table(report)
    sys.stdout.write(out + "\n")
    return 0


def nothing_usable(files: int, malformed: int, samples: list[str]) -> str:
    """One line on why a replay read no usable record."""
    read = f"{files} file{'s' if files != 1 else ''} read"
    if not malformed:
        return f"nothing to replay: {read}, no records in {'them' if files != 1 else 'it'} (empty or blank)"
    return f"nothing to replay: {read}, no usable record, {malformed} malformed; the first: {samples[0]}"
