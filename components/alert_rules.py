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
renderer adds it for runtime kubernetes, and this component enforces it for the namespace it deploys to. It is
also what an ``enforcedNamespaceLabel`` would write, so the two settings agree.

Native mode on Kubernetes: ``msteamsv2Configs`` reads the webhook URL from a Secret key reference; the Secret is
created here from a secret Output.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import pulumi
import pulumi_kubernetes as k8s

from trailwatch.render.alertmanager import alertmanager_config_spec
from trailwatch.render.files import AM_FRAGMENT_FILE, DASHBOARD_FILE, RULES_FILE, SCRAPE_FILE, render_all
from trailwatch.render.rules import rule_groups
from trailwatch.stack import Stack

RUNTIMES = ("kubernetes", "docker", "none")
MODES = ("adapter", "native")
WEBHOOK_SECRET_KEY = "webhook-url"
ADAPTER_TOKEN_KEY = "token"
DASHBOARD_KEY = "trailwatch.json"


def with_namespace_label(groups: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    """A copy of the rule groups where every alerting rule carries ``namespace: <namespace>``."""
    out = copy.deepcopy(dict(groups))
    for group in out.get("groups", []):
        for rule in group.get("rules", []):
            if "alert" in rule:
                rule["labels"] = {**(rule.get("labels") or {}), "namespace": namespace}
    return out


@dataclass
class AlertRulesArgs:
    stack: Stack
    """The validated stack: the renderers read detections, thresholds and timings from it."""
    runtime: str = "none"
    teams_mode: str = "adapter"
    namespace: str = "monitoring"
    adapter_url: Optional[pulumi.Input[str]] = None
    """Adapter mode: where Alertmanager posts (``TeamsAdapter.url``)."""
    adapter_token_secret: Optional[pulumi.Input[str]] = None
    """Adapter mode on Kubernetes: the Secret holding the adapter's bearer token (``TeamsAdapter.token_secret_name``),
    key ``token``, for the AlertmanagerConfig's ``httpConfig.authorization.credentials``."""
    webhook_url: Optional[pulumi.Input[str]] = None
    """Native mode: the Teams Workflows URL (wrapped as a secret here whatever the caller passes)."""
    exporter_target: Optional[str] = None
    """host:port Prometheus scrapes the exporter at (scrape config output); None: render's example target."""
    rule_labels: Mapping[str, str] = field(default_factory=lambda: {"release": "kube-prometheus-stack"})
    dashboard_labels: Mapping[str, str] = field(default_factory=lambda: {"grafana_dashboard": "1"})


class AlertRules(pulumi.ComponentResource):
    """Rules, routing and dashboard; text outputs always, Prometheus Operator resources on Kubernetes."""

    prometheus_rules: pulumi.Output[str]
    alertmanager_config: pulumi.Output[str]
    grafana_dashboard: pulumi.Output[str]
    prometheus_scrape_config: pulumi.Output[str]

    def __init__(self, name: str, args: AlertRulesArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("trailwatch:index:AlertRules", name, None, opts)
        if args.runtime not in RUNTIMES:
            raise ValueError(f"AlertRules: runtime must be one of {', '.join(RUNTIMES)} (got {args.runtime!r})")
        if args.teams_mode not in MODES:
            raise ValueError(f"AlertRules: teams_mode must be one of {', '.join(MODES)} (got {args.teams_mode!r})")
        stack = args.stack
        webhook = pulumi.Output.secret(args.webhook_url) if args.webhook_url is not None else None
        adapter_url = pulumi.Output.from_input(args.adapter_url)

        # Exactly the files `python -m trailwatch render` writes, with this deployment's adapter URL and exporter
        # target filled in. Native mode reads the Teams URL from webhook_url_file, so no document holds it;
        # should one ever contain it, that output becomes a secret rather than plaintext in state.
        known_url = stack.settings.teams_webhook_url

        def guard(text: str) -> Any:
            return pulumi.Output.secret(text) if known_url and known_url in text else text

        files = adapter_url.apply(lambda url: render_all(
            stack, args.teams_mode, adapter_url=url,
            **({"exporter_target": args.exporter_target} if args.exporter_target else {})))
        self.prometheus_rules = files.apply(lambda f: guard(f[RULES_FILE]))
        self.alertmanager_config = files.apply(lambda f: guard(f[AM_FRAGMENT_FILE]))
        self.grafana_dashboard = files.apply(lambda f: guard(f[DASHBOARD_FILE]))
        self.prometheus_scrape_config = files.apply(lambda f: guard(f[SCRAPE_FILE]))

        if args.runtime == "kubernetes":
            self._kubernetes(name, args, adapter_url, webhook)
        self.register_outputs({"prometheusRules": self.prometheus_rules,
                               "alertmanagerConfig": self.alertmanager_config,
                               "grafanaDashboard": self.grafana_dashboard,
                               "prometheusScrapeConfig": self.prometheus_scrape_config})

    def _kubernetes(self, name: str, args: AlertRulesArgs, adapter_url: pulumi.Output[Optional[str]],
                    webhook: Optional[pulumi.Output[str]]) -> None:
        stack, ns = args.stack, args.namespace
        child = pulumi.ResourceOptions(parent=self)
        labels = {"app.kubernetes.io/part-of": "trailwatch", "app.kubernetes.io/managed-by": "pulumi"}
        selector_labels = {**labels, **dict(args.rule_labels)}

        k8s.apiextensions.CustomResource(
            f"{name}-prometheus-rule",
            api_version="monitoring.coreos.com/v1", kind="PrometheusRule",
            metadata={"name": f"{name}-rules", "namespace": ns, "labels": selector_labels},
            spec=with_namespace_label(rule_groups(stack), ns),
            opts=child)

        secret_name: pulumi.Output[Optional[str]] = pulumi.Output.from_input(None)
        secret_key: Optional[str] = None
        if args.teams_mode == "native":
            if webhook is None:
                raise ValueError("AlertRules: native mode on Kubernetes needs webhook_url")
            secret = k8s.core.v1.Secret(
                f"{name}-teams-webhook",
                metadata={"namespace": ns, "labels": labels},
                type="Opaque",
                string_data={WEBHOOK_SECRET_KEY: webhook},
                opts=pulumi.ResourceOptions(parent=self, replace_on_changes=["stringData", "data"]))
            secret_name, secret_key = secret.metadata.name, WEBHOOK_SECRET_KEY
        elif args.adapter_url is None or args.adapter_token_secret is None:
            raise ValueError("AlertRules: adapter mode on Kubernetes needs adapter_url and adapter_token_secret "
                             "(TeamsAdapter.url, TeamsAdapter.token_secret_name)")
        else:
            secret_name, secret_key = pulumi.Output.from_input(args.adapter_token_secret), ADAPTER_TOKEN_KEY

        spec = pulumi.Output.all(adapter_url, secret_name).apply(
            lambda v: alertmanager_config_spec(stack, args.teams_mode, v[0], v[1], secret_key))
        k8s.apiextensions.CustomResource(
            f"{name}-alertmanager-config",
            api_version="monitoring.coreos.com/v1alpha1", kind="AlertmanagerConfig",
            metadata={"name": f"{name}-teams", "namespace": ns, "labels": selector_labels},
            spec=spec,
            opts=child)

        k8s.core.v1.ConfigMap(
            f"{name}-dashboard",
            metadata={"name": f"{name}-dashboard", "namespace": ns,
                      "labels": {**labels, **dict(args.dashboard_labels)}},
            data={DASHBOARD_KEY: self.grafana_dashboard},
            opts=child)
