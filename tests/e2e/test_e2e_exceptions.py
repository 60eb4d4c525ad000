"""Noise exceptions through the whole local chain: emulated metric filters (the detections' and the exceptions')
-> exporter emulator -> real Prometheus with the rendered tuned rules -> real Alertmanager -> the Teams adapter
process -> Teams stand-in. The exception filters publish one filter latency after the detections' filters, the
read path's worst case (see scenarios.run_exceptions)."""

from __future__ import annotations

import pytest
from scenarios import NOISY, QUIET, adapter_card

RUN_TIMEOUT = 600


@pytest.mark.e2e_run("exceptions")
def test_only_excepted_events_never_page_and_one_stolen_credential_call_pages_once_with_the_excepted_count(e2e_runs):
    run = e2e_runs.result("exceptions", RUN_TIMEOUT)
    assert run.rejected == [], [d.errors for d in run.rejected]
    (rule,) = run.stack.exceptions
    quiet_filter, noisy_filter = (f"{det}-x-{rule.id}" for det in (QUIET, NOISY))
    assert run.excepted == {noisy_filter: 5, quiet_filter: 12} and run.matches == {NOISY: 6, QUIET: 12}, (
        "the replayed filters count what the exception model says")
    assert run.watched_seconds > 30, "watched for less than the alert window"
    cards = [adapter_card(d) for d in run.cards]
    assert all(det != QUIET for _, _, det in cards), f"excepted deploys alone paged: {cards}"
    firing = [d for d, (state, _, det) in zip(run.cards, cards) if state == "FIRING" and det == NOISY]
    assert len(firing) == 1, cards
    assert {det for _, _, det in cards} == {NOISY}, f"nothing else may page: {cards}"
    text = " ".join(firing[0].text.split())
    want = (f"5 by 'Pulumi deploys from GitHub Actions' (owner platform-team, exception {rule.id}, until "
            f"{rule.expires})")
    assert want in text, text
    assert any(line.startswith("**Prometheus, at its latest evaluation:** 1 matching CloudTrail event(s)")
               for line in firing[0].texts()), (
        "the alert's value counts only the call no exception covers", text)
