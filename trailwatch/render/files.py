"""Everything ``render`` writes, as {relative path: text}, plus an INDEX.md saying where each file goes.

Pure: the command only writes this mapping to disk, and the tests run promtool/amtool on the same mapping.
The Teams Workflows URL never appears: it is a credential, so the adapter reads it from its own file and
native mode from ``webhook_url_file``.
"""

from __future__ import annotations

import json

from ..contract import (
    ADAPTER_MODE, ALERT_EXCEPTION_EXPIRED, EXPORTER_PORT, EXPORTER_SCRAPE_JOB, TRAILWATCH_LABEL, TRAILWATCH_VALUE,
)
from ..series import exported_name
from ..stack import Stack, event_detections, exported_detections, heartbeat_detections, log_group_name
from .adapter import render_adapter_config
from .alertmanager import DEFAULT_ADAPTER_TOKEN_FILE, DEFAULT_WEBHOOK_URL_FILE, alertmanager_example, alertmanager_fragment
from .dashboard import dashboard
from .exporter import render_exporter_config
from .options import (
    DEFAULT_ADAPTER_URL, EXAMPLE_EXPORTER_TARGET, adapter_target, check_account_id, check_adapter_url,
    check_exporter_target, with_mode,
)
from .promtests import eval_times, render_expiry_tests, render_rule_tests
from .rules import render_rules
from .scrape import render_scrape_config
from .yaml_text import dump_yaml, generated_header

EXPORTER_FILE = "cloudwatch-exporter/config.yml"
RULES_FILE = "prometheus/trailwatch-rules.yml"
RULE_TESTS_FILE = "prometheus/trailwatch-rules.test.yml"
EXPIRY_TESTS_FILE = "prometheus/trailwatch-rules.expiry.test.yml"
SCRAPE_FILE = "prometheus/scrape-config.yml"
AM_FRAGMENT_FILE = "alertmanager/trailwatch-route.yml"
AM_EXAMPLE_FILE = "alertmanager/alertmanager.yml"
ADAPTER_CONFIG_FILE = "teams-adapter/config.json"
DASHBOARD_FILE = "grafana/trailwatch-dashboard.json"
INDEX_FILE = "INDEX.md"


def render_all(stack: Stack, mode: str | None = None, *, account_id: str | None = None,
               adapter_url: str | None = None, webhook_url_file: str = DEFAULT_WEBHOOK_URL_FILE,
               adapter_token_file: str = DEFAULT_ADAPTER_TOKEN_FILE,
               exporter_target: str = EXAMPLE_EXPORTER_TARGET) -> dict[str, str]:
    """Every rendered file for ``stack`` in Teams ``mode`` (default: the stack's teamsMode)."""
    check_account_id(account_id)
    check_adapter_url(adapter_url)
    check_exporter_target(exporter_target)
    stack = with_mode(stack, mode)
    mode = stack.settings.teams_mode
    rules_name = RULES_FILE.rsplit("/", 1)[1]
    files = {
        EXPORTER_FILE: render_exporter_config(stack),
        RULES_FILE: render_rules(stack, account_id),
        RULE_TESTS_FILE: render_rule_tests(stack, rules_name, account_id),
        SCRAPE_FILE: render_scrape_config(stack, exporter_target,
                                          adapter_target(adapter_url or DEFAULT_ADAPTER_URL)),
        AM_FRAGMENT_FILE: dump_yaml(
            alertmanager_fragment(stack, mode, adapter_url, webhook_url_file=webhook_url_file,
                                  adapter_token_file=adapter_token_file),
            generated_header(stack, "trailwatch's Alertmanager route, receiver and inhibit rules: merge into your "
                                    "alertmanager.yml (route under route.routes, before any catch-all).")),
        AM_EXAMPLE_FILE: alertmanager_example(stack, mode, adapter_url, webhook_url_file=webhook_url_file,
                                              adapter_token_file=adapter_token_file),
        DASHBOARD_FILE: json.dumps(dashboard(stack), indent=2) + "\n",
    }
    expiry = render_expiry_tests(stack, rules_name, account_id)
    if expiry:
        files[EXPIRY_TESTS_FILE] = expiry
    if mode == ADAPTER_MODE:
        files[ADAPTER_CONFIG_FILE] = render_adapter_config(stack)
    files[INDEX_FILE] = index(stack, files, adapter_url or DEFAULT_ADAPTER_URL, webhook_url_file, adapter_token_file)
    return files


def index(stack: Stack, files: dict[str, str], adapter_url: str, webhook_url_file: str,
          adapter_token_file: str) -> str:
    s = stack.settings
    times = eval_times(s)
    mode = s.teams_mode
    lines = [
        f"# trailwatch render: stack `{stack.name}`, Teams mode `{mode}`",
        "",
        f"Region {s.region}, log group `{log_group_name(stack)}`, {len(event_detections(stack))} detection alerts, "
        f"{len(heartbeat_detections(stack))} heartbeat, {len(exported_detections(stack))} exporter metrics.",
        "Generated files: edit the catalog or the stack config and render again instead of editing them.",
        "",
        "| File | Where it goes |",
        "| --- | --- |",
        f"| `{EXPORTER_FILE}` | cloudwatch_exporter config: `/config/config.yml` in image `{s.exporter_image}` "
        f"(`java -jar cloudwatch_exporter.jar {EXPORTER_PORT} <file>` otherwise), port {EXPORTER_PORT}. Needs "
        "`cloudwatch:GetMetricStatistics`, `cloudwatch:GetMetricData`, `cloudwatch:ListMetrics`. |",
        f"| `{SCRAPE_FILE}` | Add the job to `scrape_configs:` in prometheus.yml (point the target at the exporter). "
        f"Keep `job_name: {EXPORTER_SCRAPE_JOB}`: the exporter-health alerts select on it. With the Prometheus "
        "Operator use a ServiceMonitor that yields the same `job` instead. |",
        f"| `{RULES_FILE}` | Add to `rule_files:` in prometheus.yml (or wrap in a PrometheusRule). |",
        f"| `{RULE_TESTS_FILE}` | `promtool test rules {RULE_TESTS_FILE.rsplit('/', 1)[1]}` next to the rules: one "
        f"event at minute {times.event} fires at minute {times.firing} and is gone at minute {times.resolved}. |",
        *([f"| `{EXPIRY_TESTS_FILE}` | `promtool test rules {EXPIRY_TESTS_FILE.rsplit('/', 1)[1]}` next to the rules: "
             f"each noise exception fires {ALERT_EXCEPTION_EXPIRED} after its day and stops hiding events. |"]
          if EXPIRY_TESTS_FILE in files else []),
        f"| `{AM_FRAGMENT_FILE}` | Merge into alertmanager.yml: the route (matches "
        f"`{TRAILWATCH_LABEL}=\"{TRAILWATCH_VALUE}\"`) "
        "under `route.routes` before any catch-all, the receiver, the inhibit rules. |",
        f"| `{AM_EXAMPLE_FILE}` | A complete alertmanager.yml built around that fragment; `amtool check-config` it. |",
    ]
    if mode == ADAPTER_MODE:
        lines += [
            f"| `{ADAPTER_CONFIG_FILE}` | trailwatch's Teams adapter `--config` (no secret in it): `python -m "
            "trailwatch.adapter --config config.json --webhook-url-file <file holding the Teams Workflows URL> "
            "--token-file <file holding a random token>`, or the image built from `docker/adapter/Dockerfile`. "
            f"Alertmanager posts to `{adapter_url}` with the same token in `{adapter_token_file}`. Its "
            "AWS identity needs `logs:FilterLogEvents` on the log group only. |",
        ]
    else:
        lines.append(f"| (secret) `{webhook_url_file}` | Native mode (Alertmanager >= 0.28): a file holding only the "
                     "Teams Workflows URL, readable by Alertmanager. |")
    lines += [
        f"| `{DASHBOARD_FILE}` | Grafana: Dashboards > New > Import (choose the Prometheus data source). |",
        f"| `{INDEX_FILE}` | This file. |",
        "",
        "## Detections",
        "",
        "| Detection | Severity | Threshold | Prometheus series |",
        "| --- | --- | --- | --- |",
    ]
    for det in event_detections(stack):
        lines.append(f"| `{det.id}` | {det.severity} | {det.threshold} | `{exported_name(stack, det)}` |")
    for det in heartbeat_detections(stack):
        lines.append(f"| `{det.id}` (heartbeat) | {det.severity} when missing for {s.heartbeat_missing_minutes}m | - | "
                     f"`{exported_name(stack, det)}` |")
    return "\n".join(lines) + "\n"
