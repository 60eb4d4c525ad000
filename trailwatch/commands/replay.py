"""``replay``: run CloudTrail logs through a stack's metric filters and alert rules, offline.

Reports per detection how many events matched, the per-minute Sum series CloudWatch would record, when
the alert would have fired and resolved (same window and threshold as the rendered rules), and who/what
was behind the matches, so a team sees which detection would be noisy before turning it on. With the stack's
noise exceptions (``trailwatch:exceptions``) it also shows, per detection, the matches each exception covered
and the pages with and without them; ``--suggest-exceptions`` prints, instead of the report, entries for the
principals behind the most pages (:mod:`trailwatch.replay.suggest`).

Inputs are local files and folders or ``s3://bucket/prefix`` URLs; ``--workers`` spreads the work over local
processes, ``--dask`` over an existing Dask cluster (see :mod:`trailwatch.replay.tasks` for how it is cut).

Exit codes: 0 after a replay that read at least one usable record; 1 when nothing usable was read (no
files matched, no records in them, or every record malformed), with one line saying what the input looks
like and no report; 2 for bad options or config, an S3 bucket that cannot be listed, or an unreachable
Dask scheduler.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from datetime import date
from pathlib import Path
from typing import Callable

from ..replay import (FOLDER_SUFFIXES, SKIPPED_FOLDERS, Report, ReplayError, alert_hold_minutes, render_table,
                      replay_paths, stack_detections, suggestions, tunable)
from ..stack import PROJECT_ROOT, load_stack

_ACCOUNT = re.compile(r"\d{12}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class NothingToReplay(ReplayError):
    """The input held no usable record: the replay would report zeros that mean nothing."""

    exit_code = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="CloudTrail files or folders (S3 .json/.json.gz, JSON lines, CloudWatch Logs "
                             "exports; folders are walked recursively; - reads stdin), or s3://BUCKET/PREFIX "
                             "(a trail's bucket: read with your AWS credentials)")
    parser.add_argument("--stack", default="dev", help="stack name: reads Pulumi.<stack>.yaml (default: dev)")
    parser.add_argument("--config-dir", type=Path, default=PROJECT_ROOT,
                        help="folder holding Pulumi.<stack>.yaml (default: project root)")
    parser.add_argument("--format", choices=("table", "json", "html"), default="table",
                        help="table (default) to read, json for tools, html for one self-contained page "
                             "with charts (redirect it to a file)")
    parser.add_argument("--include-disabled", action="store_true",
                        help="also replay the catalog's detections the stack has not enabled")
    parser.add_argument("--detection", action="append", default=[], metavar="ID",
                        help="only this detection (repeatable)")
    parser.add_argument("--record-path", metavar="PATH",
                        help="the member each record is wrapped in, a dotted path such as event or detail.record "
                             "(objects without it are counted malformed, with their position)")
    parser.add_argument("--window", type=int, metavar="MINUTES",
                        help="alert window (default: the stack's alertWindowMinutes)")
    parser.add_argument("--suggest-exceptions", action="store_true",
                        help="print trailwatch:exceptions entries (YAML, to review and paste) for the principals "
                             "behind the most pages per detection, each with the pages it would have removed")
    parser.add_argument("--top", type=int, default=5, metavar="N",
                        help="how many top principals/IPs/event names to show (default: 5)")
    parser.add_argument("--workers", type=int, metavar="N",
                        help=f"local processes to read with (default: every core this process may use, "
                             f"{available_cores()} here); big JSON-lines files are split between them")
    parser.add_argument("--dask", metavar="ADDRESS",
                        help="run on an existing Dask cluster instead, e.g. tcp://scheduler:8786 (its workers "
                             "need trailwatch and access to the inputs: S3, or the same local paths)")
    s3 = parser.add_argument_group("S3 key filters (s3:// input, CloudTrail's AWSLogs/ layout)")
    s3.add_argument("--account", action="append", default=[], metavar="ID", help="only this account (repeatable)")
    s3.add_argument("--region", action="append", default=[], metavar="REGION", help="only this region (repeatable)")
    s3.add_argument("--since", metavar="YYYY-MM-DD", help="only files of this UTC day or later (the day in the key)")
    s3.add_argument("--until", metavar="YYYY-MM-DD", help="only files of this UTC day or earlier (the day in the key)")


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. under taskset or a container's cpuset)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


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
    if args.workers is not None and args.dask:
        raise ReplayError("--workers: not with --dask (the cluster's workers do the work)")
    workers = available_cores() if args.workers is None else args.workers
    if workers < 1:
        raise ReplayError(f"--workers: must be >= 1 (got {workers})")
    if args.suggest_exceptions and args.format != "table":
        raise ReplayError(f"--suggest-exceptions: prints YAML entries, not with --format {args.format}")
    key_filter = _key_filter(args)
    render = (lambda report: suggestions(report, stack)) if args.suggest_exceptions else renderer(args)
    principals = tunable(stack) if args.suggest_exceptions else []
    report = replay_paths(args.paths, detections, window, top=args.top, progress=True,
                          hold_minutes=alert_hold_minutes(stack), workers=workers, dask=args.dask,
                          key_filter=key_filter, exceptions=stack.exceptions, principals=principals,
                          record_path=args.record_path)
    if not report.files:
        raise NothingToReplay(
            f"nothing to replay: no CloudTrail files under {', '.join(args.paths)} (folders are searched for "
            f"{', '.join(FOLDER_SUFFIXES)} files; hidden entries and {', '.join(SKIPPED_FOLDERS)} folders are skipped"
            f"{'; S3 keys were selected by --account, --region, --since and --until' if key_filter else ''})")
    if not report.events:
        raise NothingToReplay(nothing_usable(report.files, report.malformed, report.malformed_samples))
    sys.stdout.write(render(report) + "\n")
    return 0


def renderer(args: argparse.Namespace) -> Callable[[Report], str]:
    """How the report is printed. html imports matplotlib, which only this format needs, and does so before
    the replay, so an install without it (no ``replay`` extra) is told at once, not after reading the logs."""
    if args.format != "html":
        return Report.to_json if args.format == "json" else render_table
    try:
        from ..replay import render_html
    except ImportError:
        raise ReplayError("--format html needs matplotlib: pip install 'pulumi-trailwatch[replay]'") from None
    return lambda report: render_html(report, sources=args.paths, stack=args.stack)


def _key_filter(args: argparse.Namespace):
    """The S3 key filter of the options (checked: account ids, region names, days), or None."""
    if not (args.account or args.region or args.since or args.until):
        return None
    from ..replay import KeyFilter  # botocore is imported only when S3 is used

    for value in args.account:
        if not _ACCOUNT.fullmatch(value):
            raise ReplayError(f"--account {value}: not an AWS account id (12 digits)")
    for value in args.region:
        if not _REGION.fullmatch(value):
            raise ReplayError(f"--region {value}: not an AWS region name (like us-east-1)")
    since, until = _day("--since", args.since), _day("--until", args.until)
    if since and until and since > until:
        raise ReplayError(f"--since {since} is after --until {until}")
    return KeyFilter(frozenset(args.account), frozenset(args.region), since, until)


def _day(option: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        if _DAY.fullmatch(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise ReplayError(f"{option} {value}: not a day (YYYY-MM-DD)")


def nothing_usable(files: int, malformed: int, samples: list[str]) -> str:
    """One line on why a replay read no usable record."""
    read = f"{files} file{'s' if files != 1 else ''} read"
    if not malformed:
        return f"nothing to replay: {read}, no records in {'them' if files != 1 else 'it'} (empty or blank)"
    return f"nothing to replay: {read}, no usable record, {malformed} malformed; the first: {samples[0]}"
