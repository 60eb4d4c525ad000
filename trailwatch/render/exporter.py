"""The cloudwatch_exporter configuration: one entry per enabled detection (heartbeat included).

Metric-filter metrics have no dimensions, so ``aws_dimensions`` is omitted: an empty list would add a
ListMetrics call per scrape and export nothing once the metric had no data for three hours. Only ``Sum`` is
fetched (the exporter fetches all five statistics otherwise, five times the cost and series), and
``set_timestamp`` keeps CloudWatch's datapoint time, which is what the alert window is measured against.
"""

from __future__ import annotations

from typing import Any

from ..stack import Stack
from .common import dump_yaml, exported_detections, generated_header, namespace_of


def exporter_config(stack: Stack) -> dict[str, Any]:
    s = stack.settings
    metrics = [
        {
            "aws_namespace": namespace_of(stack, det),
            "aws_metric_name": det.metric,
            "aws_statistics": ["Sum"],
            "period_seconds": s.exporter_period_seconds,
            "delay_seconds": s.exporter_delay_seconds,
            "range_seconds": s.exporter_range_seconds,
            "set_timestamp": True,
        }
        for det in exported_detections(stack)
    ]
    return {"region": s.region, "metrics": metrics}


def render_exporter_config(stack: Stack) -> str:
    header = generated_header(stack, "cloudwatch_exporter config: the prom/cloudwatch-exporter image reads "
                                     "/config/config.yml (the jar takes it after the port). AWS credentials come "
                                     "from the environment, an instance role or IRSA.")
    return dump_yaml(exporter_config(stack), header)
