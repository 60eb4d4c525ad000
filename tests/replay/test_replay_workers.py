"""`replay --workers N`: work units (files, byte ranges of a big JSON-lines file), results identical to one
worker, malformed-record locations exact in every byte range, and a coherent progress bar."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from replay_helpers import record, write_lines, write_s3
from trailwatch.cli import main
from trailwatch.replay import engine, pool, readers, replay_paths, tasks
from trailwatch.replay.sources import Sources

DETECTIONS = {
    "denied": '{ $.errorCode = "AccessDenied*" }',
    "put": '{ $.eventName = "Put*" }',
    "beat": '{ $.eventVersion = "*" }',
}
LINES = 4000
BAD_LINES = {700, 1900, 3100, 3999}  # not JSON
BAD_TIMES = {5, 1500, 2600, 3800}  # a record whose eventTime is unusable


def big_lines() -> list[str]:
    """JSON lines with a blank line, a CRLF line, and malformed lines spread over the whole file."""
    out = []
    for i in range(1, LINES + 1):
        if i in BAD_LINES:
            out.append(f"broken line {i}")
        elif i == 42:
            out.append("")
        else:
            rec = record(f"2024-05-01T1{i % 10}:0{i % 7}", i % 60, eventID=f"id-{i}",
                         eventName="PutObject" if i % 3 else "GetObject",
                         errorCode="AccessDenied" if i % 11 == 0 else None,
                         userIdentity={"arn": f"arn:aws:iam::111122223333:user/u{i % 9}"})
            if i in BAD_TIMES:
                rec["eventTime"] = "redacted"
            out.append(json.dumps(rec) + ("\r" if i == 99 else ""))
    return out


@pytest.fixture
def small_units(monkeypatch):
    """Tasks and the whole-document limit at 64 KiB, so a 1.5 MB file is cut in about 16 ranges."""
    monkeypatch.setattr(tasks, "MIN_TASK_BYTES", 64 << 10)
    monkeypatch.setattr(readers, "WHOLE_DOCUMENT_LIMIT", 64 << 10)


@pytest.fixture
def logs(tmp_path) -> Path:
    write_lines(tmp_path / "logs" / "a-big.jsonl", big_lines())
    write_s3(tmp_path / "logs" / "b" / "object.json.gz", [record(eventName=f"Put{i}") for i in range(50)], gz=True)
    write_s3(tmp_path / "logs" / "c.json", [record(errorCode="AccessDenied"), record(eventTime="bad")], indent=2)
    return tmp_path / "logs"


def test_a_big_json_lines_file_is_cut_at_newlines_into_ranges_that_tile_it(logs, small_units):
    big = logs / "a-big.jsonl"
    data = big.read_bytes()
    planned = list(tasks.plan(Sources([logs]), tasks.task_bytes(Sources([logs]).total_bytes, 2)))
    ranges = [t.sources[0] for t in planned if isinstance(t.sources[0], tasks.RangeSource)]
    assert len(ranges) >= 10
    assert [(r.start, r.end) for r in ranges] == list(zip([0] + [r.end for r in ranges[:-1]], [r.end for r in ranges]))
    assert ranges[-1].end == len(data)
    assert all(data[r.start - 1:r.start] == b"\n" for r in ranges[1:])
    assert [t.order for t in planned] == list(range(len(planned)))
    # the gzip object and the pretty-printed document are whole units, batched in the last task
    assert [s.where for s in planned[-1].sources] == [str(logs / "b" / "object.json.gz"), str(logs / "c.json")]


def test_gzip_files_and_documents_are_never_split(tmp_path, small_units):
    recs = [record(eventID=f"{i:040d}") for i in range(2000)]
    sources = Sources([write_s3(tmp_path / "big.json.gz", recs, gz=True), write_s3(tmp_path / "big.json", recs),
                       write_lines(tmp_path / "lines.jsonl.gz", recs, gz=True)])
    planned = list(tasks.plan(sources, 1 << 10))
    assert [len(t.sources) for t in planned] == [1, 1, 1]  # each far past the task size, none cut
    assert not any(isinstance(t.sources[0], tasks.RangeSource) for t in planned)


def test_two_workers_give_the_one_worker_report_with_exact_locations(logs, small_units, monkeypatch):
    calls = []
    original = pool.replay
    monkeypatch.setattr(pool, "replay", lambda *a, **k: calls.append(a[2]) or original(*a, **k))
    one = replay_paths([logs], DETECTIONS, top=20)
    two = replay_paths([logs], DETECTIONS, top=20, workers=2)
    assert calls == [2]  # the second run went through the process pool
    assert two == one
    assert (one.events, one.files) == (LINES - 1 - len(BAD_LINES) - len(BAD_TIMES) + 51, 3)
    big = logs / "a-big.jsonl"
    # items (records and markers) before line i: one per non-blank line
    record_no = {i: i - (i > 42) for i in BAD_TIMES}
    expected = sorted([(i, f"{big}:{i}:1: not JSON") for i in BAD_LINES]
                      + [(i, f"{big} record #{record_no[i]} (eventID id-{i}): no usable eventTime") for i in BAD_TIMES])
    assert [s[:len(e)] for s, (_, e) in zip(two.malformed_samples, expected)] == [e for _, e in expected]
    assert two.malformed_samples[len(expected)].startswith(f"{logs / 'c.json'} record #2")


def test_the_progress_bar_advances_with_the_workers(logs, small_units, monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(engine, "PROGRESS_DELAY", 0)
    monkeypatch.setattr(engine, "PROGRESS_INTERVAL", 0)
    tty = Tty()
    report = replay_paths([logs], DETECTIONS, workers=2, progress=tty)
    drawn = tty.getvalue()
    assert "replay [" in drawn and "MiB" in drawn
    assert f"100.0% " in drawn and f"{report.events + report.malformed:,} events" in drawn
    assert drawn.endswith("\r\x1b[K")


@pytest.mark.parametrize("args, message", [
    (["--workers", "0"], "--workers: must be >= 1 (got 0)"),
    (["--workers", "2", "--dask", "tcp://127.0.0.1:1"], "--workers: not with --dask"),
    (["--since", "2024-05-01"], "need an s3:// input"),
])
def test_bad_worker_options_are_one_line_exit_2(tmp_path, capsys, args, message):
    (tmp_path / "Pulumi.w.yaml").write_text("config:\n  aws:region: us-east-1\n")
    path = write_lines(tmp_path / "a.jsonl", [record()])
    assert main(["replay", "--stack", "w", "--config-dir", str(tmp_path), *args, str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
