"""Records as users export them from AWS: `aws cloudtrail lookup-events` output (each CloudTrailEvent string is a
record) and EventBridge events from CloudTrail (the record is `detail`), in every reader path. Each form replays to
the report of the same records as a plain CloudTrail file; a wrong envelope is one malformed line naming the file
and the position.

The records are third-party events from tests/fixtures/cloudtrail/ (Stratus Red Team detonation logs and
TrailAlerts test events, Apache License 2.0; see NOTICE there); only the envelopes around them are built here.
"""

from __future__ import annotations

import gzip
import json

import boto3
import pytest

from replay_helpers import corpus_events, write_lines
from s3_helpers import s3_endpoint, s3_env  # noqa: F401 (fixtures)
from trailwatch.cli import main
from trailwatch.replay import Malformed, read_records, readers, replay_paths, tasks
from trailwatch.replay.sources import Sources

RECORDS = corpus_events("stratus_detonation_logs.jsonl") + corpus_events("trailalerts_sigma_tests.jsonl")
DETECTIONS = {
    "beat": '{ $.eventVersion = "*" }',
    "denied": '{ $.errorCode = "AccessDenied*" || $.errorCode = "*UnauthorizedOperation" }',
    "console": '{ $.eventName = "ConsoleLogin" }',
    "iam_writes": '{ ($.eventSource = "iam.amazonaws.com") && ($.eventName = "Create*") }',
}
EXPORTS = "envelope-exports"
DETAIL_TYPES = {"AwsApiCall": "AWS API Call via CloudTrail", "AwsConsoleSignIn": "AWS Console Sign In via CloudTrail"}


def eventbridge(rec: dict, i: int) -> dict:
    """The event EventBridge's default bus carries for a CloudTrail record (what SQS, archives and Firehose hold)."""
    return {"version": "0", "id": f"6f0a1c2e-0000-4000-8000-{i:012d}", "detail-type": DETAIL_TYPES[rec["eventType"]],
            "source": "aws." + rec["eventSource"].split(".")[0], "account": rec.get("recipientAccountId", ""),
            "time": rec["eventTime"], "region": rec.get("awsRegion", "us-east-1"), "resources": [], "detail": rec}


def lookup_event(rec: dict) -> dict:
    """One item of `aws cloudtrail lookup-events` output: a few fields pulled out, the record as a JSON string."""
    return {"EventId": rec.get("eventID", ""), "EventName": rec["eventName"], "ReadOnly": str(rec.get("readOnly", "false")).lower(),
            "EventTime": rec["eventTime"].replace("Z", "+00:00"), "EventSource": rec["eventSource"],
            "Username": rec["userIdentity"].get("userName", ""), "Resources": [],
            "CloudTrailEvent": json.dumps(rec, separators=(",", ":"))}


def lookup_output(records: list[dict]) -> bytes:
    """What the CLI prints (indented by 4, as `--output json` does)."""
    return json.dumps({"Events": [lookup_event(r) for r in records], "NextToken": "eyJ0b2tlbiI6IDF9"}, indent=4).encode()


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    path = write_lines(tmp_path_factory.mktemp("plain") / "records.jsonl", RECORDS)
    report = replay_paths([path], DETECTIONS, top=50)
    assert report.events == len(RECORDS) and report.malformed == 0
    return report


def same_report(paths, plain, **options) -> None:
    report = replay_paths(paths, DETECTIONS, top=50, **options)
    assert report.malformed_samples == []
    assert report.to_dict() == plain.to_dict()


def test_the_plain_report_has_matches_for_every_detection(plain):
    assert plain.events == len(RECORDS)
    matches = {ident: det.matches for ident, det in plain.detections.items()}
    assert all(matches.values()), matches  # each detection matches something, so equal reports say something


# -- lookup-events ---------------------------------------------------------------------------------------

def test_lookup_events_output_replays_like_the_plain_records(tmp_path, plain):
    path = tmp_path / "lookup.json"
    path.write_bytes(lookup_output(RECORDS))
    assert list(read_records([path])) == RECORDS
    same_report([path], plain)


def test_lookup_events_gzip_single_events_per_line_and_a_large_document(tmp_path, plain, monkeypatch):
    packed = tmp_path / "lookup.json.gz"
    packed.write_bytes(gzip.compress(lookup_output(RECORDS)))
    same_report([packed], plain)
    per_line = write_lines(tmp_path / "events.jsonl", [lookup_event(r) for r in RECORDS])  # jq -c '.Events[]'
    same_report([per_line], plain)
    monkeypatch.setattr(readers, "WHOLE_DOCUMENT_LIMIT", 4096)  # the incremental walker, one event at a time
    walked = tmp_path / "walked.json"
    walked.write_bytes(lookup_output(RECORDS))
    assert list(read_records([walked])) == RECORDS


# -- EventBridge -----------------------------------------------------------------------------------------

ENVELOPES = [eventbridge(r, i) for i, r in enumerate(RECORDS)]


def test_eventbridge_events_one_per_line_replay_like_the_plain_records(tmp_path, plain):
    path = write_lines(tmp_path / "eventbridge.jsonl", ENVELOPES)
    assert list(read_records([path])) == RECORDS
    same_report([path], plain)
    same_report([write_lines(tmp_path / "eventbridge.jsonl.gz", ENVELOPES, gz=True)], plain)


def test_eventbridge_events_in_an_array_and_concatenated_as_firehose_writes_them(tmp_path, plain, monkeypatch):
    array = tmp_path / "archive.json"
    array.write_text(json.dumps(ENVELOPES, indent=2))
    same_report([array], plain)
    firehose = tmp_path / "firehose-1-2024-05-01"
    firehose.write_bytes(gzip.compress(b"".join(json.dumps(e).encode() for e in ENVELOPES)))
    same_report([firehose], plain)
    monkeypatch.setattr(readers, "WHOLE_DOCUMENT_LIMIT", 4096)
    assert list(read_records([array])) == RECORDS
    assert list(read_records([firehose])) == RECORDS


def test_a_cloudwatch_logs_export_of_eventbridge_events(tmp_path, plain):
    """An EventBridge rule that targets a log group stores the whole event as the message."""
    doc = {"events": [{"logStreamName": "s", "timestamp": 1714557600000 + i, "message": json.dumps(e),
                       "ingestionTime": 1714557601000, "eventId": str(i)} for i, e in enumerate(ENVELOPES)]}
    path = tmp_path / "filter-log-events.json"
    path.write_text(json.dumps(doc))
    same_report([path], plain)


def test_envelopes_split_among_workers_give_the_one_worker_report(tmp_path, plain, monkeypatch):
    monkeypatch.setattr(tasks, "MIN_TASK_BYTES", 64 << 10)
    monkeypatch.setattr(readers, "WHOLE_DOCUMENT_LIMIT", 64 << 10)
    big = write_lines(tmp_path / "logs" / "eventbridge.jsonl", ENVELOPES * 4)
    units = list(tasks.plan(Sources([big]), 64 << 10))
    assert len(units) > 2  # the file really is cut into byte ranges
    one = replay_paths([big], DETECTIONS, top=50)
    assert one.events == 4 * len(RECORDS) and one.malformed == 0
    assert replay_paths([big], DETECTIONS, top=50, workers=2) == one


def test_envelopes_in_the_s3_layout_read_from_s3_and_from_a_local_copy(s3_env, tmp_path, plain):
    admin = boto3.client("s3")
    admin.create_bucket(Bucket=EXPORTS)  # its own bucket: the shared one is listed whole by other tests
    half = len(RECORDS) // 2
    objects = {
        "envelopes/AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/lookup.json.gz": gzip.compress(lookup_output(RECORDS[:half])),
        "envelopes/AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/02/eventbridge.json.gz": gzip.compress(
            "".join(json.dumps(e) + "\n" for e in ENVELOPES[half:]).encode()),
    }
    for key, body in objects.items():
        admin.put_object(Bucket=EXPORTS, Key=key, Body=body)
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_bytes(body)
    local = replay_paths([tmp_path / "envelopes"], DETECTIONS, top=50)
    remote = replay_paths([f"s3://{EXPORTS}/envelopes/"], DETECTIONS, top=50)
    assert local.to_dict() == remote.to_dict()
    assert {k: v for k, v in local.to_dict().items() if k != "files"} == \
        {k: v for k, v in plain.to_dict().items() if k != "files"}
    assert local.files == 2


# -- wrong envelopes: one line, file and position ------------------------------------------------------

def test_wrong_envelopes_are_malformed_at_their_file_and_position(tmp_path):
    rec = RECORDS[0]
    ec2_state = {"version": "0", "id": "x", "detail-type": "EC2 Instance State-change Notification",
                 "source": "aws.ec2", "detail": {"instance-id": "i-0123", "state": "running"}}
    lines = write_lines(tmp_path / "mixed.jsonl", [eventbridge(rec, 0), ec2_state, {**eventbridge(rec, 1), "detail": "x"}])
    items = list(read_records([lines]))
    assert items[0] == rec
    assert [(m.where, m.reason) for m in items[1:]] == [
        (f"{lines}:2", "an EventBridge event of detail-type 'EC2 Instance State-change Notification', not one from CloudTrail"),
        (f"{lines}:3", "an EventBridge event whose 'detail' is a string, not an object")]
    events = [lookup_event(rec), {"EventId": "e2"}, {**lookup_event(rec), "CloudTrailEvent": "{not json"},
              {**lookup_event(rec), "CloudTrailEvent": "[1]"}]
    lookup = tmp_path / "lookup.json"
    lookup.write_text(json.dumps({"Events": events}, indent=4))
    items = list(read_records([lookup]))
    assert items[0] == rec
    assert all(type(m) is Malformed for m in items[1:])
    assert [m.where for m in items[1:]] == [f"{lookup} Events[1]", f"{lookup} Events[2]", f"{lookup} Events[3]"]
    assert items[1].reason == "a lookup-events event without a 'CloudTrailEvent' string"
    assert items[2].reason.startswith("a lookup-events event whose 'CloudTrailEvent' is not JSON (")
    assert items[3].reason == "a lookup-events event whose 'CloudTrailEvent' holds an array"
    array = tmp_path / "array.json"
    array.write_text(json.dumps([eventbridge(rec, 0), 7, ec2_state]))
    assert [repr(i) for i in read_records([array])][1:] == [
        f"{array} [1]: an array item is a number, not an object",
        f"{array} [2]: an EventBridge event of detail-type 'EC2 Instance State-change Notification', not one from CloudTrail"]


def test_the_cli_names_a_wrong_envelope_in_one_line(tmp_path, capsys):
    ec2_state = {"version": "0", "id": "x", "detail-type": "EC2 Instance State-change Notification",
                 "source": "aws.ec2", "detail": {"instance-id": "i-0123"}}
    path = write_lines(tmp_path / "wrong.jsonl", [ec2_state])
    assert main(["replay", "--stack", "dev", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{path}:1: an EventBridge event of detail-type 'EC2 Instance State-change Notification'" in err
