"""The latency script's model (bench/latency.py): the terms add up, and the shipped timings are what it models."""

from __future__ import annotations

import importlib.util
from pathlib import Path

LATENCY = Path(__file__).resolve().parents[2] / "bench" / "latency.py"


def load():
    spec = importlib.util.spec_from_file_location("latency_script", LATENCY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_budget_rows_add_up_with_the_shipped_timings():
    latency = load()
    stack = latency.production_stack()
    s = stack.settings
    assert (s.scrape_interval_seconds, s.group_wait_seconds, s.exporter_delay_seconds) == (60, 10, 600)
    measured = {"trailwatch": {"median": 40.0, "max": 70.0}, "guide": {"median": 190.0, "max": 200.0}}
    rows = {term: (ours, guide) for term, ours, guide, _ in latency.budget(stack, measured)}
    assert rows["= call -> datapoint readable"] == ("570 / 960", "570 / 960")
    # readable 570 + scrape 30 + evaluation 30 + group_wait 10 + notify 1
    assert rows["= call -> Teams card (model)"] == ("641 / 1091", "781 / 1291")
    assert rows["= call -> card (model + measured)"] == ("640", "790")
