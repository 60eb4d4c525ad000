"""Checks on component arguments: the same rules and one-line messages as stack config.

A consumer's program passes plain values (ids, flags, dicts); they are checked as the config key of the same
name would be (``trailwatch.settings.settings_from_values``), so a bad argument reads like a bad config value.
"""

from __future__ import annotations

from typing import Any, Mapping

import pulumi

from trailwatch.errors import ConfigError, TrailwatchError
from trailwatch.settings import StackSettings, settings_from_values


class ComponentArgsError(ConfigError, pulumi.RunError):
    """Bad component arguments. A ConfigError a caller can catch; a RunError, so ``pulumi up`` shows the one
    line and no traceback."""


def checked_settings(component: str, values: Mapping[str, Any]) -> StackSettings:
    """``values`` (config key -> Python value) checked as stack config; errors name the component first."""
    try:
        return settings_from_values(values)
    except TrailwatchError as exc:
        raise ComponentArgsError(f"{component}: {exc}") from None


def args_of(cls: type, args: Any, component: str) -> Any:
    """``args`` as a ``cls`` instance. The component provider (other languages, ``pulumi package add``) hands a
    component its inputs as a dict of snake_case names; Python callers pass ``cls(...)`` itself."""
    if isinstance(args, cls):
        return args
    if not isinstance(args, Mapping):
        raise ComponentArgsError(f"{component}: args must be {cls.__name__} or a mapping (got {type(args).__name__})")
    try:
        return cls(**args)
    except TypeError as exc:  # a missing required argument or a name the Args class does not have
        raise ComponentArgsError(f"{component}: {exc}") from None
