"""A plain Prometheus ``scrape_configs`` entry for the exporter, for Prometheus not run by the Operator.

``honor_labels`` stays at its default (false): the exporter's ``job`` label then arrives as
``exported_job`` and the scrape's own ``job``/``instance`` identify the exporter, which is exactly what the
rules (``up{job=...}``) and the promtool tests assume.

Several stacks may share one Prometheus: each stack's job is named after the stack (job names must be unique in
a prometheus.yml), relabeled back to the common ``job`` the rules select, and its target carries
``trailwatch_stack=<stack>``, which every series of that scrape inherits and every rule of that stack selects on.
"""

from __future__ import annotations

from typing import Any

from ..contract import ADAPTER_MODE, ADAPTER_SCRAPE_JOB, EXPORTER_SCRAPE_JOB, MAX_SCRAPE_TIMEOUT_SECONDS
from ..series import stack_labels
from ..stack import Stack
from .durations import duration
from .options import EXAMPLE_EXPORTER_TARGET
from .yaml_text import dump_yaml, generated_header


def scrape_config(stack: Stack, target: str = EXAMPLE_EXPORTER_TARGET, job: str = EXPORTER_SCRAPE_JOB) -> dict[str, Any]:
    """The stack's scrape job ``<job>-<stack>`` for ``target``, relabeled to ``job`` with the stack label."""
    interval = stack.settings.scrape_interval_seconds
    return {
        "job_name": f"{job}-{stack.name}",
        "scrape_interval": duration(interval),
        "scrape_timeout": duration(min(interval, MAX_SCRAPE_TIMEOUT_SECONDS)),
        "metrics_path": "/metrics",
        "static_configs": [{"targets": [target], "labels": stack_labels(stack)}],
        "relabel_configs": [{"target_label": "job", "replacement": job}],
    }


def scrape_configs(stack: Stack, target: str = EXAMPLE_EXPORTER_TARGET,
                   adapter_target: str | None = None) -> list[dict[str, Any]]:
    """The exporter's job, and in adapter mode the Teams adapter's (``adapter_target``: its host:port)."""
    jobs = [scrape_config(stack, target)]
    if stack.settings.teams_mode == ADAPTER_MODE and adapter_target:
        jobs.append(scrape_config(stack, adapter_target, ADAPTER_SCRAPE_JOB))
    return jobs


def render_scrape_config(stack: Stack, target: str = EXAMPLE_EXPORTER_TARGET,
                         adapter_target: str | None = None) -> str:
    jobs = scrape_configs(stack, target, adapter_target)
    what = f"replace {target} with the exporter's host:port"
    if len(jobs) > 1:
        what += f" and {adapter_target} with the Teams adapter's"
    header = generated_header(stack, f"Add these jobs under scrape_configs: in prometheus.yml; {what}.")
    return dump_yaml({"scrape_configs": jobs}, header)
