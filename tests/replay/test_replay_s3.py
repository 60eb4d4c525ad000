"""`replay s3://bucket/prefix`: CloudTrail's key layout (organization trails included), account/region/day
filters that list only the prefixes they need, digests skipped, objects streamed by a real boto3 client from
a local S3 (moto's server on 127.0.0.1), and one-line errors."""

from __future__ import annotations

import json
from datetime import date

import boto3
import pytest

from s3_helpers import (ACCOUNTS, BUCKET, DAYS, ORG, REGIONS, moto_auth, s3_endpoint, s3_env,  # noqa: F401 (fixtures)
                        trail_objects, write_tree)
from replay_helpers import record
from trailwatch.cli import main
from trailwatch.replay import Malformed, RecordReader, replay_paths, s3, tasks
from trailwatch.replay.s3 import KeyFilter, S3Object

HEARTBEAT = {"beat": '{ $.eventVersion = "*" }'}
ALL_FILES = len(ACCOUNTS) * len(REGIONS) * len(DAYS)


def names(report) -> dict[str, int]:
    """Records per log file: each file's records carry its account/region/day as their eventName."""
    return dict(report.detections["beat"].top_event_names)


def listed_prefixes() -> list[str]:
    """Record the Prefix of every ListObjectsV2 call the replay's client makes from now on."""
    seen: list[str] = []
    s3.client().meta.events.register("provide-client-params.s3.ListObjectsV2",
                                     lambda params, **_: seen.append(params["Prefix"]))
    return seen


def test_a_whole_organization_trail_reads_like_its_local_copy(s3_env, tmp_path):
    report = replay_paths([f"s3://{BUCKET}/org/"], HEARTBEAT, top=100)
    assert (report.files, report.events, report.malformed) == (ALL_FILES, 3 * ALL_FILES, 0)  # no digest, no notes.md
    assert names(report) == {f"{a}/{r}/{d}": 3 for a in ACCOUNTS for r in REGIONS for d in DAYS}
    write_tree(tmp_path, trail_objects())
    assert report.to_dict() == replay_paths([tmp_path / "org"], HEARTBEAT, top=100).to_dict()


def test_filters_list_only_the_prefixes_of_the_wanted_account_region_and_days(s3_env):
    seen = listed_prefixes()
    wanted = KeyFilter(frozenset({ACCOUNTS[1]}), frozenset({"eu-west-1"}), date(2024, 5, 1), date(2024, 5, 2))
    report = replay_paths([f"s3://{BUCKET}/org"], HEARTBEAT, top=100, key_filter=wanted)
    assert names(report) == {f"{ACCOUNTS[1]}/eu-west-1/2024/05/01": 3, f"{ACCOUNTS[1]}/eu-west-1/2024/05/02": 3}
    region = f"org/AWSLogs/{ORG}/{ACCOUNTS[1]}/CloudTrail/eu-west-1/"
    walked = [p for p in seen if p.startswith("org/AWSLogs/")]
    assert all(p.startswith(region) or region.startswith(p) for p in walked), walked  # nothing of other accounts
    assert {p for p in walked if len(p) > len(region) + 8} == {region + "2024/05/01/", region + "2024/05/02/"}
    assert not any("Digest" in p for p in seen)


def test_a_single_account_trail_a_date_filter_and_an_object_url(s3_env):
    since = KeyFilter(since=date(2024, 5, 2))
    assert set(names(replay_paths([f"s3://{BUCKET}/"], HEARTBEAT, top=100, key_filter=since))) == {
        f"{a}/{r}/2024/05/02" for a in ACCOUNTS for r in REGIONS}
    key = next(k for k in trail_objects() if k.startswith("std/"))
    report = replay_paths([f"s3://{BUCKET}/{key}"], {"denied": '{ $.errorCode = "AccessDenied" }'})
    assert (report.files, report.detections["denied"].matches) == (1, 1)


def test_two_worker_processes_read_the_objects_with_the_same_result(s3_env, monkeypatch):
    monkeypatch.setattr(tasks, "MAX_SOURCES_PER_TASK", 3)  # 12 objects: 4 tasks
    url = [f"s3://{BUCKET}/org/", f"s3://{BUCKET}/std"]
    assert replay_paths(url, HEARTBEAT, top=100, workers=2) == replay_paths(url, HEARTBEAT, top=100)


def test_the_cli_with_filters_and_the_s3_specific_endpoint_variable(s3_env, monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_env)
    (tmp_path / "Pulumi.s3.yaml").write_text("config:\n  aws:region: us-east-1\n")
    rc = main(["replay", "--stack", "s3", "--config-dir", str(tmp_path), "--format", "json", "--include-disabled",
               "--account", ACCOUNTS[0], "--region", "us-east-1", "--until", "2024-04-30", f"s3://{BUCKET}/org/"])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["events"] == 3 and doc["detections"]["cloudtrail_heartbeat"]["top_event_names"] == [
        [f"{ACCOUNTS[0]}/us-east-1/2024/04/30", 3]]


def test_an_object_that_cannot_be_fetched_is_malformed_not_fatal(s3_env):
    items = list(RecordReader(sources=[S3Object(BUCKET, "org/gone.json.gz", 10)], total_bytes=10))
    assert [type(i) for i in items] == [Malformed]
    assert items[0].where == f"s3://{BUCKET}/org/gone.json.gz" and "cannot open (NoSuchKey" in items[0].reason


def cli(tmp_path, *args: str) -> int:
    (tmp_path / "Pulumi.s3.yaml").write_text("config:\n  aws:region: us-east-1\n")
    return main(["replay", "--stack", "s3", "--config-dir", str(tmp_path), *args])


@pytest.mark.parametrize("url, code, message", [
    ("s3://no-such-bucket/x/", 2, "s3://no-such-bucket/x/: no such bucket"),
    ("s3://", 2, "s3://: not an S3 URL (s3://BUCKET or s3://BUCKET/PREFIX"),
    ("s3://a b/c", 2, "not an S3 URL"),
    (f"s3://{BUCKET}/nothing-here/", 1, f"nothing to replay: no CloudTrail files under s3://{BUCKET}/nothing-here/"),
])
def test_bad_urls_and_empty_prefixes_are_one_line(s3_env, tmp_path, capsys, url, code, message):
    assert cli(tmp_path, url) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err


@pytest.mark.parametrize("args, message", [
    (["--account", "1234"], "--account 1234: not an AWS account id (12 digits)"),
    (["--region", "moon"], "--region moon: not an AWS region name"),
    (["--since", "2024-5-1"], "--since 2024-5-1: not a day (YYYY-MM-DD)"),
    (["--since", "2024-05-02", "--until", "2024-05-01"], "--since 2024-05-02 is after --until 2024-05-01"),
])
def test_bad_filters_are_one_line_exit_2(s3_env, tmp_path, capsys, args, message):
    assert cli(tmp_path, *args, f"s3://{BUCKET}/org/") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err


def test_no_credentials_is_one_line_exit_2(s3_env, monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert cli(tmp_path, f"s3://{BUCKET}/org/") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"s3://{BUCKET}/org/: no AWS credentials found" in err, err


def test_access_denied_is_one_line_exit_2(s3_env, monkeypatch, tmp_path, capsys):
    """A real IAM user without any policy, with moto enforcing IAM: ListObjectsV2 is denied."""
    iam = boto3.client("iam")
    iam.create_user(UserName="replay-reader")
    key = iam.create_access_key(UserName="replay-reader")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    moto_auth(s3_env, enforce=True)
    try:
        assert cli(tmp_path, f"s3://{BUCKET}/org/") == 2
    finally:
        moto_auth(s3_env, enforce=False)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"s3://{BUCKET}/org/: access denied listing objects (AccessDenied" in err, err
