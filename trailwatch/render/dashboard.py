"""A Grafana dashboard: matching events per detection, firing trailwatch alerts, and pipeline health.

Every panel queries exactly the names the exporter serves (the same ``exported_name`` and the same
``trailwatch_stack`` selector the rules use), so a renamed metric cannot leave a silently empty panel and
another stack's series never show up here. The exporter serves sliding-window sums (:mod:`trailwatch.readpath`),
so the event panels show "matching events in the last window", exactly what the alerts compare with the
threshold (``max_over_time`` per step keeps a short burst visible at coarse steps).

Below them, a collapsed row holds one CloudWatch Logs Insights table per enabled detection (its catalog
``insights_query``, or the one :mod:`.insights` builds from the filter pattern) on the stack's log group and
region, through the CloudWatch data source the ``cloudwatch`` variable picks. Collapsed: Grafana runs a
collapsed row's queries only when it is opened, and every Logs Insights run is billed by the data it scans.
Targets have the shape Grafana's CloudWatch data source stores for a Logs query (``CloudWatchLogsQuery``), with
``logGroupNames``: ``logGroups`` needs each group's ARN (the account id, unknown here), Grafana's backend
queries by name outside cross-account monitoring accounts, and its editor fills ``logGroups`` in on opening.
``statsGroups`` stays empty: it only splits a ``stats ... by`` result into series for graphs; a table wants one
frame. A query is one JSON string value (``json.dumps`` escapes quotes, backslashes and control characters),
so no catalog or custom query can end the string or add panel fields.
"""

from __future__ import annotations

from typing import Any

from ..catalog import Detection
from ..contract import (
    ADAPTER_MODE, ADAPTER_NOTIFICATIONS, ADAPTER_REQUESTS_REJECTED, ADAPTER_SCRAPE_JOB, DETECTION_LABEL,
    EXPORTER_SCRAPE_JOB, NATIVE_MODE, SEVERITY_LABEL, STACK_LABEL, TEAMS_INTEGRATION, TRAILWATCH_LABEL,
    TRAILWATCH_VALUE,
)
from ..series import excepted_name, exported_name, stack_selector
from ..stack import (
    Stack, event_detections, heartbeat_detections, log_group_name, secret_pattern_ids, stack_excepted_filters,
)
from .durations import duration
from .grafana_datasource import grafana_uid
from .insights import query_for

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
#: The dashboard variable choosing the CloudWatch data source the Logs Insights panels query.
CLOUDWATCH_VARIABLE = "cloudwatch"
CLOUDWATCH = {"type": "cloudwatch", "uid": f"${{{CLOUDWATCH_VARIABLE}}}"}
FORENSICS_ROW = "Forensics (Logs Insights)"
SCHEMA_VERSION = 39


def _target(ref: str, expr: str, legend: str = "", **extra: Any) -> dict[str, Any]:
    target = {"refId": ref, "datasource": DATASOURCE, "expr": expr, "legendFormat": legend or "__auto"}
    target.update(extra)
    return target


def _panel(pid: int, kind: str, title: str, grid: tuple[int, int, int, int], targets: list[dict[str, Any]],
           description: str = "", **extra: Any) -> dict[str, Any]:
    x, y, w, h = grid
    panel = {"id": pid, "type": kind, "title": title, "description": description, "datasource": DATASOURCE,
             "gridPos": {"x": x, "y": y, "w": w, "h": h}, "targets": targets}
    panel.update(extra)
    return panel


def _bars(unit: str = "short") -> dict[str, Any]:
    return {"fieldConfig": {"defaults": {"unit": unit, "custom": {"drawStyle": "bars", "fillOpacity": 80,
                                                                  "stacking": {"mode": "normal"}}},
                            "overrides": []},
            "options": {"legend": {"displayMode": "table", "placement": "right", "calcs": ["sum"]},
                        "tooltip": {"mode": "multi", "sort": "desc"}}}


def teams_panel(stack: Stack) -> tuple[str, str, list[dict[str, Any]], dict[str, Any]]:
    """Cards per hour by outcome from this stack's adapter, or Alertmanager's msteamsv2 failures (native)."""
    if stack.settings.teams_mode == ADAPTER_MODE:
        own = stack_selector(stack, job=ADAPTER_SCRAPE_JOB)
        return ("timeseries", "Teams cards per hour (adapter)",
                [_target("A", f"sum by (result) (increase({ADAPTER_NOTIFICATIONS}_total{own}[1h]))",
                         "{{result}}"),
                 _target("B", f"sum by (reason) (increase({ADAPTER_REQUESTS_REJECTED}_total{own}[1h]))",
                         "refused: {{reason}}")], {})
    integration = TEAMS_INTEGRATION[NATIVE_MODE]
    return ("timeseries", f"Teams notification failures ({integration})",
            [_target("A", f'sum(increase(alertmanager_notifications_failed_total{{integration="{integration}"}}[1h]))',
                     "failed per hour")], {})


def insights_target(stack: Stack, det: Detection) -> dict[str, Any]:
    """One Logs Insights query on the stack's log group and region, as Grafana's CloudWatch data source stores it."""
    return {"refId": det.id, "datasource": CLOUDWATCH, "queryMode": "Logs", "id": "",
            "region": stack.settings.region, "logGroupNames": [log_group_name(stack)],
            "expression": query_for(det, det.id in secret_pattern_ids(stack)), "statsGroups": []}


def forensics_row(stack: Stack, first_id: int, y: int) -> dict[str, Any]:
    """A collapsed row at ``y`` holding one Logs Insights table per enabled detection, ids from ``first_id``."""
    where = f"{log_group_name(stack)} in {stack.settings.region}"
    panels = [
        _panel(first_id + 1 + i, "table", f"Logs Insights: {det.title}", (0, y + 1 + 8 * i, 24, 8),
               [insights_target(stack, det)],
               f"CloudWatch Logs Insights on {where}: "
               + ("the detection's own query." if det.insights_query else
                  "the filter pattern's required fields and values, a superset of the events the filter counts.")
               + " Each run is billed by the data it scans: keep the time range short.",
               datasource=CLOUDWATCH, options={"showHeader": True})
        for i, det in enumerate(stack.detections)]
    return {"id": first_id, "type": "row", "title": FORENSICS_ROW, "collapsed": True,
            "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": panels}


def dashboard(stack: Stack) -> dict[str, Any]:
    alerts = f'ALERTS{{{TRAILWATCH_LABEL}="{TRAILWATCH_VALUE}", {STACK_LABEL}="{stack.name}", alertstate="firing"}}'
    job = stack_selector(stack, job=EXPORTER_SCRAPE_JOB)
    own = stack_selector(stack)
    window = duration(stack.settings.alert_window_minutes * 60)
    panels = [
        _panel(1, "table", "Firing trailwatch alerts", (0, 0, 12, 8),
               [_target("A", f"sum by (alertname, {DETECTION_LABEL}, {SEVERITY_LABEL}) ({alerts})", format="table",
                        instant=True)],
               "Alerts firing now, from Prometheus' ALERTS series.",
               options={"showHeader": True}),
        _panel(2, "timeseries", "Firing alerts over time", (12, 0, 12, 8),
               [_target("A", f"count by (alertname) ({alerts})", "{{alertname}}")], **_bars()),
        _panel(3, "timeseries", f"Matching CloudTrail events in the last {window}, per detection", (0, 8, 24, 10),
               [_target(det.id, f"sum(max_over_time({exported_name(stack, det)}{own}[$__interval]))", det.title)
                for det in event_detections(stack)],
               f"Matching events with event times in the last {window}, as delivered so far (late deliveries "
               "raise the count when they arrive); an alert fires when a detection reaches its threshold.",
               interval="1m"),
    ]
    y = 18
    excepted = stack_excepted_filters(stack)
    if excepted:
        panels.append(_panel(
            len(panels) + 1, "timeseries", f"Excepted (not paged) CloudTrail events in the last {window}", (0, y, 24, 10),
            [_target(f"{f.detection.id}-{f.rule.id}",
                     f"sum(max_over_time({excepted_name(stack, f)}{own}[$__interval]))",
                     f"{f.detection.id}: {f.rule.reason} ({f.rule.owner}, until {f.rule.expires})")
             for f in excepted],
            "Matching events that a noise exception covers, per detection and exception: counted, never paged. "
            "A sudden rise is worth a look: the excepted principal may be doing something new.", interval="1m"))
        y += 10
    for det in heartbeat_detections(stack):
        panels.append(_panel(len(panels) + 1, "timeseries", f"CloudTrail records delivered ({det.id})",
                             (0, y, 12, 8),
                             [_target("A", f"sum(min_over_time({exported_name(stack, det)}{own}[$__interval]))",
                                      det.title)],
                             f"CloudTrail records with event times in the last "
                             f"{duration(stack.settings.heartbeat_missing_minutes * 60)}, as delivered so far; at 0 "
                             "the heartbeat alert fires.", interval="1m"))
    health = [
        ("stat", "Exporter up", [_target("A", f"up{job}", "{{instance}}")], {}),
        ("timeseries", "Exporter scrape errors", [_target("A", f"cloudwatch_exporter_scrape_error{job}",
                                                          "{{instance}}")], {}),
        ("timeseries", "Exporter scrape duration",
         [_target("A", f"cloudwatch_exporter_scrape_duration_seconds{job}", "{{instance}}")],
         {"fieldConfig": {"defaults": {"unit": "s"}, "overrides": []}}),
        ("timeseries", "CloudWatch API requests per hour (cost)",
         [_target("A", f"sum by (action) (increase(cloudwatch_requests_total{job}[1h]))", "{{action}}")], {}),
        teams_panel(stack),
    ]
    x = 12 if heartbeat_detections(stack) else 0
    for kind, title, targets, extra in health:
        panels.append(_panel(len(panels) + 1, kind, title, (x, y, 12, 8), targets, **extra))
        x = (x + 12) % 24
        if x == 0:
            y += 8
    bottom = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
    panels.append(forensics_row(stack, len(panels) + 1, bottom))
    return {
        "uid": grafana_uid("trailwatch-", stack.name),
        "title": f"trailwatch: CloudTrail detections ({stack.name})",
        "description": "CloudTrail -> CloudWatch Logs metric filters -> cloudwatch_exporter -> Prometheus alerts.",
        "tags": ["trailwatch", "cloudtrail", "security"],
        "timezone": "utc",
        "editable": True,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "refresh": "1m",
        "time": {"from": "now-24h", "to": "now"},
        "templating": {"list": [{"name": "datasource", "label": "Prometheus", "type": "datasource",
                                 "query": "prometheus", "current": {}, "hide": 0},
                                {"name": CLOUDWATCH_VARIABLE, "label": "CloudWatch", "type": "datasource",
                                 "query": "cloudwatch", "current": {}, "hide": 0}]},
        "annotations": {"list": []},
        "panels": panels,
    }
