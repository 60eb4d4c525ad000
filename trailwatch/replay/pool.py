"""A replay on local worker processes: each task is mapped to a Partial in a process, merged here as it arrives.

Processes are spawned (not forked), so they start clean whatever threads this process runs, and see its
current environment (S3 credentials and endpoint). At most ``IN_FLIGHT`` tasks per worker are queued at a time,
so an S3 listing of millions of objects is planned as the work goes, in flat memory; each worker holds one
task's aggregator, and this process the merged partial.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Iterable, Sequence

from . import engine
from .engine import Rule
from .partial import Partial
from .readers import ReplayError
from .tasks import Task, progress_bar, run_task

IN_FLIGHT = 2  # tasks queued per worker process


def replay(tasks: Iterable[Task], rules: Sequence[Rule], workers: int, *, total_bytes: int = 0,
           progress: bool | Any = False) -> Partial:
    merged = Partial.empty(rules)
    done = [0]  # bytes of the finished tasks
    bar = progress_bar(progress, total_bytes, lambda: done[0], lambda: merged.events + merged.malformed)
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    pending: dict[Future, int] = {}
    try:
        for task in tasks:
            pending[pool.submit(run_task, task, tuple(rules))] = task.size
            while len(pending) >= workers * IN_FLIGHT:
                _settle(pending, merged, done, bar)
        while pending:
            _settle(pending, merged, done, bar)
    except BrokenProcessPool as exc:
        raise ReplayError(f"a replay worker process ended abruptly (out of memory, or killed?): {exc}") from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if bar is not None:
            bar.close()
    return merged


def _settle(pending: dict[Future, int], merged: Partial, done: list[int], bar: Any) -> None:
    """Merge what finished within a progress interval."""
    finished, _ = wait(pending, timeout=engine.PROGRESS_INTERVAL, return_when=FIRST_COMPLETED)
    for future in finished:
        merged.absorb(future.result())
        done[0] += pending.pop(future)
    if bar is not None:
        bar()
