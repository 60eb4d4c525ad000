"""Hostile input to `replay` and `match`, each run in a child process under a memory limit (RLIMIT_AS) and a
time limit: a huge line without newline, a gzip bomb, deep nesting, binary data, a FIFO. Every case ends
with its exact message and exit code, never a traceback, a crash or a hang."""

from __future__ import annotations

import json
import os
import re
import threading
import zlib
from pathlib import Path

import pytest
from limits import run_limited

from replay_helpers import record

HUGE = (64 << 20) + (8 << 20)  # past the 64 MiB record cap


def good_line() -> bytes:
    return json.dumps(record(errorCode="AccessDenied")).encode()


def replay(path: Path) -> tuple[int, bytes, str]:
    done = run_limited(["replay", "--stack", "dev", "--format", "json", str(path)])
    return done.returncode, done.stdout, done.stderr.decode()


def test_line_without_newline_past_the_cap_is_skipped_to_the_next_line(tmp_path):
    path = tmp_path / "long.jsonl"
    with open(path, "wb") as f:
        f.write(b"x" * HUGE + b"\n" + good_line() + b"\n")
    code, out, err = replay(path)
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert (doc["events"], doc["malformed"]) == (1, 1)
    assert doc["malformed_samples"] == [f"{path}:1: line longer than 64 MiB, skipped"]


def test_value_past_the_cap_in_a_document_is_reported_at_its_position(tmp_path):
    path = tmp_path / "huge-string.json"
    with open(path, "wb") as f:
        f.write(b'{"Records": [{"a": "' + b"y" * HUGE + b'"}]}')
    code, out, err = replay(path)
    assert (code, out) == (1, b"")
    assert err == (f"error: nothing to replay: 1 file read, no usable record, 1 malformed; the first: {path}:1:14: "
                   f"JSON syntax error (a value longer than 64 MiB); rest of the file skipped\n")


def test_only_a_huge_line_is_nothing_usable(tmp_path):
    path = tmp_path / "only.log"
    path.write_bytes(b"{" * HUGE)
    code, out, err = replay(path)
    assert (code, out) == (1, b"")
    assert err.startswith("error: nothing to replay: 1 file read, no usable record, 1 malformed; the first: ")


def _bomb(path: Path, size: int, head: bytes = b"") -> None:
    pack = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip container
    with open(path, "wb") as f:
        f.write(pack.compress(head))
        block = b" " * (1 << 20)
        for _ in range(size >> 20):
            f.write(pack.compress(block))
        f.write(pack.flush())


def test_gzip_bomb_is_cut_off_as_malformed(tmp_path):
    path = tmp_path / "bomb.json.gz"
    _bomb(path, 1 << 30, head=good_line() + b"\n")  # 1 GiB of blanks from about 1 MB
    assert path.stat().st_size < 2 << 20
    code, out, err = replay(path)
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert (doc["events"], doc["malformed"]) == (1, 1)
    (sample,) = doc["malformed_samples"]
    assert re.fullmatch(re.escape(f"{path}: gzip data expands more than 100:1 (") + r"[\d,]+ bytes to [\d,]+ so far"
                        + re.escape("), a decompression bomb; rest of the file skipped"), sample), sample


def test_gzip_absolute_cap(tmp_path, monkeypatch):
    from trailwatch.replay import readers

    monkeypatch.setattr(readers, "MAX_DECOMPRESSED", 1 << 20)
    monkeypatch.setattr(readers, "WHOLE_DOCUMENT_LIMIT", 64 << 10)
    monkeypatch.setattr(readers, "CHUNK", 64 << 10)
    path = tmp_path / "big.jsonl.gz"
    path.write_bytes(_gzip_lines(10_000))
    items = list(readers.RecordReader([path]))
    assert len([i for i in items if isinstance(i, dict)]) > 1000
    assert [repr(i) for i in items if isinstance(i, readers.Malformed)] == [
        f"{path}: gzip data expands past 1 MiB; rest of the file skipped"]


def _gzip_lines(n: int) -> bytes:
    import gzip

    return gzip.compress(b"".join(json.dumps(record(second=i % 60, eventID=f"id-{i}")).encode() + b"\n"
                                  for i in range(n)))


@pytest.mark.parametrize("data", [b"[" * 5_000_000, b'{"a":' * 2_000_000], ids=["arrays", "objects"])
def test_deep_nesting_is_malformed(tmp_path, data):
    path = tmp_path / "deep.json"
    path.write_bytes(data + b"\n" + good_line() + b"\n")
    code, out, err = replay(path)
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert (doc["events"], doc["malformed"]) == (1, 1)
    assert doc["malformed_samples"][0].startswith(f"{path}:1")


def test_binary_input_is_not_utf8_not_utf16(tmp_path):
    path = tmp_path / "random.json"
    path.write_bytes(b"\x00\x01\xfe\xff\x00\x00\x9c" * 50 + b"\n" + b"\xff\xfe{\x00}\x00\n")
    code, out, err = replay(path)
    assert (code, out) == (1, b"")
    assert err == (f"error: nothing to replay: 1 file read, no usable record, 2 malformed; the first: {path}:1: "
                   f"not JSON (not UTF-8 text (byte 2: b'\\xfe'))\n")
    assert "UTF-16" not in err and "UTF-32" not in err


@pytest.mark.parametrize("command", ["match", "replay"])
def test_fifo_is_read_like_a_file(tmp_path, command):
    fifo = tmp_path / "events.jsonl"
    os.mkfifo(fifo)
    payload = good_line() + b"\n" + b"not json\n"

    def feed() -> None:
        with open(fifo, "wb") as f:
            f.write(payload)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    args = ["match", "--pattern", "AccessDenied", str(fifo)] if command == "match" else [
        "replay", "--stack", "dev", "--format", "json", str(fifo)]
    done = run_limited(args)
    writer.join(timeout=5)
    assert done.stderr == b""
    if command == "match":
        assert (done.returncode, done.stdout) == (0, b"1\n0\n")
    else:
        doc = json.loads(done.stdout)
        assert (done.returncode, doc["events"], doc["malformed"]) == (0, 1, 1)


def test_match_huge_line_stops_with_one_line(tmp_path):
    path = tmp_path / "long.log"
    with open(path, "wb") as f:
        f.write(b"ok ERROR\n" + b"z" * HUGE + b"\nlater ERROR\n")
    done = run_limited(["match", "--pattern", "ERROR", str(path)])
    assert (done.returncode, done.stdout, done.stderr.decode()) == (
        2, b"1\n", f"error: {path}:2: line longer than 64 MiB, skipped (not an event; match stops here)\n")


def test_custom_detection_with_a_backtracking_regex_cannot_hang_replay(tmp_path):
    (tmp_path / "Pulumi.rx.yaml").write_text(
        "config:\n  aws:region: us-east-1\n  trailwatch:customDetections:\n"
        "    - {id: semicolons, title: t, severity: high, metric: Semicolons, description: d, runbook: r,\n"
        "       pattern: '{ $.userAgent = %.*.*.*.*;% }'}\n")
    path = tmp_path / "events.jsonl"
    slow = record(userAgent="a" * 300_000)
    hit = record(second=1, userAgent="aws-cli;")
    path.write_text(json.dumps(slow) + "\n" + json.dumps(hit) + "\n")
    done = run_limited(["replay", "--stack", "rx", "--config-dir", str(tmp_path), "--detection", "semicolons",
                        "--format", "json", str(path)])
    assert (done.returncode, done.stderr) == (0, b"")
    doc = json.loads(done.stdout)
    assert (doc["events"], doc["detections"]["semicolons"]["matches"]) == (2, 1)
