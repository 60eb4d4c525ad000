"""Validation of cards against the official Adaptive Card 1.5 schema (tests/fixtures/adaptive-card, with NOTICE)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import jsonschema

SCHEMA = Path(__file__).resolve().parents[1] / "fixtures" / "adaptive-card" / "adaptive-card-1.5.schema.json"


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft6Validator:
    return jsonschema.Draft6Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))


def schema_errors(card: dict) -> list[str]:
    """Errors of an Adaptive Card against the official 1.5 schema; the Teams-only ``msteams`` key aside."""
    content = {k: v for k, v in card.items() if k != "msteams"}
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in _validator().iter_errors(content)]


def elements(card, kind: str) -> list:
    """Every element of ``type == kind`` anywhere in the card."""
    out = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == kind:
                out.append(node)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(card)
    return out
