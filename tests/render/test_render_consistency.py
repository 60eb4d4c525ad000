"""The renderers agree with each other: every exported metric has exactly one alert on exactly its name,
labels and annotations are what routing and the Teams card rely on, and bad input fails in one line."""

from __future__ import annotations

import re

import pytest
import yaml
from render_support import adapter_metric_names, decode_insights_url, example_stacks, metric_names
from stacks import deployer_exception, make_stack

from trailwatch.errors import CatalogError, TrailwatchError
from trailwatch.naming import exporter_metric_name
from trailwatch.contract import PIPELINE_ALERTS, STACK_LABEL, TRAILWATCH_LABEL, TRAILWATCH_VALUE, detection_alert_name
from trailwatch.render.alertmanager import (
    DEFAULT_ADAPTER_TOKEN_FILE, alertmanager_config_spec, alertmanager_example, alertmanager_fragment,
)
from trailwatch.render.durations import duration
from trailwatch.render.options import DEFAULT_ADAPTER_URL, RenderError
from trailwatch.render.exporter import exporter_config, render_exporter_config
from trailwatch.render.files import render_all
from trailwatch.render.insights import default_query, logs_insights_url, query_for
from trailwatch.render.promtests import eval_times
from trailwatch.render.rules import literal, render_rules, rule_groups
from trailwatch.render.scrape import scrape_config
from trailwatch.stack import load_stack, log_group_name

NON_CLOUDWATCH = {"up", "cloudwatch_exporter_scrape_error", "alertmanager_notifications_failed_total", "vector"}

CUSTOM = dict(customDetections=[{"id": "break_glass", "title": "Break-glass used", "severity": "critical",
                                 "pattern": '{ $.userIdentity.arn = "*break-glass*" }', "metric": "BreakGlassUse",
                                 "namespace": "Other/NS", "description": "d", "runbook": "r"}],
              enableDetections=["access_denied"], metricNamespace="Sec.Trail")


def all_stacks():
    return [load_stack(name) for name in example_stacks()] + [make_stack("custom", **CUSTOM)]


def alerts(stack):
    return [rule for group in rule_groups(stack)["groups"] for rule in group["rules"]]


@pytest.mark.parametrize("stack", all_stacks(), ids=lambda s: s.name)
def test_every_exported_metric_has_exactly_one_alert_on_exactly_its_name(stack):
    config = exporter_config(stack)
    exported = [exporter_metric_name(m["aws_namespace"], m["aws_metric_name"], "Sum") for m in config["metrics"]]
    assert len(exported) == len(set(exported)) == len(stack.detections)
    used: dict[str, list[str]] = {}
    for rule in alerts(stack):
        for name in metric_names(rule["expr"]):
            used.setdefault(name, []).append(rule["alert"])
    for name in exported:
        assert len(used.get(name, [])) == 1, (name, used.get(name))
    strays = set(used) - set(exported) - NON_CLOUDWATCH - adapter_metric_names()
    assert not strays, f"alerts reference names the exporter does not export: {strays}"


@pytest.mark.parametrize("stack", all_stacks(), ids=lambda s: s.name)
def test_detection_alerts_have_the_documented_shape(stack):
    # The window sum is computed by CloudWatch; the rule only bridges failed scrapes: 10 scrapes.
    hold = duration(10 * stack.settings.scrape_interval_seconds)
    own = f'{{trailwatch_stack="{stack.name}"}}'
    by_name = {rule["alert"]: rule for rule in alerts(stack)}
    for det in stack.detections:
        if det.heartbeat:
            rule = by_name["TrailwatchHeartbeatMissing"]
            assert rule["expr"] == f"(sum({det.exported_name}{own}) or vector(0)) < 1"
            continue
        rule = by_name[detection_alert_name(det)]
        assert rule["expr"] == f"sum(max_over_time({det.exported_name}{own}[{hold}])) >= {det.threshold}"
        assert "for" not in rule  # the value already is "events in the window": no reason to wait
        labels = rule["labels"]
        assert labels["severity"] == det.severity and labels["detection"] == det.id
        assert labels[TRAILWATCH_LABEL] == TRAILWATCH_VALUE and labels[STACK_LABEL] == stack.name
        assert labels.get("security_hub_control") == det.security_hub_control
        assert ("cis" in labels) == bool(det.cis)
        notes = rule["annotations"]
        assert {"summary", "description", "runbook", "logs_insights_url", "aws_region"} <= set(notes)
        assert "{{ $value }}" in notes["description"]
        link = decode_insights_url(notes["logs_insights_url"])
        assert link["editorString"] == query_for(det)
        assert link["source"] == [log_group_name(stack)]
        assert link["timeType"] == "RELATIVE" and link["start"] < 0 and link["end"] == 0
        assert "_" not in notes["logs_insights_url"]  # a Markdown renderer could escape it and break the link
    for rule in alerts(stack):
        assert rule["labels"][TRAILWATCH_LABEL] == TRAILWATCH_VALUE  # the Alertmanager route matches on it


def test_pipeline_alerts_follow_the_teams_mode():
    stack = load_stack("dev")
    for mode, reads in (("adapter", 'trailwatch_adapter_notifications_total{job="trailwatch-teams-adapter", '
                                    'result="failed", trailwatch_stack="test"}'),
                        ("native", 'alertmanager_notifications_failed_total{integration="msteamsv2"}')):
        tuned = make_stack(teamsMode=mode, exceptions=[deployer_exception(["iam_policy_changes"])])
        rules = {r["alert"]: r for r in alerts(tuned)}
        assert set(PIPELINE_ALERTS) <= set(rules)
        assert reads in rules["TrailwatchTeamsNotificationsFailing"]["expr"]
    # adapter mode: scoped to this stack's adapter, never to Alertmanager's receiver-less counters
    assert "alertmanager_notifications_failed_total" not in rules_of("adapter")
    files = render_all(stack, "native")
    assert 'integration="msteamsv2"' in files["prometheus/trailwatch-rules.yml"]


def rules_of(mode: str) -> str:
    return next(r for r in alerts(make_stack(teamsMode=mode)) if r["alert"] == "TrailwatchTeamsNotificationsFailing")["expr"]


def test_kubernetes_rules_carry_the_namespace_label_alertmanagerconfig_matches_on():
    stack = make_stack(runtime="kubernetes", teamsWebhookUrl="https://example.invalid/x",
                       eksOidcProviderArn="arn:aws:iam::123456789012:oidc-provider/oidc.eks.x/id/A",
                       kubernetesNamespace="secops")
    assert all(rule["labels"]["namespace"] == "secops" for rule in alerts(stack))
    assert all("namespace" not in rule["labels"] for rule in alerts(make_stack()))


def test_default_insights_query_filters_on_the_patterns_required_values():
    stack = load_stack("dev")
    dets = {d.id: d for d in stack.detections}
    assert 'userIdentity.type = "Root"' in default_query(dets["root_usage"])
    assert 'eventName in ["CreateTrail", "DeleteTrail", "StartLogging", "StopLogging", "UpdateTrail"]' in \
        default_query(dets["cloudtrail_config_changes"])
    assert query_for(dets["suspicious_source_ips"]) == dets["suspicious_source_ips"].insights_query


@pytest.mark.parametrize("region, host", [("eu-west-1", "eu-west-1.console.aws.amazon.com"),
                                          ("us-gov-west-1", "us-gov-west-1.console.amazonaws-us-gov.com"),
                                          ("cn-north-1", "cn-north-1.console.amazonaws.cn")])
def test_insights_links_round_trip_any_text(region, host):
    query = 'fields @timestamp | filter a = "x_y~(z)\'*%" and b like /ü/\n| limit 5'
    url = logs_insights_url(region, "/aws/cloudtrail/my_trail", query, 7200)
    assert url.startswith(f"https://{host}/cloudwatch/home?region={region}#logsV2:logs-insights$3FqueryDetail$3D")
    assert decode_insights_url(url) == {"end": 0, "start": -7200, "timeType": "RELATIVE", "unit": "seconds",
                                        "editorString": query, "source": ["/aws/cloudtrail/my_trail"]}


def test_catalog_text_with_template_braces_is_kept_literal():
    assert literal("plain") == "plain"
    assert literal("a {{ b }}") == '{{ "a {{ b }}" }}'
    stack = make_stack(customDetections=[{**CUSTOM["customDetections"][0], "title": "T {{ x }}",
                                          "runbook": 'say "{{ hi }}"'}])
    rule = next(r for r in alerts(stack) if r["alert"] == "TrailwatchBreakGlass")
    assert rule["annotations"]["summary"] == '{{ "T {{ x }}" }}'
    assert rule["annotations"]["runbook"] == '{{ "say \\"{{ hi }}\\"" }}'


def test_alert_name_collisions_fail_clearly():
    with pytest.raises(CatalogError, match="alert name TrailwatchExporterDown is already used by the pipeline"):
        rule_groups(make_stack(customDetections=[{**CUSTOM["customDetections"][0], "id": "exporter_down"}]))


def test_alertmanager_fragment_routes_groups_and_inhibits():
    stack = load_stack("dev")
    fragment = alertmanager_fragment(stack, "adapter")
    route = fragment["route"]
    assert route["matchers"] == ['trailwatch="true"', 'trailwatch_stack="dev"']
    assert route["group_by"] == ["alertname", "detection", "trailwatch_stack"]
    assert route["group_wait"] == "10s" and route["repeat_interval"] == "1h"
    assert route["receiver"] == "trailwatch-dev-teams"
    assert fragment["receivers"] == [{"name": "trailwatch-dev-teams", "webhook_configs": [
        {"url": DEFAULT_ADAPTER_URL, "send_resolved": True, "http_config": {"authorization": {
            "type": "Bearer", "credentials_file": DEFAULT_ADAPTER_TOKEN_FILE}}}]}]
    down = fragment["inhibit_rules"][0]
    assert 'alertname="TrailwatchExporterDown"' in down["source_matchers"]
    assert any("TrailwatchHeartbeatMissing" in m for m in down["target_matchers"])
    native = alertmanager_fragment(stack, "native", webhook_url_file="/run/secrets/teams")
    config = native["receivers"][0]["msteamsv2_configs"][0]
    assert config["webhook_url_file"] == "/run/secrets/teams" and config["send_resolved"] is True
    assert "webhook_url" not in config
    custom = alertmanager_fragment(stack, "adapter", "http://adapter.monitoring:2000/x")
    assert custom["receivers"][0]["webhook_configs"][0]["url"] == "http://adapter.monitoring:2000/x"
    assert yaml.safe_load(alertmanager_example(stack, "native"))["route"]["routes"][0] == route


def _keys(value):
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item)


def test_alertmanager_config_spec_is_camel_case_with_a_secret_reference():
    stack = load_stack("dev")
    native = alertmanager_config_spec(stack, "native", None, "trailwatch-teams", "webhook-url")
    assert not [k for k in _keys(native) if "_" in k]
    assert native["route"]["matchers"] == [{"name": "trailwatch", "value": "true", "matchType": "="},
                                           {"name": "trailwatch_stack", "value": "dev", "matchType": "="}]
    assert native["route"]["groupBy"] == ["alertname", "detection", "trailwatch_stack"]
    assert native["route"]["groupWait"] == "10s" and native["route"]["receiver"] == "trailwatch-dev-teams"
    teams = native["receivers"][0]["msteamsv2Configs"][0]
    assert teams["webhookURL"] == {"name": "trailwatch-teams", "key": "webhook-url"} and teams["sendResolved"]
    adapter = alertmanager_config_spec(stack, "adapter", "http://a:8080/alerts", "adapter-token", "token")
    credentials = {"name": "adapter-token", "key": "token"}
    assert adapter["receivers"][0]["webhookConfigs"] == [{
        "url": "http://a:8080/alerts", "sendResolved": True,
        "httpConfig": {"authorization": {"type": "Bearer", "credentials": credentials}}}]
    assert adapter["inhibitRules"][0]["sourceMatch"][1] == {"name": "alertname", "value": "TrailwatchExporterDown",
                                                             "matchType": "="}


def test_exporter_and_scrape_config_follow_the_settings():
    stack = make_stack(exporterDelaySeconds=900, scrapeIntervalSeconds=120, alertWindowMinutes=40,
                       heartbeatMissingMinutes=35)
    by_metric = {m["aws_metric_name"]: m for m in exporter_config(stack)["metrics"]}
    window = by_metric["RootAccountUsage"]
    assert (window["delay_seconds"], window["period_seconds"], window["range_seconds"]) == (900, 2400, 2340)
    assert window["set_timestamp"] is False
    heartbeat = by_metric["CloudTrailEventCount"]
    assert (heartbeat["period_seconds"], heartbeat["range_seconds"]) == (2100, 2040)
    assert "aws_dimensions:" not in render_exporter_config(stack)
    job = scrape_config(stack, "10.0.0.5:9106")
    assert job["job_name"] == "trailwatch-cloudwatch-exporter-test"
    assert job["scrape_interval"] == "2m" and job["scrape_timeout"] == "30s"
    assert job["static_configs"] == [{"targets": ["10.0.0.5:9106"], "labels": {"trailwatch_stack": "test"}}]
    assert job["relabel_configs"] == [{"target_label": "job", "replacement": "trailwatch-cloudwatch-exporter"}]
    assert "[20m]" in render_rules(stack)  # 10 scrapes of 2 minutes


def test_test_times_stay_clear_of_the_window_edges():
    for window, tolerance, delay, scrape in ((30, 25, 0, 60), (11, 5, 600, 30), (8, 4, 0, 30), (240, 200, 7200, 300)):
        stack = make_stack(alertWindowMinutes=window, deliveryLagToleranceMinutes=tolerance,
                           exporterDelaySeconds=delay, scrapeIntervalSeconds=scrape, heartbeatMissingMinutes=window)
        t = eval_times(stack.settings)
        assert t.event < t.firing < t.gap < t.gap + 3 < t.event + window <= t.resolved - 5
        assert t.event + t.late_lag + 2 < t.event + window  # the late event is still in its window when checked
        assert t.heartbeat_stop < t.heartbeat_quiet < t.heartbeat_stop + stack.settings.heartbeat_missing_minutes \
            < t.heartbeat_firing
    defaults = eval_times(make_stack().settings)
    # event at 5, scraped at 6, checked at 13; the window (30) and the 10-minute hold end by 45: checked at 55
    assert (defaults.event, defaults.firing, defaults.resolved, defaults.late_lag) == (5, 13, 55, 25)


@pytest.mark.parametrize("call, message", [
    (lambda s: render_all(s, "teams"), "mode: must be one of adapter, native (got 'teams')"),
    (lambda s: alertmanager_fragment(s, "webhook"), "mode: must be one of adapter, native"),
    (lambda s: render_all(s, account_id="12345"), "account id: must be 12 digits"),
])
def test_bad_render_requests_fail_in_one_line(call, message):
    with pytest.raises(RenderError) as err:
        call(make_stack())
    assert isinstance(err.value, TrailwatchError) and message in str(err.value) and "\n" not in str(err.value)


def test_rendering_is_pure_and_deterministic():
    stack = load_stack("dev")
    first, second = render_all(stack), render_all(stack)
    assert first == second
    assert render_all(stack, "adapter", account_id="123456789012")["prometheus/trailwatch-rules.yml"].count(
        "aws_account_id: '123456789012'") == len(alerts(stack))
    assert not re.search(r"https://[^ ]*sig=", "".join(first.values()))
