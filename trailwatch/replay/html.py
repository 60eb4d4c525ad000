"""``replay --format html``: the report as one self-contained HTML page, so a team sees which detections
would be noisy before turning them on.

One file with nothing to fetch (no scripts, fonts, stylesheets or images from elsewhere; the charts are inline
SVG from :mod:`trailwatch.replay.charts`): it can be mailed, attached to a ticket or opened offline. The page
holds an overview (alerts and minutes firing per detection, noisiest first, as a chart and a table), then one
section per detection that matched: a chart of matches over that detection's own span (its axis says that span
and the input's) with the alert periods, with and without noise exceptions, shaded against the threshold
(bins: :mod:`trailwatch.replay.chartdata`), the exact alert periods, the matches each noise exception covered
(with its reason, owner and expiry) and the pages with and without them, and the top principals, source IPs
and event names. Detections without matches are listed by name only: an empty chart says nothing more.

Every value from the logs, the config or the command line (principals, IPs, event names, detection ids, file
names, exception reasons and owners) is HTML-escaped. The same report gives the same page byte for byte: no
timestamp of the run is written and the charts are deterministic.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Sequence

from .chartdata import Bins, alert_minutes, bin_detection, detection_bins, input_span, noisiest_first
from .charts import detection_chart, overview_chart
from .report import DetectionReport, Report

ALERTS_LISTED = 10
SOURCES_LISTED = 20
STYLE = """\
body { font-family: sans-serif; margin: 1.5em auto; max-width: 70em; padding: 0 1em; color: #222; }
h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { padding: 0.2em 0.6em; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
.tops { display: flex; flex-wrap: wrap; gap: 1.5em; }
.tops td { word-break: break-all; }
svg { max-width: 100%; height: auto; }
.note { color: #666; }
"""


def render_html(report: Report, *, sources: Sequence[str] = (), stack: str | None = None) -> str:
    """The page for ``report``; ``sources``: the input paths as given, ``stack``: the stack's name, both shown
    in the header."""
    order = noisiest_first(report)
    matched = [det for det in order if det.matches]
    anchors = {det.id: f"d{i}" for i, det in enumerate(matched, 1)}
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8"><title>trailwatch replay</title>',
        f"<style>\n{STYLE}</style></head>",
        "<body>",
        "<h1>trailwatch replay</h1>",
        _header(report, sources, stack),
        *_overview(report, order, anchors),
        *_sections(report, matched, anchors),
        *_malformed(report),
        "</body>",
        "</html>",
    ]
    return "\n".join(parts)


def _header(report: Report, sources: Sequence[str], stack: str | None) -> str:
    facts = [f"{report.events:,} events, {report.malformed:,} malformed",
             f"alert window {report.window_minutes} min"]
    if stack is not None:
        facts.insert(0, f"stack {escape(stack)}")
    span = input_span(report)
    if span:
        facts.append(f"events from {_time(span[0])} to {_time(span[1])} UTC (event time)")
    lines = [f"<p>{'; '.join(facts)}.</p>"]
    if sources:
        shown = ", ".join(f"<code>{escape(s)}</code>" for s in sources[:SOURCES_LISTED])
        more = f" and {len(sources) - SOURCES_LISTED:,} more" if len(sources) > SOURCES_LISTED else ""
        lines.append(f"<p>Input: {shown}{more}.</p>")
    lines.append('<p class="note">Times are CloudTrail event minutes; live, an alert starts when its events are '
                 "delivered and scraped.</p>")
    return "\n".join(lines)


def _overview(report: Report, order: list[DetectionReport], anchors: dict[str, str]) -> list[str]:
    out = ["<h2>Overview</h2>", "<p>Noisiest first: most alerts, then longest firing, then most matches.</p>"]
    out.append(overview_chart([f"{d.id} (heartbeat)" if d.heartbeat else d.id for d in order],
                              [None if d.heartbeat else len(d.alerts) for d in order],
                              [None if d.heartbeat else alert_minutes(d) for d in order]))
    out.append("<table>")
    out.append("<tr><th>detection</th><th class=n>alerts</th><th class=n>minutes firing</th>"
               "<th class=n>alerts without exceptions</th><th class=n>matches</th><th class=n>excepted</th>"
               "<th class=n>peak/min</th><th class=n>threshold</th><th>first match</th><th>last match</th></tr>")
    for det in order:
        name = escape(det.id)
        if det.id in anchors:
            name = f'<a href="#{anchors[det.id]}">{name}</a>'
        alerts, minutes, without = (("heartbeat", "n/a", "n/a") if det.heartbeat else
                                    (f"{len(det.alerts):,}", f"{alert_minutes(det):,}",
                                     f"{len(det.alerts_without_exceptions):,}"))
        excepted = f"{det.excepted_events:,}" if det.excepted else "-"
        out.append(f"<tr><td>{name}</td><td class=n>{alerts}</td><td class=n>{minutes}</td>"
                   f"<td class=n>{without}</td><td class=n>{det.matches:,}</td><td class=n>{excepted}</td>"
                   f"<td class=n>{det.peak_per_minute:,}</td>"
                   f"<td class=n>{det.threshold:,}</td><td>{_time(det.first)}</td><td>{_time(det.last)}</td></tr>")
    out.append("</table>")
    quiet = [escape(d.id) for d in order if not d.matches]
    if not report.events:
        out.append("<p>No usable record was read: nothing to chart.</p>")
    elif len(quiet) == len(order):
        out.append(f"<p>No detection matched any of the {report.events:,} events.</p>")
    elif quiet:
        out.append(f"<p>Without matches: {', '.join(quiet)}.</p>")
    return out


def _sections(report: Report, matched: list[DetectionReport], anchors: dict[str, str]) -> list[str]:
    out = []
    for det in matched:
        bins = detection_bins(report, det)
        data = bin_detection(det, bins, report.window_minutes)
        out.append(f'<h2 id="{anchors[det.id]}">{escape(det.id)}</h2>')
        out.append(f"<p>{_summary(det, max(data.window_peaks, default=0), report.window_minutes)}</p>")
        out.append(detection_chart(det.id, data, bins, threshold=det.threshold,
                                   window_minutes=report.window_minutes, heartbeat=det.heartbeat,
                                   span=_span(report, bins)))
        out.append(_alert_list(det))
        out.append(_exceptions(det))
        out.append(_tops(det))
    return out


def _span(report: Report, bins: Bins) -> str:
    """What a chart spans, and where in the input that is."""
    edges, (first, last) = bins.edges(), input_span(report)
    return f"{_time(edges[0])} to {_time(edges[-1])} UTC, of events from {_time(first)} to {_time(last)}"


def _summary(det: DetectionReport, window_peak: int, window_minutes: int) -> str:
    facts = [f"{det.matches:,} matches from {_time(det.first)} to {_time(det.last)}",
             f"peak {det.peak_per_minute:,} per minute"]
    if det.heartbeat:
        facts.append("heartbeat: alerts when records stop arriving, not on counts, so no alert is simulated")
    else:
        facts.append(f"at most {window_peak:,} in one {window_minutes}-min window against a threshold of "
                     f"{det.threshold:,}")
        facts.append(f"{len(det.alerts):,} alert{'s' if len(det.alerts) != 1 else ''}, "
                     f"{alert_minutes(det):,} minutes firing")
    return "; ".join(facts) + "."


def _alert_list(det: DetectionReport) -> str:
    if not det.alerts:
        return ""
    shown = ", ".join(f"{_time(a.start)} to {_time(a.end)}" for a in det.alerts[:ALERTS_LISTED])
    more = f" and {len(det.alerts) - ALERTS_LISTED:,} more" if len(det.alerts) > ALERTS_LISTED else ""
    return f"<p>Alert periods (UTC, end exclusive): {shown}{more}.</p>"


def _exceptions(det: DetectionReport) -> str:
    """The matches each exception covered, and what that did to the pages."""
    if not det.excepted:
        return ""
    rows = "".join(f"<tr><td><code>{escape(e.rule.id)}</code></td><td>{escape(e.rule.reason)}</td>"
                   f"<td>{escape(e.rule.owner)}</td><td>{e.rule.expires.isoformat()}</td>"
                   f"<td class=n>{e.events:,}</td></tr>" for e in det.excepted)
    pages = ("" if det.heartbeat else
             f"<p>Pages: {len(det.alerts):,} with exceptions, {len(det.alerts_without_exceptions):,} without "
             f"({det.excepted_events:,} of {det.matches:,} matches excepted).</p>")
    return (f"{pages}<table><tr><th>exception</th><th>reason</th><th>owner</th><th>expires</th>"
            f"<th class=n>matches excepted</th></tr>{rows}</table>")


def _tops(det: DetectionReport) -> str:
    tables = [_top_table(title, top) for title, top in (("principal", det.top_principals),
                                                        ("source IP", det.top_source_ips),
                                                        ("event name", det.top_event_names))]
    note = ""
    if det.top_error:
        note = (f'<p class="note">Top counts are lower bounds, low by at most {det.top_error:,} '
                "(too many distinct values to count exactly).</p>")
    return f'<div class="tops">{"".join(tables)}</div>{note}'


def _top_table(title: str, top: list[tuple[str, int]]) -> str:
    rows = "".join(f"<tr><td>{escape(value)}</td><td class=n>{count:,}</td></tr>" for value, count in top)
    if not top:
        rows = '<tr><td class="note">none recorded</td><td></td></tr>'
    return f"<table><tr><th>top {title}</th><th class=n>matches</th></tr>{rows}</table>"


def _malformed(report: Report) -> list[str]:
    if not report.malformed_samples:
        return []
    items = "".join(f"<li><code>{escape(s)}</code></li>" for s in report.malformed_samples)
    return [f"<h2>Malformed records</h2>", f"<p>{report.malformed:,} in all; the first ones:</p><ul>{items}</ul>"]


def _time(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M")
