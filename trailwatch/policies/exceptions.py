"""Noise-exception policies (stack policies): the guard rails of ``trailwatch:exceptions``, and the filters that
really count excepted events.

An exception hides pages, so a weak one is a blind spot an attacker can stand in. The pack refuses exactly what
the config check refuses, with the same lines: the rules live once, in :mod:`trailwatch.exceptions` (each entry
on its own) and :func:`trailwatch.stack.resolve_exceptions` (against the stack's detections, today's date, the
read path and AWS's limits); this module only runs them on the configuration the engine hands the pack. That
matters when the program that registered the resources is not trailwatch's own (which refuses such a stack
before registering anything), and at ``pulumi up`` time, when a date planned weeks ago may have passed.

Config alone is not enough: a component given typed arguments, or a transformation, decides what is really
registered. So the filters themselves are checked too. An exception filter (named ``<detection filter>-x-<id>``,
:attr:`trailwatch.stack.ExceptedFilter.name`) is subtracted from its detection's count, so it must count only
events its detection counts: its pattern must be the detection filter's own pattern ANDed with nothing but
``=`` comparisons (a ``!=`` or ``NOT EXISTS`` on a field an event lacks can be true for events nobody meant to
except), fit AWS's 1,024 characters, and be subtracted in its own detection's alert rule and nowhere else.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from functools import lru_cache
from typing import Any, Mapping

from pulumi_policy import (
    EnforcementLevel, PolicyConfigSchema, ReportViolation, Severity, StackValidationArgs, StackValidationPolicy,
)

from .. import exceptions as exc
from ..catalog import load_catalog
from ..contract import MAX_PATTERN_LENGTH
from ..errors import ConfigErrors
from ..errors import ConfigError, PatternError, TrailwatchError
from ..filterpattern import And, Condition, Node, compile_pattern, iter_conditions
from ..naming import exporter_metric_name
from ..settings import _convert, declared, parse_settings, qualified
from ..stack import resolve_detections, resolve_exceptions
from ._common import STACK_TYPE, UNKNOWN, plain, stack_config
from .coverage import LOG_METRIC_FILTER, _filter_metric, alerts_on, rule_groups

MANDATORY = EnforcementLevel.MANDATORY
#: The suffix ``-x-<exception id>`` that names an exception filter after its detection's filter.
EXCEPTION_SUFFIX = re.compile(r"-x-[0-9a-f]{8}\Z")


# --- the stack configuration ------------------------------------------------------------------------------------

def engine_settings() -> dict[str, str]:
    """Every trailwatch setting the engine handed the pack (strings, as Pulumi passes config)."""
    keys = (qualified(f.metadata["key"]) for f in declared())
    return {key: value for key in keys if (value := stack_config(key)) is not None}


def config_problems(config: Mapping[str, str], on: dt.date) -> tuple[list[str], list[str]]:
    """``(refusals, warnings)`` for the exceptions in ``config``: the very lines the config check and
    ``resolve_exceptions`` give (per entry first; the checks against the stack once every entry is sound)."""
    return _problems(json.dumps(dict(config), sort_keys=True), on)


@lru_cache(maxsize=16)
def _problems(config_json: str, on: dt.date) -> tuple[list[str], list[str]]:
    config = json.loads(config_json)
    text = config.get(exc.KEY)
    if text is None:
        return [], []
    try:
        raw = _convert(exc.KEY, "array", text)
    except ConfigError as err:
        return [str(err)], []
    errors = exc.entry_errors(raw)
    if errors:
        return errors, []
    warnings = exc.expiry_warnings(exc.parse_exceptions(raw), on)
    try:
        settings = parse_settings(config)
        catalog = load_catalog()
        detections = resolve_detections(catalog, settings)
    except TrailwatchError as err:
        return [f"config '{exc.KEY}': cannot be checked, the stack config is invalid: {err}"], warnings
    try:
        resolve_exceptions(catalog, settings, detections, on)
    except ConfigErrors as err:
        return list(err.errors), warnings
    except ConfigError as err:
        return [str(err)], warnings
    return [], warnings


def _stack_urn(args: StackValidationArgs) -> str | None:
    return next((r.urn for r in args.resources if r.resource_type == STACK_TYPE), None)


def _guarded(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    refusals, _ = config_problems(engine_settings(), exc.today())
    urn = _stack_urn(args)
    for line in refusals:
        report_violation(line, urn)


def _expiring(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    _, warnings = config_problems(engine_settings(), exc.today())
    urn = _stack_urn(args)
    for line in warnings:
        report_violation(f"{line}: renew it with its owner or let it lapse (then its events page again)", urn)


# --- the registered exception filters -----------------------------------------------------------------------------

def _filter_name(res: Any, props: Mapping) -> str:
    """The AWS-side filter name, or the resource name when the program left it to Pulumi."""
    name = props.get("name")
    return name if isinstance(name, str) else res.name


def _shape(node: Node) -> Any:
    """A parsed pattern without source positions, so two texts of one condition tree compare equal."""
    if isinstance(node, Condition):
        literal = node.literal
        return (node.selector.path, node.op, None if literal is None else (literal.segments, literal.quoted,
                                                                          literal.number, literal.text))
    return (type(node).__name__, tuple(_shape(item) for item in node.items))


def pattern_problems(pattern: str, detection_pattern: Any) -> list[str]:
    """Why ``pattern`` is not ``{ (<detection_pattern>) && (<= comparisons only>) }``; [] when it is."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        return [f"its pattern is {len(pattern)} characters; AWS allows {MAX_PATTERN_LENGTH}"]
    try:
        tree = compile_pattern(pattern).tree
    except PatternError as err:
        return [f"its pattern is not a valid filter pattern ({err})"]
    if tree is None:
        return ["its pattern is not a JSON pattern; an exception filter is its detection's JSON pattern ANDed "
                "with the exception's = comparisons"]
    try:
        own = compile_pattern(detection_pattern).tree if isinstance(detection_pattern, str) else None
    except PatternError:
        own = None
    if own is None or not isinstance(tree, And) or _shape(tree.items[0]) != _shape(own):
        return ["its pattern does not begin with its detection filter's own JSON pattern, ANDed: it could count "
                "events the detection does not, and subtracting those would hide real pages"]
    problems = []
    for cond in (c for item in tree.items[1:] for c in iter_conditions(item)):
        if cond.op != "=" or (cond.literal is not None and cond.literal.regex is not None):
            shown = cond.op if cond.literal is None else f"{cond.op} {cond.literal.text}"
            problems.append(f"compares {cond.selector.text} {shown} outside its detection's pattern; an exception "
                            f"may only add = comparisons (a != or NOT EXISTS holds for events lacking the field)")
    return problems


def _statistic(args: StackValidationArgs) -> str:
    return (args.get_config() or {}).get("statistic", "Sum")


def _filters_exact(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    filters = [(res, plain(res.props)) for res in args.resources if res.resource_type == LOG_METRIC_FILTER]
    by_name = {_filter_name(res, props): props for res, props in filters}
    sources: list | None = None
    for res, props in filters:
        name = _filter_name(res, props)
        suffix = EXCEPTION_SUFFIX.search(name)
        if suffix is None:
            continue
        own_name = name[:suffix.start()]
        own = by_name.get(own_name)
        if own is None:
            report_violation(f"exception filter {name}: no metric filter {own_name} of its detection in the "
                             f"stack, so there is no count it may be subtracted from", res.urn)
            continue
        pattern, own_pattern = props.get("pattern"), own.get("pattern")
        if pattern is UNKNOWN or own_pattern is UNKNOWN:
            continue  # not known during preview; checked again on `pulumi up`
        if not isinstance(pattern, str):
            report_violation(f"exception filter {name}: has no pattern", res.urn)
            continue
        for problem in pattern_problems(pattern, own_pattern):
            report_violation(f"exception filter {name}: {problem}.", res.urn)
        (namespace, metric), (own_namespace, own_metric) = _filter_metric(props), _filter_metric(own)
        if not all(isinstance(v, str) for v in (namespace, metric, own_namespace, own_metric)):
            continue
        if sources is None:
            sources = list(rule_groups(args.resources))
        series = exporter_metric_name(namespace, metric, _statistic(args))
        own_series = exporter_metric_name(own_namespace, own_metric, _statistic(args))
        used, own_used = alerts_on(series, sources), alerts_on(own_series, sources)
        if sorted(used) != sorted(own_used):
            report_violation(
                f"exception filter {name}: its count {series} is used by {'; '.join(used) or 'no alert rule'}, "
                f"its detection's count {own_series} by {'; '.join(own_used) or 'no alert rule'}; an exception's "
                f"count may only be subtracted in its own detection's alert rule.", res.urn)


POLICIES = [
    StackValidationPolicy(
        name="exceptions-guarded",
        description="Every trailwatch:exceptions entry has a reason, owner and expiry within maxExceptionDays "
                    "(not past), names a principal, IP range, user agent or invokedBy service with valid values "
                    "(whole ARNs, CIDRs, edge wildcards), excepts only known, enabled, tunable detections (never "
                    "root_usage or the heartbeat), overlaps no other exception of one detection and fits AWS's "
                    "limits: the same lines as the config check.",
        validate=_guarded, enforcement_level=MANDATORY, severity=Severity.HIGH),
    StackValidationPolicy(
        name="exceptions-expiring-soon",
        description=f"Warns when a trailwatch:exceptions entry expires within {exc.WARN_DAYS} days, so its owner "
                    f"renews or drops it before its events page again.",
        validate=_expiring, enforcement_level=EnforcementLevel.ADVISORY, severity=Severity.LOW),
    StackValidationPolicy(
        name="exception-filters-exact",
        description="Every exception metric filter (<detection filter>-x-<id>) is its detection filter's own "
                    "JSON pattern ANDed with = comparisons only (no !=, NOT EXISTS or regex), at most 1,024 "
                    "characters, and its count is used only by its own detection's alert rule.",
        validate=_filters_exact, enforcement_level=MANDATORY, severity=Severity.HIGH,
        config_schema=PolicyConfigSchema(properties={"statistic": {
            "type": "string", "enum": ["Sum", "SampleCount", "Minimum", "Maximum", "Average"], "default": "Sum",
            "description": "The CloudWatch statistic the exporter is configured to read."}})),
]
