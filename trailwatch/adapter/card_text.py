"""An Adaptive Card as plain text, close to what a reader sees in Teams: for ``demo`` (cards printed in a
terminal) and the example card in the README. Only the element types the adapter's cards use are drawn; any other
element is named in brackets rather than dropped silently.
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

WIDTH = 100
RULE = "-" * WIDTH


def _plain(value: str) -> str:
    """Teams' markdown subset as text: bold markers dropped."""
    return value.replace("**", "")


def _lines(element: dict[str, Any], indent: str) -> list[str]:
    kind = element.get("type")
    out: list[str] = [""] if element.get("separator") else []
    if kind == "TextBlock":
        text = _plain(str(element.get("text", "")))
        if element.get("size") == "Large" or element.get("style") == "heading":
            text = text.upper()
        out += textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent) or [indent]
    elif kind == "FactSet":
        facts = element.get("facts", [])
        width = max((len(f.get("title", "")) for f in facts), default=0)
        for fact in facts:
            head = f"{indent}{fact.get('title', ''):<{width}}  "
            out += textwrap.wrap(str(fact.get("value", "")), WIDTH, initial_indent=head,
                                 subsequent_indent=" " * len(head)) or [head.rstrip()]
    elif kind == "Container":
        for item in element.get("items", []):
            out += _lines(item, indent)
    elif kind == "ColumnSet":
        for column in element.get("columns", []):
            for item in column.get("items", []):
                out += _lines(item, indent)
    elif kind == "ActionSet":
        out += [f"{indent}[{a.get('title', '')}] {a.get('url', '')}" for a in element.get("actions", [])]
    else:
        out.append(f"{indent}[{kind}]")
    return out


def card_text(message: bytes | str | dict[str, Any]) -> str:
    """The text of every Adaptive Card in a Workflows message (the adapter's POST body)."""
    data = json.loads(message) if isinstance(message, (bytes, str)) else message
    cards = [a.get("content", {}) for a in data.get("attachments", [])]
    blocks = []
    for card in cards:
        lines = [RULE]
        for element in card.get("body", []):
            lines += _lines(element, "  ")
        lines.append(RULE)
        blocks.append("\n".join(lines))
    return "\n".join(blocks)
