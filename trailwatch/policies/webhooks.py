"""Recognise Microsoft Teams / Power Automate webhook URLs in arbitrary values, without Pulumi.

The whole URL of a Teams Workflows (Power Automate) or legacy Office 365 connector webhook is the credential:
anyone holding it can post into the channel. These helpers find such URLs anywhere in a nested value (a
resource's inputs, a stack output, a config string) and report *where* they are, never the URL itself.

Recognised hosts (and the like): ``*.webhook.office.com`` (Office 365 connectors), ``outlook.office.com/webhook``
and ``outlook.office365.com/webhook`` (older connectors), ``*.logic.azure.com`` / ``*.logic.azure.us`` (Logic
Apps / Power Automate workflow triggers), ``*.api.powerplatform.com`` (Power Platform environments, e.g.
``<env>.environment.api.powerplatform.com``), and the sovereign-cloud variants ``*.powerplatform.us`` /
``*.logic.azure.cn``.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, Iterable, Iterator, Mapping

# Host suffixes whose URLs carry a webhook credential. Matched case-insensitively, with or without a scheme.
_HOSTS = (
    r"(?:[a-z0-9-]+\.)*webhook\.office\.com",
    r"(?:[a-z0-9-]+\.)+logic\.azure\.(?:com|us|cn)",
    r"(?:[a-z0-9-]+\.)+api\.powerplatform\.com",
    r"(?:[a-z0-9-]+\.)+(?:api\.)?powerplatform\.us",
    r"outlook\.office(?:365)?\.com/webhook",
)
WEBHOOK_PATTERN = re.compile(r"(?<![a-z0-9.-])(?:" + "|".join(_HOSTS) + r")(?![a-z0-9-])", re.IGNORECASE)
#: Shortest configured value we match literally (shorter strings would match by accident).
MIN_LITERAL = 16


def contains_webhook(text: str, literals: Iterable[str] = ()) -> bool:
    """True when ``text`` holds a Teams/Power Automate webhook host, or one of ``literals`` (known webhook values)."""
    if WEBHOOK_PATTERN.search(text):
        return True
    return any(lit and len(lit) >= MIN_LITERAL and lit in text for lit in literals)


def _decoded(text: str) -> str | None:
    """``text`` decoded as base64 (Kubernetes ``data`` / ``binaryData``), or None when it is not base64 text."""
    if len(text) < 8 or len(text) % 4:
        return None
    try:
        return base64.b64decode(text, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def webhook_paths(value: Any, literals: Iterable[str] = (), path: str = "", decode_base64: bool = False
                  ) -> Iterator[str]:
    """Yield the dotted path of every string inside ``value`` that holds a webhook URL.

    Walks mappings and sequences (anything with ``items()`` or ``__len__``/``__getitem__``), so it works on
    plain data and on pulumi_policy's proxies alike. With ``decode_base64`` a base64 string is also decoded
    and searched.
    """
    literals = tuple(literals)
    if isinstance(value, str):
        if contains_webhook(value, literals):
            yield path or "."
        elif decode_base64:
            decoded = _decoded(value)
            if decoded is not None and contains_webhook(decoded, literals):
                yield path or "."
        return
    if isinstance(value, Mapping):
        for key in value:
            yield from webhook_paths(value[key], literals, f"{path}.{key}" if path else str(key), decode_base64)
        return
    if isinstance(value, (list, tuple)) or (hasattr(value, "__len__") and hasattr(value, "__getitem__")
                                             and not isinstance(value, (bytes, bytearray))):
        for i in range(len(value)):
            yield from webhook_paths(value[i], literals, f"{path}[{i}]", decode_base64)
