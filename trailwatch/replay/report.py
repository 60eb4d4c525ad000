"""The replay report: per detection, what CloudWatch would have counted and what would have alerted."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .alerts import Alert, simulate_alerts
from .partial import Partial


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _minute(key: str) -> datetime:
    """A ``YYYY-MM-DDTHH:MM`` minute key as an aware UTC datetime (fromisoformat: strptime cost a third
    of a second per million series entries)."""
    return datetime.fromisoformat(key).replace(tzinfo=timezone.utc)


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
        series = {_minute(k): v for k, v in sorted(partial.series[i].items())}
        alerts = [] if rule.heartbeat else simulate_alerts(series, window_minutes, rule.threshold, hold_minutes)
        principals, source_ips, event_names = (group[i] for group in partial.tops)
        detections[rule.id] = DetectionReport(
            id=rule.id, threshold=rule.threshold, heartbeat=rule.heartbeat, matches=sum(series.values()),
            series=series, alerts=alerts, top_principals=_top(principals, top), top_source_ips=_top(source_ips, top),
            top_event_names=_top(event_names, top), top_error=max(errors[i] for errors in partial.top_error),
        )
    return Report(
        events=partial.events, malformed=partial.malformed, window_minutes=window_minutes, detections=detections,
        event_minutes={_minute(k): v for k, v in sorted(partial.event_minutes.items())},
        malformed_samples=partial.malformed_samples(), files=files,
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
    header = ("detection", "matches", "peak/min", "thr", "alerts", "first match", "last match")
    rows = []
    order = sorted(report.detections.values(), key=lambda d: (-len(d.alerts), -d.matches, d.id))
    for det in order:
        alerts = "heartbeat" if det.heartbeat else str(len(det.alerts))
        rows.append((det.id, f"{det.matches:,}", str(det.peak_per_minute), str(det.threshold), alerts,
                     _short(det.first), _short(det.last)))
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    right = {1, 2, 3, 4}
    for row in [header] + rows:
        lines.append("  ".join(c.rjust(w) if i in right else c.ljust(w)
                               for i, (c, w) in enumerate(zip(row, widths))).rstrip())
    for det in order:
        if not det.matches:
            continue
        lines += ["", f"{det.id}: {det.matches:,} matches"]
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
