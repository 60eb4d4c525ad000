"""`%regex%` and `*` wildcards run in linear time (RE2): patterns that make a backtracking engine hang
finish under a time and memory limit; RE2's own limits come back as PatternError with a position."""

from __future__ import annotations

import pytest
from limits import run_limited

from trailwatch.errors import PatternError
from trailwatch.filterpattern import compile_pattern

HOSTILE = [
    # (pattern, input, expected output): each took seconds to forever on Python's backtracking `re`
    ("%.*.*.*.*;%", b"a" * 2_000_000 + b"\n" + b"a" * 500 + b";\n", b"0\n1\n"),
    ("%\\w+\\w+\\w+\\w+\\d;%", b"x" * 500_000 + b"\nxxxx7;\n", b"0\n1\n"),
    ('{ $.a = "*a*a*a*a*a*a*b" }', b'{"a":"' + b"a" * 500_000 + b'"}\n{"a":"aaaaaab"}\n', b"0\n1\n"),
    ("{ $.a = %.*.*.*.*;% }", b'{"a":"' + b"a" * 500_000 + b'"}\n{"a":"a;"}\n', b"0\n1\n"),
]


@pytest.mark.parametrize("pattern,data,expected", HOSTILE, ids=[p for p, _, _ in HOSTILE])
def test_hostile_pattern_finishes_under_limits(pattern, data, expected):
    done = run_limited(["match", "--pattern", pattern], stdin=data)
    assert (done.returncode, done.stdout, done.stderr) == (0, expected, b"")


def test_semicolon_regex_matches_after_linear_scan():
    assert compile_pattern("%.*.*.*.*;%").matches("a" * 100_000 + ";")
    assert not compile_pattern("%.*.*.*.*;%").matches("a" * 100_000)


def test_repetition_beyond_re2_limit_is_a_pattern_error():
    with pytest.raises(PatternError) as info:
        compile_pattern("%a{1001}%")
    assert (info.value.message, info.value.position) == (
        "expected a repetition of the form {m}, {m,} or {m,n} with m and n up to 1000", 2)


def test_program_too_large_for_re2_is_a_pattern_error():
    with pytest.raises(PatternError) as info:
        compile_pattern("%" + "[^a]{1000}" * 100 + "%")
    assert (info.value.message, info.value.position) == (
        "expected a smaller regular expression (RE2: pattern too large - compile failed)", 1)


def test_dollar_does_not_match_before_a_trailing_newline():
    assert compile_pattern("%abc$%").matches("xabc")
    assert not compile_pattern("%abc$%").matches("xabc\n")
    assert compile_pattern("%a.c%").matches("a\nc")
