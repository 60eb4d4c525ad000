"""Read CloudTrail records from files the way users have them, one record at a time.

Accepted inputs (any of them gzip-compressed; gzip is recognised by its magic bytes, not the name):

* **S3 delivery format**: ``{"Records": [record, ...]}`` (``.json`` / ``.json.gz``), compact or
  pretty-printed, one or several documents per file.
* **JSON lines**: one record per line (``.jsonl``, the output of ``jq -c '.Records[]'``, Athena/Lake
  exports). A line holding a whole S3 document is expanded too.
* **CloudWatch Logs exports**, two kinds:

  - the JSON printed by ``aws logs filter-log-events`` / ``aws logs get-log-events``:
    ``{"events": [{"timestamp": ..., "message": "<record JSON>", ...}], ...}``; each ``message``
    is a record. JSON lines of single events (``jq -c '.events[]'``) work too.
  - the files ``aws logs create-export-task`` writes to S3 (``<task>/<stream>/000000.gz``): lines
    ``<ISO-8601 timestamp> <message>``; the timestamp prefix is dropped and the message parsed.

* A JSON array of records, and pretty-printed single records.

Folders are walked recursively (sorted, hidden entries and ``CloudTrail-Digest`` folders skipped,
files ending in .json, .jsonl, .ndjson, .log, .txt or .gz, with or without .gz); a file named
explicitly is always read, and ``-`` reads standard input.

Memory stays flat: JSON lines are read in 1 MiB blocks; a document of up to ``WHOLE_DOCUMENT_LIMIT``
bytes (CloudTrail's own S3 objects are far smaller) is parsed at once with orjson, a larger one is
walked incrementally, one record at a time.

Anything that is not a record comes out as a :class:`Malformed` marker (counted by the caller,
never fatal): a line that is not JSON, a value that is not an object, a document with a syntax
error (the rest of that document counts as one malformed record), an unreadable or corrupt file.
"""

from __future__ import annotations

import codecs
import gzip
import json
import os
import sys
import zlib
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator

import orjson

from ..errors import TrailwatchError

CHUNK = 1 << 20
WHOLE_DOCUMENT_LIMIT = 8 << 20
MAX_RECORD = 64 << 20  # larger single values are reported malformed rather than buffered
GZIP_MAGIC = b"\x1f\x8b"
FOLDER_SUFFIXES = (".json", ".jsonl", ".ndjson", ".log", ".txt", ".gz")
SKIPPED_FOLDERS = ("CloudTrail-Digest",)
_WS = b" \t\r\n"
_CONTAINERS = ("Records", "events")


class ReplayError(TrailwatchError):
    """Bad replay input that makes a run pointless (a path that does not exist)."""


class Malformed:
    """Something in the input that is not a CloudTrail record: where, and why."""

    __slots__ = ("where", "reason")

    def __init__(self, where: str, reason: str):
        self.where = where
        self.reason = reason

    def __repr__(self) -> str:
        return f"{self.where}: {self.reason}"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"not JSON: {name}")


def loads(data: bytes | str) -> Any:
    """orjson, falling back to the stdlib for what orjson refuses but JSON allows (integers beyond
    64 bits). Raises ValueError for anything that is not JSON (NaN/Infinity included)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        try:
            return json.loads(data, parse_constant=_reject_constant)
        except (ValueError, RecursionError, UnicodeDecodeError) as exc:
            raise ValueError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None


def expand(value: Any, where: str) -> Iterator[Any]:
    """The records one parsed JSON value holds: itself, a document's ``Records``, a CloudWatch Logs
    export's ``events[].message``, or an array's items."""
    if type(value) is dict:
        if "eventVersion" in value:
            yield value
            return
        records = value.get("Records")
        if type(records) is list:
            for item in records:
                yield item if type(item) is dict else Malformed(where, f"a Records item is {_kind(item)}, not an object")
            return
        events = value.get("events")
        if type(events) is list:
            for item in events:
                yield from _cwl_event(item, where)
            return
        if type(value.get("message")) is str and "timestamp" in value:
            yield from _cwl_event(value, where)
            return
        yield value
    elif type(value) is list:
        for item in value:
            yield item if type(item) is dict else Malformed(where, f"an array item is {_kind(item)}, not an object")
    else:
        yield Malformed(where, f"{_kind(value)}, not a JSON object")


def _cwl_event(item: Any, where: str) -> Iterator[Any]:
    if type(item) is not dict or type(item.get("message")) is not str:
        yield Malformed(where, "a CloudWatch Logs event without a 'message' string")
        return
    try:
        record = loads(item["message"])
    except ValueError as exc:
        yield Malformed(where, f"a CloudWatch Logs message that is not JSON ({exc})")
        return
    yield record if type(record) is dict else Malformed(where, f"a CloudWatch Logs message holding {_kind(record)}")


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number")


# -- files -------------------------------------------------------------------------------------

def walk(paths: Iterable[str | os.PathLike]) -> Iterator[Path]:
    """Files to read, in order: each named file, and the matching files under each named folder."""
    for raw in paths:
        path = Path(raw)
        if str(raw) == "-":
            yield path
        elif path.is_dir():
            yield from _walk_dir(path)
        elif path.exists():
            yield path
        else:
            raise ReplayError(f"{raw}: no such file or folder")


def _walk_dir(folder: Path) -> Iterator[Path]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        raise ReplayError(f"{folder}: cannot list folder ({exc.strerror})") from None
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            if entry.name not in SKIPPED_FOLDERS:
                yield from _walk_dir(Path(entry.path))
        elif entry.is_file() and entry.name.lower().endswith(FOLDER_SUFFIXES):
            yield Path(entry.path)


class RecordReader:
    """Iterate the records of many paths; ``bytes_done()``/``total_bytes`` drive a progress bar."""

    def __init__(self, paths: Iterable[str | os.PathLike]):
        self.files = list(walk(paths))
        self.total_bytes = sum(_size(p) for p in self.files)
        self._done = 0
        self._raw: BinaryIO | None = None
        self._where = ""
        self._n = 0

    def locate(self) -> str:
        """Where the record last yielded came from: ``<file> record #<n>`` (n counts from 1 per file)."""
        return f"{self._where} record #{self._n}"

    def bytes_done(self) -> int:
        raw = self._raw
        try:
            return self._done + (raw.tell() if raw is not None and not raw.closed else 0)
        except (OSError, ValueError):
            return self._done

    def __iter__(self) -> Iterator[Any]:
        for path in self.files:
            where = "<stdin>" if str(path) == "-" else str(path)
            try:
                raw = sys.stdin.buffer if str(path) == "-" else open(path, "rb")
            except OSError as exc:
                yield Malformed(where, f"cannot open ({exc.strerror})")
                continue
            self._raw = raw if raw is not sys.stdin.buffer else None
            self._where = where
            try:
                for self._n, record in enumerate(read_stream(raw, where), 1):
                    yield record
            finally:
                self._raw = None
                if raw is not sys.stdin.buffer:
                    raw.close()
                self._done += _size(path)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size if str(path) != "-" else 0
    except OSError:
        return 0


def read_stream(raw: BinaryIO, where: str) -> Iterator[Any]:
    """Records (and :class:`Malformed` markers) from one binary stream, gzip or plain."""
    try:
        head = raw.read(2)
        if head == GZIP_MAGIC:
            stream: BinaryIO = gzip.GzipFile(fileobj=_Prepend(head, raw), mode="rb")
            head = b""
        else:
            stream = raw
        yield from _read_plain(stream, head, where)
    except (OSError, EOFError, zlib.error) as exc:  # corrupt or truncated gzip, I/O error
        yield Malformed(where, f"unreadable ({type(exc).__name__}: {exc})")


class _Prepend:
    """A read-only file object that first returns ``head``, then the rest of ``raw``."""

    def __init__(self, head: bytes, raw: BinaryIO):
        self._head, self._raw = head, raw

    def read(self, size: int = -1) -> bytes:
        if self._head:
            head, self._head = self._head, b""
            if size is None or size < 0:
                return head + self._raw.read()
            if size <= len(head):
                head, self._head = head[:size], head[size:]
                return head
            return head + self._raw.read(size - len(head))
        return self._raw.read(size)


def _read_plain(stream: BinaryIO, head: bytes, where: str) -> Iterator[Any]:
    head += stream.read(max(WHOLE_DOCUMENT_LIMIT + 1 - len(head), 0))
    start = len(head) - len(head.lstrip(_WS))
    if start == len(head):
        return  # empty or blank file
    first = head[start:start + 1]
    whole = len(head) <= WHOLE_DOCUMENT_LIMIT
    if first in (b"{", b"["):
        if whole:  # one value in a small file, e.g. an S3 object: parse it at once
            try:
                value = loads(head)
            except ValueError:
                pass  # JSON lines, or several documents
            else:
                yield from expand(value, where)
                return
        newline = head.find(b"\n", start)
        if newline < 0 or not _parses(head[start:newline]):
            yield from _walk_documents(stream, head, where)
            return
    yield from _read_lines(stream, head, where)


def _parses(line: bytes) -> bool:
    try:
        loads(line)
    except ValueError:
        return False
    return True


def _read_lines(stream: BinaryIO, head: bytes, where: str) -> Iterator[Any]:
    """JSON lines (optionally prefixed by a timestamp, as CloudWatch Logs export files are)."""
    carry = head
    lineno = 0
    ol = orjson.loads
    while True:
        data = stream.read(CHUNK)
        lines = (carry + data).split(b"\n") if data else carry.split(b"\n")
        carry = lines.pop() if data else b""
        for line in lines:
            lineno += 1
            try:
                obj = ol(line)
            except orjson.JSONDecodeError:
                obj = _slow_line(line, f"{where}:{lineno}")
                if obj is None:
                    continue
                if type(obj) is Malformed:
                    yield obj
                    continue
            if type(obj) is dict and "eventVersion" in obj:
                yield obj
            else:
                yield from expand(obj, f"{where}:{lineno}")
        if not data:
            return


def _slow_line(line: bytes, where: str) -> Any:
    """A line orjson refused: blank (None), timestamp-prefixed, a huge integer, or malformed."""
    text = line.strip(_WS)
    if not text:
        return None
    if text[:1].isdigit():
        space = text.find(b" ")
        if space > 0 and text[space + 1:space + 2] in (b"{", b"["):
            text = text[space + 1:]
    try:
        return loads(text)
    except ValueError as exc:
        return Malformed(where, f"not JSON ({exc})")


# -- incremental document walker ---------------------------------------------------------------

class _Incomplete(Exception):
    pass


class _Text:
    """A text window over a binary stream, refilled on demand, for ``JSONDecoder.raw_decode``."""

    _decoder = json.JSONDecoder(parse_constant=_reject_constant)

    def __init__(self, stream: BinaryIO, head: bytes):
        self.stream = stream
        self.utf8 = codecs.getincrementaldecoder("utf-8")("replace")
        self.buf = self.utf8.decode(head)
        self.pos = 0
        self.offset = 0  # characters dropped from the front of buf so far
        self.eof = False

    def more(self) -> bool:
        if self.eof:
            return False
        data = self.stream.read(max(CHUNK, len(self.buf) - self.pos))
        self.offset += self.pos
        self.buf = self.buf[self.pos:] + self.utf8.decode(data, final=not data)
        self.pos = 0
        self.eof = not data
        return not self.eof

    def peek(self) -> str:
        """The next non-blank character ('' at the end of the stream)."""
        while True:
            buf, pos = self.buf, self.pos
            n = len(buf)
            while pos < n and buf[pos] in " \t\r\n":
                pos += 1
            self.pos = pos
            if pos < n:
                return buf[pos]
            if not self.more():
                return ""

    def expect(self, ch: str) -> None:
        if self.peek() != ch:
            raise ValueError(f"expected {ch!r} at character {self.offset + self.pos}")
        self.pos += 1

    def value(self) -> Any:
        self.peek()
        while True:
            try:
                value, end = self._decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                # Truncated by the block end (not a real error) if it failed near the end of the
                # buffer or inside a string; a record may grow to MAX_RECORD characters.
                truncated = exc.pos >= len(self.buf) - 16 or exc.msg.startswith("Unterminated string")
                if truncated and len(self.buf) - self.pos < MAX_RECORD and self.more():
                    continue
                raise ValueError(f"{exc.msg} at character {self.offset + exc.pos}") from None
            except RecursionError:
                raise ValueError(f"nesting too deep at character {self.offset + self.pos}") from None
            if end == len(self.buf) and self.more():  # a number may continue in the next block
                continue
            self.pos = end
            return value


def _walk_documents(stream: BinaryIO, head: bytes, where: str) -> Iterator[Any]:
    """Concatenated JSON values, each walked member by member so that a huge ``Records`` or
    ``events`` array is never held whole."""
    text = _Text(stream, head)
    index = 0
    try:
        while True:
            ch = text.peek()
            if not ch:
                return
            index += 1
            here = f"{where} (document {index})"
            if ch == "{":
                yield from _walk_object(text, here)
            elif ch == "[":
                text.expect("[")
                yield from _walk_array(text, here, "values")
            else:
                yield from expand(text.value(), here)
    except ValueError as exc:
        yield Malformed(where, f"JSON syntax error, rest of the file skipped ({exc})")


def _walk_object(text: _Text, where: str) -> Iterator[Any]:
    text.expect("{")
    members: dict[str, Any] = {}
    container = False
    if text.peek() == "}":
        text.pos += 1
    else:
        while True:
            if text.peek() != '"':
                raise ValueError(f"expected a member name at character {text.offset + text.pos}")
            key = text.value()
            text.expect(":")
            if key in _CONTAINERS and text.peek() == "[" and not container:
                text.expect("[")
                container = True
                yield from _walk_array(text, where, key)
            else:
                members[key] = text.value()
            ch = text.peek()
            text.pos += 1
            if ch == "}":
                break
            if ch != ",":
                raise ValueError(f"expected ',' or '}}' at character {text.offset + text.pos - 1}")
    if not container:
        yield from expand(members, where)


def _walk_array(text: _Text, where: str, what: str) -> Iterator[Any]:
    """Items of an array: ``Records`` (records), ``events`` (CloudWatch Logs events) or
    ``values`` (a top-level array: each item expanded)."""
    if text.peek() == "]":
        text.pos += 1
        return
    while True:
        item = text.value()
        if what == "Records":
            yield item if type(item) is dict else Malformed(where, f"a Records item is {_kind(item)}, not an object")
        elif what == "events":
            yield from _cwl_event(item, where)
        else:
            yield from expand(item, where)
        ch = text.peek()
        text.pos += 1
        if ch == "]":
            return
        if ch != ",":
            raise ValueError(f"expected ',' or ']' at character {text.offset + text.pos - 1}")
