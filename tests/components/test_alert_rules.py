"""AlertRules: PrometheusRule + AlertmanagerConfig + dashboard on Kubernetes, text outputs elsewhere."""

import json

import pytest
import yaml
from pulumi.runtime import rpc

from plan_helpers import k8s, plain, scenario, stack_of
from trailwatch.render import (
    AM_FRAGMENT_FILE, DASHBOARD_FILE, RULES_FILE, SCRAPE_FILE, alertmanager_config_spec, alertmanager_fragment, dashboard,
    render_all, render_rules, rule_groups,
)

PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
ALERTMANAGER_CONFIG = "kubernetes:monitoring.coreos.com/v1alpha1:AlertmanagerConfig"


def alerting_rules(spec):
    return [rule for group in spec["groups"] for rule in group["rules"] if "alert" in rule]


def test_prometheus_rule_is_selected_and_holds_the_rendered_groups():
    rec = scenario("k8s-custom")
    rule = rec.one(PROMETHEUS_RULE)
    body = plain(rule.inputs)
    assert body["apiVersion"] == "monitoring.coreos.com/v1" and body["kind"] == "PrometheusRule"
    assert {"release": "prom-stack", "team": "sec"}.items() <= body["metadata"]["labels"].items()
    assert body["spec"] == rule_groups(stack_of("k8s-custom"))
    assert rule.parent.endswith("trailwatch:index:AlertRules::trailwatch")


@pytest.mark.parametrize("name,namespace", [("k8s-adapter", "monitoring"), ("k8s-native", "monitoring"),
                                            ("k8s-custom", "secops")])
def test_every_alert_carries_the_namespace_the_alertmanager_config_matches_on(name, namespace):
    rec = scenario(name)
    rule = plain(rec.one(PROMETHEUS_RULE).inputs)
    config = plain(rec.one(ALERTMANAGER_CONFIG).inputs)
    assert rule["metadata"]["namespace"] == config["metadata"]["namespace"] == namespace
    rules = alerting_rules(rule["spec"])
    assert rules
    for r in rules:
        assert r["labels"]["namespace"] == namespace, r["alert"]
        # and the route's own matchers hold for every alert
        for m in config["spec"]["route"]["matchers"]:
            assert m.get("matchType", "=") == "=" and r["labels"][m["name"]] == m["value"], r["alert"]


def test_alertmanager_config_routes_to_the_adapter():
    rec = scenario("k8s-adapter")
    config = rec.one(ALERTMANAGER_CONFIG)
    body = plain(config.inputs)
    assert body["apiVersion"] == "monitoring.coreos.com/v1alpha1" and body["kind"] == "AlertmanagerConfig"
    url = rec.outputs["teamsAdapterUrl"]
    assert url.endswith(".monitoring.svc:8080/alerts")
    token = k8s(rec, "Secret", "adapter-token")
    assert body["spec"] == alertmanager_config_spec(stack_of("k8s-adapter"), "adapter", url, token.name, "token")
    (webhook,) = [w for r in body["spec"]["receivers"] for w in r.get("webhookConfigs", [])]
    assert webhook["url"] == url
    # Alertmanager authenticates with the token from its own Secret, never the one holding the Workflows URL
    assert webhook["httpConfig"] == {"authorization": {"type": "Bearer",
                                                       "credentials": {"name": token.name, "key": "token"}}}
    assert token.urn in rec.one(ALERTMANAGER_CONFIG).property_dependencies["spec"]
    secrets = {r.name for r in rec.of_type("kubernetes:core/v1:Secret")}
    assert secrets == {k8s(rec, "Secret", "adapter-token").name, k8s(rec, "Secret", "adapter-secrets").name}


def test_native_mode_reads_the_webhook_from_a_secret():
    rec = scenario("k8s-native")
    secret = k8s(rec, "Secret", "teams-webhook")
    assert rpc.is_rpc_secret(secret.inputs["stringData"])
    assert list(plain(secret.inputs["stringData"])) == ["webhook-url"]
    body = plain(rec.one(ALERTMANAGER_CONFIG).inputs)
    assert body["spec"] == alertmanager_config_spec(stack_of("k8s-native"), "native", None, secret.name,
                                                    "webhook-url")
    (receiver,) = body["spec"]["receivers"]
    assert receiver["msteamsv2Configs"][0]["webhookURL"] == {"name": secret.name, "key": "webhook-url"}
    assert plain(secret.inputs)["metadata"]["namespace"] == body["metadata"]["namespace"]
    assert secret.urn in rec.one(ALERTMANAGER_CONFIG).property_dependencies["spec"]


def test_dashboard_config_map_is_labelled_for_the_grafana_sidecar():
    rec = scenario("k8s-custom")
    cm = plain(k8s(rec, "ConfigMap", "dashboard").inputs)
    assert {"grafana_dashboard": "yes", "team": "sec"}.items() <= cm["metadata"]["labels"].items()
    (text,) = cm["data"].values()
    assert json.loads(text) == dashboard(stack_of("k8s-custom"))


def test_the_cloudwatch_datasource_of_the_logs_insights_panels_is_provisioned_for_the_grafana_sidecar():
    rec = scenario("k8s-custom")
    cm = plain(k8s(rec, "ConfigMap", "grafana-datasource").inputs)
    assert {"grafana_datasource": "1"}.items() <= cm["metadata"]["labels"].items()
    (text,) = cm["data"].values()
    stack = stack_of("k8s-custom")
    (source,) = yaml.safe_load(text)["datasources"]
    assert source["type"] == "cloudwatch" and source["jsonData"]["defaultRegion"] == stack.settings.region
    panels = [p for top in dashboard(stack)["panels"] for p in top.get("panels", [])]
    assert panels and all(t["datasource"]["type"] == "cloudwatch" for p in panels for t in p["targets"])


def test_kubernetes_does_not_export_the_documents():
    rec = scenario("k8s-adapter")
    assert not {"prometheusRules", "alertmanagerConfig", "grafanaDashboard"} & set(rec.outputs)


@pytest.mark.parametrize("name,adapter_url,target", [
    ("docker-adapter", "http://127.0.0.1:8080/alerts", "127.0.0.1:9106"),
    ("docker-native-key", None, "127.0.0.1:9106"),
    ("none-adapter", None, None),
    ("none-native", None, None),
])
def test_docker_and_none_export_exactly_what_render_writes(name, adapter_url, target):
    rec = scenario(name)
    stack = stack_of(name)
    files = render_all(stack, stack.settings.teams_mode, adapter_url=adapter_url,
                       **({"exporter_target": target} if target else {}))
    assert rec.outputs["prometheusRules"] == files[RULES_FILE] == render_rules(stack)
    assert rec.outputs["alertmanagerConfig"] == files[AM_FRAGMENT_FILE]
    assert rec.outputs["grafanaDashboard"] == files[DASHBOARD_FILE]
    assert rec.outputs["prometheusScrapeConfig"] == files[SCRAPE_FILE]
    assert json.loads(rec.outputs["grafanaDashboard"]) == dashboard(stack)
    fragment = yaml.safe_load(rec.outputs["alertmanagerConfig"])
    assert fragment == alertmanager_fragment(stack, stack.settings.teams_mode, adapter_url)
    if target:
        assert yaml.safe_load(rec.outputs["prometheusScrapeConfig"])["scrape_configs"][0]["static_configs"] == \
            [{"targets": [target], "labels": {"trailwatch_stack": stack.name}}]
    assert [r for r in rec.resources if r.type.startswith("kubernetes:")] == []


def test_docker_and_none_rules_carry_no_kubernetes_namespace_label():
    for name in ("docker-adapter", "none-adapter"):
        for rule in alerting_rules(yaml.safe_load(scenario(name).outputs["prometheusRules"])):
            assert "namespace" not in rule.get("labels", {}), rule["alert"]
