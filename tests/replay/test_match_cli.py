"""`python -m trailwatch match --pattern P [FILE|-]`: one 1/0 per input line; invalid pattern -> exit 2."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from trailwatch.cli import main

ROOT = Path(__file__).resolve().parents[2]

LINES = [
    json.dumps({"eventName": "GetObject", "errorCode": "AccessDenied"}),
    json.dumps({"eventName": "GetObject"}),
    "",
    "not json at all: ERROR AccessDenied",
    json.dumps({"eventName": "PutBucketPolicy", "errorCode": "AccessDeniedException"}),
    json.dumps(["AccessDenied"]),
]


def run_match(capsys, monkeypatch, pattern: str, lines: list[str], *, file: Path | None = None) -> tuple[int, str, str]:
    if file is None:
        data = ("\n".join(lines) + "\n").encode()
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
        rc = main(["match", "--pattern", pattern])
    else:
        rc = main(["match", "--pattern", pattern, str(file)])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_json_pattern_over_json_lines(capsys, monkeypatch):
    rc, out, err = run_match(capsys, monkeypatch, '{ $.errorCode = "AccessDenied" }', LINES)
    assert (rc, err) == (0, "")
    assert out.splitlines() == ["1", "0", "0", "0", "0", "0"]
    rc, out, _ = run_match(capsys, monkeypatch, '{ $.errorCode = "AccessDenied*" }', LINES)
    assert out.splitlines() == ["1", "0", "0", "0", "1", "0"]


def test_term_and_regex_patterns_see_raw_lines(capsys, monkeypatch):
    rc, out, _ = run_match(capsys, monkeypatch, "AccessDenied", LINES)
    assert out.splitlines() == ["1", "0", "0", "1", "1", "1"]
    rc, out, _ = run_match(capsys, monkeypatch, "?ERROR ?PutBucket", LINES)
    assert out.splitlines() == ["0", "0", "0", "1", "1", "0"]
    rc, out, _ = run_match(capsys, monkeypatch, r"%^not\sjson%", LINES)
    assert out.splitlines() == ["0", "0", "0", "1", "0", "0"]
    rc, out, _ = run_match(capsys, monkeypatch, "", LINES)  # the empty pattern matches every event
    assert out.splitlines() == ["1"] * 6


def test_file_argument_gzip_and_crlf(tmp_path, capsys, monkeypatch):
    plain = tmp_path / "events.jsonl"
    plain.write_bytes(("\r\n".join(LINES[:2]) + "\r\n").encode())
    packed = tmp_path / "events.jsonl.gz"
    packed.write_bytes(gzip.compress(("\n".join(LINES[:2]) + "\n").encode()))
    for path in (plain, packed):
        rc, out, _ = run_match(capsys, monkeypatch, '{ $.eventName = "GetObject" && $.errorCode NOT EXISTS }', [],
                               file=path)
        assert (rc, out) == (0, "0\n1\n")
    rc, out, err = run_match(capsys, monkeypatch, "x", [], file=tmp_path / "missing.jsonl")
    assert rc == 2 and err.startswith("error: ") and "cannot open" in err


@pytest.mark.parametrize("pattern, position", [
    ('{ $.errorCode = "AccessDenied" ', 31),
    ("{ $.eventName = }", 16),
    ("[a, b", 5),
    ("%^not!json%", 5),  # '!' is not in AWS's regex subset (the regex page refuses %something!%)
])
def test_invalid_pattern_exits_2_with_position(capsys, monkeypatch, pattern, position):
    rc, out, err = run_match(capsys, monkeypatch, pattern, LINES)
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: invalid pattern: ")
    assert f"at position {position}" in err
    assert f"{pattern[:position]}<HERE>{pattern[position:]}" in err


def test_subprocess_stdin_and_exit_code():
    proc = subprocess.run([sys.executable, "-m", "trailwatch", "match", "-p", '{ $.a > 1 }', "-"],
                          input='{"a": 2}\n{"a": 1}\n{"a": "3"}\n', capture_output=True, text=True, cwd=ROOT)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "1\n0\n1\n", "")
    proc = subprocess.run([sys.executable, "-m", "trailwatch", "match", "--pattern", "{ $.a = }"],
                          input="{}\n", capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and "at position" in proc.stderr and proc.stdout == ""


@pytest.mark.parametrize("argv", [["--pattern", "-ERROR"], ["-p", "-ERROR"], ["--pattern=-ERROR"]])
def test_pattern_starting_with_a_dash_is_a_pattern_not_an_option(capsys, monkeypatch, argv):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"an ERROR here\nall fine\n")))
    rc = main(["match", *argv])
    out = capsys.readouterr()
    assert (rc, out.out, out.err) == (0, "0\n1\n", "")
