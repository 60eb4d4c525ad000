"""Every input format replay accepts, and how malformed input is counted instead of failing."""

from __future__ import annotations

import gzip
import io
import json
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from replay_helpers import corpus_events, record, write_lines, write_s3
from trailwatch.replay import Malformed, ReplayError, read_records, replay_paths
from trailwatch.replay import readers

HEARTBEAT = {"beat": '{ $.eventVersion = "*" }'}


def records_of(*paths) -> list:
    return list(read_records(paths))


def good(items) -> list[dict]:
    return [r for r in items if type(r) is dict]


def bad(items) -> list[Malformed]:
    return [r for r in items if type(r) is Malformed]


RECS = [record(eventName=f"Op{i}", eventID=f"id-{i}") for i in range(5)]


# -- S3 delivery format ---------------------------------------------------------------------------

def test_s3_object_plain_and_gzip(tmp_path):
    plain = write_s3(tmp_path / "a.json", RECS)
    packed = write_s3(tmp_path / "b.json.gz", RECS, gz=True)
    assert records_of(plain) == RECS
    assert records_of(packed) == RECS


def test_gzip_is_recognised_by_content_not_name(tmp_path):
    path = tmp_path / "downloaded-without-suffix"
    path.write_bytes(gzip.compress(json.dumps({"Records": RECS}).encode()))
    assert records_of(path) == RECS


def test_s3_pretty_printed_and_concatenated_documents(tmp_path):
    pretty = write_s3(tmp_path / "pretty.json", RECS, indent=4)
    assert records_of(pretty) == RECS
    # `cat a.json b.json > all.json`: CloudTrail objects have no trailing newline, so documents touch
    both = tmp_path / "both.json"
    both.write_bytes(json.dumps({"Records": RECS[:2]}).encode() + json.dumps({"Records": RECS[2:]}).encode())
    assert records_of(both) == RECS
    # one S3 document per line (e.g. `zcat *.json.gz | jq -c .`) goes through the line reader
    per_line = write_lines(tmp_path / "docs.jsonl", [{"Records": RECS[:3]}, {"Records": RECS[3:]}])
    assert records_of(per_line) == RECS


def test_empty_records_and_empty_files(tmp_path):
    write_s3(tmp_path / "none.json", [])
    (tmp_path / "empty.json").write_bytes(b"")
    (tmp_path / "blank.jsonl").write_bytes(b"\n  \n")
    assert records_of(tmp_path) == []


def test_large_document_is_walked_incrementally_with_the_same_result(tmp_path, monkeypatch):
    """Past WHOLE_DOCUMENT_LIMIT a document is never parsed whole; small blocks force records to
    straddle block boundaries."""
    recs = [record(second=i % 60, eventName=f"Op{i}", requestParameters={"k": "é" * (i % 7), "n": i})
            for i in range(300)]
    doc = {"nextToken": "x" * 50, "Records": recs, "trailer": [1, 2, {"a": None}]}
    path = tmp_path / "big.json"
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setattr(readers, "WHOLE_DOCUMENT_LIMIT", 1000)
    monkeypatch.setattr(readers, "CHUNK", 97)
    assert records_of(path) == recs


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chunk=st.integers(1, 300), indent=st.sampled_from([None, 0, 2]), count=st.integers(0, 12),
       text=st.text(max_size=20))
def test_walker_matches_whole_parse_for_any_block_size(tmp_path, monkeypatch, chunk, indent, count, text):
    recs = [record(eventName=f"E{i}", requestParameters={"t": text, "n": i * 1.5, "big": 10**30}) for i in range(count)]
    data = json.dumps({"Records": recs}, indent=indent, ensure_ascii=False).encode()
    monkeypatch.setattr(readers, "WHOLE_DOCUMENT_LIMIT", 0)
    monkeypatch.setattr(readers, "CHUNK", chunk)
    stream = CountingReads(data)
    got = list(readers.read_stream(stream, "mem"))
    assert got == recs
    assert stream.reads >= len(data) // (chunk + len(data) // 2 + 3)  # really read in blocks


class CountingReads(io.BytesIO):
    reads = 0

    def read(self, size=-1):
        self.reads += 1
        assert size is not None and size >= 0, "the walker must never read the whole stream at once"
        return super().read(size)


# -- JSON lines -----------------------------------------------------------------------------------

def test_json_lines_plain_gzip_crlf_and_blank_lines(tmp_path):
    plain = write_lines(tmp_path / "a.jsonl", RECS)
    packed = write_lines(tmp_path / "a.jsonl.gz", RECS, gz=True)
    crlf = tmp_path / "crlf.jsonl"
    crlf.write_bytes(b"\r\n".join(json.dumps(r).encode() for r in RECS) + b"\r\n\r\n")
    assert records_of(plain) == records_of(packed) == records_of(crlf) == RECS


def test_json_lines_across_block_boundaries(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "CHUNK", 7)
    monkeypatch.setattr(readers, "WHOLE_DOCUMENT_LIMIT", 10)
    path = write_lines(tmp_path / "a.jsonl", RECS)
    assert records_of(path) == RECS


def test_json_array_of_records(tmp_path):
    path = tmp_path / "array.json"
    path.write_text(json.dumps(RECS, indent=2))
    assert records_of(path) == RECS


def test_stdin(monkeypatch):
    data = "".join(json.dumps(r) + "\n" for r in RECS).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert records_of("-") == RECS


# -- CloudWatch Logs exports ----------------------------------------------------------------------

def cwl_events(recs):
    return [{"logStreamName": "123456789012_CloudTrail_us-east-1", "timestamp": 1714557600000 + i,
             "message": json.dumps(r), "ingestionTime": 1714557601000 + i, "eventId": str(i)}
            for i, r in enumerate(recs)]


def test_cloudwatch_logs_filter_log_events_json(tmp_path):
    """`aws logs filter-log-events --log-group-name ... > out.json` (the CLI pretty-prints)."""
    doc = {"events": cwl_events(RECS), "searchedLogStreams": [], "nextToken": "abc"}
    path = tmp_path / "filter-log-events.json"
    path.write_text(json.dumps(doc, indent=4))
    assert records_of(path) == RECS
    # and get-log-events, whose events come without logStreamName/eventId
    doc = {"events": [{"timestamp": 1, "message": json.dumps(r), "ingestionTime": 2} for r in RECS],
           "nextForwardToken": "f/1", "nextBackwardToken": "b/1"}
    path.write_text(json.dumps(doc))
    assert records_of(path) == RECS


def test_cloudwatch_logs_filter_log_events_walked_incrementally(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "WHOLE_DOCUMENT_LIMIT", 100)
    monkeypatch.setattr(readers, "CHUNK", 64)
    path = tmp_path / "out.json"
    path.write_text(json.dumps({"events": cwl_events(RECS), "searchedLogStreams": [{"logStreamName": "s"}]}, indent=2))
    assert records_of(path) == RECS


def test_cloudwatch_logs_events_as_json_lines(tmp_path):
    """`aws logs filter-log-events ... | jq -c '.events[]'`."""
    path = write_lines(tmp_path / "events.jsonl", cwl_events(RECS))
    assert records_of(path) == RECS


def test_cloudwatch_logs_export_task_files(tmp_path):
    """`aws logs create-export-task` writes <task>/<stream>/000000.gz: '<ISO timestamp> <message>' lines."""
    lines = [f"2024-05-01T10:00:0{i}.000Z {json.dumps(r)}" for i, r in enumerate(RECS)]
    task = tmp_path / "exportedlogs" / "0f3e-task" / "123456789012_CloudTrail_us-east-1"
    write_lines(task / "000000.gz", lines[:3], gz=True)
    write_lines(task / "000001.gz", lines[3:], gz=True)
    assert records_of(tmp_path / "exportedlogs") == RECS


# -- folders --------------------------------------------------------------------------------------

def test_folder_recursion_order_and_skips(tmp_path):
    base = tmp_path / "AWSLogs" / "123456789012"
    trail = base / "CloudTrail" / "us-east-1" / "2024" / "05" / "01"
    write_s3(trail / "123456789012_CloudTrail_us-east-1_20240501T1000Z_b.json.gz", RECS[2:], gz=True)
    write_s3(trail / "123456789012_CloudTrail_us-east-1_20240501T1000Z_a.json.gz", RECS[:2], gz=True)
    digest = base / "CloudTrail-Digest" / "us-east-1" / "2024" / "05" / "01" / "digest.json.gz"
    digest.parent.mkdir(parents=True)
    digest.write_bytes(gzip.compress(b'{"awsAccountId": "123456789012", "digestStartTime": "x"}'))
    (trail / ".hidden.json").write_text(json.dumps({"Records": [record()]}))
    (trail / "README.md").write_text("not a log")
    assert records_of(tmp_path) == RECS  # sorted by name: _a before _b; digest, hidden and .md skipped


def test_a_named_file_is_read_whatever_its_name(tmp_path):
    path = write_lines(tmp_path / "trail.md", RECS[:1])
    assert records_of(path) == RECS[:1]


def test_missing_path_is_an_error(tmp_path):
    with pytest.raises(ReplayError, match="no such file or folder"):
        records_of(tmp_path / "nope")


# -- malformed input ------------------------------------------------------------------------------

def test_malformed_lines_are_counted_and_reading_goes_on(tmp_path):
    lines = [json.dumps(RECS[0]), "this is not json", "42", "[1, 2]", json.dumps(RECS[1]),
             '{"eventVersion": "1.08", "eventTime": ', json.dumps(RECS[2]), "NaN",
             json.dumps({"events": [{"timestamp": 1, "message": "not json"}, {"timestamp": 2}]}),
             json.dumps({"Records": [RECS[3], "oops"]}), json.dumps(RECS[4])]
    path = write_lines(tmp_path / "mixed.jsonl", lines)
    items = records_of(path)
    assert good(items) == RECS
    reasons = [m.reason for m in bad(items)]
    assert len(reasons) == 9
    assert any("not JSON" in r for r in reasons)
    assert any("a number" in r for r in reasons)
    assert all(m.where.startswith(str(path) + ":") for m in bad(items))
    report = replay_paths([path], HEARTBEAT)
    assert (report.events, report.malformed) == (5, 9)
    assert len(report.malformed_samples) == 9 and str(path) in report.malformed_samples[0]


def test_records_without_usable_time_are_malformed_unless_they_carry_timestamp(tmp_path):
    no_time = {k: v for k, v in record().items() if k != "eventTime"}
    logstash = dict(no_time, **{"@timestamp": "2020-09-14T00:44:23.000Z"})  # as OTRF's events
    recs = [record(), no_time, logstash, record(eventTime="redacted"), record(eventTime=12345),
            record(eventTime="2024-06-02 19:41:40.000000000"), record(eventTime="2024-05-01T12:30:00+02:00")]
    path = write_s3(tmp_path / "t.json", recs)
    report = replay_paths([path], HEARTBEAT)
    assert (report.events, report.malformed) == (4, 3)
    minutes = [m.strftime("%Y-%m-%dT%H:%M") for m in report.event_minutes]
    # naive times are UTC; offsets are converted to UTC
    assert minutes == ["2020-09-14T00:44", "2024-05-01T10:00", "2024-05-01T10:30", "2024-06-02T19:41"]
    assert [s.split(": ", 1)[1] for s in report.malformed_samples] == [
        "no usable eventTime", "no usable eventTime ('redacted')", "no usable eventTime ('12345')"]
    assert report.malformed_samples[0].startswith(f"{path} record #2")


def test_broken_documents_and_files_count_as_malformed_not_fatal(tmp_path):
    write_s3(tmp_path / "1-good.json", RECS[:2])
    (tmp_path / "2-syntax.json").write_text('{"Records": [' + json.dumps(RECS[2]) + ', {"eventVersion": }]}\n\n\n')
    truncated = gzip.compress(json.dumps({"Records": RECS}).encode())[:-30]
    (tmp_path / "3-truncated.json.gz").write_bytes(truncated)
    (tmp_path / "4-garbage.gz").write_bytes(b"\x1f\x8b" + b"garbage" * 10)
    write_lines(tmp_path / "5-good.jsonl", RECS[3:])
    report = replay_paths([tmp_path], HEARTBEAT)
    # 2-syntax yields its first record, then one malformed for the rest; 3 and 4 are one malformed each
    assert (report.events, report.malformed) == (5, 3)
    assert report.detections["beat"].matches == report.events
    assert any("syntax error" in s for s in report.malformed_samples)
    assert any("unreadable" in s for s in report.malformed_samples)


def test_corpus_files_read_as_json_lines(tmp_path):
    events = corpus_events("stratus_detonation_logs.jsonl")
    path = write_lines(tmp_path / "stratus.jsonl", events)
    assert records_of(path) == events


def test_a_record_the_engine_cannot_evaluate_is_malformed_not_fatal(monkeypatch):
    from trailwatch.replay import replay_records

    calls = []

    def flaky(self, rec):
        calls.append(rec["eventName"])
        if rec["eventName"] == "Boom":
            raise RuntimeError("engine bug")
        return ["beat"]

    monkeypatch.setattr("trailwatch.filterpattern.PatternSet.matching", flaky)
    recs = [record(eventName="A"), record("2024-05-01T10:07", eventName="Boom"), record(eventName="B")]
    report = replay_records(recs, HEARTBEAT)
    assert calls == ["A", "Boom", "B"]
    assert (report.events, report.malformed, report.detections["beat"].matches) == (2, 1, 2)
    assert "could not be evaluated (RuntimeError: engine bug)" in report.malformed_samples[0]
    assert [(m.minute, n) for m, n in report.event_minutes.items()] == [(0, 2)]  # no empty 10:07 left behind
