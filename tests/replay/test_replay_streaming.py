"""Replay streams: memory stays flat however many records go through (tracemalloc), for a generator
input and for a large S3 document walked from disk."""

from __future__ import annotations

import gc
import gzip
import json
import tracemalloc

from replay_helpers import record
from trailwatch.catalog import load_catalog
from trailwatch.replay import readers, replay_paths, replay_records

DETECTIONS = [d for d in load_catalog() if d.pattern]


def generate(n: int):
    """n records over 10 minutes, some matching CIS filters; nothing is kept."""
    for i in range(n):
        minute = f"2024-05-01T10:0{i % 10}"
        if i % 50 == 0:
            yield record(minute, i % 60, errorCode="AccessDenied", eventName="GetObject", sourceIPAddress=f"10.0.0.{i % 7}")
        elif i % 97 == 0:
            yield record(minute, i % 60, eventName="AuthorizeSecurityGroupIngress")
        else:
            yield record(minute, i % 60, eventID=f"{i:032x}")


def peak_bytes(run) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_generator_input_is_consumed_lazily_in_flat_memory():
    replay_records(generate(100), DETECTIONS)  # warm up: compiled patterns are cached
    small = peak_bytes(lambda: replay_records(generate(1_000), DETECTIONS))
    large = peak_bytes(lambda: replay_records(generate(10_000), DETECTIONS))
    held = peak_bytes(lambda: list(generate(10_000)))  # what holding the records would cost
    assert large < small + 100_000, (small, large)
    assert large < held / 20, (large, held)


def test_generator_is_not_read_ahead():
    seen = []

    def source():
        for i, rec in enumerate(generate(10)):
            seen.append(i)
            yield rec

    report = replay_records(source(), DETECTIONS)
    assert seen == list(range(10)) and report.events == 10


def test_large_s3_document_is_streamed_from_disk(tmp_path, monkeypatch):
    """A single 8 000-record S3 object (past a lowered WHOLE_DOCUMENT_LIMIT) is walked record by record."""
    monkeypatch.setattr(readers, "WHOLE_DOCUMENT_LIMIT", 64 * 1024)
    monkeypatch.setattr(readers, "CHUNK", 64 * 1024)

    sizes = {}

    def write(n):
        path = tmp_path / f"big-{n}.json.gz"
        with gzip.open(path, "wt") as f:
            f.write('{"Records": [')
            for i, rec in enumerate(generate(n)):
                sizes[n] = sizes.get(n, 0) + f.write(("," if i else "") + json.dumps(rec))
            f.write("]}")
        return path

    small_path, large_path = write(500), write(8_000)
    replay_records(generate(100), DETECTIONS)  # warm up: compiled patterns are cached
    reports = []
    small = peak_bytes(lambda: reports.append(replay_paths([small_path], DETECTIONS)))
    large = peak_bytes(lambda: reports.append(replay_paths([large_path], DETECTIONS)))
    assert [r.events for r in reports] == [500, 8_000]
    assert reports[1].detections["access_denied"].matches == 160
    assert large < small + 100_000, (small, large)
    assert large < sizes[8_000] / 4  # far less than the document
