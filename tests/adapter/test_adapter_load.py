"""Exactly once under load and across a SIGTERM: real Alertmanager -> the adapter process -> a Teams stand-in
that takes 11 s to accept each card (longer than Alertmanager's webhook timeout and the adapter's budget)."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections import Counter

import pytest

from adapter_chain import TOKEN, AdapterProcess, ago, am_metric, post_alerts, request, start_alertmanager
from e2e.teams_standin import TeamsStandIn
from trailwatch.localrun import free_port

ALERTS = 200
TEAMS_SECONDS = 11.0
HEALTHY_TEAMS_SECONDS = 0.3
#: After the last card: longer than Alertmanager's webhook timeout plus its first retry backoffs.
AM_RETRY_SETTLE = 8


class SlowTeams(TeamsStandIn):
    """The stand-in, answering every card ``delay`` seconds after it arrived (it is recorded on arrival)."""

    delay = 0.0

    def _native(self, request):
        time.sleep(self.delay)
        return super()._native(request)


@pytest.fixture(scope="module")
def slow_teams():
    with SlowTeams() as standin:
        yield standin


@pytest.fixture(scope="module")
def adapter(tmp_path_factory, slow_teams):
    proc = AdapterProcess(tmp_path_factory.mktemp("adapter"), slow_teams.workflow_url, "http://127.0.0.1:9").start()
    yield proc
    proc.stop()


def stacks(teams) -> Counter:
    """Cards per alert (each alert's stack fact is its own name)."""
    return Counter(f["value"] for d in teams.accepted("card") for block in d.card["body"]
                   for item in block.get("items", []) if item.get("type") == "FactSet"
                   for f in item["facts"] if f["title"] == "Stack")


def pipeline_alert(name: str) -> dict:
    return {"labels": {"alertname": "LoadTest", "trailwatch": "true", "severity": "info", "component": "alertmanager",
                       "trailwatch_stack": name, "case": name},
            "annotations": {"summary": name, "description": "load"}, "startsAt": ago(1).isoformat()}


def test_200_alerts_with_a_teams_that_answers_after_11_s_make_exactly_200_cards(tmp_path, adapter, slow_teams):
    """Alertmanager times out (3 s) on every first call and retries; the adapter's budget (4 s) runs out
    long before Teams answers: retries join the attempt in flight and answer with its outcome. 200
    notifications at once also exceed the adapter's connections: those are answered 503, never reset."""
    slow_teams.delay = TEAMS_SECONDS
    am = start_alertmanager(tmp_path / "am", adapter.url)
    try:
        names = [f"load{i:03d}" for i in range(ALERTS)]
        post_alerts(am, [pipeline_alert(n) for n in names])
        slow_teams.wait_for(lambda _: len(stacks(slow_teams)) >= ALERTS, ALERTS / 4 + 60)
        time.sleep(TEAMS_SECONDS + 4)  # any duplicate post would have arrived by now
        cards = stacks(slow_teams)
        assert len(cards) == ALERTS, f"lost {ALERTS - len(cards)}"
        assert max(cards.values()) == 1, f"duplicated: {sum(cards.values()) - ALERTS}"
        assert adapter.metric("trailwatch_adapter_cards_sent_total") == ALERTS
        assert am_metric(am, "alertmanager_notifications_total", integration="webhook") >= ALERTS
        assert adapter.metric("trailwatch_adapter_notifications_total", result="duplicate") > 0
    finally:
        am.stop()
        slow_teams.delay = 0.0


def test_sigterm_drains_a_delivery_in_flight_then_exits(tmp_path, slow_teams):
    """SIGTERM while a card is being posted: no new connection is accepted, the card is delivered and its
    request answered, then the process exits 0."""
    slow_teams.delay = 2.0
    proc = AdapterProcess(tmp_path / "adapter", slow_teams.workflow_url, "http://127.0.0.1:9").start()
    try:
        body = {"version": "4", "groupKey": '{}:{case="drain"}', "truncatedAlerts": 0, "status": "firing",
                "receiver": "r", "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "",
                "alerts": [{**pipeline_alert("drain"), "status": "firing", "endsAt": "0001-01-01T00:00:00Z",
                            "generatorURL": "", "fingerprint": "00dd00dd00dd00dd"}]}
        answer: list = []
        post = threading.Thread(target=lambda: answer.append(request(
            proc.url + "/alerts", json.dumps(body).encode(),
            {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})))
        post.start()
        time.sleep(0.7)
        began = time.monotonic()
        proc.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        assert request(proc.url + "/healthz", timeout=2)[0] == 0  # not accepting any more
        assert proc.proc.wait(timeout=15) == 0
        post.join(5)
        assert answer == [(200, b'{"status": "delivered"}')]
        assert time.monotonic() - began < 10
        assert stacks(slow_teams)["drain"] == 1
        assert "stopped: nothing in flight" in proc.log()
    finally:
        proc.stop()
        slow_teams.delay = 0.0


def test_200_alerts_through_a_healthy_teams_and_a_restart_mid_stream_make_exactly_200_cards(tmp_path, slow_teams):
    """Teams answering in 0.3 s, cards paced at 4/s (so most notifications wait past Alertmanager's 3 s webhook
    timeout and are retried), and the adapter stopped with SIGTERM after ~80 cards and started again on the
    same address with the same state file: every alert gets exactly one card. The drain ends the deliveries
    in flight; the ledger kept in the state file makes Alertmanager's retries of notifications the first
    process delivered (their answers lost with it) duplicates in the second."""
    slow_teams.delay = HEALTHY_TEAMS_SECONDS
    port, state = free_port(), tmp_path / "ledger.json"
    first = AdapterProcess(tmp_path / "first", slow_teams.workflow_url, "http://127.0.0.1:9", port=port,
                           state_file=state).start()
    second = None
    am = start_alertmanager(tmp_path / "am", first.url)
    try:
        names = [f"restart{i:03d}" for i in range(ALERTS)]
        post_alerts(am, [pipeline_alert(n) for n in names])
        slow_teams.wait_for(lambda _: sum(n.startswith("restart") for n in stacks(slow_teams)) >= 80, 60)
        first.proc.send_signal(signal.SIGTERM)
        assert first.proc.wait(timeout=35) == 0
        kept = json.loads(state.read_text())["delivered"]
        second = AdapterProcess(tmp_path / "second", slow_teams.workflow_url, "http://127.0.0.1:9", port=port,
                                state_file=state).start()
        slow_teams.wait_for(lambda _: all(stacks(slow_teams)[n] for n in names), ALERTS / 4 + 90)
        time.sleep(AM_RETRY_SETTLE)  # any duplicate post would have arrived by now
        cards = Counter({n: c for n, c in stacks(slow_teams).items() if n.startswith("restart")})
        assert len(cards) == ALERTS, f"lost {ALERTS - len(cards)}"
        assert max(cards.values()) == 1, f"duplicated: {sorted(n for n, c in cards.items() if c > 1)}"
        assert len(kept) >= 80 and f"{len(kept)} delivered notification(s) remembered" in second.log()
    finally:
        am.stop()
        first.stop()
        if second is not None:
            second.stop()
        slow_teams.delay = 0.0
