"""Locate the real Prometheus tools that `make tools` puts in <repo>/.tools/bin/.

Import from a test module as ``from tools import promtool, run_tool`` (pytest puts tests/ on sys.path).
A missing tool is an error, never a skip: the tests that need these binaries must not pass silently.

Note: the Debian builds default to system paths (``/etc/prometheus/...``, ``/var/lib/prometheus/...``);
always pass ``--config.file``, ``--storage.tsdb.path`` / ``--storage.path`` etc. explicitly.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TOOLS_BIN = REPO_ROOT / ".tools" / "bin"

# Keep in step with MIN in scripts/fetch-prometheus-tools.sh.
MIN_VERSIONS: dict[str, tuple[int, ...]] = {
    "promtool": (2, 53),
    "prometheus": (2, 53),
    "alertmanager": (0, 28),
    "amtool": (0, 28),
}
TOOL_NAMES = tuple(MIN_VERSIONS)

_VERSION_RE = re.compile(r"\bversion\s+v?(\d+(?:\.\d+)+)")


class ToolMissingError(RuntimeError):
    """A Prometheus tool binary is not installed in .tools/bin/."""


def tool_path(name: str) -> str:
    """Absolute path of ``.tools/bin/<name>``; raises ToolMissingError if it is not there."""
    if name not in MIN_VERSIONS:
        raise ValueError(f"unknown tool {name!r}; expected one of {', '.join(TOOL_NAMES)}")
    path = TOOLS_BIN / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise ToolMissingError(
            f"{name} not found at {path}: run `make tools` "
            f"(bash scripts/fetch-prometheus-tools.sh) from {REPO_ROOT}"
        )
    return str(path)


def promtool() -> str:
    return tool_path("promtool")


def prometheus() -> str:
    return tool_path("prometheus")


def alertmanager() -> str:
    return tool_path("alertmanager")


def amtool() -> str:
    return tool_path("amtool")


def run_tool(
    name: str, *args: str | os.PathLike[str], check: bool = False, timeout: float = 60, **kwargs
) -> subprocess.CompletedProcess[str]:
    """Run a tool with text-mode stdout/stderr captured; ``check=True`` raises on a non-zero exit."""
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    return subprocess.run(
        [tool_path(name), *map(os.fspath, args)], check=check, timeout=timeout, **kwargs
    )


def parse_version(output: str) -> tuple[int, ...]:
    """(2, 53, 3) from ``promtool, version 2.53.3+ds1 (branch: ...)``; ValueError if none."""
    match = _VERSION_RE.search(output)
    if not match:
        raise ValueError(f"no version found in {output[:200]!r}")
    return tuple(int(part) for part in match.group(1).split("."))


def tool_version(name: str) -> tuple[int, ...]:
    """Version reported by ``<name> --version``."""
    result = run_tool(name, "--version", check=True)
    return parse_version(result.stdout + result.stderr)
