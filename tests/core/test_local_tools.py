"""Where the local runs (`trailwatch demo`, the e2e chain) find Prometheus and Alertmanager, and what a user
without them is told."""

from __future__ import annotations

import os

import pytest

from trailwatch.localrun import LocalRunError, find_tool


def test_trailwatch_tools_bin_comes_first(tmp_path, monkeypatch):
    tool = tmp_path / "prometheus"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    monkeypatch.setenv("TRAILWATCH_TOOLS_BIN", str(tmp_path))
    assert find_tool("prometheus") == str(tool)


def test_a_missing_tool_is_one_line_saying_how_to_get_it_with_or_without_a_checkout(tmp_path, monkeypatch):
    monkeypatch.setenv("TRAILWATCH_TOOLS_BIN", str(tmp_path / "empty"))
    monkeypatch.setattr("trailwatch.localrun.processes.TOOLS_BIN", tmp_path / "no-checkout" / ".tools" / "bin")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LocalRunError) as caught:
        find_tool("alertmanager")
    message = str(caught.value)
    assert "\n" not in message and "make tools" in message and "TRAILWATCH_TOOLS_BIN" in message
    assert "Alertmanager >= 0.28" in message and os.sep + "no-checkout" in message
