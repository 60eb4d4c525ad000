"""The end-to-end scenario runs. Each run drives real Prometheus/Alertmanager binaries, an exporter emulator
and a Teams stand-in through one story, and returns what it observed; the tests in test_e2e_scenarios.py
assert on those observations. Runs never assert themselves (except that a waited-for event happened in time).

* ``delivery``: scenario 1 (native), 2 (adapter) and 5 (the guide), three pipelines fed by ONE exporter
  emulator with the same replayed CloudTrail file.
* ``faults``: scenario 3, Teams answering 500, then 429, then refusing connections for 60 s; Alertmanager
  restarted (same data folder) while a new alert fires.
* ``heartbeat``: scenario 3, CloudTrail delivery stops.
* ``exporter_down``: scenario 3, the exporter stops answering.
* ``storm``: scenario 4, 50,000 AccessDenied events within two minutes.
* ``readpath``: the lag-tolerant read path. While a fast region fills every minute with zeros: events
  delivered 0, 5, 10, 15, 20 and 25 minutes late; threshold 5 reached by one event a minute (and 4 events that
  must not fire); one failed scrape and a 5-minute exporter outage at the moment events become readable.
* ``two_stacks``: two stacks on one Prometheus and one Alertmanager: no cross-firing, and each heartbeat
  fires only when its own trail stops.
* ``exceptions``: a tuned stack (the CI deploy role excepted from two detections) through the real adapter
  process: a stream of nothing but excepted deploys, and excepted deploys plus one call with the deploy
  role's stolen credentials from a residential address.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import yaml
from harness import (
    ACCOUNT_ID, GUIDE_FOR, GUIDE_GROUP_WAIT, GUIDE_SELECTORS, SCENARIO1_FILE, TIME_SCALE, RunContext, e2e_stack,
    group_of, guide_alertmanager_text, guide_rules_text, status_of,
)
from teams_standin import Delivery, TeamsStandIn

from trailwatch.localrun import (
    LocalPipeline, LogsEmulator, ReplayedMinutes, ScaledClock, StackEmulation, adapter_process, filter_rules,
    free_port, parse_minute,
)
from trailwatch.contract import ALERT_EXPORTER_DOWN, ALERT_HEARTBEAT_MISSING, EXPORTER_SCRAPE_JOB, detection_alert_name
from trailwatch.readpath import FILTER_LATENCY_SECONDS
from trailwatch.render import detection_hold
from trailwatch.series import exported_name, stack_selector
from trailwatch.replay import alert_hold_minutes, replay_paths, replay_records, simulate_alerts, stack_detections
from trailwatch.stack import Stack, log_group_name, stack_excepted_filters

CORPUS = SCENARIO1_FILE.parent.parent.parent / "fixtures" / "cloudtrail"


# -- building blocks -----------------------------------------------------------------------------------------

def expected_alerts(stack: Stack, report: Any) -> dict[str, str]:
    """``{detection id: alert name}`` for every detection the replay says fires (alert simulation)."""
    by_id = {d.id: d for d in stack.detections}
    return {ident: detection_alert_name(by_id[ident]) for ident, det in report.detections.items()
            if det.alerts and not det.heartbeat}


def start_teams(ctx: RunContext) -> TeamsStandIn:
    teams = TeamsStandIn().start()
    ctx.on_cleanup(teams.stop)
    return teams


def start_emulation(ctx: RunContext, stack: Stack) -> StackEmulation:
    emulation = StackEmulation(stack, clock=ScaledClock(TIME_SCALE))
    ctx.on_cleanup(emulation.stop)
    return emulation


def wall_seconds(emulated: float) -> float:
    """A CloudWatch-side duration on the wall clock."""
    return emulated / TIME_SCALE


def resolved_by(emulation: StackEmulation, last_slot_time: int) -> float:
    """Wall time by which an alert whose last event minute is ``last_slot_time`` has left the window and the
    rules' hold (the hold counts scrapes: wall time)."""
    s = emulation.stack.settings
    return emulation.clock.to_wall(last_slot_time + s.alert_window_minutes * 60) + detection_hold(s)


def start_pipeline(ctx: RunContext, stack: Stack, emulation: StackEmulation, teams_url: str, name: str,
                   **kwargs: Any) -> LocalPipeline:
    pipeline = LocalPipeline(stack, ctx.workdir / name, emulation.exporter.address, teams_url, account_id=ACCOUNT_ID,
                             name=name, **kwargs)
    ctx.on_cleanup(pipeline.stop)
    pipeline.start()
    ctx.note(f"{name}: prometheus {pipeline.prometheus.url}, alertmanager {pipeline.alertmanager.url}")
    return pipeline


def place_after_first_scrapes(ctx: RunContext, emulation: StackEmulation, replayed: ReplayedMinutes,
                              *pipelines: LocalPipeline, extra: tuple[tuple[ReplayedMinutes, int], ...] = ()) -> int:
    """Once every pipeline has scraped the exporter, put the events on the first slot that becomes readable
    from a second later on (slot 0 normally; a slow start costs one period). ``extra``: more (events, slot
    offset) placements. Returns the slot."""
    for pipeline in pipelines:
        pipeline.wait_for_first_scrape()
    slot = emulation.slot_readable_after(time.time() + 1)
    emulation.place(replayed, slot=slot)
    for more, offset in extra:
        emulation.place(more, slot=slot + offset)
    ctx.note(f"events at slot {slot}, readable at +{emulation.readable_at(slot) - ctx.started:.1f}s")
    return slot


def rule_for_seconds(pipeline: LocalPipeline, alertname: str) -> int:
    """The ``for:`` of a rendered rule, in seconds (0 when absent)."""
    for group in yaml.safe_load(pipeline.rules_file.read_text())["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == alertname:
                text, total = rule.get("for", "0s"), 0
                for number, unit in re.findall(r"(\d+)([smhd])", text):
                    total += int(number) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
                return total
    raise KeyError(alertname)


def rfc3339(text: str) -> float:
    """Epoch seconds of an RFC 3339 time as Prometheus prints it (nanoseconds allowed)."""
    from datetime import datetime
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))
    return datetime.fromisoformat(text).timestamp()


def groups_with(deliveries: list[Delivery], status: str) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for d in deliveries:
        if status_of(d) == status:
            out[group_of(d)] = out.get(group_of(d), 0) + 1
    return out


def have_all(teams: TeamsStandIn, groups: set[tuple[str, str]], status: str) -> bool:
    return groups <= set(groups_with(teams.accepted(), status))


# -- scenarios 1, 2 and 5 -------------------------------------------------------------------------------------

@dataclass
class DeliveryRun:
    stack: Stack
    events: int
    expected: dict[str, str]
    readable_at: float
    slot_time: int
    first_served: dict[str, float | None]
    native: list[Delivery]
    native_rejected: list[Delivery]
    adapter: list[Delivery]
    adapter_rejected: list[Delivery]
    guide: list[Delivery]
    guide_rejected: list[Delivery]
    guide_stats: dict[str, Any]
    observed_seconds: float
    log: list[str] = field(default_factory=list)


def run_delivery(ctx: RunContext) -> DeliveryRun:
    native_stack = e2e_stack(teamsMode="native")
    adapter_stack = e2e_stack(teamsMode="adapter")
    report = replay_paths([SCENARIO1_FILE], stack_detections(native_stack), native_stack.settings.alert_window_minutes,
                          hold_minutes=alert_hold_minutes(native_stack))
    expected = expected_alerts(native_stack, report)
    ctx.note(f"replayed {report.events} events; expected alerts {sorted(expected)}")
    emulation = start_emulation(ctx, native_stack)
    emulation.start()
    native_teams, adapter_teams, guide_teams = start_teams(ctx), start_teams(ctx), start_teams(ctx)
    native = start_pipeline(ctx, native_stack, emulation, native_teams.workflow_url, "native")
    adapter = start_pipeline(ctx, adapter_stack, emulation, adapter_teams.adapter_url, "adapter")
    guide = start_pipeline(ctx, native_stack, emulation, guide_teams.adapter_url, "guide", mode="adapter",
                           rules_text=guide_rules_text(),
                           alertmanager_text=guide_alertmanager_text(guide_teams.adapter_url))
    slot = place_after_first_scrapes(ctx, emulation, ReplayedMinutes.from_report(report), native, adapter, guide)
    slot_time = emulation.slot_time(slot)
    readable = emulation.readable_at(slot)
    groups = {(name, ident) for ident, name in expected.items()}
    for teams in (native_teams, adapter_teams):
        ctx.wait_for(lambda t=teams: have_all(t, groups, "firing"), readable + 60 - time.time(), "firing notices")
        ctx.wait_for(lambda t=teams: have_all(t, groups, "resolved"),
                     resolved_by(emulation, max(emulation.placements[-1].values())) + 60 - time.time(),
                     "resolved notices")
    ctx.note("all firing and resolved notices arrived; quiet period")
    # The guide's path needs `for: 2m` plus its 30 s group_wait even if a rule matched: watch it that long.
    ctx.sleep_until(max(time.time() + 5, readable + GUIDE_FOR + GUIDE_GROUP_WAIT + 15))
    prom = guide.prometheus
    stats = {
        "rule_evaluations": sum(float(r["value"][1]) for r in prom.query(
            'prometheus_rule_evaluations_total{rule_group=~".*cloudtrail-security"}')),
        "guide_series": {sel: len(prom.query(sel)) for sel in GUIDE_SELECTORS},
        "guide_alerts_ever": len(prom.query('ALERTS{alertname=~"AccessDeniedErrors|ConsoleLoginFailures"}[1h]')),
        "real_series": {ident: len(prom.query(exported_name(native_stack, d)))
                        for d in native_stack.detections for ident in [d.id] if ident in expected},
        "notifications_sent": sum(float(r["value"][1]) for r in prom.query("alertmanager_notifications_total")),
    }
    first_served = {ident: first_value_at(emulation, exported_name(native_stack, d))
                    for d in native_stack.detections for ident in [d.id] if ident in expected}
    return DeliveryRun(
        stack=native_stack, events=report.events, expected=expected, readable_at=readable, slot_time=slot_time,
        first_served=first_served, native=native_teams.accepted(), native_rejected=list(native_teams.rejected),
        adapter=adapter_teams.accepted(), adapter_rejected=list(adapter_teams.rejected), guide=guide_teams.attempts(),
        guide_rejected=list(guide_teams.rejected), guide_stats=stats, observed_seconds=time.time() - readable,
        log=list(ctx.log))


def first_value_at(emulation: StackEmulation, series: str, at_least: float = 1) -> float | None:
    """Wall time of the first scrape that served ``series`` with a value of at least ``at_least``."""
    for when, value in emulation.exporter.served.get(series, ()):
        if value >= at_least:
            return emulation.clock.to_wall(when)
    return None


# -- scenario 3: Teams faults and an Alertmanager restart ----------------------------------------------------

@dataclass
class FaultsRun:
    wave1: dict[str, str]
    wave2: dict[str, str]
    attempts: list[Delivery]
    accepted: list[Delivery]
    rejected: list[Delivery]
    fault_statuses: list[int]
    refusals: list[tuple[float, float]]
    refusal_seconds: float
    restart: tuple[float, float]
    wave2_active_at: float | None
    log: list[str] = field(default_factory=list)


def panther_record(label: str) -> dict:
    for line in (CORPUS / "panther_rule_tests.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["label_or_rule"] == label:
            return row["event"]
    raise KeyError(label)


def run_faults(ctx: RunContext) -> FaultsRun:
    # A 150-minute window (150 s on the wall clock) keeps the first alerts firing past the Teams outage (an
    # alert that fires and resolves entirely while Teams is unreachable is never shown by Alertmanager).
    stack = e2e_stack("faults", teamsMode="native", alertWindowMinutes=150)
    detections = stack_detections(stack)
    window = stack.settings.alert_window_minutes
    wave1_report = replay_paths([SCENARIO1_FILE], detections, window)
    stop_logging = panther_record("AWS.CloudTrail.Stopped :: CloudTrail Was Stopped")
    wave2_report = replay_records([stop_logging], detections, window)
    wave1, wave2 = expected_alerts(stack, wave1_report), expected_alerts(stack, wave2_report)
    emulation = start_emulation(ctx, stack)
    emulation.start()
    teams = start_teams(ctx)
    teams.fail_next(3, 500)
    teams.fail_next(3, 429)
    teams.then_refuse_for(60)
    pipeline = start_pipeline(ctx, stack, emulation, teams.workflow_url, "faults")
    # wave 2 eight CloudWatch minutes (8 s) after wave 1: after the Teams outage has started
    slot = place_after_first_scrapes(ctx, emulation, ReplayedMinutes.from_report(wave1_report), pipeline,
                                     extra=((ReplayedMinutes.from_report(wave2_report), 80),))
    groups1 = {(name, ident) for ident, name in wave1.items()}
    ctx.wait_for(lambda: teams.refusals or not teams.listening, emulation.readable_at(slot) + 60 - time.time(),
                 "500s and 429s served, refusal started")
    ctx.note("refusing connections")
    ctx.wait_for(lambda: teams.refusals, 90, "refusal over")
    ctx.note("listening again")
    ctx.wait_for(lambda: have_all(teams, groups1, "firing"), 60, "wave-1 firing cards after the outage")
    ctx.note("wave 1 delivered; restarting Alertmanager while wave 2 fires")
    readable2 = emulation.readable_at(slot + 80)
    ctx.sleep_until(readable2 - 1)
    stopped = time.time()
    pipeline.alertmanager.stop()
    ctx.sleep_until(readable2 + 5)
    pipeline.alertmanager.start()
    restarted = time.time()
    ctx.note(f"alertmanager down {restarted - stopped:.1f} s")
    active = [a for a in pipeline.prometheus.alerts() if a["labels"].get("detection") in wave2]
    wave2_active_at = rfc3339(active[0]["activeAt"]) if active else None
    groups2 = {(name, ident) for ident, name in wave2.items()}
    # Prometheus re-sends a firing alert every --rules.alert.resend-delay (1 m by default).
    ctx.wait_for(lambda: have_all(teams, groups2, "firing"), 100, "wave-2 firing card after the restart")
    resolve1 = resolved_by(emulation, max(emulation.placements[0].values()))
    ctx.wait_for(lambda: have_all(teams, groups1, "resolved"), resolve1 + 60 - time.time(), "wave-1 resolved cards")
    ctx.sleep_until(time.time() + 5)
    attempts = teams.attempts()
    return FaultsRun(
        wave1=wave1, wave2=wave2, attempts=attempts, accepted=teams.accepted(), rejected=list(teams.rejected),
        fault_statuses=[d.status for d in attempts if not d.accepted],
        refusals=list(teams.refusals), refusal_seconds=sum(b - a for a, b in teams.refusals),
        restart=(stopped, restarted), wave2_active_at=wave2_active_at, log=list(ctx.log))


# -- scenario 3: heartbeat stops, exporter down --------------------------------------------------------------

@dataclass
class PipelineAlertRun:
    alertname: str
    trigger_at: float
    for_seconds: int
    accepted: list[Delivery]
    rejected: list[Delivery]
    first_card_at: float | None
    log: list[str] = field(default_factory=list)


def _first_card(teams: TeamsStandIn, alertname: str) -> float | None:
    for d in teams.accepted():
        if status_of(d) == "firing" and group_of(d)[0] == alertname:
            return d.received_at
    return None


def run_heartbeat(ctx: RunContext) -> PipelineAlertRun:
    stack = e2e_stack("heartbeat", teamsMode="native")
    emulation = start_emulation(ctx, stack)
    emulation.start()
    teams = start_teams(ctx)
    pipeline = start_pipeline(ctx, stack, emulation, teams.workflow_url, "heartbeat")
    pipeline.wait_for_first_scrape()
    ctx.wait_for(lambda: pipeline.prometheus.query(exported_name(stack, next(
        d for d in stack.detections if d.heartbeat))), 30, "heartbeat series in Prometheus")
    stopped = time.time()
    emulation.stop_traffic(stopped)
    ctx.note("CloudTrail delivery stopped")
    for_seconds = rule_for_seconds(pipeline, ALERT_HEARTBEAT_MISSING)
    deadline = stopped + wall_seconds(stack.settings.heartbeat_missing_minutes * 60) + for_seconds + 90
    ctx.wait_for(lambda: _first_card(teams, ALERT_HEARTBEAT_MISSING), deadline - time.time(), "heartbeat card")
    ctx.sleep_until(time.time() + 3)
    return PipelineAlertRun(ALERT_HEARTBEAT_MISSING, stopped, for_seconds, teams.accepted(), list(teams.rejected),
                            _first_card(teams, ALERT_HEARTBEAT_MISSING), list(ctx.log))


def run_exporter_down(ctx: RunContext) -> PipelineAlertRun:
    stack = e2e_stack("exporterdown", teamsMode="adapter")
    emulation = start_emulation(ctx, stack)
    emulation.start()
    teams = start_teams(ctx)
    pipeline = start_pipeline(ctx, stack, emulation, teams.adapter_url, "exporter_down")
    pipeline.wait_for_first_scrape()
    stopped = time.time()
    emulation.stop()
    ctx.note("exporter stopped")
    ctx.wait_for(lambda: pipeline.prometheus.query(f"up{stack_selector(stack, job=EXPORTER_SCRAPE_JOB)} == 0"), 30,
                 "up == 0")
    for_seconds = rule_for_seconds(pipeline, ALERT_EXPORTER_DOWN)
    ctx.wait_for(lambda: _first_card(teams, ALERT_EXPORTER_DOWN), stopped + for_seconds + 90 - time.time(),
                 "exporter-down notification")
    ctx.sleep_until(time.time() + 3)
    return PipelineAlertRun(ALERT_EXPORTER_DOWN, stopped, for_seconds, teams.accepted(), list(teams.rejected),
                            _first_card(teams, ALERT_EXPORTER_DOWN), list(ctx.log))


# -- scenario 4: storm ---------------------------------------------------------------------------------------

STORM_EVENTS = 50_000
STORM_SECONDS = 120
#: Real AccessDenied records the storm is made of (round robin; eventTime and eventID rewritten per copy).
STORM_SOURCES = (
    ("stratus", "stratus:aws.credential-access.ec2-get-password-data", "AccessDenied"),
    ("panther", "AWS.IAMUser.ReconAccessDenied :: Unauthorized API Call", None),
    ("panther", "AWS.IAMUser.ReconAccessDenied :: Unauthorized API Call from Within Account", None),
)


def storm_templates() -> list[dict]:
    templates = []
    for line in (CORPUS / "stratus_detonation_logs.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["label_or_rule"] == STORM_SOURCES[0][1] and row["event"].get("errorCode") == "AccessDenied":
            templates.append(row["event"])
    for _, label, _ in STORM_SOURCES[1:]:
        try:
            templates.append(panther_record(label))
        except KeyError:
            pass
    return templates


def storm_events(count: int = STORM_EVENTS, seconds: int = STORM_SECONDS, start: str = "2024-07-30T21:40:00"):
    """``count`` AccessDenied records spread evenly over ``seconds`` from ``start`` (UTC)."""
    from datetime import datetime, timedelta, timezone
    base = datetime.fromisoformat(start).replace(tzinfo=timezone.utc)
    templates = storm_templates()
    for i in range(count):
        event = dict(templates[i % len(templates)])
        event["eventTime"] = (base + timedelta(seconds=i * seconds / count)).strftime("%Y-%m-%dT%H:%M:%SZ")
        event["eventID"] = f"storm-{i:06d}"
        yield event


@dataclass
class StormRun:
    events: int
    per_minute: dict[str, list[int]]
    expected: dict[str, str]
    accepted: list[Delivery]
    rejected: list[Delivery]
    attempts: int
    log: list[str] = field(default_factory=list)


def run_storm(ctx: RunContext) -> StormRun:
    stack = e2e_stack("storm", teamsMode="native")
    report = replay_records(storm_events(), stack_detections(stack), stack.settings.alert_window_minutes)
    expected = expected_alerts(stack, report)
    ctx.note(f"replayed {report.events} events; expected {sorted(expected)}")
    emulation = start_emulation(ctx, stack)
    emulation.start()
    teams = start_teams(ctx)
    pipeline = start_pipeline(ctx, stack, emulation, teams.workflow_url, "storm")
    slot = place_after_first_scrapes(ctx, emulation, ReplayedMinutes.from_report(report), pipeline)
    groups = {(name, ident) for ident, name in expected.items()}
    last_time = max(emulation.placements[-1].values())
    ctx.wait_for(lambda: have_all(teams, groups, "firing"), emulation.readable_at(slot) + 60 - time.time(),
                 "storm firing cards")
    ctx.wait_for(lambda: have_all(teams, groups, "resolved"), resolved_by(emulation, last_time) + 60 - time.time(),
                 "storm resolved cards")
    ctx.sleep_until(time.time() + 3)
    return StormRun(
        events=report.events,
        per_minute={ident: [report.detections[ident].series[m] for m in sorted(report.detections[ident].series)]
                    for ident in expected},
        expected=expected, accepted=teams.accepted(), rejected=list(teams.rejected), attempts=len(teams.attempts()),
        log=list(ctx.log))


# -- the lag-tolerant read path --------------------------------------------------------------------------------

#: Delivery lag (minutes) -> the detection whose single event is delivered that late.
LAGGED = {0: "root_usage", 5: "iam_policy_changes", 10: "cloudtrail_config_changes", 15: "cmk_disable_or_deletion",
          20: "s3_bucket_policy_changes", 25: "aws_config_changes"}
SPREAD = "unauthorized_api_calls"     # threshold 5: one event a minute for 5 minutes
SHORT = "console_auth_failures"       # threshold 5: 4 events over 5 minutes, never
FAILED_SCRAPE = ("security_group_changes", 5)   # (detection, lag minutes): its first readable scrape fails
OUTAGE = ("nacl_changes", 10)                   # the exporter is down for 5 minutes as it becomes readable
OUTAGE_MINUTES = 5
THRESHOLD = 5


def one_event(ident: str, count: int = 1, minute: str = "2026-11-30T10:00") -> ReplayedMinutes:
    return ReplayedMinutes.from_counts({minute: count}, {ident: {minute: count}})


def per_minute(ident: str, minutes: int) -> ReplayedMinutes:
    keys = [f"2026-11-30T10:{m:02d}" for m in range(minutes)]
    return ReplayedMinutes.from_counts({k: 1 for k in keys}, {ident: {k: 1 for k in keys}})


@dataclass
class ReadPathRun:
    stack: Stack
    expected: dict[str, str]
    never: dict[str, str]
    readable: dict[str, float]           # detection -> wall time its (threshold-completing) event is readable
    replay_fires: dict[str, bool]        # replay's alert simulation on the same per-minute counts
    accepted: list[Delivery]
    rejected: list[Delivery]
    failed_scrapes: int
    outage: tuple[float, float]
    log: list[str] = field(default_factory=list)


def run_readpath(ctx: RunContext) -> ReadPathRun:
    overrides = {SPREAD: {"threshold": THRESHOLD}, SHORT: {"threshold": THRESHOLD}}
    stack = e2e_stack("readpath", teamsMode="native", detectionOverrides=overrides)
    emulation = start_emulation(ctx, stack)
    emulation.start()
    teams = start_teams(ctx)
    pipeline = start_pipeline(ctx, stack, emulation, teams.workflow_url, "readpath")
    pipeline.wait_for_first_scrape()
    slot = emulation.slot_readable_after(time.time() + 1)
    readable: dict[str, float] = {}
    cases = [(ident, one_event(ident), lag) for lag, ident in LAGGED.items()]
    cases += [(FAILED_SCRAPE[0], one_event(FAILED_SCRAPE[0]), FAILED_SCRAPE[1]),
              (OUTAGE[0], one_event(OUTAGE[0]), OUTAGE[1]),
              (SPREAD, per_minute(SPREAD, THRESHOLD), 0), (SHORT, per_minute(SHORT, THRESHOLD - 1), 0)]
    by_id = {d.id: d for d in stack.detections}
    replay_fires = {}
    for ident, events, lag in cases:
        placed = emulation.place(events, slot=slot, lag=lag * 60)
        readable[ident] = emulation.readable_at(slot + len(placed) - 1, lag * 60)
        series = {minute: matches.get(ident, 0) for minute, (_, matches) in events.minutes.items()}
        replay_fires[ident] = bool(simulate_alerts(series, stack.settings.alert_window_minutes,
                                                   by_id[ident].threshold, alert_hold_minutes(stack)))
    ctx.note(f"events at slot {slot}; readable at " + ", ".join(
        f"{k} +{v - ctx.started:.1f}s" for k, v in sorted(readable.items(), key=lambda kv: kv[1])))
    # One failed scrape: the first scrape after that event became readable.
    ctx.sleep_until(readable[FAILED_SCRAPE[0]])
    emulation.exporter.fail_next(1)
    ctx.note("next scrape fails")
    # A 5-minute exporter outage (5 s here) starting as the other event becomes readable.
    ctx.sleep_until(readable[OUTAGE[0]] - 0.2)
    down = time.time()
    emulation.exporter.stop()
    ctx.sleep_until(down + wall_seconds(OUTAGE_MINUTES * 60))
    emulation.exporter.start()
    up = time.time()
    ctx.note(f"exporter down {up - down:.1f} s")
    expected = {ident: detection_alert_name(by_id[ident]) for ident, *_ in cases if ident != SHORT}
    groups = {(name, ident) for ident, name in expected.items()}
    last = max(max(p.values()) for p in emulation.placements)
    ctx.wait_for(lambda: have_all(teams, groups, "firing"), max(readable.values()) + 30 - time.time(), "firing cards")
    ctx.wait_for(lambda: have_all(teams, groups, "resolved"), resolved_by(emulation, last) + 30 - time.time(),
                 "resolved cards")
    ctx.sleep_until(time.time() + 3)
    return ReadPathRun(stack, expected, {SHORT: detection_alert_name(by_id[SHORT])}, readable, replay_fires,
                       teams.accepted(), list(teams.rejected), emulation.exporter.failed_scrapes, (down, up),
                       list(ctx.log))


@dataclass
class TwoStacksRun:
    stacks: tuple[str, str]
    deliveries: list[Delivery]
    rejected: list[Delivery]
    stopped_at: float
    log: list[str] = field(default_factory=list)


def stack_groups(deliveries: list[Delivery], status: str) -> dict[tuple[str, str, str], int]:
    """``{(stack, alertname, detection): notifications}`` from adapter (webhook v4) payloads."""
    out: dict[tuple[str, str, str], int] = {}
    for d in deliveries:
        if d.payload["status"] != status:
            continue
        for alert in d.payload["alerts"]:
            labels = alert["labels"]
            key = (labels.get("trailwatch_stack", ""), labels["alertname"], labels.get("detection", ""))
            out[key] = out.get(key, 0) + 1
    return out


def run_two_stacks(ctx: RunContext) -> TwoStacksRun:
    alpha, beta = e2e_stack("alpha", teamsMode="adapter"), e2e_stack("beta", teamsMode="adapter")
    em_alpha, em_beta = start_emulation(ctx, alpha), start_emulation(ctx, beta)
    em_alpha.start()
    em_beta.start()
    teams = start_teams(ctx)
    pipeline = start_pipeline(ctx, alpha, em_alpha, teams.adapter_url, "two_stacks",
                              others=[(beta, em_beta.exporter.address)])
    pipeline.wait_for_first_scrape()
    slot = em_beta.slot_readable_after(time.time() + 1)
    em_beta.place(one_event("root_usage"), slot=slot)
    root = ("beta", "TrailwatchRootUsage", "root_usage")
    ctx.wait_for(lambda: stack_groups(teams.accepted(), "firing").get(root), em_beta.readable_at(slot) + 30 - time.time(),
                 "beta's root-usage card")
    stopped = time.time()
    em_alpha.stop_traffic(stopped)
    ctx.note("alpha's CloudTrail delivery stopped")
    beat = ("alpha", ALERT_HEARTBEAT_MISSING, "cloudtrail_heartbeat")
    deadline = stopped + wall_seconds(alpha.settings.heartbeat_missing_minutes * 60) + 60
    ctx.wait_for(lambda: stack_groups(teams.accepted(), "firing").get(beat), deadline - time.time(),
                 "alpha's heartbeat card")
    ctx.sleep_until(time.time() + 5)
    return TwoStacksRun(("alpha", "beta"), teams.accepted(), list(teams.rejected), stopped, list(ctx.log))


# -- noise exceptions -----------------------------------------------------------------------------------------

#: Only excepted deploys: must never page.
QUIET = "iam_policy_changes"
#: Excepted deploys and one call with the deploy role's credentials from elsewhere: exactly one card.
NOISY = "security_group_changes"
DEPLOYER = "arn:aws:iam::111122223333:role/gha-deployer"
PULUMI_AGENT = "pulumi/3.130.0 (pulumi-aws/6.52.0) aws-sdk-go-v2/1.30.4 os/linux"
CLI_AGENT = "aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/macos#23.5.0 md/arch#arm64 lang/python#3.11.9"
#: (event minute, detection's event name, count, source IP, user agent); 4.175.114.0/24 is an excepted range.
#: The quiet deploys come every QUIET_EVERY minutes: more often, the exception filter's lag would leave every
#: scrape a difference to page on (see run_exceptions).
QUIET_EVERY = 4
TUNED_EVENTS = [
    *[(f"2026-11-30T10:{m:02d}", "PutRolePolicy", 2, "4.175.114.21", PULUMI_AGENT)
      for m in range(0, 6 * QUIET_EVERY, QUIET_EVERY)],
    ("2026-11-30T10:00", "AuthorizeSecurityGroupIngress", 3, "4.175.114.22", PULUMI_AGENT),
    ("2026-11-30T10:01", "AuthorizeSecurityGroupIngress", 2, "4.175.114.22", PULUMI_AGENT),
    ("2026-11-30T10:01", "AuthorizeSecurityGroupIngress", 1, "203.0.113.77", CLI_AGENT),
]


def deploy_role_call(minute: str, event_name: str, i: int, ip: str, agent: str) -> dict:
    """A CloudTrail record of the CI deploy role (an assumed-role session) calling ``event_name``."""
    source = "iam.amazonaws.com" if event_name.endswith("Policy") else "ec2.amazonaws.com"
    return {
        "eventVersion": "1.09", "eventTime": f"{minute}:{i % 60:02d}Z", "eventSource": source,
        "eventName": event_name, "awsRegion": "us-east-1", "sourceIPAddress": ip, "userAgent": agent,
        "userIdentity": {
            "type": "AssumedRole", "principalId": "AROAEXAMPLEDEPLOYER:gha-run-1",
            "arn": "arn:aws:sts::111122223333:assumed-role/gha-deployer/gha-run-1", "accountId": "111122223333",
            "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLEDEPLOYER",
                                                 "arn": DEPLOYER, "accountId": "111122223333",
                                                 "userName": "gha-deployer"}}},
        "eventID": f"tuned-{minute}-{event_name}-{ip}-{i}", "readOnly": False, "eventType": "AwsApiCall",
        "managementEvent": True, "recipientAccountId": "111122223333",
    }


def adapter_card(delivery: Delivery) -> tuple[str, str, str]:
    """(state, alert name, detection) of a card the adapter posted: its header line and its facts."""
    state = delivery.texts()[0].split(" ")[0]
    facts = {f["title"]: f["value"] for element in delivery.card["body"][1:] for item in element.get("items", [])
             if item.get("type") == "FactSet" for f in item["facts"]}
    return state, facts.get("Alert", ""), facts.get("Detection", "")


def tuned_records() -> list[dict]:
    return [deploy_role_call(minute, name, i, ip, agent) for minute, name, count, ip, agent in TUNED_EVENTS
            for i in range(count)]


@dataclass
class ExceptionsRun:
    stack: Stack
    excepted: dict[str, int]    # exception filter (<detection>-x-<id>) -> events replayed
    matches: dict[str, int]     # detection -> events replayed
    cards: list[Delivery]
    rejected: list[Delivery]
    watched_seconds: float
    log: list[str] = field(default_factory=list)


def run_exceptions(ctx: RunContext) -> ExceptionsRun:
    from stacks import deployer_exception
    stack = e2e_stack("tuned", teamsMode="adapter", exceptions=[deployer_exception([NOISY, QUIET])])
    records = tuned_records()
    report = replay_records(records, filter_rules(stack), stack.settings.alert_window_minutes)
    replayed = ReplayedMinutes.from_report(report)
    excepted = {f.name: replayed.matches(f.name) for f in stack_excepted_filters(stack)}
    # The exception filters publish one filter latency after the detections' (the read path's worst case), so
    # every excepted minute first shows as a difference for that long: the rules' exception guard must absorb it.
    # It cannot when such minutes follow each other closer than the guard: with a deploy every minute, every
    # scrape may see the newest minute counted and not yet excepted (observed: iam_policy_changes paged).
    emulation = StackEmulation(stack, clock=ScaledClock(TIME_SCALE), exception_lag=FILTER_LATENCY_SECONDS)
    ctx.on_cleanup(emulation.stop)
    emulation.start()
    teams = start_teams(ctx)
    logs = LogsEmulator().start()
    ctx.on_cleanup(logs.stop)
    port = free_port()
    pipeline = LocalPipeline(stack, ctx.workdir / "pipeline", emulation.exporter.address,
                             f"http://127.0.0.1:{port}/alerts", account_id=ACCOUNT_ID, name="tuned",
                             time_scale=TIME_SCALE)
    ctx.on_cleanup(pipeline.stop)
    adapter = adapter_process(stack, ctx.workdir / "adapter", teams.workflow_url, pipeline.adapter_token_file,
                              logs.url, port)
    ctx.on_cleanup(adapter.stop)
    adapter.start()
    pipeline.start()
    pipeline.wait_for_first_scrape()
    slot = emulation.slot_readable_after(time.time() + 1)
    placed = emulation.place(replayed, slot=slot, max_gap_periods=None)  # the real spacing of the deploys
    by_minute: dict[Any, list[dict]] = {}
    for rec in records:
        by_minute.setdefault(parse_minute(rec["eventTime"][:16]), []).append(rec)
    for minute, recs in by_minute.items():
        logs.put(log_group_name(stack), recs, timestamp_ms=int(emulation.clock.to_wall(placed[minute]) * 1000))
    noisy = ("FIRING", "TrailwatchSecurityGroupChanges", NOISY)
    ctx.wait_for(lambda: noisy in map(adapter_card, teams.accepted()), emulation.readable_at(slot) + 30 - time.time(),
                 "the stolen-credential call's card")
    # Watch until every quiet minute has left the window: any page for it would have come by then.
    ctx.sleep_until(resolved_by(emulation, max(placed.values())) + 5)
    return ExceptionsRun(stack, excepted, {d: replayed.matches(d) for d in (NOISY, QUIET)}, teams.accepted(),
                         list(teams.rejected), time.time() - emulation.readable_at(slot), list(ctx.log))


RUNS = {
    "readpath": run_readpath,
    "two_stacks": run_two_stacks,
    "delivery": run_delivery,
    "faults": run_faults,
    "heartbeat": run_heartbeat,
    "exporter_down": run_exporter_down,
    "storm": run_storm,
    "exceptions": run_exceptions,
}
