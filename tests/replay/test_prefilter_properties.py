"""The JSON-lines prefilter (trailwatch.replay.linescan) gives exactly what parsing every record gives.

Generated CloudTrail-shaped records (CloudTrail's own member order or another, escapes, nested members named
like the ones the prefilter reads, numbers, nulls, odd times) are written as JSON lines in several spellings
(compact, json.dumps' spacing, \\u escapes, escaped slashes, CRLF) among blank, broken and non-UTF-8 lines,
and replayed through generated patterns with and without the prefilter (Aggregator(prefilter=False) and
record-by-record reading are the reference); every count, series, top-N counter and malformed sample must
be the same.
"""

from __future__ import annotations

import io
import json
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trailwatch.catalog import load_catalog
from trailwatch.replay import linescan, readers
from trailwatch.replay.engine import Aggregator

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

def mostly(usual, *odd):
    """``usual`` nine times in ten, else one of ``odd``: most lines are CloudTrail's, some are not."""
    return st.integers(0, 9).flatmap(lambda n: usual if n else st.one_of(*odd))


NAMES = ["ConsoleLogin", "PutRolePolicy", "GetObject", "CreateTrail", "DescribeInstances", "é", "{}", "}", "x/y", ""]
ODD = ["Console\"Login", "a\\b", "1.2.3.4}\"", "Ro\"ot", "\u2028", "\x01"]  # need escapes in JSON
IPS = ["203.0.113.66", "198.51.100.7", "192.0.2.1", "AWS Internal", "ec2.amazonaws.com"]
TYPES = ["Root", "IAMUser", "AssumedRole", "AWSService"]
AGENTS = ["aws-cli/2.15.30 Python/3.11.8", "signin.amazonaws.com", "", '\\",\\"errorCode\\":\\"AccessDenied']
ERRORS = ["AccessDenied", "Client.UnauthorizedOperation", "AccessDeniedException", "ThrottlingException", ""]
CLEAN = st.sampled_from(NAMES + IPS + TYPES + ["AccessDenied", "Client.UnauthorizedOperation", "Failed authentication",
                                               "Yes", "No", "Success", "2024-05-01T10:00:00Z", "*"])
WORDS = mostly(CLEAN, st.sampled_from(ODD))
LEAVES = st.one_of(WORDS, st.text(max_size=6), st.integers(-5, 5), st.floats(allow_nan=False, allow_infinity=False,
                                                                             width=32), st.booleans(), st.none())
TRICKY_KEYS = st.sampled_from(["eventTime", "eventName", "sourceIPAddress", "errorCode", "userIdentity", "arn", "type",
                               "eventVersion", "x", "a b"])
VALUES = st.recursive(LEAVES, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                      st.dictionaries(TRICKY_KEYS, inner, max_size=3)), max_leaves=8)



CANONICAL_TIMES = st.builds(lambda m, s: f"2024-05-01T10:{m:02d}:{s:02d}Z", st.integers(0, 3), st.integers(0, 59))
TIMES = mostly(CANONICAL_TIMES,
               st.sampled_from(["2024-05-01T10:00:61Z", "2024-02-30T10:00:00Z", "2024-05-01T10:00:00.5Z",
                                "2024-05-01 10:01:00", "2024-05-01T12:00:00+02:00", "yesterday", ""]),
               st.integers(0, 10), st.none())


@st.composite
def identities(draw):
    ident = {"type": draw(mostly(st.sampled_from(TYPES), st.sampled_from(ODD)))}
    for key in draw(st.lists(st.sampled_from(["principalId", "arn", "invokedBy", "sessionContext", "eventTime"]),
                             unique=True, max_size=4)):
        if key == "sessionContext":
            ident[key] = {"sessionIssuer": {"arn": draw(WORDS), "type": "Role"}, "attributes": draw(VALUES)}
        elif key == "eventTime":  # a nested member named like the one the prefilter reads
            ident[key] = draw(TIMES)
        else:
            ident[key] = draw(mostly(WORDS, st.just(""), st.none(), st.integers(0, 3)))
    return ident


@st.composite
def records(draw):
    rec = {"eventVersion": draw(mostly(st.sampled_from(["1.09", "1.08", ""]), st.integers(1, 2), st.none())),
           "userIdentity": draw(mostly(identities(), VALUES)),
           "eventTime": draw(TIMES),
           "eventSource": draw(mostly(st.sampled_from(["kms.amazonaws.com", "signin.amazonaws.com"]), st.just("s\"3"))),
           "eventName": draw(mostly(st.sampled_from(NAMES), st.integers(0, 3), st.sampled_from(ODD))),
           "awsRegion": "us-east-1",
           "sourceIPAddress": draw(mostly(st.sampled_from(IPS), st.none(), st.sampled_from(ODD)))}
    if draw(st.integers(0, 2)):  # CloudTrail's next members: userAgent, then errorCode when the call failed
        rec["userAgent"] = draw(mostly(st.sampled_from(AGENTS), st.sampled_from(ODD), st.none(), st.integers(0, 3)))
        if draw(st.booleans()):
            rec["errorCode"] = draw(mostly(st.sampled_from(ERRORS), st.sampled_from(ODD), VALUES))
    for key in draw(st.lists(st.sampled_from(["errorCode", "errorMessage", "eventType", "additionalEventData",
                                              "responseElements", "requestParameters", "x"]), unique=True, max_size=4)):
        rec[key] = draw(st.one_of(WORDS, VALUES))
    if draw(st.integers(0, 9)) == 0:  # another member order, or members missing
        keys = draw(st.permutations(list(rec)))
        rec = {k: rec[k] for k in keys[:draw(st.integers(1, len(keys)))]}
    return rec


def spell(rec: dict, how: str) -> bytes:
    if how == "compact":
        text = json.dumps(rec, separators=(",", ":"), ensure_ascii=False)
    elif how == "spaced":
        text = json.dumps(rec, ensure_ascii=False)
    elif how == "ascii":  # \\u escapes for every non-ASCII character
        text = json.dumps(rec, separators=(",", ":"))
    elif how == "slashes":  # "/" only occurs inside strings, where "\\/" means the same
        text = json.dumps(rec, separators=(",", ":"), ensure_ascii=False).replace("/", "\\/")
    else:  # whitespace where JSON allows it
        text = json.dumps(rec, separators=(" , ", " : "), ensure_ascii=False).replace("{", "{ ", 1)
    return text.encode()


@st.composite
def lines(draw):
    kind = draw(st.sampled_from(["record"] * 24 + ["blank", "garbage", "truncated", "latin1", "document", "array"]))
    if kind == "blank":
        return b""
    if kind == "garbage":
        return draw(st.sampled_from([b"not json", b"{", b'{"eventVersion":"1.09"', b"[1,2]", b"2024-05-01T10:00:00Z {}",
                                     b'{"eventVersion":"1.09","userIdentity":{},"eventTime":"2024-05-01T10:00:00Z"}x']))
    rec = draw(records())
    if kind == "document":
        return json.dumps({"Records": [rec, draw(records())]}).encode()
    if kind == "array":
        return json.dumps([rec]).encode()
    line = spell(rec, draw(st.sampled_from(["compact"] * 8 + ["spaced", "spaced", "ascii", "slashes", "spacey"])))
    if kind == "truncated":
        return line[:draw(st.integers(1, max(len(line) - 1, 1)))]
    if kind == "latin1":
        return line.replace(b"us-east-1", b"us-\xe9ast-1")
    return line + (b"\r" if draw(st.integers(0, 9)) == 0 else b"")


SELECTORS = ["$.eventName", "$.errorCode", "$.userIdentity.type", "$.userIdentity.arn", "$.userIdentity.invokedBy",
             "$.sourceIPAddress", "$.eventVersion", "$.eventTime", "$.eventSource", "$.errorMessage",
             "$.additionalEventData.MFAUsed", "$.requestParameters", "$.x", "$.x[0]", "$.userIdentity.sessionContext.sessionIssuer.arn"]
VALUE_TEXTS = ["ConsoleLogin", '"ConsoleLogin"', "AccessDenied", '"*UnauthorizedOperation"', '"AccessDenied*"', "Root",
               '"198.51.100.*"', '"203.0.113.66"', "*", '"*"', "1", "2.0", '"1.09"', '"Con*Login"', "%Con.*n%", '"a\\\\b"',
               '"Console\\"Login"', '"é"', '"2024-05-01T10:0*"', '"}"']


@st.composite
def conditions(draw):
    sel = draw(st.sampled_from(SELECTORS))
    op = draw(st.sampled_from(["=", "=", "=", "!=", ">", "<=", "IS NULL", "IS TRUE", "NOT EXISTS"]))
    if op in ("IS NULL", "IS TRUE", "NOT EXISTS"):
        return f"{sel} {op}"
    if op in (">", "<="):
        return f"{sel} {op} {draw(st.sampled_from(['0', '1', '-1.5']))}"
    return f"{sel} {op} {draw(st.sampled_from(VALUE_TEXTS))}"


def combine(children):
    return st.builds(lambda op, items: "(" + f" {op} ".join(items) + ")",
                     st.sampled_from(["&&", "||"]), st.lists(children, min_size=2, max_size=3))


JSON_PATTERNS = st.recursive(conditions(), combine, max_leaves=5).map(lambda body: "{ " + body + " }")
TEXT_PATTERNS = st.sampled_from(["", "ConsoleLogin", '"AccessDenied"', "?Root ?Denied", "-GetObject", "%Con+s%",
                                 "[v, w, ...]"])
CATALOG = [d.pattern for d in load_catalog() if d.pattern]
PATTERNS = st.lists(st.one_of(JSON_PATTERNS, JSON_PATTERNS, JSON_PATTERNS, TEXT_PATTERNS, st.sampled_from(CATALOG)),
                    min_size=1, max_size=6)


def state(agg: Aggregator) -> dict:
    return {"events": agg.events, "malformed": agg.malformed, "samples": agg.malformed_samples,
            "minutes": agg.event_minutes, "series": agg.series, "principals": agg.principals,
            "ips": agg.source_ips, "names": agg.event_names}


def replay(data: bytes, patterns: list[str], prefilter: bool, chunk: int = 4096, whole: int = 1 << 20,
           literal_min: int = linescan.LITERAL_MIN) -> dict:
    agg = Aggregator({f"p{i}": p for i, p in enumerate(patterns)}, prefilter=prefilter)
    with mock.patch.object(readers, "CHUNK", chunk), mock.patch.object(readers, "WHOLE_DOCUMENT_LIMIT", whole), \
            mock.patch.object(linescan, "LITERAL_MIN", literal_min):
        agg.feed(readers.read_stream(io.BytesIO(data), "mem", blocks=prefilter))
    return state(agg)


@SETTINGS
@given(st.lists(lines(), min_size=5, max_size=30), PATTERNS, st.sampled_from([64, 512, 4096]),
       st.sampled_from([2048, 1 << 20]), st.booleans(), st.sampled_from([0, 2, 64]))
def test_prefiltered_replay_equals_full_evaluation(body, patterns, chunk, whole, final_newline, literal_min):
    """``chunk`` and ``whole`` split the input into several blocks; ``literal_min`` 0 sends every
    candidate through the search for member names, 64 (the shipped value) none of these small inputs."""
    data = b"\n".join(body) + (b"\n" if final_newline else b"")
    assert replay(data, patterns, True, chunk, whole, literal_min) == replay(data, patterns, False, chunk, whole)


def test_only_candidate_lines_are_parsed():
    """What the prefilter is for: of compact CloudTrail lines, a detection that reads a member beyond the
    captured ones parses only the lines its captured requirements let through (here the ConsoleLogin ones)."""
    recs = [{"eventVersion": "1.09", "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::1:user/u{i % 7}"},
             "eventTime": f"2024-05-01T10:{i % 60:02d}:00Z", "eventSource": "signin.amazonaws.com",
             "eventName": "ConsoleLogin" if i % 50 == 0 else "GetObject", "awsRegion": "us-east-1",
             "sourceIPAddress": "192.0.2.1", "errorMessage": "Failed authentication"} for i in range(1000)]
    data = b"".join(spell(r, "compact") + b"\n" for r in recs)
    patterns = ['{ ($.eventName = "ConsoleLogin") && ($.errorMessage = "Failed authentication") }', '{ $.eventVersion = "*" }']
    parsed = []
    real = linescan._Lines.record

    def counting(self, row, *args):
        parsed.append(row)
        return real(self, row, *args)

    with mock.patch.object(linescan._Lines, "record", counting):
        got = replay(data, patterns, True)
    assert got == replay(data, patterns, False)
    assert got["events"] == 1000 and sum(got["series"][0].values()) == 20
    assert len(parsed) == 20
