"""Replay CloudTrail logs through a stack's metric filters and alert rules, offline.

Public API::

    replay_paths(paths, detections, window_minutes=30, *, top=5, progress=False, hold_minutes=0) -> Report
    replay_records(records, detections, window_minutes=30, *, top=5, hold_minutes=0) -> Report
    stack_detections(stack, *, include_disabled=False) -> list[Detection]
    alert_hold_minutes(stack) -> int                   # the rules' max_over_time look-back, in minutes
    simulate_alerts(series, window_minutes, threshold=1, hold_minutes=0) -> list[Alert]
    read_records(paths) -> iterator of record dicts and Malformed markers

    Report.events, .malformed, .malformed_samples, .window_minutes
    Report.detections[id] -> DetectionReport(matches, first, last, peak_per_minute, series, alerts,
                                             top_principals, top_source_ips, top_event_names, threshold)
    Report.series -> {detection_id: {minute (aware UTC datetime): count}}   # minutes with matches
    Report.datapoints(detection_id) -> {minute: count}  # with the zeros of default_value 0
    Report.event_minutes -> {minute: records}
    Report.to_dict() / .to_json()                      # the `replay --format json` document

``detections`` is a sequence of resolved :class:`~trailwatch.catalog.Detection` (``Stack.detections``),
a ``{id: pattern}`` mapping (threshold 1), or :class:`Rule` items. Records are bucketed by the minute of
``eventTime`` (UTC; ``@timestamp`` when ``eventTime`` is absent, as in Logstash-shipped events); a record
with neither, or with an unparseable time, is counted in ``malformed`` and matched by nothing. Inputs and
formats: see :mod:`trailwatch.replay.readers`; alert semantics: :mod:`trailwatch.replay.alerts`.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any, Iterable, Iterator, Mapping, Sequence

from ..catalog import Detection, load_catalog
from ..readpath import detection_hold_seconds
from ..stack import Stack
from .alerts import Alert, simulate_alerts
from .engine import Aggregator, Progress, Rule, minute_of
from .readers import Malformed, RecordReader, ReplayError
from .report import DetectionReport, Report, build_report, render_table

__all__ = [
    "Alert", "DetectionReport", "Malformed", "Report", "ReplayError", "Rule", "minute_of", "read_records",
    "alert_hold_minutes", "render_table", "replay_paths", "replay_records", "simulate_alerts", "stack_detections",
]

Detections = Sequence[Detection] | Mapping[str, str] | Iterable[Rule]


def read_records(paths: Iterable[str | os.PathLike]) -> Iterator[Any]:
    """Every record (dict) and :class:`Malformed` marker in the paths (files, folders, ``-``)."""
    return iter(RecordReader(paths))


def replay_records(records: Iterable[Any], detections: Detections, window_minutes: int = 30, *,
                   top: int = 5, hold_minutes: int = 0) -> Report:
    """Replay an iterable of records (dicts, raw JSON lines, or Malformed markers), consumed lazily."""
    agg = Aggregator(detections)
    agg.feed(records)
    return build_report(agg, window_minutes, top, hold_minutes)


def replay_paths(paths: Iterable[str | os.PathLike], detections: Detections, window_minutes: int = 30, *,
                 top: int = 5, progress: bool | Any = False, hold_minutes: int = 0) -> Report:
    """Replay CloudTrail files and folders. ``progress``: True for a bar on stderr when it is a
    terminal (after a second), or a stream to draw it on. Raises ReplayError for a missing path."""
    reader = RecordReader(paths)
    agg = Aggregator(detections)
    bar = None
    if progress:
        bar = Progress(reader.total_bytes, reader.bytes_done, lambda: agg.events + agg.malformed,
                       stream=None if progress is True else progress)
    try:
        agg.feed(reader, tick=bar, locate=reader.locate)
    finally:
        if bar is not None:
            bar.close()
    return build_report(agg, window_minutes, top, hold_minutes)


def alert_hold_minutes(stack: Stack) -> int:
    """How long, in whole minutes, the stack's detection rules keep an alert after its window drops below the
    threshold (their ``max_over_time`` look-back): what replay adds to each simulated alert's end."""
    return -(-detection_hold_seconds(stack.settings.scrape_interval_seconds) // 60)


def stack_detections(stack: Stack, *, include_disabled: bool = False) -> list[Detection]:
    """The stack's enabled detections; with ``include_disabled``, also the catalog's disabled ones
    that have a fixed pattern (to see how noisy they would be before turning them on)."""
    detections = list(stack.detections)
    if include_disabled:
        have = {d.id for d in detections}
        for det in load_catalog():
            if det.id not in have and det.pattern:
                threshold = stack.settings.detection_overrides.get(det.id, {}).get("threshold", det.threshold)
                detections.append(replace(det, threshold=threshold))
    return detections
