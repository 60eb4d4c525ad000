"""Every row of AWS's documented examples (tests/fixtures/aws_filter_pattern_conformance.jsonl)."""

import json
from pathlib import Path

import pytest

from trailwatch.errors import PatternError
from trailwatch.filterpattern import compile_pattern

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "aws_filter_pattern_conformance.jsonl"
ROWS = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_fixture_has_all_rows():
    assert len(ROWS) == 57
    assert len({r["id"] for r in ROWS}) == 57


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_row(row):
    if row["expected"] == "INVALID":
        with pytest.raises(PatternError):
            compile_pattern(row["pattern"])
        return
    pattern = compile_pattern(row["pattern"])
    assert pattern.matches(row["message"]) is row["expected"]
    if row["kind"] == "json":  # the same event, already parsed, gives the same answer
        assert pattern.matches(json.loads(row["message"])) is row["expected"]
    if "extracted" in row:
        assert pattern.extract(row["message"]) == row["extracted"]
        for name, text in row["extracted"].items():
            assert pattern.dimension(row["message"], name) == text
    for expr, value in row.get("metric_value", {}).items():
        assert pattern.value(row["message"], expr) == value
    for name, value in row.get("dimensions", {}).items():
        assert pattern.dimension(row["message"], "$." + name) == value
