"""The cloudwatch_exporter configuration: one entry per enabled detection (heartbeat included), and one per
exception filter (read over the same window as its detection, so the two counts can be subtracted).

Every metric is read as a sliding-window sum (:mod:`trailwatch.readpath`): one Period-long bucket covering the
last ``alertWindowMinutes`` (the heartbeat: ``heartbeatMissingMinutes``), re-read whole on every scrape, stamped
with the scrape time (``set_timestamp: false``), so late deliveries and failed scrapes lose nothing.
Metric-filter metrics have no dimensions, so ``aws_dimensions`` is omitted: an empty list would add a
ListMetrics call per scrape and export nothing once the metric had no data for three hours. Only ``Sum`` is
fetched (the exporter fetches all five statistics otherwise, five times the cost and series).
"""

from __future__ import annotations

from typing import Any

from ..catalog import Detection
from ..readpath import window_read
from ..stack import Stack, exported_detections, namespace_of, stack_excepted_filters
from .yaml_text import dump_yaml, generated_header


def window_minutes(stack: Stack, det: Detection) -> int:
    """The window a detection's series sums over: the alert window, or the heartbeat's staleness window."""
    s = stack.settings
    return s.heartbeat_missing_minutes if det.heartbeat else s.alert_window_minutes


def exporter_config(stack: Stack) -> dict[str, Any]:
    s = stack.settings
    metrics = [
        {
            "aws_namespace": namespace_of(stack, det),
            "aws_metric_name": det.metric,
            "aws_statistics": ["Sum"],
            **window_read(window_minutes(stack, det), s.exporter_delay_seconds),
        }
        for det in exported_detections(stack)
    ]
    metrics += [
        {
            "aws_namespace": namespace_of(stack, f.detection),
            "aws_metric_name": f.metric,
            "aws_statistics": ["Sum"],
            **window_read(s.alert_window_minutes, s.exporter_delay_seconds),
        }
        for f in stack_excepted_filters(stack)
    ]
    return {"region": s.region, "metrics": metrics}


def render_exporter_config(stack: Stack) -> str:
    header = generated_header(stack, "cloudwatch_exporter config: the prom/cloudwatch-exporter image reads "
                                     "/config/config.yml (the jar takes it after the port). AWS credentials come "
                                     "from the environment, an instance role or IRSA.")
    return dump_yaml(exporter_config(stack), header)
