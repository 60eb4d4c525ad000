"""Helpers for the render tests: the stacks under test, writing rendered files, reading PromQL and console
links, starting Alertmanager."""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from stacks import deployer_exception, in_days, make_stack
from tools import TOOLS_BIN, tool_path

from trailwatch.contract import TEAMS_MODES as MODES
from trailwatch.stack import PROJECT_ROOT, Stack, load_stack

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
            "offset", "inf", "nan"}


def example_stacks() -> list[str]:
    """Every example stack in the repository root (others may add more)."""
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in PROJECT_ROOT.glob("Pulumi.*.yaml"))


# Timings far from the defaults: the generated promtool tests must still hold (times derive from settings).
VARIANTS = {
    "fast": dict(alertWindowMinutes=8, deliveryLagToleranceMinutes=5, exporterDelaySeconds=30,
                 scrapeIntervalSeconds=30, heartbeatMissingMinutes=6,
                 detectionOverrides={"root_usage": {"threshold": 4}}),
    "slow": dict(alertWindowMinutes=90, deliveryLagToleranceMinutes=60, exporterDelaySeconds=600,
                 scrapeIntervalSeconds=300, heartbeatMissingMinutes=75, groupWaitSeconds=0, repeatIntervalMinutes=90),
    "kubernetes-custom": dict(
        runtime="kubernetes", teamsMode="native", teamsWebhookUrl="https://example.invalid/workflows?sig=x",
        eksOidcProviderArn="arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC",
        metricNamespace="Sec/Trail", disableDetections=["vpc_changes"], enableDetections=["access_denied"],
        detectionOverrides={"root_usage": {"threshold": 3}, "access_denied": {"threshold": 2}},
        customDetections=[{"id": "break_glass", "title": "Break-glass {{ role }} used", "severity": "critical",
                           "pattern": '{ $.userIdentity.arn = "*break-glass*" }', "metric": "BreakGlass.Use",
                           "namespace": "Other-NS", "description": "Uses {{ $value }} literally.",
                           "runbook": "Page {{ on-call }}."}]),
    # Exceptions: tuned detections (one with a threshold), two exceptions on one detection, expiries apart, and
    # the fast timings (a short window) so the guard's delay is exercised where it is tight.
    "tuned": dict(
        alertWindowMinutes=12, deliveryLagToleranceMinutes=5, scrapeIntervalSeconds=30, heartbeatMissingMinutes=10,
        detectionOverrides={"unauthorized_api_calls": {"threshold": 3}},
        exceptions=[deployer_exception(["iam_policy_changes", "security_group_changes"], days=40),
                    {"detections": ["unauthorized_api_calls"], "reason": "Monitoring integration {{ reads }}",
                     "owner": "observability", "expires": in_days(200),
                     "match": {"userIdentity.sessionContext.sessionIssuer.arn":
                               "arn:aws:iam::111122223333:role/DatadogIntegrationRole"}},
                    {"detections": ["unauthorized_api_calls", "iam_policy_changes"], "reason": "Read-only SSO users",
                     "owner": "identity-team", "expires": in_days(10),
                     "match": {"userIdentity.sessionContext.sessionIssuer.arn":
                               "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/"
                               "AWSReservedSSO_ReadOnly_*", "userAgent": "*console*"}}]),
}


def _stacks() -> dict[str, Stack]:
    out = {f"example-{name}": load_stack(name) for name in example_stacks()}
    out.update({f"variant-{name}": make_stack(f"v-{name}", **settings) for name, settings in VARIANTS.items()})
    return out


#: Every example stack in the repository root, plus the timing/feature variants.
STACKS = _stacks()


def unit_test_modes(name: str, stack: Stack) -> tuple[str, ...]:
    """Every stack is unit-tested in its own Teams mode, dev in both (the modes' rules differ only in the
    Teams integration the failure alert watches); ``promtool check rules`` still runs on both everywhere.
    Each run costs about a second of CPU: promtool evaluates every rule every minute of the timeline."""
    return MODES if name == "example-dev" else (stack.settings.teams_mode,)


def write_files(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (strings, label matchers and ranges removed first)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\((?:by|without|on|ignoring|group_left|group_right)\b", "(", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text):
        rest = text[match.end():].lstrip()
        if rest.startswith("(") or match.group(0) in KEYWORDS:
            continue
        names.add(match.group(0))
    return names


def decode_insights_url(url: str) -> dict:
    """Undo the console's Logs Insights link encoding (the inverse of trailwatch.render.insights)."""
    prefix = "logsV2:logs-insights"
    fragment = urllib.parse.urlsplit(url).fragment
    assert fragment.startswith(prefix), fragment
    detail = urllib.parse.unquote(urllib.parse.unquote(fragment[len(prefix):].replace("$", "%")))
    assert detail.startswith("?queryDetail=~(") and detail.endswith(")"), detail
    body = detail[len("?queryDetail=~("):-1]
    out: dict = {}
    tokens = re.findall(r"\(~[^)]*\)|[^~]+", body)
    for key, value in zip(tokens[::2], tokens[1::2]):
        out[key] = _decode_value(value)
    return out


def _decode_value(value: str):
    if value.startswith("(~"):
        return [_decode_value(v) for v in value[2:-1].split("~")]
    if value.startswith("'"):
        return urllib.parse.unquote(value[1:].replace("*", "%"))
    return int(value)


def serve_text(text: str) -> ThreadingHTTPServer:
    """A local HTTP server answering every GET with ``text`` (Prometheus exposition format)."""
    body = text.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            """Prometheus hanging up mid-answer (its scrape timeout, or its shutdown) is normal here; the
            default prints a traceback on the stderr of whatever test is running in this process."""

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


DEBIAN_AM_SHARE = Path("/usr/share/prometheus/alertmanager")


def alertmanager_argv() -> list[str]:
    """The alertmanager command line. Debian's build reads ``default.tmpl`` from /usr/share/prometheus/
    alertmanager/ and refuses every config without it; when only ``make tools``' unpacked copy exists, run
    the binary in a private mount namespace with that copy overlaid on /usr/share (nothing on the machine
    changes). Upstream builds embed the template and run as they are."""
    binary = tool_path("alertmanager")
    unpacked = TOOLS_BIN.parent / "root" / "prometheus-alertmanager" / "usr" / "share"
    if (DEBIAN_AM_SHARE / "default.tmpl").exists() or not (unpacked / "prometheus/alertmanager/default.tmpl").exists():
        return [binary]
    unshare = shutil.which("unshare")
    assert unshare, f"unshare (util-linux) is needed to give {binary} its default.tmpl from {unpacked}"
    script = 'mount -t overlay overlay -o "lowerdir=$1:/usr/share" /usr/share && shift && exec "$@"'
    return [unshare, "--user", "--map-root-user", "--mount", "--", "sh", "-c", script, "sh", str(unpacked),
            os.path.realpath(binary)]


def adapter_metric_names() -> set[str]:
    """Sample names the Teams adapter's /metrics serves from its start (what rules and panels may read)."""
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from trailwatch.adapter import Metrics
    text = generate_latest(Metrics().registry).decode()
    return {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}
