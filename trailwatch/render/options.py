"""``render``'s own options, their defaults and checks, so a bad value is one line instead of a file a tool
later rejects (``--adapter-url notaurl`` used to write an alertmanager.yml that amtool refuses)."""

from __future__ import annotations

import dataclasses
import re
from urllib.parse import urlsplit

from ..contract import ADAPTER_ALERTS_PATH, ADAPTER_PORT, EXPORTER_PORT, TEAMS_MODES
from ..errors import TrailwatchError
from ..stack import Stack

#: Where Alertmanager posts in adapter mode unless ``--adapter-url`` says otherwise.
DEFAULT_ADAPTER_URL = f"http://trailwatch-adapter:{ADAPTER_PORT}{ADAPTER_ALERTS_PATH}"
#: The exporter's ``host:port`` in the scrape config (and the ``instance`` of its series in the rule tests)
#: unless ``--exporter-target`` says otherwise.
EXAMPLE_EXPORTER_TARGET = f"cloudwatch-exporter:{EXPORTER_PORT}"

_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\Z")
_IPV6 = re.compile(r"\[[0-9A-Fa-f:.]+\]\Z")
_ACCOUNT = re.compile(r"\d{12}\Z")


class RenderError(TrailwatchError):
    """A render request that cannot be honoured (bad mode, account id, output folder...)."""


def check_mode(mode: str | None, stack: Stack) -> str:
    """The Teams mode to render: ``mode`` if given, else the stack's ``teamsMode``."""
    chosen = stack.settings.teams_mode if mode is None else mode
    if chosen not in TEAMS_MODES:
        raise RenderError(f"mode: must be one of {', '.join(TEAMS_MODES)} (got {chosen!r})")
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


def _port(text: str) -> bool:
    return text.isdigit() and 1 <= int(text) <= 65535


def check_adapter_url(url: str | None) -> str | None:
    """An http(s) URL with a host (Alertmanager's ``webhook_configs[].url``), no credentials, no spaces."""
    if url is None:
        return None
    parts = urlsplit(url)
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if (parts.scheme not in ("http", "https") or not parts.hostname or not port_ok or parts.username
            or parts.password or any(ch.isspace() for ch in url)):
        raise RenderError(f"--adapter-url: must be an http:// or https:// URL with a host, e.g. "
                          f"{DEFAULT_ADAPTER_URL} (got {url!r})")
    return url


def adapter_target(url: str) -> str:
    """The scrape target (``host:port``) of the adapter behind a checked ``--adapter-url``: its /metrics is
    served on the port Alertmanager posts to (the scheme's default port when the URL names none)."""
    parts = urlsplit(url)
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    return f"{host}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


def check_exporter_target(target: str) -> str:
    """``host:port`` as a Prometheus static target (no scheme, no path), port 1-65535."""
    host, sep, port = target.rpartition(":")
    if not sep or not _port(port) or not (_HOST.match(host) or _IPV6.match(host)):
        raise RenderError(f"--exporter-target: must be host:port with a port from 1 to 65535, e.g. "
                          f"{EXAMPLE_EXPORTER_TARGET} (got {target!r})")
    return target
