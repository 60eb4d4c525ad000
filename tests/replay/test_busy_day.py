"""The busy day (tests/fixtures/busy-day): ~30,000 CloudTrail records in S3's layout, benign automation plus nine
attack steps. Replayed with its stack, benign automation pages all day; with the exceptions its owners wrote,
nothing benign pages and every attack step pages a new alert, at the minute it happens.

What pages with exceptions is computed from the reference semantics (``excepted_by``) over the records replay's
own reader reads back from the files, then replay's own alert simulation; it is checked against replay's
counts without exceptions, against the excepted metric filters the stack deploys, and against replay's own report
when given the exceptions."""

from __future__ import annotations

import gzip
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import pytest

from trailwatch.exceptions import Condition, excepted_by
from trailwatch.filterpattern import PatternSet
from trailwatch.replay import Report, alert_hold_minutes, read_records, replay_paths, replay_records
from trailwatch.replay.engine import Rule
from trailwatch.stack import Stack, load_stack, stack_excepted_filters

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "busy-day"
REAL_RECORDS = Path(__file__).resolve().parents[1] / "fixtures" / "cloudtrail"
sys.path.insert(0, str(FIXTURE))
import busyday  # noqa: E402

# The members of a CloudTrail record in the order CloudTrail writes them (those the day uses, and their neighbours).
ORDER = ("eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion", "sourceIPAddress",
         "userAgent", "errorCode", "errorMessage", "requestParameters", "responseElements", "additionalEventData",
         "requestID", "eventID", "readOnly", "resources", "eventType", "apiVersion", "managementEvent",
         "recipientAccountId", "sharedEventID", "vpcEndpointId", "eventCategory", "tlsDetails",
         "sessionCredentialFromConsole")
KEY = re.compile(r"AWSLogs/(\d{12})/CloudTrail/([a-z]{2}-[a-z]+-\d)/(\d{4})/(\d{2})/(\d{2})/"
                 r"\1_CloudTrail_\2_(\d{8})T(\d{4})Z_[A-Za-z0-9]{16}\.json\.gz")
STOLEN = "stolen gha-deployer session"
FOREIGN = f"a role also named gha-deployer, in account {busyday.SANDBOX}"


@dataclass
class Replayed:
    day: busyday.Day
    stack: Stack
    trail: Path
    files: int
    report: Report                 # replay_paths over the files, no exceptions
    records: list[dict]            # what replay's reader reads back from the files
    window: int
    hold: int

    def pages(self, records, rules=()) -> dict[str, list]:
        return busyday.paged_alerts(busyday.paged_series(records, self.stack.detections, rules),
                                    self.stack.detections, self.window, self.hold)

    def step(self, prefix: str) -> busyday.Step:
        return next(s for s in self.day.steps if s.name.startswith(prefix))


@pytest.fixture(scope="module")
def replayed(tmp_path_factory) -> Replayed:
    folder = tmp_path_factory.mktemp("busy-day")
    day = busyday.build()
    files = busyday.write_logs(day, folder / "trail")
    busyday.write_stack(folder)
    stack = load_stack(busyday.STACK_NAME, folder)
    window, hold = stack.settings.alert_window_minutes, alert_hold_minutes(stack)
    report = replay_paths([folder / "trail"], stack.detections, window, hold_minutes=hold)
    records = [r for r in read_records([folder / "trail"]) if isinstance(r, dict)]
    return Replayed(day, stack, folder / "trail", files, report, records, window, hold)


def starts(alerts: dict[str, list]) -> list[tuple[str, datetime]]:
    return sorted((ident, a.start) for ident, found in alerts.items() for a in found)


def test_the_day_is_deterministic_and_written_as_cloudtrail_delivers_it(replayed):
    day = replayed.day
    assert busyday.build().records == day.records
    assert 28_000 <= len(day.records) <= 32_000 and len(day.steps) == 9
    assert replayed.report.events == len(day.records) and replayed.report.malformed == 0
    assert replayed.report.files == replayed.files
    assert Counter(r["eventID"] for r in replayed.records) == Counter(r["eventID"] for r in day.records)

    per_region: Counter = Counter()
    for path in replayed.trail.rglob("*"):
        if path.is_file():
            key = KEY.fullmatch(path.relative_to(replayed.trail).as_posix())
            assert key, path
            account, region, yyyy, mm, dd, name_day, _ = key.groups()
            assert name_day == yyyy + mm + dd
            records = json.loads(gzip.decompress(path.read_bytes()))["Records"]
            assert records and {(r["recipientAccountId"], r["awsRegion"]) for r in records} == {(account, region)}
            per_region[account, region] += 1
    # a file per region for each five minutes with events: every one in the busiest region (288 in 24 hours), at
    # least every ten minutes in the others, a few in the sandbox account
    assert per_region[busyday.ACCOUNT, busyday.MAIN] == 288
    assert all(144 <= per_region[busyday.ACCOUNT, region] <= 288 for region in busyday.REGIONS), per_region
    assert 0 < per_region[busyday.SANDBOX, busyday.GLOBAL] <= 50


def test_records_keep_cloudtrails_member_order(replayed):
    real = 0
    for name in ("awsdocs_examples.jsonl", "trailalerts_sigma_tests.jsonl"):
        for line in (REAL_RECORDS / name).read_text().splitlines():
            keys = [k for k in json.loads(line)["event"] if k in ORDER]
            if keys != sorted(keys):  # a record whose members were sorted by name says nothing about the order
                assert keys == sorted(keys, key=ORDER.index), keys
                real += 1
    assert real > 100
    for rec in replayed.day.records:
        assert list(rec) == sorted(rec, key=ORDER.index), list(rec)
        assert rec["userAgent"] and rec["sourceIPAddress"]
        assert busyday.minute_of(rec).date() == busyday.DAY and rec["eventTime"].endswith("Z")


def test_reference_counts_agree_with_replay(replayed):
    """The local per-minute counts (no exceptions) are replay's: the rest of the file builds on them."""
    series = busyday.paged_series(replayed.records, replayed.stack.detections)
    assert {ident: dict(counts) for ident, counts in series.items()} == {
        ident: det.series for ident, det in replayed.report.detections.items() if not det.heartbeat}
    assert replayed.pages(replayed.records) == {ident: det.alerts for ident, det in replayed.report.detections.items()
                                                if not det.heartbeat}


def test_without_exceptions_benign_automation_pages_all_day_and_hides_attacks(replayed):
    benign = replayed.pages(replayed.day.benign)
    pages = Counter(ident for ident, _ in starts(benign))
    assert sum(pages.values()) > 20, pages
    assert pages == {"iam_policy_changes": 14, "s3_bucket_policy_changes": 5, "aws_config_changes": 3,
                     "security_group_changes": 1, "unauthorized_api_calls": 1}
    midnight = busyday.at(0)
    for ident in ("security_group_changes", "unauthorized_api_calls"):  # firing from midnight to midnight
        (alert,) = benign[ident]
        assert (alert.start - midnight).total_seconds() < 600 and (alert.end - midnight).days >= 1

    detections = {d.id: d for d in replayed.stack.detections}
    alerts = {ident: det.alerts for ident, det in replayed.report.detections.items()}
    silent = [s.name for s in replayed.day.steps
              if not any(a.start == busyday.step_minute(s, detections[s.detection]) for a in alerts[s.detection])]
    assert silent == [replayed.step(p).name for p in ("30 denied", STOLEN, "the same stolen", FOREIGN)]


def test_with_the_exceptions_nothing_benign_pages_and_every_attack_step_pages_a_new_alert(replayed):
    rules = replayed.stack.exceptions
    assert starts(replayed.pages(replayed.day.benign, rules)) == []
    detections = {d.id: d for d in replayed.stack.detections}
    expected = sorted((s.detection, busyday.step_minute(s, detections[s.detection])) for s in replayed.day.steps)
    assert starts(replayed.pages(replayed.records, rules)) == expected
    assert len(set(expected)) == len(replayed.day.steps) == 9


def test_the_stolen_session_and_the_foreign_same_named_role_are_not_excepted(replayed):
    rules = replayed.stack.exceptions
    detections = replayed.stack.detections
    patterns = PatternSet({d.id: d.pattern for d in detections if not d.heartbeat})
    for step in replayed.day.steps:
        for rec in step.records:
            assert all(excepted_by(rules, ident, rec) is None for ident in patterns.matching(rec)), step.name

    issuer = "userIdentity.sessionContext.sessionIssuer"

    def role(rec):
        return rec["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"]

    deployer = next(r for r in rules if r.reason == "Pulumi deploys from GitHub Actions")
    excepted = [r for r in replayed.day.benign if deployer.holds(r)]
    stolen = [r for r in replayed.step(STOLEN).records if r["eventSource"] == "iam.amazonaws.com"]
    # the stolen calls are the excepted principal's own session (same role ARN, same key): only the residential
    # address and the CLI's agent keep them out
    assert {role(r) for r in stolen} == {role(excepted[0])}
    assert {r["userIdentity"]["accessKeyId"] for r in stolen} <= {r["userIdentity"]["accessKeyId"] for r in excepted}
    # the foreign role comes from the same runner pool with the same agent: only its account keeps it out, and
    # an exception naming the role by name alone would have hidden it
    foreign = [r for r in replayed.step(FOREIGN).records if r["eventName"] in ("PutRolePolicy", "AttachRolePolicy")]
    by_name = replace(deployer, match=tuple(Condition(f"{issuer}.userName", ("gha-deployer",))
                                            if c.field == f"{issuer}.arn" else c for c in deployer.match))
    assert foreign and all(by_name.holds(r) and not deployer.holds(r) for r in foreign)


def test_the_deployed_excepted_filters_count_what_the_reference_excepts(replayed):
    """What the stack deploys (the detection's filter, and one filter per detection and exception) gives the same
    per-minute difference as the reference, on every minute of the day."""
    filters = stack_excepted_filters(replayed.stack)
    excepted = replay_records(replayed.records, [Rule(f.name, f.pattern) for f in filters]).series
    paged = busyday.paged_series(replayed.records, replayed.stack.detections, replayed.stack.exceptions)
    for ident, counts in replayed.report.series.items():
        if ident in paged:
            minus = Counter(counts)
            for f in filters:
                if f.detection.id == ident:
                    minus.subtract(excepted[f.name])
            assert {minute: n for minute, n in minus.items() if n} == dict(paged[ident]), ident
    assert sum(sum(s.values()) for s in excepted.values()) > 1000


def test_replay_with_the_exceptions_reports_the_same_pages_and_excepted_counts(replayed):
    """``replay`` itself, given the stack's exceptions, pages exactly where the reference does, keeps the pages
    without them, and counts per exception the events the reference says it covers."""
    rules = replayed.stack.exceptions
    tuned = replay_paths([replayed.trail], replayed.stack.detections, replayed.window, hold_minutes=replayed.hold,
                         exceptions=rules)
    paged = busyday.paged_series(replayed.records, replayed.stack.detections, rules)
    alerts = busyday.paged_alerts(paged, replayed.stack.detections, replayed.window, replayed.hold)
    patterns = PatternSet({d.id: d.pattern for d in replayed.stack.detections if not d.heartbeat})
    covered = Counter((ident, rule.id) for rec in replayed.records for ident in patterns.matching(rec)
                      if (rule := excepted_by(rules, ident, rec)) is not None)
    for ident, counts in paged.items():
        det = tuned.detections[ident]
        assert det.paged_series == dict(counts) and det.alerts == alerts[ident], ident
        assert det.alerts_without_exceptions == replayed.report.detections[ident].alerts, ident
        assert {(ident, e.rule.id): e.events for e in det.excepted if e.events} == {
            key: n for key, n in covered.items() if key[0] == ident}, ident
    assert sum(len(d.alerts_without_exceptions) for d in tuned.detections.values()) > 20
    assert sum(len(d.alerts) for d in tuned.detections.values()) == len(replayed.day.steps)
