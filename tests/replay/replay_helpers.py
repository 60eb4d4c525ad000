"""Shared helpers for the replay tests: fixture events and small synthetic CloudTrail records."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any, Iterable

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "cloudtrail"
CORPUS_FILES = ("panther_rule_tests.jsonl", "trailalerts_sigma_tests.jsonl", "stratus_detonation_logs.jsonl",
                "otrf_security_datasets.jsonl", "awsdocs_examples.jsonl")


def corpus_events(name: str) -> list[dict]:
    """The CloudTrail records of one corpus file (each row's "event")."""
    with open(FIXTURES / name, encoding="utf-8") as f:
        return [json.loads(line)["event"] for line in f]


def record(minute: str = "2024-05-01T10:00", second: int = 0, **fields: Any) -> dict:
    """A small CloudTrail-shaped record at ``minute`` (``YYYY-MM-DDTHH:MM``)."""
    rec = {
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice"},
        "eventTime": f"{minute}:{second:02d}Z",
        "eventSource": "ec2.amazonaws.com",
        "eventName": "DescribeInstances",
        "sourceIPAddress": "192.0.2.10",
        "eventType": "AwsApiCall",
    }
    rec.update(fields)
    return rec


def write_s3(path: Path, records: Iterable[Any], *, gz: bool = False, indent: int | None = None) -> Path:
    """A CloudTrail S3 object: ``{"Records": [...]}`` (CloudTrail writes it compact, without newline)."""
    data = json.dumps({"Records": list(records)}, indent=indent).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def write_lines(path: Path, lines: Iterable[Any], *, gz: bool = False) -> Path:
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    return path
