"""The Teams stand-in: what it accepts, what it rejects, and its faults (500, 429, refused connections)."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request

import pytest
from teams_standin import TeamsStandIn, validate_webhook_v4, validate_workflow_message


def msteamsv2_message(title: str = "[FIRING:1] Usage of the root user/account", text: str = "**FIRING** ...") -> dict:
    """What Alertmanager 0.28's msteamsv2 notifier posts (notify/msteamsv2/msteamsv2.go)."""
    return {"type": "message", "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
        "content": {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
                    "version": "1.2",
                    "body": [{"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "wrap": True,
                              "style": "heading", "color": "Attention"},
                             {"type": "TextBlock", "text": text, "wrap": True}],
                    "msteams": {"width": "full"}}}]}


def webhook_v4() -> dict:
    alert = {"status": "firing", "labels": {"alertname": "TrailwatchRootUsage", "detection": "root_usage"},
             "annotations": {"summary": "Usage of the root user/account"}, "startsAt": "2026-11-26T16:30:05.123456789Z",
             "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://127.0.0.1:9090/graph", "fingerprint": "0123456789abcdef"}
    return {"version": "4", "groupKey": "{}:{}", "truncatedAlerts": 0, "status": "firing", "receiver": "trailwatch-teams",
            "groupLabels": {"alertname": "TrailwatchRootUsage"}, "commonLabels": alert["labels"],
            "commonAnnotations": alert["annotations"], "externalURL": "http://127.0.0.1:9093", "alerts": [alert]}


def post(url: str, body: object, content_type: str = "application/json") -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers)


@pytest.fixture
def teams():
    with TeamsStandIn() as server:
        yield server


def test_accepts_what_msteamsv2_posts_and_records_it(teams):
    assert post(teams.workflow_url, msteamsv2_message())[0] == 202
    (card,) = teams.accepted("card")
    assert card.title == "[FIRING:1] Usage of the root user/account" and "**FIRING**" in card.text
    assert teams.rejected == []


@pytest.mark.parametrize("mutate, problem", [
    (lambda m: m.update(type="MessageCard"), "'type' must be 'message'"),
    (lambda m: m["attachments"][0].update(contentType="application/json"), "contentType must be"),
    (lambda m: m["attachments"][0]["content"].update(version="2.0"), "'version' must be one of"),
    (lambda m: m["attachments"][0]["content"].update(body=[]), "'body' must be a non-empty list"),
    (lambda m: m["attachments"][0]["content"]["body"][1].pop("text"), "missing required 'text'"),
    (lambda m: m["attachments"][0]["content"]["body"].append({"type": "Marquee"}), "unknown element type"),
    (lambda m: m["attachments"][0]["content"]["body"].append({"type": "FactSet", "facts": [{"title": "x"}]}),
     "needs string 'title' and 'value'"),
    (lambda m: m["attachments"][0]["content"]["body"].append(
        {"type": "ActionSet", "actions": [{"type": "Action.OpenUrl", "title": "x"}]}), "missing required 'url'"),
    (lambda m: m.update(attachments=[]), "'attachments' must be a non-empty list"),
])
def test_rejects_what_teams_workflows_would_not_take(mutate, problem):
    message = msteamsv2_message()
    mutate(message)
    assert any(problem in e for e in validate_workflow_message(message)), validate_workflow_message(message)


def test_invalid_posts_get_400_wrong_signature_401_and_nothing_counts_as_delivered(teams):
    assert post(teams.workflow_url, {"text": "legacy connector payload"})[0] == 400
    assert post(teams.workflow_url, b"not json")[0] == 400
    assert post(teams.workflow_url, msteamsv2_message(), content_type="text/plain")[0] == 400
    assert post(teams.workflow_url.replace("sig=", "sig=x"), msteamsv2_message())[0] == 401
    assert post(teams.workflow_url, msteamsv2_message(text="x" * 30_000))[0] == 400
    assert teams.accepted() == [] and len(teams.rejected) == 5


def test_adapter_endpoint_takes_alertmanager_webhook_v4_only(teams):
    assert post(teams.adapter_url, webhook_v4())[0] == 200
    assert post(teams.adapter_url, msteamsv2_message())[0] == 400
    broken = webhook_v4()
    del broken["alerts"][0]["fingerprint"]
    broken["version"] = "3"
    problems = validate_webhook_v4(broken)
    assert any("version" in p for p in problems) and any("fingerprint" in p for p in problems)
    assert [d.kind for d in teams.accepted()] == ["webhook"]


def test_fault_program_500_then_429_then_refusal_then_back_on_the_same_port(teams):
    teams.fail_next(2, 500)
    teams.fail_next(1, 429)
    teams.then_refuse_for(1.0)
    assert post(teams.workflow_url, msteamsv2_message())[0] == 500
    assert post(teams.workflow_url, msteamsv2_message())[0] == 500
    status, headers = post(teams.workflow_url, msteamsv2_message())
    assert status == 429 and headers.get("Retry-After") == "1"
    port = teams.server.port
    deadline = time.monotonic() + 5
    while teams.listening and time.monotonic() < deadline:
        time.sleep(0.05)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    deadline = time.monotonic() + 10
    while not teams.refusals and time.monotonic() < deadline:
        time.sleep(0.05)
    assert teams.server.port == port and teams.listening
    assert post(teams.workflow_url, msteamsv2_message())[0] == 202
    assert [d.status for d in teams.attempts()] == [500, 500, 429, 202]
    (stopped, resumed), = teams.refusals
    assert 0.9 <= resumed - stopped < 5


def test_only_loopback():
    with pytest.raises(ValueError):
        TeamsStandIn(host="0.0.0.0")


def test_a_request_racing_the_switch_to_refusing_is_dropped_unanswered(teams):
    teams._refusing = True  # the state between "refusal decided" and "server stopped"
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        post(teams.workflow_url, msteamsv2_message())
    assert [d.status for d in teams.attempts()] == [0] and teams.accepted() == []
