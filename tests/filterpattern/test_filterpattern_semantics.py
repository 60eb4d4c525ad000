"""The documented semantics and the choices the package docstring records, one example each."""

import json

import pytest

from trailwatch.errors import PatternError
from trailwatch.filterpattern import PatternSet, compile_pattern, extract_dimension, extract_value


def m(pattern, event):
    return compile_pattern(pattern).matches(event)


# -- terms -----------------------------------------------------------------------------------------

def test_terms_substring_and_case():
    assert m("ERROR", "Exiting with ERRORCODE: -1")
    assert not m("error", "[ERROR] x")
    assert m("ERROR:", "got ERROR: boom")


def test_terms_or_groups():
    p = '?"ERROR" "MainThread" ?"WARN" "Deadlock"'
    assert m(p, "ERROR in MainThread")
    assert m(p, "WARN Deadlock detected")
    assert not m(p, "ERROR in worker")
    assert not m(p, "WARN only")


def test_terms_required_terms_before_alternatives():
    assert m("api ?ERROR ?WARN", "api WARN")
    assert not m("api ?ERROR ?WARN", "web WARN")
    assert not m("api ?ERROR ?WARN", "api INFO")


def test_terms_exclusion_inside_alternative():
    assert m("?ERROR -retry ?FATAL", "FATAL retry")
    assert not m("?ERROR -retry ?WARN", "ERROR retry")


def test_terms_match_everything():
    for p in ('" "', '""', "", "   "):
        assert m(p, "nospace")
        assert m(p, "")
    assert not m('" " -x', "x")


def test_terms_quoted_escapes_and_star_is_literal():
    assert m(r'"say \"hi\""', 'they say "hi" twice')
    assert m('"a*b"', "xa*by")
    assert not m('"a*b"', "axxb")


def test_terms_on_dict_events_see_compact_json():
    assert m('"\\"eventName\\":\\"ConsoleLogin\\""', {"eventName": "ConsoleLogin"})
    assert m("ConsoleLogin", {"eventName": "ConsoleLogin"})


# -- JSON: values ---------------------------------------------------------------------------------

EVENT = {
    "s": "abc", "n": 400, "f": 1.5, "ns": "400", "t": True, "fl": False, "z": None, "obj": {"k": "v"},
    "arr": ["x", {"id": 2}, [7]], "empty": "", "star": "a*b", "big": 10 ** 20, "ip": "10.0.3.4",
}


@pytest.mark.parametrize("pattern,expected", [
    ('{ $.s = "abc" }', True), ("{ $.s = abc }", True), ('{ $.s = "ABC" }', False),
    ("{ $.s = a* }", True), ("{ $.s = *c }", True), ("{ $.s = a*c }", True), ("{ $.s = *b* }", True),
    ("{ $.s = *x* }", False), ("{ $.s = a**c }", True), ('{ $.s = "*" }', True), ("{ $.s = abc* }", True),
    ('{ $.star = "a\\*b" }', True), ('{ $.star = "a\\*" }', False),
    ("{ $.n = 400 }", True), ("{ $.n = 4e2 }", True), ("{ $.n = 400.0 }", True), ("{ $.n = 4* }", True),
    ('{ $.n = "400" }', True), ("{ $.n = * }", True), ("{ $.n != 401 }", True), ("{ $.n != 400 }", False),
    ("{ $.ns = 400 }", True), ("{ $.ns = 4.0e2 }", True), ("{ $.ns > 399 }", True), ("{ $.s > 1 }", False),
    ("{ $.f >= 1.5 }", True), ("{ $.f < +2 }", True), ("{ $.f = 1.5 }", True), ("{ $.f <= -1 }", False),
    ("{ $.big = 100000000000000000000 }", True), ("{ $.big > 99999999999999999999 }", True),
    ("{ $.empty = \"\" }", True), ("{ $.empty = * }", True), ("{ $.empty != x }", True),
    ("{ $.ip = 10.0.* }", True), ("{ $.ip != 10.0.* }", False), ("{ $.ip = 10.0.3.4 }", True),
])
def test_json_values(pattern, expected):
    assert m(pattern, EVENT) is expected
    assert m(pattern, json.dumps(EVENT)) is expected


@pytest.mark.parametrize("selector", ["$.t", "$.fl", "$.z", "$.obj", "$.arr", "$.missing", "$.s.deeper", "$.arr[9]"])
@pytest.mark.parametrize("op_value", ["= *", "= x", "!= x", "!= *", "> 0", "< 0", "= true", "= null"])
def test_non_value_nodes_never_compare(selector, op_value):
    assert not m(f"{{ {selector} {op_value} }}", EVENT)


@pytest.mark.parametrize("pattern,expected", [
    ("{ $.t IS TRUE }", True), ("{ $.t IS FALSE }", False), ("{ $.fl IS FALSE }", True),
    ("{ $.z IS NULL }", True), ("{ $.missing IS NULL }", False), ("{ $.s IS TRUE }", False),
    ("{ $.missing NOT EXISTS }", True), ("{ $.z NOT EXISTS }", False), ("{ $.obj NOT EXISTS }", False),
    ("{ $.obj.k NOT EXISTS }", False), ("{ $.s.k NOT EXISTS }", True), ("{ $.z.k NOT EXISTS }", True),
    ("{ $.arr[0] = x }", True), ("{ $.arr[1].id = 2 }", True), ("{ $.arr[2][0] = 7 }", True),
    ("{ $.arr[3] NOT EXISTS }", True), ("{ $.obj[0] NOT EXISTS }", True), ("{ $.s[0] NOT EXISTS }", True),
    ("{ $.arr.id NOT EXISTS }", True),
])
def test_json_keywords_and_paths(pattern, expected):
    assert m(pattern, EVENT) is expected


def test_a_member_name_holding_a_dot_is_not_selectable():
    """docs/filter-patterns.md: no documented selector quotes a name, so `.` always separates members."""
    e = {"cluster.name": "prod", "cluster": {"name": "dev"}}
    assert m('{ $.cluster.name = "dev" }', e)
    assert not m('{ $.cluster.name = "prod" }', e)
    with pytest.raises(PatternError, match="position 3"):
        compile_pattern("{ $['cluster.name'] = \"prod\" }")


def test_json_precedence():
    e = {"a": 1, "b": 2, "c": 3}
    assert m("{ $.a = 1 || $.b = 9 && $.c = 9 }", e)
    assert not m("{ ($.a = 1 || $.b = 9) && $.c = 9 }", e)
    assert m("{ $.a = 9 && $.b = 9 || $.c = 3 }", e)


def test_json_regex_values():
    e = {"eventName": "DescribeInstances", "code": 404}
    assert m("{ $.eventName = %^Describe% }", e)
    assert not m("{ $.eventName = %^describe% }", e)
    assert m("{ $.eventName != %^Get% }", e)
    assert m("{ $.code = %^4\\d\\d$% }", e)
    assert not m("{ $.missing != %x% }", e)


def test_json_pattern_on_non_json_lines():
    p = compile_pattern("{ $.a NOT EXISTS }")
    assert p.matches({"b": 1})
    assert p.matches('{"b": 1}')
    assert not p.matches("not json")
    assert not p.matches("[1, 2]")
    assert not p.matches('"a string"')
    assert not p.matches("")
    assert not p.matches('{"a": NaN}')
    assert p.matches('{"big": 123456789012345678901234567890}')  # beyond orjson's integers


@pytest.mark.parametrize("event", [None, 1, 1.5, [1], ("a",), object(), b"\xff\xfe", bytearray(b"{}")])
def test_odd_events_never_raise(event):
    for p in ("{ $.a = 1 }", "ERROR", "[a]", "%a%", ""):
        pattern = compile_pattern(p)
        assert pattern._match_any(event) in (True, False)  # raw dispatch, without the safety net
        assert pattern.matches(event) in (True, False)


def test_dict_events_with_odd_contents_never_raise():
    odd = {"a": {1, 2}, "b": object(), 3: "x", "c": [set()], "d": float("nan")}
    for p in ("{ $.a = 1 }", "{ $.b != x }", "{ $.c[0] = * }", "{ $.d > 1 }", "ERROR", "[a]"):
        assert compile_pattern(p)._match_any(odd) is False


def test_compile_is_cached_and_exposes_fields():
    p = compile_pattern('{ $.a.b = 1 && ($.c[0] = x || $.d NOT EXISTS) }')
    assert compile_pattern('{ $.a.b = 1 && ($.c[0] = x || $.d NOT EXISTS) }') is p
    assert p.fields == frozenset({"$.a.b", "$.c[0]", "$.d"})
    assert p.required == {"$.a.b": None}
    assert p.exact is None


def test_required_values_merge():
    p = compile_pattern('{ ($.x = A || $.x = B) && ($.x = B || $.x = C) && ($.y = 1 || $.z = 2) }')
    assert p.required == {"$.x": frozenset({"B"})}
    assert compile_pattern('{ $.x = A && $.x = B }').required == {"$.x": frozenset()}
    assert compile_pattern('{ $.x = A || $.x = 1 }').required == {"$.x": None}
    assert compile_pattern('{ $.x = A || $.x = "*" }').exact == ("$.x", None)


# -- space-delimited ------------------------------------------------------------------------------

LINE = '127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534'


@pytest.mark.parametrize("pattern,expected", [
    ("[ip, user, username, timestamp, request, status_code, bytes]", True),
    ("[ip, user, username, timestamp, request, status_code]", False),  # field count must be exact
    ("[ip, ...]", True), ("[...]", True), ("[..., bytes]", True), ("[..., a, b, c, d, e, f, g]", True),
    ("[..., a, b, c, d, e, f, g, h]", False), ("[ip, ..., request = *html*, ..., bytes]", True),
    ("[ip, ..., status = 404, ..., bytes]", True), ("[ip, ..., status = 405, ..., bytes]", False),
    ("[..., x = Prod, ..., y = frank, ...]", True), ("[..., x = frank, ..., y = Prod, ...]", False),
    ("[ip = 127.*, ...]", True), ("[ip != 127.*, ...]", False), ("[..., code = 404 || code = 410, b]", True),
    ("[..., code != 404 && code != 410, b]", False), ("[..., code >= 400 && code < 500, b > 1000]", True),
    ("[..., code, b > 2000]", False), ("[..., req = %index\\.html%, code, b]", True),
    ('[..., req = "GET /index.html HTTP/1.0", code, b]', True), ("[ip, u = prod, ...]", False),
    ("[ip, user, username, timestamp = 10/Oct/2000*, ...]", True),
])
def test_delimited(pattern, expected):
    assert m(pattern, LINE) is expected


def test_delimited_tokenizer_choices():
    p = compile_pattern("[a, b, c]")
    assert p.extract('x  "q  r"   [s t]') == {"$a": "x", "$b": "q  r", "$c": "s t"}
    assert p.extract('x y "unclosed tail') == {"$a": "x", "$b": "y", "$c": "unclosed tail"}
    assert p.extract('x "" []') == {"$a": "x", "$b": "", "$c": ""}
    assert p.extract("only two") is None


def test_delimited_value_and_dimension():
    p = compile_pattern("[ip, user, username, timestamp, request, status_code, bytes > 1000]")
    assert p.value(LINE, "$bytes") == 1534.0
    assert p.value(LINE, "$user") is None
    assert p.dimension(LINE, "$user") == "Prod"
    assert p.value(LINE, "1") == 1.0
    assert p.value(LINE.replace("1534", "999"), "$bytes") is None  # no match, no value


# -- regex ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("pattern,line,expected", [
    ("%AUTHORIZED%", "[ERROR 401] UNAUTHORIZED REQUEST", True),
    ("%^\\[ERROR%", "[ERROR 401]", True), ("%^ERROR%", "[ERROR 401]", False),
    ("%REQUEST$%", "x REQUEST", True), ("%REQUEST$%", "x REQUEST\n", False),
    ("%colou?r%", "color", True), ("%colou?r%", "colour", True), ("%colou?r%", "colouur", False),
    ("%[hc]at%", "that", True), ("%^[hc]at%", "that", False), ("%[^a-z]at%", "Cat", True),
    ("%a{3,5}%", "caaat", True), ("%a{3,5}%", "caat", False), ("%a{2}b%", "aab", True), ("%a{2,}b%", "aaab", True),
    ("%\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}%", "from 10.0.0.1 x", True),
    ("%[Ee]rror|[Ff]ail%", "it failed", True), ("%[Ee]rror|[Ff]ail%", "ok", False),
    ("%a.c%", "a\nc", True), ("%\\s%", "a b", True), ("%\\w+@\\w+%", "x me@host", True),
    ("%[a-c.*]+%", "*", True), ("%\\d%", "\u0663", False), ("%key=val;x,y/z#1@:_-%", "key=val;x,y/z#1@:_-", True),
])
def test_regex(pattern, line, expected):
    assert m(pattern, line) is expected


# -- value extraction -----------------------------------------------------------------------------

def test_extract_value_and_dimension():
    e = {"latency": 50, "s": "12.5", "name": "x", "flag": True, "nested": {"v": [1, 2.5]}}
    assert extract_value(e, "$.latency") == 50.0
    assert extract_value(json.dumps(e), "$.latency") == 50.0
    assert extract_value(e, "$.s") == 12.5
    assert extract_value(e, "$.name") is None
    assert extract_value(e, "$.flag") is None
    assert extract_value(e, "$.nested.v[1]") == 2.5
    assert extract_value(e, "$.nope") is None
    assert extract_value(e, "1") == 1.0
    assert extract_value("not json", "$.latency") is None
    assert extract_dimension(e, "$.name") == "x"
    assert extract_dimension(e, "$.latency") == "50"
    assert extract_dimension(e, "$.nested") is None
    p = compile_pattern("{ $.latency > 100 }")
    assert p.value(e, "$.latency") is None
    assert compile_pattern("{ $.latency = * }").value(e, "$.latency") == 50.0


# -- PatternSet -----------------------------------------------------------------------------------

def test_pattern_set_mixes_kinds():
    ps = PatternSet({"json": '{ $.eventName = "ConsoleLogin" }', "terms": "ConsoleLogin", "regex": "%Console%",
                     "all": "", "never": "{ $.a = 1 && $.a = 2 }", "glob": "{ $.eventName = Console* }"})
    e = {"eventName": "ConsoleLogin"}
    assert ps.matching(e) == ["json", "terms", "regex", "all", "glob"]
    assert ps.matching(json.dumps(e)) == ["json", "terms", "regex", "all", "glob"]
    assert ps.matching("plain ConsoleLogin line") == ["terms", "regex", "all"]
    assert ps.matching(42) == []


def test_one_line_is_parsed_once_for_many_patterns():
    from trailwatch.filterpattern.compile import parse_json_object

    line = json.dumps({"eventName": "CreateTrail", "n": 1})
    assert parse_json_object(line) is parse_json_object(line)
    assert m('{ $.eventName = CreateTrail }', line) and m("{ $.n = 1 }", line)
    other = json.dumps({"eventName": "DeleteTrail"})
    assert not m('{ $.eventName = CreateTrail }', other)
    assert parse_json_object("nope") is None and parse_json_object("nope") is None


def test_engine_does_not_import_pulumi():
    import subprocess
    import sys

    code = "import sys, trailwatch.filterpattern; print(sorted(m for m in sys.modules if m.startswith('pulumi')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=__import__("pathlib").Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "[]"
