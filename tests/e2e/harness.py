"""Shared pieces of the end-to-end scenarios: stacks with shortened timings, the original guide's files, a
runner that executes scenario runs concurrently in background threads, and card helpers.

Time: the emulated CloudWatch runs TIME_SCALE (60) times faster than the wall clock (``ScaledClock``): one
wall second is one CloudWatch minute. The exporter serves no timestamps, so Prometheus and Alertmanager run on
wall time unchanged, and a stack scraping every second reads CloudWatch exactly as a production stack scraping
every minute does: the shipped window (30 min), tolerance (25 min) and heartbeat (26 min) are kept as they
are. Only wall-time settings are shortened (what a user would put in ``Pulumi.<stack>.yaml``): 1 s scrape and
evaluation, 1 s group_wait, 2 s group_interval. Prometheus' evaluation_interval is the stack's
scrapeIntervalSeconds (see trailwatch.localrun.pipeline).

Why runs are concurrent: each scenario spends almost all its time waiting for the real binaries (alert
windows, ``for:`` durations, a 60 s refusal); run one after another they would take ~20 minutes, side by side
they take as long as the longest one. Each run has its own ports, folders, emulator and Teams stand-in.
"""

from __future__ import annotations

import re
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml
from stacks import make_stack

from trailwatch.localrun import LocalRunError
from trailwatch.stack import Stack

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SCENARIO1_FILE = FIXTURES / "scenario1-cloudtrail.json"
ACCOUNT_ID = "123456789012"
#: The original guide's two detections are off by default; the scenarios turn them on (as the dev stack would).
GUIDE_DETECTIONS = ["access_denied", "console_login_failures"]
#: Emulated CloudWatch seconds per wall second.
TIME_SCALE = 60
E2E_TIMINGS: dict[str, Any] = {
    "scrapeIntervalSeconds": 1,
    "groupWaitSeconds": 1,
    "groupIntervalSeconds": 2,
    "repeatIntervalMinutes": 240,
}


def e2e_stack(name: str = "e2e", **overrides: Any) -> Stack:
    settings = {**E2E_TIMINGS, "enableDetections": GUIDE_DETECTIONS, **overrides}
    return make_stack(name, **settings)


# -- the original guide --------------------------------------------------------------------------------------

#: The guide's alert rules (its metric names and rate(); its ``for: 2m``). The AccessDenied expression is quoted
#: in the project's field notes; the console-login one follows the same pattern with the guide's metric name.
GUIDE_RULES = {
    "groups": [{
        "name": "cloudtrail-security",
        "rules": [
            {"alert": "AccessDeniedErrors",
             "expr": "sum(rate(aws_cloudwatch_CloudTrailMetrics_AccessDeniedCount_sum[5m])) > 0",
             "for": "2m", "labels": {"severity": "warning"},
             "annotations": {"summary": "AccessDenied errors detected in CloudTrail"}},
            {"alert": "ConsoleLoginFailures",
             "expr": "sum(rate(aws_cloudwatch_CloudTrailMetrics_ConsoleLoginFailures_sum[5m])) > 0",
             "for": "2m", "labels": {"severity": "warning"},
             "annotations": {"summary": "Failed AWS console logins detected"}},
        ],
    }],
}
GUIDE_SELECTORS = ("aws_cloudwatch_CloudTrailMetrics_AccessDeniedCount_sum",
                   "aws_cloudwatch_CloudTrailMetrics_ConsoleLoginFailures_sum")
GUIDE_GROUP_WAIT = 30
GUIDE_FOR = 120


def guide_rules_text() -> str:
    return yaml.safe_dump(GUIDE_RULES, sort_keys=False)


def guide_alertmanager_text(webhook_url: str, group_wait: int = GUIDE_GROUP_WAIT) -> str:
    """The guide's Alertmanager settings (group_wait 30s, group by alertname) with its webhook receiver (its
    "direct" option, a webhook ``body``, is rejected by every Alertmanager, so the adapter path is used)."""
    return yaml.safe_dump({
        "route": {"receiver": "teams", "group_by": ["alertname"], "group_wait": f"{group_wait}s",
                  "group_interval": "5m", "repeat_interval": "3h"},
        "receivers": [{"name": "teams", "webhook_configs": [{"url": webhook_url, "send_resolved": True}]}],
    }, sort_keys=False)


# -- cards ---------------------------------------------------------------------------------------------------

_NATIVE_LINE = re.compile(r"\*\*(FIRING|RESOLVED)\*\* (\w+) (\w+)(?: \((\w+)\))?")


@dataclass(frozen=True)
class Notice:
    """One alert as a notification carried it: status, severity, alertname, detection (or "")."""

    status: str
    severity: str
    alertname: str
    detection: str


def notices(delivery: Any) -> list[Notice]:
    """The alerts in a native card (from msteamsv2's text) or an adapter webhook payload."""
    if delivery.kind == "card":
        return [Notice(s.lower(), sev.lower(), name, det or "") for s, sev, name, det in _NATIVE_LINE.findall(
            delivery.text)]
    return [Notice(a["status"], a["labels"].get("severity", ""), a["labels"]["alertname"],
                   a["labels"].get("detection", "")) for a in delivery.payload["alerts"]]


def group_of(delivery: Any) -> tuple[str, str]:
    """(alertname, detection): the Alertmanager group (group_by alertname, detection) a delivery is for."""
    found = {(n.alertname, n.detection) for n in notices(delivery)}
    assert len(found) == 1, f"one group per notification expected, got {found}"
    return found.pop()


def status_of(delivery: Any) -> str:
    if delivery.kind == "card":
        return "resolved" if delivery.title.startswith("[RESOLVED]") else "firing"
    return delivery.payload["status"]


# -- concurrent runs -----------------------------------------------------------------------------------------

class Cancelled(Exception):
    pass


@dataclass
class RunContext:
    name: str
    workdir: Path
    cancel: threading.Event
    started: float = field(default_factory=time.time)
    cleanups: list[Callable[[], None]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    def note(self, message: str) -> None:
        self.log.append(f"{time.time() - self.started:7.1f}s {message}")

    def on_cleanup(self, fn: Callable[[], None]) -> None:
        self.cleanups.append(fn)

    def sleep_until(self, moment: float) -> None:
        while True:
            left = moment - time.time()
            if left <= 0:
                return
            if self.cancel.wait(min(left, 0.5)):
                raise Cancelled(self.name)

    def wait_for(self, predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.25) -> Any:
        """Poll until truthy; TimeoutError (with the run's log) after ``timeout`` seconds."""
        deadline = time.time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.time() >= deadline:
                raise TimeoutError(f"[{self.name}] {what}: not within {timeout:g} s\n" + "\n".join(self.log[-30:]))
            if self.cancel.wait(interval):
                raise Cancelled(self.name)

    def close(self) -> None:
        while self.cleanups:
            fn = self.cleanups.pop()
            try:
                fn()
            except Exception:  # noqa: BLE001 - cleanup must go on
                traceback.print_exc()


class Run:
    def __init__(self, name: str, fn: Callable[[RunContext], Any], workdir: Path):
        self.name = name
        self.ctx = RunContext(name, workdir, threading.Event())
        self.result: Any = None
        self.error: BaseException | None = None
        self.finished_at: float | None = None
        self.thread = threading.Thread(target=self._main, args=(fn,), name=f"e2e-{name}", daemon=True)

    def _main(self, fn: Callable[[RunContext], Any]) -> None:
        try:
            self.result = fn(self.ctx)
        except BaseException as exc:  # noqa: BLE001 - reported to the test that asks for the result
            self.error = exc
        finally:
            self.ctx.close()
            self.finished_at = time.time()

    @property
    def seconds(self) -> float:
        return (self.finished_at or time.time()) - self.ctx.started


class Runner:
    """Starts scenario runs in background threads; tests wait for the one they assert on."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.runs: dict[str, Run] = {}

    def start(self, name: str, fn: Callable[[RunContext], Any]) -> None:
        if name not in self.runs:
            run = Run(name, fn, self.workdir / name)
            run.ctx.workdir.mkdir(parents=True, exist_ok=True)
            self.runs[name] = run
            run.thread.start()

    def result(self, name: str, timeout: float) -> Any:
        run = self.runs.get(name)
        if run is None:
            raise LocalRunError(f"e2e run {name!r} was not started (no selected test asked for it)")
        run.thread.join(timeout)
        if run.thread.is_alive():
            run.ctx.cancel.set()
            run.thread.join(30)
            raise TimeoutError(f"e2e run {name!r} still running after {timeout:g} s\n" + "\n".join(run.ctx.log))
        if run.error is not None:
            raise run.error
        return run.result

    def close(self) -> None:
        for run in self.runs.values():
            run.ctx.cancel.set()
        for run in self.runs.values():
            run.thread.join(60)
            run.ctx.close()
