"""The adapter's test chain: Logs emulator, Teams stand-in, the adapter as a process, real Alertmanager.

Alerts are built with the rule renderer's own label and annotation functions, so they carry exactly what
the Prometheus rules put on them, and reach the adapter through a real Alertmanager posting with
``http_config.authorization.credentials_file``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml

from trailwatch.localrun import Alertmanager, TeamsAdapter
from trailwatch.contract import detection_alert_name
from trailwatch.render import adapter_config, detection_annotations, detection_labels
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


class AdapterProcess(TeamsAdapter):
    """The adapter process with its config, URL and token files written to ``workdir``."""

    def __init__(self, workdir: Path, teams_url: str, logs_url: str, config: dict[str, Any] | None = None,
                 log_level: str = "info", **options: Any):
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "config.json").write_text(json.dumps(config or chain_config()))
        (workdir / "url").write_text(teams_url + "\n")
        (workdir / "token").write_text(TOKEN + "\n")
        super().__init__(workdir, workdir / "config.json", workdir / "url", workdir / "token", logs_url,
                         log_level=log_level, **options)

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
