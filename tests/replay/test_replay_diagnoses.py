"""`replay` says what it read: exit 1 with one line when nothing usable was read, exact positions for broken
input, JSON lines read on after a broken first line; `match` reads every format `replay` reads, one answer
per record, or stops with one line."""

from __future__ import annotations

import gzip
import json

import pytest

from replay_helpers import record, write_s3
from trailwatch.cli import main
from trailwatch.replay import readers

RECORDS = [record(second=i, errorCode="AccessDenied" if i % 2 else None) for i in range(6)]


def replay(capsys, *paths) -> tuple[int, str, str]:
    code = main(["replay", "--stack", "dev", "--format", "json", *map(str, paths)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_empty_folder_is_nothing_to_replay(tmp_path, capsys):
    (tmp_path / "notes.md").write_text("not a log")
    assert replay(capsys, tmp_path) == (1, "", (
        f"error: nothing to replay: no CloudTrail files under {tmp_path} (folders are searched for .json, .jsonl, "
        f".ndjson, .log, .txt, .gz files; hidden entries and CloudTrail-Digest folders are skipped)\n"))


def test_empty_and_blank_files_are_nothing_to_replay(tmp_path, capsys):
    (tmp_path / "a.json").write_text("")
    (tmp_path / "b.jsonl").write_text("\n\n  \n")
    assert replay(capsys, tmp_path) == (1, "", "error: nothing to replay: 2 files read, no records in them "
                                               "(empty or blank)\n")


def test_wrapped_objects_are_diagnosed_as_not_cloudtrail(tmp_path, capsys):
    path = tmp_path / "wrapped.jsonl"
    path.write_text("".join(json.dumps({"source": "x", "event": r}) + "\n" for r in RECORDS))
    assert replay(capsys, path) == (1, "", (
        f"error: nothing to replay: 1 file read, no usable record, 6 malformed; the first: {path} record #1: not a "
        f"CloudTrail record (an object without eventTime or eventVersion; its keys: source, event)\n"))


@pytest.mark.parametrize("doc, reason", [
    ({"Records": "oops"}, "'Records' is a string, not an array"),
    ({"Records": {"a": 1}}, "'Records' is an object, not an array"),
    ({"events": 3}, "'events' is a number, not an array"),
])
def test_container_member_of_the_wrong_type(tmp_path, capsys, doc, reason):
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(doc))
    assert replay(capsys, path) == (1, "", f"error: nothing to replay: 1 file read, no usable record, 1 malformed; "
                                           f"the first: {path}: {reason}\n")


def test_truncated_document_reports_its_last_position(tmp_path, capsys):
    text = json.dumps({"Records": RECORDS}, indent=2)
    cut = text[:len(text) * 2 // 3]
    path = tmp_path / "cut.json"
    path.write_text(cut)
    line = cut.count("\n") + 1
    column = len(cut) - cut.rfind("\n")
    code, out, err = replay(capsys, path)
    assert (code, err) == (0, "")
    doc = json.loads(out)
    complete = sum(1 for r in RECORDS if json.dumps(r, indent=2).replace("\n", "\n    ") in cut)
    assert (doc["events"], doc["malformed"]) == (complete, 1)
    assert doc["malformed_samples"] == [f"{path}:{line}:{column}: JSON syntax error (the file ends inside a JSON "
                                        f"value (truncated?)); rest of the file skipped"]
    assert len(cut.splitlines()[-1]) + 1 == column  # the position is the end of the file, not past it


@pytest.mark.parametrize("tail, position, reason", [
    (',\n {"a": 2,\n x\n]\n', "4:2", "Expecting property name enclosed in double quotes"),
    (",\nERROR\n", "3:1", "Expecting value"),
    (',\n {"b": tru }]}\n', "3:8", "Expecting value"),
])
def test_syntax_error_near_the_end_is_reported_where_it_is(tmp_path, capsys, tail, position, reason):
    """An error in the last few characters of a file is an error at its own line, not truncation at a line past
    the end: the buffer is refilled (and moved) before the decoder's position is believed."""
    path = tmp_path / "late.json"
    path.write_text('{"Records": [\n' + json.dumps(RECORDS[0]) + tail)
    code, out, err = replay(capsys, path)
    assert (code, err) == (0, "")
    assert json.loads(out)["malformed_samples"] == [
        f"{path}:{position}: JSON syntax error ({reason}); rest of the file skipped"]


def test_malformed_first_line_of_json_lines_keeps_the_rest(tmp_path, capsys):
    path = tmp_path / "events.jsonl"
    path.write_text('{"a":1,,}\n' + "".join(json.dumps(r) + "\n" for r in RECORDS))
    code, out, err = replay(capsys, path)
    doc = json.loads(out)
    assert (code, err, doc["events"], doc["malformed"]) == (0, "", 6, 1)
    assert doc["malformed_samples"] == [f"{path}:1:8: not JSON (unexpected character, expected a string key)"]


def test_document_walker_falls_back_to_line_mode(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "LINE_MODE_PROBE", 0)  # make the walker, not the probe, meet the broken line
    monkeypatch.setattr(readers, "WHOLE_DOCUMENT_LIMIT", 16)
    path = tmp_path / "events.jsonl"
    path.write_text('{"broken": tru}\n' + "".join(json.dumps(r) + "\n" for r in RECORDS))
    items = list(readers.RecordReader([path]))
    assert [repr(i) for i in items if isinstance(i, readers.Malformed)] == [
        f"{path}:1:12: JSON syntax error (Expecting value); reading the rest as JSON lines"]
    assert [i for i in items if isinstance(i, dict)] == RECORDS


def test_non_json_lines_have_exact_columns(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps(RECORDS[0]) + "\n  {\"a\": [1, 2}\n")
    bad = [repr(i) for i in readers.RecordReader([path]) if isinstance(i, readers.Malformed)]
    assert bad == [f"{path}:2:14: not JSON (unexpected character, expected ',' or ']')"]


# -- match reads what replay reads -----------------------------------------------------------------------

PATTERN = '{ $.errorCode = "AccessDenied" }'
EXPECTED = "".join("1\n" if r.get("errorCode") == "AccessDenied" else "0\n" for r in RECORDS)


@pytest.mark.parametrize("kind", ["s3", "s3-gzip", "s3-pretty", "array", "filter-log-events", "jsonl-of-s3"])
def test_match_gives_one_answer_per_record_in_every_format(tmp_path, capsys, kind):
    path = tmp_path / "in.json"
    if kind.startswith("s3"):
        write_s3(path, RECORDS, gz=kind == "s3-gzip", indent=2 if kind == "s3-pretty" else None)
    elif kind == "array":
        path.write_text(json.dumps(RECORDS))
    elif kind == "filter-log-events":
        path.write_text(json.dumps({"events": [{"timestamp": 1, "message": json.dumps(r)} for r in RECORDS]}))
    else:
        path.write_text(json.dumps({"Records": RECORDS[:3]}) + "\n" + json.dumps({"Records": RECORDS[3:]}) + "\n")
    assert main(["match", "--pattern", PATTERN, str(path)]) == 0
    out = capsys.readouterr()
    assert (out.out, out.err) == (EXPECTED, "")
    assert EXPECTED.count("1") == 3


def test_match_stops_at_what_it_cannot_read_with_one_line(tmp_path, capsys):
    path = tmp_path / "cut.json.gz"
    text = json.dumps({"Records": RECORDS})
    path.write_bytes(gzip.compress(text[:len(text) // 2].encode()))
    assert main(["match", "--pattern", PATTERN, str(path)]) == 2
    out = capsys.readouterr()
    complete = sum(json.dumps(r) in text[:len(text) // 2] for r in RECORDS)
    assert complete >= 2
    assert out.out == "".join(EXPECTED.splitlines(keepends=True)[:complete])
    assert out.err.startswith(f"error: {path}:1:") and out.err.endswith(
        ": JSON syntax error (the file ends inside a JSON value (truncated?)); rest of the file skipped (not an "
        "event; match stops here)\n")
    assert out.err.count("\n") == 1


def test_symlink_loop_is_walked_once(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    write_s3(logs / "a.json", RECORDS[:2])
    (logs / "loop").symlink_to(logs, target_is_directory=True)
    assert [p.name for p in readers.walk([tmp_path])] == ["a.json"]


def test_truncated_gzip_is_nothing_to_replay(tmp_path, capsys):
    path = tmp_path / "cut.json.gz"
    path.write_bytes(gzip.compress(json.dumps({"Records": RECORDS}).encode())[:40])
    assert replay(capsys, path) == (1, "", (
        f"error: nothing to replay: 1 file read, no usable record, 1 malformed; the first: {path}: unreadable, rest "
        f"of the file skipped (gzip data ends early (truncated file))\n"))
