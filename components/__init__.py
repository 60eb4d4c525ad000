"""Pulumi ComponentResources of the pipeline, thin layers over the trailwatch core."""

from .alert_rules import AlertRules, AlertRulesArgs
from .cloudwatch_exporter import CloudWatchExporter, CloudWatchExporterArgs
from .metric_filter_set import MetricFilterSet, MetricFilterSetArgs
from .teams_adapter import TeamsAdapter, TeamsAdapterArgs
from .trail_to_logs import TrailToLogs, TrailToLogsArgs

__all__ = [
    "AlertRules", "AlertRulesArgs", "CloudWatchExporter", "CloudWatchExporterArgs", "MetricFilterSet",
    "MetricFilterSetArgs", "TeamsAdapter", "TeamsAdapterArgs", "TrailToLogs", "TrailToLogsArgs",
]
