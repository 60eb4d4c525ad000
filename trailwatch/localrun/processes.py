"""Start real Prometheus and Alertmanager binaries (and the Teams adapter) on loopback, with their own data folders, and stop them.

Every process runs in its own process group (``start_new_session``) and is stopped by signalling that group
(SIGTERM, then SIGKILL after a grace period), so nothing survives a failed test. Every wait is bounded.
Listen addresses are always ``127.0.0.1:<free port>``; Alertmanager's cluster listener is disabled (it
defaults to ``0.0.0.0:9094``). The Debian builds default to system paths, so every path is passed explicitly.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
import sys
from typing import Any, Callable, Mapping, Sequence

from ..errors import TrailwatchError

LOOPBACK = "127.0.0.1"
PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
TOOLS_BIN = PROJECT_ROOT / ".tools" / "bin"


class LocalRunError(TrailwatchError):
    """A local process could not be started, or did not become ready in time."""


def find_tool(name: str) -> str:
    """``$TRAILWATCH_TOOLS_BIN/<name>``, ``<project>/.tools/bin/<name>`` (``make tools``), or ``<name>`` on PATH."""
    for folder in (os.environ.get("TRAILWATCH_TOOLS_BIN"), str(TOOLS_BIN)):
        if folder and os.access(os.path.join(folder, name), os.X_OK):
            return os.path.join(folder, name)
    found = shutil.which(name)
    if found:
        return found
    raise LocalRunError(f"{name} not found in $TRAILWATCH_TOOLS_BIN, {TOOLS_BIN} or on PATH: in a checkout run "
                        f"`make tools`; otherwise install Prometheus >= 2.53 and Alertmanager >= 0.28 (e.g. Debian's "
                        f"prometheus and prometheus-alertmanager) or point TRAILWATCH_TOOLS_BIN at their folder")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.2, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy; raise TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """(status, body); (0, b"") when nothing answers. Loopback only."""
    host = urllib.parse.urlsplit(url).hostname
    if host not in (LOOPBACK, "localhost"):
        raise ValueError(f"refusing to contact {host}: local runs talk to 127.0.0.1 only")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (loopback only)
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, OSError):
        return 0, b""


def http_post(url: str, data: bytes = b"", timeout: float = 10.0) -> int:
    host = urllib.parse.urlsplit(url).hostname
    if host not in (LOOPBACK, "localhost"):
        raise ValueError(f"refusing to contact {host}: local runs talk to 127.0.0.1 only")
    request = urllib.request.Request(url, data=data, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310 (loopback only)
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return 0


_LIVE: "set[ManagedProcess]" = set()


@atexit.register
def _stop_leftovers() -> None:
    """Safety net: whatever a caller forgot (or could not) stop is stopped when the interpreter exits."""
    for proc in list(_LIVE):
        proc.stop(grace=5)


class ManagedProcess:
    """One long-running binary: started in its own process group, ready when ``ready_path`` answers 200."""

    def __init__(self, name: str, argv: Sequence[str], workdir: Path, port: int, ready_path: str = "/-/ready",
                 env: Mapping[str, str] | None = None):
        self.name = name
        self.argv = list(argv)
        self.env = dict(env) if env is not None else None
        self.workdir = Path(workdir)
        self.port = port
        self.ready_path = ready_path
        self.log_path = self.workdir / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 30.0) -> "ManagedProcess":
        if self.alive:
            return self
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        try:
            log.write(f"--- start #{self.starts + 1}: {' '.join(self.argv)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(self.argv, cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True, env=self.env)
        finally:
            log.close()
        self.starts += 1
        _LIVE.add(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive:
                raise LocalRunError(f"{self.name} exited with code {self.proc.returncode} during start-up:\n"
                                    f"{self.log_tail()}")
            status, _ = http_get(self.url + self.ready_path, timeout=1.0)
            if status == 200:
                return self
            time.sleep(0.1)
        self.stop()
        raise LocalRunError(f"{self.name} not ready at {self.url}{self.ready_path} within {timeout:g} s:\n"
                            f"{self.log_tail()}")

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the process group, SIGKILL it after ``grace`` seconds; idempotent."""
        proc, self.proc = self.proc, None
        _LIVE.discard(self)
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=5)
        else:
            try:  # children of an exited leader, if any
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def restart(self, timeout: float = 30.0) -> "ManagedProcess":
        self.stop()
        return self.start(timeout)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def get_json(self, path: str, **params: str) -> Any:
        query = ("?" + urllib.parse.urlencode(params)) if params else ""
        status, body = http_get(self.url + path + query)
        if status != 200:
            raise LocalRunError(f"{self.name} GET {path}: HTTP {status} {body[:200]!r}")
        return json.loads(body)


class Prometheus(ManagedProcess):
    def __init__(self, workdir: Path, config_file: Path, port: int | None = None, binary: str | None = None,
                 extra_args: Sequence[str] = ()):
        port = port or free_port()
        workdir = Path(workdir)
        argv = [binary or find_tool("prometheus"), f"--config.file={config_file}",
                f"--storage.tsdb.path={workdir / 'data'}", f"--web.listen-address={LOOPBACK}:{port}",
                f"--web.external-url=http://{LOOPBACK}:{port}/", "--web.enable-lifecycle",
                f"--web.console.templates={workdir / 'consoles'}", f"--web.console.libraries={workdir / 'consoles'}",
                "--log.level=info", *extra_args]
        super().__init__("prometheus", argv, workdir, port)

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.get_json("/api/v1/query", query=expr)
        return data["data"]["result"]

    def alerts(self) -> list[dict[str, Any]]:
        return self.get_json("/api/v1/alerts")["data"]["alerts"]

    def targets(self) -> list[dict[str, Any]]:
        return self.get_json("/api/v1/targets")["data"]["activeTargets"]

    def reload(self) -> None:
        status = http_post(self.url + "/-/reload")
        if status != 200:
            raise LocalRunError(f"prometheus reload failed (HTTP {status}):\n{self.log_tail()}")


DEBIAN_AM_SHARE = Path("/usr/share/prometheus/alertmanager")


def alertmanager_command(binary: str) -> list[str]:
    """How to run ``binary`` so that it finds its default notification templates.

    Debian's build does not embed ``default.tmpl``: it reads ``/usr/share/prometheus/alertmanager/`` (where the
    package installs it) and refuses to load any config without it. When that folder is missing and the binary
    was unpacked by ``make tools`` (``.tools/root/prometheus-alertmanager/usr/share/...`` exists), it runs in a
    private mount namespace (``unshare --user --map-root-user --mount``) in which the unpacked ``/usr/share`` is
    overlaid on the real one: the binary sees its package files where Debian puts them, nothing on the machine
    changes, and the process keeps its PID (``exec``), so stopping its process group still stops it.
    Upstream builds embed the templates and run as they are.
    """
    if (DEBIAN_AM_SHARE / "default.tmpl").exists():
        return [binary]
    unpacked = Path(os.path.realpath(binary)).parent.parent / "share"
    if not (unpacked / "prometheus" / "alertmanager" / "default.tmpl").exists():
        unpacked = TOOLS_BIN.parent / "root" / "prometheus-alertmanager" / "usr" / "share"
    if not (unpacked / "prometheus" / "alertmanager" / "default.tmpl").exists():
        return [binary]  # an upstream build (templates embedded), or it fails with its own clear message
    unshare = shutil.which("unshare")
    if unshare is None:
        raise LocalRunError(f"{binary} (Debian build) needs {DEBIAN_AM_SHARE}/default.tmpl, which is missing, and "
                            f"`unshare` (util-linux) is not available to provide it from {unpacked}")
    script = 'mount -t overlay overlay -o "lowerdir=$1:/usr/share" /usr/share && shift && exec "$@"'
    return [unshare, "--user", "--map-root-user", "--mount", "--", "sh", "-c", script, "sh", str(unpacked), binary]


class Alertmanager(ManagedProcess):
    def __init__(self, workdir: Path, config_file: Path, port: int | None = None, binary: str | None = None,
                 extra_args: Sequence[str] = ()):
        port = port or free_port()
        workdir = Path(workdir)
        argv = [*alertmanager_command(binary or find_tool("alertmanager")), f"--config.file={config_file}",
                f"--storage.path={workdir / 'data'}", f"--web.listen-address={LOOPBACK}:{port}",
                f"--web.external-url=http://{LOOPBACK}:{port}/", "--cluster.listen-address=",
                "--log.level=debug", *extra_args]
        super().__init__("alertmanager", argv, workdir, port)

    def alerts(self) -> list[dict[str, Any]]:
        return self.get_json("/api/v2/alerts")


#: Dummy credentials for an adapter that talks to a local CloudWatch Logs endpoint: boto3 signs every request
#: and needs some; they are valid nowhere.
LOCAL_AWS_ENV = {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLEEXAMPLE00", "AWS_SECRET_ACCESS_KEY": "local-only-secret-key",
                 "AWS_EC2_METADATA_DISABLED": "true"}


class TeamsAdapter(ManagedProcess):
    """``python -m trailwatch.adapter`` reading ``config_file``, the Workflows URL from ``url_file`` and its
    bearer token from ``token_file``; CloudWatch Logs at ``logs_url`` (a local endpoint: the process gets no
    AWS variables of the caller's, only :data:`LOCAL_AWS_ENV`)."""

    def __init__(self, workdir: Path, config_file: Path, url_file: Path, token_file: Path, logs_url: str,
                 port: int | None = None, log_level: str = "info", state_file: Path | None = None):
        port = port or free_port()
        argv = [sys.executable, "-m", "trailwatch.adapter", "--config", str(config_file),
                "--webhook-url-file", str(url_file), "--token-file", str(token_file),
                "--listen", f"{LOOPBACK}:{port}", "--log-level", log_level]
        if state_file is not None:
            argv += ["--state-file", str(state_file)]
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, **LOCAL_AWS_ENV,
               "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": logs_url,
               "PYTHONPATH": os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH")) if p)}
        super().__init__("adapter", argv, workdir, port, ready_path="/healthz", env=env)
