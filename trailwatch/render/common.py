"""Names, labels and helpers every renderer shares, so the rules, routes, tests and dashboard agree.

Everything here is a constant or a pure function: the Pulumi components import the same values, so the
Alertmanager route matches exactly the label the rules put on every alert, and the exporter-health alerts
select exactly the scrape job the scrape config (or ServiceMonitor) produces.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import yaml

from ..catalog import Detection
from ..errors import TrailwatchError
from ..naming import exporter_job, exporter_metric_name
from ..stack import ExceptedFilter, Stack

#: Every trailwatch alert carries ``trailwatch="true"``; Alertmanager routes and inhibits on it.
TRAILWATCH_LABEL = "trailwatch"
TRAILWATCH_VALUE = "true"
#: Which stack raised the alert (several stacks may feed one Alertmanager); inhibitions stay within a stack.
STACK_LABEL = "trailwatch_stack"

#: The Prometheus ``job`` of the exporter's scrape. The exporter's own ``job`` label arrives as
#: ``exported_job``; this one is the scrape's, and the exporter-health alerts select on it. A
#: ServiceMonitor must produce the same value (Service name, or ``jobLabel``).
EXPORTER_SCRAPE_JOB = "trailwatch-cloudwatch-exporter"
#: The Teams adapter's scrape job (adapter mode): its /metrics scope TrailwatchTeamsNotificationsFailing to this
#: stack's own notifications (Alertmanager's failure counters carry no receiver label).
ADAPTER_SCRAPE_JOB = "trailwatch-teams-adapter"
EXPORTER_PORT = 9106
#: The ``instance`` a default scrape gives the exporter's series in tests and examples (host:port).
EXAMPLE_EXPORTER_TARGET = f"cloudwatch-exporter:{EXPORTER_PORT}"

MODES = ("adapter", "native")
#: ``integration`` label of ``alertmanager_notifications_failed_total`` for the Teams path of each mode.
TEAMS_INTEGRATION = {"adapter": "webhook", "native": "msteamsv2"}

ALERT_EXPORTER_DOWN = "TrailwatchExporterDown"
ALERT_SCRAPE_ERRORS = "TrailwatchExporterScrapeErrors"
ALERT_HEARTBEAT_MISSING = "TrailwatchHeartbeatMissing"
ALERT_TEAMS_FAILING = "TrailwatchTeamsNotificationsFailing"
ALERT_EXCEPTION_EXPIRED = "TrailwatchExceptionExpired"
PIPELINE_ALERTS = (ALERT_EXPORTER_DOWN, ALERT_SCRAPE_ERRORS, ALERT_HEARTBEAT_MISSING, ALERT_TEAMS_FAILING,
                   ALERT_EXCEPTION_EXPIRED)

_ACCOUNT = re.compile(r"\d{12}\Z")


class RenderError(TrailwatchError):
    """A render request that cannot be honoured (bad mode, account id, output folder...)."""


def check_mode(mode: str | None, stack: Stack) -> str:
    """The Teams mode to render: ``mode`` if given, else the stack's ``teamsMode``."""
    chosen = stack.settings.teams_mode if mode is None else mode
    if chosen not in MODES:
        raise RenderError(f"mode: must be one of {', '.join(MODES)} (got {chosen!r})")
    return chosen


def with_mode(stack: Stack, mode: str | None) -> Stack:
    """The stack with ``teamsMode`` overridden (the Teams-failure alert depends on it)."""
    chosen = check_mode(mode, stack)
    if chosen == stack.settings.teams_mode:
        return stack
    return dataclasses.replace(stack, settings=dataclasses.replace(stack.settings, teams_mode=chosen))


def check_account_id(account_id: str | None) -> str | None:
    if account_id is not None and not _ACCOUNT.match(account_id):
        raise RenderError(f"account id: must be 12 digits (got {account_id!r})")
    return account_id


def namespace_of(stack: Stack, det: Detection) -> str:
    return det.namespace or stack.settings.metric_namespace


def exported_name(stack: Stack, det: Detection) -> str:
    """The exporter's Sum series for a detection, resolved against the stack's default namespace."""
    return exporter_metric_name(namespace_of(stack, det), det.metric, "Sum")


def excepted_name(stack: Stack, f: ExceptedFilter) -> str:
    """The exporter's Sum series counting one detection's events one exception covers."""
    return exporter_metric_name(namespace_of(stack, f.detection), f.metric, "Sum")


def stack_labels(stack: Stack) -> dict[str, str]:
    """Labels the scrape adds to every series of this stack's exporter (``static_configs`` labels or
    ServiceMonitor relabelings), so N stacks can share one Prometheus without reading each other's series."""
    return {STACK_LABEL: stack.name}


def stack_selector(stack: Stack, **labels: str) -> str:
    """``{trailwatch_stack="<stack>", ...}``: the label matchers every rule of this stack selects with."""
    pairs = {**labels, **stack_labels(stack)}
    return "{" + ", ".join(f'{k}="{v}"' for k, v in pairs.items()) + "}"


def exported_job(stack: Stack, det: Detection) -> str:
    """``exported_job`` on the detection's series: the exporter's ``job`` label, renamed by the scrape."""
    return exporter_job(namespace_of(stack, det))


# ``stack.detections`` holds exactly the detections this stack turned on (``Detection.enabled`` is only the
# catalog default, which enableDetections overrides), so nothing below filters on ``enabled``.

def event_detections(stack: Stack) -> list[Detection]:
    """The stack's detections that alert on events (everything but the heartbeat)."""
    return [d for d in stack.detections if not d.heartbeat]


def heartbeat_detections(stack: Stack) -> list[Detection]:
    return [d for d in stack.detections if d.heartbeat]


def exported_detections(stack: Stack) -> list[Detection]:
    """Every detection the exporter must fetch: event detections and the heartbeat."""
    return list(stack.detections)


def camel(ident: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in ident.split("_") if part)


def detection_alert_name(det: Detection) -> str:
    """``root_usage`` -> ``TrailwatchRootUsage``: valid as a metric name, which Prometheus requires."""
    return "Trailwatch" + camel(det.id)


def duration(seconds: int) -> str:
    """Seconds as a Prometheus/Alertmanager duration: 600 -> "10m", 5400 -> "1h30m", 0 -> "0s"."""
    if seconds <= 0:
        return "0s"
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            out += f"{count}{unit}"
    return out


# libyaml's emitter when present: the pure-Python one spends most of a render's time analysing scalars.
_BaseDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseDumper):  # type: ignore[misc, valid-type]
    """Block style for multi-line strings (queries, templates), so the rendered files stay readable."""


def _str(dumper: yaml.SafeDumper, value: str) -> Any:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str)


def dump_yaml(data: Any, header: str = "") -> str:
    """YAML with keys in insertion order, never wrapped; ``header`` becomes leading ``#`` lines."""
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                     width=1_000_000)
    lines = [f"# {line}".rstrip() for line in header.splitlines()] if header else []
    return "\n".join(lines + [body]) if lines else body


def generated_header(stack: Stack, what: str) -> str:
    return (f"{what}\nGenerated by `python -m trailwatch render --stack {stack.name}` from the detection catalog "
            f"and Pulumi.{stack.name}.yaml.\nDo not edit: change the catalog or the stack config and render again.")
