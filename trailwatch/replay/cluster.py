"""A replay on an existing Dask cluster: the same tasks as a local run, mapped to Partials on the workers and
merged there in a tree (``FAN_IN`` partials per merge task, as they finish: the merge is associative and
commutative); only the final partial travels to this process.

Workers need trailwatch installed and must be able to read the inputs: S3 objects (with their own AWS
credentials) or local paths visible at the same place on every worker (a shared file system). At most
``IN_FLIGHT`` tasks per worker thread are submitted at a time, so a huge S3 listing is planned as the work goes.
Connecting waits at most Dask's ``distributed.comm.timeouts.connect`` (30 s unless configured, e.g. with
``DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=5s``).
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from ..errors import TrailwatchError
from .engine import Rule
from .partial import Partial, merge
from .readers import ReplayError
from .tasks import Task, progress_bar, run_task

FAN_IN = 8  # partials per merge task
IN_FLIGHT = 2  # tasks submitted per worker thread


def connect(address: str) -> Any:
    """A client of the scheduler at ``address`` (``tcp://host:8786``) that has at least one worker."""
    try:
        from distributed import Client
    except ImportError:
        raise ReplayError("--dask needs Dask's distributed package: pip install 'pulumi-trailwatch[replay]'") from None
    try:
        client = Client(address, set_as_default=False)
    except (OSError, ValueError) as exc:
        raise ReplayError(f"--dask {address}: cannot connect to a Dask scheduler ({_first_line(exc)})") from None
    if not threads(client):
        client.close()
        raise ReplayError(f"--dask {address}: the scheduler has no workers (start some with `dask worker {address}`)")
    return client


def threads(client: Any) -> int:
    return sum(client.nthreads().values())


def replay(client: Any, tasks: Iterable[Task], rules: Sequence[Rule], *, total_bytes: int = 0,
           progress: bool | Any = False) -> Partial:
    from distributed import as_completed

    rules = tuple(rules)
    queue = as_completed(loop=client.loop)
    sizes: dict[str, int] = {}  # key of a running map task -> its bytes
    ready: list[Any] = []  # finished futures waiting to be merged
    done = [0, 0]  # bytes and tasks finished
    bar = progress_bar(progress, total_bytes, lambda: done[0], lambda: done[1], noun="tasks")

    def settle() -> None:
        future = next(queue)
        if future.status != "finished":
            _result(future)  # raises the task's error
        if future.key in sizes:
            done[0] += sizes.pop(future.key)
            done[1] += 1
        ready.append(future)
        if len(ready) == FAN_IN:
            queue.add(client.submit(merge, list(ready), pure=False))
            ready.clear()
        if bar is not None:
            bar()

    try:
        window = IN_FLIGHT * threads(client)
        for task in tasks:
            future = client.submit(run_task, task, rules, pure=False)
            sizes[future.key] = task.size
            queue.add(future)
            while queue.count() >= window:
                settle()
        while not queue.is_empty():
            settle()
        if not ready:
            return Partial.empty(rules)
        return _result(ready[0] if len(ready) == 1 else client.submit(merge, ready, pure=False))
    finally:
        if bar is not None:
            bar.close()


def _result(future: Any) -> Any:
    """A future's value; a failure on the cluster (not trailwatch's own errors) as one line."""
    try:
        return future.result()
    except TrailwatchError:
        raise
    except Exception as exc:
        raise ReplayError(f"--dask: a task failed on the cluster ({type(exc).__name__}: {_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
