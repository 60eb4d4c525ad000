"""``replay --suggest-exceptions`` names only what recurs: a principal's ranges and agent products go into an
entry only where they are stable, and a one-off (a range and a tool seen in one burst) is never covered, so
pasting the suggestions never hides an attack step that used a principal's own credentials."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from exception_day import DEPLOYER, event, role_session
from replay_helpers import write_lines
from test_busy_day import STOLEN, starts
from test_replay_exceptions import pages, paste, promised, stack_dir, suggest
from trailwatch.cli import main
from trailwatch.replay import alert_hold_minutes, read_records
from trailwatch.stack import load_stack

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "busy-day"
sys.path.insert(0, str(FIXTURE))
import busyday  # noqa: E402

ISSUER = "userIdentity.sessionContext.sessionIssuer.arn"
PULUMI = "aws-sdk-go-v2/1.21.0 os/linux pulumi-aws/6.2"


@pytest.fixture(scope="module")
def untuned(tmp_path_factory) -> tuple[Path, Path, busyday.Day]:
    """The busy day's logs and its stack without the owners' exceptions."""
    folder = tmp_path_factory.mktemp("busy-day-untuned")
    day = busyday.build()
    busyday.write_logs(day, folder / "trail")
    text = busyday.STACK_TEMPLATE.read_text().split("  trailwatch:exceptions:")[0]
    (folder / "Pulumi.untuned.yaml").write_text(text)
    return folder, folder / "trail", day


def test_pasted_suggestions_on_the_busy_day_leave_every_attack_step_paging_a_new_alert(untuned, capsys):
    folder, trail, day = untuned
    out = suggest(folder, trail, capsys, stack="untuned")
    entries = yaml.safe_load(out)
    deployer = [e for e in entries if e["match"].get(ISSUER, "").endswith(":role/gha-deployer")]
    assert len(deployer) == 1
    assert deployer[0]["match"]["sourceIPAddress"] == ["20.57.79.0/24", "4.175.114.0/24"]  # not 198.51.100.0/24
    assert deployer[0]["match"]["userAgent"].startswith("APN/1.0 HashiCorp/1.0 Terraform/")

    before = pages(folder, trail, capsys, stack="untuned")
    text = (folder / "Pulumi.untuned.yaml").read_text()
    (folder / "Pulumi.tuned.yaml").write_text(text + "  trailwatch:exceptions:\n" + out + "\n")
    after = pages(folder, trail, capsys, stack="tuned")
    promise = promised(out)
    assert {i: (before[i][1], after[i][1]) for i in promise} == promise  # what the comments said

    stack = load_stack("tuned", folder)
    rules = stack.exceptions
    assert len(rules) == len(entries)
    for step in day.steps:  # no attack record is excepted, the stolen session's included
        for rec in step.records:
            assert not any(r.holds(rec) for r in rules), step.name
    records = [r for r in read_records([trail]) if isinstance(r, dict)]
    window, hold = stack.settings.alert_window_minutes, alert_hold_minutes(stack)
    detections = {d.id: d for d in stack.detections}
    paged = busyday.paged_alerts(busyday.paged_series(records, stack.detections, rules), stack.detections,
                                 window, hold)
    expected = sorted((s.detection, busyday.step_minute(s, detections[s.detection])) for s in day.steps)
    assert starts(paged) == expected  # each step starts its own alert, and nothing else pages
    assert len(set(expected)) == len(day.steps) == 9
    stolen = next(s for s in day.steps if s.name.startswith(STOLEN))
    assert (stolen.detection, busyday.step_minute(stolen, detections[stolen.detection])) in starts(paged)
    benign = busyday.paged_alerts(busyday.paged_series(day.benign, stack.detections, rules), stack.detections,
                                  window, hold)
    assert starts(benign) == [] and sum(before[i][1] for i in promise) > 20  # no benign page is left


def test_a_range_seen_in_one_page_is_left_out_and_keeps_paging(tmp_path, capsys):
    """Two runner ranges every two hours, and once the same role from a third range: the entry names the two,
    the third's matches are not counted as removed, and after pasting they page alone."""
    recs = []
    for hour in range(0, 24, 2):
        ident = role_session(DEPLOYER, f"run-{hour}")
        for ip, minute in (("4.175.114.10", 10), ("20.57.79.200", 12)):
            recs.append(event(f"{hour:02d}:{minute}", "AuthorizeSecurityGroupIngress", ident, ip, PULUMI))
    recs.append(event("09:21", "AuthorizeSecurityGroupIngress", role_session(DEPLOYER, "run-8"), "198.51.100.23",
                      "aws-cli/2.15.30 Python/3.11.8 Windows/10"))
    base, path = stack_dir(tmp_path), write_lines(tmp_path / "day.jsonl", sorted(recs, key=lambda r: r["eventTime"]))
    out = suggest(base, path, capsys)
    (entry,) = yaml.safe_load(out)
    assert entry["match"] == {ISSUER: DEPLOYER, "userIdentity.type": "AssumedRole", "userAgent": PULUMI,
                              "sourceIPAddress": ["20.57.79.0/24", "4.175.114.0/24"]}
    assert entry["reason"].startswith("auto-suggested: 24 matches ")  # the one from 198.51.100.0/24 is not
    assert promised(out) == {"security_group_changes": (13, 1)}  # 09:21 paged alone already
    paste(base, out)
    assert main_alerts(base, path, capsys) == ["09:21"]


def test_the_same_one_off_range_with_the_usual_agent_is_still_left_out(tmp_path, capsys):
    """The one-off range alone decides it: with the runners' own agent it still keeps paging."""
    recs = [event(f"{hour:02d}:10", "AuthorizeSecurityGroupIngress", role_session(DEPLOYER, f"run-{hour}"),
                  ip, PULUMI) for hour in range(0, 24, 2) for ip in ("4.175.114.10", "20.57.79.200")]
    recs.append(event("09:21", "AuthorizeSecurityGroupIngress", role_session(DEPLOYER, "run-8"), "198.51.100.23",
                      PULUMI))
    base, path = stack_dir(tmp_path), write_lines(tmp_path / "day.jsonl", sorted(recs, key=lambda r: r["eventTime"]))
    out = suggest(base, path, capsys)
    (entry,) = yaml.safe_load(out)
    assert entry["match"]["sourceIPAddress"] == ["20.57.79.0/24", "4.175.114.0/24"]
    paste(base, out)
    assert main_alerts(base, path, capsys) == ["09:21"]


def test_a_principal_seen_in_one_burst_only_is_never_suggested(tmp_path, capsys):
    recs = [event(f"09:{m:02d}", "AuthorizeSecurityGroupIngress", role_session(DEPLOYER, "x"), "198.51.100.23",
                  "aws-cli/2.15.30") for m in range(20, 26)]
    base, path = stack_dir(tmp_path), write_lines(tmp_path / "day.jsonl", recs)
    assert suggest(base, path, capsys).startswith("# replay --suggest-exceptions: nothing to suggest: no principal")


def main_alerts(base: Path, path: Path, capsys) -> list[str]:
    """The starts of the security group alerts ``replay`` shows with the stack's exceptions."""
    assert main(["replay", "--stack", "x", "--config-dir", str(base), "--format", "json", str(path)]) == 0
    doc = json.loads(capsys.readouterr().out)
    return [a["start"][11:16] for a in doc["detections"]["security_group_changes"]["alerts"]]
