"""The names and values every trailwatch output must agree on, each defined once.

The exporter config, the scrape config or ServiceMonitor, the alert rules and their promtool tests, the
Alertmanager route, the dashboard, the Teams adapter and its card, the settings, the Pulumi components and the
policies are written by different modules and read by different processes (Prometheus, Alertmanager, the
adapter, the Pulumi engine). They only work together while they spell these values the same way: a route that
matches a label no rule sets, or an exporter-health alert on a scrape job nobody scrapes, fails silently. So
each value lives here and the others import it; nothing else spells it.

Plain values and one pure function, importing nothing of trailwatch: the adapter's image ships this file
beside the adapter package.
"""

from __future__ import annotations

from typing import Protocol

#: The Pulumi project, and the namespace of its stack config keys (``trailwatch:<key>``).
PROJECT = "trailwatch"

# --- Alert labels ---------------------------------------------------------------------------------------------
#: Every trailwatch alert carries ``trailwatch="true"``; Alertmanager routes and inhibits on it.
TRAILWATCH_LABEL = "trailwatch"
TRAILWATCH_VALUE = "true"
#: Which stack raised the alert (several stacks may feed one Alertmanager); inhibitions stay within a stack.
#: The scrape adds it to every series of the stack's exporter, and every rule of the stack selects on it.
STACK_LABEL = "trailwatch_stack"
#: On Kubernetes every alert carries the namespace its AlertmanagerConfig lives in: the operator's route only
#: matches alerts whose ``namespace`` equals its own.
NAMESPACE_LABEL = "namespace"
SEVERITY_LABEL = "severity"
#: The catalog id of the detection an alert is about (the heartbeat's included).
DETECTION_LABEL = "detection"
#: What part of the pipeline a pipeline alert is about; the adapter's card says what is broken from it.
COMPONENT_LABEL = "component"
COMPONENT_CLOUDTRAIL = "cloudtrail"
COMPONENT_EXPORTER = "exporter"
COMPONENT_ALERTMANAGER = "alertmanager"
COMPONENT_EXCEPTIONS = "exceptions"

#: Severities of the catalog and of every alert, most severe first.
CRITICAL, HIGH, WARNING, INFO = "critical", "high", "warning", "info"
SEVERITIES = (CRITICAL, HIGH, WARNING, INFO)

# --- Alert names ----------------------------------------------------------------------------------------------
#: Every alert name starts with it: detections' (:func:`detection_alert_name`) and the pipeline's own.
ALERT_PREFIX = "Trailwatch"
ALERT_EXPORTER_DOWN = "TrailwatchExporterDown"
ALERT_SCRAPE_ERRORS = "TrailwatchExporterScrapeErrors"
ALERT_HEARTBEAT_MISSING = "TrailwatchHeartbeatMissing"
ALERT_TEAMS_FAILING = "TrailwatchTeamsNotificationsFailing"
ALERT_EXCEPTION_EXPIRED = "TrailwatchExceptionExpired"
PIPELINE_ALERTS = (ALERT_EXPORTER_DOWN, ALERT_SCRAPE_ERRORS, ALERT_HEARTBEAT_MISSING, ALERT_TEAMS_FAILING,
                   ALERT_EXCEPTION_EXPIRED)
#: The severity of each pipeline alert (the heartbeat's is its catalog detection's).
PIPELINE_SEVERITIES = {ALERT_EXPORTER_DOWN: CRITICAL, ALERT_SCRAPE_ERRORS: WARNING, ALERT_TEAMS_FAILING: HIGH,
                       ALERT_EXCEPTION_EXPIRED: WARNING}


class Identified(Protocol):
    """Anything with a catalog id (a ``trailwatch.catalog.Detection``)."""

    id: str


def detection_alert_name(detection: Identified) -> str:
    """``root_usage`` -> ``TrailwatchRootUsage``: valid as a metric name, which Prometheus requires."""
    return ALERT_PREFIX + "".join(part[:1].upper() + part[1:] for part in detection.id.split("_") if part)


# --- Scrapes and ports ----------------------------------------------------------------------------------------
#: The Prometheus ``job`` of the exporter's scrape. The exporter's own ``job`` label arrives as
#: ``exported_job``; this one is the scrape's, and the exporter-health alerts select on it. A
#: ServiceMonitor must produce the same value (Service name, or ``jobLabel``).
EXPORTER_SCRAPE_JOB = "trailwatch-cloudwatch-exporter"
#: The Teams adapter's scrape job (adapter mode): its /metrics scope TrailwatchTeamsNotificationsFailing to this
#: stack's own notifications (Alertmanager's failure counters carry no receiver label).
ADAPTER_SCRAPE_JOB = "trailwatch-teams-adapter"
#: One GetMetricStatistics call per metric per scrape; give slow CloudWatch answers time, within the interval.
MAX_SCRAPE_TIMEOUT_SECONDS = 30
#: cloudwatch_exporter's port (its image's and the jar's).
EXPORTER_PORT = 9106
#: Where the adapter listens by default (its /metrics too) and the one path Alertmanager posts to.
ADAPTER_PORT = 8080
ADAPTER_ALERTS_PATH = "/alerts"
#: On SIGTERM, how long the adapter lets deliveries in flight end (below Kubernetes' default 30 s grace period);
#: whoever runs it waits at least that long before killing it.
ADAPTER_DRAIN_SECONDS = 25

# --- The adapter's metrics, as rules and panels read them -----------------------------------------------------
#: Counters the adapter serves (prometheus_client adds ``_total`` to their samples).
ADAPTER_NOTIFICATIONS = "trailwatch_adapter_notifications"
ADAPTER_CARDS_FAILED = "trailwatch_adapter_cards_failed"
ADAPTER_REQUESTS_REJECTED = "trailwatch_adapter_requests_rejected"
#: The ``result`` of an ADAPTER_NOTIFICATIONS sample counting cards Teams never got (the Teams alert pages on it).
NOTIFICATION_FAILED = "failed"

# --- Teams paths and runtimes ---------------------------------------------------------------------------------
#: adapter: Alertmanager -> trailwatch's Teams adapter -> Teams; native: Alertmanager's msteamsv2 -> Teams.
ADAPTER_MODE, NATIVE_MODE = "adapter", "native"
TEAMS_MODES = (ADAPTER_MODE, NATIVE_MODE)
#: ``integration`` label of ``alertmanager_notifications_failed_total`` for the Teams path of each mode.
TEAMS_INTEGRATION = {ADAPTER_MODE: "webhook", NATIVE_MODE: "msteamsv2"}

#: Where the exporter and the adapter run; none: rules and configs are rendered for a Prometheus already run.
KUBERNETES, DOCKER, NO_RUNTIME = "kubernetes", "docker", "none"
RUNTIMES = (KUBERNETES, DOCKER, NO_RUNTIME)
#: The runtimes a workload (the exporter, the adapter) can be deployed on.
WORKLOAD_RUNTIMES = (KUBERNETES, DOCKER)

#: Pulumi type tokens of the components the policies look inside.
EXPORTER_COMPONENT_TYPE = "trailwatch:index:CloudWatchExporter"
ADAPTER_COMPONENT_TYPE = "trailwatch:index:TeamsAdapter"

# --- CloudWatch Logs ------------------------------------------------------------------------------------------
#: The CloudWatch namespace of the metric filters' metrics unless a stack or detection names another.
DEFAULT_METRIC_NAMESPACE = "CloudTrailMetrics"
#: AWS's limits on metric filters: pattern length, filters per log group, ``%regex%`` patterns per log group.
MAX_PATTERN_LENGTH = 1024
MAX_FILTERS_PER_LOG_GROUP = 100
MAX_REGEX_PATTERNS_PER_LOG_GROUP = 5
#: The key of the adapter's bearer token in its Secret (the adapter reads it; AlertRules' route sends it).
ADAPTER_TOKEN_KEY = "token"
