"""trailwatch's Teams adapter: Alertmanager webhook (v4) in, one enriched Adaptive Card per notification out.

Modules: ``config`` (config file, secret files, CLI), ``webhook`` (payload validation, idempotency keys),
``targets`` (which ``requestParameters`` members a card may show), ``enrich`` (FilterLogEvents behind an alert,
allow-listed fields only), ``card`` (the Adaptive Card), ``card_text`` (a card as plain text), ``delivery``
(posting to Teams: retries, pacing), ``server`` (the HTTP endpoints and metrics).
Run it with ``python -m trailwatch.adapter --help``. Its port and path are :mod:`trailwatch.contract`'s.

From outside, use the names below. The catalog and the CLI import this package for its checks, so ``Metrics``
and ``Teams`` load on first use: they bring an HTTP server, Prometheus' client and urllib3 (about a third of a
second) that rendering a stack never needs.
"""

from __future__ import annotations

from typing import Any

from .card_text import card_text
from .config import AdapterConfigError, Parser, check_webhook_url, without_urls
from .targets import targets_problem

__all__ = ["AdapterConfigError", "Metrics", "Parser", "Teams", "card_text", "check_webhook_url", "targets_problem",
           "without_urls"]


def __getattr__(name: str) -> Any:
    """``Metrics`` (the adapter's /metrics) and ``Teams`` (its Teams client), imported when first asked for."""
    if name == "Metrics":
        from .server import Metrics
        return Metrics
    if name == "Teams":
        from .delivery import Teams
        return Teams
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
