"""Renderers: pure functions of a ``Stack`` that produce the files the Prometheus half needs.

Each output is derived from the same catalog and settings, so the exporter config, the alert rules, their
promtool tests, the Alertmanager route, the Teams card and the dashboard cannot drift apart. Nothing here
imports Pulumi: the Pulumi components and ``python -m trailwatch render`` call the same functions.

Modules: ``exporter`` (cloudwatch_exporter config), ``rules`` (Prometheus rule groups), ``promtests``
(promtool unit tests), ``alertmanager`` (route/receiver/inhibitions, example config, AlertmanagerConfig
spec), ``adapter`` (the Teams adapter's config), ``dashboard`` (Grafana),
``scrape`` (plain scrape config), ``insights`` (Logs Insights links), ``files`` (everything, by file name).
"""
