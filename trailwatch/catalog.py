"""The detection catalog: load, validate and resolve detections for one stack.

A catalog entry becomes a metric filter, an exporter metric, an alert rule, a promtool test and a dashboard
panel; validating it here, before anything is rendered or created, is what keeps all of those consistent.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from .adapter import targets_problem
from .contract import DEFAULT_METRIC_NAMESPACE, MAX_PATTERN_LENGTH, SEVERITIES
from .errors import CatalogError, PatternError
from .filterpattern import compile_pattern
from .naming import exporter_metric_name
from .paths import DATA_ROOT

DEFAULT_CATALOG = DATA_ROOT / "configs" / "detections.yaml"
#: PyYAML's safe loader, in C where PyYAML was built with libyaml (its wheels are): ten times the pure one's speed
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_ID = re.compile(r"[a-z][a-z0-9_]{0,62}\Z")
_METRIC = re.compile(r"[A-Za-z][A-Za-z0-9._\-]{0,254}\Z")
_NAMESPACE = re.compile(r"[A-Za-z][A-Za-z0-9._\-/#:]{0,254}\Z")
_CONTROL = re.compile(r"CloudWatch\.\d{1,2}\Z")

REQUIRED = ("id", "title", "severity", "metric", "description", "runbook")
OPTIONAL = (
    "pattern", "pattern_from", "namespace", "security_hub_control", "cis", "threshold",
    "insights_query", "enabled", "heartbeat", "target_parameters",
)
PATTERN_SOURCES = ("suspicious_ips",)


@dataclass(frozen=True)
class Detection:
    id: str
    title: str
    severity: str
    metric: str
    description: str
    runbook: str
    pattern: str | None = None
    pattern_from: str | None = None
    namespace: str | None = None
    security_hub_control: str | None = None
    cis: Mapping[str, str] = field(default_factory=dict)
    threshold: int = 1
    """Fires when at least this many matching events have event times within one alert window."""
    insights_query: str | None = None
    enabled: bool = True
    heartbeat: bool = False
    target_parameters: tuple[str, ...] = ()
    """``requestParameters`` members naming the resource an event acted on, shown on the Teams card (names and
    ids only: :mod:`trailwatch.adapter.targets` refuses members that may hold a document or a secret)."""

    @property
    def exported_name(self) -> str:
        """The Prometheus name of this detection's Sum series, as cloudwatch_exporter serves it: the one
        definition (:func:`trailwatch.series.exported_name` reads it for a stack's detections, whose namespace the
        stack resolved); a catalog entry without a namespace reads under the default one."""
        return exporter_metric_name(self.namespace or DEFAULT_METRIC_NAMESPACE, self.metric, "Sum")

    @property
    def is_cis(self) -> bool:
        return bool(self.cis)


def _fail(where: str, field_name: str, problem: str) -> CatalogError:
    return CatalogError(f"{where}: field '{field_name}' {problem}")


def parse_detection(raw: Any, where: str) -> Detection:
    """Validate one raw mapping (from the catalog file or stack config) into a Detection."""
    if not isinstance(raw, Mapping):
        raise CatalogError(f"{where}: must be a mapping with keys {', '.join(REQUIRED)} (got {type(raw).__name__})")
    ident = raw.get("id")
    if isinstance(ident, str) and ident:
        where = f"{where} {ident!r}"
    unknown = sorted(set(map(str, raw)) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise CatalogError(
            f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(REQUIRED + OPTIONAL)})"
        )
    for key in REQUIRED:
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise _fail(where, key, "is required and must be a non-empty string")
    if not _ID.match(raw["id"]):
        raise _fail(where, "id", "must match [a-z][a-z0-9_]* and be at most 63 characters")
    if raw["severity"] not in SEVERITIES:
        raise _fail(where, "severity", f"must be one of {', '.join(SEVERITIES)} (got {raw['severity']!r})")
    check_metric_name(raw["metric"], where)
    if "namespace" in raw:
        check_namespace(raw["namespace"], where)
    has_pattern, has_source = "pattern" in raw, "pattern_from" in raw
    if has_pattern == has_source:
        raise CatalogError(f"{where}: exactly one of 'pattern' or 'pattern_from' is required")
    if has_pattern:
        check_pattern(raw["pattern"], where)
    elif raw["pattern_from"] not in PATTERN_SOURCES:
        raise _fail(where, "pattern_from", f"must be one of {', '.join(PATTERN_SOURCES)}")
    threshold = raw.get("threshold", 1)
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
        raise _fail(where, "threshold", f"must be a whole number >= 1 (got {threshold!r})")
    control = raw.get("security_hub_control")
    if control is not None and (not isinstance(control, str) or not _CONTROL.match(control)):
        raise _fail(where, "security_hub_control", f"must look like CloudWatch.N (got {control!r})")
    cis = raw.get("cis", {})
    if not isinstance(cis, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in cis.items()):
        raise _fail(where, "cis", "must map benchmark versions to recommendation ids, e.g. {v1.4.0: '4.3'}")
    for key in ("enabled", "heartbeat"):
        if not isinstance(raw.get(key, False), bool):
            raise _fail(where, key, "must be true or false")
    query = raw.get("insights_query")
    if query is not None and (not isinstance(query, str) or not query.strip()):
        raise _fail(where, "insights_query", "must be a non-empty string")
    targets = raw.get("target_parameters")
    problem = None if targets is None else targets_problem(targets)
    if problem:
        raise _fail(where, "target_parameters", problem)
    return Detection(
        id=raw["id"], title=raw["title"].strip(), severity=raw["severity"], metric=raw["metric"],
        description=raw["description"].strip(), runbook=raw["runbook"].strip(),
        pattern=raw.get("pattern"), pattern_from=raw.get("pattern_from"), namespace=raw.get("namespace"),
        security_hub_control=control, cis=dict(cis), threshold=threshold, insights_query=query,
        enabled=raw.get("enabled", True), heartbeat=raw.get("heartbeat", False),
        target_parameters=tuple(targets or ()),
    )


def check_metric_name(metric: Any, where: str) -> None:
    if not isinstance(metric, str) or not _METRIC.match(metric):
        raise _fail(where, "metric", "must start with a letter and hold only letters, digits, '.', '_' or '-' (max 255)")


def check_namespace(namespace: Any, where: str, field_name: str = "namespace") -> None:
    if not isinstance(namespace, str) or not _NAMESPACE.match(namespace):
        raise _fail(where, field_name, "must start with a letter and hold only letters, digits and . _ - / # : (max 255)")
    if namespace.startswith("AWS/"):
        raise _fail(where, field_name, "must not start with 'AWS/' (reserved for AWS services)")


def check_pattern(pattern: Any, where: str) -> None:
    if not isinstance(pattern, str) or not pattern.strip():
        raise _fail(where, "pattern", "must be a non-empty CloudWatch Logs filter pattern")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise _fail(where, "pattern", f"is {len(pattern)} characters; AWS allows at most {MAX_PATTERN_LENGTH}")
    try:
        compile_pattern(pattern)
    except PatternError as exc:
        raise _fail(where, "pattern", f"is invalid: {exc}") from None


def load_catalog(path: Path | str = DEFAULT_CATALOG) -> list[Detection]:
    """Read and validate the catalog file; every entry is checked, and the set as a whole. A file read before
    and unchanged since (same size and modification time) is not parsed again: a command reads the catalog from
    several places, and each parse costs a tenth of a second."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read catalog ({exc.strerror})") from None
    return list(_parsed(path, path.resolve(), stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=8)
def _parsed(path: Path, resolved: Path, mtime_ns: int, size: int) -> tuple[Detection, ...]:
    """The catalog at ``path`` (named so in errors) as it was at ``mtime_ns`` and ``size``: the file, its time and
    size are the cache's key; detections are frozen, so sharing them is safe."""
    try:
        data = yaml.load(resolved.read_text(encoding="utf-8"), Loader=YAML_LOADER)  # noqa: S506 (a safe loader)
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read catalog ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, Mapping) or not isinstance(data.get("detections"), list):
        raise CatalogError(f"{path}: must be a mapping with a 'detections' list")
    detections = tuple(parse_detection(raw, f"{path.name} detection #{i + 1}")
                       for i, raw in enumerate(data["detections"]))
    check_unique(detections, DEFAULT_METRIC_NAMESPACE, where=path.name)
    return detections


def check_unique(detections: Iterable[Detection], default_namespace: str, where: str) -> None:
    """Ids, (namespace, metric) pairs and exported Prometheus names must each be unique."""
    ids: dict[str, Detection] = {}
    metrics: dict[tuple[str, str], Detection] = {}
    exported: dict[str, Detection] = {}
    for det in detections:
        namespace = det.namespace or default_namespace
        if det.id in ids:
            raise CatalogError(f"{where}: detection '{det.id}': field 'id' is duplicated")
        key = (namespace, det.metric)
        if key in metrics:
            raise CatalogError(
                f"{where}: detection '{det.id}': field 'metric' {namespace}/{det.metric} is already used by "
                f"'{metrics[key].id}'"
            )
        name = exporter_metric_name(namespace, det.metric)
        if name in exported:
            raise CatalogError(
                f"{where}: detection '{det.id}': field 'metric' {det.metric} exports as {name}, the same Prometheus "
                f"name as '{exported[name].id}' (cloudwatch_exporter would fail the whole scrape)"
            )
        ids[det.id], metrics[key], exported[name] = det, det, det


def with_namespace(det: Detection, default_namespace: str) -> Detection:
    return det if det.namespace else replace(det, namespace=default_namespace)


def detection_data(det: Detection) -> dict[str, Any]:
    """One detection as the plain mapping the catalog file (and ``customDetections``) writes: every field that
    is set, nothing at its default, so ``parse_detection(detection_data(d), ...)`` gives ``d`` back."""
    defaults = Detection(**{key: "" for key in REQUIRED})
    data = {}
    for key in REQUIRED + OPTIONAL:
        value = getattr(det, key)
        if key in REQUIRED or value != getattr(defaults, key):
            data[key] = _plain(value)
    return data


def _plain(value: Any) -> Any:
    """A field's value as YAML or JSON writes it: a mapping as a dict, a tuple as a list."""
    if isinstance(value, Mapping):
        return dict(value)
    return list(value) if isinstance(value, tuple) else value


def list_detections(path: Path | str = DEFAULT_CATALOG) -> list[dict[str, Any]]:
    """The catalog as data: one mapping per detection, in catalog order (what a consumer picks ids from)."""
    return [detection_data(det) for det in load_catalog(path)]


def get_detection(ident: str, path: Path | str = DEFAULT_CATALOG) -> dict[str, Any]:
    """One catalog detection as data; an unknown id is a CatalogError naming the known ones."""
    by_id = {det["id"]: det for det in list_detections(path)}
    if ident not in by_id:
        raise CatalogError(f"detection {ident!r}: not in the catalog (known: {', '.join(sorted(by_id))})")
    return by_id[ident]
