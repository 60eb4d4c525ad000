"""Run the trailwatch alert path on one machine, without AWS: a local demo and the end-to-end tests' core.

What is real and what stands in:

* **Emulated** (clearly named so): CloudWatch's metric store (:mod:`.cloudwatch`, fed by ``replay``'s per-minute
  metric-filter counts) and cloudwatch_exporter (:class:`.exporter.ExporterEmulator`, serving ``/metrics``
  exactly as cloudwatch_exporter does for the rendered exporter config).
* **Real**: Prometheus and Alertmanager binaries (``make tools``), started on free loopback ports with
  temporary data directories, fed the files ``python -m trailwatch render`` produces (:mod:`.processes`,
  :mod:`.pipeline`).

Time: replayed CloudTrail minutes are placed on a :class:`.timeline.Timeline` that shifts (and optionally
compresses) the event timeline onto the emulator's clock, so the datapoints become readable in the recent
past, where Prometheus accepts samples with their own timestamps.
"""

from .clock import ManualClock, ScaledClock
from .cloudwatch import FilterMetric, MetricStore
from .demo import (
    DEMO_EXCEPTION, DEMO_EXCEPTION_DAYS, MAX_MINUTES, TIME_SCALE, adapter_process, bundled_exceptions, default_events,
    demo_stack, load_events, load_exceptions, place_plan, real_teams_url, run_demo,
)
from .emulation import StackEmulation, filter_rules, stack_filters
from .exporter import CONTENT_TYPE, ExporterConfigError, ExporterEmulator, MetricRule, java_double, parse_exporter_config
from .latency import Outcome, PromSide, detection_config, simulate
from .logs import LogsEmulator
from .pipeline import LocalPipeline, scaled_rules
from .processes import Alertmanager, LocalRunError, TeamsAdapter, find_tool, free_port
from .teams import TeamsSink
from .timeline import ReplayedMinutes, Timeline, parse_minute

__all__ = [
    "Alertmanager", "CONTENT_TYPE", "DEMO_EXCEPTION", "DEMO_EXCEPTION_DAYS", "ExporterConfigError", "ExporterEmulator",
    "FilterMetric", "LocalPipeline", "LocalRunError", "LogsEmulator", "MAX_MINUTES", "ManualClock", "MetricRule",
    "MetricStore", "Outcome", "PromSide", "ReplayedMinutes", "ScaledClock", "StackEmulation", "TIME_SCALE",
    "TeamsAdapter", "TeamsSink", "Timeline", "adapter_process", "bundled_exceptions", "default_events",
    "demo_stack", "detection_config", "filter_rules", "find_tool", "free_port", "java_double", "load_events",
    "load_exceptions", "parse_exporter_config", "parse_minute", "place_plan", "real_teams_url", "run_demo",
    "scaled_rules", "simulate", "stack_filters",
]
