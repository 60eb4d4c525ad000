"""Pulumi ComponentResources of the pipeline, thin layers over the trailwatch core."""

from .metric_filter_set import MetricFilterSet, MetricFilterSetArgs
from .trail_to_logs import TrailToLogs, TrailToLogsArgs

__all__ = ["MetricFilterSet", "MetricFilterSetArgs", "TrailToLogs", "TrailToLogsArgs"]
