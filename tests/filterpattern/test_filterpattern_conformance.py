"""Every row of AWS's documented examples (tests/fixtures/aws_filter_pattern_conformance.jsonl), then the
documented cases that fixture does not hold (DOCUMENTED), each with its source."""

import json
from pathlib import Path

import pytest

from trailwatch.errors import PatternError
from trailwatch.filterpattern import compile_pattern

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "aws_filter_pattern_conformance.jsonl"
ROWS = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_fixture_has_all_rows():
    assert len(ROWS) == 57
    assert len({r["id"] for r in ROWS}) == 57


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_row(row):
    if row["expected"] == "INVALID":
        with pytest.raises(PatternError):
            compile_pattern(row["pattern"])
        return
    pattern = compile_pattern(row["pattern"])
    assert pattern.matches(row["message"]) is row["expected"]
    if row["kind"] == "json":  # the same event, already parsed, gives the same answer
        assert pattern.matches(json.loads(row["message"])) is row["expected"]
    if "extracted" in row:
        assert pattern.extract(row["message"]) == row["extracted"]
        for name, text in row["extracted"].items():
            assert pattern.dimension(row["message"], name) == text
    for expr, value in row.get("metric_value", {}).items():
        assert pattern.value(row["message"], expr) == value
    for name, value in row.get("dimensions", {}).items():
        assert pattern.dimension(row["message"], "$." + name) == value


# Cases the shared dataset does not hold, each with where AWS says it. Where AWS's pages disagree with each
# other, docs/filter-patterns.md records which answer we took and why. (pattern, message, expected)
DOCUMENTED = [
    # "Supported regular expressions (regex) syntax", docs.aws.amazon.com/AmazonCloudWatch/latest/logs/
    # regex-expressions.html: its two opening examples, and "%something!% would be rejected since '!' is not
    # supported". The symbol list there says "These include", it is not closed.
    (r"%\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}%", "connect from 10.0.12.7 refused", True),
    (r"%\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}%", "connect from host-a refused", False),
    ("%[Ee]rror|[Ff]ail%", "Upload failed", True),
    ("%[Ee]rror|[Ff]ail%", "Upload done", False),
    ("%something!%", "something!", "INVALID"),
    # A regex holding spaces: AWS's CDK reference, class JsonPattern, docs.aws.amazon.com/cdk/api/v2/docs/
    # aws-cdk-lib.aws_logs.JsonPattern.html, example FilterPattern.regexValue('$.message', '=', 'bind: address
    # already in use'), which aws-logs/lib/pattern.ts renders as the pattern below.
    ("{ $.message = %bind: address already in use% }",
     '{"message": "listen tcp :80: bind: address already in use", "latency": 3}', True),
    ("{ $.message = %bind: address already in use% }", '{"message": "bind: address in use"}', False),
    ("%ERROR 4%", "[ERROR 400] BAD REQUEST", True),
    ("%ERROR 4%", "[ERROR] 400 BAD REQUEST", False),
    # A '*' inside a JSON string value. "Filter and pattern syntax", awsdocs/amazon-cloudwatch-logs-user-guide
    # @5bd7d24 (2022-03-25) doc_source/FilterAndPatternSyntax.md#metric-filters-extract-json: "Use the asterisk
    # ("*") as a wild card to match text", no position named; the 2018-2021 versions' "Ev*ent will only match
    # the actual string Ev*ent" was removed in that revision (docs/filter-patterns.md).
    ('{ $.eventName = "Ev*ent" }', '{"eventName": "EvXYZent"}', True),
    ('{ $.eventName = "Ev*ent" }', '{"eventName": "Ev*ent"}', True),
    ('{ $.eventName = "Ev*ent" }', '{"eventName": "Event2"}', False),
    ('{ $.eventName = "Ev\\*ent" }', '{"eventName": "EvXYZent"}', False),  # an escaped star is the star itself
    ('{ $.eventName = "Ev\\*ent" }', '{"eventName": "Ev*ent"}', True),
    # Unquoted terms holding '-'. "Using filter patterns to match terms in unstructured log events",
    # docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html: "Enclose exact phrases and
    # terms that include non-alphanumeric characters in double quotation marks", and '-' before a term excludes
    # it. Observed: an unquoted ORDER-ITEM-1 found nothing, "ORDER-ITEM-1" did (jorgebastida/awslogs#381).
    ("ORDER-ITEM-1", "2022-12-13 INFO ORDER-ITEM-1 paid", False),
    ("ORDER-ITEM-1", "INFO ORDER paid", True),  # ORDER, and neither ITEM nor 1
    ('"ORDER-ITEM-1"', "2022-12-13 INFO ORDER-ITEM-1 paid", True),
    ("ERROR-42", "[ERROR-42] disk full", False),
    ("ERROR-42", "[ERROR] disk full", True),  # ERROR, and not 42
    ('"ERROR-42"', "[ERROR-42] disk full", True),
    # An exclusion written with a blank after '-'. "Filter and Pattern Syntax", awsdocs/amazon-cloudwatch-logs-
    # user-guide@e9343db..7ee3db0 (2018-2021) doc_source/FilterAndPatternSyntax.md#matching-terms-events,
    # Example 2: 'if you change the filter pattern to "ERROR" - "Exiting", the log event message "Exiting with
    # ERRORCODE: -1" would be excluded'.
    ('"ERROR" - "Exiting"', "Exiting with ERRORCODE: -1", False),
    ('"ERROR" - "Exiting"', "[ERROR] A fatal exception has occurred", True),
    # The empty space-delimited pattern. In no version of the guide we could read (its space-delimited sections
    # document named fields and '...'); we read "[]" as "[...]" (every event, tokens extracted by position), the
    # space-delimited spelling of the empty pattern (docs/filter-patterns.md).
    ("[]", '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534', True),
    ("[]", "ERROR message", True),
    ("[ ]", "", True),
]


@pytest.mark.parametrize("pattern, message, expected", DOCUMENTED,
                         ids=[f"{i}:{r[0][:30]}" for i, r in enumerate(DOCUMENTED)])
def test_documented_case(pattern, message, expected):
    if expected == "INVALID":
        with pytest.raises(PatternError):
            compile_pattern(pattern)
        return
    assert compile_pattern(pattern).matches(message) is expected


def test_empty_space_delimited_pattern_extracts_every_token_by_position():
    line = '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534'
    assert compile_pattern("[]").extract(line) == compile_pattern("[...]").extract(line) == {
        "$1": "127.0.0.1", "$2": "-", "$3": "frank", "$4": "10/Oct/2000:13:25:15 -0700",
        "$5": "GET /index.html HTTP/1.0", "$6": "404", "$7": "1534"}
