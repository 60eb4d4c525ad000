"""Checks on ``render``'s own options, so a bad value is one line instead of a file a tool later rejects
(``--adapter-url notaurl`` used to write an alertmanager.yml that amtool refuses)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from .common import RenderError

_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\Z")
_IPV6 = re.compile(r"\[[0-9A-Fa-f:.]+\]\Z")


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
                          f"http://trailwatch-adapter:8080/alerts (got {url!r})")
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
                          f"cloudwatch-exporter:9106 (got {target!r})")
    return target
