"""Scenarios 1-5 of the end-to-end chain, against real Prometheus 2.53 and Alertmanager 0.28 (``make tools``):
CloudTrail file -> replay (metric filters) -> exporter emulator -> Prometheus (rendered scrape config and rules)
-> Alertmanager (rendered config) -> Teams stand-in. See scenarios.py for the stories, harness.py for timings.

All runs start together (background threads) when the first of these tests runs; the suite waits as long as the
longest run (a few minutes), not the sum.
"""

from __future__ import annotations

import pytest
from harness import ACCOUNT_ID, TIME_SCALE, group_of, notices, status_of
from scenarios import LAGGED, OUTAGE_MINUTES, STORM_EVENTS, groups_with, stack_groups

from trailwatch.contract import ALERT_EXPORTER_DOWN, ALERT_HEARTBEAT_MISSING
from trailwatch.render import receiver_name

RUN_TIMEOUT = 900  # seconds; every run bounds its own waits well below this
SCENARIO1_DETECTIONS = {"root_usage", "console_auth_failures", "console_login_failures", "unauthorized_api_calls",
                        "access_denied"}


def one_each(deliveries, expected: dict[str, str], status: str) -> None:
    got = groups_with(deliveries, status)
    want = {(name, ident): 1 for ident, name in expected.items()}
    assert got == want, f"{status}: expected exactly one notification per group {want}, got {got}"


# -- scenario 1 ----------------------------------------------------------------------------------------------

@pytest.mark.e2e_run("delivery")
def test_scenario1_native_cards_name_detection_severity_account_region_runbook(e2e_runs):
    run = e2e_runs.result("delivery", RUN_TIMEOUT)
    assert set(run.expected) == SCENARIO1_DETECTIONS, "the replay of the bundled file found other detections"
    assert run.native_rejected == [], [d.errors for d in run.native_rejected]
    one_each(run.native, run.expected, "firing")
    one_each(run.native, run.expected, "resolved")
    assert len(run.native) == 2 * len(run.expected), "nothing else may arrive"
    by_id = {d.id: d for d in run.stack.detections}
    for card in run.native:
        name, ident = group_of(card)
        det = by_id[ident]
        assert card.payload["attachments"][0]["content"]["type"] == "AdaptiveCard"
        assert det.title in card.title
        assert f"({ident})" in card.text and det.severity.upper() in card.text
        assert f"account {ACCOUNT_ID}" in card.text and run.stack.settings.region in card.text
        if status_of(card) == "firing":
            assert det.runbook in card.text


@pytest.mark.e2e_run("delivery")
def test_scenario1_exporter_serves_once_delivered_and_alerts_resolve_after_the_window(e2e_runs):
    run = e2e_runs.result("delivery", RUN_TIMEOUT)
    s = run.stack.settings
    for ident, served in run.first_served.items():
        assert served is not None, f"{ident}: window sum never served"
        assert served >= run.readable_at - 0.05, f"{ident}: served before it was delivered"
        assert served - run.readable_at < 3, f"{ident}: served {served - run.readable_at:.1f} s late"
    window = s.alert_window_minutes * 60 / TIME_SCALE  # on the wall clock
    for card in run.native:
        name, ident = group_of(card)
        if status_of(card) == "firing":
            assert card.received_at < run.readable_at + window, f"{ident}: fired only after its window"
        else:
            assert card.received_at >= run.readable_at + window, f"{ident}: resolved before its window ended"


# -- scenario 2 ----------------------------------------------------------------------------------------------

@pytest.mark.e2e_run("delivery")
def test_scenario2_adapter_mode_delivers_authenticated_webhook_v4_payloads(e2e_runs):
    run = e2e_runs.result("delivery", RUN_TIMEOUT)
    assert run.adapter_rejected == [], [d.errors for d in run.adapter_rejected]
    one_each(run.adapter, run.expected, "firing")
    one_each(run.adapter, run.expected, "resolved")
    assert len(run.adapter) == 2 * len(run.expected)
    by_id = {d.id: d for d in run.stack.detections}
    for hook in run.adapter:
        payload = hook.payload
        assert payload["version"] == "4" and payload["receiver"] == receiver_name(run.stack)
        (alert,) = payload["alerts"]
        det = by_id[alert["labels"]["detection"]]
        assert alert["labels"]["severity"] == det.severity
        assert alert["annotations"]["aws_account_id"] == ACCOUNT_ID
        assert alert["annotations"]["aws_region"] == run.stack.settings.region
        assert alert["annotations"]["runbook"] == det.runbook
        assert alert["annotations"]["summary"] == det.title


# -- scenario 5 ----------------------------------------------------------------------------------------------

@pytest.mark.e2e_run("delivery")
def test_scenario5_the_guides_rules_and_alertmanager_settings_deliver_nothing(e2e_runs):
    run = e2e_runs.result("delivery", RUN_TIMEOUT)
    stats = run.guide_stats
    print(f"\nguide vs trailwatch, same {run.events} CloudTrail events, {run.observed_seconds:.0f} s observed: "
          f"guide series matched {stats['guide_series']}, rule evaluations {stats['rule_evaluations']:.0f}, "
          f"alerts ever pending/firing {stats['guide_alerts_ever']}, notifications {stats['notifications_sent']:.0f}, "
          f"Teams posts {len(run.guide)}; trailwatch: {len(run.expected)} alerts, {len(run.native)} cards")
    assert all(n == 1 for n in stats["real_series"].values()), "the exporter's real series were in the guide's Prometheus"
    assert all(n == 0 for n in stats["guide_series"].values()), "the guide's metric names match nothing"
    assert stats["rule_evaluations"] > 60, "the guide's rules were evaluated all along"
    assert stats["guide_alerts_ever"] == 0 and stats["notifications_sent"] == 0
    assert run.guide == [] and run.guide_rejected == []
    assert len(run.native) == 2 * len(SCENARIO1_DETECTIONS)


# -- scenario 3 ----------------------------------------------------------------------------------------------

@pytest.mark.e2e_run("faults")
def test_scenario3_teams_500_429_refusal_and_alertmanager_restart_lose_nothing_duplicate_nothing(e2e_runs):
    run = e2e_runs.result("faults", RUN_TIMEOUT)
    assert run.rejected == [], [d.errors for d in run.rejected]
    answered = [status for status in run.fault_statuses if status]
    assert answered == [500, 500, 500, 429, 429, 429], run.fault_statuses
    # 0: a request that raced the switch to refusing had its connection dropped unanswered (never a card)
    assert len(run.refusals) == 1 and run.refusal_seconds >= 59
    refusal_end = run.refusals[0][1]
    one_each(run.accepted, {**run.wave1, **run.wave2}, "firing")
    one_each(run.accepted, run.wave1, "resolved")
    for card in run.accepted:
        if group_of(card)[1] in run.wave1 and status_of(card) == "firing":
            assert card.received_at >= refusal_end, "delivered while Teams was refusing?"
    stopped, restarted = run.restart
    assert run.wave2_active_at is not None and stopped <= run.wave2_active_at <= restarted, (
        "the wave-2 alert must start firing while Alertmanager is down", run.restart, run.wave2_active_at)
    assert all(n.detection for card in run.accepted for n in notices(card)), "only detection alerts expected"


@pytest.mark.e2e_run("heartbeat")
def test_scenario3_heartbeat_stops_and_the_cloudtrail_delivery_alert_reaches_teams(e2e_runs):
    run = e2e_runs.result("heartbeat", RUN_TIMEOUT)
    assert run.rejected == []
    firing = groups_with(run.accepted, "firing")
    assert firing == {(ALERT_HEARTBEAT_MISSING, "cloudtrail_heartbeat"): 1}
    card = next(d for d in run.accepted if status_of(d) == "firing")
    assert "CloudTrail events stopped arriving" in card.title and "get-trail-status" in card.text
    assert run.first_card_at - run.trigger_at >= run.for_seconds


@pytest.mark.e2e_run("exporter_down")
def test_scenario3_exporter_down_alert_reaches_teams(e2e_runs):
    run = e2e_runs.result("exporter_down", RUN_TIMEOUT)
    assert run.rejected == []
    firing = groups_with(run.accepted, "firing")
    assert firing.get((ALERT_EXPORTER_DOWN, "")) == 1, firing
    hook = next(d for d in run.accepted if group_of(d) == (ALERT_EXPORTER_DOWN, ""))
    assert hook.payload["alerts"][0]["labels"]["component"] == "exporter"
    assert run.first_card_at - run.trigger_at >= run.for_seconds
    # Without data the heartbeat alert may fire first (its window is shorter than the exporter-down `for:`);
    # anything else would be a false alarm.
    assert set(firing) <= {(ALERT_EXPORTER_DOWN, ""), (ALERT_HEARTBEAT_MISSING, "cloudtrail_heartbeat")}


# -- scenario 4 ----------------------------------------------------------------------------------------------

@pytest.mark.e2e_run("storm")
def test_scenario4_storm_of_50000_access_denied_gives_one_card_per_alert_group(e2e_runs):
    run = e2e_runs.result("storm", RUN_TIMEOUT)
    assert run.events == STORM_EVENTS
    assert set(run.expected) == {"access_denied", "unauthorized_api_calls"}
    assert all(sum(counts) == STORM_EVENTS and len(counts) == 2 for counts in run.per_minute.values())
    assert run.rejected == []
    one_each(run.accepted, run.expected, "firing")
    one_each(run.accepted, run.expected, "resolved")
    assert len(run.accepted) == 2 * len(run.expected) and run.attempts == len(run.accepted)
    for card in run.accepted:
        if status_of(card) == "firing":
            # the window sum when the alert first fired: the first minute's events, or both minutes' if the
            # second minute arrived before that evaluation
            first = run.per_minute[group_of(card)[1]][0]
            assert any(f"\n{n} matching CloudTrail event(s) with event times within 30m" in card.text
                       for n in (first, STORM_EVENTS)), card.text[:300]


# -- the lag-tolerant read path ------------------------------------------------------------------------------

@pytest.mark.e2e_run("readpath")
def test_every_event_up_to_the_tolerance_gives_exactly_one_card_despite_failed_scrapes(e2e_runs):
    run = e2e_runs.result("readpath", RUN_TIMEOUT)
    assert run.rejected == [], [d.errors for d in run.rejected]
    assert set(LAGGED.values()) <= set(run.expected)
    one_each(run.accepted, run.expected, "firing")
    one_each(run.accepted, run.expected, "resolved")
    assert len(run.accepted) == 2 * len(run.expected), "nothing else may arrive (no pipeline alert either)"
    assert run.failed_scrapes >= 1
    outage = OUTAGE_MINUTES * 60 / TIME_SCALE
    for card in run.accepted:
        name, ident = group_of(card)
        if status_of(card) != "firing":
            continue
        late = card.received_at - run.readable[ident]
        assert late >= 0, f"{ident}: a card before its event was delivered"
        # scrape (1 s) + evaluation (1 s) + group_wait (1 s) + send, plus the outage where there was one
        assert late < 8 + outage, f"{ident}: card {late:.1f} s after delivery"


@pytest.mark.e2e_run("readpath")
def test_threshold_counts_the_window_and_replay_agrees_with_the_pipeline(e2e_runs):
    run = e2e_runs.result("readpath", RUN_TIMEOUT)
    fired = {ident for _, ident in groups_with(run.accepted, "firing")}
    for ident, would in run.replay_fires.items():
        assert (ident in fired) is would, f"{ident}: replay says {would}, the pipeline {'fired' if ident in fired else 'did not'}"
    assert not set(run.never) & fired, "4 events must not reach a threshold of 5"


@pytest.mark.e2e_run("two_stacks")
def test_two_stacks_on_one_prometheus_and_alertmanager_do_not_cross_fire(e2e_runs):
    run = e2e_runs.result("two_stacks", RUN_TIMEOUT)
    assert run.rejected == []
    firing = stack_groups(run.deliveries, "firing")
    assert firing.get(("beta", "TrailwatchRootUsage", "root_usage")) == 1
    assert ("alpha", "TrailwatchRootUsage", "root_usage") not in firing, "beta's event fired alpha's alert"
    assert firing.get(("alpha", ALERT_HEARTBEAT_MISSING, "cloudtrail_heartbeat")) == 1
    assert ("beta", ALERT_HEARTBEAT_MISSING, "cloudtrail_heartbeat") not in firing, "beta's trail never stopped"
    assert set(firing) == {("beta", "TrailwatchRootUsage", "root_usage"),
                           ("alpha", ALERT_HEARTBEAT_MISSING, "cloudtrail_heartbeat")}
    receivers = {d.payload["receiver"] for d in run.deliveries}
    assert receivers == {"trailwatch-alpha-teams", "trailwatch-beta-teams"}
