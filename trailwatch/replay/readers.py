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

* ``aws cloudtrail lookup-events`` output: ``{"Events": [{"CloudTrailEvent": "<record JSON>", ...}], ...}``;
  each ``CloudTrailEvent`` string is a record. JSON lines of single events (``jq -c '.Events[]'``) work too.
* EventBridge events from CloudTrail (``"detail-type": "AWS API Call via CloudTrail"`` and the other
  ``... via CloudTrail`` types; what SQS, EventBridge archives and Firehose hold): the record is ``detail``.
  One per line, in a JSON array, or concatenated (Firehose writes them back to back); an event of another
  detail-type is reported malformed. A CloudWatch Logs message holding such an event is unwrapped too.
* A JSON array of records, and pretty-printed single records.
* Records wrapped in a member (``{"event": {...}}``), in any of the forms above, with a :class:`RecordPath`
  (``replay --record-path event``): every object in a record's place is unwrapped, and one without that
  member, or with something else than an object there, is reported malformed at its position.

Folders are walked recursively (sorted, hidden entries and ``CloudTrail-Digest`` folders skipped,
files ending in .json, .jsonl, .ndjson, .log, .txt or .gz, with or without .gz); a file named
explicitly is always read, and ``-`` reads standard input.

Memory and time stay bounded for any input: JSON lines are read in 1 MiB blocks; a line or a single
value longer than ``MAX_RECORD`` (64 MiB) is reported malformed and skipped to the next line, never
buffered; a document of up to ``WHOLE_DOCUMENT_LIMIT`` bytes (CloudTrail's own S3 objects are far
smaller) is parsed at once with orjson, a larger one is walked incrementally, one record at a time; a
gzip stream that expands past ``MAX_DECOMPRESSED`` bytes, or by more than ``MAX_RATIO`` to one beyond
its first ``RATIO_FREE`` bytes (a decompression bomb), is cut off and reported malformed.

Anything that is not a record comes out as a :class:`Malformed` marker (counted by the caller,
never fatal), with its exact position (``file:line`` or ``file:line:column``): a line that is not
JSON or not UTF-8, a value that is not an object, a ``Records``/``events`` member that is not an
array, a document with a syntax error, an unreadable or corrupt file. After a syntax error in a
document the reader falls back to line mode if the next line parses on its own (JSON lines whose
first line is broken), else the rest of the file is skipped.

``read_stream(..., text_lines=True)`` is the view ``match`` takes: in line mode every line is an
event, and a line that is not JSON comes out as its text (a ``str``) instead of a Malformed marker.

``read_stream(..., blocks=True)`` (what replay's prefilter reads) hands JSON lines over as :class:`LineBlock`
items (:mod:`.linescan`), runs of whole lines read into one reused buffer, instead of one record per line; the
last line of a stream when it has no newline, and lines past ``MAX_RECORD``, still come out one by one as records
or Malformed markers. A whole S3 document's ``Records`` comes out as one :class:`RecordBatch` (:mod:`.docscan`).
Other documents (arrays, exports, documents walked incrementally) come out as records either way, and so does
everything when a :class:`RecordPath` unwraps the records.
"""

from __future__ import annotations

import codecs
import gzip
import json
import os
import re
import sys
import zlib
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator

import orjson

from ..errors import TrailwatchError

CHUNK = 1 << 20
LINE_BLOCK = 4 << 20  # bytes read at once for a LineBlock: the scan's cost per block is paid less often
WHOLE_DOCUMENT_LIMIT = 8 << 20
MAX_RECORD = 64 << 20  # larger single values are reported malformed rather than buffered
MAX_DECOMPRESSED = 4 << 30  # bytes one gzip stream may expand to
RATIO_FREE = 64 << 20  # below this much output, no ratio check (small files compress well)
MAX_RATIO = 100  # CloudTrail JSON compresses about 10:1; a bomb does over 1000:1
LINE_MODE_PROBE = 16  # lines looked at to tell JSON lines from a pretty-printed document
GZIP_MAGIC = b"\x1f\x8b"
FOLDER_SUFFIXES = (".json", ".jsonl", ".ndjson", ".log", ".txt", ".gz")
SKIPPED_FOLDERS = ("CloudTrail-Digest",)
_WS = b" \t\r\n"
NEWLINE = b"\n"
_CONTAINERS = ("Records", "events", "Events")
# containers whose items hold the record as a JSON string: the member, and what such an item is
_EMBEDDED = {"events": ("message", "a CloudWatch Logs event"), "Events": ("CloudTrailEvent", "a lookup-events event")}
_ABSENT = object()
_PATH_STEP = re.compile(r"[A-Za-z0-9_@-]+")


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


class LineBlock:
    """Whole JSON lines: ``data[0:end]`` is ``\\n line \\n line ... line`` (each line after a newline, none
    ending in one), the first being line ``first_line`` of ``where``. ``data`` is the reader's buffer,
    overwritten once the consumer asks for the next item; the consumer sets ``lines`` (how many lines
    the block held) and ``records`` (how many items a record-by-record reader would have yielded for
    them), which the reader needs for the positions it reports after the block."""

    __slots__ = ("data", "end", "where", "first_line", "lines", "records")

    def __init__(self, data: bytearray, end: int, where: str, first_line: int):
        self.data = data
        self.end = end
        self.where = where
        self.first_line = first_line
        self.lines = -1
        self.records = 0


class RecordBatch:
    """The items of one S3 document's ``Records`` array, handed over whole instead of one record at a time, so
    that they can be counted column by column. ``records``: how many items a record-by-record reader yields for
    them (one each), which the reader needs for the positions it reports after the batch. Like a LineBlock, it is
    the consumer's until it asks for the next item: the reader then empties ``values``, so that a document's
    records are freed before the next document is parsed."""

    __slots__ = ("values", "where", "records")

    def __init__(self, values: list, where: str):
        self.values = values
        self.where = where
        self.records = len(values)

    def items(self) -> Iterator[Any]:
        """What a record-by-record reader yields for them: each record, or a Malformed marker at its index."""
        return _items("Records", self.values, self.where)


class RecordPath:
    """Where the record sits in each object of the input (``replay --record-path``): a dotted path of member
    names, ``event`` for ``{"event": {...}}``, ``detail.record`` for ``{"detail": {"record": {...}}}``. The
    value there is then read as any object in a record's place is (an EventBridge event from CloudTrail is its
    ``detail``). Raises ReplayError for a path that is not such names."""

    __slots__ = ("text", "steps")

    def __init__(self, text: str):
        steps = str(text).split(".")
        if not all(_PATH_STEP.fullmatch(step) for step in steps):
            raise ReplayError(f"record path {str(text)[:60]!r}: expected member names (letters, digits, '_', '-', '@') "
                              f"separated by dots, like event or detail.record")
        self.text = str(text)
        self.steps = tuple(steps)

    def wraps(self, value: dict) -> bool:
        """Whether an object holds the path's first member (a wrapper, whatever else it holds)."""
        return self.steps[0] in value

    def unwrap(self, value: dict, where: str) -> Any:
        """The record an object wraps, or a Malformed marker at ``where`` saying why there is none."""
        inner: Any = value
        for step in self.steps:
            if type(inner) is not dict or step not in inner:
                keys = ", ".join(str(k)[:40] for k in list(value)[:5]) + (", ..." if len(value) > 5 else "")
                return Malformed(where, f"an object without '{self.text}' (the record path; its keys: "
                                        f"{keys or 'none'})")
            inner = inner[step]
        if type(inner) is not dict:
            return Malformed(where, f"'{self.text}' (the record path) is {_kind(inner)}, not an object")
        return _record(inner, where)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"not JSON: {name}")


def loads(data: bytes | str) -> Any:
    """orjson, falling back to the stdlib for what orjson refuses but JSON allows (integers beyond
    64 bits). Raises ValueError for anything that is not JSON (NaN/Infinity included), or for bytes that
    are not UTF-8 (never guessed as UTF-16/32, as ``json.loads`` would)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        if isinstance(data, (bytes, bytearray, memoryview)):
            try:
                data = bytes(data).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ValueError(f"not UTF-8 text (byte {exc.start}: {bytes(data)[exc.start:exc.start + 1]!r})") from None
        try:
            return json.loads(data, parse_constant=_reject_constant)
        except (ValueError, RecursionError, UnicodeDecodeError) as exc:
            raise ValueError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None


def expand(value: Any, where: str, path: RecordPath | None = None) -> Iterator[Any]:
    """The records one parsed JSON value holds: itself, a document's ``Records``, the records embedded in a
    CloudWatch Logs export's ``events[].message`` or in ``lookup-events``' ``Events[].CloudTrailEvent``, an
    EventBridge event's ``detail``, or those of an array's items; with a ``path``, what each of those wraps. The
    one place records are unwrapped: every reader path (whole documents, JSON lines, the walker of large
    documents, the prefilter's irregular lines) comes through here or :func:`_items`."""
    if type(value) is dict:
        if path is not None and path.wraps(value):
            yield path.unwrap(value, where)
            return
        if "eventVersion" in value:
            yield value if path is None else path.unwrap(value, where)
            return
        for name in _CONTAINERS:
            member = value.get(name, _ABSENT)
            if type(member) is list:
                yield from _items(name, member, where, path)
                return
            if member is not _ABSENT and "eventTime" not in value:
                yield Malformed(where, f"'{name}' is {_kind(member)}, not an array")
                return
        if type(value.get("message")) is str and "timestamp" in value:
            yield from _embedded(value, "events", where, path=path)
        elif "CloudTrailEvent" in value:  # one lookup-events event (``jq -c '.Events[]'``)
            yield from _embedded(value, "Events", where, path=path)
        else:
            yield _record(value, where, path)
    elif type(value) is list:
        yield from _items("", value, where, path)
    else:
        yield Malformed(where, f"{_kind(value)}, not a JSON object")


def _items(container: str, items: Iterable[Any], where: str, path: RecordPath | None = None) -> Iterator[Any]:
    """The records of a container's items (``container`` is "" for a top-level array); a bad item is reported
    at ``where`` and its index, as jq spells it (``file Events[3]``)."""
    if container == "Records":  # records as they are (or what they wrap)
        for i, item in enumerate(items):
            if type(item) is not dict:
                yield Malformed(f"{where} Records[{i}]", f"a Records item is {_kind(item)}, not an object")
            else:
                yield item if path is None else path.unwrap(item, f"{where} Records[{i}]")
    elif container:
        for i, item in enumerate(items):
            yield from _embedded(item, container, where, i, path)
    else:
        for i, item in enumerate(items):
            if type(item) is dict:
                if "eventVersion" in item and path is None:
                    yield item
                else:
                    yield from expand(item, f"{where} [{i}]", path)
            else:
                yield Malformed(f"{where} [{i}]", f"an array item is {_kind(item)}, not an object")


def _record(value: dict, where: str, path: RecordPath | None = None) -> Any:
    """One object as a record: what it wraps at ``path``; else an EventBridge event from CloudTrail is its
    ``detail``, any other object is itself (the aggregator says whether it is a CloudTrail record)."""
    if path is not None:
        return path.unwrap(value, where)
    kind = value.get("detail-type", _ABSENT)
    if kind is _ABSENT or "detail" not in value or "eventVersion" in value:
        return value
    detail = value["detail"]
    if type(kind) is not str or not kind.endswith(" via CloudTrail"):
        return Malformed(where, f"an EventBridge event of detail-type {str(kind)[:60]!r}, not one from CloudTrail")
    if type(detail) is not dict:
        return Malformed(where, f"an EventBridge event whose 'detail' is {_kind(detail)}, not an object")
    return detail


def _embedded(item: Any, container: str, where: str, index: int | None = None,
              path: RecordPath | None = None) -> Iterator[Any]:
    """The record a container item holds as a JSON string: a CloudWatch Logs event's ``message``, a
    ``lookup-events`` event's ``CloudTrailEvent``."""
    member, what = _EMBEDDED[container]
    here = where if index is None else f"{where} {container}[{index}]"
    if type(item) is not dict or type(item.get(member)) is not str:
        yield Malformed(here, f"{what} without a '{member}' string")
        return
    try:
        record = loads(item[member])
    except ValueError as exc:
        yield Malformed(here, f"{what} whose '{member}' is not JSON ({exc})")
        return
    yield _record(record, here, path) if type(record) is dict else Malformed(here, f"{what} whose '{member}' "
                                                                                     f"holds {_kind(record)}")


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
            yield from _walk_dir(path, set())
        elif path.exists():
            yield path
        else:
            raise ReplayError(f"{raw}: no such file or folder")


def _walk_dir(folder: Path, seen: set[tuple[int, int]]) -> Iterator[Path]:
    """Files under ``folder``; a folder reached twice (a symlink loop) is walked once."""
    try:
        info = folder.stat()
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        raise ReplayError(f"{folder}: cannot list folder ({exc.strerror})") from None
    if (info.st_dev, info.st_ino) in seen:
        return
    seen.add((info.st_dev, info.st_ino))
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            if entry.name not in SKIPPED_FOLDERS:
                yield from _walk_dir(Path(entry.path), seen)
        elif entry.is_file() and entry.name.lower().endswith(FOLDER_SUFFIXES):
            yield Path(entry.path)


class FileSource:
    """A local file (or ``-``, standard input) as a source of :class:`RecordReader`. A source names where
    its records come from (``where``), its size in bytes for progress (0 if unknown), the :class:`RecordPath`
    its records are wrapped in (None: not wrapped), and opens, reads and closes its stream; byte ranges
    (:mod:`~trailwatch.replay.tasks`) and S3 objects (:mod:`~trailwatch.replay.s3`) are sources too."""

    def __init__(self, path: str | os.PathLike, record_path: RecordPath | None = None):
        self.path = Path(path)
        self.record_path = record_path
        self.stdin = str(path) == "-"
        self.where = "<stdin>" if self.stdin else str(path)
        try:
            self.size = 0 if self.stdin else self.path.stat().st_size
        except OSError:
            self.size = 0  # opening it says why

    def open(self) -> BinaryIO:
        return sys.stdin.buffer if self.stdin else open(self.path, "rb")

    def read(self, raw: BinaryIO, blocks: bool = False) -> Iterator[Any]:
        return read_stream(raw, self.where, blocks=blocks, record_path=self.record_path)

    def close(self, raw: BinaryIO) -> None:
        if not self.stdin:
            raw.close()

    def tell(self, raw: BinaryIO) -> int:
        """Bytes of the source consumed so far (for the progress bar)."""
        return 0 if self.stdin or raw.closed else raw.tell()


class RecordReader:
    """Iterate the records of many paths (or of ``sources``, see :class:`FileSource`), source after source;
    ``bytes_done()``/``total_bytes`` drive a progress bar (``total_bytes`` 0: unknown, e.g. an S3 listing
    still under way)."""

    def __init__(self, paths: Iterable[str | os.PathLike] = (), *, sources: Iterable[Any] | None = None,
                 total_bytes: int | None = None, blocks: bool = False, record_path: RecordPath | None = None):
        if sources is None:
            sources = [FileSource(p, record_path) for p in walk(paths)]
        self.sources = sources
        self.blocks = blocks  # LineBlock and RecordBatch items (the prefilter's input), see read_stream
        self.total_bytes = sum(s.size for s in sources) if total_bytes is None else total_bytes
        self._done = 0
        self._source: Any = None
        self._raw: BinaryIO | None = None
        self._where = ""
        self._n = 0

    def locate(self, offset: int = 0) -> str:
        """Where the record last yielded came from: ``<file> record #<n>`` (n counts from 1 per file); for
        a :class:`LineBlock` or :class:`RecordBatch`, where its ``offset``-th record (from 1) came from."""
        return f"{self._where} record #{self._n + offset}"

    def bytes_done(self) -> int:
        raw = self._raw
        try:
            return self._done + (self._source.tell(raw) if raw is not None else 0)
        except (OSError, ValueError):
            return self._done

    def __iter__(self) -> Iterator[Any]:
        for source in self.sources:
            where = source.where
            try:
                raw = source.open()
            except OSError as exc:
                yield Malformed(where, f"cannot open ({exc.strerror})")
                continue
            self._source, self._raw, self._where = source, raw, where
            try:
                self._n = 0
                for item in source.read(raw, self.blocks):
                    if type(item) is LineBlock or type(item) is RecordBatch:
                        yield item
                        self._n += item.records
                    else:
                        self._n += 1
                        yield item
            finally:
                self._raw = None
                source.close(raw)
                self._done += source.size


def read_stream(raw: BinaryIO, where: str, *, text_lines: bool = False, blocks: bool = False,
                record_path: RecordPath | None = None) -> Iterator[Any]:
    """Records (and :class:`Malformed` markers) from one binary stream, gzip or plain; see the module
    docstring for ``text_lines``, ``blocks`` and ``record_path``."""
    try:
        head = raw.read(2)
        if head == GZIP_MAGIC:
            source = _Prepend(head, raw)
            stream: BinaryIO = _Capped(gzip.GzipFile(fileobj=source, mode="rb"), source)  # type: ignore[assignment]
            head = b""
        else:
            stream = raw
        yield from _read_plain(stream, head, where, text_lines, blocks, record_path)
    except _TooLarge as exc:
        yield Malformed(where, str(exc))
    except (OSError, EOFError, zlib.error) as exc:  # corrupt or truncated gzip, I/O error
        reason = "gzip data ends early (truncated file)" if isinstance(exc, EOFError) else f"{type(exc).__name__}: {exc}"
        yield Malformed(where, f"unreadable, rest of the file skipped ({reason})")


def read_lines(raw: BinaryIO, where: str, blocks: bool = False,
               record_path: RecordPath | None = None) -> Iterator[Any]:
    """Records from a plain stream read as JSON lines whatever it starts with (a byte range of a file that
    :func:`reads_as_lines`), lines numbered from 1 at the stream's start; options as :func:`read_stream`."""
    if blocks and record_path is None:
        return _read_line_blocks(raw, b"", where)
    return _read_lines(raw, b"", where, False, path=record_path)


def reads_as_lines(head: bytes) -> bool:
    """Whether :func:`read_stream` reads a plain stream longer than ``WHOLE_DOCUMENT_LIMIT`` bytes as JSON
    lines, given its first ``WHOLE_DOCUMENT_LIMIT + 1`` bytes (what lets such a file be split at newlines)."""
    start = len(head) - len(head.lstrip(_WS))
    if start == len(head) or head[:2] == GZIP_MAGIC:
        return False
    return head[start:start + 1] not in (b"{", b"[") or _looks_like_lines(head, start)


class _TooLarge(Exception):
    """A gzip stream expanded past the caps (message: why)."""


class _Prepend:
    """A read-only file object that first returns ``head``, then the rest of ``raw``; counts bytes read."""

    def __init__(self, head: bytes, raw: BinaryIO):
        self._head, self._raw = head, raw
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._read(size)
        self.count += len(data)
        return data

    def _read(self, size: int) -> bytes:
        if self._head:
            head, self._head = self._head, b""
            if size is None or size < 0:
                return head + self._raw.read()
            if size <= len(head):
                head, self._head = head[:size], head[size:]
                return head
            return head + self._raw.read(size - len(head))
        return self._raw.read(size)

    def readinto(self, buffer: memoryview) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


class _Capped:
    """Decompressed reads, cut off past ``MAX_DECOMPRESSED`` bytes or ``MAX_RATIO`` times the compressed input."""

    def __init__(self, stream: BinaryIO, source: _Prepend):
        self._stream, self._source = stream, source
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._counted(len(data))
        return data

    def readinto(self, buffer: memoryview) -> int:
        n = self._stream.readinto(buffer)
        self._counted(n)
        return n

    def _counted(self, n: int) -> None:
        self.count += n
        if self.count > MAX_DECOMPRESSED:
            raise _TooLarge(f"gzip data expands past {MAX_DECOMPRESSED >> 20} MiB; rest of the file skipped")
        if self.count > RATIO_FREE and self.count > MAX_RATIO * self._source.count:
            raise _TooLarge(f"gzip data expands more than {MAX_RATIO}:1 ({self._source.count:,} bytes to "
                            f"{self.count:,} so far), a decompression bomb; rest of the file skipped")


def _read_plain(stream: BinaryIO, head: bytes, where: str, text_lines: bool, blocks: bool = False,
                path: RecordPath | None = None) -> Iterator[Any]:
    head += stream.read(max(WHOLE_DOCUMENT_LIMIT + 1 - len(head), 0))
    start = len(head) - len(head.lstrip(_WS))
    if start == len(head) and not text_lines:
        return  # empty or blank file
    first = head[start:start + 1]
    whole = len(head) <= WHOLE_DOCUMENT_LIMIT
    if first in (b"{", b"["):
        value = _ABSENT
        if whole:  # one value in a small file, e.g. an S3 object: parse it at once
            try:
                value = loads(head)
            except ValueError:
                pass  # JSON lines, several documents, or broken
        if value is not _ABSENT:
            if blocks and path is None and _is_records_document(value):
                batch = RecordBatch(value["Records"], where)
                del value, head  # one document in memory at a time: this one goes before the next is read
                yield batch
                batch.values.clear()
                return
            if not (text_lines and _one_event_line(head, value)):
                single = type(value) is dict and value.keys().isdisjoint(_CONTAINERS)  # by its line; items by index
                yield from expand(value, f"{where}:{head.count(NEWLINE, 0, start) + 1}" if single else where, path)
                return
        elif not _looks_like_lines(head, start) and not (text_lines and _text_first_line(head, start, whole)):
            yield from _walk_documents(stream, head, where, text_lines, path)
            return
    if blocks and not text_lines and path is None:
        yield from _read_line_blocks(stream, head, where)
    else:
        yield from _read_lines(stream, head, where, text_lines, path=path)


def _is_records_document(value: Any) -> bool:
    """Whether :func:`expand` reads a value as an S3 document: its records are its ``Records`` items."""
    return type(value) is dict and "eventVersion" not in value and type(value.get("Records")) is list


def _one_event_line(head: bytes, value: Any) -> bool:
    """For ``match``: a one-line file holding one event (not a Records/events container, not an array of
    records) is a line."""
    if b"\n" in head.strip(_WS):
        return False
    if type(value) is list:
        return not value or any(type(item) is not dict for item in value)
    return not (type(value) is dict and _is_container(value))


def _text_first_line(head: bytes, start: int, whole: bool) -> bool:
    """For ``match``: the first line is text, not the start of a JSON document, when it is broken within
    itself (``[ERROR] Caught ...``, ``[1] extra``); the first line of a pretty-printed document (``{``,
    ``{"Records": [``, ``"key": value,``) is only cut short at its end."""
    end = head.find(b"\n", start)
    if end < 0 and not whole:
        return False  # a first line longer than the head: a document
    line = head[start:end if end >= 0 else len(head)].decode("utf-8", "replace").rstrip()
    try:
        _Text._decoder.raw_decode(line)
    except json.JSONDecodeError as exc:
        return exc.pos < len(line)
    except RecursionError:
        return False
    return True


def _looks_like_lines(head: bytes, start: int) -> bool:
    """JSON lines if one of the first lines is a whole object or array on its own (a pretty-printed
    document's lines are fragments: ``{``, ``"key": value,``)."""
    complete = head[start:].split(b"\n", LINE_MODE_PROBE)[:-1]  # the last piece may be cut off by the block
    for line in complete[:LINE_MODE_PROBE]:
        line = line.strip(_WS)
        if len(line) > 2 and line[:1] in (b"{", b"[") and _parses(line):
            return True
    return False


def _parses(line: bytes) -> bool:
    """Whether a line is a whole JSON value on its own (bytes that are not UTF-8 aside: line mode reports
    those at their line)."""
    try:
        loads(line.decode("utf-8", "replace"))
    except ValueError:
        return False
    return True


def _lines(stream: BinaryIO, head: bytes) -> Iterator[bytes | None]:
    """The stream's lines without their newline, read in blocks; None for a line longer than
    ``MAX_RECORD`` (its bytes are dropped as they come, so memory stays flat and time linear)."""
    pending: list[bytes] = []
    size = 0
    too_long = False
    data = head or stream.read(CHUNK)
    while data:
        parts = data.split(b"\n")
        last = parts.pop()
        if parts:
            first = parts[0]
            if too_long or size + len(first) > MAX_RECORD:
                yield None
            else:
                yield b"".join(pending) + first if pending else first
            pending, size, too_long = [], 0, False
            for line in parts[1:]:
                yield line if len(line) <= MAX_RECORD else None
        if not too_long:
            if size + len(last) > MAX_RECORD:
                pending, size, too_long = [], 0, True
            elif last:
                pending.append(last)
                size += len(last)
        data = stream.read(CHUNK)
    if too_long:
        yield None
    elif size:
        yield b"".join(pending)


def _read_lines(stream: BinaryIO, head: bytes, where: str, text_lines: bool, first_line: int = 1,
                path: RecordPath | None = None) -> Iterator[Any]:
    """JSON lines (optionally prefixed by a timestamp, as CloudWatch Logs export files are)."""
    for lineno, line in enumerate(_lines(stream, head), first_line):
        if line is None:
            yield _too_long(where, lineno)
        else:
            yield from line_items(line, f"{where}:{lineno}", text_lines, path)


def _too_long(where: str, lineno: int) -> Malformed:
    return Malformed(f"{where}:{lineno}", f"line longer than {MAX_RECORD >> 20} MiB, skipped")


def line_items(line: bytes, here: str, text_lines: bool = False, path: RecordPath | None = None) -> Iterator[Any]:
    """What one line of a JSON-lines stream holds (``here`` is its ``file:line``): a record, the records
    of a container, Malformed markers, or nothing for a blank line."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        obj = _slow_line(line, here, exc)
        if obj is None:
            if text_lines:
                yield _text(line)
            return
        if type(obj) is Malformed:
            yield _text(line) if text_lines else obj
            return
    if type(obj) is dict and "eventVersion" in obj and path is None:  # a timestamp-prefixed line's: its message
        yield _text(line) if text_lines and line.lstrip(_WS)[:1] == b"{" else obj
    elif text_lines and not (type(obj) is dict and _is_container(obj)):
        yield _text(line)
    else:
        yield from expand(obj, here, path)


def _read_line_blocks(stream: BinaryIO, head: bytes, where: str) -> Iterator[Any]:
    """JSON lines as :class:`LineBlock` runs of whole lines, read into one buffer that is reused (a
    fresh ``bytes`` per read costs more than the scan of it); a line longer than ``MAX_RECORD`` is
    reported and dropped as it comes, and a last line without newline goes through :func:`line_items`."""
    chunk = max(min(LINE_BLOCK, CHUNK << 2), 1)
    buf = bytearray(1 + len(head) + chunk)
    buf[0] = 10  # every line of a block follows a newline
    buf[1:1 + len(head)] = head
    size = 1 + len(head)
    lineno = 1
    skipping = False  # inside a line past MAX_RECORD: its bytes are dropped up to its newline
    while True:
        first = buf.find(b"\n", 1, size)
        if first > MAX_RECORD + 1 or (skipping and first > 0):  # a line past the cap ends here
            yield _too_long(where, lineno)
            lineno += 1
            skipping = False
            del buf[1:first + 1]
            size -= first
            continue
        if first < 0 and size > MAX_RECORD + 1:
            skipping = True
        if skipping:
            size = 1
        cut = buf.rfind(b"\n", 0, size)
        if cut > 0:
            block = LineBlock(buf, cut, where, lineno)
            yield block
            lineno += block.lines if block.lines >= 0 else buf.count(b"\n", 0, cut)
            buf[1:size - cut] = buf[cut + 1:size]
            size -= cut
        if len(buf) < size + chunk:
            buf.extend(bytes(size + chunk - len(buf)))
        elif len(buf) > size + 2 * chunk:  # the head was larger than a read: give the space back
            del buf[size + chunk:]
        with memoryview(buf) as view:
            n = _fill(stream, view[size:size + chunk])
        if not n:
            break
        size += n
    if skipping:
        yield _too_long(where, lineno)
    elif size > 1:
        yield from line_items(bytes(buf[1:size]), f"{where}:{lineno}")


def _fill(stream: BinaryIO, view: memoryview) -> int:
    readinto = getattr(stream, "readinto", None)
    if readinto is not None:
        return readinto(view) or 0
    data = stream.read(len(view))
    view[:len(data)] = data
    return len(data)


def _is_container(value: dict) -> bool:
    return any(type(value.get(name)) is list for name in _CONTAINERS)


def _text(line: bytes) -> str:
    """A line as the event text CloudWatch Logs would hold: UTF-8, without a trailing carriage return."""
    return line[:-1].decode("utf-8", "replace") if line.endswith(b"\r") else line.decode("utf-8", "replace")


def _slow_line(line: bytes, where: str, error: orjson.JSONDecodeError) -> Any:
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
        if text == line.strip(_WS) and "UTF-8" not in str(exc):  # orjson's position is exact for this line
            return Malformed(f"{where}:{error.pos + 1}", f"not JSON ({error.msg})")
        return Malformed(where, f"not JSON ({exc})")


# -- incremental document walker ---------------------------------------------------------------

class _Text:
    """A text window over a binary stream, refilled on demand, for ``JSONDecoder.raw_decode``; knows the
    line and column of any position in it. Bytes that are not UTF-8 are never guessed at: from the first one
    on, the text keeps them as surrogate escapes (so the bytes can be given back for line mode), its position
    is remembered in ``bad``, and reaching it is an error."""

    _decoder = json.JSONDecoder(parse_constant=_reject_constant)

    def __init__(self, stream: BinaryIO, head: bytes):
        self.stream = stream
        self.utf8 = codecs.getincrementaldecoder("utf-8")()
        self.buf = ""
        self.pos = 0
        self.offset = 0  # characters dropped from the front of buf so far
        self.lines = 0  # newlines dropped from the front of buf so far
        self.newline = -1  # absolute character position of the last newline dropped
        self.eof = False
        self.bad: int | None = None  # absolute character position of the first byte that is not UTF-8
        self.buf = self._decode(head, False)

    def _decode(self, data: bytes, final: bool) -> str:
        """``data`` as text to append to ``buf`` (see the class docstring for bytes that are not UTF-8)."""
        try:
            return self.utf8.decode(data, final)
        except UnicodeDecodeError as exc:
            good = exc.object[:exc.start].decode("utf-8")
            self.bad = self.offset + len(self.buf) + len(good)
            self.utf8 = codecs.getincrementaldecoder("utf-8")("surrogateescape")
            return good + self.utf8.decode(exc.object[exc.start:], final)

    def rest(self, start: int) -> bytes:
        """The bytes of the buffer from position ``start`` on, as they were in the stream."""
        return self.buf[start:].encode("utf-8", "surrogateescape")

    def more(self) -> bool:
        if self.eof:
            return False
        data = self.stream.read(max(CHUNK, min(len(self.buf) - self.pos, MAX_RECORD)))
        dropped_newline = self.buf.rfind("\n", 0, self.pos)
        if dropped_newline >= 0:
            self.newline = self.offset + dropped_newline
        self.lines += self.buf.count("\n", 0, self.pos)
        self.offset += self.pos
        self.buf = self.buf[self.pos:]
        self.pos = 0
        self.buf += self._decode(data, final=not data)
        self.eof = not data
        return not self.eof

    def at(self, pos: int) -> str:
        """``line:column`` (both from 1) of buffer position ``pos``."""
        line = self.lines + self.buf.count("\n", 0, pos) + 1
        newline = self.buf.rfind("\n", 0, pos)
        newline = self.offset + newline if newline >= 0 else self.newline
        return f"{line}:{self.offset + pos - newline}"

    def fail(self, message: str, pos: int | None = None) -> "_SyntaxError":
        """The error at ``pos``; a byte that is not UTF-8 at or before it is the error instead."""
        pos = self.pos if pos is None else pos
        if self.bad is not None and self.bad - self.offset <= pos:
            bad = self.bad - self.offset
            return _SyntaxError(f"not UTF-8 text (byte {self.rest(bad)[:1]!r})", bad, syntax=False)
        return _SyntaxError(message, pos)

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
            raise self.unexpected(repr(ch))
        self.pos += 1

    def unexpected(self, wanted: str) -> "_SyntaxError":
        """The error for the character at ``pos`` (call after ``peek``): truncation if at the end."""
        if self.pos >= len(self.buf) and self.eof:
            return self.fail("the file ends inside a JSON value (truncated?)", len(self.buf))
        return self.fail(f"expected {wanted}")

    def value(self) -> Any:
        self.peek()
        while True:
            try:
                value, end = self._decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                # Perhaps cut by the block end (not a real error) if it failed near the end of the buffer or
                # inside a string: decode again with more text (a record may grow to MAX_RECORD characters).
                # Refilling moves the buffer, so the error is only ever reported from a decode of the
                # buffer as it now is; at the end of the stream it is truncation only if it is at the end.
                unterminated = exc.msg.startswith("Unterminated string")
                if not self.eof and (unterminated or exc.pos >= len(self.buf) - 16):
                    if len(self.buf) - self.pos >= MAX_RECORD:
                        raise self.fail(f"a value longer than {MAX_RECORD >> 20} MiB") from None
                    self.more()
                    continue
                if unterminated or exc.pos >= len(self.buf):
                    raise self.fail("the file ends inside a JSON value (truncated?)", len(self.buf)) from None
                raise self.fail(exc.msg, exc.pos) from None
            except RecursionError:
                raise self.fail("nesting too deep") from None
            if end == len(self.buf) and self.more():  # a number may continue in the next block
                continue
            if end - self.pos > MAX_RECORD:  # parsed within one refill, but past the cap all the same
                raise self.fail(f"a value longer than {MAX_RECORD >> 20} MiB")
            if self.bad is not None and self.bad - self.offset < end:  # inside a string of the value
                raise self.fail("", end)
            self.pos = end
            return value


class _SyntaxError(ValueError):
    """A JSON syntax error (or, ``syntax`` False, bytes that are not UTF-8) in a document at buffer position
    ``pos``; ``reason`` says which."""

    def __init__(self, message: str, pos: int, syntax: bool = True):
        super().__init__(message)
        self.pos = pos
        self.reason = f"JSON syntax error ({message})" if syntax else message


def _walk_documents(stream: BinaryIO, head: bytes, where: str, text_lines: bool = False,
                    path: RecordPath | None = None) -> Iterator[Any]:
    """Concatenated JSON values (Firehose writes records back to back), each walked member by member so that a
    huge ``Records``, ``events`` or ``Events`` array is never held whole."""
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
                yield from _walk_object(text, here, path)
            elif ch == "[":
                text.expect("[")
                yield from _items("", _array_values(text), here, path)
            else:
                yield from expand(text.value(), here, path)
    except _SyntaxError as exc:
        yield from _after_syntax_error(text, exc, where, text_lines, path)


def _after_syntax_error(text: _Text, exc: _SyntaxError, where: str, text_lines: bool,
                        path: RecordPath | None = None) -> Iterator[Any]:
    """Report the error at its line and column; go on in line mode if the next line is JSON on its own."""
    position = text.at(min(exc.pos, len(text.buf)))
    text.pos = min(exc.pos, len(text.buf))
    newline = text.buf.find("\n", text.pos)
    while newline < 0:  # find the end of the broken line, dropping what was scanned (memory stays flat)
        text.pos = len(text.buf)
        if not text.more():
            break
        newline = text.buf.find("\n")
    rest = text.rest(newline + 1) if newline >= 0 else b""
    next_line = rest.split(b"\n", 1)[0].strip(_WS)
    if next_line[:1] in (b"{", b"[") and _parses(next_line):
        yield Malformed(f"{where}:{position}", f"{exc.reason}; reading the rest as JSON lines")
        yield from _read_lines(text.stream, rest, where, text_lines, int(position.split(":")[0]) + 1, path)
        return
    yield Malformed(f"{where}:{position}", f"{exc.reason}; rest of the file skipped")


def _walk_object(text: _Text, where: str, path: RecordPath | None = None) -> Iterator[Any]:
    text.expect("{")
    members: dict[str, Any] = {}
    container = False
    if text.peek() == "}":
        text.pos += 1
    else:
        while True:
            if text.peek() != '"':
                raise text.unexpected("a member name in double quotes")
            key = text.value()
            text.expect(":")
            if key in _CONTAINERS and text.peek() == "[" and not container:
                text.expect("[")
                container = True
                yield from _items(key, _array_values(text), where, path)
            else:
                members[key] = text.value()
            ch = text.peek()
            text.pos += 1
            if ch == "}":
                break
            if ch != ",":
                text.pos -= 1
                raise text.unexpected("',' or '}'")
    if not container:
        yield from expand(members, where, path)


def _array_values(text: _Text) -> Iterator[Any]:
    """The values of an array, one at a time (its ``[`` is consumed already)."""
    if text.peek() == "]":
        text.pos += 1
        return
    while True:
        yield text.value()
        ch = text.peek()
        text.pos += 1
        if ch == "]":
            return
        if ch != ",":
            text.pos -= 1
            raise text.unexpected("',' or ']'")
