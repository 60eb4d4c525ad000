"""``match``: evaluate one CloudWatch Logs filter pattern over lines, printing 1 or 0 per line.

Each input line is one log event: JSON patterns parse it as JSON (a line that is not a JSON object
never matches), other patterns see the raw text, as CloudWatch Logs does. The trailing newline (and a
carriage return before it) is not part of the event. Reads FILE (gzip allowed) or standard input.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import zlib
from typing import BinaryIO

from ..errors import PatternError, TrailwatchError
from ..filterpattern import compile_pattern


class MatchError(TrailwatchError):
    """Bad ``match`` input: an invalid pattern or an unreadable file."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pattern", "-p", required=True, help="the filter pattern, e.g. '{ $.errorCode = \"AccessDenied\" }'")
    parser.add_argument("file", nargs="?", default="-", metavar="FILE|-",
                        help="JSON lines or raw lines (default: - for standard input)")


def _open(name: str) -> BinaryIO:
    if name == "-":
        return sys.stdin.buffer
    try:
        raw = open(name, "rb")
    except OSError as exc:
        raise MatchError(f"{name}: cannot open ({exc.strerror})") from None
    if raw.read(2) == b"\x1f\x8b":
        raw.seek(0)
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    raw.seek(0)
    return raw


def run(args: argparse.Namespace) -> int:
    try:
        pattern = compile_pattern(args.pattern)
    except PatternError as exc:
        pointer = f"{args.pattern[:exc.position]}<HERE>{args.pattern[exc.position:]}"
        raise MatchError(f"invalid pattern: {exc.message} at position {exc.position}: {pointer}") from None
    matches = pattern.matches
    stream = _open(args.file)
    out = sys.stdout
    batch: list[str] = []
    try:
        for raw in stream:
            line = raw.decode("utf-8", "replace")
            if line.endswith("\n"):
                line = line[:-2] if line.endswith("\r\n") else line[:-1]
            batch.append("1" if matches(line) else "0")
            if len(batch) >= 4096:
                out.write("\n".join(batch) + "\n")
                batch.clear()
    except (OSError, EOFError, zlib.error) as exc:
        if isinstance(exc, BrokenPipeError):
            raise
        raise MatchError(f"{args.file}: cannot read ({exc})") from None
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    if batch:
        out.write("\n".join(batch) + "\n")
    out.flush()
    return 0
