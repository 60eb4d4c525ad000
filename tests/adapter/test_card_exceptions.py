"""The card's excepted count (the tuned alert's ``excepted`` annotation) and how the card renders text it did not
write: literal, on one line, bounded, whatever a label, an annotation or a CloudTrail field holds."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings, strategies as st

from adapter_chain import cloudtrail
from card_schema import elements, schema_errors
from trailwatch.adapter.card import build, fitted, inert
from trailwatch.adapter.card_text import card_text
from trailwatch.adapter.enrich import Enrichment, allowed_fields
from trailwatch.adapter.webhook import parse_notification

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)
EXCEPTED = ("3 by 'Pulumi deploys from GitHub Actions' (owner platform-team, exception 0ae71890, until "
            "2027-05-31)")
HOSTILE = ("3 by '[Reset your MFA](https://evil.example/login)'\n- **urgent** <at>Security Team</at> "
           "{{DATE(2026-01-01T00:00:00Z, SHORT)}} \u202eoriginal\u202c\x00 `code` www.evil.example _x_")
#: What Teams' card Markdown acts on: link syntax, emphasis, code, mentions, DATE()/TIME() braces, escapes.
ACTIVE = re.compile(r"\]\(|[*`<>{}\[\]\\~#]|://|\bwww\.|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
UNSEEN = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")


def note(annotations: dict[str, str], status: str = "firing") -> dict:
    return {"version": "4", "groupKey": "g", "status": status, "receiver": "r", "truncatedAlerts": 0,
            "commonLabels": {"severity": "warning"}, "alerts": [{
                "status": status, "fingerprint": "00000000000000aa",
                "labels": {"alertname": "TrailwatchSecurityGroupChanges", "detection": "security_group_changes",
                           "severity": "warning", "trailwatch_stack": "prod"},
                "annotations": {"summary": "Security group changes", "description": "1 matching event(s).",
                                "runbook": "Check the ingress rules.", **annotations},
                "startsAt": (NOW - timedelta(minutes=2)).isoformat(),
                "endsAt": (NOW if status == "resolved" else datetime(1, 1, 1, tzinfo=timezone.utc)).isoformat(),
                "generatorURL": "", }]}


def fact_values(message: dict) -> dict[str, str]:
    return {f["title"]: f["value"] for facts in elements(message, "FactSet") for f in facts["facts"]}


def card(annotations: dict[str, str], found: Enrichment | None = None, status: str = "firing") -> dict:
    parsed = parse_notification(note(annotations, status))
    return json.loads(fitted(parsed, {a.fingerprint: found for a in parsed.alerts}, NOW, "us-east-1"))


def test_a_tuned_alert_says_how_many_events_were_excepted_and_by_which_exception():
    message = card({"excepted": EXCEPTED})
    assert fact_values(message)["Excepted in window"] == EXCEPTED
    assert schema_errors(message["attachments"][0]["content"]) == []
    flat = " ".join(card_text(message).split())
    assert f"Excepted in window {EXCEPTED}" in flat


def test_an_untuned_or_resolved_alert_has_no_excepted_line():
    assert "Excepted in window" not in fact_values(card({}))
    assert "Excepted in window" not in json.dumps(card({"excepted": EXCEPTED}, status="resolved"))


def test_a_hostile_excepted_annotation_is_shown_as_inert_text():
    value = fact_values(card({"excepted": HOSTILE}))["Excepted in window"]
    assert not ACTIVE.search(value) and not UNSEEN.search(value), value
    assert "\n" not in value and not value.startswith("-")
    for word in ("Reset your MFA", "evil.example", "urgent", "Security Team", "original", "code"):
        assert word in value, (word, value)


def test_the_excepted_line_is_bounded_like_the_description():
    long = "; ".join([EXCEPTED] * 40)
    message = card({"excepted": long, "description": "d" * 5000})
    value = fact_values(message)["Excepted in window"]
    assert len(value) <= 2000 and value.endswith("\u2026")
    assert value.startswith(EXCEPTED)


def test_cloudtrail_fields_a_caller_chooses_are_inert_too():
    record = cloudtrail("AuthorizeSecurityGroupIngress", NOW, identity="IAMUser",
                        arn="arn:aws:iam::111122223333:user/x")
    record["userAgent"] = "[Open the runbook](https://evil.example)"
    record["sourceIPAddress"] = "<at>oncall</at>"
    found = Enrichment(events=[allowed_fields(json.dumps(record))], complete=True)
    message = card({"excepted": EXCEPTED}, found)
    facts = fact_values(message)
    for name in ("User agent", "Source IP"):
        assert not ACTIVE.search(facts[name]), facts[name]
    assert "Open the runbook" in facts["User agent"] and "oncall" in facts["Source IP"]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_inert_text_is_one_line_with_nothing_teams_would_act_on(value):
    out = inert(value, 120)
    assert len(out) <= 120
    assert not ACTIVE.search(out) and not UNSEEN.search(out)
    assert not re.match(r"([-+]|\d+[.)]) ", out), "a leading list marker"
    assert inert(out) == out


@given(st.text(alphabet=st.characters(whitelist_categories=("Lu", "Ll", "Nd")) | st.sampled_from(" ,.:;'()/-="),
               max_size=200))
def test_plain_text_reads_the_same(value):
    plain = " ".join(value.split())
    if not re.match(r"([-+]|\d+[.)]) ", plain) and "://" not in plain and "www." not in plain.lower():
        assert inert(value) == plain


def test_build_keeps_the_excepted_line_when_the_card_shrinks():
    parsed = parse_notification(note({"excepted": EXCEPTED, "description": "d" * 2000}))
    small = build(parsed, {}, NOW, "us-east-1", list_events=0, description_chars=100, max_alerts=1)
    value = fact_values(small)["Excepted in window"]
    assert value.startswith("3 by 'Pulumi deploys") and len(value) <= 100
