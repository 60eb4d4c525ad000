"""Renderers: pure functions of a ``Stack`` that produce the files the Prometheus half needs.

Each output is derived from the same catalog and settings, and every name they share with each other and with
the other processes comes from :mod:`trailwatch.contract`, so the exporter config, the alert rules, their
promtool tests, the Alertmanager route, the Teams card and the dashboard cannot drift apart. Nothing here
imports Pulumi: the Pulumi components and ``python -m trailwatch render`` call the same functions, through the
names below.

Modules: ``exporter`` (cloudwatch_exporter config), ``rules`` (Prometheus rule groups), ``promtests``
(promtool unit tests), ``alertmanager`` (route/receiver/inhibitions, example config, AlertmanagerConfig
spec), ``adapter`` (the Teams adapter's config), ``dashboard`` (Grafana), ``grafana_datasource`` (its
CloudWatch data source), ``scrape`` (plain scrape config), ``insights`` (Logs Insights links), ``files``
(everything, by file name), ``output`` (writing a render to its folder), ``options`` (render's options: their
defaults and checks), ``yaml_text`` (the YAML every file is written as), ``durations`` (Prometheus durations).
"""

from .adapter import adapter_config, render_adapter_config
from .alertmanager import alertmanager_config_spec, alertmanager_fragment, combined_config, receiver_name
from .dashboard import dashboard
from .durations import duration
from .exporter import exporter_config, render_exporter_config
from .files import AM_EXAMPLE_FILE, AM_FRAGMENT_FILE, DASHBOARD_FILE, RULES_FILE, SCRAPE_FILE, render_all
from .grafana_datasource import render_grafana_datasource
from .insights import query_for
from .options import DEFAULT_ADAPTER_URL, RenderError, check_exporter_target, check_mode
from .output import check_out, write_render
from .rules import detection_annotations, detection_hold, detection_labels, render_rules, rule_groups
from .yaml_text import dump_yaml

__all__ = [
    "AM_EXAMPLE_FILE", "AM_FRAGMENT_FILE", "DASHBOARD_FILE", "DEFAULT_ADAPTER_URL", "RULES_FILE", "SCRAPE_FILE",
    "RenderError", "adapter_config", "alertmanager_config_spec", "alertmanager_fragment", "check_exporter_target",
    "check_mode", "check_out", "combined_config", "dashboard", "detection_annotations", "detection_hold",
    "detection_labels", "dump_yaml", "duration", "exporter_config", "query_for", "receiver_name",
    "render_adapter_config", "render_all", "render_exporter_config", "render_grafana_datasource", "render_rules",
    "rule_groups", "write_render",
]
