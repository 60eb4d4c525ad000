"""Work units of a parallel replay, and running one task of them into a :class:`~trailwatch.replay.partial.Partial`.

A unit is a source :class:`~trailwatch.replay.readers.RecordReader` reads: a file, an S3 object, or a byte
range of a big JSON-lines file. A plain file that :func:`~trailwatch.replay.readers.reads_as_lines` and is
at least twice the task size is cut into ranges that start and end just after a newline, so one big file
keeps every core busy; each range is read as JSON lines (that is how the whole file would be read). Gzip
files, documents (``{"Records": [...]}``) and S3 objects are one unit each: they cannot be entered in the
middle. Consecutive small units are batched into one task (up to the task size in bytes or
``MAX_SOURCES_PER_TASK`` sources, whichever comes first) so that per-task overhead stays negligible.

A task's ``order`` is its position in the whole input; with the ranges' line and record counts it is what
lets the merge reproduce the one-pass report exactly (see :mod:`trailwatch.replay.partial`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, BinaryIO, Callable, Iterable, Iterator, Sequence

from . import readers
from .engine import Aggregator, Progress, Rule
from .partial import Partial
from .readers import FileSource, LineBlock, RecordPath, RecordReader, read_lines, reads_as_lines

MIN_TASK_BYTES = 8 << 20  # smallest task worth shipping to another process
TASKS_PER_WORKER = 8  # tasks per worker for a known input size: balances the load, moves the progress bar
MAX_SOURCES_PER_TASK = 64  # S3 objects are read one after the other within a task: keep tasks short


@dataclass
class Task:
    order: int
    sources: list[Any]
    size: int = field(init=False)

    def __post_init__(self) -> None:
        self.size = sum(s.size for s in self.sources)


class RangeSource:
    """Bytes ``[start, end)`` of a JSON-lines file, both just after a newline (or at the file's ends). After
    reading, ``lines`` and ``records`` say how many it held (what the ranges after it are offset by)."""

    def __init__(self, path: str, start: int, end: int, record_path: RecordPath | None = None):
        self.path, self.start, self.end = path, start, end
        self.record_path = record_path
        self.where = path
        self.size = end - start
        self.lines = self.records = 0

    def open(self) -> "_Window":
        raw = open(self.path, "rb")
        raw.seek(self.start)
        return _Window(raw, self.size)

    def read(self, raw: "_Window", blocks: bool = False) -> Iterator[Any]:
        for item in read_lines(raw, self.where, blocks, self.record_path):
            yield item
            self.records += item.records if type(item) is LineBlock else 1  # a block's, once it is read
        self.lines = raw.newlines

    def close(self, raw: "_Window") -> None:
        raw.close()

    def tell(self, raw: "_Window") -> int:
        return raw.served

    def extent(self) -> tuple[str, int, int, int]:
        return self.where, self.start, self.lines, self.records


class _Window:
    """At most ``length`` bytes of ``raw`` from its position; counts the newlines it served."""

    def __init__(self, raw: BinaryIO, length: int):
        self.raw, self.left = raw, length
        self.served = self.newlines = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(self.left if size is None or size < 0 else min(size, self.left))
        self.left -= len(data)
        self.served += len(data)
        self.newlines += data.count(b"\n")
        return data

    @property
    def closed(self) -> bool:
        return self.raw.closed

    def close(self) -> None:
        self.raw.close()


def task_bytes(total_bytes: int, workers: int) -> int:
    """The target task size: about ``TASKS_PER_WORKER`` tasks per worker, at least ``MIN_TASK_BYTES``."""
    return max(MIN_TASK_BYTES, total_bytes // max(workers * TASKS_PER_WORKER, 1))


def plan(sources: Iterable[Any], target: int) -> Iterator[Task]:
    """Tasks of about ``target`` bytes, in input order; consumes ``sources`` lazily (an S3 listing)."""
    order = 0
    batch: list[Any] = []
    batch_bytes = 0
    for source in sources:
        ranges = split(source, target)
        if ranges is None:
            batch.append(source)
            batch_bytes += source.size
            if batch_bytes < target and len(batch) < MAX_SOURCES_PER_TASK:
                continue
            ranges = []
        if batch:
            yield Task(order, batch)
            order += 1
            batch, batch_bytes = [], 0
        for piece in ranges:
            yield Task(order, [piece])
            order += 1
    if batch:
        yield Task(order, batch)


def split(source: Any, target: int) -> list[RangeSource] | None:
    """A big plain JSON-lines file's byte ranges of about ``target`` bytes each; None for any other source."""
    if type(source) is not FileSource or source.stdin or source.size < 2 * target \
            or source.size <= readers.WHOLE_DOCUMENT_LIMIT:
        return None
    try:
        with open(source.path, "rb") as f:
            if not reads_as_lines(f.read(readers.WHOLE_DOCUMENT_LIMIT + 1)):
                return None
            cuts = [0]
            while cuts[-1] + target < source.size:
                cut = _line_start_after(f, cuts[-1] + target)
                if cut >= source.size:
                    break
                cuts.append(cut)
    except OSError:
        return None  # read as a whole, where the reader reports why it cannot be read
    cuts.append(source.size)
    return [RangeSource(source.where, a, b, source.record_path) for a, b in zip(cuts, cuts[1:])]


def _line_start_after(f: BinaryIO, offset: int) -> int:
    """The position just after the first newline at or after ``offset - 1`` (end of file if none)."""
    f.seek(offset - 1)
    position = offset - 1
    while block := f.read(readers.CHUNK):
        newline = block.find(b"\n")
        if newline >= 0:
            return position + newline + 1
        position += len(block)
    return position


def run_task(task: Task, rules: Sequence[Rule]) -> Partial:
    """Map step: one task's sources through one aggregator (in a worker process or on a Dask worker)."""
    partial = read_sources(task.sources, rules, order=task.order)
    partial.ranges = {task.order: s.extent() for s in task.sources if isinstance(s, RangeSource)}
    return partial


def read_sources(sources: Iterable[Any], rules: Sequence[Rule], *, order: int = 0, total_bytes: int = 0,
                 progress: bool | Any = False) -> Partial:
    """Sources through one aggregator, here, with a progress bar if asked (see :func:`progress_bar`)."""
    reader = RecordReader(sources=sources, total_bytes=total_bytes, blocks=True)
    agg = Aggregator(rules)
    bar = progress_bar(progress, total_bytes, reader.bytes_done, lambda: agg.events + agg.malformed)
    try:
        agg.feed(reader, tick=bar, locate=reader.locate)
    finally:
        if bar is not None:
            bar.close()
    return Partial.of(agg, order=order)


def progress_bar(progress: bool | Any, total_bytes: int, done: Callable[[], int], count: Callable[[], int],
                 noun: str = "events") -> Progress | None:
    """``progress``: False for none, True for a bar on stderr when it is a terminal (after a second), or a
    stream to draw it on."""
    if not progress:
        return None
    return Progress(total_bytes, done, count, stream=None if progress is True else progress, noun=noun)
