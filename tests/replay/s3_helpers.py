"""A local S3 for the replay tests: moto's server on 127.0.0.1 (random port), reached by a real boto3 client
through the usual environment (``AWS_ENDPOINT_URL``, dummy credentials); nothing leaves the machine."""

from __future__ import annotations

import gzip
import json
import urllib.request
from pathlib import Path

import boto3
import pytest

from replay_helpers import record
from trailwatch.replay import s3

BUCKET = "trail-logs"
ORG = "o-abcdefghij"
ACCOUNTS = ("111111111111", "222222222222")
REGIONS = ("us-east-1", "eu-west-1")
DAYS = ("2024/04/30", "2024/05/01", "2024/05/02")


def trail_objects() -> dict[str, bytes]:
    """An organization trail under ``org/`` (2 accounts x 2 regions x 3 days, with digests and a stray
    file), and a single-account trail under ``std/``. Each log file's records are named after it."""
    objects = {}
    for account in ACCOUNTS:
        for region in REGIONS:
            for day in DAYS:
                folder = f"org/AWSLogs/{ORG}/{account}/CloudTrail/{region}/{day}"
                name = f"{account}/{region}/{day}"
                objects[f"{folder}/{account}_CloudTrail_{region}_{day.replace('/', '')}T0000Z_a.json.gz"] = gz(
                    [record(day.replace("/", "-") + "T10:00", i, eventName=name) for i in range(3)])
                objects[f"org/AWSLogs/{ORG}/{account}/CloudTrail-Digest/{region}/{day}/digest.json.gz"] = gzip.compress(
                    json.dumps({"awsAccountId": account, "digestStartTime": "2024-05-01T00:00:00Z"}).encode())
    objects["org/notes.md"] = b"not a log"
    objects["std/AWSLogs/333333333333/CloudTrail/us-east-1/2024/05/01/333333333333_CloudTrail_a.json.gz"] = gz(
        [record("2024-05-01T11:00", eventName="333333333333/us-east-1/2024/05/01", errorCode="AccessDenied")])
    return objects


def gz(records: list[dict]) -> bytes:
    return gzip.compress(json.dumps({"Records": records}).encode())


@pytest.fixture(scope="session")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    admin = boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
                         aws_secret_access_key="testing")
    admin.create_bucket(Bucket=BUCKET)
    for key, body in trail_objects().items():
        admin.put_object(Bucket=BUCKET, Key=key, Body=body)
    yield url
    server.stop()


@pytest.fixture
def s3_env(s3_endpoint, monkeypatch, tmp_path):
    """The environment a user would set for an S3-compatible endpoint; a fresh client per test."""
    for name, value in {"AWS_ENDPOINT_URL": s3_endpoint, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                        "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
                        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials")}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(s3, "_clients", {})
    return s3_endpoint


def moto_auth(endpoint: str, enforce: bool) -> None:
    """Turn moto's IAM enforcement on (every request from now on) or off."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=b"0" if enforce else b"inf",
                                     method="POST", headers={"Content-Type": "text/plain"})
    urllib.request.urlopen(request, timeout=10).close()


def write_tree(base: Path, objects: dict[str, bytes]) -> None:
    """The objects as local files at their keys (what `aws s3 sync` makes)."""
    for key, body in objects.items():
        (base / key).parent.mkdir(parents=True, exist_ok=True)
        (base / key).write_bytes(body)
