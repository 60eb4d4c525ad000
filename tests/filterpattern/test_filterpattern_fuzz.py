"""Fuzzing: random text and mutated real patterns either compile or raise PatternError, nothing else;
compiled patterns never raise while matching, and their prefilters are sound."""

import json
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trailwatch.errors import PatternError
from trailwatch.filterpattern import PatternSet
from trailwatch.filterpattern.compile import build_pattern
from trailwatch.filterpattern.values import MISSING
from trailwatch.filterpattern.selectors import make_getter, parse_selector_text

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "fixtures"


def _catalog() -> list[str]:
    out = [json.loads(line)["pattern"] for line in (FIXTURES / "aws_filter_pattern_conformance.jsonl").read_text().splitlines() if line]
    ref = FIXTURES / "cis_securityhub_filters.yaml"
    if ref.exists():
        for c in yaml.safe_load(ref.read_text())["controls"]:
            out.append(c["pattern"])
            out.extend(p for e in c.get("cis", {}).values() for p in e["patterns"])
    out += [
        "{ $.a = %^x[a-z]{1,3}$% || $.b[0].c != \"q\\\"*\" }", "[a, ..., b = %\\d+% || b = 5*, ...]",
        "%^\\[ERROR\\]\\s\\w+|[Ff]ail%", "?ERROR -retry ?\"FATAL x\"", "{ $.n >= -1.5e3 && $.t IS TRUE }",
    ]
    return sorted(set(out))


CATALOG = _catalog()
PIECES = list('{}[]()"$.%?*-=!<>&|,\\ \t_') + list("aAzZ09é\x00") + [
    "$.a", "$.b[0]", "&&", "||", "IS", "NULL", "TRUE", "FALSE", "NOT", "EXISTS", "...", "%\\d%", '"x"', "4*",
]
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

EVENTS = [
    {}, {"a": 1}, {"a": "x", "b": [{"c": "q\"z"}], "n": 12, "t": True, "z": None},
    {"eventName": "CreateTrail", "eventSource": "kms.amazonaws.com", "errorCode": "AccessDenied",
     "userIdentity": {"type": "Root"}, "eventType": "AwsApiCall", "eventVersion": "1.08"},
    '{"a": "xab", "n": -1500}', "ERROR 404 [x y] \"q r\" 5", "", "not json {", "%", "127.0.0.1 a b",
]


def check(text: str) -> None:
    try:
        p = build_pattern(text)  # no cache, no internal-error safety net
    except PatternError as err:
        assert 0 <= err.position <= len(text)
        assert err.message.startswith("expected")
        assert err.pattern == text
        return
    assert p.kind in {"all", "terms", "regex", "json", "delimited"}
    for event in EVENTS:
        result = p._match_any(event)  # raw dispatch: an exception here is a bug
        assert result in (True, False)
        p.extract(event)
        p.value(event, "1")
        if result and p.kind == "json":
            obj = event if isinstance(event, dict) else json.loads(event)
            for selector, allowed in p.required.items():  # the prefilter never rejects a match
                v = make_getter(parse_selector_text(selector).path)(obj)
                assert v is not MISSING and type(v) in (str, int, float)
                if allowed is not None:
                    assert v in allowed


@SETTINGS
@given(st.text(max_size=60))
def test_random_unicode_text(text):
    check(text)


@SETTINGS
@given(st.lists(st.sampled_from(PIECES), max_size=30).map("".join))
def test_random_pattern_shaped_text(text):
    check(text)
    check("{" + text + "}")
    check("[" + text + "]")
    check("%" + text + "%")


@st.composite
def mutated(draw):
    chars = list(draw(st.sampled_from(CATALOG)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "insert", "swap", "duplicate"]))
        i = draw(st.integers(0, max(0, len(chars) - 1)))
        if op == "insert" or not chars:
            chars.insert(i, draw(st.sampled_from(PIECES)))
        elif op == "delete":
            del chars[i]
        elif op == "swap":
            j = draw(st.integers(0, len(chars) - 1))
            chars[i], chars[j] = chars[j], chars[i]
        else:
            chars.insert(i, chars[i])
    return "".join(chars)


@SETTINGS
@given(mutated())
def test_mutated_catalog_patterns(text):
    check(text)


def test_every_catalog_pattern_survives_single_deletions():
    for text in CATALOG[:40]:
        for i in range(0, len(text), max(1, len(text) // 25)):
            check(text[:i] + text[i + 1:])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated(), min_size=1, max_size=8))
def test_pattern_set_equals_one_by_one(texts):
    compiled = {}
    for i, text in enumerate(texts):
        try:
            compiled[f"p{i}"] = build_pattern(text)
        except PatternError:
            pass
    ps = PatternSet(compiled)
    for event in EVENTS:
        assert ps.matching(event) == [name for name, p in compiled.items() if p._match_any(event)]
