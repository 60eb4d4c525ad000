"""The Prometheus series of a stack: the names its exporter serves and the labels that pick them out.

The exporter config, the rules, their promtool tests, the dashboard, the scrape config and the ServiceMonitor
(a Pulumi component) all name these series; each takes the names from here, so a renamed metric or another
stack's series cannot leave a rule that never fires. The naming rule itself is cloudwatch_exporter's
(:mod:`trailwatch.naming`).
"""

from __future__ import annotations

from .catalog import Detection, with_namespace
from .contract import STACK_LABEL
from .naming import exporter_job, exporter_metric_name
from .stack import ExceptedFilter, Stack, namespace_of


def exported_name(stack: Stack, det: Detection) -> str:
    """The exporter's Sum series for a detection: :attr:`Detection.exported_name
    <trailwatch.catalog.Detection.exported_name>`, with the namespace resolved against the stack's."""
    return with_namespace(det, stack.settings.metric_namespace).exported_name


def excepted_name(stack: Stack, f: ExceptedFilter) -> str:
    """The exporter's Sum series counting one detection's events one exception covers."""
    return exporter_metric_name(namespace_of(stack, f.detection), f.metric, "Sum")


def exported_job(stack: Stack, det: Detection) -> str:
    """``exported_job`` on the detection's series: the exporter's ``job`` label, renamed by the scrape."""
    return exporter_job(namespace_of(stack, det))


def stack_labels(stack: Stack) -> dict[str, str]:
    """Labels the scrape adds to every series of this stack's exporter (``static_configs`` labels or
    ServiceMonitor relabelings), so N stacks can share one Prometheus without reading each other's series."""
    return {STACK_LABEL: stack.name}


def stack_selector(stack: Stack, **labels: str) -> str:
    """``{trailwatch_stack="<stack>", ...}``: the label matchers every rule of this stack selects with."""
    pairs = {**labels, **stack_labels(stack)}
    return "{" + ", ".join(f'{k}="{v}"' for k, v in pairs.items()) + "}"
