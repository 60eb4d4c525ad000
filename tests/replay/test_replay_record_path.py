"""`replay --record-path event`: records wrapped in one member (`{"event": {...}}`, `detail.record` for a deeper one),
in every input form the readers take (JSON lines, arrays, concatenated objects, S3 documents, CloudWatch Logs and
lookup-events exports, documents walked incrementally, byte ranges split among workers, S3 objects). Each form
replays to the report of the same records as a plain CloudTrail file; an object without the path is one malformed
record at its file and position; a path that is not one is a one-line error, exit 2.

The records are third-party events from tests/fixtures/cloudtrail/ (Stratus Red Team detonation logs and
TrailAlerts test events, Apache License 2.0; see NOTICE there); only the wrappers around them are built here.
"""

from __future__ import annotations

import gzip
import json

import boto3
import pytest

from replay_helpers import corpus_events, write_lines, write_s3
from s3_helpers import s3_endpoint, s3_env  # noqa: F401 (fixtures)
from test_replay_envelopes import DETECTIONS, eventbridge, lookup_event
from trailwatch.cli import main
from trailwatch.replay import Malformed, ReplayError, read_records, readers, replay_paths, tasks
from trailwatch.replay.sources import Sources

RECORDS = corpus_events("stratus_detonation_logs.jsonl") + corpus_events("trailalerts_sigma_tests.jsonl")
WRAPPED = [{"source": "siem-export", "event": r, "seq": i} for i, r in enumerate(RECORDS)]
BUCKET = "wrapped-exports"


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    path = write_lines(tmp_path_factory.mktemp("plain") / "records.jsonl", RECORDS)
    report = replay_paths([path], DETECTIONS, top=50)
    assert report.events == len(RECORDS) and report.malformed == 0
    assert all(det.matches for det in report.detections.values())  # equal reports say something
    return report


def same_report(paths, plain, record_path="event", **options) -> None:
    report = replay_paths(paths, DETECTIONS, top=50, record_path=record_path, **options)
    assert report.malformed_samples == []
    assert {k: v for k, v in report.to_dict().items() if k != "files"} == \
        {k: v for k, v in plain.to_dict().items() if k != "files"}


def test_wrapped_json_lines_plain_and_gzip(tmp_path, plain):
    path = write_lines(tmp_path / "wrapped.jsonl", WRAPPED)
    assert list(read_records([path], record_path="event")) == RECORDS
    same_report([path], plain)
    same_report([write_lines(tmp_path / "wrapped.jsonl.gz", WRAPPED, gz=True)], plain)


def test_wrapped_records_in_an_array_concatenated_and_in_an_s3_document(tmp_path, plain):
    array = tmp_path / "array.json"
    array.write_text(json.dumps(WRAPPED, indent=2))
    concatenated = tmp_path / "firehose-1"
    concatenated.write_bytes(gzip.compress(b"".join(json.dumps(w).encode() for w in WRAPPED)))
    document = write_s3(tmp_path / "s3" / "wrapped.json.gz", WRAPPED, gz=True)
    for path in (array, concatenated, document):
        same_report([path], plain)


def test_a_deeper_path_and_a_wrapped_eventbridge_event(tmp_path, plain):
    deeper = write_lines(tmp_path / "deeper.jsonl", [{"detail": {"record": r}} for r in RECORDS])
    same_report([deeper], plain, record_path="detail.record")
    # what a wrapper holds is read as any object is: an EventBridge event from CloudTrail is its detail
    bridged = write_lines(tmp_path / "bridged.jsonl", [{"event": eventbridge(r, i)} for i, r in enumerate(RECORDS)])
    same_report([bridged], plain)


def test_wrapped_records_inside_cloudwatch_logs_and_lookup_events_exports(tmp_path, plain):
    logs = tmp_path / "filter-log-events.json"
    logs.write_text(json.dumps({"events": [{"logStreamName": "s", "timestamp": 1714557600000 + i,
                                            "message": json.dumps(w)} for i, w in enumerate(WRAPPED)]}))
    same_report([logs], plain)
    lookup = tmp_path / "lookup.json"
    lookup.write_text(json.dumps({"Events": [{**lookup_event(r), "CloudTrailEvent": json.dumps(w)}
                                             for r, w in zip(RECORDS, WRAPPED)]}, indent=4))
    same_report([lookup], plain)


def test_a_large_document_is_walked_and_byte_ranges_split_among_workers(tmp_path, plain, monkeypatch):
    monkeypatch.setattr(readers, "WHOLE_DOCUMENT_LIMIT", 4096)  # the incremental walker, one record at a time
    walked = write_s3(tmp_path / "big.json", WRAPPED)
    assert list(read_records([walked], record_path="event")) == RECORDS
    same_report([walked], plain)
    monkeypatch.setattr(tasks, "MIN_TASK_BYTES", 64 << 10)
    big = write_lines(tmp_path / "logs" / "wrapped.jsonl", WRAPPED * 4)
    assert len(list(tasks.plan(Sources([big]), 64 << 10))) > 2  # the file really is cut into byte ranges
    one = replay_paths([big], DETECTIONS, top=50, record_path="event")
    assert one.events == 4 * len(RECORDS) and one.malformed == 0
    assert replay_paths([big], DETECTIONS, top=50, record_path="event", workers=2) == one


def test_wrapped_records_read_from_s3(s3_env, tmp_path, plain, monkeypatch):
    admin = boto3.client("s3")
    admin.create_bucket(Bucket=BUCKET)  # its own bucket: the shared one is listed whole by other tests
    half = len(WRAPPED) // 2
    key = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/"
    document = gzip.compress(json.dumps({"Records": WRAPPED[:half]}).encode())
    admin.put_object(Bucket=BUCKET, Key=key + "a.json.gz", Body=document)
    admin.put_object(Bucket=BUCKET, Key=key + "b.jsonl", Body="".join(json.dumps(w) + "\n" for w in WRAPPED[half:]))
    same_report([f"s3://{BUCKET}/"], plain)
    monkeypatch.setattr(tasks, "MIN_TASK_BYTES", 1)  # each object a task of its own, read in a worker process
    same_report([f"s3://{BUCKET}/"], plain, workers=2)


def test_an_object_without_the_path_is_malformed_at_its_position(tmp_path):
    rec = RECORDS[0]
    lines = write_lines(tmp_path / "mixed.jsonl", [{"event": rec}, rec, {"event": "text"}, {"other": 1, "event2": rec}])
    items = list(read_records([lines], record_path="event"))
    assert items[0] == rec and all(type(m) is Malformed for m in items[1:])
    assert [(m.where, m.reason) for m in items[1:]] == [
        (f"{lines}:2", "an object without 'event' (the record path; its keys: " + ", ".join(list(rec)[:5]) + ", ...)"),
        (f"{lines}:3", "'event' (the record path) is a string, not an object"),
        (f"{lines}:4", "an object without 'event' (the record path; its keys: other, event2)")]
    document = write_s3(tmp_path / "doc.json", [{"event": rec}, {"evnt": rec}, 5])
    assert [repr(m) for m in read_records([document], record_path="event")][1:] == [
        f"{document} Records[1]: an object without 'event' (the record path; its keys: evnt)",
        f"{document} Records[2]: a Records item is a number, not an object"]
    deeper = write_lines(tmp_path / "deeper.jsonl", [{"detail": {"record": rec}}, {"detail": {"rec": rec}}])
    assert [m.where for m in list(read_records([deeper], record_path="detail.record"))[1:]] == [f"{deeper}:2"]


@pytest.mark.parametrize("bad", ["", ".event", "event.", "event..record", "$.event", "event record", "event[0]"])
def test_a_path_that_is_not_one_is_refused(bad):
    with pytest.raises(ReplayError, match=r"^record path .*: expected member names .* separated by dots"):
        replay_paths(["-"], DETECTIONS, record_path=bad)


def test_the_cli_unwraps_and_refuses_a_bad_path_in_one_line(tmp_path, capsys, plain):
    path = write_lines(tmp_path / "wrapped.jsonl", WRAPPED)
    assert main(["replay", "--stack", "dev", "--format", "json", "--record-path", "event", str(path)]) == 0
    wrapped = json.loads(capsys.readouterr().out)
    plain_file = write_lines(tmp_path / "plain.jsonl", RECORDS)
    assert main(["replay", "--stack", "dev", "--format", "json", str(plain_file)]) == 0
    assert {k: v for k, v in wrapped.items() if k != "files"} == \
        {k: v for k, v in json.loads(capsys.readouterr().out).items() if k != "files"}
    assert main(["replay", "--stack", "dev", "--record-path", "event..x", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "record path 'event..x'" in err
    assert main(["replay", "--stack", "dev", "--record-path", "detail", str(path)]) == 1  # nothing usable: says why
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{path}:1: an object without 'detail'" in err
