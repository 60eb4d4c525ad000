"""necessary_keys: the top-level member names a matching event must hold one of (what the replay
prefilter looks for in raw lines), derived from the pattern's condition tree."""

import pytest

from trailwatch.filterpattern import compile_pattern, necessary_keys


def keys(text, skip=()):
    return necessary_keys(compile_pattern(text).tree, frozenset(skip))


@pytest.mark.parametrize("text, expected", [
    ('{ $.errorCode = "AccessDenied" }', {"errorCode"}),
    ("{ $.a.b[0] = 1 }", {"a"}),  # the first step is what a top-level member is named
    ("{ $.a != x }", {"a"}),  # != needs a value there too
    ("{ $.a IS NULL }", {"a"}),
    ("{ $.a > 3 }", {"a"}),
    ("{ $.a NOT EXISTS }", None),  # holds for events without the member
    ("{ $.a = 1 && $.b NOT EXISTS }", {"a"}),
    ("{ $.a = 1 && $.b = 2 }", {"a"}),  # either one would do; the smallest set, then by name
    ("{ $.a = 1 || $.b = 2 }", {"a", "b"}),
    ("{ $.a = 1 || $.b NOT EXISTS }", None),
    ("{ ($.a = 1 || $.b = 2) && $.c = 3 }", {"c"}),
])
def test_necessary_keys(text, expected):
    assert keys(text) == (None if expected is None else frozenset(expected))


def test_skipped_names_need_nothing():
    assert keys("{ $.eventName = X && $.errorCode = Y }", {"eventName"}) == frozenset({"errorCode"})
    assert keys("{ $.eventName = X || $.errorCode = Y }", {"eventName"}) is None
    assert keys("{ $.eventName = X }", {"eventName"}) is None


def test_every_match_holds_a_necessary_key():
    """Soundness on examples: each event a pattern matches has one of the names at the top level."""
    events = [{"a": 1}, {"b": 2}, {"a": None, "c": 3}, {"c": 3}, {}, {"b": [1]}]
    for text in ["{ $.a = 1 || $.b = 2 }", "{ ($.a IS NULL || $.b = 2) && $.c = 3 }", "{ $.a = * || $.b[0] = 1 }"]:
        needed = keys(text)
        for event in events:
            if compile_pattern(text).matches(event):
                assert needed & event.keys(), (text, event)
