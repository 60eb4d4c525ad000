"""AlertRules: the Prometheus alert rules, the Alertmanager routing to Teams and the Grafana dashboard.

Kubernetes (Prometheus Operator): a ``PrometheusRule``, an ``AlertmanagerConfig`` (v1alpha1) and a dashboard
ConfigMap for the Grafana sidecar. Docker / none: the rule file, Alertmanager fragment, dashboard and scrape job
as text outputs, byte for byte what ``python -m trailwatch render`` writes (``render_all``), for a Prometheus
and Alertmanager the user runs.

Namespace matcher: the operator adds ``namespace="<AlertmanagerConfig's namespace>"`` to the route it
generates from an AlertmanagerConfig (``alertmanagerConfigMatcherStrategy: OnNamespace``, the default), and the
detection rules aggregate every label away (``sum(max_over_time(...))``), so their alerts carry no
``namespace`` label and would never match. Every alerting rule therefore carries a static label
``namespace`` equal to the namespace the PrometheusRule and the AlertmanagerConfig both live in: the rules
renderer adds it for runtime kubernetes (the one place that does), from the same ``kubernetesNamespace`` this
component deploys to. It is also what an ``enforcedNamespaceLabel`` would write, so the two settings agree.

Native mode on Kubernetes: ``msteamsv2Configs`` reads the webhook URL from a Secret key reference; the Secret is
created here from a secret Output.

The arguments are plain data, the stack config's keys under the argument names a caller writes (detections,
exceptions, timings, Teams mode); the stack the renderers read is built from them inside
(``trailwatch.stack.stack_from_settings``), so any Pulumi language can call this component.
"""

from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s

from trailwatch.contract import (
    ADAPTER_MODE, ADAPTER_TOKEN_KEY, DEFAULT_METRIC_NAMESPACE, KUBERNETES, NATIVE_MODE, NO_RUNTIME, RUNTIMES,
)
from trailwatch.errors import TrailwatchError
from trailwatch.render import (
    AM_FRAGMENT_FILE, DASHBOARD_FILE, RULES_FILE, SCRAPE_FILE, alertmanager_config_spec, check_exporter_target,
    render_all, render_grafana_datasource, rule_groups,
)
from trailwatch.stack import Stack, stack_from_settings

from .args import (
    DETECTION_KEYS, TIMING_KEYS, ComponentArgsError, argument_error, args_of, checked_choice, checked_settings,
    stack_name_or_current,
)

WEBHOOK_SECRET_KEY = "webhook-url"
DASHBOARD_KEY = "trailwatch.json"
DATASOURCE_KEY = "trailwatch-datasource.yaml"
#: Every AlertRulesArgs field checked as a stack config key, and that key.
ALERT_KEYS = {
    "region": "aws:region", "log_group_name": "existingLogGroupName", "teams_mode": "teamsMode",
    "namespace": "kubernetesNamespace", "rule_labels": "prometheusSelectorLabels",
    "dashboard_labels": "grafanaDashboardLabels", "datasource_labels": "grafanaDatasourceLabels",
    **DETECTION_KEYS, **TIMING_KEYS,
    "group_wait_seconds": "groupWaitSeconds", "group_interval_seconds": "groupIntervalSeconds",
    "repeat_interval_minutes": "repeatIntervalMinutes",
}


@dataclass
class AlertRulesArgs:
    """Plain data with the defaults and checks of the stack config keys of the same meaning (``enable_detections``
    is ``enableDetections``, ``namespace`` is ``kubernetesNamespace``, ...); None (or, through the provider,
    leaving a property out) means the default. The detections must be MetricFilterSet's and the timings
    CloudWatchExporter's: the rules select the series those write and read."""
    region: str
    """AWS region of the log group: the alerts' annotations and Logs Insights links."""
    log_group_name: str
    """The log group the filters read (TrailToLogs' logGroupName, as a value: the alerts' links name it)."""
    stack_name: Optional[str] = None
    """The trailwatch_stack label the rules select on and CloudWatchExporter adds (default: the Pulumi stack)."""
    runtime: Optional[str] = NO_RUNTIME
    """kubernetes: PrometheusRule, AlertmanagerConfig, dashboard ConfigMap; docker or none: the documents only."""
    teams_mode: Optional[str] = ADAPTER_MODE
    """adapter: Alertmanager posts to TeamsAdapter; native: Alertmanager (>= 0.28) posts to Teams itself."""
    namespace: Optional[str] = "monitoring"
    """Kubernetes namespace of the rules, routing and dashboard (the alerts carry it as a label)."""
    adapter_url: Optional[pulumi.Input[str]] = None
    """Adapter mode: where Alertmanager posts (TeamsAdapter's url); required on Kubernetes."""
    adapter_token_secret: Optional[pulumi.Input[str]] = None
    """Adapter mode on Kubernetes: the Secret holding the adapter's token (TeamsAdapter's tokenSecretName)."""
    webhook_url: Optional[pulumi.Input[str]] = None
    """Native mode on Kubernetes: the Teams Workflows URL, kept in a Secret (made secret here in any case)."""
    exporter_target: Optional[str] = None
    """host:port Prometheus scrapes the exporter at, for the scrape config output (default: an example target)."""
    rule_labels: Optional[Mapping[str, str]] = field(default_factory=lambda: {"release": "kube-prometheus-stack"})
    """Labels the Prometheus Operator selects PrometheusRules by."""
    dashboard_labels: Optional[Mapping[str, str]] = field(default_factory=lambda: {"grafana_dashboard": "1"})
    """Labels the Grafana sidecar picks dashboard ConfigMaps up by."""
    datasource_labels: Optional[Mapping[str, str]] = field(default_factory=lambda: {"grafana_datasource": "1"})
    """Labels the Grafana sidecar picks datasource ConfigMaps up by (the dashboard's CloudWatch datasource)."""
    enable_detections: Optional[Sequence[str]] = ()
    """Catalog detection ids to enable that are off by default."""
    disable_detections: Optional[Sequence[str]] = ()
    """Catalog detection ids to turn off."""
    detection_overrides: Optional[Mapping[str, Mapping[str, Any]]] = None
    """Per-detection {id: {threshold: N, severity: critical|high|warning|info}}: the alerts' thresholds."""
    custom_detections: Optional[Sequence[Mapping[str, Any]]] = ()
    """Extra detections with the catalog's fields (id, title, severity, pattern, metric, description, runbook)."""
    metric_namespace: Optional[str] = DEFAULT_METRIC_NAMESPACE
    """CloudWatch namespace of the filters' metrics."""
    suspicious_ips: Optional[Sequence[str]] = ()
    """Source IPs (IPv4/IPv6 or wildcard prefixes like 203.0.113.*) for the suspicious_source_ips detection."""
    cis_compliance: Optional[bool] = False
    """Every CIS detection must stay enabled."""
    exceptions: Optional[Sequence[Mapping[str, Any]]] = ()
    """Noise exceptions, as the stack key ``exceptions``: {detections, reason, owner, expires, match}."""
    max_exception_days: Optional[int] = None
    """The furthest ahead an exception's expires date may be, in days (default 365)."""
    alert_window_minutes: Optional[int] = 30
    """A detection fires when at least threshold matching events have event times within this many minutes."""
    delivery_lag_tolerance_minutes: Optional[int] = 25
    """CloudTrail -> CloudWatch Logs delivery lag that must still alert; checked against the other timings."""
    heartbeat_missing_minutes: Optional[int] = 26
    """Alert when no event with an event time in this many minutes was delivered; at most alertWindowMinutes."""
    exporter_delay_seconds: Optional[int] = 0
    """How far behind now the exporter's window ends (CloudWatchExporter's exporterDelaySeconds)."""
    scrape_interval_seconds: Optional[int] = 60
    """How often Prometheus scrapes the exporter (CloudWatchExporter's scrapeIntervalSeconds)."""
    group_wait_seconds: Optional[int] = 10
    """Alertmanager group_wait for trailwatch alerts (short: security alerts)."""
    group_interval_seconds: Optional[int] = 300
    """Alertmanager group_interval for trailwatch alerts."""
    repeat_interval_minutes: Optional[int] = 60
    """Alertmanager repeat_interval: also the longest a new event during a firing alert waits for a card."""

    def stack(self) -> Stack:
        """These arguments as the stack the renderers read, every check of stack config applied; raises
        ComponentArgsError (one line, naming the argument) before anything is registered."""
        runtime = checked_choice("AlertRules", "runtime", NO_RUNTIME if self.runtime is None else self.runtime,
                                 RUNTIMES)
        for required in ("region", "log_group_name"):
            if not isinstance(getattr(self, required), str) or not getattr(self, required):
                raise ComponentArgsError(f"AlertRules: {required} must be a non-empty string")
        settings = checked_settings("AlertRules", ALERT_KEYS, {name: getattr(self, name) for name in ALERT_KEYS})
        if self.exporter_target is not None:
            try:
                check_exporter_target(self.exporter_target)
            except TrailwatchError as exc:
                raise ComponentArgsError(f"AlertRules: {str(exc).replace('--exporter-target', 'exporter_target')}")
        if runtime == KUBERNETES and settings.teams_mode == NATIVE_MODE and self.webhook_url is None:
            raise ComponentArgsError("AlertRules: native mode on Kubernetes needs webhook_url")
        if runtime == KUBERNETES and settings.teams_mode == ADAPTER_MODE and (
                self.adapter_url is None or self.adapter_token_secret is None):
            raise ComponentArgsError("AlertRules: adapter mode on Kubernetes needs adapter_url and "
                                     "adapter_token_secret (TeamsAdapter's url and token_secret_name)")
        name = stack_name_or_current("AlertRules", self.stack_name)
        try:
            # runtime stays out of the checked keys: stack config ties it to settings these rules do not take
            # (the Teams URL, the EKS OIDC provider); the renderers only read it for the namespace label.
            return stack_from_settings(name, replace(settings, runtime=runtime))
        except TrailwatchError as exc:
            raise argument_error("AlertRules", exc, ALERT_KEYS) from None


def secret_if_holding(text: pulumi.Output[str], secret: Optional[pulumi.Output[str]]) -> pulumi.Output[str]:
    """``text`` as a secret if it contains ``secret``'s value, plain otherwise (although ``secret`` is one)."""
    if secret is None:
        return text
    holds = pulumi.Output.unsecret(pulumi.Output.all(text, secret).apply(lambda v: bool(v[1]) and v[1] in v[0]))
    return pulumi.Output.all(text, holds).apply(lambda v: pulumi.Output.secret(v[0]) if v[1] else v[0])


class AlertRules(pulumi.ComponentResource):
    """Rules, routing and dashboard; text outputs always, Prometheus Operator resources on Kubernetes."""

    prometheus_rules: pulumi.Output[str]
    """The Prometheus rule file (rule_files: in prometheus.yml)."""
    alertmanager_config: pulumi.Output[str]
    """The Alertmanager route, receiver and inhibit rules to merge into alertmanager.yml."""
    grafana_dashboard: pulumi.Output[str]
    """The Grafana dashboard (JSON)."""
    prometheus_scrape_config: pulumi.Output[str]
    """The scrape jobs for a Prometheus not run by the Operator (scrape_configs: in prometheus.yml)."""

    def __init__(self, name: str, args: AlertRulesArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = args_of(AlertRulesArgs, args, "AlertRules")
        stack = args.stack()
        super().__init__("trailwatch:index:AlertRules", name, None, opts)
        webhook = pulumi.Output.secret(args.webhook_url) if args.webhook_url is not None else None
        adapter_url = pulumi.Output.from_input(args.adapter_url)

        # Exactly the files `trailwatch render` writes, with this deployment's adapter URL and exporter target
        # filled in. Native mode reads the Teams URL from webhook_url_file, so no document holds it; should one
        # ever contain it, that output becomes a secret rather than plaintext in state.
        files = adapter_url.apply(lambda url: render_all(
            stack, adapter_url=url, **({"exporter_target": args.exporter_target} if args.exporter_target else {})))
        self.prometheus_rules = secret_if_holding(files.apply(lambda f: f[RULES_FILE]), webhook)
        self.alertmanager_config = secret_if_holding(files.apply(lambda f: f[AM_FRAGMENT_FILE]), webhook)
        self.grafana_dashboard = secret_if_holding(files.apply(lambda f: f[DASHBOARD_FILE]), webhook)
        self.prometheus_scrape_config = secret_if_holding(files.apply(lambda f: f[SCRAPE_FILE]), webhook)

        if stack.settings.runtime == KUBERNETES:
            self._kubernetes(name, stack, adapter_url, args.adapter_token_secret, webhook)
        self.register_outputs({"prometheusRules": self.prometheus_rules,
                               "alertmanagerConfig": self.alertmanager_config,
                               "grafanaDashboard": self.grafana_dashboard,
                               "prometheusScrapeConfig": self.prometheus_scrape_config})

    def _kubernetes(self, name: str, stack: Stack, adapter_url: pulumi.Output[Optional[str]],
                    token_secret: Optional[pulumi.Input[str]], webhook: Optional[pulumi.Output[str]]) -> None:
        s = stack.settings
        ns = s.kubernetes_namespace
        child = pulumi.ResourceOptions(parent=self)
        labels = {"app.kubernetes.io/part-of": "trailwatch", "app.kubernetes.io/managed-by": "pulumi"}
        selector_labels = {**labels, **dict(s.prometheus_selector_labels)}

        k8s.apiextensions.CustomResource(
            f"{name}-prometheus-rule",
            api_version="monitoring.coreos.com/v1", kind="PrometheusRule",
            metadata={"name": f"{name}-rules", "namespace": ns, "labels": selector_labels},
            spec=rule_groups(stack),
            opts=child)

        if s.teams_mode == NATIVE_MODE:  # AlertRulesArgs.stack() checked that the URL, or the adapter's, is given
            secret = k8s.core.v1.Secret(
                f"{name}-teams-webhook",
                metadata={"namespace": ns, "labels": labels},
                type="Opaque",
                string_data={WEBHOOK_SECRET_KEY: webhook},
                opts=pulumi.ResourceOptions(parent=self, replace_on_changes=["stringData", "data"]))
            secret_name, secret_key = secret.metadata.name, WEBHOOK_SECRET_KEY
        else:
            secret_name, secret_key = pulumi.Output.from_input(token_secret), ADAPTER_TOKEN_KEY

        spec = pulumi.Output.all(adapter_url, secret_name).apply(
            lambda v: alertmanager_config_spec(stack, s.teams_mode, v[0], v[1], secret_key))
        k8s.apiextensions.CustomResource(
            f"{name}-alertmanager-config",
            api_version="monitoring.coreos.com/v1alpha1", kind="AlertmanagerConfig",
            metadata={"name": f"{name}-teams", "namespace": ns, "labels": selector_labels},
            spec=spec,
            opts=child)

        k8s.core.v1.ConfigMap(
            f"{name}-dashboard",
            metadata={"name": f"{name}-dashboard", "namespace": ns,
                      "labels": {**labels, **dict(s.grafana_dashboard_labels)}},
            data={DASHBOARD_KEY: self.grafana_dashboard},
            opts=child)

        # The CloudWatch datasource the dashboard's Logs Insights panels query, for the Grafana sidecar; it holds
        # no credential (Grafana's own role: IRSA or the node's).
        k8s.core.v1.ConfigMap(
            f"{name}-grafana-datasource",
            metadata={"name": f"{name}-grafana-datasource", "namespace": ns,
                      "labels": {**labels, **dict(s.grafana_datasource_labels)}},
            data={DATASOURCE_KEY: render_grafana_datasource(stack)},
            opts=child)
