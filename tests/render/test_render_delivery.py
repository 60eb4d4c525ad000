"""The rendered Alertmanager configs deliver, checked with a real Alertmanager and a local HTTP sink.

Teams cannot be reached from here, so a local server stands in for both trailwatch's Teams adapter (adapter
mode: the webhook v4 payload and the bearer token from ``credentials_file``) and the Teams Workflows endpoint
(native mode). The adapter's own cards are tested against real Alertmanager in tests/adapter.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml
from render_support import alertmanager_argv, free_port
from stacks import make_stack
from tools import run_tool

from trailwatch.render.alertmanager import DEFAULT_ADAPTER_TOKEN_FILE, alertmanager_example, receiver_name
from trailwatch.contract import TEAMS_INTEGRATION, detection_alert_name
from trailwatch.render.rules import detection_annotations, detection_labels

TIMEOUT = 15


class Sink:
    """Records every POST (path, JSON body) and answers 200."""

    def __init__(self):
        self.received: queue.Queue = queue.Queue()
        self.authorization: queue.Queue = queue.Queue()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                sink.received.put((self.path, json.loads(body)))
                sink.authorization.put(self.headers.get("Authorization"))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"1")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def next(self):
        return self.received.get(timeout=TIMEOUT)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sink():
    server = Sink()
    yield server
    server.close()


@pytest.fixture
def stack():
    # Send at once and flush resolutions quickly; everything else as rendered for users.
    return make_stack("delivery", groupWaitSeconds=0, groupIntervalSeconds=1)


def start_alertmanager(tmp_path, config_text: str) -> tuple[subprocess.Popen, str]:
    config = tmp_path / "alertmanager.yml"
    config.write_text(config_text)
    check = run_tool("amtool", "check-config", config)
    assert check.returncode == 0, check.stdout + check.stderr
    port = free_port()
    proc = subprocess.Popen([*alertmanager_argv(), f"--config.file={config}", f"--storage.path={tmp_path}/data",
                             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
                             "--log.level=warn"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:
                if response.status == 200:
                    return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"alertmanager did not start: {proc.communicate()[1]}")
            time.sleep(0.1)


def post_alert(url: str, stack, ends_at: datetime | None = None) -> dict:
    det = next(d for d in stack.detections if d.id == "root_usage")
    alert = {"labels": {"alertname": detection_alert_name(det), **detection_labels(stack, det)},
             "annotations": detection_annotations(stack, det, "1", template=False),
             "startsAt": (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat()}
    if ends_at:
        alert["endsAt"] = ends_at.isoformat()
    request = urllib.request.Request(f"{url}/api/v2/alerts", data=json.dumps([alert]).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200
    return alert


def integrations(url: str) -> set[str]:
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {line.split('integration="')[1].split('"')[0] for line in text.splitlines()
            if line.startswith("alertmanager_notifications_failed_total{")}


def test_adapter_mode_posts_webhook_v4_with_the_bearer_token(tmp_path, sink, stack):
    token = tmp_path / "adapter-token"
    token.write_text("rendered-config-token-0123456789\n")
    assert DEFAULT_ADAPTER_TOKEN_FILE in alertmanager_example(stack, "adapter")
    config = alertmanager_example(stack, "adapter", f"http://127.0.0.1:{sink.port}/alerts",
                                  adapter_token_file=str(token))
    assert "rendered-config-token" not in config  # the token stays in its file
    proc, url = start_alertmanager(tmp_path, config)
    try:
        assert TEAMS_INTEGRATION["adapter"] in integrations(url)
        sent = post_alert(url, stack)
        path, payload = sink.next()
        assert path == "/alerts"
        assert sink.authorization.get(timeout=TIMEOUT) == "Bearer rendered-config-token-0123456789"
        assert payload["version"] == "4" and payload["status"] == "firing"
        assert payload["receiver"] == receiver_name(stack)
        assert payload["groupLabels"] == {"alertname": "TrailwatchRootUsage", "detection": "root_usage",
                                          "trailwatch_stack": stack.name}
        assert payload["alerts"][0]["annotations"] == sent["annotations"]
        post_alert(url, stack, ends_at=datetime.now(timezone.utc) - timedelta(seconds=1))
        _, resolved = sink.next()
        assert resolved["status"] == "resolved"  # send_resolved: true
    finally:
        proc.kill()
        proc.wait()


def test_native_mode_posts_an_adaptive_card_from_webhook_url_file(tmp_path, sink, stack):
    secret = tmp_path / "teams-webhook-url"
    secret.write_text(f"http://127.0.0.1:{sink.port}/workflows/trailwatch?sig=test\n")
    config = alertmanager_example(stack, "native", webhook_url_file=str(secret))
    assert str(sink.port) not in config  # the URL stays in the file
    assert yaml.safe_load(config)["receivers"][1]["msteamsv2_configs"][0]["webhook_url_file"] == str(secret)
    proc, url = start_alertmanager(tmp_path, config)
    try:
        assert TEAMS_INTEGRATION["native"] in integrations(url)
        sent = post_alert(url, stack)
        path, body = sink.next()
        assert path == "/workflows/trailwatch?sig=test"
        assert body["type"] == "message"
        attachment = body["attachments"][0]
        assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
        text = json.dumps(attachment["content"])
        assert "[FIRING:1] Usage of the root user/account" in text
        assert json.dumps(sent["annotations"]["description"])[1:-1] in text
        link = f"[Open the events in CloudWatch Logs Insights]({sent['annotations']['logs_insights_url']})"
        assert json.dumps(link)[1:-1] in text
    finally:
        proc.kill()
        proc.wait()
