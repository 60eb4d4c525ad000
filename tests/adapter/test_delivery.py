"""Delivery rules without a network: which statuses are retried, Retry-After, the budget, the pace."""

from __future__ import annotations

import email.utils
import time

from trailwatch.adapter import delivery
from trailwatch.adapter.delivery import Pacer, Teams, retry_after


class FakePost:
    def __init__(self, answers):
        self.answers = list(answers)
        self.calls: list[float] = []

    def __call__(self, url, body, timeout):
        self.calls.append(time.monotonic())
        return self.answers.pop(0) if self.answers else (202, None)


def teams(answers, budget=3.0):
    post = FakePost(answers)
    retried: list[str] = []
    return Teams("https://example.invalid/x?sig=s", budget, Pacer(rate=1000), post=post,
                 on_retry=retried.append), post, retried


def test_4xx_is_final_at_once():
    t, post, retried = teams([(404, None)])
    outcome = t.send(b"{}")
    assert (outcome.delivered, outcome.reason, outcome.attempts) == (False, "http_404", 1) and retried == []


def test_5xx_and_transport_errors_are_retried_with_growing_waits(monkeypatch):
    monkeypatch.setattr(delivery, "BACKOFF_START", 0.05)
    t, post, retried = teams([(500, None), (None, None), (503, None)], budget=5)
    outcome = t.send(b"{}")
    assert outcome.delivered and outcome.attempts == 4 and retried == ["http_500", "unreachable", "http_503"]
    gaps = [b - a for a, b in zip(post.calls, post.calls[1:])]
    assert gaps[0] < gaps[1] < gaps[2]


def test_retry_after_longer_than_the_budget_gives_up_in_time():
    t, post, _ = teams([(429, "30")], budget=1.0)
    began = time.monotonic()
    outcome = t.send(b"{}")
    assert outcome.reason == "http_429" and not outcome.delivered and time.monotonic() - began < 1.0


def test_retry_after_forms():
    now = time.time()
    assert retry_after("7", now) == 7.0
    assert abs(retry_after(email.utils.formatdate(now + 5, usegmt=True), now) - 5) < 1.01
    assert retry_after("soon", now) is None and retry_after(None, now) is None


def test_pacer_spaces_slots_and_refuses_past_the_deadline():
    clock = [100.0]
    slept: list[float] = []
    pacer = Pacer(rate=4, clock=lambda: clock[0], sleep=slept.append)
    assert all(pacer.wait(deadline=200) for _ in range(4))
    assert slept == [0.25, 0.5, 0.75]  # from one instant: slots 0.25 s apart
    assert pacer.wait(deadline=100.5) is False  # the next slot (101.0) is past this deadline


def test_the_url_is_not_in_repr():
    t, _, _ = teams([])
    assert "sig" not in repr(t) and "example" not in repr(t)
