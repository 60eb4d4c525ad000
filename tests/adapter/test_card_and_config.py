"""The card's size limit and schema on extreme input, and the adapter config rendered from a stack."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings, strategies as st

from adapter_chain import STACK, cloudtrail
from card_schema import schema_errors
from trailwatch.adapter.card import MAX_BYTES, TRUNCATION_NOTE, fitted
from trailwatch.adapter.config import parse_config
from trailwatch.adapter.enrich import ALLOWED_FIELDS, Enrichment, allowed_fields
from trailwatch.adapter.webhook import parse_notification
from trailwatch.render import adapter_config
from trailwatch.stack import event_detections, load_stack, log_group_name

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)


def notification(alerts: int, description: str) -> dict:
    return {"version": "4", "groupKey": "g", "status": "firing", "receiver": "r", "truncatedAlerts": 3,
            "commonLabels": {"severity": "high"}, "alerts": [{
                "status": "firing", "labels": {"alertname": "A", "detection": "root_usage", "severity": "high"},
                "annotations": {"summary": "s", "description": description, "runbook": description,
                                "logs_insights_url": "https://us-east-1.console.aws.amazon.com/x"},
                "startsAt": (NOW - timedelta(minutes=5)).isoformat(), "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": f"{i:016x}"} for i in range(alerts)]}


@settings(max_examples=25, deadline=None)
@given(alerts=st.integers(1, 40), events=st.integers(0, 60), chars=st.integers(0, 6000))
def test_card_always_fits_and_validates(alerts, events, chars):
    note = parse_notification(notification(alerts, "d" * chars))
    found = Enrichment(events=[allowed_fields(json.dumps(cloudtrail(
        "ConsoleLogin", NOW - timedelta(seconds=i), arn=f"arn:aws:iam::1:user/{'x' * 200}{i}")))
        for i in range(events)], complete=events < 50)
    body = fitted(note, {a.fingerprint: found for a in note.alerts}, NOW, "us-east-1")
    assert len(body) <= MAX_BYTES
    message = json.loads(body)
    assert schema_errors(message["attachments"][0]["content"]) == []
    small = len(json.dumps(notification(alerts, "d" * chars))) < 4000 and events <= 5
    if small:
        assert TRUNCATION_NOTE.encode() not in body


def test_a_huge_notification_is_truncated_with_a_note():
    note = parse_notification(notification(40, "d" * 6000))
    body = fitted(note, {}, NOW, "us-east-1")
    assert len(body) <= MAX_BYTES and TRUNCATION_NOTE.encode() in body


def test_only_allow_listed_fields_leave_the_log_group():
    record = cloudtrail("ConsoleLogin", NOW, additionalEventData={"MFAUsed": "No"}, sessionCredentialFromConsole="x")
    out = allowed_fields(json.dumps(record))
    assert set(out) <= {name for name, _ in ALLOWED_FIELDS}
    assert "canary" not in json.dumps(out) and "MFAUsed" not in json.dumps(out)
    assert allowed_fields("not json") is None and allowed_fields("[1]") is None


def test_adapter_config_comes_from_the_catalog():
    for name in ("dev", "docker"):
        stack = load_stack(name)
        config = adapter_config(stack)
        parsed = parse_config(json.loads(json.dumps(config)), "rendered")
        assert parsed.log_group == log_group_name(stack) and parsed.region == stack.settings.region
        assert parsed.alert_window_seconds == stack.settings.alert_window_minutes * 60
        assert {d.id: d.pattern for d in event_detections(stack)} == {k: v.pattern for k, v in
                                                                       parsed.detections.items()}
        assert parsed.dedup_seconds < stack.settings.repeat_interval_minutes * 60
    assert "cloudtrail_heartbeat" not in adapter_config(STACK)["detections"]
