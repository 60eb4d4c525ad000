"""Run ``python -m trailwatch ...`` in a child process under a memory limit and a time limit.

Import from a test module as ``from limits import run_limited`` (pytest puts tests/ on sys.path). The
limits are guards for hostile input: the child's address space is capped with ``resource.setrlimit``
(RLIMIT_AS), and the run is killed after ``timeout`` seconds; either failing shows up as a test failure
(a non-zero exit with a traceback, a signal, or ``subprocess.TimeoutExpired``), never as a skip.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
MEMORY_LIMIT = 768 << 20  # address space, bytes: well above a normal run, far below the hostile cases
TIME_LIMIT = 60  # seconds: a hang guard on a shared 2-core machine, not a performance figure


def _limit(memory: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    return apply


def run_limited(args: list[str], *, stdin: bytes | None = None, memory: int = MEMORY_LIMIT,
                timeout: float = TIME_LIMIT, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    """``python -m trailwatch *args`` with the limits applied; returns the completed process (bytes out)."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    return subprocess.run([sys.executable, "-m", "trailwatch", *args], input=stdin, capture_output=True,
                          timeout=timeout, preexec_fn=_limit(memory), cwd=cwd, env=env, check=False)
