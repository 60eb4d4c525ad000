"""The emulated CloudWatch of a tuned stack holds the exception filters too: the exporter serves each
detection's window sum and each exception's beside it, replaying records with the stack's filters counts what
the exception model says, and the local rule file scales only the exception guard to the emulated clock."""

from __future__ import annotations

import json
import urllib.request

import pytest
import yaml
from harness import e2e_stack
from scenarios import NOISY, QUIET, tuned_records
from stacks import deployer_exception

from trailwatch import exceptions as exc
from trailwatch.localrun import (
    LocalRunError, ReplayedMinutes, ScaledClock, StackEmulation, filter_rules, scaled_rules, stack_filters,
)
from trailwatch.render import RULES_FILE, render_all
from trailwatch.series import excepted_name, exported_name
from trailwatch.replay import replay_records
from trailwatch.stack import stack_excepted_filters


@pytest.fixture(scope="module")
def stack():
    return e2e_stack("tuned", exceptions=[deployer_exception([NOISY, QUIET])])


def test_every_deployed_filter_is_emulated_once(stack):
    filters = stack_filters(stack)
    excepted = stack_excepted_filters(stack)
    assert len(excepted) == 2
    assert [f.detection_id for f in filters] == [d.id for d in stack.detections] + [f.name for f in excepted]
    by_id = {f.detection_id: f for f in filters}
    for f in excepted:
        assert (by_id[f.name].namespace, by_id[f.name].metric, by_id[f.name].pattern) == (
            f.detection.namespace, f.metric, f.pattern)


def test_replaying_the_filters_counts_what_the_exception_model_says(stack):
    records = tuned_records()
    report = replay_records(records, filter_rules(stack), stack.settings.alert_window_minutes)
    replayed = ReplayedMinutes.from_report(report)
    for f in stack_excepted_filters(stack):
        matching = [r for r in records if r["eventName"] in f.detection.pattern]
        assert replayed.matches(f.detection.id) == len(matching)
        want = sum(1 for r in matching if exc.excepted_by(stack.exceptions, f.detection.id, r) is f.rule)
        assert replayed.matches(f.name) == want and 0 < want


def test_the_exporter_serves_the_detection_and_its_excepted_count(stack):
    records = tuned_records()
    replayed = ReplayedMinutes.from_report(
        replay_records(records, filter_rules(stack), stack.settings.alert_window_minutes))
    with_lag = StackEmulation(stack, clock=ScaledClock(60), exception_lag=60)
    with_lag.place(replayed, slot=0, max_gap_periods=None)
    with_lag.start()
    try:
        det = next(d for d in stack.detections if d.id == NOISY)
        f = next(f for f in stack_excepted_filters(stack) if f.detection.id == NOISY)
        names = exported_name(stack, det), excepted_name(stack, f)
        now = with_lag.slot_time(1) + 30
        served = {rule.exported_name("Sum"): point.sum for rule, point in with_lag.exporter.read_all(now) if point}
        assert (served[names[0]], served[names[1]]) == (6, 3), "minute 10:01 counted, its excepted share not yet"
        served = {rule.exported_name("Sum"): point.sum
                  for rule, point in with_lag.exporter.read_all(now + 60) if point}
        assert (served[names[0]], served[names[1]]) == (6, 5)
        body = urllib.request.urlopen(f"{with_lag.exporter.url}/metrics", timeout=5).read().decode()
        assert all(f"\n{name}{{" in body for name in names)
    finally:
        with_lag.stop()


def test_only_the_tuned_rules_guard_is_scaled_to_the_emulated_clock(stack):
    text = render_all(stack, "adapter", adapter_url="http://127.0.0.1:1/alerts")[RULES_FILE]
    scaled = scaled_rules(stack, text, 60)
    before, after = yaml.safe_load(text), yaml.safe_load(scaled)
    tuned = {f"Trailwatch{''.join(p.title() for p in d.split('_'))}" for d in (NOISY, QUIET)}
    changed = set()
    for group_before, group_after in zip(before["groups"], after["groups"]):
        for rule_before, rule_after in zip(group_before["rules"], group_after["rules"]):
            if rule_before != rule_after:
                changed.add(rule_after["alert"])
                assert rule_before["expr"].replace("[1m2s:1s]", "[3s:1s]") == rule_after["expr"]
                assert {k: v for k, v in rule_before.items() if k != "expr"} == \
                    {k: v for k, v in rule_after.items() if k != "expr"}
    assert changed == tuned
    assert scaled_rules(stack, text, 1) == text
    untuned = e2e_stack("plain")
    plain = render_all(untuned, "adapter", adapter_url="http://127.0.0.1:1/alerts")[RULES_FILE]
    assert scaled_rules(untuned, plain, 60) == plain
    with pytest.raises(LocalRunError, match="no single exception guard"):
        scaled_rules(stack, json.dumps(yaml.safe_load(text.replace("[1m2s:1s]", "[5m:1s]"))), 60)
