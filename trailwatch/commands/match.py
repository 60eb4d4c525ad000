"""``match``: evaluate one CloudWatch Logs filter pattern over log events, printing 1 or 0 per event.

Reads FILE (gzip allowed, recognised by content) or standard input, in every format ``replay`` reads (see
``trailwatch.replay.readers``), one output line per event, in order:

* lines (JSON lines, raw text): each line is one event, blank lines included; JSON patterns parse it as
  JSON (a line that is not a JSON object never matches), other patterns see the raw text, as CloudWatch
  Logs does. The trailing newline (and a carriage return before it) is not part of the event. A line
  holding a whole S3 document (``{"Records": [...]}``) gives one event per record. A text log whose first
  line starts with ``[`` or ``{`` but is broken within itself (``[ERROR] Caught ...``) is lines too.
* documents (S3 delivery ``.json``/``.json.gz``, pretty-printed records, JSON arrays, CloudWatch Logs
  ``filter-log-events`` output, ``lookup-events`` output, EventBridge events): one event per record.

Something that is not an event (a document with a syntax error, a ``Records`` that is not an array, a line
longer than 64 MiB, a gzip bomb) stops the run with one ``error:`` line saying where (exit 2), after the
answers for the events before it: never a silent single answer for a whole file.
"""

from __future__ import annotations

import argparse
import sys
from typing import BinaryIO

from ..errors import PatternError, TrailwatchError
from ..filterpattern import compile_pattern
from ..replay import Malformed, read_stream

BATCH = 4096


class MatchError(TrailwatchError):
    """Bad ``match`` input: an invalid pattern, an unreadable file, or something that is not an event."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pattern", "-p", required=True,
                        help="the filter pattern, e.g. '{ $.errorCode = \"AccessDenied\" }' (may start with '-')")
    parser.add_argument("file", nargs="?", default="-", metavar="FILE|-",
                        help="log lines, JSON lines or CloudTrail files (gzip allowed; default: - for standard input)")


def _open(name: str) -> BinaryIO:
    if name == "-":
        return sys.stdin.buffer
    try:
        return open(name, "rb")
    except OSError as exc:
        raise MatchError(f"{name}: cannot open ({exc.strerror})") from None


def run(args: argparse.Namespace) -> int:
    try:
        pattern = compile_pattern(args.pattern)
    except PatternError as exc:
        pointer = f"{args.pattern[:exc.position]}<HERE>{args.pattern[exc.position:]}"
        raise MatchError(f"invalid pattern: {exc.message} at position {exc.position}: {pointer}") from None
    matches = pattern.matches
    stream = _open(args.file)
    where = "<stdin>" if args.file == "-" else args.file
    out = sys.stdout
    batch: list[str] = []
    try:
        for event in read_stream(stream, where, text_lines=True):
            if type(event) is Malformed:
                out.write("".join(batch))
                out.flush()
                raise MatchError(f"{event.where}: {event.reason} (not an event; match stops here)")
            batch.append("1\n" if matches(event) else "0\n")
            if len(batch) >= BATCH:
                out.write("".join(batch))
                batch.clear()
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    out.write("".join(batch))
    out.flush()
    return 0
