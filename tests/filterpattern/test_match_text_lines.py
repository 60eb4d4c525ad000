"""`match` on plain-text logs as CloudWatch Logs sees them (every line one event, `[ERROR] ...` included), over
AWS's documented unstructured examples, and error positions that point at a real line, column or record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trailwatch.cli import main

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "aws_filter_pattern_conformance.jsonl"
ROWS = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines() if line.strip()]
TEXT_ROWS = [r for r in ROWS if r["kind"] in ("terms", "regex")]


def run_match(capsys, pattern: str, path: Path) -> tuple[int, list[str], str]:
    rc = main(["match", "--pattern", pattern, str(path)])
    out = capsys.readouterr()
    return rc, out.out.splitlines(), out.err


def test_documented_text_examples_through_match(tmp_path, capsys):
    """AWS's unstructured examples (nearly all start with '['), read from one text file, one answer a line."""
    messages = list(dict.fromkeys(r["message"] for r in TEXT_ROWS))
    assert messages[0].startswith("[")
    log = tmp_path / "app.log"
    log.write_text("\n".join(messages) + "\n", encoding="utf-8")
    answers = {}
    for pattern in dict.fromkeys(r["pattern"] for r in TEXT_ROWS):
        rc, out, err = run_match(capsys, pattern, log)
        assert (rc, err, len(out)) == (0, "", len(messages)), pattern
        answers[pattern] = dict(zip(messages, out))
    for row in TEXT_ROWS:
        assert answers[row["pattern"]][row["message"]] == ("1" if row["expected"] else "0"), row["id"]


@pytest.mark.parametrize("text, pattern, expected", [
    ("[ERROR] Caught IllegalArgumentException\n", '"ERROR" "Exception"', ["1"]),  # the example that once failed
    ("[ERROR] Caught IllegalArgumentException", "ERROR Exception", ["1"]),  # no newline at the end
    ("[ERROR]\n[WARN] Failed to process the request\n", "ERROR", ["1", "0"]),  # '[ERROR]' alone is no JSON
    ("[1, 2]\n[ERROR] A fatal exception has occurred\n", "ERROR", ["0", "1"]),  # a JSON-looking first line
    ('["a"] ERROR\n', "ERROR", ["1"]),
])
def test_lines_starting_with_a_bracket_are_text_events(tmp_path, capsys, text, pattern, expected):
    log = tmp_path / "app.log"
    log.write_text(text, encoding="utf-8")
    assert run_match(capsys, pattern, log) == (0, expected, "")


def test_error_in_a_document_names_its_line_and_column(tmp_path, capsys):
    records = [{"eventName": f"E{i}", "n": i} for i in range(400)]
    lines = json.dumps({"Records": records}, indent=1).split("\n")
    bad = next(i for i, line in enumerate(lines) if '"E250"' in line)
    lines[bad] = lines[bad].replace('"E250"', "E250")
    path = tmp_path / "trail.json"
    path.write_text("\n".join(lines), encoding="utf-8")
    rc, out, err = run_match(capsys, "{ $.n >= 0 }", path)
    column = lines[bad].index("E250") + 1
    assert rc == 2
    assert out == ["1"] * 250  # the answers before the broken record
    assert err.startswith(f"error: {path}:{bad + 1}:{column}: JSON syntax error (Expecting value)")


def test_error_names_the_record_within_the_file(tmp_path, capsys):
    records: list = [{"eventName": f"E{i}"} for i in range(8)]
    records[5] = 7
    path = tmp_path / "trail.json"
    path.write_text(json.dumps({"Records": records}, indent=1), encoding="utf-8")
    rc, out, err = run_match(capsys, "{ $.eventName = E1 }", path)
    assert (rc, out) == (2, ["0", "1", "0", "0", "0"])
    assert err == (f"error: {path} Records[5]: a Records item is a number, not an object"
                   " (not an event; match stops here)\n")
