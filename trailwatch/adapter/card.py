"""The Adaptive Card (schema 1.5, what Teams renders) for one Alertmanager notification, in the Workflows
message envelope, at most :data:`MAX_BYTES` bytes.

Layout: a coloured header (state and severity in words, readable without colour), then per alert: what
happened, where and since when; for a tuned detection how many events in its window its exceptions hid and
which (reason, owner); for detections the events behind it (a compact list of the newest few with the
resource each acted on, top counts beyond) and links; for the pipeline's own alerts what is broken since
when; for resolved alerts when and after how long, without the runbook.

Two counts can appear on a detection's card and each says what it counts: the description's is Prometheus'
(matching events in the alert window, at its latest evaluation before the notification), the event list's is
the adapter's own CloudWatch Logs search, with its window; the events listed are that search's.

The severity word is the alerts' own ``severity`` label, which the rules copy from the catalog (or a stack's
override): the card has no severity of its own.

Teams renders Markdown in TextBlocks and fact values, and everything the card shows that it did not write
itself (alert labels and annotations, CloudTrail fields: a caller chooses its own user agent) goes through
:func:`inert` first: it reads as the literal text, never as a link, a mention, emphasis or a line break.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any, Mapping
from urllib.parse import quote

from ..contract import (
    COMPONENT_ALERTMANAGER, COMPONENT_CLOUDTRAIL, COMPONENT_EXPORTER, COMPONENT_LABEL, CRITICAL, DETECTION_LABEL, HIGH,
    INFO, SEVERITY_LABEL, STACK_LABEL, WARNING,
)
from .enrich import Enrichment, short
from .webhook import Alert, Notification

CARD_VERSION = "1.5"
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
#: Teams' message size limit.
MAX_BYTES = 28 * 1024
LIST_EVENTS = 5
#: Alerts one card shows (the rest are counted); only their events are searched.
MAX_ALERTS = 20
TITLE_CHARS = 200
PIPELINE_COMPONENTS = {
    COMPONENT_CLOUDTRAIL: "CloudTrail delivery to CloudWatch Logs (no events are being counted)",
    COMPONENT_EXPORTER: "cloudwatch_exporter (Prometheus cannot read the detections' metrics)",
    COMPONENT_ALERTMANAGER: "delivery of notifications to Microsoft Teams",
}
#: Characters Teams' card Markdown acts on, as look-alikes that act on nothing: emphasis, link and mention
#: syntax, code, the DATE()/TIME() functions' braces, strike-through, headings and escapes.
_LOOKALIKE = str.maketrans({"*": "\u2217", "[": "\uff3b", "]": "\uff3d", "<": "\u2039", ">": "\u203a",
                            "`": "\u02cb", "{": "\uff5b", "}": "\uff5d", "~": "\u223c", "#": "\uff03",
                            "\\": "\u29f5"})
#: Control and format characters (zero-width, bidi overrides) and line separators: they would break lines,
#: start list items, or hide and reorder what the reader sees.
_UNSEEN = re.compile("[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")
#: An underscore that can open or close emphasis (one inside a word, as in snake_case, cannot).
_EMPHASIS = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_LIST_START = re.compile(r"\A([-+]|\d+[.)])(?= )")
#: What Teams turns into a link by itself: ``scheme://`` and ``www.``.
_AUTOLINK = re.compile(r"(?i)(?<=[a-z0-9]):/(?=/)|\bwww\.")
#: The only links a card carries: AWS console pages in a real region (the adapter's Logs Insights and event
#: history links; an annotation's URL only if it is one of these), nothing after the host but a path.
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}\Z")
_CONSOLE_URL = re.compile(r"https://[a-z]{2}(-[a-z]+)+-\d{1,2}\.console\.aws\.amazon\.com/[!-~]*\Z")
MAX_URL_CHARS = 2048
#: The catalog's severities, most severe first, and the container style (and text colour) each gets.
SEVERITY_STYLES = {CRITICAL: "attention", HIGH: "attention", WARNING: "warning", INFO: "accent"}


def is_pipeline(alert: Alert) -> bool:
    return alert.labels.get(COMPONENT_LABEL) in PIPELINE_COMPONENTS


def is_detection(alert: Alert) -> bool:
    """A detection's own alert (its description leads with Prometheus' count), not the pipeline's."""
    return bool(alert.labels.get(DETECTION_LABEL)) and not is_pipeline(alert)


def severity(note: Notification) -> str:
    """The most severe of the alerts' own ``severity`` labels ('' when none carries one)."""
    labels = [a.labels.get(SEVERITY_LABEL, "") for a in note.alerts]
    known = [s for s in labels if s in SEVERITY_STYLES]
    if known:
        return min(known, key=list(SEVERITY_STYLES).index)
    return next((s for s in labels if s), "")


def when(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S UTC")


def window(start: datetime, end: datetime) -> str:
    """``2026-05-01 11:30:00 – 12:00:00 UTC`` (the end's date only when it differs)."""
    tail = end.strftime("%H:%M:%S" if end.date() == start.date() else "%Y-%m-%d %H:%M:%S")
    return f"{start.strftime('%Y-%m-%d %H:%M:%S')} \u2013 {tail} UTC"


def span(seconds: float) -> str:
    seconds = max(0, int(seconds))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts[:2]) or "0s"


def inert(value: str, limit: int | None = None) -> str:
    """Text the card did not write, as literal text on one line (at most ``limit`` characters): unseen
    characters become spaces, Markdown's active characters look-alikes, link starts are broken."""
    flat = " ".join(_UNSEEN.sub(" ", value).split()).translate(_LOOKALIKE)
    flat = _EMPHASIS.sub("\uff3f", flat)
    flat = _LIST_START.sub(lambda m: m.group(1)[:-1] + {"-": "\u2010", "+": "\uff0b", ".": "\u2024",
                                                        ")": "\uff09"}[m.group(1)[-1]], flat)
    flat = _AUTOLINK.sub(lambda m: ":\u2215" if m.group(0) == ":/" else m.group(0)[:-1] + "\u2024", flat)
    return flat if limit is None else short(flat, limit)


def text(value: str, **extra: Any) -> dict[str, Any]:
    """A TextBlock of the card's own Markdown: anything from outside goes in through :func:`inert`."""
    return {"type": "TextBlock", "text": value, "wrap": True, **extra}


def facts(pairs: list[tuple[str, str]], limit: int | None = None) -> dict[str, Any]:
    """Titles are the card's own; every value comes from outside and is made :func:`inert` (at most ``limit``
    characters)."""
    return {"type": "FactSet", "facts": [{"title": t, "value": inert(v, limit)} for t, v in pairs if v]}


def console_url(url: str) -> str | None:
    """``url`` if it is an AWS console page (https, a region's console host, at most :data:`MAX_URL_CHARS`)."""
    return url if len(url) <= MAX_URL_CHARS and _CONSOLE_URL.match(url) else None


def event_history_url(region: str, event_id: str) -> str:
    return (f"https://{region}.console.aws.amazon.com/cloudtrailv2/home?region={quote(region)}"
            f"#/events/{quote(event_id, safe='')}")


def _event_block(e: Mapping[str, str], value_chars: int) -> dict[str, Any]:
    principal = " ".join(p for p in (e.get("principalType", ""), e.get("principalArn", "")) if p)
    where = " / ".join(p for p in (e.get("recipientAccountId", ""), e.get("awsRegion", "")) if p)
    return {"type": "Container", "separator": True, "items": [
        text(f"**{inert(e.get('eventName', '?'), value_chars)}** at {inert(e.get('eventTime', '?'), value_chars)}",
             spacing="Small"),
        facts([("Target", e.get("target", "")), ("Principal", principal), ("Invoked by", e.get("invokedBy", "")),
               ("Source IP", e.get("sourceIPAddress", "")), ("User agent", e.get("userAgent", "")),
               ("Account / region", where), ("Error", e.get("errorCode", ""))], value_chars),
    ]}


def _search(found: Enrichment) -> str:
    """``CloudWatch Logs search <window>``: what the adapter's own count counts."""
    return "CloudWatch Logs search" + (f" {window(found.start, found.end)}" if found.start and found.end else "")


def _search_line(found: Enrichment, listed: int) -> str:
    """The search's own count, the window it counted and how many of its events the card lists."""
    count = len(found.events)
    shown = "all listed" if listed == count else f"newest {listed} listed" if listed else "none listed"
    line = f"**{_search(found)}: {count}{'' if found.complete else ' or more'} event(s), {shown}**"
    if found.complete:
        return line
    reached = f" at {when(found.reached)}" if found.reached else ""
    return line + f" (search stopped{reached}: {found.error or found.stopped_by}; more may match)"


def _events_section(found: Enrichment | None, list_events: int, value_chars: int) -> list[dict[str, Any]]:
    if found is None:
        return []
    count = len(found.events)
    if found.error and not count:
        return [text(f"Event details are missing: {found.error}. Open Logs Insights below.", color="warning")]
    if not count:
        return [text(f"{_search(found)}: no matching event yet (CloudTrail delivers a few minutes late); open "
                     "Logs Insights below.", isSubtle=True)]
    listed = found.events[max(0, count - list_events):][::-1] if list_events else []
    items = [text(_search_line(found, len(listed)), weight="Bolder")]
    items += [_event_block(event, value_chars) for event in listed]
    if count > list_events or not found.complete:
        tops = []
        for label, name in (("Targets", "target"), ("Principals", "principalArn"), ("Source IPs", "sourceIPAddress"),
                            ("Events", "eventName"), ("Accounts", "recipientAccountId"), ("Regions", "awsRegion")):
            top = found.top(name)
            if top:
                tops.append((label, ", ".join(f"{short(v, 80)} ({n})" for v, n in top)))
        items += [text("**Top counts** (of the search's events)", separator=True), facts(tops, 3 * (value_chars + 8))]
    return items


def _links(alert: Alert, found: Enrichment | None, region: str) -> list[dict[str, Any]]:
    actions = []
    insights = console_url(alert.annotations.get("logs_insights_url", ""))
    if insights:
        actions.append({"type": "Action.OpenUrl", "title": "Logs Insights", "url": insights})
    if found and found.events and found.events[-1].get("eventID"):
        newest = found.events[-1]
        where = newest.get("awsRegion", "")
        actions.append({"type": "Action.OpenUrl", "title": "Newest event in CloudTrail",
                        "url": event_history_url(where if _REGION.match(where) else region, newest["eventID"])})
    return [{"type": "ActionSet", "actions": actions}] if actions else []


def _alert_section(alert: Alert, found: Enrichment | None, now: datetime, region: str,
                   list_events: int, description_chars: int, value_chars: int) -> dict[str, Any]:
    a, labels = alert.annotations, alert.labels
    items: list[dict[str, Any]] = []
    where = ", ".join(p for p in (a.get("aws_account_id", ""), a.get("aws_region", ""), a.get("log_group", "")) if p)
    if alert.status == "resolved":
        ended = alert.ends_at or now
        items.append(text(f"Resolved at {when(ended)} after {span((ended - alert.starts_at).total_seconds())} "
                          f"(fired {when(alert.starts_at)})."))
        items.append(facts([("Alert", labels.get("alertname", "")), ("Detection", labels.get(DETECTION_LABEL, "")),
                            ("Stack", labels.get(STACK_LABEL, "")), ("Where", where)], value_chars))
        return {"type": "Container", "separator": True, "items": items}
    if is_pipeline(alert):
        broken = PIPELINE_COMPONENTS[labels[COMPONENT_LABEL]]
        items.append(text(f"**Broken:** {broken}, since {when(alert.starts_at)} "
                          f"({span((now - alert.starts_at).total_seconds())} ago)."))
    description = inert(a.get("description", labels.get("alertname", "")), description_chars)
    items.append(text(f"**Prometheus, at its latest evaluation:** {description}"
                      if is_detection(alert) and "description" in a else description))
    items.append(facts([
        ("Alert", labels.get("alertname", "")), ("Detection", labels.get(DETECTION_LABEL, "")),
        ("Since", when(alert.starts_at)), ("Stack", labels.get(STACK_LABEL, "")),
        ("Where (stack)", where), ("Compliance", a.get("compliance", "")),
        ("Excepted in window", short(a.get("excepted", ""), description_chars))], value_chars))
    items += _events_section(found, list_events, value_chars)
    if a.get("runbook"):
        items.append(text(f"**Runbook:** {inert(a['runbook'], description_chars)}"))
    items += _links(alert, found, region)
    return {"type": "Container", "separator": True, "items": items}


def _header(note: Notification) -> dict[str, Any]:
    level = severity(note)
    title = (note.alerts[0].annotations.get("summary") or note.common_labels.get("alertname")
             or note.alerts[0].labels.get("alertname", "trailwatch alert"))
    firing = [a for a in note.alerts if a.status == "firing"]
    if note.status == "resolved":
        state, style = "RESOLVED", "good"
    else:
        state, style = "FIRING", SEVERITY_STYLES.get(level, "accent")
    counts = f"{len(firing)} firing" + (f", {len(note.alerts) - len(firing)} resolved"
                                        if len(firing) != len(note.alerts) else "")
    return {"type": "Container", "style": style, "bleed": True, "items": [
        text(f"{state} \u00b7 {inert(level.upper(), 40)}" if level else state, weight="Bolder", size="Medium",
             color=style),
        text(inert(title, TITLE_CHARS), weight="Bolder", size="Large", style="heading"),
        text(counts + (f"; {note.truncated_alerts} more not sent by Alertmanager" if note.truncated_alerts else ""),
             isSubtle=True, spacing="None"),
    ]}


def envelope(card: dict[str, Any]) -> dict[str, Any]:
    return {"type": "message", "attachments": [{"contentType": ADAPTIVE_CARD, "content": card}]}


def build(note: Notification, found: Mapping[str, Enrichment | None], now: datetime, region: str,
          list_events: int = LIST_EVENTS, description_chars: int = 2000, max_alerts: int = MAX_ALERTS,
          value_chars: int = 1000, note_text: str = "") -> dict[str, Any]:
    body = [_header(note)]
    for alert in note.alerts[:max_alerts]:
        body.append(_alert_section(alert, found.get(alert.fingerprint), now, region, list_events,
                                   description_chars, value_chars))
    hidden = len(note.alerts) - max_alerts
    if hidden > 0 or note_text:
        body.append(text(" ".join(p for p in ((f"{hidden} more alert(s) not shown." if hidden > 0 else ""),
                                               note_text) if p), isSubtle=True, separator=True))
    card = {"type": "AdaptiveCard", "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "version": CARD_VERSION, "msteams": {"width": "Full"}, "body": body}
    return envelope(card)


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


TRUNCATION_NOTE = "Card shortened to fit Teams' 28 KB limit"
#: Ever smaller cards, tried in order until one fits; the last one fits whatever the input's sizes (every
#: value is cut, one alert, no events).
_SHRINK: tuple[Mapping[str, int], ...] = (
    {"list_events": 3, "description_chars": 1000, "max_alerts": 10, "value_chars": 300},
    {"list_events": 1, "description_chars": 400, "max_alerts": 5, "value_chars": 120},
    {"list_events": 0, "description_chars": 200, "max_alerts": 2, "value_chars": 80},
    {"list_events": 0, "description_chars": 100, "max_alerts": 1, "value_chars": 60},
)


def _cut_note(note: Notification, list_events: int, description_chars: int, max_alerts: int,
              value_chars: int) -> str:
    """What a shrunk card left out, in words."""
    shown = min(max_alerts, len(note.alerts))
    return (f"{TRUNCATION_NOTE}: {shown} of {len(note.alerts)} alert(s) shown, "
            + (f"at most {list_events} event(s) each" if list_events else "no events listed")
            + f", descriptions cut at {description_chars} and other values at {value_chars} characters; "
            "open Logs Insights for every event.")


def fitted(note: Notification, found: Mapping[str, Enrichment | None], now: datetime, region: str,
           limit: int = MAX_BYTES) -> bytes:
    """The encoded message, shrunk (with a note saying what was cut) until it is at most ``limit`` bytes."""
    data = encode(build(note, found, now, region))
    for sizes in _SHRINK:
        if len(data) <= limit:
            break
        data = encode(build(note, found, now, region, note_text=_cut_note(note, **sizes), **sizes))
    return data
