"""Alertmanager routing for trailwatch alerts, as a fragment, a complete example and an AlertmanagerConfig.

One route per stack matches ``trailwatch="true"`` and ``trailwatch_stack="<stack>"`` (every rule carries both)
and groups by ``alertname``, ``detection`` and the stack, so each detection of each stack gets its own Teams card
and a burst of the same event updates that card instead of posting many. Receivers are named after the stack
(``trailwatch-<stack>-teams``), so several stacks' fragments merge into one Alertmanager config.
``group_wait`` is short: these are security events.

Repeat events: a new matching event while a detection's alert is already firing raises its value but not its
identity, so Alertmanager posts no new card for it until ``repeat_interval`` (``repeatIntervalMinutes``) has
passed since the last card; that setting bounds the silence.

Two Teams paths:
  * ``adapter``: ``webhook_configs`` to trailwatch's adapter (``http://<adapter>:8080/alerts``, bearer token
    from ``http_config.authorization.credentials_file``), which builds the card and posts it to Teams.
  * ``native``: ``msteamsv2_configs`` (Alertmanager >= 0.28) posting the Adaptive Card itself; the Workflows
    URL is a credential (its ``sig=`` parameter), so it is read from ``webhook_url_file``, never inlined.

Adapter mode sets nothing newer than Alertmanager 0.22 (matchers), so it also fits older installs.

Inhibitions (within one stack): exporter down silences heartbeat-missing and scrape errors (one cause,
one card); scrape errors silence heartbeat-missing (no CloudWatch reads means no heartbeat datapoints).
"""

from __future__ import annotations

from typing import Any

from ..contract import (
    ADAPTER_MODE, ALERT_EXPORTER_DOWN, ALERT_HEARTBEAT_MISSING, ALERT_SCRAPE_ERRORS, DETECTION_LABEL, STACK_LABEL,
    TRAILWATCH_LABEL, TRAILWATCH_VALUE,
)
from ..stack import Stack
from .durations import duration
from .options import DEFAULT_ADAPTER_URL, check_mode
from .yaml_text import dump_yaml, generated_header

GROUP_BY = ("alertname", DETECTION_LABEL, STACK_LABEL)
DEFAULT_ADAPTER_TOKEN_FILE = "/etc/alertmanager/secrets/trailwatch-adapter-token"
DEFAULT_WEBHOOK_URL_FILE = "/etc/alertmanager/secrets/trailwatch-teams-webhook-url"

# Adaptive Card text for native mode (Alertmanager templates; Teams renders a Markdown subset).
NATIVE_TITLE = (
    '{{ if eq .Status "firing" }}[FIRING:{{ .Alerts.Firing | len }}]{{ else }}[RESOLVED]{{ end }} '
    '{{ if .CommonAnnotations.summary }}{{ .CommonAnnotations.summary }}{{ else }}{{ .CommonLabels.alertname }}'
    '{{ end }}'
)
NATIVE_TEXT = """{{ range .Alerts }}**{{ .Status | toUpper }}** {{ .Labels.severity | toUpper }} {{ .Labels.alertname }}{{ if .Labels.detection }} ({{ .Labels.detection }}){{ end }}

{{ .Annotations.description }}

{{ if .Annotations.runbook }}**Runbook:** {{ .Annotations.runbook }}

{{ end }}{{ if .Annotations.aws_region }}**Where:** {{ if .Annotations.aws_account_id }}account {{ .Annotations.aws_account_id }}, {{ end }}{{ .Annotations.aws_region }}{{ if .Annotations.log_group }}, {{ .Annotations.log_group }}{{ end }}

{{ end }}{{ if .Annotations.compliance }}**Compliance:** {{ .Annotations.compliance }}

{{ end }}{{ if .Annotations.logs_insights_url }}[Open the events in CloudWatch Logs Insights]({{ .Annotations.logs_insights_url }})

{{ end }}{{ end }}"""


def _matcher_strings(pairs: list[tuple[str, str, str]]) -> list[str]:
    return [f'{name}{op}"{value}"' for name, op, value in pairs]


def _matcher_objects(pairs: list[tuple[str, str, str]]) -> list[dict[str, str]]:
    return [{"name": name, "value": value, "matchType": op} for name, op, value in pairs]


def receiver_name(stack: Stack) -> str:
    return f"trailwatch-{stack.name}-teams"


def route_match(stack: Stack) -> list[tuple[str, str, str]]:
    return [(TRAILWATCH_LABEL, "=", TRAILWATCH_VALUE), (STACK_LABEL, "=", stack.name)]


_INHIBITIONS = [
    ([(TRAILWATCH_LABEL, "=", TRAILWATCH_VALUE), ("alertname", "=", ALERT_EXPORTER_DOWN)],
     [(TRAILWATCH_LABEL, "=", TRAILWATCH_VALUE),
      ("alertname", "=~", f"{ALERT_HEARTBEAT_MISSING}|{ALERT_SCRAPE_ERRORS}")]),
    ([(TRAILWATCH_LABEL, "=", TRAILWATCH_VALUE), ("alertname", "=", ALERT_SCRAPE_ERRORS)],
     [(TRAILWATCH_LABEL, "=", TRAILWATCH_VALUE), ("alertname", "=", ALERT_HEARTBEAT_MISSING)]),
]
#: Source and target must come from the same trailwatch stack (several may share one Alertmanager).
INHIBIT_EQUAL = [STACK_LABEL]


def _timings(stack: Stack) -> dict[str, str]:
    s = stack.settings
    return {"group_wait": duration(s.group_wait_seconds), "group_interval": duration(s.group_interval_seconds),
            "repeat_interval": duration(s.repeat_interval_minutes * 60)}


def route(stack: Stack) -> dict[str, Any]:
    return {"receiver": receiver_name(stack), "matchers": _matcher_strings(route_match(stack)),
            "group_by": list(GROUP_BY),
            **_timings(stack), "continue": False}


def receiver(stack: Stack, mode: str | None, adapter_url: str | None = None,
             webhook_url_file: str = DEFAULT_WEBHOOK_URL_FILE,
             adapter_token_file: str = DEFAULT_ADAPTER_TOKEN_FILE) -> dict[str, Any]:
    mode = check_mode(mode, stack)
    if mode == ADAPTER_MODE:
        return {"name": receiver_name(stack), "webhook_configs": [
            {"url": adapter_url or DEFAULT_ADAPTER_URL, "send_resolved": True,
             "http_config": {"authorization": {"type": "Bearer", "credentials_file": adapter_token_file}}}]}
    return {"name": receiver_name(stack), "msteamsv2_configs": [
        {"webhook_url_file": webhook_url_file, "send_resolved": True, "title": NATIVE_TITLE, "text": NATIVE_TEXT}]}


def inhibit_rules() -> list[dict[str, Any]]:
    return [{"source_matchers": _matcher_strings(src), "target_matchers": _matcher_strings(dst),
             "equal": list(INHIBIT_EQUAL)} for src, dst in _INHIBITIONS]


def alertmanager_fragment(stack: Stack, mode: str | None, adapter_url: str | None = None, *,
                          webhook_url_file: str = DEFAULT_WEBHOOK_URL_FILE,
                          adapter_token_file: str = DEFAULT_ADAPTER_TOKEN_FILE) -> dict[str, Any]:
    """``{route, receivers, inhibit_rules}``: add the route under your root route's ``routes:`` (before any
    catch-all), the receiver to ``receivers:`` and the rules to ``inhibit_rules:``."""
    return {"route": route(stack),
            "receivers": [receiver(stack, mode, adapter_url, webhook_url_file, adapter_token_file)],
            "inhibit_rules": inhibit_rules()}


def combined_config(fragments: list[dict[str, Any]]) -> dict[str, Any]:
    """A complete Alertmanager config holding several stacks' fragments (one Alertmanager for N stacks): a
    do-nothing default receiver, one route and receiver per stack, the inhibit rules once each."""
    inhibit: list[dict[str, Any]] = []
    for fragment in fragments:
        inhibit += [rule for rule in fragment["inhibit_rules"] if rule not in inhibit]
    return {
        "route": {"receiver": "default", "group_by": ["alertname"], "routes": [f["route"] for f in fragments]},
        "receivers": [{"name": "default"}, *(r for f in fragments for r in f["receivers"])],
        "inhibit_rules": inhibit,
    }


def alertmanager_example(stack: Stack, mode: str | None, adapter_url: str | None = None, *,
                         webhook_url_file: str = DEFAULT_WEBHOOK_URL_FILE,
                         adapter_token_file: str = DEFAULT_ADAPTER_TOKEN_FILE) -> str:
    """A complete alertmanager.yml: a do-nothing default receiver, the trailwatch route, receiver and rules."""
    mode = check_mode(mode, stack)
    config = combined_config([alertmanager_fragment(stack, mode, adapter_url, webhook_url_file=webhook_url_file,
                                                    adapter_token_file=adapter_token_file)])
    note = (f"Teams via trailwatch's adapter (adapter mode): put its bearer token in {adapter_token_file}."
            if mode == ADAPTER_MODE else
            f"Teams via msteamsv2_configs (native mode, Alertmanager >= 0.28): put the Teams Workflows URL in "
            f"{webhook_url_file}.")
    return dump_yaml(config, generated_header(stack, f"Example alertmanager.yml for trailwatch. {note}"))


def alertmanager_config_spec(stack: Stack, mode: str | None, adapter_url: str | None, webhook_secret_name: str,
                             webhook_secret_key: str) -> dict[str, Any]:
    """``spec`` of a monitoring.coreos.com/v1alpha1 AlertmanagerConfig (camelCase). The operator adds a
    ``namespace`` matcher to the route; the rules carry that label on Kubernetes for this reason.
    ``webhook_secret_*`` name the Secret key of the Teams path: the Workflows URL (native) or the adapter's
    bearer token (adapter)."""
    mode = check_mode(mode, stack)
    t = _timings(stack)
    if mode == ADAPTER_MODE:
        teams = {"webhookConfigs": [{"url": adapter_url or DEFAULT_ADAPTER_URL, "sendResolved": True}]}
        if webhook_secret_name:
            teams["webhookConfigs"][0]["httpConfig"] = {"authorization": {
                "type": "Bearer", "credentials": {"name": webhook_secret_name, "key": webhook_secret_key}}}
    else:
        teams = {"msteamsv2Configs": [{"webhookURL": {"name": webhook_secret_name, "key": webhook_secret_key},
                                       "sendResolved": True, "title": NATIVE_TITLE, "text": NATIVE_TEXT}]}
    return {
        "route": {"receiver": receiver_name(stack), "matchers": _matcher_objects(route_match(stack)),
                  "groupBy": list(GROUP_BY),
                  "groupWait": t["group_wait"], "groupInterval": t["group_interval"],
                  "repeatInterval": t["repeat_interval"]},
        "receivers": [{"name": receiver_name(stack), **teams}],
        "inhibitRules": [{"sourceMatch": _matcher_objects(src), "targetMatch": _matcher_objects(dst),
                          "equal": list(INHIBIT_EQUAL)} for src, dst in _INHIBITIONS],
    }
