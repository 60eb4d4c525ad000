"""The adapter's inputs: the config file ``render`` writes, and two secret files (Workflows URL, bearer token).

Every problem is an :class:`AdapterConfigError` with one line naming the file and the field; the secrets'
values never appear in a message.
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, NoReturn
from urllib.parse import urlsplit

from ..errors import PatternError, TrailwatchError
from ..filterpattern import compile_pattern
from .targets import targets_problem


#: Plain http is accepted only to these hosts (a local stand-in or relay); Teams itself is https.
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


#: A URL that may carry a credential: one with a query (a Workflows URL's ``sig`` parameter is the credential)
#: or a user part, and any bare ``sig=`` parameter. A plain ``http://host:port/path`` (an example in a message,
#: the adapter's own address), ``s3://bucket/prefix`` or ``tcp://scheduler:8786`` carry none and stay readable.
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"]*(?:\?|@)[^\s'\"]*|[^\s'\"]*[?&]sig=[^\s'\"]*")


def without_urls(message: str) -> str:
    """``message`` with every URL-shaped value replaced by a placeholder."""
    return _URL.sub("<URL not shown>", message)


class Parser(argparse.ArgumentParser):
    """An argument parser that takes no abbreviations (``--teams-url`` is not ``--teams-url-file``) and never
    prints a URL-shaped value in an error (it may be a secret given to the wrong option)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        super().error(without_urls(message))


class AdapterConfigError(TrailwatchError):
    """The adapter's config file or one of its secret files is unusable."""


@dataclass(frozen=True)
class DetectionInfo:
    title: str
    severity: str
    pattern: str
    targets: tuple[str, ...] = ()
    """``requestParameters`` members that name an event's target (the catalog's ``target_parameters``)."""


@dataclass(frozen=True)
class AdapterConfig:
    stack: str
    region: str
    log_group: str
    alert_window_seconds: int
    dedup_seconds: int
    delivery_budget_seconds: float
    max_pages: int
    max_events: int
    enrich_budget_seconds: float
    detections: Mapping[str, DetectionInfo]


def _field(data: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = data.get(key)
    if kind is int and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise AdapterConfigError(f"{where}: field '{key}' must be a whole number >= 1 (got {value!r})")
    if kind is str and (not isinstance(value, str) or not value):
        raise AdapterConfigError(f"{where}: field '{key}' must be a non-empty string (got {value!r})")
    if kind is dict and not isinstance(value, dict):
        raise AdapterConfigError(f"{where}: field '{key}' must be an object")
    return value


def _targets(raw: Mapping[str, Any], where: str) -> tuple[str, ...]:
    """The optional ``target_parameters`` list (absent in configs rendered before it existed: no targets)."""
    value = raw.get("target_parameters", [])
    if value == []:
        return ()
    problem = targets_problem(value)
    if problem:
        raise AdapterConfigError(f"{where}: field 'target_parameters' {problem}")
    return tuple(value)


def parse_config(data: Any, where: str) -> AdapterConfig:
    if not isinstance(data, dict):
        raise AdapterConfigError(f"{where}: must be a JSON object")
    if data.get("version") != 1:
        raise AdapterConfigError(f"{where}: field 'version' must be 1 (got {data.get('version')!r})")
    enrich = _field(data, "enrichment", dict, where)
    detections = {}
    for ident, raw in _field(data, "detections", dict, where).items():
        spot = f"{where}: detections.{ident}"
        if not isinstance(raw, dict):
            raise AdapterConfigError(f"{spot}: must be an object with title, severity, pattern (and optionally "
                                     "target_parameters)")
        pattern = _field(raw, "pattern", str, spot)
        try:
            compile_pattern(pattern)
        except PatternError as exc:
            raise AdapterConfigError(f"{spot}: field 'pattern' is not a valid filter pattern ({exc})") from None
        detections[ident] = DetectionInfo(_field(raw, "title", str, spot), _field(raw, "severity", str, spot),
                                          pattern, _targets(raw, spot))
    return AdapterConfig(
        stack=_field(data, "stack", str, where), region=_field(data, "region", str, where),
        log_group=_field(data, "log_group", str, where),
        alert_window_seconds=_field(data, "alert_window_seconds", int, where),
        dedup_seconds=_field(data, "dedup_seconds", int, where),
        delivery_budget_seconds=_field(data, "delivery_budget_seconds", int, where),
        max_pages=_field(enrich, "max_pages", int, f"{where}: enrichment"),
        max_events=_field(enrich, "max_events", int, f"{where}: enrichment"),
        enrich_budget_seconds=_field(enrich, "budget_seconds", int, f"{where}: enrichment"),
        detections=detections)


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AdapterConfigError(f"{what} {path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise AdapterConfigError(f"{what} {path}: not UTF-8 text") from None


def load_config(path: Path) -> AdapterConfig:
    try:
        data = json.loads(_read(path, "config file"))
    except ValueError as exc:
        raise AdapterConfigError(f"config file {path}: not valid JSON (line {getattr(exc, 'lineno', '?')})") from None
    return parse_config(data, f"config file {path}")


def read_webhook_url(path: Path) -> str:
    """The Teams Workflows URL: one https URL (surrounding whitespace ignored). Never echoed back."""
    return check_webhook_url(_read(path, "webhook URL file"), f"webhook URL file {path}")


def check_webhook_url(value: str, where: str) -> str:
    """``value`` stripped, if it is one https URL (http only to loopback); the error names ``where``, never
    the value (it is a secret: the ``sig`` parameter is the credential)."""
    url = value.strip()
    parts = urlsplit(url)
    loopback = parts.hostname in LOOPBACK_HOSTS
    if (parts.scheme != "https" and not (parts.scheme == "http" and loopback)) or not parts.hostname \
            or any(c.isspace() for c in url):
        raise AdapterConfigError(f"{where}: must hold one https URL (http only to a loopback address, e.g. a "
                                 "local Teams stand-in; value not shown: secret)")
    return url


def read_token(path: Path) -> str:
    """The bearer token Alertmanager sends (its ``credentials_file``): at least 16 printable characters."""
    token = _read(path, "token file").strip()
    if len(token) < 16 or not token.isprintable() or any(c.isspace() for c in token):
        raise AdapterConfigError(f"token file {path}: must hold one token of at least 16 printable characters "
                                 "without spaces (value not shown: secret)")
    return token
