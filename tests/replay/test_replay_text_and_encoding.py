"""Text log lines that start with '[' are text to `match`, as to CloudWatch Logs; bytes that are not UTF-8 are
reported at their real line (and column, in a document), with that reason, whatever line they are on."""

from __future__ import annotations

import io
import json
import sys

import pytest

from replay_helpers import corpus_events, write_lines
from trailwatch.cli import main
from trailwatch.replay import read_records, readers

APP_LOG = ["[ERROR] Caught IllegalArgumentException in handler", "[INFO] request served",
           "[WARN] Exception rate rising", "ERROR Exception without brackets", "[1] ERROR Exception", ""]


def match(capsys, pattern: str, *args: str) -> tuple[int, list[str], str]:
    code = main(["match", "--pattern", pattern, *args])
    out = capsys.readouterr()
    return code, out.out.split(), out.err


def test_text_lines_starting_with_a_bracket_are_matched_as_text(tmp_path, capsys):
    path = tmp_path / "app.log"
    path.write_text("\n".join(APP_LOG) + "\n")
    assert match(capsys, '"ERROR" "Exception"', str(path)) == (0, ["1", "0", "0", "1", "1", "0"], "")


@pytest.mark.parametrize("text", [b"[ERROR] Caught IllegalArgumentException", b"[ERROR] Caught IllegalArgumentException\n",
                                  b"[ERROR] Caught IllegalArgumentException\r\n[DEBUG] x\r\n"])
def test_a_short_text_file_starting_with_a_bracket(tmp_path, capsys, monkeypatch, text):
    path = tmp_path / "one.log"
    path.write_bytes(text)
    expected = ["1"] + ["0"] * (text.count(b"\n") - 1)
    assert match(capsys, '"ERROR" "Exception"', str(path)) == (0, expected, "")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text)))
    assert match(capsys, "Exception", "-") == (0, expected, "")


def test_a_json_pattern_never_matches_a_bracketed_text_line(tmp_path, capsys):
    path = tmp_path / "app.log"
    path.write_text("[ERROR] errorCode AccessDenied\n" + json.dumps({"errorCode": "AccessDenied"}) + "\n")
    assert match(capsys, '{ $.errorCode = "AccessDenied" }', str(path)) == (0, ["0", "1"], "")


def test_a_broken_pretty_printed_document_still_stops_match(tmp_path, capsys):
    """The first line of a document is a clean fragment; the error is further on, where it is reported."""
    path = tmp_path / "broken.json"
    path.write_text('{\n  "Records": [\n    {"eventName": "a"},\n    {"eventName": "b"} oops\n  ]\n}\n')
    code, out, err = match(capsys, '{ $.eventName = "a" }', str(path))
    assert (code, out) == (2, ["1", "0"])
    assert err.startswith(f"error: {path}:4:24: JSON syntax error") and err.count("\n") == 1


# -- bytes that are not UTF-8 ---------------------------------------------------------------------------

# third-party records, see tests/fixtures/cloudtrail/NOTICE
RECORDS = corpus_events("stratus_detonation_logs.jsonl") + corpus_events("trailalerts_sigma_tests.jsonl")


def latin1(rec: dict) -> bytes:
    """A record with a user name in Latin-1 (what a file re-encoded by a legacy tool holds)."""
    return json.dumps({**rec, "userAgent": "Jos\u00e9's tool"}, ensure_ascii=False).encode("latin-1")


@pytest.mark.parametrize("bad", [{69}, {1, 69}, set(range(1, 21)) | {69}],
                         ids=["first line clean", "first line Latin-1", "first 20 lines Latin-1"])
def test_latin1_lines_are_reported_at_their_own_line(tmp_path, bad):
    lines = [json.dumps(r).encode() for r in RECORDS]
    for n in bad:
        lines[n - 1] = latin1(RECORDS[n - 1])
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    items = list(read_records([path]))
    marks = [(m.where, m.reason[:23]) for m in items if type(m) is readers.Malformed]
    assert marks == [(f"{path}:{n}", "not JSON (not UTF-8 tex") for n in sorted(bad)]
    assert [r for r in items if type(r) is dict] == [r for i, r in enumerate(RECORDS, 1) if i not in bad]


def test_latin1_in_a_pretty_printed_document_is_reported_at_its_line_and_column(tmp_path, capsys):
    records = RECORDS[:3]
    text = json.dumps({"Records": [records[0], {**records[1], "userAgent": "Jos\u00e9"}, records[2]]}, indent=2,
                      ensure_ascii=False)
    lineno = next(i for i, line in enumerate(text.splitlines(), 1) if "Jos\u00e9" in line)
    column = text.splitlines()[lineno - 1].index("\u00e9") + 1
    path = tmp_path / "pretty.json"
    path.write_bytes(text.encode("latin-1"))
    items = list(read_records([path]))
    assert items[0] == records[0]
    assert repr(items[1]) == f"{path}:{lineno}:{column}: not UTF-8 text (byte b'\\xe9'); rest of the file skipped"
    assert len(items) == 2  # never a record with the byte guessed at
    code, out, err = match(capsys, '{ $.eventName = "*" }', str(path))
    assert (code, out) == (2, ["1"])
    assert err.startswith(f"error: {path}:{lineno}:{column}: not UTF-8 text")


def test_a_latin1_document_cut_in_blocks_is_reported_at_the_same_place(tmp_path, monkeypatch):
    """The byte may fall anywhere among the walker's refills, even inside a multi-byte sequence's split."""
    text = json.dumps({"Records": RECORDS[:20] + [{**RECORDS[20], "userAgent": "\u00e9t\u00e9 \u00e9"}]}, indent=1,
                      ensure_ascii=False).encode("utf-8").replace("\u00e9 \u00e9".encode(), "\u00e9 ".encode() + b"\xe9")
    path = tmp_path / "walked.json"
    path.write_bytes(text)
    whole = [repr(i) for i in read_records([path])]
    monkeypatch.setattr(readers, "WHOLE_DOCUMENT_LIMIT", 1000)
    for chunk in (997, 1024, 4099):
        monkeypatch.setattr(readers, "CHUNK", chunk)
        assert [repr(i) for i in read_records([path])] == whole
    assert whole[-1].endswith("not UTF-8 text (byte b'\\xe9'); rest of the file skipped")
    assert len(whole) == 21


def test_text_lines_in_latin1_are_still_events_to_match(tmp_path, capsys):
    path = write_lines(tmp_path / "app.log", ["[INFO] ok"])
    path.write_bytes("[ERROR] caf\u00e9 Exception\n".encode("latin-1") + path.read_bytes())
    assert match(capsys, '"ERROR" "Exception"', str(path)) == (0, ["1", "0"], "")
