"""Plan-only checks of the stack configuration itself, which a policy pack cannot see.

A pack receives resources, not intent: it cannot tell that a CIS stack raised a CIS alert's threshold to
10,000 or marked it ``info``, that the pipeline heartbeat was switched off (its absence looks like any stack
without it), or that Alertmanager waits a day before sending the first notification. ``python -m trailwatch
plan`` reports these from the validated stack, as violations of named checks that ``--policy-config`` can set
to another enforcement level or give other limits (same file format as the pack's policies)::

    {"alert-timings-bounded": {"maxGroupWaitSeconds": 600}, "heartbeat-enabled": "advisory"}
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, Mapping

from .errors import ConfigError
from .stack import Stack
from .violations import Violation

CONFIG_TYPE = "pulumi:config"
LEVELS = ("advisory", "mandatory", "remediate", "disabled")


def _cis_every_event(stack: Stack, config: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    if not stack.settings.cis_compliance:
        return
    limit = int(config["maxThreshold"])
    for det in (d for d in stack.detections if d.is_cis):
        where = f"trailwatch:detectionOverrides.{det.id}"
        if det.threshold > limit:
            yield where, (f"CIS detection {det.id} has threshold {det.threshold} under cisCompliance: CIS alarms "
                          f"on every matching event, and this many in one minute means an attack goes unalerted; "
                          f"allowed: a threshold of at most {limit} (policy config maxThreshold).")
        if det.severity == "info":
            yield where, (f"CIS detection {det.id} has severity info under cisCompliance, which pages nobody; "
                          f"allowed: warning, high or critical.")


def _heartbeat(stack: Stack, config: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    if not any(d.heartbeat for d in stack.detections):
        yield "trailwatch:disableDetections", (
            "no heartbeat detection is enabled (cloudtrail_heartbeat disabled): a trail, filter or exporter that "
            "stops delivering looks exactly like a quiet account. Allowed: the heartbeat enabled.")
    limit = int(config["maxMissingMinutes"])
    if stack.settings.heartbeat_missing_minutes > limit:
        yield "trailwatch:heartbeatMissingMinutes", (
            f"heartbeatMissingMinutes is {stack.settings.heartbeat_missing_minutes}: a broken pipeline goes "
            f"unnoticed that long; allowed: at most {limit}.")


def _timings(stack: Stack, config: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    s = stack.settings
    for key, value, limit, unit in (
            ("groupWaitSeconds", s.group_wait_seconds, int(config["maxGroupWaitSeconds"]), "seconds"),
            ("groupIntervalSeconds", s.group_interval_seconds, int(config["maxGroupIntervalSeconds"]), "seconds")):
        if value > limit:
            yield f"trailwatch:{key}", (f"{key} is {value} {unit}: Alertmanager holds security alerts that long "
                                        f"before notifying; allowed: at most {limit} {unit}.")


Check = Callable[[Stack, Mapping[str, Any]], Iterator[tuple[str, str]]]
#: name -> (check, default properties)
CHECKS: dict[str, tuple[Check, dict[str, Any]]] = {
    "cis-detections-alert-thresholds": (_cis_every_event, {"maxThreshold": 10}),
    "heartbeat-enabled": (_heartbeat, {"maxMissingMinutes": 180}),
    "alert-timings-bounded": (_timings, {"maxGroupWaitSeconds": 300, "maxGroupIntervalSeconds": 3600}),
}


#: Further plan-only checks that live elsewhere (they need the recorded program) but take their level here.
PLAN_ONLY = ("secret-config-stays-secret",)


def split_policy_config(overrides: Mapping[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(pack policies' config, plan-only checks' config)`` out of one ``--policy-config`` document."""
    overrides = dict(overrides or {})
    mine = {k: overrides.pop(k) for k in list(overrides) if k in CHECKS or k in PLAN_ONLY}
    if "all" in overrides:
        mine["all"] = overrides["all"]
    return overrides, mine


def level_and_properties(name: str, defaults: Mapping[str, Any], overrides: Mapping[str, Any]
                         ) -> tuple[str, dict[str, Any]]:
    """The enforcement level (default mandatory) and properties of one plan-only check."""
    level, props = "mandatory", dict(defaults)
    for override in (overrides.get("all"), overrides.get(name)):
        if isinstance(override, str):
            level = override
        elif isinstance(override, Mapping):
            level = override.get("enforcementLevel", level)
            unknown = sorted(set(override) - set(defaults) - {"enforcementLevel"})
            if unknown and override is overrides.get(name):
                raise ConfigError(f"policy config '{name}': unknown property {unknown[0]!r} (known: "
                                  f"{', '.join(sorted(defaults)) or 'none'})")
            props.update({k: v for k, v in override.items() if k in defaults})
    if level not in LEVELS:
        raise ConfigError(f"policy config '{name}': enforcementLevel must be one of {', '.join(LEVELS)} "
                          f"(got {level!r})")
    for key, value in props.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"policy config '{name}.{key}': must be a whole number >= 0 (got {value!r})")
    return level, props


def stack_config_violations(stack: Stack, overrides: Mapping[str, Any] | None = None) -> list[Violation]:
    """Every plan-only stack-config violation of ``stack``, at its configured level."""
    overrides = overrides or {}
    out = []
    for name, (check, defaults) in CHECKS.items():
        level, props = level_and_properties(name, defaults, overrides)
        if level == "disabled":
            continue
        out += [Violation(name, level, CONFIG_TYPE, key, message) for key, message in check(stack, props)]
    return out
