"""The replay report: per detection, what CloudWatch would have counted and what would have alerted.

With noise exceptions, a detection's ``series`` and ``matches`` still count every match (its metric filter
does), ``excepted`` says how many of them each exception covered, and ``alerts`` are what the deployed rules
page on: the matches no exception covers (:attr:`DetectionReport.paged_series`), as in
:func:`trailwatch.render.rules.paged_expr`; ``alerts_without_exceptions`` are what the same rule would page
without them, so the report shows the pages an exception removed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..exceptions import ExceptionRule
from .alerts import Alert, minute_time, simulate_alerts
from .partial import Partial
from .suggest import Seen


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Excepted:
    """What one exception covered of one detection's matches."""

    rule: ExceptionRule
    series: dict[datetime, int]  # minute -> matches it excepted, ascending

    @property
    def events(self) -> int:
        return sum(self.series.values())

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.rule.id, "reason": self.rule.reason, "owner": self.rule.owner,
                "expires": self.rule.expires.isoformat(), "events": self.events}


@dataclass
class DetectionReport:
    id: str
    threshold: int
    heartbeat: bool
    matches: int
    series: dict[datetime, int]  # minute -> Sum, minutes with at least one match, ascending
    alerts: list[Alert]
    top_principals: list[tuple[str, int]]
    top_source_ips: list[tuple[str, int]]
    top_event_names: list[tuple[str, int]]
    top_error: int = 0  # > 0: top counts are lower bounds, low by at most this (<= matches / (TOP_CAP/2 + 1))
    excepted: list[Excepted] = field(default_factory=list)  # per exception of this detection, in config order
    alerts_without_exceptions: list[Alert] = field(default_factory=list)  # the alerts on every match
    principals: dict[tuple, Seen] = field(default_factory=dict)  # unexcepted matches per principal (suggestions)

    @property
    def excepted_events(self) -> int:
        return sum(e.events for e in self.excepted)

    @property
    def paged_series(self) -> dict[datetime, int]:
        """The matches no exception covers, per minute (minutes with at least one): what the rule pages on."""
        if not self.excepted:
            return self.series
        left = dict(self.series)
        for e in self.excepted:
            for minute, n in e.series.items():
                left[minute] -= n
        return {minute: n for minute, n in left.items() if n}

    @property
    def first(self) -> datetime | None:
        return next(iter(self.series), None)

    @property
    def last(self) -> datetime | None:
        return next(reversed(self.series), None) if self.series else None

    @property
    def peak_per_minute(self) -> int:
        return max(self.series.values(), default=0)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "matches": self.matches,
            "first": iso(self.first),
            "last": iso(self.last),
            "peak_per_minute": self.peak_per_minute,
            "threshold": self.threshold,
            "alerts": [{"start": iso(a.start), "end": iso(a.end)} for a in self.alerts],
            "top_principals": [list(kv) for kv in self.top_principals],
            "top_source_ips": [list(kv) for kv in self.top_source_ips],
            "top_event_names": [list(kv) for kv in self.top_event_names],
        }
        out["excepted"] = [e.to_dict() for e in self.excepted]
        out["pages"] = {"without_exceptions": len(self.alerts_without_exceptions), "with_exceptions": len(self.alerts)}
        if self.excepted:
            out["alerts_without_exceptions"] = [{"start": iso(a.start), "end": iso(a.end)}
                                                for a in self.alerts_without_exceptions]
        if self.heartbeat:
            out["heartbeat"] = True
        if self.top_error:
            out["top_counts_low_by_at_most"] = self.top_error
        return out


@dataclass
class Report:
    events: int
    malformed: int
    window_minutes: int
    detections: dict[str, DetectionReport]
    event_minutes: dict[datetime, int] = field(default_factory=dict)  # minute -> well-formed records
    malformed_samples: list[str] = field(default_factory=list)
    files: int = 0  # files and S3 objects read
    hold_minutes: int = 0  # the rules' look-back each simulated alert is held for

    @property
    def series(self) -> dict[str, dict[datetime, int]]:
        """``{detection_id: {minute: count}}``: the per-minute Sum of each metric filter, minutes
        with at least one match only (see :meth:`datapoints` for the zeros CloudWatch also records)."""
        return {ident: dict(det.series) for ident, det in self.detections.items()}

    def datapoints(self, detection_id: str) -> dict[datetime, int]:
        """The datapoints CloudWatch would record for one detection's metric with the filter's
        ``default_value: 0``: the match count for every minute in which the log group received at
        least one record (0 where none matched). Minutes without any record have no datapoint."""
        hits = self.detections[detection_id].series
        return {minute: hits.get(minute, 0) for minute in self.event_minutes}

    def to_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "malformed": self.malformed,
            "window_minutes": self.window_minutes,
            "detections": {ident: det.to_dict() for ident, det in self.detections.items()},
            "malformed_samples": list(self.malformed_samples),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)


def build_report(partial: Partial, window_minutes: int, top: int = 5, hold_minutes: int = 0, files: int = 0) -> Report:
    """The report of a replay's (merged) partial result; ``files``: how many files and objects it read."""
    detections = {}
    for i, rule in enumerate(partial.rules):
        series = {minute_time(k): v for k, v in sorted(partial.series[i].items())}
        principals, source_ips, event_names = (group[i] for group in partial.tops)
        det = DetectionReport(
            id=rule.id, threshold=rule.threshold, heartbeat=rule.heartbeat, matches=sum(series.values()),
            series=series, alerts=[], top_principals=_top(principals, top), top_source_ips=_top(source_ips, top),
            top_event_names=_top(event_names, top), top_error=max(errors[i] for errors in partial.top_error),
            excepted=[Excepted(r, {minute_time(k): v for k, v in sorted(counts.items())})
                      for r, counts in zip(rule.exceptions, partial.excepted[i])],
            principals=partial.by_principal[i],
        )
        if not rule.heartbeat:
            det.alerts_without_exceptions = simulate_alerts(series, window_minutes, rule.threshold, hold_minutes)
            det.alerts = (simulate_alerts(det.paged_series, window_minutes, rule.threshold, hold_minutes)
                          if det.excepted_events else det.alerts_without_exceptions)
        detections[rule.id] = det
    return Report(
        events=partial.events, malformed=partial.malformed, window_minutes=window_minutes, detections=detections,
        event_minutes={minute_time(k): v for k, v in sorted(partial.event_minutes.items())},
        malformed_samples=partial.malformed_samples(), files=files, hold_minutes=hold_minutes,
    )


def _top(counter: dict[str, int], n: int) -> list[tuple[str, int]]:
    """The n most frequent values, ties broken by value so the output is deterministic."""
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


# -- table -------------------------------------------------------------------------------------

def render_table(report: Report) -> str:
    """Noisy detections first: most alerts, then most matches."""
    lines = [
        f"{report.events:,} events, {report.malformed:,} malformed; alert window {report.window_minutes} min "
        f"(times are CloudTrail event minutes, UTC; live, an alert starts when its events are delivered and scraped)",
        "",
    ]
    header = ("detection", "matches", "excepted", "peak/min", "thr", "alerts", "w/o exceptions", "first match",
              "last match")
    rows = []
    order = sorted(report.detections.values(), key=lambda d: (-len(d.alerts), -d.matches, d.id))
    for det in order:
        alerts, without = (("heartbeat", "-") if det.heartbeat
                           else (str(len(det.alerts)), str(len(det.alerts_without_exceptions))))
        rows.append((det.id, f"{det.matches:,}", f"{det.excepted_events:,}" if det.excepted else "-",
                     str(det.peak_per_minute), str(det.threshold), alerts, without, _short(det.first), _short(det.last)))
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    right = {1, 2, 3, 4, 5, 6}
    for row in [header] + rows:
        lines.append("  ".join(c.rjust(w) if i in right else c.ljust(w)
                               for i, (c, w) in enumerate(zip(row, widths))).rstrip())
    for det in order:
        if not det.matches:
            continue
        lines += ["", f"{det.id}: {det.matches:,} matches"]
        if det.excepted:
            lines.append(f"  pages:           {len(det.alerts):,} with exceptions, "
                         f"{len(det.alerts_without_exceptions):,} without")
            lines += [f"  {'excepted:' if k == 0 else '':<16} {e.events:,} by exception {e.rule.id} "
                      f"({e.rule.reason!r}, owner {e.rule.owner}, until {e.rule.expires})"
                      for k, e in enumerate(det.excepted)]
        if det.alerts:
            shown = ", ".join(f"{_short(a.start)} -> {_short(a.end)}" for a in det.alerts[:5])
            more = f" (+{len(det.alerts) - 5} more)" if len(det.alerts) > 5 else ""
            lines.append(f"  alerts:          {shown}{more}")
        for label, top in (("top principals", det.top_principals), ("top source IPs", det.top_source_ips),
                           ("top event names", det.top_event_names)):
            lines.append(f"  {label + ':':<16} " + ", ".join(f"{value} ({count:,})" for value, count in top))
        if det.top_error:
            lines.append(f"  (top counts are low by at most {det.top_error:,}: too many distinct values)")
    if report.malformed_samples:
        lines += ["", "malformed records (first ones):"] + [f"  {s}" for s in report.malformed_samples]
    return "\n".join(lines)


def _short(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M")
