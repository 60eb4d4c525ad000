"""Real Alertmanager -> the adapter process -> the Teams stand-in, with a real boto3 client reading the Logs
emulator: enrichment, faults on both sides, retries, pacing, and that every card fits the official schema."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest

from adapter_chain import (
    ACCOUNT, CANARY, LOG_GROUP, STACK, TOKEN, am_metric, ago, cloudtrail, detection_alert, now, post_alerts,
    request,
)
from card_schema import elements, schema_errors
from trailwatch.adapter.card import window
from trailwatch.contract import ALERT_EXPORTER_DOWN, ALERT_HEARTBEAT_MISSING


def cards_for(teams, case: str) -> list:
    return [d for d in teams.accepted("card") if f"case {case}" in json.dumps(d.payload) or
            any(case == f.get("value") for f in _facts(d.card))]


def _facts(card) -> list:
    return [f for fs in elements(card, "FactSet") for f in fs["facts"]]


def _actions(card) -> list:
    return elements(card, "Action.OpenUrl")


def wait_cards(teams, case: str, count: int = 1, timeout: float = 12) -> list:
    teams.wait_for(lambda _: len(cards_for(teams, case)) >= count, timeout)
    return cards_for(teams, case)


def alert(det_id: str, case: str, **kw):
    """A detection alert whose group (and card) belongs to one test; the case shows as the card's stack fact."""
    return detection_alert(det_id, kw.pop("starts", ago(2)), trailwatch_stack=case, case=case, **kw)


def test_firing_card_names_who_did_what_where_and_when(am, adapter, teams, logs):
    t = ago(5)
    logs.put(LOG_GROUP, [
        cloudtrail("ConsoleLogin", t, source_ip="203.0.113.9"),
        cloudtrail("ListUsers", t, identity="Root", invoked_by=None, error="AccessDenied"),
        cloudtrail("ConsoleLogin", t, identity="IAMUser"),               # not root: not behind the alert
        cloudtrail("ListUsers", t, identity="Root", invoked_by="support.amazonaws.com"),  # invoked by a service
    ])
    post_alerts(am, [alert("root_usage", "happy")])
    (card,) = wait_cards(teams, "happy")
    text = card.text
    assert card.title == "FIRING \u00b7 CRITICAL" and "Usage of the root user/account" in text
    assert "Prometheus, at its latest evaluation:** 1 matching CloudTrail event(s)" in text
    assert "ConsoleLogin" in text and "ListUsers" in text and "203.0.113.9" in text
    assert "arn:aws:iam::210987654321:root" in text and "210987654321 / eu-west-1" in text
    assert "AccessDenied" in text and "alice" not in text and "support.amazonaws.com" not in text
    assert "User agent: Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5)" in text and "Safari/605" not in text
    assert CANARY not in json.dumps(card.payload)  # requestParameters / responseElements never leave the log group
    urls = [a["url"] for a in _actions(card.card)]
    assert any(u.startswith("https://us-east-1.console.aws.amazon.com/cloudwatch/home") for u in urls)
    assert any("cloudtrailv2/home?region=eu-west-1#/events/ev-" in u for u in urls)
    assert schema_errors(card.card) == []
    (req,) = [r for r in logs.requests if r["filterPattern"] == next(
        d.pattern for d in STACK.detections if d.id == "root_usage")]
    assert req["target"] == "Logs_20140328.FilterLogEvents" and req["signed"] and req["logGroupName"] == LOG_GROUP
    window_ms = STACK.settings.alert_window_minutes * 60 * 1000
    assert req["startTime"] <= (t.timestamp() * 1000) and req["endTime"] >= time.time() * 1000 - 30_000
    assert req["startTime"] >= ago(2).timestamp() * 1000 - window_ms - 5_000
    searched = window(*(datetime.fromtimestamp(req[k] / 1000, timezone.utc) for k in ("startTime", "endTime")))
    assert f"CloudWatch Logs search {searched}: 2 event(s), all listed" in text  # the window it counted


def test_many_events_give_a_short_list_and_top_counts(am, teams, logs):
    t = ago(6)
    logs.put(LOG_GROUP, [cloudtrail("DeleteTrail", t, identity="IAMUser", source_ip=f"192.0.2.{i % 3}",
                                    arn=f"arn:aws:iam::210987654321:user/u{i % 2}") for i in range(9)])
    post_alerts(am, [alert("cloudtrail_config_changes", "many")])
    (card,) = wait_cards(teams, "many")
    assert "9 event(s), newest 5 listed" in card.text and "Top counts" in card.text
    assert "arn:aws:iam::210987654321:user/u0 (5)" in card.text and "192.0.2.0 (3)" in card.text
    assert card.text.count("**DeleteTrail** at") == 5
    assert schema_errors(card.card) == []


def test_resolved_card_says_when_and_after_how_long_without_runbook(am, teams):
    starts = ago(30)
    post_alerts(am, [alert("iam_policy_changes", "resolved", starts=starts)])
    wait_cards(teams, "resolved")
    post_alerts(am, [alert("iam_policy_changes", "resolved", starts=starts, ends=ago(1))])
    card = wait_cards(teams, "resolved", count=2)[-1]
    assert card.text.startswith("RESOLVED") and "after 29m" in card.text and "Runbook" not in card.text
    assert schema_errors(card.card) == []


def test_pipeline_alert_says_what_is_broken_since_when_and_searches_nothing(am, teams, logs):
    before = len(logs.requests)
    for name, component in ((ALERT_EXPORTER_DOWN, "exporter"), (ALERT_HEARTBEAT_MISSING, "cloudtrail")):
        post_alerts(am, [{"labels": {"alertname": name, "trailwatch": "true", "severity": "critical",
                                     "trailwatch_stack": f"pipe-{component}", "case": f"pipe-{component}",
                                     "component": component},
                          "annotations": {"summary": f"{component} broken", "description": "d", "runbook": "r"},
                          "startsAt": ago(12).isoformat()}])
    (exporter,) = wait_cards(teams, "pipe-exporter")
    (heartbeat,) = wait_cards(teams, "pipe-cloudtrail")
    assert "Broken:** cloudwatch_exporter" in exporter.text and "(12m" in exporter.text
    assert "Broken:** CloudTrail delivery" in heartbeat.text
    assert len(logs.requests) == before
    assert schema_errors(exporter.card) == [] and schema_errors(heartbeat.card) == []


@pytest.mark.parametrize("status", [401, 404, 413])
def test_teams_4xx_is_a_failure_alertmanager_sees(am, adapter, teams, status):
    failed = am_metric(am, "alertmanager_notification_requests_failed_total", integration="webhook")
    teams.fail_next(1, status)
    post_alerts(am, [alert("vpc_changes", f"http{status}")])
    (card,) = wait_cards(teams, f"http{status}", timeout=20)  # Alertmanager's retry delivers it
    assert adapter.metric("trailwatch_adapter_cards_failed_total", reason=f"http_{status}") >= 1
    assert am_metric(am, "alertmanager_notification_requests_failed_total", integration="webhook") > failed
    assert len(cards_for(teams, f"http{status}")) == 1


def test_429_waits_for_retry_after_inside_one_alertmanager_call(am, adapter, teams):
    failed = am_metric(am, "alertmanager_notification_requests_failed_total", integration="webhook")
    teams.fail_next(1, 429)
    post_alerts(am, [alert("nacl_changes", "throttled")])
    (card,) = wait_cards(teams, "throttled")
    tries = [d for d in teams.attempts() if "throttled" in json.dumps(d.payload)]
    assert [d.status for d in tries] == [429, 202]
    assert tries[1].received_at - tries[0].received_at >= 0.95  # the stand-in's Retry-After: 1
    assert adapter.metric("trailwatch_adapter_teams_retries_total", reason="http_429") >= 1
    assert am_metric(am, "alertmanager_notification_requests_failed_total", integration="webhook") == failed


def test_500_is_retried_with_backoff(am, adapter, teams):
    teams.fail_next(2, 500)
    post_alerts(am, [alert("route_table_changes", "http500")])
    wait_cards(teams, "http500")
    tries = [d for d in teams.attempts() if "http500" in json.dumps(d.payload)]
    assert [d.status for d in tries] == [500, 500, 202]
    assert tries[2].received_at - tries[1].received_at > tries[1].received_at - tries[0].received_at
    assert len(cards_for(teams, "http500")) == 1


def test_teams_down_for_a_moment_still_gets_the_card(am, adapter, teams):
    teams.refuse_for(1.2)
    post_alerts(am, [alert("network_gateway_changes", "down")])
    (card,) = wait_cards(teams, "down", timeout=20)
    assert adapter.metric("trailwatch_adapter_teams_retries_total", reason="unreachable") >= 1


@pytest.mark.parametrize("mode,delay,words", [
    ("throttled", 0.0, "CloudWatch Logs throttled the request"),
    ("slow", 6.0, "CloudWatch Logs did not answer in time"),
])
def test_enrichment_failure_never_blocks_the_card(am, adapter, teams, logs, mode, delay, words):
    logs.mode, logs.delay = mode, delay
    post_alerts(am, [alert("security_group_changes", f"enrich-{mode}")])
    (card,) = wait_cards(teams, f"enrich-{mode}", timeout=25)
    assert f"Event details are missing: {words}" in card.text
    assert "Logs Insights" in [a["title"] for a in _actions(card.card)]
    assert schema_errors(card.card) == []


def test_alertmanager_retry_of_a_slow_notification_makes_one_card(am, adapter, teams, logs):
    """The adapter needs longer than Alertmanager's webhook timeout (slow Logs): Alertmanager gives up on the
    first call and posts the same notification again; the adapter recognises it and posts one card."""
    logs.put(LOG_GROUP, [cloudtrail("ScheduleKeyDeletion", ago(4), identity="IAMUser",
                                    eventSource="kms.amazonaws.com")])
    logs.mode, logs.delay = "slow", 3.6
    dupes = adapter.metric("trailwatch_adapter_notifications_total", result="duplicate")
    post_alerts(am, [alert("cmk_disable_or_deletion", "am-retry")])
    (card,) = wait_cards(teams, "am-retry", timeout=20)
    logs.mode = "ok"
    time.sleep(3)  # Alertmanager's retry ends after the adapter's answer
    assert len(cards_for(teams, "am-retry")) == 1 and "1 event(s), all listed" in card.text
    assert adapter.metric("trailwatch_adapter_notifications_total", result="duplicate") > dupes


def test_alert_storm_is_paced_and_nothing_is_dropped(am, teams):
    cases = [f"storm{i}" for i in range(10)]
    post_alerts(am, [alert("console_auth_failures", c) for c in cases])
    teams.wait_for(lambda _: all(cards_for(teams, c) for c in cases), 25)
    times = sorted(cards_for(teams, c)[0].received_at for c in cases)
    assert all(len(cards_for(teams, c)) == 1 for c in cases)
    assert (len(times) - 1) / (times[-1] - times[0]) <= 4.4  # Teams' 4 per second per channel, with jitter


def test_direct_duplicate_post_makes_one_card(adapter, teams):
    body = {"version": "4", "groupKey": "{}:{case=\"direct\"}", "truncatedAlerts": 0, "status": "firing",
            "receiver": "trailwatch-teams", "groupLabels": {}, "commonLabels": {"severity": "info"},
            "commonAnnotations": {}, "externalURL": "http://am", "alerts": [{
                "status": "firing", "labels": {"alertname": "X", "severity": "info", "trailwatch_stack": "direct",
                                               "component": "alertmanager"},
                "annotations": {"summary": "direct"}, "startsAt": ago(1).isoformat(),
                "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "00aa11bb22cc33dd"}]}
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    first = request(adapter.url + "/alerts", json.dumps(body).encode(), auth)
    second = request(adapter.url + "/alerts", json.dumps(body).encode(), auth)
    assert first == (200, b'{"status": "delivered"}') and second == (200, b'{"status": "duplicate"}')
    assert len(cards_for(teams, "direct")) == 1


@pytest.mark.parametrize("headers,data,status", [
    ({}, b"{}", 401),
    ({"Authorization": "Bearer wrong-token-0000000000000000"}, b"{}", 401),
    ({"Authorization": f"Basic {TOKEN}"}, b"{}", 401),
    ({"Authorization": f"Bearer {TOKEN}"}, b"x" * (1024 * 1024 + 1), 413),
    ({"Authorization": f"Bearer {TOKEN}"}, b"not json", 400),
    ({"Authorization": f"Bearer {TOKEN}"}, b'{"version": "3"}', 400),
    ({"Authorization": f"Bearer {TOKEN}"}, b'{"version": "4", "groupKey": "g", "status": "firing", '
                                           b'"receiver": "r", "alerts": [{"status": "odd"}]}', 400),
])
def test_bad_requests_are_refused(adapter, headers, data, status):
    got, body = request(adapter.url + "/alerts", data, headers)
    assert got == status, body
    assert len(body) < 200 and b"Traceback" not in body


@pytest.mark.parametrize("path", ["/config", "/debug/pprof/", "/_dynamicwebhook/x", "/", "/metrics/../config"])
def test_nothing_else_is_served(adapter, path):
    assert request(adapter.url + path)[0] == 404
    assert request(adapter.url + path, b"{}", {"Authorization": f"Bearer {TOKEN}"})[0] == 404


def test_metrics_and_health(adapter):
    status, body = request(adapter.url + "/metrics")
    assert status == 200
    for name in ("trailwatch_adapter_cards_sent_total", "trailwatch_adapter_enrichment_seconds_bucket",
                 "trailwatch_adapter_enrichment_errors_total", "trailwatch_adapter_cards_failed_total"):
        assert name.encode() in body
    assert request(adapter.url + "/healthz") == (200, b'{"status": "ok"}')


def test_zz_every_card_of_the_module_is_valid_and_nothing_leaked(am, adapter, teams):
    """Last in the module: every accepted card validates; no log line or response holds a secret."""
    assert teams.rejected == [] or all(d.status == 401 for d in teams.rejected)
    for delivery in teams.accepted("card"):
        assert schema_errors(delivery.card) == [], delivery.title
    logs_text = adapter.log() + am.log_path.read_text(errors="replace")
    for secret in (teams.workflow_url, "sig=", "trailwatch-e2e-signature", TOKEN):
        assert secret not in logs_text
    assert ACCOUNT in json.dumps([d.payload for d in teams.accepted("card")])  # the stack account fact is shown
