"""Necessary conditions of JSON patterns, and :class:`PatternSet`, which uses them to skip work.

``required_values(node)`` maps selector text to either a frozenset of strings (the value there must
be one of these strings) or ``None`` (the value there must be a string or a number).  Every event a
pattern matches satisfies all of its entries, so a caller may skip the pattern for any event that
violates one.  ``$.x = A || $.x = B`` gives ``{"$.x": {A, B}}``; ``&&`` merges (intersects) entries;
``||`` keeps only selectors constrained in every branch.
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
            buckets: dict[str, list[int]] = {}
            present: list[int] = []
            for i in list(remaining):
                allowed = remaining[i].get(best, _ABSENT)
                if allowed is _ABSENT:
                    continue
                del remaining[i]
                if allowed is None:
                    present.append(i)
                else:
                    for v in allowed:
                        buckets.setdefault(v, []).append(i)
            getter = make_getter(parse_selector_text(best).path)
            indexes.append((getter, {k: tuple(v) for k, v in buckets.items()}, tuple(present)))
        self._indexes = tuple(indexes)
        self._unindexed = tuple(sorted(unindexed + list(remaining)))
        self._obj_matchers = tuple(p.matcher for p in self.patterns)
        self._line_matchers = tuple(p._line for p in self.patterns)

    @property
    def index_selectors(self) -> int:
        """How many selectors the set looks up per event to pick candidate patterns."""
        return len(self._indexes)

    def matching(self, event: Any) -> list[str]:
        from .compile import parse_json_object, serialize_event

        hits: list[int] = []
        line: str | None = None
        obj: dict | None
        if isinstance(event, dict):
            obj = event
        elif isinstance(event, str):
            line = event
            obj = parse_json_object(line)
        else:
            return []
        if obj is not None:
            candidates: list[int] = list(self._unindexed)
            for get, buckets, present in self._indexes:
                v = get(obj)
                t = type(v)
                if t is str:
                    bucket = buckets.get(v)
                    if bucket:
                        candidates.extend(bucket)
                    candidates.extend(present)
                elif (t is int or t is float) and v is not MISSING:
                    candidates.extend(present)
            matchers = self._obj_matchers
            for i in candidates:
                if matchers[i](obj):
                    hits.append(i)
        if self._text_ids:
            if line is None:
                line = serialize_event(obj)
            if line is not None:
                for i in self._text_ids:
                    if self._line_matchers[i](line):
                        hits.append(i)
        hits.sort()
        names = self.names
        return [names[i] for i in hits]
