"""Necessary conditions of JSON patterns, and :class:`PatternSet`, which uses them to skip work.

``required_values(node)`` maps selector text to either a frozenset of strings (the value there must
be one of these strings) or ``None`` (the value there must be a string or a number).  Every event a
pattern matches satisfies all of its entries, so a caller may skip the pattern for any event that
violates one.  ``$.x = A || $.x = B`` gives ``{"$.x": {A, B}}``; ``&&`` merges (intersects) entries;
``||`` keeps only selectors constrained in every branch.

``necessary_keys(node, skip)`` names top-level members at least one of which every matching event
has: what a caller can look for in raw text before parsing it.
"""

from __future__ import annotations

from typing import Any, Mapping

from .json_pattern import And, Condition, Node, Or
from .values import MISSING

Required = dict[str, "frozenset[str] | None"]
_ABSENT: Any = object()


def required_values(node: Node) -> Required:
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


class PatternSet:
    """Evaluate many patterns against each event, skipping those whose required values are absent.

    ``PatternSet({"root_usage": "{ ... }", ...}).matching(event)`` returns the names of the matching
    patterns in the order given.  Events are dicts (parsed JSON) or raw lines; a raw line is parsed
    once for all JSON patterns, and a dict is serialized once for all text patterns.
    """

    def __init__(self, patterns: Mapping[str, Any]):
        from .compile import Pattern, compile_pattern  # local: compile imports this module
        from .selectors import make_getter, parse_selector_text

        self.names: tuple[str, ...] = tuple(patterns)
        self.patterns: tuple[Pattern, ...] = tuple(
            p if isinstance(p, Pattern) else compile_pattern(p) for p in patterns.values()
        )
        json_ids = [i for i, p in enumerate(self.patterns) if p.kind == "json"]
        self._text_ids = tuple(i for i, p in enumerate(self.patterns) if p.kind != "json")
        remaining = {i: dict(self.patterns[i].required) for i in json_ids if self.patterns[i].required}
        unindexed = [i for i in json_ids if i not in remaining]
        indexes = []
        while remaining:
            scores: dict[str, int] = {}
            for req in remaining.values():
                for sel, allowed in req.items():
                    scores[sel] = scores.get(sel, 0) + (2 if allowed is not None else 1)
            best = max(scores, key=lambda s: (scores[s], s))
            # per value: (patterns that match outright, patterns still to evaluate)
            buckets: dict[str, tuple[list[int], list[int]]] = {}
            present: tuple[list[int], list[int]] = ([], [])
            for i in list(remaining):
                allowed = remaining[i].get(best, _ABSENT)
                if allowed is _ABSENT:
                    continue
                del remaining[i]
                exact = self.patterns[i].exact
                which = 0 if exact is not None and exact[0] == best else 1
                if allowed is None:
                    present[which].append(i)
                else:
                    for v in allowed:
                        buckets.setdefault(v, ([], []))[which].append(i)
            path = parse_selector_text(best).path
            key = path[0] if len(path) == 1 else None  # one-step selectors skip the getter call
            indexes.append((key, make_getter(path), {k: (tuple(a), tuple(b)) for k, (a, b) in buckets.items()},
                            (tuple(present[0]), tuple(present[1]))))
        self._indexes = tuple(indexes)
        self._unindexed = tuple(sorted(unindexed + list(remaining)))
        self._obj_matchers = tuple(p.matcher for p in self.patterns)
        self._line_matchers = tuple(p._line for p in self.patterns)
        from .compile import parse_json_object, serialize_event

        self._parse = parse_json_object
        self._serialize = serialize_event

    @property
    def index_selectors(self) -> int:
        """How many selectors the set looks up per event to pick candidate patterns."""
        return len(self._indexes)

    def matching(self, event: Any) -> list[str]:
        hits: list[int] = []
        line: str | None = None
        obj: dict | None
        if isinstance(event, dict):
            obj = event
        elif isinstance(event, str):
            line = event
            obj = self._parse(line)
        else:
            return []
        if obj is not None:
            matchers = self._obj_matchers
            for i in self._unindexed:
                if matchers[i](obj):
                    hits.append(i)
            for key, get, buckets, present in self._indexes:
                v = get(obj) if key is None else obj.get(key, MISSING)
                t = type(v)
                if t is str:
                    bucket = buckets.get(v)
                    if bucket is not None:
                        hits.extend(bucket[0])
                        for i in bucket[1]:
                            if matchers[i](obj):
                                hits.append(i)
                elif t is not int and t is not float:
                    continue
                hits.extend(present[0])
                for i in present[1]:
                    if matchers[i](obj):
                        hits.append(i)
        if self._text_ids:
            if line is None:
                line = self._serialize(obj)
            if line is not None:
                for i in self._text_ids:
                    if self._line_matchers[i](line):
                        hits.append(i)
        if len(hits) > 1:
            hits.sort()
        names = self.names
        return [names[i] for i in hits]
