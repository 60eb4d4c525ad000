"""One stack's view of the catalog: which detections are on, with what thresholds, patterns and namespace.

Also reads ``Pulumi.<stack>.yaml`` the way the Pulumi CLI hands config to a program, so the offline tools
(plan, render, replay) see exactly what ``pulumi up`` would.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

import yaml

from .catalog import Detection, check_namespace, check_pattern, check_unique, load_catalog, parse_detection
from .contract import MAX_FILTERS_PER_LOG_GROUP, MAX_PATTERN_LENGTH, MAX_REGEX_PATTERNS_PER_LOG_GROUP, SEVERITIES
from .errors import CatalogError, ConfigError, TrailwatchError, error_lines, raise_config_errors
from . import exceptions as exc, readpath
from .paths import PROJECT_ROOT
from .settings import StackSettings, cross_key_errors, declared, qualified, settings_of
from .stackfile import check_config_dir, check_stack_name, load_stack_yaml, setting_errors

SECRET_PLACEHOLDER = "https://secret.invalid/plan-placeholder"
_OVERRIDABLE = ("threshold", "severity")


@dataclass(frozen=True)
class Stack:
    name: str
    settings: StackSettings
    detections: tuple[Detection, ...]
    config: Mapping[str, str]
    secret_keys: tuple[str, ...]
    exceptions: tuple[exc.ExceptionRule, ...] = ()
    warnings: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class ExceptedFilter:
    """The metric filter (and metric) counting one detection's events that one exception covers."""
    detection: Detection
    rule: exc.ExceptionRule
    metric: str
    pattern: str

    @property
    def namespace(self) -> str:
        return self.detection.namespace or ""

    @property
    def name(self) -> str:
        """The filter's suffix: ``<detection>-x-<exception id>``."""
        return f"{self.detection.id}-x-{self.rule.id}"


def excepted_filters(detections: tuple[Detection, ...], rules: tuple[exc.ExceptionRule, ...]) -> list[ExceptedFilter]:
    """One per (enabled detection, exception naming it), in detection order."""
    return [ExceptedFilter(det, rule, f"{det.metric}Excepted{rule.id}", exc.excepted_pattern(det.pattern or "", rule))
            for det in detections for rule in exc.applying(rules, det.id)]


def stack_excepted_filters(stack: Stack) -> list[ExceptedFilter]:
    return excepted_filters(stack.detections, stack.exceptions)


def resolve_exceptions(catalog: list[Detection], settings: StackSettings, detections: tuple[Detection, ...],
                       on: dt.date | None = None) -> tuple[tuple[exc.ExceptionRule, ...], tuple[str, ...]]:
    """Check a stack's exceptions against its detections, today's date and AWS's limits; every problem at
    once (:class:`ConfigErrors`). Returns the rules and the expiry warnings plan and preview print."""
    rules = exc.parse_exceptions(settings.exceptions)
    day = on or exc.today()
    known = {d.id: d for d in catalog}
    known.update({d.id: d for d in detections})
    errors = exc.detection_errors(rules, known, [d.id for d in detections])
    errors += exc.date_errors(rules, settings.max_exception_days, day)
    errors += exc.overlap_errors(rules)
    if rules:
        try:
            readpath.check_guard(settings.alert_window_minutes, settings.delivery_lag_tolerance_minutes,
                                 settings.exporter_delay_seconds, settings.scrape_interval_seconds)
        except ConfigError as err:
            errors.append(str(err))
    if not errors:
        errors += _capacity_errors(detections, rules)
    raise_config_errors(errors)
    return rules, tuple(exc.expiry_warnings(rules, day))


def _capacity_errors(detections: tuple[Detection, ...], rules: tuple[exc.ExceptionRule, ...]) -> list[str]:
    errors = []
    extra = excepted_filters(detections, rules)
    for f in extra:
        if len(f.pattern) > MAX_PATTERN_LENGTH:
            room = MAX_PATTERN_LENGTH - (len(f.pattern) - len(f.rule.clause()))
            errors.append(f"config '{exc.KEY}'[{f.rule.index}]: {f.rule.label} on {f.detection.id!r} makes a "
                          f"{len(f.pattern)}-character filter pattern, AWS allows {MAX_PATTERN_LENGTH}: its match "
                          f"is {len(f.rule.clause())} characters, {f.detection.id!r} leaves room for {room}")
    total = len(detections) + len(extra)
    if total > MAX_FILTERS_PER_LOG_GROUP:
        last = extra[-1]
        errors.append(f"config '{exc.KEY}'[{last.rule.index}]: {last.rule.label} on {last.detection.id!r} makes "
                      f"{total} metric filters on the log group ({len(detections)} detections, {len(extra)} "
                      f"exception filters); AWS allows {MAX_FILTERS_PER_LOG_GROUP}")
    return errors


_TRAIL_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|[._-](?=[A-Za-z0-9])){2,127}\Z")


def trail_name(stack_name: str) -> str:
    return f"trailwatch-{stack_name}"


def check_trail_name(stack_name: str) -> None:
    """CloudTrail names: 3-128 letters, digits, '.', '_', '-', starting and ending alphanumeric, no two
    separators in a row. Stack names Pulumi accepts can break that (``a_-b``, ``prod.``)."""
    name = trail_name(stack_name)
    if not _TRAIL_NAME.match(name):
        raise ConfigError(f"stack {stack_name!r}: the trail name {name!r} is not a valid CloudTrail name (letters, "
                          f"digits and single '.', '_' or '-' between them, ending alphanumeric, at most 128)")


#: The config key each generated pattern (catalog ``pattern_from``) is built from.
PATTERN_KEYS = {"suspicious_ips": "trailwatch:suspiciousIps"}


def secret_pattern_ids(stack: Stack) -> frozenset[str]:
    """Detections whose filter pattern is built from a config key the stack holds as a secret."""
    return frozenset(d.id for d in stack.detections
                     if d.pattern_from and PATTERN_KEYS[d.pattern_from] in stack.secret_keys)


def log_group_name(stack: Stack) -> str:
    """The log group the filters read: the user's own, or the one TrailToLogs creates."""
    return stack.settings.existing_log_group_name or f"/aws/cloudtrail/{trail_name(stack.name)}"


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


def namespace_of(stack: Stack, det: Detection) -> str:
    """The CloudWatch namespace of a detection's metric: its own, else the stack's ``metricNamespace`` (a
    stack's detections already carry it: :func:`resolve_detections` fills it in)."""
    return det.namespace or stack.settings.metric_namespace


def suspicious_ip_pattern(ips: tuple[str, ...]) -> str:
    """The filter pattern for the suspicious-IP detection; fails clearly past AWS's 1024-character limit."""
    if not ips:
        raise ConfigError(
            "config 'trailwatch:suspiciousIps': must list at least one address while suspicious_source_ips is enabled"
        )
    clauses = [f'($.sourceIPAddress = "{ip}")' for ip in ips]
    pattern = "{ " + " || ".join(clauses) + " }"
    if len(pattern) > MAX_PATTERN_LENGTH:
        length, fits = len("{  }") - len(" || "), 0
        for clause in clauses:
            length += len(clause) + len(" || ")
            if length > MAX_PATTERN_LENGTH:
                break
            fits += 1
        raise ConfigError(
            f"config 'trailwatch:suspiciousIps': the generated pattern is {len(pattern)} characters, AWS allows "
            f"{MAX_PATTERN_LENGTH}; {len(ips)} entries given, the first {fits} fit (use wildcard prefixes such as "
            f"203.0.113.*)"
        )
    return pattern


def _apply_overrides(det: Detection, overrides: Mapping[str, Any]) -> Detection:
    where = f"config 'trailwatch:detectionOverrides.{det.id}'"
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"{where}: must be a mapping with keys {', '.join(_OVERRIDABLE)}")
    unknown = sorted(set(overrides) - set(_OVERRIDABLE))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(_OVERRIDABLE)})")
    threshold = overrides.get("threshold", det.threshold)
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
        raise ConfigError(f"{where}.threshold: must be a whole number >= 1 (got {threshold!r})")
    severity = overrides.get("severity", det.severity)
    if severity not in SEVERITIES:
        raise ConfigError(f"{where}.severity: must be one of {', '.join(SEVERITIES)} (got {severity!r})")
    return replace(det, threshold=threshold, severity=severity)


def resolve_detections(catalog: list[Detection], settings: StackSettings) -> tuple[Detection, ...]:
    """The enabled detections for a stack, with overrides, generated patterns and namespaces applied."""
    where = "stack config"
    check_namespace(settings.metric_namespace, "config 'trailwatch:metricNamespace'", "value")
    custom = [parse_detection(raw, f"config 'trailwatch:customDetections'[{i}]")
              for i, raw in enumerate(settings.custom_detections)]
    everything = catalog + custom
    check_unique(everything, settings.metric_namespace, where="config 'trailwatch:customDetections'")
    by_id = {d.id: d for d in everything}
    errors = []  # every problem of the settings below at once; the limits after them need a clean set
    for key, ids in (("enableDetections", settings.enable_detections), ("disableDetections", settings.disable_detections),
                     ("detectionOverrides", tuple(settings.detection_overrides))):
        errors += [f"config 'trailwatch:{key}': unknown detection {ident!r} (known: {', '.join(sorted(by_id))})"
                   for ident in ids if ident not in by_id]
    both = set(settings.enable_detections) & set(settings.disable_detections)
    if both:
        errors.append(f"config 'trailwatch:disableDetections': {sorted(both)[0]!r} is also in enableDetections")
    resolved = []
    for det in everything:
        on = (det.enabled or det.id in settings.enable_detections) and det.id not in settings.disable_detections
        if not on:
            continue
        try:
            det = _apply_overrides(det, settings.detection_overrides.get(det.id, {}))
            if det.pattern_from == "suspicious_ips":
                pattern = suspicious_ip_pattern(settings.suspicious_ips)
                check_pattern(pattern, f"detection '{det.id}'")
                det = replace(det, pattern=pattern)
        except TrailwatchError as error:
            errors += error_lines(error)
        resolved.append(replace(det, namespace=det.namespace or settings.metric_namespace))
    if settings.cis_compliance:
        missing = [d.id for d in everything if d.is_cis and d.id not in {r.id for r in resolved}]
        if missing:
            errors.append(f"config 'trailwatch:disableDetections': cisCompliance is true but CIS detection "
                          f"'{missing[0]}' is disabled")
    raise_config_errors(errors)
    if len(resolved) > MAX_FILTERS_PER_LOG_GROUP:
        raise CatalogError(f"{where}: {len(resolved)} detections enabled; AWS allows at most "
                           f"{MAX_FILTERS_PER_LOG_GROUP} metric filters per log group")
    regex = [d.id for d in resolved if "%" in (d.pattern or "")]
    if len(regex) > MAX_REGEX_PATTERNS_PER_LOG_GROUP:
        raise CatalogError(f"{where}: {len(regex)} detections use %regex% patterns ({', '.join(regex)}); AWS allows "
                           f"at most {MAX_REGEX_PATTERNS_PER_LOG_GROUP} per log group")
    return tuple(resolved)


_KINDS = {qualified(f.metadata["key"]): f.metadata["kind"] for f in declared()}
#: Placeholders that must pass a key's own check (an email address, an IP address; documentation ranges).
_SHAPED = {"trailwatch:alarmEmails": ["plan-placeholder+alarmEmails@secret.invalid"],
           "trailwatch:suspiciousIps": ["192.0.2.254"]}


def secret_placeholder(key: str) -> str:
    """What plan uses for a secure value it cannot decrypt: shaped like the key's kind (an array key gets a
    one-element array) and naming the key (``#<key>``), so a leak can be traced to the key that leaked."""
    if key in _SHAPED:
        return json.dumps(_SHAPED[key])
    text = f"{SECRET_PLACEHOLDER}#{key.split(':', 1)[-1]}"
    return json.dumps([text]) if _KINDS.get(key) == "array" else text


def config_strings(config: Mapping[str, Any]) -> tuple[dict[str, str], tuple[str, ...]]:
    """Turn a stack file's ``config:`` map into the strings the CLI would pass, and the secret keys.

    Secure values cannot be decrypted offline; they become a placeholder and stay marked secret.
    """
    out: dict[str, str] = {}
    secrets = []
    for key, value in config.items():
        key = qualified(str(key))
        if isinstance(value, Mapping) and set(value) == {"secure"}:
            out[key], _ = secret_placeholder(key), secrets.append(key)
        elif isinstance(value, str):
            out[key] = value
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = json.dumps(value)
    return out, tuple(secrets)


def _read_yaml(path: Path) -> Any:
    try:
        return load_stack_yaml(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path.name}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path.name}: not valid YAML ({str(exc).splitlines()[0]})") from None


def load_stack(name: str, root: Path = PROJECT_ROOT, catalog_path: Path | None = None) -> Stack:
    """Read ``Pulumi.<name>.yaml`` under ``root``, validate it and resolve its detections."""
    check_stack_name(name)
    check_config_dir(root)
    path = root / f"Pulumi.{name}.yaml"
    if not path.exists():
        stacks = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in root.glob("Pulumi.*.yaml"))
        raise ConfigError(f"stack {name!r}: no file {path.name} (stacks here: {', '.join(stacks) or 'none'})")
    data = _read_yaml(path) or {}
    if not isinstance(data, Mapping) or not isinstance(data.get("config", {}), Mapping):
        raise ConfigError(f"{path.name}: must be a mapping with a 'config' mapping")
    config, secret_keys = config_strings(data.get("config") or {})
    return stack_from_config(name, config, secret_keys, catalog_path)


_ERROR_KEY = re.compile(r"config '([^'.\[]+)")


def _key_of(line: str) -> str | None:
    """The config key an error line is about (``config 'trailwatch:x'...``), if it names one."""
    match = _ERROR_KEY.match(line)
    return match.group(1) if match else None


def stack_from_config(name: str, config: Mapping[str, str], secret_keys: tuple[str, ...] = (),
                      catalog_path: Path | None = None, on: dt.date | None = None) -> Stack:
    """The stack of ``config``, or every error in it at once (:class:`ConfigErrors`, one line each, capped at
    ``MAX_REPORTED``): each key's own check, then the cross-key rules, the trail name and the detections and
    exceptions, each on the keys that passed their own check. ``on``: the date exceptions are checked
    against (default: today, UTC)."""
    per_key = setting_errors(config)
    later: list[str] = []
    stack: Stack | None = None
    caught: TrailwatchError | None = None
    try:
        settings = settings_of(config, reported=frozenset(per_key))
        later += cross_key_errors(settings)
        if not settings.existing_log_group_name:
            try:
                check_trail_name(name)
            except ConfigError as error:
                later += error_lines(error)
        stack = stack_from_settings(name, settings, catalog_path, on, config, secret_keys)
    except TrailwatchError as error:
        later += error_lines(error)
        caught = error
    # A key whose own value was refused runs on its default above: what that default then breaks is noise.
    errors = list(dict.fromkeys([line for lines in per_key.values() for line in lines]
                                + [line for line in later if _key_of(line) not in per_key]))
    if caught is not None and errors == error_lines(caught):
        raise caught  # the one error there is, as the type its check raised (a CatalogError stays one)
    raise_config_errors(errors)
    assert stack is not None  # no error was collected, so every step ran
    return stack


def stack_from_settings(name: str, settings: StackSettings, catalog_path: Path | None = None,
                        on: dt.date | None = None, config: Mapping[str, str] | None = None,
                        secret_keys: tuple[str, ...] = ()) -> Stack:
    """The stack of already checked ``settings``: its detections and exceptions resolved against the catalog.
    A component's arguments arrive this way (no config strings: ``config`` stays empty unless given)."""
    catalog = load_catalog(catalog_path) if catalog_path else load_catalog()
    detections = resolve_detections(catalog, settings)
    rules, warnings = resolve_exceptions(catalog, settings, detections, on)
    return Stack(name, settings, detections, dict(config or {}), tuple(secret_keys), rules, warnings)
