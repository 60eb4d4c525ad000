"""The adapter's test chain: Logs emulator, Teams stand-in, the adapter as a process, real Alertmanager.

Alerts are built with the rule renderer's own label and annotation functions, so they carry exactly what
the Prometheus rules put on them, and reach the adapter through a real Alertmanager posting with
``http_config.authorization.credentials_file``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml

from trailwatch.localrun.processes import Alertmanager, free_port
from trailwatch.render.adapter import adapter_config
from trailwatch.render.common import detection_alert_name
from trailwatch.render.rules import detection_annotations, detection_labels
from trailwatch.stack import Stack, log_group_name, stack_from_config

REPO = Path(__file__).resolve().parents[2]
TOKEN = "test-bearer-token-0123456789abcdef"
STACK = stack_from_config("adaptertest", {"aws:region": "us-east-1", "trailwatch:runtime": "none"})
LOG_GROUP = log_group_name(STACK)
ACCOUNT = "123456789012"
#: A value only requestParameters/responseElements hold: it must never reach a card.
CANARY = "canary-request-parameter-value"
AM_WEBHOOK_TIMEOUT = 3


def chain_config(stack: Stack = STACK, **overrides: Any) -> dict[str, Any]:
    """The rendered config with the shorter budgets a test chain needs (the config file is the adapter's input)."""
    config = adapter_config(stack)
    config["delivery_budget_seconds"] = 4  # below the test Alertmanager's 3 s webhook timeout + one retry
    config.update(overrides)
    return config


def cloudtrail(event_name: str, when: datetime, *, identity: str = "Root", arn: str | None = None,
               error: str | None = None, source_ip: str = "198.51.100.7", region: str = "eu-west-1",
               invoked_by: str | None = None, **extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "eventVersion": "1.09", "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "eventName": event_name,
        "eventSource": "signin.amazonaws.com" if event_name == "ConsoleLogin" else "iam.amazonaws.com",
        "eventID": f"ev-{event_name}-{int(when.timestamp())}-{identity}", "eventType": "AwsApiCall",
        "awsRegion": region, "sourceIPAddress": source_ip, "recipientAccountId": "210987654321",
        "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                     "Version/17.5 Safari/605.1.15",
        "userIdentity": {"type": identity, "accountId": "210987654321",
                         "arn": arn or (f"arn:aws:iam::210987654321:root" if identity == "Root"
                                        else "arn:aws:iam::210987654321:user/alice")},
        "requestParameters": {"secretThing": CANARY}, "responseElements": {"ConsoleLogin": "Success",
                                                                           "token": CANARY},
        **extra,
    }
    if invoked_by:
        record["userIdentity"]["invokedBy"] = invoked_by
    if error:
        record["errorCode"] = error
    return record


def detection_alert(det_id: str, starts: datetime, ends: datetime | None = None, **labels: str) -> dict[str, Any]:
    det = next(d for d in STACK.detections if d.id == det_id)
    out = {"labels": {"alertname": detection_alert_name(det), **detection_labels(STACK, det), **labels},
           "annotations": detection_annotations(STACK, det, value="1", account_id=ACCOUNT, template=False),
           "startsAt": starts.isoformat()}
    if ends:
        out["endsAt"] = ends.isoformat()
    return out


def now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def ago(minutes: float) -> datetime:
    return now() - timedelta(minutes=minutes)


class AdapterProcess:
    """``python -m trailwatch.adapter`` with its files in ``workdir``; stderr goes to ``adapter.log``."""

    def __init__(self, workdir: Path, teams_url: str, logs_url: str, config: dict[str, Any] | None = None,
                 log_level: str = "info"):
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        (workdir / "config.json").write_text(json.dumps(config or chain_config()))
        (workdir / "url").write_text(teams_url + "\n")
        (workdir / "token").write_text(TOKEN + "\n")
        self.log_path = workdir / "adapter.log"
        self.argv = [sys.executable, "-m", "trailwatch.adapter", "--config", str(workdir / "config.json"),
                     "--webhook-url-file", str(workdir / "url"), "--token-file", str(workdir / "token"),
                     "--listen", f"127.0.0.1:{self.port}", "--log-level", log_level]
        # No AWS account: fixed dummy credentials, the emulator as the Logs endpoint (standard SDK variables).
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
                    "AWS_ACCESS_KEY_ID": "AKIAEXAMPLEEXAMPLE00", "AWS_SECRET_ACCESS_KEY": "test-secret-key",
                    "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": logs_url, "AWS_EC2_METADATA_DISABLED": "true",
                    "PYTHONPATH": str(REPO)}
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "AdapterProcess":
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv, cwd=REPO, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"adapter exited {self.proc.returncode}: {self.log()}")
            if request(self.url + "/healthz")[0] == 200:
                return self
            time.sleep(0.05)
        raise RuntimeError(f"adapter not ready: {self.log()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def metric(self, name: str, **labels: str) -> float:
        """One sample of the adapter's /metrics (0 when absent)."""
        from prometheus_client.parser import text_string_to_metric_families
        _, body = request(self.url + "/metrics")
        for family in text_string_to_metric_families(body.decode()):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    return sample.value
        return 0.0


def request(url: str, data: bytes | None = None, headers: dict[str, str] | None = None,
            method: str | None = None, timeout: float = 15) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (urllib.error.URLError, OSError):
        return 0, b""


def alertmanager_config(adapter_url: str, token_file: Path) -> dict[str, Any]:
    """Short timings for tests; one group per (alertname, detection, case) so tests do not share groups."""
    return {
        "route": {"receiver": "default", "routes": [{
            "receiver": "trailwatch-teams", "matchers": ['trailwatch="true"'],
            "group_by": ["alertname", "detection", "case"], "group_wait": "1s", "group_interval": "2s",
            "repeat_interval": "1h"}]},
        "receivers": [{"name": "default"}, {"name": "trailwatch-teams", "webhook_configs": [{
            "url": f"{adapter_url}/alerts", "send_resolved": True, "timeout": f"{AM_WEBHOOK_TIMEOUT}s",
            "http_config": {"authorization": {"type": "Bearer", "credentials_file": str(token_file)}}}]}],
    }


def start_alertmanager(workdir: Path, adapter_url: str) -> Alertmanager:
    workdir.mkdir(parents=True, exist_ok=True)
    token = workdir / "adapter-token"
    token.write_text(TOKEN + "\n")
    config = workdir / "alertmanager.yml"
    config.write_text(yaml.safe_dump(alertmanager_config(adapter_url, token), sort_keys=False))
    return Alertmanager(workdir, config).start()


def post_alerts(am: Alertmanager, alerts: list[dict[str, Any]]) -> None:
    status, body = request(am.url + "/api/v2/alerts", json.dumps(alerts).encode(),
                           {"Content-Type": "application/json"})
    assert status == 200, body


def am_metric(am: Alertmanager, name: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families
    _, body = request(am.url + "/metrics")
    total = 0.0
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total
