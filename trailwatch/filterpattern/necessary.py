"""What every event a JSON pattern matches must hold, read off its condition tree (pure functions).

These analyses let a caller skip work without changing any answer: :class:`~.patternset.PatternSet` indexes
patterns by their required values, and replay's line scanner looks for necessary member names in raw text
before parsing it. They read only the tree (:mod:`.json_pattern`), never compile or match.

``required_values(node)`` maps selector text to either a frozenset of strings (the value there must
be one of these strings) or ``None`` (the value there must be a string or a number).  Every event a
pattern matches satisfies all of its entries, so a caller may skip the pattern for any event that
violates one.  ``$.x = A || $.x = B`` gives ``{"$.x": {A, B}}``; ``&&`` merges (intersects) entries;
``||`` keeps only selectors constrained in every branch.

``necessary_keys(node, skip)`` names top-level members at least one of which every matching event
has: what a caller can look for in raw text before parsing it.

``exact_constraint(node)`` says when a pattern is nothing more than one such required value.
"""

from __future__ import annotations

from typing import Any

from .json_pattern import And, Condition, Node, Or

Required = dict[str, "frozenset[str] | None"]
_ABSENT: Any = object()


def required_values(node: Node) -> Required:
    """``{selector: allowed}`` that every event the pattern matches satisfies (see the module docstring)."""
    if isinstance(node, Condition):
        if node.literal is None:  # IS NULL / IS TRUE / IS FALSE / NOT EXISTS
            return {}
        plain = node.literal.plain_string if node.op == "=" else None
        return {node.selector.text: frozenset((plain,)) if plain is not None else None}
    parts = [required_values(item) for item in node.items]
    if isinstance(node, And):
        out: Required = {}
        for part in parts:
            for sel, allowed in part.items():
                have = out.get(sel, _ABSENT)
                if have is _ABSENT or have is None:
                    out[sel] = allowed
                elif allowed is not None:
                    out[sel] = have & allowed
        return out
    assert isinstance(node, Or)
    common = set(parts[0])
    for part in parts[1:]:
        common &= set(part)
    out = {}
    for sel in common:
        values = [part[sel] for part in parts]
        out[sel] = None if any(v is None for v in values) else frozenset().union(*values)
    return out


def necessary_keys(node: Node, skip: frozenset[str] = frozenset()) -> frozenset[str] | None:
    """Top-level member names (the first step of selectors) at least one of which is present in every
    event the pattern matches, leaving out names in ``skip``; None when there is no such set.

    Every operator but ``NOT EXISTS`` needs a value at its selector, so the selector's first member
    exists (``=``, ``!=`` and the comparisons need a string or number there, ``IS NULL`` a null); a
    condition on a skipped name, or ``NOT EXISTS``, needs nothing a caller looks for.  ``&&`` needs
    what any one operand needs (the smallest set is kept); ``||`` needs what one of its operands
    needs, so every operand must need something.  Why: a line of JSON holding no ``"name"`` at all
    (and no backslash escape that could spell one) cannot match, so it need not be parsed.
    """
    if isinstance(node, Condition):
        first = node.selector.path[0]
        return None if node.op == "NOT EXISTS" or first in skip else frozenset((first,))
    parts = [necessary_keys(item, skip) for item in node.items]
    if isinstance(node, And):
        found = [p for p in parts if p is not None]
        return min(found, key=lambda p: (len(p), sorted(p))) if found else None
    if any(p is None for p in parts):
        return None
    return frozenset().union(*parts)


def exact_constraint(node: Node) -> tuple[str, "frozenset[str] | None"] | None:
    """(selector, allowed) when the pattern means exactly "the value at selector is one of
    ``allowed``" (``None``: any string or number), as ``$.x = A || $.x = B`` or ``$.x = "*"`` do;
    a :class:`PatternSet` then needs no further evaluation for events its index routes there."""
    if isinstance(node, Condition):
        lit = node.literal
        if node.op != "=" or lit is None or lit.regex is not None:
            return None
        if lit.plain_string is not None:
            return node.selector.text, frozenset((lit.plain_string,))
        if all(seg == "" for seg in lit.segments):
            return node.selector.text, None
        return None
    if isinstance(node, Or):
        parts = [exact_constraint(item) for item in node.items]
        if any(p is None for p in parts) or len({p[0] for p in parts}) != 1:
            return None
        values = [p[1] for p in parts]
        return parts[0][0], (None if any(v is None for v in values) else frozenset().union(*values))
    return None
