"""Malformed patterns raise PatternError with the right position and an "expected ..." message."""

import pytest

from trailwatch.errors import PatternError, TrailwatchError
from trailwatch.filterpattern import compile_pattern

CASES = [
    # (pattern, position, fragment of the message)
    # unbalanced braces / brackets / parentheses / quotes
    ("{ $.a = 1", 9, "expected '}' to close the JSON pattern opened at position 0"),
    ("{ $.a = 1 }}", 11, "expected end of pattern after the closing '}'"),
    ("{ ($.a = 1 }", 11, "expected ')' to close the '(' at position 2"),
    ("{ ((($.a = 1)) }", 15, "expected ')' to close the '(' at position 2"),
    ("{ $.a = 1) }", 9, "expected '&&', '||' or '}'"),
    ("[a, b", 5, "expected ']' to close the '[' at position 0"),
    ("[a, b]]", 6, "expected end of pattern after the closing ']'"),
    ('"abc', 0, "expected '\"' to close the string"),
    ('ERROR "abc', 6, "expected '\"' to close the string"),
    ('{ $.a = "abc }', 8, "expected '\"' to close the string"),
    ('[a = "x, b]', 5, "expected '\"' to close the string"),
    ("%abc", 0, "expected '%' to close the regular expression"),
    # dangling / doubled operators
    ("{ $.a = 1 && }", 13, "expected a condition ('$.field ...') or '(' after '&&'"),
    ("{ $.a = 1 || }", 13, "expected a condition ('$.field ...') or '(' after '||'"),
    ("{ && $.a = 1 }", 2, "expected a condition"),
    ("{ $.a = 1 & $.b = 2 }", 10, "expected '&&'"),
    ("{ $.a = 1 | $.b = 2 }", 10, "expected '||'"),
    ("{ $.a = 1 &&& $.b = 2 }", 12, "expected a condition"),
    ("{ $.a = }", 8, "expected a value after '='"),
    ("{ $.a == 1 }", 7, "expected a value after '='"),
    ("{ $.a > abc }", 8, "expected a number after '>'"),
    ("{ $.a >= 4* }", 9, "expected a number after '>='"),
    ("{ $.a < %x% }", 6, "expected '=' or '!=' before a regular expression"),
    ("[a = 1 &&]", 9, "expected the field name 'a' after the logical operator"),
    ("?", 1, "expected a term directly after '?'"),
    ("ERROR -", 7, "expected a term after '-'"),
    ("ERROR -  ", 9, "expected a term after '-'"),
    ("ERROR-", 6, "expected a term directly after '-' (quote a term that holds '-'"),  # ERROR- is ERROR -
    ("a--b", 2, "expected a term directly after '-'"),
    ("--x", 1, "expected a term directly after '-'"),
    # bad selectors
    ("{ $..a = 1 }", 4, "expected a property name after '.'"),
    ("{ $.a. = 1 }", 6, "expected a property name after '.'"),
    ("{ $.a[x] = 1 }", 6, "expected an array index (digits) after '['"),
    ("{ $.a[1 = 1 }", 7, "expected ']' to close the array index opened at position 5"),
    ("{ $.a[-1] = 1 }", 6, "expected an array index"),
    ("{ a = 1 }", 2, "expected a condition ('$.field ...')"),
    ("{ $ = 1 }", 3, "expected '.' after '$'"),
    ("{ $[0] = 1 }", 3, "expected '.' after '$'"),
    ("{ $.a b = 1 }", 6, "expected an operator"),
    ("{ $.a IS NOT NULL }", 9, "expected NULL, TRUE or FALSE after 'IS' ('IS NOT' is not supported), found 'NOT'"),
    ("{ $.a IS MAYBE }", 9, "expected NULL, TRUE or FALSE after 'IS', found 'MAYBE'"),
    ("{ $.a EXISTS }", 6, "('EXISTS' alone is not supported), found 'EXISTS'"),
    ("{ $.a NOT THERE }", 10, "expected EXISTS after 'NOT'"),
    ("{ $.a is null }", 6, "expected an operator"),
    # empty JSON pattern and other empties
    ("{}", 1, "expected a condition such as '$.field = value' inside '{ }'"),
    ("{ }", 2, "expected a condition such as '$.field = value' inside '{ }'"),
    ("{ ( ) }", 4, "expected a condition"),
    ("[] x", 3, "expected end of pattern after the closing ']'"),  # "[]" alone is valid: every event
    ("%%", 1, "expected a regular expression between '%' and '%'"),
    # space-delimited specifics
    ("[ip, user, username, timestamp, request, status_code = 4* && bytes > 1000]", 61,
     "expected the field name 'status_code'"),
    ("[, a]", 1, "expected a field name"),
    ("[a,,]", 3, "expected a field name"),  # "[a,]" is valid: AWS documents a trailing comma
    ("[a, a]", 4, "expected a unique field name; 'a' is already used at position 1"),
    ("[1a]", 1, "expected a field name (a letter or '_' first)"),
    ("[a b]", 3, "expected an operator"),
    # regex subset
    ("%a(b)%", 2, "'(' is not supported"),
    ("%a\tb%", 2, "'\\t' is not supported"),  # a space is accepted as itself; other blanks are not
    ("%a!%", 2, "'!' is not supported"),
    ("%a**%", 3, "expected a character, '.', a class or an escape before '*'"),
    ("%*a%", 1, "expected a character, '.', a class or an escape before '*'"),
    ("%a|%", 3, "expected an expression after '|'"),
    ("%|a%", 1, "expected an expression before '|'"),
    ("%[b-a]%", 2, "expected a range in order"),
    ("%[]%", 2, "expected a character in the class"),
    ("%[ab%", 1, "expected ']' to close the character class"),
    ("%a{2%", 2, "expected '}' to close the repetition"),
    ("%a{3,2}%", 2, "expected n >= m"),
    ("%a}%", 2, "expected '{' before the unmatched '}'"),
    ("%\\q%", 1, "expected \\d, \\D, \\s, \\S, \\w, \\W or an escaped symbol"),
    ("%\u00e9%", 1, "multi-byte characters are not supported"),
    ("{ $.a = %x% || $.b = %y% || $.c = %z% }", 34, "expected at most 2 regular expressions"),
    # kinds must stand alone
    ("{ $.a = 1 } extra", 12, "found 'extra'"),
    ("ERROR {", 6, "'{' can only start a JSON pattern"),
    ("ERROR [x]", 6, "'[' can only start a space-delimited pattern"),
    ("ERROR %x%", 6, "'%' can only start a regular expression"),
    ("%abc% x", 6, "expected end of pattern after the regular expression"),
    ('"a"b', 3, "expected whitespace or end of pattern after the closing '\"'"),
    ('a"b"', 1, "expected whitespace before a quoted phrase"),
    # limits
    ("{" + "(" * 70 + "$.a = 1" + ")" * 70 + "}", 65, "expected at most 64 nested parentheses"),
    ("x" * 1025, 1024, "expected at most 1024 characters"),
]


@pytest.mark.parametrize("text,position,fragment", CASES, ids=[c[0][:40] for c in CASES])
def test_error_position_and_message(text, position, fragment):
    with pytest.raises(PatternError) as info:
        compile_pattern(text)
    err = info.value
    assert err.position == position, err.message
    assert err.message.startswith("expected"), err.message
    assert fragment in err.message
    assert err.pattern == text
    assert str(err) == f"{err.message} at position {position}"
    assert isinstance(err, TrailwatchError)


@pytest.mark.parametrize("bad", [None, 42, b"{ $.a = 1 }", ["ERROR"], {"a": 1}])
def test_non_string_patterns_raise_pattern_error(bad):
    with pytest.raises(PatternError) as info:
        compile_pattern(bad)
    assert info.value.position == 0
    assert "expected the pattern to be a str" in info.value.message


def test_errors_are_not_cached_as_patterns():
    for _ in range(2):
        with pytest.raises(PatternError):
            compile_pattern("{ $.a = }")


def test_edge_spellings_that_are_valid():
    assert compile_pattern("  { $.a = 1 }  ").kind == "json"
    assert compile_pattern("{$.a=1&&$.b!=2||($.c>=3)}").kind == "json"
    assert compile_pattern("{ $.a-b_c[0][12].d = \"x\" }").fields == frozenset({"$.a-b_c[0][12].d"})
    assert compile_pattern("[...]").kind == "delimited"
    assert compile_pattern("[ ]").kind == "delimited"
    assert compile_pattern("%a b%").kind == "regex"
    assert compile_pattern("%^[a-z]{2,}\\d+$%").kind == "regex"
    assert compile_pattern("x" * 1024).kind == "terms"
    assert compile_pattern("").kind == "all"
    assert compile_pattern("   ").kind == "all"


def test_value_expression_errors():
    p = compile_pattern("{ $.latency = * }")
    for bad, fragment in [("latency", "expected a number or a JSON selector"), ("$.", "expected a property name"),
                          ("$.a b", "expected end of selector")]:
        with pytest.raises(PatternError) as info:
            p.value({"latency": 1}, bad)
        assert fragment in info.value.message
    d = compile_pattern("[ip, bytes]")
    with pytest.raises(PatternError):
        d.value("1.2.3.4 5", "$nope")
