"""The runtime side of the prefilter: :class:`PatternSet` evaluates many compiled patterns per event,
skipping those whose required values (:mod:`.necessary`, via ``Pattern.required``) the event lacks."""

from __future__ import annotations

from typing import Any, Mapping

from .compile import Pattern, compile_pattern, parse_json_object, serialize_event
from .selectors import parse_selector_text
from .values import MISSING


class PatternSet:
    """Evaluate many patterns against each event, skipping those whose required values are absent.

    ``PatternSet({"root_usage": "{ ... }", ...}).matching(event)`` returns the names of the matching
    patterns in the order given.  Events are dicts (parsed JSON) or raw lines; a raw line is parsed
    once for all JSON patterns, and a dict is serialized once for all text patterns.
    """

    def __init__(self, patterns: Mapping[str, Any]):
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
            for i in [i for i, req in remaining.items() if best in req]:
                allowed = remaining.pop(i)[best]
                exact = self.patterns[i].exact
                which = 0 if exact is not None and exact[0] == best else 1
                if allowed is None:
                    present[which].append(i)
                else:
                    for v in allowed:
                        buckets.setdefault(v, ([], []))[which].append(i)
            selector = parse_selector_text(best)
            path = selector.path
            key = path[0] if len(path) == 1 else None  # one-step selectors skip the getter call
            indexes.append((key, selector.getter(), {k: (tuple(a), tuple(b)) for k, (a, b) in buckets.items()},
                            (tuple(present[0]), tuple(present[1]))))
        self._indexes = tuple(indexes)
        self._unindexed = tuple(sorted(unindexed + list(remaining)))
        self._obj_matchers = tuple(p.matcher for p in self.patterns)
        self._line_matchers = tuple(p.line_matcher for p in self.patterns)
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
