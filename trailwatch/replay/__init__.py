"""Replay CloudTrail logs through a stack's metric filters and alert rules, offline.

Public API::

    replay_paths(paths, detections, window_minutes=30, *, top=5, progress=False, hold_minutes=0,
                 workers=1, dask=None, key_filter=None, exceptions=(), principals=(),
                 record_path=None) -> Report           # paths: files, folders, s3:// URLs
    replay_records(records, detections, window_minutes=30, *, top=5, hold_minutes=0, exceptions=(),
                   principals=()) -> Report
    stack_detections(stack, *, include_disabled=False) -> list[Detection]
    alert_hold_minutes(stack) -> int                   # the rules' max_over_time look-back, in minutes
    simulate_alerts(series, window_minutes, threshold=1, hold_minutes=0) -> list[Alert]
    read_records(paths, record_path=None) -> iterator of record dicts and Malformed markers
    read_stream(stream, where, *, text_lines=False, blocks=False, record_path=None) -> the same, from one stream
    RecordPath(text)                                   # where each record sits: "event", "detail.record"
    FOLDER_SUFFIXES, SKIPPED_FOLDERS                   # the files a folder walk reads, the folders it skips
    KeyFilter(accounts, regions, since, until)         # which S3 keys replay_paths reads (imports botocore)
    minute_of(timestamp) -> "YYYY-MM-DDTHH:MM" | None  # the UTC minute a record is counted in
    render_table(report) -> str                        # the `replay` table
    render_html(report, *, sources=(), stack=None) -> str   # the `replay --format html` page (imports matplotlib)
    detection_bins(report, detection_report) -> Bins   # how that page bins a detection's chart
    tunable(stack) -> list[str]                        # detections `--suggest-exceptions` sums principals of
    suggestions(report, stack, on=None) -> str         # the YAML `replay --suggest-exceptions` prints

    Report.events, .malformed, .malformed_samples, .window_minutes, .files
    Report.detections[id] -> DetectionReport(matches, first, last, peak_per_minute, series, alerts,
                                             top_principals, top_source_ips, top_event_names, threshold,
                                             excepted, paged_series, alerts_without_exceptions)
    Report.series -> {detection_id: {minute (aware UTC datetime): count}}   # minutes with matches
    Report.datapoints(detection_id) -> {minute: count}  # with the zeros of default_value 0
    Report.event_minutes -> {minute: records}
    Report.to_dict() / .to_json()                      # the `replay --format json` document

``detections`` is a sequence of resolved :class:`~trailwatch.catalog.Detection` (``Stack.detections``),
a ``{id: pattern}`` mapping (threshold 1), or :class:`Rule` items. Records are bucketed by the minute of
``eventTime`` (UTC; ``@timestamp`` when ``eventTime`` is absent, as in Logstash-shipped events); a record
with neither, or with an unparseable time, is counted in ``malformed`` and matched by nothing. Inputs and
formats: see :mod:`trailwatch.replay.readers`; alert semantics: :mod:`trailwatch.replay.alerts`.

``record_path``: a dotted path (``event``, ``detail.record``) or :class:`RecordPath`, when each record is wrapped
in a member of the objects the input holds (see :class:`~trailwatch.replay.readers.RecordPath`); ReplayError if
it is not one.

``exceptions``: the stack's noise exceptions (``Stack.exceptions``); each detection's matches are then split
into those each exception covers and those that page (see :mod:`trailwatch.replay.report`). ``principals``:
detection ids whose unexcepted matches are summed per principal, for
:func:`trailwatch.replay.suggest.suggestions`.

At scale the replay is a map/reduce: the input is cut into tasks (:mod:`~trailwatch.replay.tasks`: files,
byte ranges of big JSON-lines files, S3 objects from :mod:`~trailwatch.replay.s3`), each read into a
:class:`~trailwatch.replay.partial.Partial`, merged into one (associative, commutative), on ``workers`` local
processes (:mod:`~trailwatch.replay.pool`) or a Dask cluster (:mod:`~trailwatch.replay.cluster`). The report
is the same as one pass in this process, except that top counts past the counters' cap are approximate
within their stated bound in both.
"""

from __future__ import annotations

import os
from dataclasses import replace
from itertools import chain, islice
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Sequence

from ..catalog import Detection, load_catalog
from ..exceptions import ExceptionRule
from ..readpath import detection_hold_seconds
from ..stack import Stack
from .alerts import Alert, simulate_alerts
from . import cluster, pool
from .chartdata import detection_bins
from .engine import Aggregator, Rule, as_rules, tuned
from .partial import Partial
from .readers import FOLDER_SUFFIXES, SKIPPED_FOLDERS, Malformed, RecordPath, RecordReader, ReplayError, read_stream
from .recordkeys import minute_of
from .report import DetectionReport, Report, build_report, render_table
from .sources import Sources
from .suggest import suggestions, tunable
from .tasks import plan, read_sources, task_bytes

if TYPE_CHECKING:
    from .html import render_html
    from .s3 import KeyFilter

__all__ = [
    "Alert", "DetectionReport", "FOLDER_SUFFIXES", "KeyFilter", "Malformed", "RecordPath", "Report", "ReplayError",
    "Rule", "SKIPPED_FOLDERS", "alert_hold_minutes", "detection_bins", "minute_of", "read_records", "read_stream",
    "render_html", "render_table", "replay_paths", "replay_records", "simulate_alerts", "stack_detections",
    "suggestions", "tunable",
]


def __getattr__(name: str) -> Any:
    """The exports whose modules import a heavy optional library, imported on first use: ``render_html``
    (matplotlib, only ``--format html`` needs it) and ``KeyFilter`` (botocore, only S3 input needs it)."""
    if name == "render_html":
        from .html import render_html
        return render_html
    if name == "KeyFilter":
        from .s3 import KeyFilter
        return KeyFilter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

Detections = Sequence[Detection] | Mapping[str, str] | Iterable[Rule]


def read_records(paths: Iterable[str | os.PathLike], record_path: str | RecordPath | None = None) -> Iterator[Any]:
    """Every record (dict) and :class:`Malformed` marker in the paths (files, folders, ``-``)."""
    return iter(RecordReader(paths, record_path=_record_path(record_path)))


def replay_records(records: Iterable[Any], detections: Detections, window_minutes: int = 30, *,
                   top: int = 5, hold_minutes: int = 0, exceptions: Sequence[ExceptionRule] = (),
                   principals: Iterable[str] = ()) -> Report:
    """Replay an iterable of records (dicts, raw JSON lines, or Malformed markers), consumed lazily."""
    agg = Aggregator(tuned(as_rules(detections), exceptions, principals))
    agg.feed(records)
    return build_report(Partial.of(agg), window_minutes, top, hold_minutes)


def replay_paths(paths: Iterable[str | os.PathLike], detections: Detections, window_minutes: int = 30, *,
                 top: int = 5, progress: bool | Any = False, hold_minutes: int = 0, workers: int = 1,
                 dask: str | None = None, key_filter: KeyFilter | None = None,
                 exceptions: Sequence[ExceptionRule] = (), principals: Iterable[str] = (),
                 record_path: str | RecordPath | None = None) -> Report:
    """Replay CloudTrail files, folders and ``s3://bucket/prefix`` URLs (``key_filter`` selects S3 keys).
    ``progress``: True for a bar on stderr when it is a terminal (after a second), or a stream to draw it
    on. ``workers`` > 1: that many local processes; ``dask``: a scheduler address, to run on that cluster
    instead. The report is the same either way. Raises ReplayError for a missing path or bucket."""
    unwrap = _record_path(record_path)
    rules = tuned(as_rules(detections), exceptions, principals)
    Aggregator(rules)  # validates the detections before any work starts
    sources = Sources(paths, key_filter, unwrap)
    partial = (_on_cluster(dask, sources, rules, progress) if dask is not None
               else _on_processes(sources, rules, workers, progress))
    return build_report(partial, window_minutes, top, hold_minutes, files=sources.count)


def _record_path(path: str | RecordPath | None) -> RecordPath | None:
    return path if path is None or isinstance(path, RecordPath) else RecordPath(path)


def _on_processes(sources: Sources, rules: list[Rule], workers: int, progress: bool | Any) -> Partial:
    """On ``workers`` processes if the input makes two tasks or more; else here, in one pass."""
    tasks = plan(sources, task_bytes(sources.total_bytes, workers)) if workers > 1 and not sources.stdin else iter(())
    first = list(islice(tasks, 2))
    if len(first) > 1:
        return pool.replay(chain(first, tasks), rules, workers, total_bytes=sources.total_bytes, progress=progress)
    return read_sources(first[0].sources if first else sources, rules, total_bytes=sources.total_bytes,
                        progress=progress)


def _on_cluster(address: str, sources: Sources, rules: list[Rule], progress: bool | Any) -> Partial:
    if sources.stdin:
        raise ReplayError("--dask: standard input (-) cannot be read by the cluster's workers")
    with cluster.connect(address) as client:
        tasks = plan(sources, task_bytes(sources.total_bytes, cluster.threads(client)))
        return cluster.replay(client, tasks, rules, total_bytes=sources.total_bytes, progress=progress)


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
