"""Checks on component arguments: the same rules and one-line messages as stack config, naming the argument.

A consumer's program passes plain values (ids, flags, dicts); they are checked as the config key of the same
meaning would be (``trailwatch.settings.settings_from_values``), and the message names the argument the caller
wrote (``enable_detections``), not the config key it stands for (``trailwatch:enableDetections``).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Mapping, Sequence

import pulumi

from trailwatch.stackfile import check_stack_name
from trailwatch.errors import ConfigError, TrailwatchError
from trailwatch.settings import StackSettings, settings_from_values
from trailwatch.stack import Stack, stack_from_settings

#: The detection arguments MetricFilterSet and AlertRules share, and the stack config key each stands for.
DETECTION_KEYS = {
    "enable_detections": "enableDetections", "disable_detections": "disableDetections",
    "detection_overrides": "detectionOverrides", "custom_detections": "customDetections",
    "metric_namespace": "metricNamespace", "suspicious_ips": "suspiciousIps", "cis_compliance": "cisCompliance",
    "exceptions": "exceptions", "max_exception_days": "maxExceptionDays",
}
#: The read path's timings (``trailwatch.readpath``): how CloudWatchExporter reads and Prometheus scrapes, and
#: the delivery lag that read must still count. Arguments of CloudWatchExporter and of AlertRules (whose rules
#: assume that read), checked together; and their config keys.
TIMING_KEYS = {
    "alert_window_minutes": "alertWindowMinutes", "delivery_lag_tolerance_minutes": "deliveryLagToleranceMinutes",
    "heartbeat_missing_minutes": "heartbeatMissingMinutes", "exporter_delay_seconds": "exporterDelaySeconds",
    "scrape_interval_seconds": "scrapeIntervalSeconds",
}

# ``config 'trailwatch:detectionOverrides.root_usage'``: the key and what follows it inside the quotes.
_CONFIG_KEY = re.compile(r"config '(?:[\w-]+:)?(\w+)([^']*)'")


class ComponentArgsError(ConfigError, pulumi.RunError):
    """Bad component arguments. A ConfigError a caller can catch; a RunError, so ``pulumi up`` shows the one
    line and no traceback."""


def in_argument_terms(message: str, keys: Mapping[str, str]) -> str:
    """``message`` with each config key of ``keys`` (argument -> key) written as the argument's name:
    ``config 'trailwatch:detectionOverrides.x'.severity`` becomes ``detection_overrides.x.severity``, and a
    key named in the text (``... is also in enableDetections``) becomes ``enable_detections``."""
    argument = {key.split(":", 1)[-1]: name for name, key in keys.items()}

    def located(match: re.Match) -> str:
        key, rest = match.groups()
        return f"{argument[key]}{rest}" if key in argument else match.group(0)

    message = _CONFIG_KEY.sub(located, message)
    for key, name in argument.items():
        if key != name:
            message = re.sub(rf"(?<![\w:'])\b{key}\b", name, message)
    return message


def argument_error(component: str, exc: TrailwatchError, keys: Mapping[str, str]) -> ComponentArgsError:
    """``exc`` as the component's error, in terms of its arguments (``keys``: argument -> config key): one line
    per problem (``ConfigErrors`` holds several), each starting with the component's name."""
    return ComponentArgsError("\n".join(f"{component}: {in_argument_terms(line, keys)}"
                                         for line in str(exc).splitlines()))


def checked_settings(component: str, keys: Mapping[str, str], values: Mapping[str, Any]) -> StackSettings:
    """``values`` (argument name -> Python value) checked as the stack config keys they stand for (``keys``:
    argument name -> config key); None keeps the key's default. Errors name the component, then the argument."""
    try:
        return settings_from_values({keys[name]: value for name, value in values.items()})
    except TrailwatchError as exc:
        raise argument_error(component, exc, keys) from None


def require_strings(component: str, args: Any, names: Sequence[str]) -> None:
    """Each of ``names`` a non-empty string on ``args``: values the rendered documents name (no default)."""
    for name in names:
        if not isinstance(getattr(args, name), str) or not getattr(args, name):
            raise ComponentArgsError(f"{component}: {name} must be a non-empty string")


def resolved_stack(component: str, keys: Mapping[str, str], name: str, settings: StackSettings) -> Stack:
    """The stack of checked ``settings`` the renderers read (its detections and exceptions resolved against the
    catalog); an error names the component, then the argument (``keys``: argument name -> config key)."""
    try:
        return stack_from_settings(name, settings)
    except TrailwatchError as exc:
        raise argument_error(component, exc, keys) from None


def checked_choice(component: str, name: str, value: Any, allowed: tuple[str, ...]) -> str:
    """``value`` if it is one of ``allowed``; for an argument no single config key checks on its own."""
    if value not in allowed:
        raise ComponentArgsError(f"{component}: {name}: must be one of {', '.join(allowed)} (got {value!r})")
    return value


def stack_name_or_current(component: str, name: str | None) -> str:
    """``name``, or the Pulumi stack's own: a stack name, which the rules put in label matchers as it is."""
    chosen = pulumi.get_stack() if name is None else name
    if isinstance(chosen, str):
        try:
            check_stack_name(chosen)
            return chosen
        except ConfigError:
            pass
    raise ComponentArgsError(f"{component}: stack_name: must be letters, digits, '-', '_' and '.' (got {name!r})")


def with_defaults(args: Any) -> Any:
    """A copy of the dataclass ``args`` where every None takes the field's declared default: through the
    provider a property left out arrives as None, and in Python None means the default too."""
    defaults = {f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
                for f in dataclasses.fields(args)
                if getattr(args, f.name) is None and (f.default is not dataclasses.MISSING
                                                      or f.default_factory is not dataclasses.MISSING)}
    return dataclasses.replace(args, **defaults)


def args_of(cls: type, args: Any, component: str) -> Any:
    """``args`` as a ``cls`` instance, None as the defaults. The component provider (other languages, ``pulumi
    package add``) hands a component its inputs as a dict of snake_case names; Python callers pass ``cls(...)``."""
    if isinstance(args, cls):
        return with_defaults(args)
    if not isinstance(args, Mapping):
        raise ComponentArgsError(f"{component}: args must be {cls.__name__} or a mapping (got {type(args).__name__})")
    try:
        return with_defaults(cls(**args))
    except TypeError as exc:  # a missing required argument or a name the Args class does not have
        raise ComponentArgsError(f"{component}: {exc}") from None
