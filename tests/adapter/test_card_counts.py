"""What a card's counts count and which severity it shows: Prometheus' count and the adapter's own search each
say what they count, the events listed are the search's, and the severity word is the alert's own label, which
the rules take from the catalog."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest

from adapter_chain import cloudtrail
from card_schema import elements, schema_errors
from trailwatch.adapter.card import SEVERITY_STYLES, build, fitted
from trailwatch.adapter.card_text import card_text
from trailwatch.adapter.enrich import find_events
from trailwatch.adapter.webhook import parse_notification
from trailwatch.catalog import load_catalog
from trailwatch.contract import SEVERITIES
from trailwatch.render import rule_groups
from trailwatch.stack import stack_from_config

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)
START = NOW - timedelta(minutes=32)
EVENT_BLOCK = re.compile(r"\*\*[^*]+\*\* at \S+\Z")


class Logs:
    """FilterLogEvents over ``records`` (log event time = eventTime), ``per_page`` a page; ``fail_after``
    pages answered before a throttling error."""

    def __init__(self, records: list[dict], per_page: int = 50, fail_after: int | None = None):
        self.records, self.per_page, self.fail_after, self.calls = records, per_page, fail_after, 0

    def filter_log_events(self, **request):
        if self.fail_after is not None and self.calls >= self.fail_after:
            error = Exception("throttled")
            error.response = {"Error": {"Code": "ThrottlingException"}}
            raise error
        self.calls += 1
        first = int(request.get("nextToken", 0))
        page = self.records[first:first + self.per_page]
        events = [{"timestamp": int(datetime.fromisoformat(r["eventTime"].replace("Z", "+00:00")).timestamp() * 1000),
                   "message": json.dumps(r)} for r in page]
        more = first + self.per_page < len(self.records)
        return {"events": events, **({"nextToken": str(first + self.per_page)} if more else {})}


def records(count: int) -> list[dict]:
    return [cloudtrail("DeleteTrail", START + timedelta(minutes=2, seconds=i), identity="IAMUser",
                       requestParameters={"name": f"trail-{i}"}) for i in range(count)]


def search(logs: Logs, max_events: int = 200, max_pages: int = 5):
    return find_events(logs, "/lg", "{ $.eventName = * }", START, NOW, max_pages=max_pages, max_events=max_events,
                       budget_seconds=5, targets=("name",))


def detection(description: str = "1 matching CloudTrail event(s) with event times within 30m (alert threshold 1).",
              labels: dict | None = None, status: str = "firing") -> dict:
    return {"version": "4", "groupKey": "g", "status": status, "receiver": "r", "alerts": [{
        "status": status, "fingerprint": "f1", "startsAt": (NOW - timedelta(minutes=2)).isoformat(),
        "endsAt": "0001-01-01T00:00:00Z",
        "labels": labels or {"alertname": "TrailwatchCloudtrailConfigChanges", "severity": "critical",
                             "detection": "cloudtrail_config_changes"},
        "annotations": {"summary": "CloudTrail configuration changes", "description": description}}]}


def texts(message: dict) -> list[str]:
    return [t["text"] for t in elements(message, "TextBlock")]


def listed(message: dict) -> int:
    return sum(1 for t in texts(message) if EVENT_BLOCK.match(t))


@pytest.mark.parametrize("list_events, stated", [(5, "newest 5 listed"), (3, "newest 3 listed"),
                                                 (1, "newest 1 listed"), (0, "none listed"), (8, "all listed")])
def test_the_search_says_its_window_and_count_and_lists_as_many_events_as_it_says(list_events, stated):
    found = search(Logs(records(8)))
    message = build(parse_notification(detection()), {"f1": found}, NOW, "us-east-1", list_events=list_events)
    line = f"**CloudWatch Logs search 2026-05-01 11:28:00 \u2013 12:00:00 UTC: 8 event(s), {stated}**"
    assert line in texts(message)
    assert listed(message) == min(list_events, 8)
    # Prometheus' count is marked as Prometheus', apart from the search's.
    assert ("**Prometheus, at its latest evaluation:** 1 matching CloudTrail event(s) with event times within 30m "
            "(alert threshold 1).") in texts(message)
    assert schema_errors(message["attachments"][0]["content"]) == []


def test_a_shrunk_card_still_lists_exactly_what_its_count_lines_say():
    note = detection("d" * 3000)
    note["alerts"] = [{**note["alerts"][0], "fingerprint": f"f{i}"} for i in range(12)]
    found = search(Logs(records(40)))
    message = json.loads(fitted(parse_notification(note), {f"f{i}": found for i in range(12)}, NOW, "us-east-1"))
    lines = [t for t in texts(message) if t.startswith("**CloudWatch Logs search")]
    stated = [re.search(r", (all|none|newest (\d+)) listed\*\*\Z", line) for line in lines]
    assert any("Card shortened" in t for t in texts(message)) and all(stated)
    assert listed(message) == sum({"all": 40, "none": 0}.get(s.group(1)) or int(s.group(2)) for s in stated) > 0


@pytest.mark.parametrize("logs, max_events, max_pages, count, why", [
    (Logs(records(9), per_page=2), 3, 5, 4, "the 3-event limit"),
    (Logs(records(9), per_page=2), 200, 2, 4, "the 2-page limit"),
    (Logs(records(9), per_page=2, fail_after=1), 200, 5, 2, "CloudWatch Logs throttled the request"),
])
def test_a_search_stopped_early_says_how_far_it_got_and_why(logs, max_events, max_pages, count, why):
    found = search(logs, max_events=max_events, max_pages=max_pages)
    kept = min(count, max_events)
    reached = START + timedelta(minutes=2, seconds=kept - 1)  # the newest event read
    text = " ".join(card_text(fitted(parse_notification(detection()), {"f1": found}, NOW, "us-east-1")).split())
    assert (f"CloudWatch Logs search 2026-05-01 11:28:00 \u2013 12:00:00 UTC: {kept} or more event(s), all listed "
            f"(search stopped at {reached:%Y-%m-%d %H:%M:%S} UTC: {why}; more may match)") in text


def test_no_event_yet_names_the_window_searched():
    text = card_text(fitted(parse_notification(detection()), {"f1": search(Logs([]))}, NOW, "us-east-1"))
    assert "CloudWatch Logs search 2026-05-01 11:28:00 \u2013 12:00:00 UTC: no matching event yet" in text


def test_a_pipeline_alerts_description_is_not_called_a_count():
    labels = {"alertname": "TrailwatchExporterDown", "severity": "critical", "component": "exporter"}
    message = json.loads(fitted(parse_notification(detection("Prometheus cannot scrape it.", labels)), {}, NOW,
                                "us-east-1"))
    assert "Prometheus cannot scrape it." in texts(message)
    assert not any(t.startswith("**Prometheus, at") for t in texts(message))


# -- severity ---------------------------------------------------------------------------------------------------
def everything_enabled():
    off = [d.id for d in load_catalog() if not d.enabled]
    return stack_from_config("severity", {"aws:region": "us-east-1", "trailwatch:runtime": "none",
                                          "trailwatch:enableDetections": json.dumps(off),
                                          "trailwatch:suspiciousIps": json.dumps(["203.0.113.7"])})


def header(message: dict) -> str:
    return message["attachments"][0]["content"]["body"][0]["items"][0]["text"]


def test_the_cards_severity_word_is_the_catalogs_for_every_detection_heartbeat_included():
    """Each rendered rule's labels and annotations as Alertmanager sends them, one card each: the card's
    severity word is the catalog's severity of that detection (the rules copy it; the card adds none)."""
    catalog = {d.id: d.severity for d in load_catalog()}
    seen = {}
    for group in rule_groups(everything_enabled())["groups"]:
        for rule in group["rules"]:
            ident = rule["labels"].get("detection")
            if ident:
                note = detection(rule["annotations"]["description"], {"alertname": rule["alert"], **rule["labels"]})
                seen[ident] = header(json.loads(fitted(parse_notification(note), {}, NOW, "us-east-1")))
    assert seen == {ident: f"FIRING \u00b7 {severity.upper()}" for ident, severity in catalog.items()}


def test_the_cards_severities_are_the_catalogs_most_severe_first():
    assert tuple(SEVERITY_STYLES) == SEVERITIES


def test_a_mixed_notification_shows_its_most_severe_alert_and_a_missing_label_invents_none():
    note = detection()
    note["alerts"].append({**note["alerts"][0], "fingerprint": "f2",
                           "labels": {**note["alerts"][0]["labels"], "severity": "warning"}})
    note["alerts"][0]["labels"]["severity"] = "high"
    assert header(json.loads(fitted(parse_notification(note), {}, NOW, "us-east-1"))) == "FIRING \u00b7 HIGH"
    for alert in note["alerts"]:
        del alert["labels"]["severity"]
    assert header(json.loads(fitted(parse_notification(note), {}, NOW, "us-east-1"))) == "FIRING"
