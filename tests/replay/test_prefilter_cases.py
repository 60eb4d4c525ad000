"""The JSON-lines prefilter on the spellings that defeat naive byte tests, one case each: every case
gives what parsing every record gives, and the count a reader of the line expects."""

from __future__ import annotations

import io
import json

import pytest

from trailwatch.replay import linescan, readers
from trailwatch.replay.engine import Aggregator
from trailwatch.replay.readers import LineBlock

HEAD = '{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/alice"},'
TIME = '"eventTime":"2024-05-01T10:00:00Z",'


def line(name: str = '"GetObject"', ip: str = '"192.0.2.1"', tail: str = "", head: str = HEAD, time: str = TIME) -> str:
    return (head + time + '"eventSource":"s3.amazonaws.com","eventName":' + name + ',"awsRegion":"us-east-1",'
            '"sourceIPAddress":' + ip + tail + "}")


UA = ',"userAgent":"aws-cli/2.15.30 Python/3.11.8"'
FILLER = [line() for _ in range(3)]  # regular lines around each case, so that the case sits inside a block


def run(lines: list[str], pattern: str, prefilter: bool) -> dict:
    agg = Aggregator({"p": pattern, "beat": '{ $.eventVersion = "*" }'}, prefilter=prefilter)
    data = b"".join(x.encode("utf-8", "surrogateescape") + b"\n" for x in FILLER + lines + FILLER)
    agg.feed(readers.read_stream(io.BytesIO(data), "mem", blocks=prefilter))
    return {"events": agg.events, "malformed": agg.malformed, "samples": agg.malformed_samples,
            "minutes": agg.event_minutes, "series": agg.series, "principals": agg.principals,
            "ips": agg.source_ips, "names": agg.event_names}


CASES = [  # (what, lines, pattern, matches of the pattern)
    ("a \\u escape spells the value", [line(name='"\\u0043onsoleLogin"')], "{ $.eventName = ConsoleLogin }", 1),
    ("a \\u escape spells the member name", [line(tail=',"error\\u0043ode":"AccessDenied"')],
     '{ $.errorCode = "AccessDenied" }', 1),
    ("escaped slashes in the head", [line(head=HEAD.replace("/", "\\/"))], '{ $.userIdentity.arn = "*user/alice" }', 7),
    ("json.dumps spacing", [json.dumps(json.loads(line(name='"ConsoleLogin"')))], "{ $.eventName = ConsoleLogin }", 1),
    ("other spacing", [line(name='"ConsoleLogin"').replace('":"', '" : "')], "{ $.eventName = ConsoleLogin }", 1),
    ("member order other than CloudTrail's", [json.dumps(dict(sorted(json.loads(line(name='"ConsoleLogin"')).items())))],
     "{ $.eventName = ConsoleLogin }", 1),
    ("eventTime only nested (the record has none)",
     ['{"eventVersion":"1.09","userIdentity":{"a":{},' + TIME + '"eventSource":"x","eventName":"ConsoleLogin",'
      '"awsRegion":"r","sourceIPAddress":"1.2.3.4"}}'], "{ $.eventName = ConsoleLogin }", 0),
    ("a brace inside a string before a nested eventTime",
     [line(name='"ConsoleLogin"', time='"eventTime":"2024-05-01T10:05:00Z",',
           head=HEAD[:-2] + ',"b":{"a":"}"},' + TIME + '"eventSource":"x","eventName":"Fake","awsRegion":"r",'
           '"sourceIPAddress":"6.6.6.6","c":1},')], "{ $.eventName = ConsoleLogin }", 1),
    ("case matters", [line(name='"consolelogin"')], "{ $.eventName = ConsoleLogin }", 0),
    ("a number where a string is expected", [line(name="5")], "{ $.eventName = 5 }", 1),
    ("wildcard on a number", [line(tail=',"x":42')], "{ $.x = 4* }", 1),
    ("!= on a missing member", [line()], "{ $.errorCode != AccessDenied }", 0),
    ("!= on a present member", [line(tail=',"errorCode":"Throttling"')], "{ $.errorCode != AccessDenied }", 1),
    ("NOT EXISTS", [line(tail=',"errorCode":"x"')], "{ $.errorCode NOT EXISTS }", 6),
    ("IS NULL", [line(tail=',"responseElements":null')], "{ $.responseElements IS NULL }", 1),
    ("a regular expression", [line(name='"ConsoleLogin"')], "{ $.eventName = %Con[a-z]+Login% }", 1),
    ("a pattern with no member name to look for", [line(ip="null")], "{ $.sourceIPAddress IS NULL }", 1),
    ("a text pattern", [line(name='"ConsoleLogin"')], "ConsoleLogin", 1),
    ("seconds past 59", [line(time='"eventTime":"2024-05-01T10:00:61Z",')], "{ $.eventName = GetObject }", 6),
    ("a line that does not end with }", [line() + "x"], "{ $.eventName = GetObject }", 6),
    ("a line cut short", [line()[:120]], "{ $.eventName = GetObject }", 6),
    ("not UTF-8", [line(tail=',"x":"\udcff"')], "{ $.eventName = GetObject }", 6),  # a lone 0xff byte
    # errorCode where CloudTrail writes it (after userAgent) is captured; anything that only looks like it is not
    ("errorCode after userAgent", [line(tail=UA + ',"errorCode":"AccessDenied","errorMessage":"no"')],
     '{ $.errorCode = "AccessDenied" }', 1),
    ("an escaped errorCode after userAgent", [line(tail=UA + ',"errorCode":"Access\\u0044enied"')],
     '{ $.errorCode = "AccessDenied" }', 1),
    ("a quote inside the errorCode after userAgent", [line(tail=UA + ',"errorCode":"Access\\"Denied"')],
     '{ $.errorCode = "Access\\"Denied" }', 1),
    ("a userAgent spelling an errorCode", [line(tail=',"userAgent":"x\\",\\"errorCode\\":\\"AccessDenied"')],
     '{ $.errorCode = "AccessDenied" }', 0),
    ("errorCode after userAgent read with other members", [line(tail=UA + ',"errorCode":"AccessDenied","eventType":"A"')],
     '{ ($.errorCode = "AccessDenied") && ($.eventType = "A") }', 1),
    ("a null errorCode after userAgent", [line(tail=UA + ',"errorCode":null')], "{ $.errorCode IS NULL }", 1),
    ("a line cut inside its userAgent, then the rest of it",
     [line()[:-1] + ',"userAgent":"aws-cli', '","errorCode":"AccessDenied"}'], '{ $.errorCode = "AccessDenied" }', 0),
]


@pytest.mark.parametrize("literal_min", [0, 64])
@pytest.mark.parametrize("what, lines, pattern, matches", CASES, ids=[c[0] for c in CASES])
def test_case_equals_full_evaluation(what, lines, pattern, matches, literal_min, monkeypatch):
    """``literal_min`` 0: candidates are narrowed to lines holding a needed member name or a backslash."""
    monkeypatch.setattr(linescan, "LITERAL_MIN", literal_min)
    got = run(lines, pattern, True)
    assert got == run(lines, pattern, False)
    assert sum(got["series"][0].values()) == matches


def test_a_regular_line_broken_after_its_source_ip_counts_as_a_record():
    """The documented limit of the check: what follows sourceIPAddress is not validated unless a
    detection needs the line parsed, so such a line is counted where a full parse reports it."""
    broken = [line(tail=',"x":}')]
    assert run(broken, "{ $.eventName = GetObject }", True)["events"] == 7
    assert run(broken, "{ $.eventName = GetObject }", False)["events"] == 6
    # a detection that needs the line parsed finds it broken, and it is reported as the reference does
    assert run(broken, "{ $.x = 1 }", True) == run(broken, "{ $.x = 1 }", False)


def test_blocks_report_lines_and_records_so_positions_stay_right(tmp_path):
    """Malformed lines after a block are reported at their own line, as record-by-record reading does."""
    path = tmp_path / "a.jsonl"
    path.write_text("".join(x + "\n" for x in FILLER + ["{broken", ""] + FILLER + ["also broken"]))
    for prefilter in (True, False):
        reader = readers.RecordReader([path], blocks=prefilter)
        agg = Aggregator({"p": "{ $.eventName = GetObject }"}, prefilter=prefilter)
        agg.feed(reader, locate=reader.locate)
        assert agg.events == 6
        assert [s.split(": ")[0] for s in agg.malformed_samples] == [f"{path}:4:2", f"{path}:9:1"]


def test_line_blocks_are_whole_lines(monkeypatch):
    monkeypatch.setattr(readers, "CHUNK", 16)
    monkeypatch.setattr(readers, "WHOLE_DOCUMENT_LIMIT", 512)
    text = b"".join(x.encode() + b"\n" for x in FILLER * 5)
    seen = []
    for item in readers.read_stream(io.BytesIO(text + b'{"eventVersion":"1"}'), "mem", blocks=True):
        if type(item) is LineBlock:
            block = bytes(item.data[:item.end])
            item.lines = block.count(b"\n")
            seen.extend(block.split(b"\n")[1:])
        else:
            seen.append(item)
    assert seen == [x.encode() for x in FILLER * 5] + [{"eventVersion": "1"}]


def test_workers_over_byte_ranges_give_the_record_by_record_report(tmp_path, monkeypatch):
    """The prefilter in worker processes, each reading byte ranges of one big file, gives the report of
    one record-by-record pass (counts, series, top-N and malformed locations)."""
    from trailwatch.replay import pool, replay_paths, tasks
    from trailwatch.replay.partial import Partial
    from trailwatch.replay.report import build_report

    monkeypatch.setattr(tasks, "MIN_TASK_BYTES", 64 << 10)
    monkeypatch.setattr(readers, "WHOLE_DOCUMENT_LIMIT", 64 << 10)
    body = []
    for i in range(6000):
        name = '"ConsoleLogin"' if i % 40 == 0 else '"GetObject"'
        tail = ',"errorCode":"AccessDenied"' if i % 13 == 0 else ""
        body.append("broken line" if i % 997 == 0 else
                    line(name=name, tail=tail, time=f'"eventTime":"2024-05-01T1{i % 10}:{i % 60:02d}:00Z",'))
    path = tmp_path / "big.jsonl"
    path.write_text("".join(x + "\n" for x in body))
    detections = {"denied": '{ $.errorCode = "AccessDenied" }', "login": "{ $.eventName = ConsoleLogin }",
                  "beat": '{ $.eventVersion = "*" }'}
    pooled = []
    original = pool.replay

    def counting(*args, **kwargs):
        pooled.append(True)
        return original(*args, **kwargs)

    monkeypatch.setattr(pool, "replay", counting)
    got = replay_paths([path], detections, workers=2)
    assert pooled  # through the process pool, on byte ranges of the file
    reader = readers.RecordReader([path])
    agg = Aggregator(detections, prefilter=False)
    agg.feed(reader, locate=reader.locate)
    want = build_report(Partial.of(agg), 30, files=1)
    assert got.to_dict() == want.to_dict() and got.event_minutes == want.event_minutes
    assert got.events == 6000 - 7 and got.detections["denied"].matches == len(range(0, 6000, 13)) - 1
